#!/bin/bash
# redis_replay.sh — an offline replay with --output redis and --output
# jsonl:FILE puts exactly the JSONL lines into canh:events:<agent> (same
# ids, same JSON, same order); a wrong password leaves them in the spool
# with one clear error and no crash loop; the next start replays them.
# Real redis-server on a unix socket in a temp dir.
source "$(dirname "$0")/lib/common.sh" # fail, wait_until
source "$(dirname "$0")/lib/redis.sh"  # redis_start, redis_stop
BIN=${CANH_BIN:?}; SRC=${CANH_SRC:?}
T=$TMP
cleanup() { redis_stop; rm -rf "$T"; }
trap cleanup EXIT

start_redis() { redis_start redis -s "$T/r.sock" -- --appendonly yes --appendfsync always; }
rcli() { redis-cli -s "$T/r.sock" "$@"; }

cat >"$T/agent.conf" <<CONF
[agent]
name = gw-e2e
state_dir = $T/state
[output]
redis_url = unix:$T/r.sock
CONF

start_redis
"$BIN/canh-agent" -c "$T/agent.conf" -r "$SRC/tests/fixtures/scan_syn.pcap" \
    --output redis --output "jsonl:$T/out.jsonl" --debug-events 3000 2>"$T/agent.log" \
    || fail "agent exited $? ($(cat "$T/agent.log"))"
lines=$(wc -l <"$T/out.jsonl")
[ "$lines" -ge 3000 ] || fail "only $lines JSONL lines"
# Stream entries, one JSON per line, in stream order.
python3 - "$T" <<'PY' || fail "stream differs from JSONL"
import json, subprocess, sys
t = sys.argv[1]
out = subprocess.run(["redis-cli", "-s", t + "/r.sock", "--json", "XRANGE", "canh:events:gw-e2e", "-", "+"],
                     capture_output=True, text=True, check=True).stdout
entries = json.loads(out)
stream = []
for entry_id, fields in entries:
    f = dict(zip(fields[::2], fields[1::2])) if isinstance(fields, list) else fields
    stream.append(f["event"])
jsonl = open(t + "/out.jsonl").read().splitlines()
assert len(stream) == len(jsonl), (len(stream), len(jsonl))
for i, (a, b) in enumerate(zip(stream, jsonl)):
    assert a == b, f"entry {i} differs"
    ev = json.loads(a)
    for key in ("timestamp", "event_type", "alert", "canh"):
        assert key in ev, key
    for key in ("v", "id", "finding_id", "agent", "kind", "state", "taxonomy", "severity", "class", "rule"):
        assert key in ev["canh"], key
ids = [json.loads(a)["canh"]["id"] for a in stream]
assert len(set(ids)) == len(ids), "duplicate ids"
print(f"{len(stream)} stream entries == JSONL lines")
PY

# Wrong password: clear error, events kept, exit 0, a few attempts only.
rcli CONFIG SET requirepass right-pw >/dev/null
printf 'wrong-pw\n' >"$T/pw"
cat >>"$T/agent.conf" <<CONF
password_file = $T/pw
CONF
"$BIN/canh-agent" -c "$T/agent.conf" -r "$SRC/tests/fixtures/scan_syn.pcap" \
    --output redis --debug-events 200 --debug-rate 200 2>"$T/agent2.log" \
    || fail "agent exited $? with a wrong password"
grep -q 'WRONGPASS' "$T/agent2.log" || fail "no clear WRONGPASS error: $(cat "$T/agent2.log")"
n_err=$(grep -c 'WRONGPASS' "$T/agent2.log")
[ "$n_err" -le 2 ] || fail "$n_err WRONGPASS lines: a log storm"
grep -q 'stay in the spool' "$T/agent2.log" || fail "spool not reported: $(cat "$T/agent2.log")"

# Right password: the next start replays the spool first.
printf 'right-pw\n' >"$T/pw"
before=$(rcli -a right-pw --no-auth-warning XLEN canh:events:gw-e2e)
"$BIN/canh-agent" -c "$T/agent.conf" -r "$SRC/tests/fixtures/scan_syn.pcap" --output redis \
    2>"$T/agent3.log" || fail "agent exited $? ($(cat "$T/agent3.log"))"
after=$(rcli -a right-pw --no-auth-warning XLEN canh:events:gw-e2e)
added=$((after - before))
[ "$added" -ge 203 ] || fail "only $added entries added after the password was fixed"
echo "OK: replay == JSONL; wrong password spooled $added events, replayed on the next start"
