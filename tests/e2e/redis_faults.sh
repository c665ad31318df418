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
# Every step waits for what it needs to see (a stream length, a log line,
# the spool file), so a busy machine only makes it slower.
source "$(dirname "$0")/lib/common.sh" # fail, wait_until, wait_pid
source "$(dirname "$0")/lib/redis.sh"  # redis_start, redis_stop, redis_kill
BIN=${CANH_BIN:?}; SRC=${CANH_SRC:?}
T=$TMP
AGENT_PID=
cleanup() {
    [ -n "$AGENT_PID" ] && kill -9 "$AGENT_PID" 2>/dev/null
    redis_stop
    wait 2>/dev/null; rm -rf "$T"
}
trap cleanup EXIT

start_redis() { redis_start redis -s "$T/r.sock" -- --appendonly yes --appendfsync always; }
rcli() { redis-cli -s "$T/r.sock" "$@"; }
# in_stream KEY: the stream KEY has entries
in_stream() { (($(rcli XLEN "$1") > 0)); }
# caught_up KEY N: the stream KEY has at least N entries
caught_up() { (($(rcli XLEN "$1") >= $2)); }
# stop_agent: SIGTERM, which ends a run of events that would otherwise go
# on for hours (200 a second, paced) and writes what is left to Redis;
# exit 0 expected.
stop_agent() {
    local pid=$AGENT_PID
    AGENT_PID=
    term_wait 60 "$pid" "the agent"
}
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

# 1. Redis killed mid-run, restarted once the agent spools.
start_redis
conf kill
"$BIN/canh-agent" -c "$T/agent.conf" -r "$SRC/tests/fixtures/scan_syn.pcap" --output redis \
    --output "jsonl:$T/out.jsonl" --debug-events 10000000 --debug-rate 200 2>"$T/agent.log" &
AGENT_PID=$!
wait_until 60 "the first events in Redis" in_stream canh:events:kill
redis_kill redis
# Redis stays away until the agent has put events in its spool.
wait_until 60 "events in the spool while Redis is away" test -s "$T/state-kill/events.spool"
start_redis
wait_until 120 "the agent to connect again" grep -q 'connected again' "$T/agent.log"
generated=$(wc -l <"$T/out.jsonl")
wait_until 120 "the $generated events made before the restart in Redis" caught_up canh:events:kill "$generated"
stop_agent
check_exact canh:events:kill || fail "Redis kill: stream != JSONL"

# 2. CLIENT PAUSE: spool grows then drains.
conf pause
rm -f "$T/out.jsonl"
"$BIN/canh-agent" -c "$T/agent.conf" -r "$SRC/tests/fixtures/scan_syn.pcap" --output redis \
    --output "jsonl:$T/out.jsonl" --debug-events 10000000 --debug-rate 200 2>"$T/agent.log" &
AGENT_PID=$!
wait_until 60 "the first events in Redis" in_stream canh:events:pause
# Writes stay paused until the spool has grown (the heartbeat cannot be
# written while paused, so look at the spool file).
rcli CLIENT PAUSE 300000 WRITE >/dev/null
wait_until 60 "the spool to grow during CLIENT PAUSE" test -s "$T/state-pause/events.spool"
generated=$(wc -l <"$T/out.jsonl")
rcli CLIENT UNPAUSE >/dev/null
wait_until 120 "the $generated events made during the pause in Redis" caught_up canh:events:pause "$generated"
stop_agent
check_exact canh:events:pause || fail "CLIENT PAUSE: stream != JSONL"
size=$(stat -c %s "$T/state-pause/events.spool")
[ "$size" -eq 0 ] || fail "spool not drained ($size bytes left)"

# 3. SIGTERM: bounded, exit 0, nothing lost.
conf term
rm -f "$T/out.jsonl"
"$BIN/canh-agent" -c "$T/agent.conf" -r "$SRC/tests/fixtures/scan_syn.pcap" --output redis \
    --output "jsonl:$T/out.jsonl" --debug-events 1000000 --debug-rate 200 2>"$T/agent.log" &
AGENT_PID=$!
wait_until 60 "the first events in Redis" in_stream canh:events:term
# Without the signal the run would last 5000 s.
stop_agent
check_exact canh:events:term || fail "SIGTERM: stream != JSONL"

# 4. SIGHUP reload: broken file refused with file:line, changed file taken.
conf hup
# Events for 10000 s: the agent runs until it is told to stop.
"$BIN/canh-agent" -c "$T/agent.conf" -r "$SRC/tests/fixtures/scan_syn.pcap" --output redis \
    --debug-events 100000 --debug-rate 10 2>"$T/agent.log" &
AGENT_PID=$!
# rules_version of the last heartbeat
rules_version() {
    rcli --json XREVRANGE canh:heartbeats:hup + - COUNT 1 | python3 -c 'import json,sys; e=json.load(sys.stdin)[0][1]; print(json.loads(dict(zip(e[::2],e[1::2]))["event"])["canh"]["rules_version"])'
}
wait_until 60 "a heartbeat" in_stream canh:heartbeats:hup
v1=$(rules_version)
[ -n "$v1" ] || fail "no rules_version in the heartbeat"
printf '[broken]\ndetector = health\ntaxonomy = no.such.code\n' >"$T/rules/zz-broken.rules"
kill -HUP "$AGENT_PID"
wait_until 60 "broken rules refused with file:line" grep -q 'reload refused.*zz-broken.rules:3' "$T/agent.log"
kill -0 "$AGENT_PID" || fail "agent died on a bad reload"
rm "$T/rules/zz-broken.rules"
sed -i 's/^hold_down = 60s/hold_down = 90s/' "$T/rules/health.rules"
kill -HUP "$AGENT_PID"
wait_until 60 "the good reload logged" grep -q 'reloaded: rules version' "$T/agent.log"
new_version() { v2=$(rules_version) && [ -n "$v2" ] && [ "$v2" != "$v1" ]; }
wait_until 60 "a heartbeat with a new rules_version (was $v1)" new_version
stop_agent
echo "OK: redis kill, CLIENT PAUSE, SIGTERM and SIGHUP behave"
