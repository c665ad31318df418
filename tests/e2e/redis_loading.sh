#!/usr/bin/env bash
# redis_loading.sh — issue 19 item 8: Redis killed with kill -9 while the
# agent (its user as the shipped ACL makes it) pipelines XADDs (300 events
# a second), restarted at once on
# the same append-only file (fsynced always) holding a data set large
# enough that loading it takes a while, so the agent reconnects while
# Redis answers LOADING.  The agent must then resend exactly: the stream
# holds the agent's JSONL copy, in order, nothing skipped (a duplicate of
# what was in flight at the kill is allowed: the ACL forbids the check).
# Several kills, until the agent met LOADING after five of them (bounded).
# Kept apart from redis_faults.sh so it can be rerun alone after changes
# to agent/output/redis.c.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/redis.sh"
AGENT_PID=
cleanup() {
    [ -z "$AGENT_PID" ] || kill -9 "$AGENT_PID" 2>/dev/null || true
    redis_kill redis
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

# The agent's user as the shipped ACL (systemd/redis-users.acl.example)
# makes it: XADD to its own streams, nothing else.  That it cannot read
# its stream's last entry matters: the agent then resends what was in
# flight rather than checking, and Redis checks the ACL before answering
# LOADING.  The test's own commands go as the default user.
PASSWORD=pw-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$PASSWORD" >"$TMP/password"
cat >"$TMP/users.acl" <<ACL
user default on nopass ~* &* +@all
user gw-load on >$PASSWORD resetkeys resetchannels -@all +ping +role +xadd %W~canh:events:gw-load %W~canh:heartbeats:gw-load
ACL
# start_redis SECONDS: up once it answers PONG, not LOADING (which a
# restart on the big AOF answers for a while), bounded by SECONDS.
start_redis() {
    redis_start redis -s "$TMP/r.sock" -w "$1" -- --appendonly yes --appendfsync always \
        --enable-debug-command local --aclfile "$TMP/users.acl"
}
rcli() { redis-cli -s "$TMP/r.sock" "$@"; }
start_redis 60
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
user = gw-load
password_file = $TMP/password
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

# Each kill whose restart the agent met with LOADING is a chance for the
# race; five of them (bounded by twelve kills).
# XADDs this Redis refused before running them (LOADING, here): each
# one sent to a loading Redis risks the rest of its pipeline running
# after the refusal, once loading ends.
xadd_refused() { rcli INFO commandstats | tr -d '\r' | sed -n 's/^cmdstat_xadd:.*rejected_calls=\([0-9]*\).*/\1/p' | grep . || echo 0; }
refused=0
kills=0
loading_kills=0
while ((loading_kills < 5)); do
    ((kills < 12)) || fail "the agent met LOADING in $loading_kills of $kills kills; the test needs 5"
    wait_until 120 "the stream to grow" grown $(($(len) + 300))
    seen=$(loading_seen)
    refused=$((refused + $(xadd_refused)))
    redis_kill redis
    start_redis 120
    kills=$((kills + 1))
    (($(loading_seen) == seen)) || loading_kills=$((loading_kills + 1))
done
pass "$kills kills of Redis under a pipelining agent; $loading_kills restarts met with LOADING ($(loading_seen) log lines)"

# The agent writes on; stop it (SIGTERM drains the spool) and compare.
refused=$((refused + $(xadd_refused)))
((refused == 0)) || fail "the agent sent $refused XADDs to a loading Redis (refused with LOADING)"
pass "no XADD sent to a loading Redis"
made=$(wc -l <"$TMP/out.jsonl")
wait_until 300 "the $made events made so far in Redis (spool replayed)" grown "$made"
kill -TERM "$AGENT_PID"
rc=0
wait_pid 120 "$AGENT_PID" || rc=$?
AGENT_PID=
[ "$rc" = 0 ] || fail "the agent exited $rc"
rcli --json XRANGE canh:events:gw-load - + >"$TMP/stream.json"
python3 - "$TMP" <<'PY' || fail "the stream is not the agent's events in order"
# Under this ACL the agent cannot check what landed before a drop, so an
# XADD in flight when Redis died is sent again: a duplicate, which the
# collector drops by canh.id.  What must hold: every event is there, each
# as the agent wrote it, and their first copies are in the agent's order
# (Redis executed a prefix of what each connection carried).
import json, sys
t = sys.argv[1]
stream = [dict(zip(f[::2], f[1::2]))["event"] for _, f in json.load(open(t + "/stream.json"))]
jsonl = open(t + "/out.jsonl").read().splitlines()
made = {json.loads(l)["canh"]["id"]: l for l in jsonl}
first, seen = [], set()
for e in stream:
    i = json.loads(e)["canh"]["id"]
    assert made.get(i) == e, f"{i} in the stream is not what the agent wrote"
    if i not in seen:
        seen.add(i)
        first.append(i)
order = [json.loads(l)["canh"]["id"] for l in jsonl]
missing = len(set(order) - seen)
late = next((k for k, (a, b) in enumerate(zip(first, order)) if a != b), None)
print(f"stream {len(stream)}, JSONL {len(jsonl)}, duplicates {len(stream) - len(first)}, "
      f"missing {missing}, first out of order: {'none' if late is None else first[late]}")
assert missing == 0 and late is None and len(first) == len(order)
PY
grep -q 'redis_out_of_order' "$TMP/agent.log" && fail "an XADD was executed after a refused one"
pass "every event in Redis, in order, after the LOADING restarts"
echo "OK: $PASSED checks"
