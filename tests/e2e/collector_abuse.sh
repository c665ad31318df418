#!/usr/bin/env bash
# collector_abuse.sh — an attacker holding one agent's password (gw-soyte,
# against the shipped ACL file systemd/redis-users.acl.example) tries what
# issue 19 found, and the collector holds (docs/reliability.md):
#   1. another agent's canh.id cannot suppress that agent's genuine event;
#      another agency's name is refused ([agents] binds gw-soyte to Sở Y tế);
#   2. events dated 9999-12-31 or 1970 are dead-lettered, a 1970 first_seen
#      does not stretch the incident;
#   4. oversized entries and heartbeats are dead-lettered unparsed (first
#      KiB kept); canh:agents keeps only the known heartbeat fields;
#   7. a collector restart after an outage longer than silent_after, and a
#      collector that fell behind, open no fault.link for an agent whose
#      heartbeats are waiting in its stream — and still do for a silent one;
#  10. dead consumers (every restart leaves one) are deleted once nothing is
#      pending for them.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/redis_secure.sh"

SOCK=$TMP/redis.sock
acl_instantiate "$CANH_SRC/systemd/redis-users.acl.example" "$TMP/users.acl"
redis_start redis -s "$SOCK" -u canh-admin "$(test_password canh-admin)" -- --aclfile "$TMP/users.acl"
as() {
    local user=$1
    shift
    timeout 10 redis-cli -s "$SOCK" --user "$user" --pass "$(test_password "$user")" \
        --no-auth-warning "$@" 2>&1
}
admin() { as canh-admin "$@"; }
test_password canh-collector >"$TMP/collector.pw"
chmod 600 "$TMP/collector.pw"

now_iso() { date -u +%Y-%m-%dT%H:%M:%S.%6NZ; }
# event AGENT ID AGENCY SRC [TIMESTAMP [FIRST_SEEN]]: a portscan "new" event
event() {
    local ts=${5:-$(now_iso)}
    local first=${6:-$ts}
    printf '{"timestamp":"%s","event_type":"alert","src_ip":"%s","dest_ip":"198.51.100.10","dest_port":80,"proto":"TCP",' "$ts" "$4"
    printf '"canh":{"v":1,"id":"%s","finding_id":"%s","agent":"%s","agency":"%s","kind":"portscan","state":"new",' "$2" "${2%:*}:f1" "$1" "$3"
    printf '"taxonomy":{"code":"attack.other"},"severity":"medium","class":"normal","asset":{"name":"portal","owner":"%s","level":3},' "$3"
    printf '"first_seen":"%s","last_seen":"%s","counters":{"packets":10}}}\n' "$first" "$ts"
}
# heartbeat AGENT AGENCY [EXTRA JSON MEMBERS]
heartbeat() {
    printf '{"timestamp":"%s","event_type":"stats","canh":{"v":1,"agent":"%s","agency":"%s","version":"0.test","packets":1000%s}}' \
        "$(now_iso)" "$1" "$2" "${3:-}"
}
# xadd_as USER STREAM JSON: what the agent's password lets it do
xadd_as() { as "$1" XADD "$2" MAXLEN '~' 10000 '*' event "$3" >/dev/null; }
deadletter_reasons() { admin XRANGE canh:deadletter - + | grep -A1 '^reason$' | grep -v -e '^reason$' -e '^--$' || true; }
incident_field() { admin HGET "canh:incident:$1" "$2"; }
incident_of_event() { # ID: the incident whose event_ids hold ID
    local key
    for key in $(admin --scan --pattern 'canh:incident:*'); do
        case ",$(admin HGET "$key" event_ids)," in *",$1,"*) echo "${key#canh:incident:}" ;; esac
    done
}

# Long enough that a loaded machine does not hold the heartbeat loop below
# (one beat every 0.5 s) for that long; at 3 s it did on CI-like load.
SILENT_AFTER_S=10
cat >"$TMP/collector.conf" <<CONF
[collector]
redis_url = unix:$SOCK
user = canh-collector
password_file = $TMP/collector.pw
consumer = soc-1
block = 200ms
claim_idle = 2s
claim_interval = 500ms
discover_interval = 300ms
max_clock_ahead = 5m
max_event_age = 1d
[agents]
gw-soyte = Sở Y tế
gw-sotc = Sở Tài chính
[incidents]
sweep_interval = 500ms
[correlation]
silent_after = ${SILENT_AFTER_S}s
CONF
"$CANH_BIN/canh-collector" --check -c "$TMP/collector.conf" >"$TMP/check.log" 2>&1 ||
    fail "collector.conf refused: $(cat "$TMP/check.log")"

# --- 1. another agent's canh.id, another agency ---------------------------
# The attacker writes first, into its own stream (all the ACL lets it do),
# an event carrying gw-sotc's next id; then gw-sotc's genuine event comes.
xadd_as gw-soyte canh:events:gw-soyte "$(event gw-soyte gw-sotc:0123456789abcdef:000001 'Sở Y tế' 203.0.113.50)"
xadd_as gw-soyte canh:events:gw-soyte "$(event gw-soyte gw-soyte:0123456789abcdef:000002 'Sở Tài chính' 203.0.113.51)"
xadd_as gw-soyte canh:events:gw-soyte "$(event gw-soyte gw-soyte:0123456789abcdef:000003 'Sở Y tế' 203.0.113.52)"
bg collector "$CANH_BIN/canh-collector" -c "$TMP/collector.conf"
COLLECTOR=$LAST_PID
wait_until 30 "the attacker's three events handled" bash -c \
    "[ \"\$(redis-cli -s '$SOCK' --user canh-admin --pass '$(test_password canh-admin)' --no-auth-warning XPENDING canh:events:gw-soyte canh-collectors | head -1)\" = 0 ] && [ \"\$(redis-cli -s '$SOCK' --user canh-admin --pass '$(test_password canh-admin)' --no-auth-warning XLEN canh:deadletter)\" -ge 2 ]"
xadd_as gw-sotc canh:events:gw-sotc "$(event gw-sotc gw-sotc:0123456789abcdef:000001 'Sở Tài chính' 203.0.113.60)"
wait_until 30 "gw-sotc's genuine event applied" bash -c "[ -n \"\$(redis-cli -s '$SOCK' --user canh-admin --pass '$(test_password canh-admin)' --no-auth-warning --scan --pattern 'canh:seen:gw-sotc:*')\" ]"
reasons=$(deadletter_reasons)
grep -q 'canh.id "gw-sotc:0123456789abcdef:000001" is not one of agent gw-soyte' <<<"$reasons" ||
    fail "the forged id was not dead-lettered with its reason: $reasons"
grep -q 'canh.agency "Sở Tài chính" is not agent gw-soyte.s agency "Sở Y tế"' <<<"$reasons" ||
    fail "the forged agency was not dead-lettered with its reason: $reasons"
inc=$(incident_of_event gw-sotc:0123456789abcdef:000001)
[ -n "$inc" ] || fail "gw-sotc's genuine event was suppressed (no incident holds it)"
[ "$(incident_field "$inc" agency)" = "Sở Tài chính" ] || fail "gw-sotc's incident has agency $(incident_field "$inc" agency)"
[ -z "$(incident_of_event gw-soyte:0123456789abcdef:000002)" ] || fail "the event naming another agency opened an incident"
[ -n "$(incident_of_event gw-soyte:0123456789abcdef:000003)" ] || fail "the attacker's own honest event was not applied"
pass "a forged canh.id is dead-lettered and the genuine event it named is applied; another agency's name is refused"

# An event with no agency gets its agent's bound one; an agent [agents]
# does not name is refused.
xadd_as gw-soyte canh:events:gw-soyte "$(event gw-soyte gw-soyte:0123456789abcdef:000004 '' 203.0.113.53)"
wait_until 30 "the agency-less event applied" bash -c "[ -n \"\$(redis-cli -s '$SOCK' --user canh-admin --pass '$(test_password canh-admin)' --no-auth-warning EXISTS canh:seen:gw-soyte:0123456789abcdef:000004 | grep 1)\" ]"
[ "$(incident_field "$(incident_of_event gw-soyte:0123456789abcdef:000004)" agency)" = "Sở Y tế" ] ||
    fail "an event without agency did not get the bound one"
admin XADD canh:events:gw-nobody '*' event "$(event gw-nobody gw-nobody:0123456789abcdef:000001 'Sở Nội vụ' 203.0.113.70)" >/dev/null
wait_until 30 "the unbound agent's event dead-lettered" bash -c "redis-cli -s '$SOCK' --user canh-admin --pass '$(test_password canh-admin)' --no-auth-warning XRANGE canh:deadletter - + | grep -q 'agent \"gw-nobody\" is not bound'"
pass "an event without agency gets the bound one; an unbound agent's event is dead-lettered"

# --- 2. timestamps ---------------------------------------------------------
# misdated = clamp (the default): a time beyond the tolerance of the stream
# entry's own time counts as the entry's time, with a warning; nothing is
# stretched.  (misdated = deadletter refuses them: test_collector.)
xadd_as gw-soyte canh:events:gw-soyte "$(event gw-soyte gw-soyte:0123456789abcdef:000010 'Sở Y tế' 203.0.113.80 9999-12-31T23:59:59.000000Z)"
xadd_as gw-soyte canh:events:gw-soyte "$(event gw-soyte gw-soyte:0123456789abcdef:000011 'Sở Y tế' 203.0.113.80 1970-01-01T00:00:01.000000Z)"
xadd_as gw-soyte canh:events:gw-soyte "$(event gw-soyte gw-soyte:0123456789abcdef:000012 'Sở Y tế' 203.0.113.81 "$(now_iso)" 1970-01-01T00:00:01.000000Z)"
applied() { [ "$(admin EXISTS "canh:seen:$1")" = 1 ]; }
for seq in 10 11 12; do
    wait_until 30 "misdated event $seq applied" applied gw-soyte:0123456789abcdef:0000$seq
done
year=$(date -u +%Y)
for seq in 10 11 12; do
    inc=$(incident_of_event gw-soyte:0123456789abcdef:0000$seq)
    for f in first_seen last_seen; do
        v=$(incident_field "$inc" $f)
        case $v in "$year"*) ;; *) fail "event $seq made the incident's $f $v" ;; esac
    done
done
grep -q 'timestamp 9999-12-31.* is more than max_clock_ahead after the stream entry .*; counted at the entry.s time' "$TMP/collector.log" ||
    fail "no warning for the clamped 9999 timestamp"
pass "events dated 9999-12-31 or 1970 count at their entry's time, with a warning; nothing is stretched"

# --- 4. sizes and heartbeat fields ------------------------------------------
n_dl=$(admin XLEN canh:deadletter)
# 400 KB does not fit one command-line argument: redis-cli -x reads it
{ printf '{"pad":"'; head -c 400000 /dev/zero | tr '\0' 'A'; printf '"}'; } >"$TMP/big.json"
as gw-soyte -x XADD canh:events:gw-soyte MAXLEN '~' 10000 '*' event <"$TMP/big.json" >/dev/null
xadd_as gw-soyte canh:heartbeats:gw-soyte "$(heartbeat gw-soyte 'Sở Y tế' ",\"junk\":\"$(head -c 40000 /dev/zero | tr '\0' 'A')\"")"
wait_until 30 "the oversized entry and heartbeat dead-lettered" bash -c "[ \$(redis-cli -s '$SOCK' --user canh-admin --pass '$(test_password canh-admin)' --no-auth-warning XLEN canh:deadletter) -ge $((n_dl + 2)) ]"
reasons=$(deadletter_reasons)
grep -q 'entry of 40001[0-9] bytes is above max_entry_size' <<<"$reasons" || fail "no max_entry_size reason: $reasons"
grep -q 'heartbeat of 4[0-9]* bytes is above max_heartbeat_size' <<<"$reasons" || fail "no max_heartbeat_size reason: $reasons"
raw_max=$(admin XRANGE canh:deadletter - + | awk 'prev == "raw" { if (length($0) > m) m = length($0) } { prev = $0 } END { print m + 0 }')
[ "$raw_max" -le 1024 ] || fail "a dead letter carries $raw_max bytes of an oversized entry"
# a heartbeat with unknown fields, and one naming another agency
xadd_as gw-soyte canh:heartbeats:gw-soyte "$(heartbeat gw-soyte 'Sở Y tế' ',"junk":{"a":[1,2,3]},"spool":{"records":5,"x":"y"}')"
wait_until 30 "gw-soyte's heartbeat recorded" bash -c "redis-cli -s '$SOCK' --user canh-admin --pass '$(test_password canh-admin)' --no-auth-warning HGET canh:agents gw-soyte | grep -q version"
hb=$(admin HGET canh:agents gw-soyte)
python3 -c '
import json, sys
hb = json.loads(sys.argv[1])["canh"]
assert "junk" not in hb, hb
assert hb["spool"] == {"records": 5}, hb
assert hb["agency"] == "Sở Y tế" and hb["packets"] == 1000 and hb["version"] == "0.test", hb
' "$hb" || fail "canh:agents keeps more than the known fields: $hb"
n_dl=$(admin XLEN canh:deadletter)
xadd_as gw-soyte canh:heartbeats:gw-soyte "$(heartbeat gw-soyte 'Sở Tài chính')"
wait_until 30 "the heartbeat naming another agency dead-lettered" bash -c "[ \$(redis-cli -s '$SOCK' --user canh-admin --pass '$(test_password canh-admin)' --no-auth-warning XLEN canh:deadletter) -gt $n_dl ]"
[ "$(admin HGET canh:agents gw-soyte)" = "$hb" ] || fail "a heartbeat naming another agency changed canh:agents"
pass "oversized entries and heartbeats are dead-lettered with their first KiB; canh:agents keeps known fields only"

# --- 10. dead consumers ------------------------------------------------------
admin XGROUP CREATECONSUMER canh:events:gw-soyte canh-collectors ghost-idle >/dev/null
xadd_as gw-soyte canh:events:gw-soyte "$(event gw-soyte gw-soyte:0123456789abcdef:000020 'Sở Y tế' 203.0.113.90)"
# a collector that read an entry and died before applying it (the group
# is read by soc-1 as well, so take the entry before it does: pause it)
kill -STOP "$COLLECTOR"
# its blocked read ends in Redis after `block` (200 ms); then it reads nothing
soc1_idle_over() { # MS
    local idle
    idle=$(admin XINFO CONSUMERS canh:events:gw-soyte canh-collectors |
        awk 'prev == "name" { me = ($0 == "soc-1") } prev == "idle" && me { print } { prev = $0 }')
    [ "${idle:-0}" -gt "$1" ]
}
wait_until 30 "the stopped collector's read to end" soc1_idle_over 1000
xadd_as gw-soyte canh:events:gw-soyte "$(event gw-soyte gw-soyte:0123456789abcdef:000021 'Sở Y tế' 203.0.113.91)"
admin XREADGROUP GROUP canh-collectors ghost-pending COUNT 10 STREAMS canh:events:gw-soyte '>' >/dev/null
kill -CONT "$COLLECTOR"
consumers() { admin XINFO CONSUMERS canh:events:gw-soyte canh-collectors | grep -A1 '^name$' | grep -v -e '^name$' -e '^--$'; }
consumers | grep -q ghost-pending || fail "test setup: ghost-pending holds nothing"
wait_until 60 "the dead consumers deleted" bash -c "! redis-cli -s '$SOCK' --user canh-admin --pass '$(test_password canh-admin)' --no-auth-warning XINFO CONSUMERS canh:events:gw-soyte canh-collectors | grep -q ghost"
[ "$(admin EXISTS canh:seen:gw-soyte:0123456789abcdef:000021)" = 1 ] || fail "ghost-pending's entry was not claimed and applied before the consumer went"
consumers | grep -qx soc-1 || fail "the live collector's consumer was deleted"
pass "dead consumers are deleted after their entries were claimed; the live one stays"

# --- 7. silence after an outage and while behind ---------------------------
# gw-soyte heartbeats all along (the agent is fine); gw-sotc stopped long ago.
xadd_as gw-sotc canh:heartbeats:gw-sotc "$(heartbeat gw-sotc 'Sở Tài chính')"
xadd_as gw-soyte canh:heartbeats:gw-soyte "$(heartbeat gw-soyte 'Sở Y tế')"
wait_until 30 "both heartbeats applied" bash -c "[ \$(redis-cli -s '$SOCK' --user canh-admin --pass '$(test_password canh-admin)' --no-auth-warning ZCARD canh:agent_seen) = 2 ]"
stop_pid "$COLLECTOR"
seen_ms() { admin ZSCORE canh:agent_seen "$1"; }
# silent_over AGENT: its last applied heartbeat is older than silent_after
silent_over() { [ $(($(date +%s%3N) - $(seen_ms "$1"))) -gt $((SILENT_AFTER_S * 1000 + 1000)) ]; }
# The longest gap (ms, Redis's clock) between two of gw-soyte's heartbeats
# in its stream: above silent_after, the agent really was silent that long
# (the beat loop starved), and a fault.link for it would be right.
beat_gap_ms() {
    admin XRANGE canh:heartbeats:gw-soyte "$BEATS_FROM" + | awk -F- '/^[0-9]+-[0-9]+$/ {
        if (prev && $1 - prev > gap) gap = $1 - prev; prev = $1 } END { print gap + 0 }'
}
link_for() { # AGENT: ids of fault.link incidents of that agent opened from now on
    local key
    for key in $(admin --scan --pattern 'canh:incident:*'); do
        case " $LINKS_BEFORE " in *" ${key#canh:incident:} "*) continue ;; esac
        [ "$(admin HGET "$key" taxonomy)" = fault.link ] && [ "$(admin HGET "$key" agents)" = "$1" ] && echo "${key#canh:incident:}"
    done
    true
}
# gw-soyte sent nothing during the checks above and may have been silent
# for a while then: only links opened from here on count.
LINKS_BEFORE=
LINKS_BEFORE=$(link_for gw-soyte; link_for gw-sotc)
# gw-soyte's agent keeps beating every half second, as a live agent does
# (bounded: 240 beats).
beat() {
    for _ in $(seq 240); do
        xadd_as gw-soyte canh:heartbeats:gw-soyte "$(heartbeat gw-soyte 'Sở Y tế')"
        sleep 0.5
    done
}
BEATS_FROM=$(date +%s%3N)
bg beats beat
BEATS=$LAST_PID
# The outage: the collector is down longer than silent_after.
wait_until 60 "an outage longer than silent_after" silent_over gw-soyte
bg collector2 "$CANH_BIN/canh-collector" -c "$TMP/collector.conf"
COLLECTOR=$LAST_PID
has_link() { [ -n "$(link_for "$1")" ]; }
wait_until 60 "fault.link for gw-sotc, which really stopped" has_link gw-sotc
wait_until 30 "gw-soyte's backlog applied" bash -c "[ \$(( \$(date +%s%3N) - \$(redis-cli -s '$SOCK' --user canh-admin --pass '$(test_password canh-admin)' --no-auth-warning ZSCORE canh:agent_seen gw-soyte) )) -lt 3000 ]"
[ -z "$(link_for gw-soyte)" ] || fail "the restart opened fault.link for gw-soyte, whose heartbeats were waiting in its stream (longest gap between its heartbeats: $(beat_gap_ms) ms)"
pass "a restart after an outage longer than silent_after opens fault.link only for the agent that really stopped"

# Behind: the collector is stalled (SIGSTOP stands for a long backlog)
# longer than silent_after while gw-soyte keeps sending.
kill -STOP "$COLLECTOR"
wait_until 60 "the stalled collector to fall behind by more than silent_after" silent_over gw-soyte
kill -CONT "$COLLECTOR"
wait_until 30 "the collector catching up with gw-soyte's heartbeats" bash -c "[ \$(( \$(date +%s%3N) - \$(redis-cli -s '$SOCK' --user canh-admin --pass '$(test_password canh-admin)' --no-auth-warning ZSCORE canh:agent_seen gw-soyte) )) -lt 3000 ]"
wait_until 30 "the latest heartbeat applied" bash -c "[ \$(( \$(date +%s%3N) - \$(redis-cli -s '$SOCK' --user canh-admin --pass '$(test_password canh-admin)' --no-auth-warning ZSCORE canh:agent_seen gw-soyte) )) -lt 1000 ]"
[ -z "$(link_for gw-soyte)" ] || fail "a collector that fell behind opened fault.link for gw-soyte (longest gap between its heartbeats: $(beat_gap_ms) ms)"
! grep -q "agent gw-soyte silent" "$TMP/collector2.log" || fail "the collector logged gw-soyte as silent"
pass "a collector that fell behind does not declare an agent silent whose heartbeats wait unread"

stop_pid "$BEATS"
stop_pid "$COLLECTOR"
grep -q "stopped: .* 0 errors" "$TMP/collector2.log" || fail "the collector met errors"
! grep -qi -e NOPERM -e "can't access" "$TMP/collector.log" "$TMP/collector2.log" ||
    fail "the collector was refused something by the shipped ACL"
echo "$PASSED passed, 0 failed"
