#!/usr/bin/env bash
# redis_loading.sh — issue 19 item 8: Redis killed with kill -9 while the
# agent pipelines XADDs (300 events a second), restarted at once on
# the same append-only file (fsynced always) holding a data set large
# enough that loading it takes a while, so the agent reconnects while
# Redis answers LOADING.  The agent must then resend exactly: the stream
# equals the agent's JSONL copy, in order, no duplicate, nothing skipped.
# Several kills, until LOADING was met at least twice (bounded).
# Kept apart from redis_faults.sh so it can be rerun alone after changes
# to agent/output/redis.c.
. "$(dirname "$0")/lib/common.sh"
REDIS_PID=; AGENT_PID=
cleanup() {
    [ -z "$AGENT_PID" ] || kill -9 "$AGENT_PID" 2>/dev/null || true
    [ -z "$REDIS_PID" ] || kill -9 "$REDIS_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

start_redis() {
    redis-server --port 0 --unixsocket "$TMP/r.sock" --unixsocketperm 700 --dir "$TMP" --save '' \
        --appendonly yes --appendfsync always --enable-debug-command local \
        --logfile "$TMP/redis.log" &
    REDIS_PID=$!
}
rcli() { redis-cli -s "$TMP/r.sock" "$@"; }
pong() { [ "$(rcli PING 2>/dev/null)" = PONG ]; }
start_redis
wait_until 60 "redis-server" pong
# 600,000 keys in the AOF's base: loading them takes a noticeable time.
rcli DEBUG POPULATE 600000 ballast 64 >/dev/null
rcli BGREWRITEAOF >/dev/null
rewritten() { rcli INFO persistence | grep -q 'aof_rewrite_in_progress:0' && rcli INFO persistence | grep -q 'aof_last_bgrewrite_status:ok'; }
wait_until 120 "the AOF rewrite" rewritten

mkdir -p "$TMP/rules"
cp "$CANH_SRC"/rules/* "$TMP/rules/"
cat >"$TMP/agent.conf" <<CONF
[agent]
name = gw-load
state_dir = $TMP/state
rules_dir = $TMP/rules
[output]
redis_url = unix:$TMP/r.sock
heartbeat_interval = 1s
timeout = 2s
CONF
"$CANH_BIN/canh-agent" -c "$TMP/agent.conf" -r "$CANH_SRC/tests/fixtures/scan_syn.pcap" \
    --output redis --output "jsonl:$TMP/out.jsonl" --debug-events 10000000 --debug-rate 300 \
    2>"$TMP/agent.log" &
AGENT_PID=$!
len() { local n; n=$(rcli XLEN canh:events:gw-load 2>/dev/null) || true; [[ $n =~ ^[0-9]+$ ]] && echo "$n" || echo 0; }
grown() { (($(len) >= $1)); }
loading_seen() { grep -c 'LOADING' "$TMP/agent.log" || true; }

kills=0
while (($(loading_seen) < 2)); do
    ((kills < 8)) || fail "the agent met LOADING $(loading_seen) times in $kills kills; the test needs 2"
    wait_until 120 "the stream to grow" grown $(($(len) + 300))
    kill -9 "$REDIS_PID"
    wait "$REDIS_PID" 2>/dev/null || true
    start_redis
    kills=$((kills + 1))
    wait_until 120 "redis-server to load" pong
done
pass "$kills kills of Redis under a pipelining agent; it answered LOADING $(loading_seen) times"

# The agent writes on; stop it (SIGTERM drains the spool) and compare.
made=$(wc -l <"$TMP/out.jsonl")
wait_until 300 "the $made events made so far in Redis (spool replayed)" grown "$made"
kill -TERM "$AGENT_PID"
rc=0
wait_pid 120 "$AGENT_PID" || rc=$?
AGENT_PID=
[ "$rc" = 0 ] || fail "the agent exited $rc"
rcli --json XRANGE canh:events:gw-load - + >"$TMP/stream.json"
python3 - "$TMP" <<'PY' || fail "the stream is not exactly the agent's events in order"
import json, sys
t = sys.argv[1]
stream = [dict(zip(f[::2], f[1::2]))["event"] for _, f in json.load(open(t + "/stream.json"))]
jsonl = open(t + "/out.jsonl").read().splitlines()
ids = [json.loads(e)["canh"]["id"] for e in stream]
dups = len(ids) - len(set(ids))
missing = len(set(json.loads(l)["canh"]["id"] for l in jsonl) - set(ids))
print(f"stream {len(stream)}, JSONL {len(jsonl)}, duplicates {dups}, missing {missing}")
assert dups == 0 and missing == 0 and stream == jsonl
PY
grep -q 'redis_out_of_order' "$TMP/agent.log" && fail "an XADD was executed after a refused one"
pass "every event in Redis exactly once and in order after the LOADING restarts"
echo "OK: $PASSED checks"
