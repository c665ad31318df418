#!/usr/bin/env bash
# evidence.sh — packet evidence of findings ([evidence] in agent.conf).
#
# 1. The agent replays a SYN scan and a SYN flood with evidence on: each
#    finding's pcap opens in tcpdump, holds only packets to or from the
#    attacker (203.0.113.7), as many as the end event says and no more
#    than finding_packets, and the SHA-256 and size in the end event are
#    the file's; every event validates against docs/event.schema.json.
# 2. The campaign through Redis and canh-collector: the report draft of a
#    serious incident names the evidence files of its findings.
# 3. disk_mb bounds the directory across runs (the oldest files removed,
#    counted in the heartbeat); a full disk (a tiny tmpfs) is counted and
#    logged, and the agent finishes the replay normally.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/redis.sh"
SOCK=$TMP/redis.sock
PIDS=()
stop_all() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    redis_stop
    mountpoint -q "$TMP/full" 2>/dev/null && umount "$TMP/full"
    cleanup_tmp
}
trap stop_all EXIT
rc() { timeout 30 redis-cli -s "$SOCK" "$@"; }
ATTACKER=203.0.113.7

agent_conf() { # FILE STATE_DIR RING_MB FINDING_PACKETS DISK_MB
    cat >"$1" <<CONF
[agent]
name = gw-ev
agency = Sở Y tế
state_dir = $2
[output]
redis_url = unix:$SOCK
[evidence]
ring_mb = $3
before = 5s
after = 5s
finding_packets = $4
disk_mb = $5
CONF
    mkdir -p "$2"
}
replay() { # CONF PCAP OUT [OUTPUT...]
    local conf=$1 pcap=$2 out=$3
    shift 3
    timeout 120 "$CANH_BIN/canh-agent" -c "$conf" -r "$FIXTURES/$pcap" \
        --assets "$FIXTURES/assets.conf" --output "jsonl:$out" "$@" >>"$TMP/agent.log" 2>&1 ||
        fail "canh-agent on $pcap exited $?"
}

# --- 1. scan and flood ------------------------------------------------------

CAP=300
agent_conf "$TMP/a.conf" "$TMP/state" 16 $CAP 64
for pcap in scan_syn.pcap flood_syn.pcap; do
    replay "$TMP/a.conf" "$pcap" "$TMP/${pcap%.pcap}.jsonl"
    ends=$(jq -c 'select(.canh.state == "end" and .canh.pcap != null) | .canh.pcap' "$TMP/${pcap%.pcap}.jsonl")
    news=$(jq -r 'select(.canh.state == "new") | .canh.finding_id' "$TMP/${pcap%.pcap}.jsonl" | wc -l)
    [ "$news" -gt 0 ] && [ "$(wc -l <<<"$ends")" = "$news" ] ||
        fail "$pcap: $news findings, end events with a pcap: $ends"
    while read -r pcapinfo; do
        file=$TMP/state/$(jq -r .file <<<"$pcapinfo")
        [ -f "$file" ] || fail "$pcap: no $file"
        [ "$(sha256sum <"$file" | cut -d' ' -f1)" = "$(jq -r .sha256 <<<"$pcapinfo")" ] ||
            fail "$pcap: SHA-256 of $file differs from the end event's"
        [ "$(stat -c %s "$file")" = "$(jq -r .bytes <<<"$pcapinfo")" ] || fail "$pcap: size of $file"
        total=$(tcpdump -nr "$file" 2>"$TMP/tcpdump.err" | wc -l)
        [ -s "$TMP/tcpdump.err" ] && grep -qi 'error\|truncated' "$TMP/tcpdump.err" &&
            fail "tcpdump -r $file: $(cat "$TMP/tcpdump.err")"
        attacker=$(tcpdump -nr "$file" "host $ATTACKER" 2>/dev/null | wc -l)
        [ "$total" -gt 10 ] && [ "$attacker" = "$total" ] ||
            fail "$pcap: $file has $total packets, $attacker of $ATTACKER"
        [ "$total" = "$(jq -r .packets <<<"$pcapinfo")" ] && [ "$total" -le $CAP ] ||
            fail "$pcap: $total packets in $file, the event says $(jq -r .packets <<<"$pcapinfo"), cap $CAP"
        echo "$pcap: $(basename "$file"): $total packets of $ATTACKER, $(stat -c %s "$file") bytes"
    done <<<"$ends"
    jq -r 'select(.canh.state == "new") | .canh.pcap.file' "$TMP/${pcap%.pcap}.jsonl" | grep -q '^evidence/' ||
        fail "$pcap: the new event does not name its evidence file"
done
pass "scan and flood evidence: pcaps open in tcpdump, hold the attacker's packets within the cap, SHA-256 matches"

/usr/bin/python3 - "$CANH_SRC/docs/event.schema.json" "$TMP"/scan_syn.jsonl "$TMP"/flood_syn.jsonl <<'PY' || fail "events with evidence do not validate"
import json, sys, jsonschema
v = jsonschema.Draft202012Validator(json.load(open(sys.argv[1])))
for path in sys.argv[2:]:
    for line in open(path):
        v.validate(json.loads(line))
PY
pass "events carrying canh.pcap validate against docs/event.schema.json"

# --- 2. the report draft names the files -------------------------------------

redis_start redis -s "$SOCK"
mkdir -p "$TMP/reports"
cat >"$TMP/collector.conf" <<CONF
[collector]
redis_url = unix:$SOCK
block = 200ms
discover_interval = 500ms
[escalation]
poll_interval = 100ms
[report]
dir = $TMP/reports
CONF
"$CANH_BIN/canh-collector" -c "$TMP/collector.conf" >"$TMP/collector.log" 2>&1 &
PIDS+=($!)
agent_conf "$TMP/c.conf" "$TMP/cstate" 16 $CAP 64
replay "$TMP/c.conf" campaign.pcap "$TMP/campaign.jsonl" --output redis
named() { grep -l 'Tệp gói tin.*evidence/gw-ev:' "$TMP"/reports/*.md; }
wait_until 60 "a report draft naming evidence files" named
for f in $(grep -ho 'evidence/gw-ev:[^ ,]*\.pcap' "$TMP"/reports/*.md | sort -u); do
    [ -f "$TMP/cstate/$f" ] || fail "the report names $f, which the agent did not write"
done
pass "report drafts name the findings' evidence files ($(grep -ho 'evidence/gw-ev:[^ ,]*\.pcap' "$TMP"/reports/*.md | sort -u | wc -l))"

# --- 3. the disk budget, a full disk ---------------------------------------

# A ring of 1 MiB wraps many times over a flood's 36 000 frames.
agent_conf "$TMP/d.conf" "$TMP/dstate" 1 1000000 1
for pcap in flood_syn.pcap flood_udp.pcap scan_syn.pcap flood_icmp.pcap; do
    replay "$TMP/d.conf" "$pcap" "$TMP/d.jsonl" --output redis
    used=$(du -sb "$TMP/dstate/evidence" | cut -f1)
    [ "$used" -le $((1024 * 1024 + 4096)) ] || fail "evidence uses $used bytes after $pcap, disk_mb = 1"
done
last=$(rc XREVRANGE canh:heartbeats:gw-ev + - COUNT 1 | sed -n 3p)
removed=$(jq .canh.evidence.removed_files <<<"$last")
over=$(jq .canh.evidence.over_budget <<<"$last")
[ "$removed" -ge 1 ] || fail "no evidence file removed for the budget: $last"
[ "$(jq .canh.evidence.disk_bytes <<<"$last")" -le $((1024 * 1024)) ] || fail "disk_bytes over the budget"
for f in "$TMP"/dstate/evidence/*.pcap; do
    n=$(tcpdump -nr "$f" 2>"$TMP/tcpdump.err" | wc -l)
    ! grep -qi 'error\|truncated' "$TMP/tcpdump.err" || fail "tcpdump -r $f: $(cat "$TMP/tcpdump.err")"
    [ "$n" -gt 0 ] || fail "$f holds no packet"
done
pass "disk_mb = 1 holds across runs (last run removed $removed old files, $over records over budget)"

mkdir -p "$TMP/full"
if mount -t tmpfs -o size=64k tmpfs "$TMP/full" 2>/dev/null; then
    agent_conf "$TMP/f.conf" "$TMP/full" 8 100000 64
    replay "$TMP/f.conf" flood_syn.pcap "$TMP/f.jsonl" --output redis
    last=$(rc XREVRANGE canh:heartbeats:gw-ev + - COUNT 1 | sed -n 3p)
    [ "$(jq .canh.evidence.write_errors <<<"$last")" -ge 1 ] || fail "a full disk was not counted: $last"
    grep -q 'evidence: .*No space left on device' "$TMP/agent.log" || fail "a full disk was not logged"
    [ "$(grep -c 'No space left' "$TMP/agent.log")" -le 2 ] || fail "the full disk was logged more than once a minute"
    jq -e 'select(.canh.state == "end")' "$TMP/f.jsonl" >/dev/null || fail "no end event after a full disk"
    pass "a full disk is counted and logged once; the replay finishes"
    umount "$TMP/full"
else
    echo "# no tmpfs mount here: the full-disk case is not run"
fi
echo "evidence: $PASSED checks passed"
