#!/usr/bin/env bash
# redis_hardened.sh — the shipped hardened Redis settings
# (systemd/redis-canh.conf.example) loaded into a real redis-server with the
# shipped ACL file: a gateway's password cannot send a value above 1 MB nor
# grow Redis past maxmemory; at the bound Redis refuses (noeviction, nothing
# already stored is dropped), the agent keeps its events in its spool, and
# delivers every one of them once there is room again (issue 19, item 4).
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/redis_secure.sh"

SOCK=$TMP/redis.sock
acl_instantiate "$CANH_SRC/systemd/redis-users.acl.example" "$TMP/users.acl"
# The shipped file, then what a test needs instead of a server's values
# (a later line wins): a private socket, and a small bound to reach.
cat >"$TMP/redis.conf" <<CONF
include $CANH_SRC/systemd/redis-canh.conf.example
port 0
unixsocket $SOCK
unixsocketperm 700
dir $TMP
save ""
aclfile $TMP/users.acl
maxmemory 8mb
CONF
redis_start redis -f "$TMP/redis.conf" -s "$SOCK" -u canh-admin "$(test_password canh-admin)"
as() {
    local user=$1
    shift
    timeout 10 redis-cli -s "$SOCK" --user "$user" --pass "$(test_password "$user")" \
        --no-auth-warning "$@" 2>&1
}
admin() { as canh-admin "$@"; }

[ "$(admin CONFIG GET maxmemory-policy | tail -1)" = noeviction ] || fail "maxmemory-policy is not noeviction"
[ "$(admin CONFIG GET proto-max-bulk-len | tail -1)" = 1048576 ] || fail "proto-max-bulk-len is not 1 MB"
[ "$(admin CONFIG GET appendonly | tail -1)" = yes ] || fail "appendonly is not yes"
[ "$(admin CONFIG GET appendfsync | tail -1)" = always ] || fail "appendfsync is not always"
# During an AOF rewrite writes are still fsynced: "yes" would put up to
# ~30 s of acknowledged events at risk (docs/deployment.md).
[ "$(admin CONFIG GET no-appendfsync-on-rewrite | tail -1)" = no ] ||
    fail "no-appendfsync-on-rewrite is not no"
pass "the shipped settings load: noeviction, 1 MB values, appendonly with fsync always, also during rewrites"

# A 2 MB value from the gateway's password is refused before it is stored.
{ head -c 2000000 /dev/zero | tr '\0' 'A'; } >"$TMP/big"
# (Redis answers "Protocol error: invalid bulk length" and closes the
# connection while redis-cli is still writing: it dies of SIGPIPE.)
out=$(as gw-soyte -x XADD canh:events:gw-soyte '*' event <"$TMP/big") && cli=0 || cli=$?
case $cli:$out in 0:[0-9]*) fail "a 2 MB value was accepted: $out" ;; esac
[ "$(admin EXISTS canh:events:gw-soyte)" = 0 ] || fail "the 2 MB value was stored"
pass "a value above proto-max-bulk-len is refused"

# Fill up to the bound the way a flooding gateway would (bounded: 200 x
# 200 KB is far above 8 MB).
admin SET canh:incident:keep precious >/dev/null
{ head -c 200000 /dev/zero | tr '\0' 'B'; } >"$TMP/chunk"
oom=""
for _ in $(seq 200); do
    out=$(as gw-soyte -x XADD canh:events:gw-soyte '*' event <"$TMP/chunk" || true)
    case $out in OOM*) oom=$out; break ;; esac
done
[ -n "$oom" ] || fail "Redis grew past maxmemory without refusing"
# The refused 200 KB were partly its own input buffer: top up with small
# entries (one pipe, bounded) until even a small one is refused.
oom=""
for _ in $(seq 20); do
    out=$(for _ in $(seq 2000); do printf 'XADD canh:events:gw-soyte * event %0500d\n' 0; done |
        as gw-soyte | grep -m1 OOM || true)
    [ -n "$out" ] && { oom=$out; break; }
done
[ -n "$oom" ] || fail "small writes were never refused at maxmemory"
[ "$(admin GET canh:incident:keep)" = precious ] || fail "noeviction evicted a key"
pass "at maxmemory Redis refuses the gateway's writes ($oom) and evicts nothing"

# The real agent meets the full Redis: its events wait in its spool.
test_password gw-soyte >"$TMP/gw-soyte.pw"
chmod 600 "$TMP/gw-soyte.pw"
cat >"$TMP/agent.conf" <<CONF
[agent]
name = gw-soyte
agency = Sở Y tế
state_dir = $TMP/state
[output]
redis_url = unix:$SOCK
user = gw-soyte
password_file = $TMP/gw-soyte.pw
timeout = 2s
CONF
len_before=$(admin XLEN canh:events:gw-soyte)
timeout 120 "$CANH_BIN/canh-agent" -c "$TMP/agent.conf" -r "$FIXTURES/scan_syn.pcap" \
    --output redis --output "jsonl:$TMP/events.jsonl" >"$TMP/agent1.log" 2>&1 || true
lines=$(wc -l <"$TMP/events.jsonl")
[ "$lines" -ge 1 ] || fail "the fixture gave no events"
grep -q "OOM" "$TMP/agent1.log" || fail "the agent did not report Redis's OOM refusal"
[ "$(admin XLEN canh:events:gw-soyte)" = "$len_before" ] || fail "events were added past maxmemory"
pass "the agent, refused at maxmemory, keeps its $lines events in its spool"

# Room again (the operator trims or raises maxmemory): the next run
# delivers the spooled events first, then its own, none lost.
admin XTRIM canh:events:gw-soyte MAXLEN 0 >/dev/null
timeout 120 "$CANH_BIN/canh-agent" -c "$TMP/agent.conf" -r "$FIXTURES/scan_syn.pcap" \
    --output redis >"$TMP/agent2.log" 2>&1 || fail "the second agent run failed: $(cat "$TMP/agent2.log")"
[ "$(admin XLEN canh:events:gw-soyte)" = $((2 * lines)) ] ||
    fail "$(admin XLEN canh:events:gw-soyte) events in the stream, expected $((2 * lines)) (spooled + new)"
pass "once there is room the spooled events are delivered, none lost"

redis_stop redis
echo "$PASSED passed, 0 failed"
