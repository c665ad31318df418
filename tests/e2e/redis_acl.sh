#!/usr/bin/env bash
# redis_acl.sh — the shipped Redis ACL file (systemd/redis-users.acl.example)
# loaded into a real redis-server: an agent's credentials can add to its
# own streams and nothing else (no reading incidents or streams, no
# deleting or trimming anyone else's, no other agent's stream); the
# collector does its whole job and cannot forge or delete agent events;
# the tail user reads and cannot write.  Then the real canh-agent,
# canh-collector and canh-tail run with those users end to end, and an
# operator acts from the collector's status page (the canh-ctl scripts, run
# as the collector's user).
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/redis_secure.sh"

SOCK=$TMP/redis.sock
acl_instantiate "$CANH_SRC/systemd/redis-users.acl.example" "$TMP/users.acl"
redis_start redis -s "$SOCK" -u canh-admin "$(test_password canh-admin)" -- --aclfile "$TMP/users.acl"

# as USER CMD...: one command as USER; prints the reply (errors included).
as() {
    local user=$1
    shift
    timeout 10 redis-cli -s "$SOCK" --user "$user" --pass "$(test_password "$user")" \
        --no-auth-warning "$@" 2>&1
}
admin() { as canh-admin "$@"; }

# allowed USER CMD...: the command is not refused by the ACL.
allowed() {
    local out
    out=$(as "$@")
    case $out in
        NOPERM* | NOAUTH* | WRONGPASS* | *"can't access"*) fail "$1 was refused '${*:2}': $out" ;;
    esac
}
# denied USER CMD...: the ACL refuses the command, and ACL DRYRUN (what
# docs/deployment.md tells an admin to check with) agrees.
denied() {
    local out dry
    out=$(as "$@")
    case $out in
        NOPERM*) ;;
        *) fail "$1 was allowed '${*:2}': $out" ;;
    esac
    dry=$(admin ACL DRYRUN "$@")
    [ "$dry" != OK ] || fail "ACL DRYRUN $* says OK but the command was refused"
}

# Nobody gets in without a user: the default user is off.
out=$(timeout 10 redis-cli -s "$SOCK" PING 2>&1)
case $out in NOAUTH*) ;; *) fail "unauthenticated PING answered: $out" ;; esac
out=$(timeout 10 redis-cli -s "$SOCK" --user gw-soyte --pass wrong --no-auth-warning PING 2>&1)
grep -q WRONGPASS <<<"$out" || fail "a wrong password was not refused: $out"
pass "the default user is off and a wrong password is refused"

# Fixtures the agent must not reach: another agent's stream, an incident.
admin XADD canh:events:gw-sotc '*' event '{"other":1}' >/dev/null
admin XADD canh:incidents '*' action opened id 1 >/dev/null
admin HSET canh:incident:1 taxonomy attack.dos agency 'Sở Tài chính' >/dev/null
admin HSET canh:agents gw-sotc '{}' >/dev/null

# --- agent user: XADD to its own two streams, nothing else ---------------
allowed gw-soyte PING
allowed gw-soyte XADD canh:events:gw-soyte MAXLEN '~' 1000 '*' event '{"own":1}'
allowed gw-soyte XADD canh:heartbeats:gw-soyte MAXLEN '~' 1000 '*' event '{"hb":1}'
[ "$(admin XLEN canh:events:gw-soyte)" = 1 ] || fail "the agent's XADD did not land"
# canh-agent@eth1 on that gateway is agent gw-soyte-eth1
allowed gw-soyte XADD canh:events:gw-soyte-eth1 MAXLEN '~' 1000 '*' event '{"own":1}'
allowed gw-soyte XADD canh:heartbeats:gw-soyte-eth1 MAXLEN '~' 1000 '*' event '{"hb":1}'
pass "an agent adds to its own events and heartbeats streams (and its instances' gw-soyte-IFACE)"

denied gw-soyte XADD canh:events:gw-sotc '*' event '{"forged":1}'
denied gw-soyte XADD canh:heartbeats:gw-sotc '*' event '{"forged":1}'
denied gw-soyte XADD canh:incidents '*' action opened
denied gw-soyte XADD canh:deadletter '*' x y
pass "an agent cannot add to another agent's streams or the incident streams"

for key in canh:events:gw-soyte canh:events:gw-sotc canh:incidents; do
    denied gw-soyte XRANGE "$key" - +
    denied gw-soyte XREVRANGE "$key" + - COUNT 1
    denied gw-soyte XREAD COUNT 1 STREAMS "$key" 0
    denied gw-soyte XLEN "$key"
done
denied gw-soyte XREADGROUP GROUP g c STREAMS canh:events:gw-sotc '>'
denied gw-soyte HGETALL canh:incident:1
denied gw-soyte HGET canh:agents gw-sotc
denied gw-soyte SCAN 0
denied gw-soyte KEYS '*'
denied gw-soyte TYPE canh:incidents
pass "an agent cannot read any stream, incident, agent list or key name"

for key in canh:events:gw-soyte canh:events:gw-sotc canh:heartbeats:gw-soyte canh:incidents; do
    denied gw-soyte DEL "$key"
    denied gw-soyte UNLINK "$key"
    denied gw-soyte XTRIM "$key" MAXLEN 0
    denied gw-soyte XDEL "$key" 0-1
    denied gw-soyte RENAME "$key" canh:x
    denied gw-soyte EXPIRE "$key" 1
    denied gw-soyte XSETID "$key" 9999999999999-0
    denied gw-soyte XGROUP DESTROY "$key" canh-collectors
done
denied gw-soyte SET canh:events:gw-soyte x
denied gw-soyte FLUSHALL
denied gw-soyte FLUSHDB
denied gw-soyte CONFIG SET appendonly no
denied gw-soyte ACL LIST
denied gw-soyte EVAL "return redis.call('DEL', 'canh:incidents')" 0
denied gw-soyte MULTI
denied gw-soyte PUBLISH canh x
denied gw-soyte SHUTDOWN
if [ "$(admin XLEN canh:events:gw-sotc)" != 1 ] || [ "$(admin XLEN canh:incidents)" != 1 ]; then
    fail "a refused command changed data"
fi
pass "an agent cannot delete, trim, expire, rename or flush anything, nor script, nor configure"

# The limit of Redis ACLs (architecture §8): XADD ... MAXLEN trims the stream it
# adds to, so an agent can empty its OWN stream; per-agent streams confine
# that to its own events, never another agency's or the incidents.
allowed gw-soyte XADD canh:events:gw-soyte MAXLEN 0 '*' event '{"trim":1}'
[ "$(admin XLEN canh:events:gw-soyte)" = 0 ] || fail "expected XADD MAXLEN 0 to empty the agent's own stream"
denied gw-soyte XADD canh:events:gw-sotc MAXLEN 0 '*' event '{"trim":1}'
[ "$(admin XLEN canh:events:gw-sotc)" = 1 ] || fail "another agent's stream was trimmed"
pass "XADD MAXLEN can trim only the agent's own stream (the documented ACL limit)"

# --- tail user: reads, never writes ---------------------------------------
allowed canh-tail XRANGE canh:incidents - +
allowed canh-tail XREAD COUNT 1 STREAMS canh:incidents canh:events:gw-sotc 0 0
allowed canh-tail XREVRANGE canh:events:gw-sotc + - COUNT 1
allowed canh-tail HGETALL canh:incident:1
allowed canh-tail HGETALL canh:agents
allowed canh-tail SCAN 0 MATCH 'canh:events:*' TYPE stream
[ "$(as canh-tail HGET canh:incident:1 taxonomy)" = attack.dos ] || fail "tail cannot read an incident"
pass "the tail user reads incidents, events and agents"

denied canh-tail XADD canh:incidents '*' action opened
denied canh-tail XADD canh:events:gw-sotc '*' event x
denied canh-tail HSET canh:incident:1 taxonomy attack.other
denied canh-tail DEL canh:incidents
denied canh-tail XTRIM canh:events:gw-sotc MAXLEN 0
denied canh-tail XGROUP CREATE canh:events:gw-sotc canh-collectors 0
denied canh-tail XREADGROUP GROUP canh-collectors tail STREAMS canh:events:gw-sotc '>'
denied canh-tail XACK canh:events:gw-sotc canh-collectors 0-1
denied canh-tail FLUSHALL
denied canh-tail EVAL "return 1" 0
denied canh-tail XRANGE canh:escalations - +
pass "the tail user cannot write, consume, ack, flush or script"

# --- collector user: its job, but no forging or deleting agent events ----
allowed canh-collector XGROUP CREATE canh:events:gw-sotc canh-collectors 0 MKSTREAM
allowed canh-collector XREADGROUP GROUP canh-collectors c1 COUNT 10 STREAMS canh:events:gw-sotc '>'
id=$(admin XRANGE canh:events:gw-sotc - + | head -1)
allowed canh-collector XREAD COUNT 1 BLOCK 1 STREAMS canh:events:gw-sotc canh:heartbeats:gw-sotc 0-0 0-0
allowed canh-collector XAUTOCLAIM canh:events:gw-sotc canh-collectors c2 0 0-0 COUNT 10
allowed canh-collector XPENDING canh:events:gw-sotc canh-collectors
allowed canh-collector XACK canh:events:gw-sotc canh-collectors "$id"
allowed canh-collector SCAN 0 MATCH 'canh:*' COUNT 1000 TYPE stream
allowed canh-collector EVAL "redis.call('HSET', 'canh:incident:2', 'a', 'b'); redis.call('XADD', 'canh:incidents', 'MAXLEN', '~', 100, '*', 'id', '2'); redis.call('ZADD', 'canh:open', 1, '2'); redis.call('SET', 'canh:seen:x', '1', 'EX', 60); return redis.call('HGETALL', 'canh:incident:2')" 0
[ "$(admin HGET canh:incident:2 a)" = b ] || fail "the collector's script did not write"
pass "the collector consumes, claims, acks and writes incidents (also from scripts)"

denied canh-collector XADD canh:events:gw-sotc '*' event '{"forged":1}'
denied canh-collector DEL canh:events:gw-sotc
denied canh-collector XTRIM canh:events:gw-sotc MAXLEN 0
denied canh-collector XGROUP DESTROY canh:events:gw-sotc canh-collectors
denied canh-collector FLUSHALL
denied canh-collector CONFIG SET appendonly no
denied canh-collector ACL SETUSER gw-soyte '+@all'
denied canh-collector GET canh:other
out=$(as canh-collector EVAL "return redis.call('DEL', 'canh:events:gw-sotc')" 0)
grep -q "can't access" <<<"$out" || fail "a collector script deleted an agent stream: $out"
[ "$(admin XLEN canh:events:gw-sotc)" = 1 ] || fail "the agent stream changed"
pass "the collector cannot forge, delete or trim agent streams, even from a script"

# --- the real programs with these users -----------------------------------
admin DEL canh:events:gw-sotc canh:incidents canh:incident:1 canh:incident:2 canh:agents canh:open >/dev/null
admin EVAL "for _, k in ipairs(redis.call('KEYS', 'canh:*')) do redis.call('DEL', k) end" 0 >/dev/null
for u in gw-soyte canh-collector canh-tail; do
    test_password $u >"$TMP/$u.pw"
    chmod 600 "$TMP/$u.pw"
done
cat >"$TMP/agent.conf" <<CONF
[agent]
name = gw-soyte
agency = Sở Y tế
state_dir = $TMP/state
[output]
redis_url = unix:$SOCK
user = gw-soyte
password_file = $TMP/gw-soyte.pw
CONF
timeout 60 "$CANH_BIN/canh-agent" -c "$TMP/agent.conf" -r "$FIXTURES/scan_syn.pcap" \
    --output redis --output "jsonl:$TMP/events.jsonl" >"$TMP/agent.log" 2>&1 ||
    { cat "$TMP/agent.log"; fail "canh-agent exited $?"; }
lines=$(wc -l <"$TMP/events.jsonl")
[ "$lines" -ge 1 ] || fail "the fixture gave no events"
[ "$(admin XLEN canh:events:gw-soyte)" = "$lines" ] ||
    { cat "$TMP/agent.log"; fail "$(admin XLEN canh:events:gw-soyte) of $lines events in canh:events:gw-soyte"; }
! grep -q NOPERM "$TMP/agent.log" || { cat "$TMP/agent.log"; fail "the agent was refused something"; }
pass "canh-agent as gw-soyte delivers all $lines events of scan_syn.pcap"

# Misconfigured: gw-sotc's name with gw-soyte's credentials is refused
# clearly and the events stay in the spool.
sed -e 's/^name = gw-soyte/name = gw-sotc/' -e "s|state_dir = .*|state_dir = $TMP/state2|" \
    "$TMP/agent.conf" >"$TMP/agent2.conf"
timeout 60 "$CANH_BIN/canh-agent" -c "$TMP/agent2.conf" -r "$FIXTURES/scan_syn.pcap" \
    --output redis >"$TMP/agent2.log" 2>&1 || true
grep -q "NOPERM" "$TMP/agent2.log" || { cat "$TMP/agent2.log"; fail "no NOPERM error for the wrong stream"; }
[ "$(admin EXISTS canh:events:gw-sotc)" = 0 ] || fail "the misconfigured agent wrote another agent's stream"
pass "an agent writing another agent's stream is refused with NOPERM"

cat >"$TMP/collector.conf" <<CONF
[collector]
redis_url = unix:$SOCK
user = canh-collector
password_file = $TMP/canh-collector.pw
block = 200ms
claim_idle = 2s
claim_interval = 1s
discover_interval = 500ms
[incidents]
sweep_interval = 500ms
[status]
listen = 127.0.0.1:0
operators_file = $TMP/operators
token_file = $TMP/status.token
refresh = 500ms
CONF
echo "an op-an-0123456789abcdef" >"$TMP/operators"
echo "tok-acl-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$TMP/status.token"
chmod 600 "$TMP/status.token"
"$CANH_BIN/canh-collector" --check -c "$TMP/collector.conf" >"$TMP/ccheck.log" 2>&1 ||
    { cat "$TMP/ccheck.log"; fail "collector config rejected"; }
# a heartbeat as the agent writes it (the replay above sends none)
allowed gw-soyte XADD canh:heartbeats:gw-soyte MAXLEN '~' 1000 '*' event \
    "{\"timestamp\":\"$(date +%Y-%m-%dT%H:%M:%S.%6N%z)\",\"event_type\":\"stats\",\"canh\":{\"v\":1,\"agent\":\"gw-soyte\",\"agency\":\"Sở Y tế\",\"counters\":{\"packets\":1000,\"bytes\":64000,\"pcap_drops\":0,\"events\":2}}}"
bg collector "$CANH_BIN/canh-collector" -c "$TMP/collector.conf"
COLLECTOR_PID=$LAST_PID
wait_until 30 "the collector to turn gw-soyte's events into incidents" bash -c \
    "[ \"\$(redis-cli -s '$SOCK' --user canh-admin --pass '$(test_password canh-admin)' --no-auth-warning XLEN canh:incidents)\" -ge 1 ]"
wait_until 30 "the collector to acknowledge every event" bash -c \
    "[ \"\$(redis-cli -s '$SOCK' --user canh-admin --pass '$(test_password canh-admin)' --no-auth-warning XPENDING canh:events:gw-soyte canh-collectors | head -1)\" = 0 ]"
wait_until 30 "the collector to record gw-soyte's heartbeat" bash -c \
    "[ \"\$(redis-cli -s '$SOCK' --user canh-admin --pass '$(test_password canh-admin)' --no-auth-warning HEXISTS canh:agents gw-soyte)\" = 1 ]"
kill -0 "$COLLECTOR_PID" 2>/dev/null || { cat "$TMP/collector.log"; fail "the collector died"; }
! grep -qi -e NOPERM -e "can't access" "$TMP/collector.log" ||
    { cat "$TMP/collector.log"; fail "the collector was refused something"; }
pass "canh-collector as canh-collector opens incidents, acknowledges every event, records heartbeats"

# The status page's actions run canh-ctl's scripts on the collector's link:
# its ACL user must allow every command and key they touch.
port=$(grep -o 'status page on http://127.0.0.1:[0-9]*' "$TMP/collector.log" | head -1 | sed 's/.*://')
[ -n "$port" ] || { cat "$TMP/collector.log"; fail "the status page did not start"; }
page_act() {
    curl -s -o "$TMP/act.json" -w '%{http_code}' --max-time 10 -H "Authorization: Bearer op-an-0123456789abcdef" \
        -X POST --data "$1" "http://127.0.0.1:$port/api/action"
}
ids=$(admin ZRANGE canh:open 0 -1)
first=$(head -1 <<<"$ids")
for form in "action=ack&id=$first" "action=note&id=$first&note=checking" "action=confirm&id=$first&class=serious" \
    "action=resolve&id=$first" "action=reopen&id=$first" "action=reject&id=$first&note=pentest"; do
    code=$(page_act "$form")
    [ "$code" = 200 ] || fail "the page's $form as canh-collector: $code $(cat "$TMP/act.json")"
done
[ "$(admin HGET "canh:incident:$first" state)" = rejected ] || fail "the page's actions did not land"
[ "$(admin HLEN canh:suppressions)" -ge 1 ] || fail "the rejection wrote no suppression"
[ "$(admin XLEN "canh:log:$first")" -ge 7 ] || fail "the page's actions are not in the incident's log"
! grep -qi -e NOPERM -e "can't access" -e "can't run" "$TMP/collector.log" ||
    { cat "$TMP/collector.log"; fail "the collector was refused an action's command"; }
code=$(curl -s -o "$TMP/detail.json" -w '%{http_code}' --max-time 10 -H "Authorization: Bearer op-an-0123456789abcdef" \
    "http://127.0.0.1:$port/api/incident?id=$first")
[ "$code" = 200 ] && python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert [e["fields"]["action"] for e in d["actions"]["entries"]][-1] == "rejected", d' "$TMP/detail.json" ||
    fail "the page's detail view as canh-collector: $code $(cat "$TMP/detail.json")"
pass "the status page's actions (ack, note, confirm, resolve, reopen, reject) and detail view run as canh-collector"
# The status page and its API under the same user (issue 19 item 6: its
# snapshot script once used a command the ACL did not grant).
wait_until 30 "the status page address in the log" grep -q 'status page on http://127.0.0.1:' "$TMP/collector.log"
BASE=$(grep -o 'status page on http://127.0.0.1:[0-9]*' "$TMP/collector.log" | head -1 | sed 's/status page on //')
TOKEN=$(cat "$TMP/status.token")
api() { curl -sf --max-time 5 -H "Authorization: Bearer $TOKEN" "$BASE$1"; }
has_incident() { api /api/incidents | jq -e '[.. | objects | select(has("agency"))] | length > 0'; }
wait_until 30 "an incident on /api/incidents" has_incident
id=$(api /api/incidents | jq -r '[.. | objects | select(has("agency") and has("id"))][0].id')
[ -n "$id" ] && [ "$id" != null ] || fail "no incident id in /api/incidents: $(api /api/incidents | head -c 300)"
code=$(curl -s -o "$TMP/detail.json" -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $TOKEN" "$BASE/api/incident?id=$id")
[ "$code" = 200 ] || fail "/api/incident?id=$id answered $code: $(head -c 400 "$TMP/detail.json")"
grep -q 'unreadable\|NOPERM' "$TMP/detail.json" && fail "the incident detail could not read its log: $(head -c 300 "$TMP/detail.json")"
api /api/agents | jq -e 'tostring | test("gw-soyte")' >/dev/null || fail "/api/agents lacks gw-soyte"
api /api/collector | jq -e '.' >/dev/null || fail "/api/collector failed"
# Read whole, then searched: grep -q on the pipe would stop reading at the
# first match and curl, still writing, fail the pipeline (pipefail).
grep -q '<html' <<<"$(api /)" || fail "the page did not load"
grep -q '^canh_' <<<"$(api /metrics)" || fail "/metrics has no canh_ figures"
! grep -qi -e NOPERM -e "can't access" -e "snapshot.*error\|error.*snapshot" "$TMP/collector.log" ||
    { cat "$TMP/collector.log"; fail "the status page was refused something under the shipped ACL"; }
pass "the status page, /api/incidents, /api/incident, /api/agents, /api/collector and /metrics work under canh-collector's ACL"

# canh-ctl's actions under its user.
printf '%s' "$(test_password canh-ctl)" >"$TMP/canh-ctl.pw"
ctl() { "$CANH_BIN/canh-ctl" -r "unix:$SOCK" --user canh-ctl --password-file "$TMP/canh-ctl.pw" -o tester "$@"; }
own=$(ctl open --agency "Sở Y tế" --taxonomy attack.malware --summary "acl check" | grep -o "[0-9]\{8\}-[0-9]\{6\}-[0-9a-f]*")
[ -n "$own" ] || fail "canh-ctl open under its ACL user gave no id"
ctl ack "$own" >"$TMP/ctl.log" 2>&1 || { cat "$TMP/ctl.log"; fail "canh-ctl ack under its ACL user"; }
ctl note "$own" "checked under the ACL" >>"$TMP/ctl.log" 2>&1 || { cat "$TMP/ctl.log"; fail "canh-ctl note"; }
ctl show "$id" >>"$TMP/ctl.log" 2>&1 || { cat "$TMP/ctl.log"; fail "canh-ctl show"; }
ctl suppressions >>"$TMP/ctl.log" 2>&1 || { cat "$TMP/ctl.log"; fail "canh-ctl suppressions"; }
pass "canh-ctl open, ack, note, show and suppressions work as canh-ctl"

out=$(timeout 60 "$CANH_BIN/canh-tail" -r "unix:$SOCK" --user canh-tail --password-file "$TMP/canh-tail.pw" \
    --since all -n 1 --json 2>&1) || fail "canh-tail as canh-tail failed: $out"
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["incident"]["agency"] == "Sở Y tế", d' "$out" ||
    fail "canh-tail printed: $out"
pass "canh-tail as canh-tail follows the incidents"

stop_pid "$COLLECTOR_PID"
grep -q "stopped: .* 0 errors" "$TMP/collector.log" || { cat "$TMP/collector.log"; fail "the collector met errors"; }
pass "the collector stops with 0 errors after a run under its ACL user"
redis_stop redis
echo "$PASSED passed, 0 failed"
