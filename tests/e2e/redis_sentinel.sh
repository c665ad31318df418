#!/usr/bin/env bash
# redis_sentinel.sh — high availability on Redis Sentinel: a master, a
# replica and three sentinels on loopback; the agent and the collector
# reach them through sentinel://.  The master is killed with kill -9 while
# the agent produces a steady stream of events (200 a second); the
# sentinels promote the replica, and the agent, the collector, canh-ctl and
# canh-tail find the new master by themselves.  Counted: events produced
# (the agent's JSONL), in the new master's stream, applied by the
# collector (one dedup marker each), lost and duplicated.  The loss
# allowed is the documented window (docs/reliability.md): what the dead
# master acknowledged but had not yet sent to its replica, at most one
# second of events here.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/redis_secure.sh"
. "$(dirname "$0")/lib/sentinel.sh"
AGENT_PID=; COLLECTOR_PID=
cleanup() {
    [ -z "$AGENT_PID" ] || kill -9 "$AGENT_PID" 2>/dev/null || true
    [ -z "$COLLECTOR_PID" ] || kill -9 "$COLLECTOR_PID" 2>/dev/null || true
    sentinel_stop
    rm -rf "$TMP"
}
trap cleanup EXIT
RATE=200

sentinel_start
URL=$(sentinel_url)
OLD=${NODE_PORT[0]}
[ "$(master_port)" = "$OLD" ] || fail "the sentinels do not name node 0 as master"
pass "a master, a replica and three sentinels on loopback"

mkdir -p "$TMP/rules"
cp "$CANH_SRC"/rules/* "$TMP/rules/"
cat >"$TMP/agent.conf" <<CONF
[agent]
name = gw-ha
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
claim_idle = 2s
claim_interval = 1s
discover_interval = 500ms
log_level = info
[incidents]
sweep_interval = 500ms
CONF
"$CANH_BIN/canh-collector" -c "$TMP/collector.conf" >"$TMP/collector.log" 2>&1 &
COLLECTOR_PID=$!
"$CANH_BIN/canh-agent" -c "$TMP/agent.conf" -r "$CANH_SRC/tests/fixtures/scan_syn.pcap" \
    --output redis --output "jsonl:$TMP/out.jsonl" --debug-events 10000000 \
    --debug-rate "$RATE" 2>"$TMP/agent.log" &
AGENT_PID=$!

stream_len() { redis-cli -p "$1" XLEN canh:events:gw-ha 2>/dev/null; }
at_least() { local n; n=$(stream_len "$1") && ((n >= $2)); }
wait_until 60 "a steady stream on the master" at_least "$OLD" "$RATE"
applied_some() { (($(redis-cli -p "$OLD" --scan --pattern 'canh:seen:*' | wc -l) > 0)); }
wait_until 60 "the collector to apply events" applied_some
grep -q "sentinel canh master 127.0.0.1:$OLD" "$TMP/agent.log" ||
    fail "the agent does not say it reached the master through the sentinels"
pass "the agent and the collector found the master through the sentinels"

# kill -9 the master in the middle of the stream.
before=$(wc -l <"$TMP/out.jsonl")
node_kill 0
NEW=${NODE_PORT[1]}
wait_until 120 "the sentinels to promote the replica" master_is "$NEW"
pass "kill -9 of the master: the sentinels promoted the replica"

# Both programs come back to the new master by themselves and the stream
# goes on there.
wait_until 120 "the agent on the new master" grep -q "master 127.0.0.1:$NEW: connected again" "$TMP/agent.log"
wait_until 120 "the collector on the new master" grep -q "master 127.0.0.1:$NEW: connected again" "$TMP/collector.log"
more=$((before + 2 * RATE))
produced_more() { (($(wc -l <"$TMP/out.jsonl") >= more)); }
wait_until 120 "two more seconds of events" produced_more
kill -TERM "$AGENT_PID"
rc=0
wait_pid 60 "$AGENT_PID" || rc=$?
AGENT_PID=
[ "$rc" = 0 ] || fail "the agent exited $rc on SIGTERM"
spool=$(stat -c %s "$TMP/state/events.spool" 2>/dev/null || echo 0)
[ "$spool" = 0 ] || fail "the agent stopped with $spool bytes still in its spool"

drained() {
    local info
    info=$(redis-cli -p "$NEW" XINFO GROUPS canh:events:gw-ha)
    [ "$(redis-cli -p "$NEW" XPENDING canh:events:gw-ha canh-collectors | head -1)" = 0 ] &&
        [ "$(grep -A1 '^last-delivered-id$' <<<"$info" | tail -1)" = \
            "$(redis-cli -p "$NEW" XINFO STREAM canh:events:gw-ha | grep -A1 '^last-generated-id$' | tail -1)" ]
}
wait_until 120 "the collector to drain the stream on the new master" drained

# produced / in stream / applied / lost / duplicated
redis-cli -p "$NEW" --json XRANGE canh:events:gw-ha - + >"$TMP/stream.json"
redis-cli -p "$NEW" --scan --pattern 'canh:seen:*' >"$TMP/seen.txt"
read -r produced in_stream dups lost applied order <<<"$(python3 - "$TMP" <<'PY'
import json, sys
t = sys.argv[1]
produced = [json.loads(l)["canh"]["id"] for l in open(t + "/out.jsonl")]
stream = [json.loads(dict(zip(f[::2], f[1::2]))["event"])["canh"]["id"]
          for _, f in json.load(open(t + "/stream.json"))]
seen = set(produced)
in_stream = [i for i in stream if i in seen]
distinct = set(in_stream)
pos = {i: n for n, i in enumerate(produced)}
order = all(pos[a] < pos[b] for a, b in zip(in_stream, in_stream[1:]) if a != b)
applied = sum(1 for l in open(t + "/seen.txt") if l.strip())
print(len(produced), len(distinct), len(in_stream) - len(distinct), len(seen - distinct), applied,
      "yes" if order else "no")
PY
)"
echo "sentinel failover: produced $produced, in stream $in_stream, applied $applied, lost $lost, duplicated $dups, in order: $order"
[ "$applied" = "$in_stream" ] || fail "the collector applied $applied events, the stream holds $in_stream"
((lost <= RATE)) || fail "$lost events lost, more than the documented window (one second: $RATE)"
[ "$order" = yes ] || fail "the new master's stream is out of order"
pass "events: $produced produced, $in_stream in the stream, $applied applied, $lost lost (window <= $RATE), $dups duplicated"

# The operator tools on the same URL, after the failover.
out=$("$CANH_BIN/canh-ctl" -r "$URL" -o tester open --agency 'Sở Y tế' --taxonomy attack.dos \
    --summary 'reported by phone' 2>&1) || fail "canh-ctl through the sentinels: $out"
id=$(grep -o '[0-9A-Za-z-]*' <<<"$out" | tail -1)
tail_out=$(timeout 60 "$CANH_BIN/canh-tail" -r "$URL" --since all -t attack.dos -n 1 --no-color -w 2>&1) ||
    fail "canh-tail through the sentinels: $tail_out"
grep -q 'reported by phone' <<<"$tail_out" || fail "canh-tail did not show the incident: $tail_out"
pass "canh-ctl opened an incident and canh-tail followed it through the sentinels ($id)"

# A sentinel URL that names an unknown master: a clear error, exit 1.
rc=0
out=$("$CANH_BIN/canh-ctl" -r "sentinel://127.0.0.1:${SENTINEL_PORT[0]}/nosuch" show 1 2>&1) || rc=$?
[ "$rc" = 1 ] && grep -q "no sentinel named the master nosuch" <<<"$out" ||
    fail "an unknown master: exit $rc, $out"
pass "an unknown master name is a clear error"
echo "OK: $PASSED checks"
