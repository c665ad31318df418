#!/bin/bash
# redis_faults.sh — the agent against a real redis-server that misbehaves:
#  1. Redis SIGKILLed in the middle of a run and restarted later: every
#     event ends up in the stream exactly once, in order;
#  2. CLIENT PAUSE: the run goes on, the spool grows, then drains;
#  3. SIGTERM: exit 0 within a bounded time, every event written to JSONL
#     is in Redis;
#  4. SIGHUP: a broken rule file is refused with file:line and the old
#     rules stay; a changed one is taken (the heartbeat's rules_version).
# Events come from the hidden --debug-events source (docs/redis.md).
set -euo pipefail
BIN=${CANH_BIN:?}; SRC=${CANH_SRC:?}
T=$(mktemp -d /tmp/canh-e2e-faults-XXXXXX)
REDIS_PID=; AGENT_PID=
cleanup() {
    [ -n "$AGENT_PID" ] && kill -9 "$AGENT_PID" 2>/dev/null
    [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null
    wait 2>/dev/null; rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$T/agent.log" ] && tail -20 "$T/agent.log" >&2; exit 1; }

start_redis() {
    redis-server --port 0 --unixsocket "$T/r.sock" --unixsocketperm 700 --dir "$T" --save '' \
        --appendonly yes --appendfsync always --logfile "$T/redis.log" &
    REDIS_PID=$!
    for _ in $(seq 100); do redis-cli -s "$T/r.sock" PING >/dev/null 2>&1 && return; sleep 0.05; done
    fail "redis-server did not start"
}
rcli() { redis-cli -s "$T/r.sock" "$@"; }
# Stream == JSONL, exactly once, in order.
check_exact() {
    python3 - "$T" "$1" <<'PY'
import json, subprocess, sys
t, key = sys.argv[1], sys.argv[2]
out = subprocess.run(["redis-cli", "-s", t + "/r.sock", "--json", "XRANGE", key, "-", "+"],
                     capture_output=True, text=True, check=True).stdout
stream = [dict(zip(f[::2], f[1::2]))["event"] for _, f in json.loads(out)]
jsonl = open(t + "/out.jsonl").read().splitlines()
ids = [json.loads(l)["canh"]["id"] for l in stream]
dups = len(ids) - len(set(ids))
assert dups == 0, f"{dups} duplicates"
assert stream == jsonl, f"stream has {len(stream)} entries, JSONL {len(jsonl)} lines; order or content differ"
print(f"{len(stream)} events exactly once, in order")
PY
}
conf() {
    cat >"$T/agent.conf" <<CONF
[agent]
name = $1
state_dir = $T/state-$1
rules_dir = $T/rules
[output]
redis_url = unix:$T/r.sock
heartbeat_interval = 1s
timeout = 2s
CONF
}
mkdir -p "$T/rules"
cp "$SRC"/rules/* "$T/rules/"

# 1. Redis killed mid-run, restarted 1.5 s later.
start_redis
conf kill
"$BIN/canh-agent" -c "$T/agent.conf" -r "$SRC/tests/fixtures/scan_syn.pcap" --output redis \
    --output "jsonl:$T/out.jsonl" --debug-events 20000 --debug-rate 5000 2>"$T/agent.log" &
AGENT_PID=$!
sleep 1.2
kill -9 "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null || true
sleep 1.5
start_redis
wait "$AGENT_PID" || fail "agent exited $?"
AGENT_PID=
grep -q 'connected again' "$T/agent.log" || fail "no reconnection logged"
check_exact canh:events:kill || fail "Redis kill: stream != JSONL"

# 2. CLIENT PAUSE: spool grows then drains.
conf pause
rm -f "$T/out.jsonl"
"$BIN/canh-agent" -c "$T/agent.conf" -r "$SRC/tests/fixtures/scan_syn.pcap" --output redis \
    --output "jsonl:$T/out.jsonl" --debug-events 30000 --debug-rate 10000 2>"$T/agent.log" &
AGENT_PID=$!
sleep 0.5
rcli CLIENT PAUSE 1500 WRITE >/dev/null
sleep 0.8
# The heartbeat cannot be written while paused, so look at the spool file.
size=$(stat -c %s "$T/state-pause/events.spool")
[ "$size" -gt 0 ] || fail "spool did not grow during CLIENT PAUSE"
wait "$AGENT_PID" || fail "agent exited $?"
AGENT_PID=
check_exact canh:events:pause || fail "CLIENT PAUSE: stream != JSONL"
size=$(stat -c %s "$T/state-pause/events.spool")
[ "$size" -eq 0 ] || fail "spool not drained ($size bytes left)"

# 3. SIGTERM: bounded, exit 0, nothing lost.
conf term
rm -f "$T/out.jsonl"
"$BIN/canh-agent" -c "$T/agent.conf" -r "$SRC/tests/fixtures/scan_syn.pcap" --output redis \
    --output "jsonl:$T/out.jsonl" --debug-events 1000000 --debug-rate 2000 2>"$T/agent.log" &
AGENT_PID=$!
sleep 1.5
start=$(date +%s%N)
kill -TERM "$AGENT_PID"
rc=0; wait "$AGENT_PID" || rc=$?
AGENT_PID=
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$rc" -eq 0 ] || fail "SIGTERM: exit $rc"
[ "$ms" -lt 3000 ] || fail "SIGTERM took $ms ms"
check_exact canh:events:term || fail "SIGTERM: stream != JSONL"

# 4. SIGHUP reload: broken file refused with file:line, changed file taken.
conf hup
"$BIN/canh-agent" -c "$T/agent.conf" -r "$SRC/tests/fixtures/scan_syn.pcap" --output redis \
    --debug-events 60 --debug-rate 10 2>"$T/agent.log" &
AGENT_PID=$!
sleep 1.5
v1=$(rcli --json XREVRANGE canh:heartbeats:hup + - COUNT 1 | python3 -c 'import json,sys; e=json.load(sys.stdin)[0][1]; print(json.loads(dict(zip(e[::2],e[1::2]))["event"])["canh"]["rules_version"])')
printf '[broken]\ndetector = health\ntaxonomy = no.such.code\n' >"$T/rules/zz-broken.rules"
kill -HUP "$AGENT_PID"
sleep 0.3
grep -q 'reload refused.*zz-broken.rules:3' "$T/agent.log" || fail "broken rules not refused with file:line"
kill -0 "$AGENT_PID" || fail "agent died on a bad reload"
rm "$T/rules/zz-broken.rules"
sed -i 's/^hold_down = 60s/hold_down = 90s/' "$T/rules/health.rules"
kill -HUP "$AGENT_PID"
sleep 1.5
grep -q 'reloaded: rules version' "$T/agent.log" || fail "good reload not logged"
v2=$(rcli --json XREVRANGE canh:heartbeats:hup + - COUNT 1 | python3 -c 'import json,sys; e=json.load(sys.stdin)[0][1]; print(json.loads(dict(zip(e[::2],e[1::2]))["event"])["canh"]["rules_version"])')
[ -n "$v1" ] && [ "$v1" != "$v2" ] || fail "rules_version did not change ($v1 -> $v2)"
kill -TERM "$AGENT_PID"; wait "$AGENT_PID" || fail "agent exit $? after reloads"
AGENT_PID=
echo "OK: redis kill, CLIENT PAUSE, SIGTERM and SIGHUP behave"
