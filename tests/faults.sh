#!/usr/bin/env bash
# faults.sh — bounded kill -9 cycles against the real programs, and the
# count that says what they cost:
#
#   tests/faults.sh KIND [CYCLES]     KIND: redis, agent, collector, sentinel
#
# An agent produces a steady stream of events (200 a second, the hidden
# --debug-events source) into Redis; a collector applies them.  Each
# cycle waits for progress (the stream grew, the collector applied more),
# then kill -9's the target and starts it again (redis: the same AOF,
# fsynced always; sentinel: the current master, which then rejoins as a
# replica of the promoted one).  At the end the agent is stopped with
# SIGTERM, the collector drains the streams, and one line is printed:
#
#   KIND cycles N: produced P, in stream S, applied A, lost L, duplicated D
#
# produced: distinct event ids the agents wrote to their JSONL copies;
# in stream: those found in Redis; applied: the collector's dedup markers
# (one per event it applied); lost: produced - in stream; duplicated:
# stream entries that repeat an id (the collector applies them once).
# Every wait is on a condition, bounded; 30 cycles take a few minutes.
# Figures: docs/reliability.md.  tests/e2e/fault_cycles.sh runs 2 of each.
. "$(dirname "$0")/e2e/lib/common.sh"
. "$(dirname "$0")/e2e/lib/redis_secure.sh"
. "$(dirname "$0")/e2e/lib/sentinel.sh"
KIND=${1:?usage: faults.sh redis|agent|collector|sentinel [cycles]}
CYCLES=${2:-30}
RATE=200
AGENT_PID=; COLLECTOR_PID=; REDIS_PID=; RUN=0
cleanup() {
    [ -z "$AGENT_PID" ] || kill -9 "$AGENT_PID" 2>/dev/null || true
    [ -z "$COLLECTOR_PID" ] || kill -9 "$COLLECTOR_PID" 2>/dev/null || true
    [ -z "$REDIS_PID" ] || kill -9 "$REDIS_PID" 2>/dev/null || true
    sentinel_stop
    rm -rf "$TMP"
}
trap cleanup EXIT

start_redis() {
    redis-server --port 0 --unixsocket "$TMP/r.sock" --unixsocketperm 700 --dir "$TMP" --save '' \
        --appendonly yes --appendfsync always --logfile "$TMP/redis.log" &
    REDIS_PID=$!
    # PONG, not LOADING: the AOF grows with every cycle.
    pong() { [ "$(redis-cli -s "$TMP/r.sock" PING 2>/dev/null)" = PONG ]; }
    wait_until 120 "redis-server to answer PONG" pong
}
if [ "$KIND" = sentinel ]; then
    sentinel_start
    URL=$(sentinel_url)
    rcli() { mcli "$@"; }
else
    start_redis
    URL=unix:$TMP/r.sock
    rcli() { redis-cli -s "$TMP/r.sock" "$@"; }
fi

mkdir -p "$TMP/rules"
cp "$CANH_SRC"/rules/* "$TMP/rules/"
cat >"$TMP/agent.conf" <<CONF
[agent]
name = gw-fault
state_dir = $TMP/state
rules_dir = $TMP/rules
[output]
redis_url = $URL
heartbeat_interval = 1s
timeout = 2s
CONF
cat >"$TMP/collector.conf" <<CONF
[collector]
redis_url = $URL
block = 200ms
claim_idle = 1s
claim_interval = 500ms
discover_interval = 500ms
log_level = info
[incidents]
sweep_interval = 500ms
CONF
start_agent() {
    RUN=$((RUN + 1))
    "$CANH_BIN/canh-agent" -c "$TMP/agent.conf" -r "$CANH_SRC/tests/fixtures/scan_syn.pcap" \
        --output redis --output "jsonl:$TMP/out.$RUN.jsonl" --debug-events 10000000 \
        --debug-rate "$RATE" 2>>"$TMP/agent.log" &
    AGENT_PID=$!
}
start_collector() {
    "$CANH_BIN/canh-collector" -c "$TMP/collector.conf" >>"$TMP/collector.log" 2>&1 &
    COLLECTOR_PID=$!
}
kill9() {
    kill -9 "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
# stream_len: the stream's length, 0 while Redis is away or loading
stream_len() {
    local n
    n=$(rcli XLEN canh:events:gw-fault 2>/dev/null) || true
    [[ $n =~ ^[0-9]+$ ]] && echo "$n" || echo 0
}
applied() { rcli --scan --pattern 'canh:seen:*' 2>/dev/null | wc -l; }
grown() { (($(stream_len) >= $1)); }
applied_past() { (($(applied) > $1)); }

start_collector
start_agent
for ((cycle = 1; cycle <= CYCLES; cycle++)); do
    # Progress first: the stream grew by half a second of events and the
    # collector applied something since the last cycle.
    base=$(stream_len)
    done_before=$(applied)
    wait_until 120 "cycle $cycle: the stream to grow past $base" grown $((base + RATE / 2))
    wait_until 120 "cycle $cycle: the collector to apply past $done_before" applied_past "$done_before"
    case $KIND in
        redis)
            kill9 "$REDIS_PID"
            start_redis
            ;;
        agent)
            kill9 "$AGENT_PID"
            start_agent
            ;;
        collector)
            kill9 "$COLLECTOR_PID"
            start_collector
            ;;
        sentinel)
            old=$(master_port)
            n=$(node_of_port "$old")
            other=${NODE_PORT[$((1 - n))]}
            # The replica must have caught up before its master dies, or
            # the sentinels refuse to promote it (and the first cycles
            # would measure resync, not failover).
            synced() { redis-cli -p "$other" INFO replication | grep -q 'master_link_status:up'; }
            wait_until 120 "cycle $cycle: the replica in sync" synced
            node_kill "$n"
            wait_until 120 "cycle $cycle: the sentinels to promote $other" master_is "$other"
            node_start "$n"
            ;;
        *) fail "unknown kind $KIND" ;;
    esac
done

# Stop producing (SIGTERM drains the spool), then let the collector drain.
wait_until 120 "the stream to grow after the last cycle" grown $(($(stream_len) + RATE / 2))
kill -TERM "$AGENT_PID"
rc=0
wait_pid 120 "$AGENT_PID" || rc=$?
AGENT_PID=
[ "$rc" = 0 ] || fail "the agent exited $rc on SIGTERM"
drained() {
    local info
    info=$(rcli XINFO GROUPS canh:events:gw-fault)
    [ "$(rcli XPENDING canh:events:gw-fault canh-collectors | head -1)" = 0 ] &&
        [ "$(grep -A1 '^last-delivered-id$' <<<"$info" | tail -1)" = \
            "$(rcli XINFO STREAM canh:events:gw-fault | grep -A1 '^last-generated-id$' | tail -1)" ]
}
wait_until 600 "the collector to drain the stream" drained

rcli --json XRANGE canh:events:gw-fault - + >"$TMP/stream.json"
rcli --scan --pattern 'canh:seen:*' >"$TMP/seen.txt"
python3 - "$TMP" "$KIND" "$CYCLES" <<'PY'
import glob, json, sys
t, kind, cycles = sys.argv[1], sys.argv[2], sys.argv[3]
produced = set()
for f in glob.glob(t + "/out.*.jsonl"):
    for line in open(f, errors="replace"):
        try:
            produced.add(json.loads(line)["canh"]["id"])
        except ValueError:
            pass  # the last line of a run killed mid-write
stream = [json.loads(dict(zip(f[::2], f[1::2]))["event"])["canh"]["id"]
          for _, f in json.load(open(t + "/stream.json"))]
distinct = set(stream)
applied = sum(1 for l in open(t + "/seen.txt") if l.strip())
unlogged = len(distinct - produced)  # in Redis, JSONL line lost with the kill
print(f"{kind} cycles {cycles}: produced {len(produced)}, in stream {len(distinct & produced)}, "
      f"applied {applied}, lost {len(produced - distinct)}, duplicated {len(stream) - len(distinct)}"
      + (f" (+{unlogged} in stream whose JSONL line died with the agent)" if unlogged else ""))
PY
