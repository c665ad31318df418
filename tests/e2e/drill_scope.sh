#!/usr/bin/env bash
# A live drill's scope guard (docs/drills.md).  The drill: target asset
# "portal", red team 203.0.113.0/24, a one-hour window.  Events as the
# agents send them go through a real redis-server to canh-collector, which
# has a SOC webhook and a drill webhook (exercise = yes).
#  1. The red team against the portal inside the window: a drill incident,
#     on the drill webhook only.
#  2. The red team against another asset: a real incident, raised to high,
#     "VƯỢT PHẠM VI DIỄN TẬP", on the SOC webhook.  Other sources stay real
#     and untouched.
#  3. After canh-ctl drill end, the red team against the portal is a scope
#     breach too; the after-action report lists the breaches.
source "$(dirname "$0")/collector_lib.bash"

start_redis
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ctl() { timeout 30 "$CANH_BIN/canh-ctl" -r "unix:$SOCK" --operator an "$@"; }
SOC_HOOK=$(free_port)
DRILL_HOOK=$(free_port)
printf 'soc-secret\n' >"$T/soc.secret"
printf 'drill-secret\n' >"$T/drill.secret"
start_webhook "$SOC_HOOK" "$T/soc.jsonl"
start_webhook "$DRILL_HOOK" "$T/drill.jsonl"

write_conf "$T/c.conf" "
[escalation]
retry_base = 200ms
retry_max = 1s
poll_interval = 100ms

[route.soc]
sink = webhook
url = http://127.0.0.1:$SOC_HOOK/hook
secret_file = $T/soc.secret
min_severity = low
rate = unlimited

[route.drill]
sink = webhook
url = http://127.0.0.1:$DRILL_HOOK/hook
secret_file = $T/drill.secret
min_severity = low
rate = unlimited
exercise = yes
"
start_collector "$T/c.conf" collector

set +e
ctl drill create --name x --for 1h --target portal 2>"$T/usage.err"
code1=$?
ctl drill create --name x --for 1h --target portal --red-team 203.0.113.300 2>>"$T/usage.err"
code2=$?
set -e
[[ $code1 == 2 && $code2 == 2 ]] || fail "usage: $code1 $code2"
expect_contains "$T/usage.err" "needs both --target and --red-team"
expect_contains "$T/usage.err" "red-team prefix '203.0.113.300' is not an address or prefix"
pass "a live drill needs targets and valid red-team prefixes"

DRILL=$(ctl drill create --name "Diễn tập thực chiến" --from now --for 1h --target portal \
    --red-team 203.0.113.0/24 --scenario "Đội đỏ quét và dò mật khẩu cổng thông tin") || fail "drill create"
wait_until 30 "the collector to load the drill" grep -q "drills: 1 drill(s)" "$T/collector.log"

ev() { # SEQ KIND TAXONOMY SRC DST ASSET
    xadd_event gw1 "$(mkevent gw1 "$1" "$2" "$3" medium normal "$4" "$5" "$6" 3)"
}
# An event naming no valid drill id is refused, with the reason.
xadd_event gw1 "$(mkevent gw1 99 portscan attack.other medium normal 192.0.2.1 198.51.100.10 portal 3 |
    jq -c '.canh.exercise = "a b"')"
wait_until 30 "the dead letter" bash -c "redis-cli -s '$SOCK' XRANGE canh:deadletter - + | grep -q 'canh.exercise is not a drill id'"
pass "an event whose canh.exercise is not a drill id goes to the dead letters"

ev 1 portscan attack.other 203.0.113.7 198.51.100.10 portal
ev 2 sweep attack.other 203.0.113.7 198.51.100.20 mail
ev 3 portscan attack.other 192.0.2.9 198.51.100.10 portal

one_of() { [[ -n $(incidents_where "$@") ]]; }
wait_until 60 "the drill incident" one_of exercise "$DRILL" asset portal
wait_until 60 "the breach incident" one_of drill_breach "$DRILL" asset mail
wait_until 60 "the real incident" one_of sources 192.0.2.9
IN=$(incidents_where exercise "$DRILL" asset portal)
OUT=$(incidents_where drill_breach "$DRILL" asset mail)
REAL=$(incidents_where sources 192.0.2.9)
escalated_to() { grep -q "\"action\": \"escalated\", \"id\": \"$2\"" "$T/$1.jsonl" 2>/dev/null; }
wait_until 60 "the drill incident on the drill webhook" escalated_to drill "$IN"
wait_until 60 "the breach on the SOC webhook" escalated_to soc "$OUT"
wait_until 60 "the real incident on the SOC webhook" escalated_to soc "$REAL"
if grep -q "\"$IN\"" "$T/soc.jsonl"; then fail "the drill incident reached the SOC webhook"; fi
pass "red team against the portal in the window: a drill incident on the drill route only"

[[ $(rc HGET "canh:incident:$OUT" severity) == high ]] || fail "breach severity $(rc HGET "canh:incident:$OUT" severity)"
[[ -z $(rc HGET "canh:incident:$OUT" exercise) ]] || fail "the breach is tagged exercise"
rc HGET "canh:incident:$OUT" summary | grep -qF "VƯỢT PHẠM VI DIỄN TẬP $DRILL" ||
    fail "breach summary: $(rc HGET "canh:incident:$OUT" summary)"
[[ $(rc HGET "canh:incident:$REAL" severity) == medium && -z $(rc HGET "canh:incident:$REAL" drill_breach) &&
    -z $(rc HGET "canh:incident:$REAL" exercise) ]] || fail "the other source's incident was touched"
pass "red team against an asset outside the drill: a real high incident 'vượt phạm vi diễn tập' on the SOC route"

# After the window: the same red team against the portal is a breach.
ctl drill end "$DRILL" >/dev/null || fail "drill end"
seq=10
after_window() {
    seq=$((seq + 1))
    ev "$seq" brute_force attack.intrusion 203.0.113.7 198.51.100.10 portal
    [[ -n $(incidents_where drill_breach "$DRILL" asset portal) ]]
}
wait_until 60 "a breach after the window" after_window
LATE=$(incidents_where drill_breach "$DRILL" asset portal)
wait_until 60 "the late breach on the SOC webhook" escalated_to soc "$LATE"
[[ $(rc HGET "canh:incident:$LATE" severity) == high ]] || fail "late breach severity"
pass "red team after canh-ctl drill end: a real high incident on the SOC route"

ctl drill report "$DRILL" -j >"$T/aar.json" || fail "drill report"
jq -e --arg in "$IN" --arg out "$OUT" --arg late "$LATE" '
    (.incidents | map(.id) | index($in)) != null
    and (.scope_breaches | map(.id) | sort) == ([$out, $late] | sort)
    and (.routes_reached | map(.route)) == ["drill"]' "$T/aar.json" >/dev/null ||
    fail "after-action report: $(jq -c '{incidents: [.incidents[].id], scope_breaches: [.scope_breaches[].id], routes_reached}' "$T/aar.json")"
ctl drill report "$DRILL" >"$T/aar.md"
expect_contains "$T/aar.md" "VƯỢT PHẠM VI DIỄN TẬP"
pass "the after-action report lists the drill's incident and both scope breaches"
