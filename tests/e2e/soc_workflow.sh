#!/usr/bin/env bash
# soc_workflow.sh — an operator's day on a real capture: canh-agent replays
# tests/fixtures/campaign.pcap (scan, SYN flood, defacement, webshell from
# 203.0.113.7) into a redis-server that runs the shipped ACL file
# (systemd/redis-users.acl.example); canh-collector builds the incidents;
# with canh-ctl, as its own ACL user, the operator acknowledges, confirms
# and resolves the flood, rejects the scan as a false positive, notes,
# opens an incident by hand; a second operator works the defacement from
# the status page (the same scripts, run as the collector's ACL user).
# The capture replayed again shows the scan
# suppressed (counted as a false positive) while the resolved flood opens a
# new incident.  Every transition and every severity rise is on
# canh:incidents and in canh-tail; canh-ctl's errors (unknown id, invalid
# transition, no permission) have their exit codes.
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
rc() { as canh-admin "$@"; }
for u in canh-collector canh-ctl canh-tail gw-soyte; do test_password "$u" >"$TMP/$u.pass"; done

# ctl ARGS...: canh-ctl as the operator alice with the canh-ctl ACL user;
# its output in $TMP/ctl.out, its status in CTL_STATUS.
ctl() {
    CTL_STATUS=0
    timeout 20 "$CANH_BIN/canh-ctl" -r "unix:$SOCK" --user canh-ctl \
        --password-file "$TMP/canh-ctl.pass" --operator alice "$@" >"$TMP/ctl.out" 2>&1 ||
        CTL_STATUS=$?
}
ctl_ok() { ctl "$@"; [ "$CTL_STATUS" = 0 ] || { cat "$TMP/ctl.out"; fail "canh-ctl $* exited $CTL_STATUS"; }; }

cat >"$TMP/collector.conf" <<EOF
[collector]
redis_url = unix:$SOCK
user = canh-collector
password_file = $TMP/canh-collector.pass
block = 200ms
discover_interval = 500ms

[incidents]
sweep_interval = 500ms
reject_suppress = 1h

[status]
listen = 127.0.0.1:0
operators_file = $TMP/operators
EOF
echo "binh op-binh-0123456789abcdef" >"$TMP/operators"
# Two collectors share the group, as at a SOC with a standby: every
# announcement must still be made once.
bg collector "$CANH_BIN/canh-collector" -c "$TMP/collector.conf"
bg collector2 "$CANH_BIN/canh-collector" -c "$TMP/collector.conf"

cat >"$TMP/agent.conf" <<EOF
[agent]
name = gw-soyte
agency = Sở Y tế
state_dir = $TMP/state

[output]
redis_url = unix:$SOCK
user = gw-soyte
password_file = $TMP/gw-soyte.pass
EOF
replay() {
    timeout 60 "$CANH_BIN/canh-agent" -c "$TMP/agent.conf" -r "$FIXTURES/campaign.pcap" \
        --assets "$FIXTURES/assets.conf" --output redis >>"$TMP/agent.log" 2>&1 ||
        fail "canh-agent exited $?"
}
# all_acked: the collector acknowledged every entry of the agent's stream
all_acked() {
    [ "$(rc XPENDING canh:events:gw-soyte canh-collectors | head -1)" = 0 ] &&
        [ "$(rc XINFO GROUPS canh:events:gw-soyte | grep -A1 -x 'last-delivered-id' | tail -1)" = \
            "$(rc XINFO STREAM canh:events:gw-soyte | grep -A1 -x 'last-generated-id' | tail -1)" ]
}
incident_ids() { rc --scan --pattern 'canh:incident:*' | sed 's/^canh:incident://'; }
# incident_with FIELD VALUE [FIELD VALUE]: ids whose fields have these values
incident_with() {
    local id
    for id in $(incident_ids); do
        [ "$(rc HGET "canh:incident:$id" "$1")" = "$2" ] || continue
        [ -z "${3:-}" ] || [ "$(rc HGET "canh:incident:$id" "$3")" = "$4" ] || continue
        echo "$id"
    done
    return 0
}

bg tail "$CANH_BIN/canh-tail" -r "unix:$SOCK" --user canh-tail --password-file "$TMP/canh-tail.pass" \
    --since all --no-color --wide
TAIL_LOG=$TMP/tail.log

replay
wait_until 60 "the collector to take every event" all_acked
combined_settled() {
    local c
    c=$(incident_with type combined)
    [ "$(wc -w <<<"$c")" = 1 ] && [ "$(rc HGET "canh:incident:$c" children | tr ',' '\n' | grep -c .)" = 4 ]
}
wait_until 60 "the combined incident with 4 children" combined_settled
combined=$(incident_with type combined)
dos=$(incident_with taxonomy attack.dos)
scan=$(incident_with taxonomy attack.other)
deface=$(incident_with taxonomy attack.defacement)
for v in dos scan deface; do [ "$(wc -w <<<"${!v}")" = 1 ] || fail "expected one $v incident: ${!v}"; done
[ "$(rc HGET "canh:incident:$dos" state)" = open ] || fail "a new incident's state is open"
pass "campaign replayed: combined $combined, dos $dos, scan $scan"

# --- every material change is announced ------------------------------------
rc XRANGE canh:incidents - + >"$TMP/incidents.txt"
# The combined incident rises in severity as worse attacks join: each rise
# is announced, with what changed.
grep -q 'severity [a-z]*→critical' "$TMP/incidents.txt" || {
    cat "$TMP/incidents.txt"
    fail "no announcement of a severity rise to critical"
}
n_changes=$(grep -c '^changes$' "$TMP/incidents.txt")
n_updated=$(grep -cx updated "$TMP/incidents.txt")
[ "$n_changes" -ge 2 ] || fail "expected announced changes, got $n_changes"
# Nothing announced twice: no two entries with the same incident and changes.
python3 - "$SOCK" "$(test_password canh-admin)" <<'PY' || fail "an announcement was made twice"
import subprocess, sys
out = subprocess.run(["redis-cli", "-s", sys.argv[1], "--user", "canh-admin", "--pass", sys.argv[2],
                      "--no-auth-warning", "--json", "XRANGE", "canh:incidents", "-", "+"],
                     capture_output=True, text=True, check=True).stdout
import json
seen = set()
for entry_id, fields in json.loads(out):
    f = dict(zip(fields[::2], fields[1::2]))
    key = (f["id"], f["action"], f.get("changes", ""))
    if key in seen:
        print("twice:", key)
        sys.exit(1)
    seen.add(key)
PY
pass "$n_changes material changes announced ($n_updated as 'updated'), severity rises included"

# --- ack, confirm, resolve --------------------------------------------------
ctl_ok ack "$dos"
expect_contains "$TMP/ctl.out" "incident $dos: acknowledged by alice"
[ "$(rc HGET "canh:incident:$dos" state)" = acknowledged ] || fail "ack did not change the state"
ctl_ok confirm "$dos" --class serious
[ "$(rc HGET "canh:incident:$dos" state)" = confirmed ] || fail "confirm did not change the state"
[ "$(rc HGET "canh:incident:$dos" confirmed_class)" = serious ] || fail "confirmed class"
ctl_ok note "$dos" "customer called, web server restarted"
ctl_ok resolve "$dos"
[ "$(rc HGET "canh:incident:$dos" state)" = resolved ] || fail "resolve did not change the state"
[ -z "$(rc ZSCORE canh:open "$dos")" ] || fail "a resolved incident stays in canh:open"
ctl_ok show "$dos"
for a in opened acknowledged confirmed noted resolved; do expect_contains "$TMP/ctl.out" " $a "; done
expect_contains "$TMP/ctl.out" "customer called, web server restarted"
expect_contains "$TMP/ctl.out" "state      resolved"
expect_contains "$TMP/ctl.out" "evidence   {"
pass "canh-ctl acknowledged, confirmed (serious), noted and resolved $dos; show lists the log"

# --- errors --------------------------------------------------------------------
ctl ack 20200101-000000-00000000
[ "$CTL_STATUS" = 3 ] || fail "unknown id: exit $CTL_STATUS, expected 3"
expect_contains "$TMP/ctl.out" "no incident 20200101-000000-00000000"
ctl ack "$dos"
[ "$CTL_STATUS" = 4 ] || fail "ack of a resolved incident: exit $CTL_STATUS, expected 4"
expect_contains "$TMP/ctl.out" "cannot acknowledge incident $dos: it is resolved"
ctl confirm "$dos"
[ "$CTL_STATUS" = 2 ] || fail "confirm without --class: exit $CTL_STATUS, expected 2"
ctl ack 'x;DEL *'
[ "$CTL_STATUS" = 2 ] || fail "a malformed id: exit $CTL_STATUS, expected 2"
# the read-only tail user may not act
CTL_STATUS=0
timeout 20 "$CANH_BIN/canh-ctl" -r "unix:$SOCK" --user canh-tail --password-file "$TMP/canh-tail.pass" \
    --operator alice ack "$scan" >"$TMP/ctl.out" 2>&1 || CTL_STATUS=$?
[ "$CTL_STATUS" = 5 ] || { cat "$TMP/ctl.out"; fail "canh-tail user acting: exit $CTL_STATUS, expected 5"; }
expect_contains "$TMP/ctl.out" "permission denied"
[ "$(rc HGET "canh:incident:$scan" state)" = open ] || fail "a refused action changed the incident"
pass "unknown id exits 3, invalid transition 4, usage 2, no permission 5 (nothing changed)"

# the canh-ctl user cannot do what its scripts do not: agent streams,
# deleting, consuming, other keys
for cmd in "XADD canh:events:gw-soyte * event x" "DEL canh:incident:$dos" \
    "XREADGROUP GROUP canh-collectors x STREAMS canh:events:gw-soyte >" "FLUSHALL" \
    "SET canh:seen:x 1" "XTRIM canh:incidents MAXLEN 0"; do
    # shellcheck disable=SC2086
    out=$(as canh-ctl $cmd)
    case $out in NOPERM*) ;; *) fail "canh-ctl user was allowed '$cmd': $out" ;; esac
done
out=$(as canh-ctl EVAL "return redis.call('DEL', 'canh:events:gw-soyte')" 0)
grep -q "can't access\|can't run\|NOPERM" <<<"$out" || fail "a canh-ctl script deleted an agent stream: $out"
pass "the canh-ctl ACL user cannot touch agent streams, delete, consume or flush"

# --- reject suppresses --------------------------------------------------------
ctl_ok reject "$scan" --why "authorised scan by the IT department"
[ "$(rc HGET "canh:incident:$scan" state)" = rejected ] || fail "reject did not change the state"
ctl resolve "$scan"
[ "$CTL_STATUS" = 4 ] || fail "resolving a rejected incident: exit $CTL_STATUS, expected 4"
expect_contains "$TMP/ctl.out" "reopen it first"
ctl_ok suppressions
expect_contains "$TMP/ctl.out" "portscan|203.0.113.7|"
expect_contains "$TMP/ctl.out" "by alice in $scan"
[ "$(rc HGET canh:false_positives rejected:portscan)" = 1 ] || fail "rejection not counted"
pass "reject: $scan rejected, its finding listed in canh-ctl suppressions, counted"

n_before=$(incident_ids | grep -c .)
replay
wait_until 60 "the collector to take the second replay" all_acked
wait_until 30 "suppressed events counted" bash -c "[ \"\$(redis-cli -s '$SOCK' --user canh-admin --pass '$(test_password canh-admin)' --no-auth-warning HGET canh:incident:$scan suppressed)\" -ge 1 ]"
[ -z "$(incident_with taxonomy attack.other state open)" ] || fail "the rejected scan raised a new incident"
[ "$(rc HGET canh:false_positives suppressed:portscan)" -ge 1 ] || fail "suppressed scan not counted"
new_dos=$(incident_with taxonomy attack.dos state open)
[ "$(wc -w <<<"$new_dos")" = 1 ] && [ "$new_dos" != "$dos" ] || fail "the flood after the resolve should open a new incident: '$new_dos'"
ctl_ok show "$scan"
expect_contains "$TMP/ctl.out" "rejected   authorised scan by the IT department"
n_after=$(incident_ids | grep -c .)
pass "second replay: the scan suppressed ($(rc HGET "canh:incident:$scan" suppressed) events), the flood opened $new_dos ($n_before → $n_after incidents)"

# reopen lifts the suppression
ctl_ok reopen "$scan"
[ "$(rc HGET "canh:incident:$scan" state)" = open ] || fail "reopen did not change the state"
[ "$(rc HLEN canh:suppressions)" = 0 ] || fail "reopen left suppressions: $(rc HGETALL canh:suppressions)"
ctl_ok suppressions
expect_contains "$TMP/ctl.out" "no suppressions"
pass "reopen lifts the suppression"

# --- an incident reported by people -------------------------------------------
ctl open --agency "Sở Tài chính" --taxonomy attack.bogus --summary x
[ "$CTL_STATUS" = 2 ] || fail "an unknown taxonomy: exit $CTL_STATUS"
ctl_ok open --agency "Sở Tài chính" --taxonomy attack.malware --summary "hotline: ransomware note on a PC" --target 10.1.2.3
manual=$(sed -n 's/^incident \([0-9a-f-]*\): opened by alice$/\1/p' "$TMP/ctl.out")
[ -n "$manual" ] || fail "no id from canh-ctl open: $(cat "$TMP/ctl.out")"
[ "$(rc HGET "canh:incident:$manual" type)" = manual ] || fail "manual type"
ctl_ok ack "$manual"
ctl_ok confirm "$manual" --class normal
ctl_ok resolve "$manual"
pass "a hand-opened incident $manual follows the same chain"

# --- the same from the status page ---------------------------------------------
port=$(grep -o 'status page on http://127.0.0.1:[0-9]*' "$TMP/collector.log" | head -1 | sed 's/.*://')
[ -n "$port" ] || fail "collector 1's status page did not start"
# page_act FORM: POST /api/action as operator binh; the status code
page_act() {
    curl -s -o "$TMP/act.json" -w '%{http_code}' --max-time 10 -H "Authorization: Bearer op-binh-0123456789abcdef" \
        -X POST --data "$1" "http://127.0.0.1:$port/api/action"
}
[ "$(page_act "action=ack&id=$deface&note=g%E1%BB%8Di%20S%E1%BB%9F%20Y%20t%E1%BA%BF")" = 200 ] || fail "page ack: $(cat "$TMP/act.json")"
[ "$(rc HGET "canh:incident:$deface" state)" = acknowledged ] || fail "the page's ack did not change the state"
[ "$(page_act "action=resolve&id=$scan")" = 409 ] || fail "page resolve of an open incident: $(cat "$TMP/act.json")"
grep -q "acknowledge or confirm it first" "$TMP/act.json" || fail "the page's refusal does not say why: $(cat "$TMP/act.json")"
[ "$(page_act "action=confirm&id=$deface&class=serious")" = 200 ] || fail "page confirm: $(cat "$TMP/act.json")"
ctl_ok resolve "$deface"
ctl_ok show "$deface"
expect_contains "$TMP/ctl.out" "binh"
expect_contains "$TMP/ctl.out" "gọi Sở Y tế"
! grep -qi -e NOPERM -e "can't access" "$TMP/collector.log" || fail "the collector was refused an action"
pass "binh acknowledged and confirmed $deface from the status page (as canh-collector), alice resolved it with canh-ctl; an invalid transition is refused with the reason"

# --- on canh:incidents and in canh-tail ----------------------------------------
rc XRANGE canh:incidents - + >"$TMP/incidents.txt"
for a in acknowledged confirmed noted resolved rejected reopened; do
    grep -qx "$a" "$TMP/incidents.txt" || fail "no '$a' on canh:incidents"
done
n_alice=$(grep -cx alice "$TMP/incidents.txt")
[ "$n_alice" = 11 ] || fail "expected 11 announcements by alice (4 on dos, 2 on scan, 4 manual, 1 on deface), got $n_alice"
n_binh=$(grep -cx binh "$TMP/incidents.txt")
[ "$n_binh" = 2 ] || fail "expected 2 announcements by binh (the page), got $n_binh"
# Every announcement is in canh-tail's output, once.
n=$(rc XLEN canh:incidents)
wait_until 30 "canh-tail to print $n lines" bash -c "[ \$(wc -l <'$TAIL_LOG') -ge $n ]"
[ "$(wc -l <"$TAIL_LOG")" = "$n" ] || fail "canh-tail printed $(wc -l <"$TAIL_LOG") lines for $n entries"
for a in acknowledged confirmed noted resolved rejected reopened updated; do
    grep -q " $a " "$TAIL_LOG" || { cat "$TAIL_LOG"; fail "canh-tail shows no $a"; }
done
grep -q 'severity [a-z]*→critical' "$TAIL_LOG" || fail "canh-tail does not show the severity rise"
grep -q "alice" "$TAIL_LOG" && grep -q "binh" "$TAIL_LOG" || fail "canh-tail does not name the operators"
pass "all $n announcements ($n_alice by alice, $n_binh by binh from the page) are on canh:incidents and in canh-tail"

# --state filters
timeout 30 "$CANH_BIN/canh-tail" -r "unix:$SOCK" --user canh-tail --password-file "$TMP/canh-tail.pass" \
    --since all --no-color --state resolved -n 2 >"$TMP/resolved.out" 2>&1 || fail "canh-tail --state resolved"
[ "$(grep -c ' resolved ' "$TMP/resolved.out")" = 2 ] || { cat "$TMP/resolved.out"; fail "--state resolved"; }
python3 -c 'import sys; sys.exit(any(len(l.rstrip("\n")) > 120 for l in open(sys.argv[1], encoding="utf-8")))' \
    "$TMP/resolved.out" || { cat "$TMP/resolved.out"; fail "compact lines longer than 120 columns"; }
pass "canh-tail --state resolved shows the two resolved incidents, compact lines fit 120 columns"

echo "$PASSED passed, 0 failed"
