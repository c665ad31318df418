#!/usr/bin/env bash
# campaign.sh — the combined-campaign path end to end on a real capture:
# canh-agent replays tests/fixtures/campaign.pcap (203.0.113.7 scans,
# SYN-floods, defaces and plants a webshell on 198.51.100.10) into a private
# redis-server; canh-collector turns the events into one incident per
# taxonomy and one attack.combined incident linking them; canh-tail prints
# them in Vietnamese.  Every process is the real binary; every wait bounded.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/redis.sh"

SOCK=$TMP/redis.sock
PIDS=()
stop_all() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    redis_stop
    cleanup_tmp
}
trap stop_all EXIT


rc() { timeout 30 redis-cli -s "$SOCK" "$@"; }

# incident_ids: every canh:incident:* id
incident_ids() { rc --scan --pattern 'canh:incident:*' | sed 's/^canh:incident://'; }

# incident_with FIELD VALUE: ids of incidents whose FIELD is VALUE
incident_with() {
    local id
    for id in $(incident_ids); do
        [ "$(rc HGET "canh:incident:$id" "$1")" = "$2" ] && echo "$id"
    done
    return 0
}

# --- Redis, collector --------------------------------------------------------

redis_start redis -s "$SOCK"

cat >"$TMP/collector.conf" <<EOF
[collector]
redis_url = unix:$SOCK
block = 200ms
claim_idle = 2s
claim_interval = 1s
discover_interval = 500ms
log_level = info

[incidents]
sweep_interval = 500ms
EOF
"$CANH_BIN/canh-collector" -c "$TMP/collector.conf" >"$TMP/collector.log" 2>&1 &
PIDS+=($!)
pass "redis-server and canh-collector started"

# --- the agent replays the campaign -----------------------------------------

cat >"$TMP/agent.conf" <<EOF
[agent]
name = gw-soyte
agency = Sở Y tế
state_dir = $TMP/state

[output]
redis_url = unix:$SOCK
EOF
timeout 60 "$CANH_BIN/canh-agent" -c "$TMP/agent.conf" -r "$FIXTURES/campaign.pcap" \
    --assets "$FIXTURES/assets.conf" --output redis --output "jsonl:$TMP/agent.jsonl" \
    >"$TMP/agent.log" 2>&1 || fail "canh-agent exited $?"
n_jsonl=$(wc -l <"$TMP/agent.jsonl")
n_stream=$(rc XLEN canh:events:gw-soyte)
if [ "$n_jsonl" -eq 0 ] || [ "$n_stream" != "$n_jsonl" ]; then
    fail "canh:events:gw-soyte has $n_stream entries, the agent wrote $n_jsonl events"
fi
for kind in portscan syn_flood dav_write defacement webshell_upload webshell_access; do
    grep -q "\"kind\":\"$kind\"" "$TMP/agent.jsonl" || fail "the agent raised no $kind"
done
pass "canh-agent put its $n_stream events into canh:events:gw-soyte"

# --- the collector correlates ------------------------------------------------

# settled: every event acknowledged and one combined incident with 4 children
settled() {
    local pending combined
    pending=$(rc XPENDING canh:events:gw-soyte canh-collectors 2>/dev/null | head -1)
    [ "${pending:-x}" = 0 ] || return 1
    [ "$(rc XINFO GROUPS canh:events:gw-soyte | grep -A1 -x 'last-delivered-id' | tail -1)" = \
        "$(rc XINFO STREAM canh:events:gw-soyte | grep -A1 -x 'last-generated-id' | tail -1)" ] || return 1
    combined=$(incident_with type combined)
    [ "$(wc -w <<<"$combined")" = 1 ] || return 1
    [ "$(rc HGET "canh:incident:$combined" children | tr ',' '\n' | grep -c .)" = 4 ]
}
wait_until 60 "a settled attack.combined incident" settled
combined=$(incident_with type combined)
pass "the collector acknowledged every event and opened one combined incident"

[ "$(rc HGET "canh:incident:$combined" taxonomy)" = attack.combined ] || fail "combined taxonomy"
[ "$(rc HGET "canh:incident:$combined" taxonomy_vi)" = "Tấn công tổng hợp sử dụng kết hợp nhiều hình thức" ] ||
    fail "combined Vietnamese name: $(rc HGET "canh:incident:$combined" taxonomy_vi)"
[ "$(rc HGET "canh:incident:$combined" agency)" = "Sở Y tế" ] || fail "combined agency"
rc HGET "canh:incident:$combined" sources | grep -q '203\.0\.113\.7' || fail "combined sources"
rc HGET "canh:incident:$combined" targets | grep -q '198\.51\.100\.10' || fail "combined targets"
[ "$(rc HGET "canh:incident:$combined" class)" = serious_candidate ] || fail "combined class"
[ "$(rc HGET "canh:incident:$combined" severity)" = critical ] || fail "combined severity"
[ -z "$(incident_with type province)" ] || fail "one agency only: no province-wide incident expected"
pass "attack.combined: Sở Y tế, 203.0.113.7 → 198.51.100.10, serious candidate, critical"

# One incident per taxonomy, each linked both ways.  WebDAV write and the
# defaced page share attack.defacement; the webshell upload and its use
# share attack.intrusion.
children=$(rc HGET "canh:incident:$combined" children)
check_child() {  # check_child TAXONOMY KINDS...
    local tax=$1 id kinds k
    shift
    id=$(incident_with taxonomy "$tax")
    [ "$(wc -w <<<"$id")" = 1 ] || fail "expected one $tax incident, got: $id"
    grep -q "$id" <<<"$children" || fail "$tax incident $id is not a child of $combined"
    [ "$(rc HGET "canh:incident:$id" combined_id)" = "$combined" ] || fail "$tax incident lacks combined_id"
    [ "$(rc HGET "canh:incident:$id" agency)" = "Sở Y tế" ] || fail "$tax incident agency"
    rc HGET "canh:incident:$id" sources | grep -q '203\.0\.113\.7' || fail "$tax incident sources"
    kinds=$(rc HGET "canh:incident:$id" kinds)
    for k in "$@"; do
        tr ',| ' '\n' <<<"$kinds" | grep -qx "$k" || fail "$tax incident kinds '$kinds' lack $k"
    done
}
check_child attack.other portscan
check_child attack.dos syn_flood
check_child attack.defacement dav_write defacement
check_child attack.intrusion webshell_upload webshell_access
n_inc=$(incident_ids | grep -c .)
[ "$n_inc" = 5 ] || fail "expected 5 incidents (4 + combined), got $n_inc"
[ "$(rc XRANGE canh:incidents - + | grep -cx linked)" = 2 ] ||
    fail "the third and fourth taxonomies should be announced as linked"
pass "scan, flood, defacement and intrusion incidents, each linked to the combined one"

# --- canh-tail prints them ---------------------------------------------------

n=$(rc XLEN canh:incidents)
timeout 60 "$CANH_BIN/canh-tail" -r "unix:$SOCK" --since all -n "$n" --no-color --wide >"$TMP/tail.out" 2>"$TMP/tail.log" ||
    fail "canh-tail -n $n failed"
[ "$(wc -l <"$TMP/tail.out")" = "$n" ] || fail "canh-tail -n $n printed $(wc -l <"$TMP/tail.out") lines"
cat "$TMP/tail.out"
for text in "Sở Y tế" "203.0.113.7 → portal (198.51.100.10)" \
    "Tấn công tổng hợp sử dụng kết hợp nhiều hình thức [combined]" \
    "Các hình thức tấn công mạng khác" "Tấn công từ chối dịch vụ" \
    "Tấn công thay đổi giao diện" "Tấn công truy cập trái phép, chiếm quyền điều khiển" \
    "$combined"; do
    expect_contains "$TMP/tail.out" "$text"
done
[ "$(grep -c ' opened ' "$TMP/tail.out")" -ge 5 ] || fail "canh-tail should show 5 opened incidents"
pass "canh-tail -n $n prints the campaign's incidents in Vietnamese"

echo "$PASSED passed, 0 failed"
