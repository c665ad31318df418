#!/usr/bin/env bash
# Reports and routes together (issue 15, docs/reporting.md sections 4-5):
# 1. An incident an operator confirms serious enters the routes filtered
#    on class = serious_candidate (once), besides the routes that carried
#    it already.
# 2. Reminders of a report's due date: "report_due_soon" when a drafted
#    report is due within due_soon, "report_overdue" once it is past its
#    deadline, each announced once (two collectors run) on canh:incidents,
#    the agency's stream and to the routes that carry the incident;
#    never to a route of another agency.
# 3. canh-ctl open announces on the agency's own stream too.
# 4. The status page counts queued jobs of custom-named routes under
#    their sink.
source "$(dirname "$0")/collector_lib.bash"

start_redis
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HOOK=$(free_port)
DEAD=$(free_port) # nothing listens: deliveries there stay queued
printf 'route-secret\n' >"$T/hook.secret"
mkdir -p "$T/reports"
start_webhook "$HOOK" "$T/hook.jsonl"

# The initial report is due 30 s after detection, the final one 12 h
# after resolve, and "due soon" is a day: each is due soon as soon as it
# is drafted, the initial one overdue 30 s after detection.
cat >"$T/registry.conf" <<'CONF'
[reporting]
unit = Sở Thông tin và Truyền thông tỉnh Thử
due_soon = 1d
final_deadline = 12h
CONF
hook() { # NAME FILTERS...
    printf '\n[route.%s]\nsink = webhook\nurl = http://127.0.0.1:%s/hook\nsecret_file = %s\nrate = unlimited\n' \
        "$1" "$HOOK" "$T/hook.secret"
    shift
    printf '%s\n' "$@"
}
routes="
[escalation]
retry_base = 200ms
retry_max = 1s
poll_interval = 100ms
[report]
dir = $T/reports
registry = $T/registry.conf
deadline = 30s
[status]
listen = 127.0.0.1:0
auth = none
refresh = 300ms
$(hook soyte-admin 'agency = Sở Y tế' 'min_severity = low')
$(hook response-team 'class = serious_candidate' 'min_severity = low')
$(hook sotc-admin 'agency = Sở Tài chính' 'min_severity = low')
[route.dead-letterbox]
sink = webhook
url = http://127.0.0.1:$DEAD/hook
secret_file = $T/hook.secret
agency = Sở Tài chính
rate = unlimited
"
write_conf "$T/c.conf" "$routes"
"$CANH_BIN/canh-collector" -c "$T/c.conf" --check || fail "--check refused the configuration"
start_collector "$T/c.conf" collector1
sed 's/^listen = .*/listen = 127.0.0.1:0/' "$T/c.conf" >"$T/c2.conf"
start_collector "$T/c2.conf" collector2
wait_until 30 "status page address" grep -q 'status page on http://127.0.0.1:' "$T/collector1.log"
PORT=$(grep -o 'status page on http://127.0.0.1:[0-9]*' "$T/collector1.log" | head -1 | sed 's/.*://')
metric() { curl -sf --max-time 5 "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" '$1 == m {print $2}'; }

# Sở Y tế: a defacement of a level-3 system (class normal).  Sở Tài
# chính: a scan, whose deliveries to the dead receiver stay queued.
# The agent's GeoIP lookup named the source's country (canh.src_geo).
geo() { python3 -c 'import json,sys; e=json.loads(sys.argv[1]); e["canh"]["src_geo"]={"country":sys.argv[2]}; print(json.dumps(e, ensure_ascii=False))' "$1" "$2"; }
xadd_event gw-soyte "$(geo "$(mkevent gw-soyte 1 defacement attack.defacement high normal 10.7.0.1 198.51.100.10 portal 3 new 'Sở Y tế')" CN)"
xadd_event gw-sotc "$(mkevent gw-sotc 1 portscan attack.other medium normal 10.8.0.1 198.51.100.20 tc-portal 3 new 'Sở Tài chính')"
count() { # ROUTE ACTION [ID]: deliveries seen
    [[ -f $T/hook.jsonl ]] || { echo 0; return; }
    python3 -c '
import json, sys
n = 0
for l in open(sys.argv[1]):
    d = json.loads(l)
    n += d["route"] == sys.argv[2] and d["action"] == sys.argv[3] and sys.argv[4] in d["id"]
print(n)' "$T/hook.jsonl" "$1" "$2" "${3:-}"
}
has() { [[ $(count "$@") -ge 1 ]]; }
wait_until 60 "the defacement at route soyte-admin" has soyte-admin escalated
wait_until 60 "the scan at route sotc-admin" has sotc-admin escalated
deface=$(incidents_where taxonomy attack.defacement agency 'Sở Y tế')
[[ -n $deface ]] || fail "no defacement incident"
[[ $(count response-team escalated) == 0 ]] || fail "a normal incident reached the serious route"
[[ $(rc HGET "canh:incident:$deface" countries) == CN ]] ||
    fail "the incident did not keep its source's country: '$(rc HGET "canh:incident:$deface" countries)'"
pass "the incident keeps the source country the agent named (countries = CN), for canh-report"

# 4. The dead receiver's job is counted under sink webhook (its route is
#    named dead-letterbox).
webhook_jobs() { [[ "$(metric 'canh_escalation_queue_jobs{sink="webhook"}')" -ge 1 ]]; }
wait_until 60 "the dead route's queued job in canh_escalation_queue_jobs{sink=webhook}" webhook_jobs
pass "status: a queued job of route dead-letterbox counts under sink webhook"

# 1. Confirmed serious: the response team's route takes it, once.
timeout 20 "$CANH_BIN/canh-ctl" -r "unix:$SOCK" --operator an confirm "$deface" --class serious \
    >/dev/null || fail "canh-ctl confirm"
wait_until 60 "the confirmed-serious incident at route response-team" has response-team escalated "$deface"
wait_until 60 "the confirmation at route soyte-admin" has soyte-admin confirmed "$deface"
[[ $(rc HGET "canh:incident:$deface" sinks) == *response-team* ]] || fail "response-team not in sinks"
pass "canh-ctl confirm --class serious: route response-team (class serious_candidate) carries it"

# 2. Reminders: due soon at once, overdue after the 30 s deadline.
wait_until 60 "the initial report drafted" test -f "$T/reports/$deface.initial.json"
wait_until 60 "the due-soon reminder at route soyte-admin" has soyte-admin report_due_soon "$deface"
wait_until 60 "the due-soon reminder at route response-team" has response-team report_due_soon "$deface"
wait_until 90 "the overdue reminder at route soyte-admin" has soyte-admin report_overdue "$deface"
wait_until 60 "the overdue reminder at route response-team" has response-team report_overdue "$deface"
grep -F report_overdue "$T/hook.jsonl" | grep -qF 'ĐÃ QUÁ HẠN' || fail "the overdue reminder does not say which report: $(cat "$T/hook.jsonl")"
# The final report (resolve) gets its due-soon reminder a scan later: by
# then every collector has scanned again past the first reminders.
timeout 20 "$CANH_BIN/canh-ctl" -r "unix:$SOCK" --operator an resolve "$deface" >/dev/null ||
    fail "canh-ctl resolve"
final_soon() { grep -F report_due_soon "$T/hook.jsonl" | grep -F "$deface" | grep -qF 'final report'; }
wait_until 90 "the final report's due-soon reminder" final_soon
for route in soyte-admin response-team; do
    for stage in report_due_soon report_overdue; do
        n=$(count "$route" "$stage" "$deface")
        want=1
        [[ $stage == report_due_soon ]] && want=2 # initial, then final
        [[ $n == "$want" ]] || fail "route $route got $n $stage deliveries, expected $want"
    done
done
[[ $(count sotc-admin report_due_soon) == 0 && $(count sotc-admin report_overdue) == 0 ]] ||
    fail "another agency's route heard the reminders"
announced() { python3 -c '
import json, subprocess, sys
out = subprocess.run(["redis-cli", "-s", sys.argv[1], "--json", "XRANGE", sys.argv[2], "-", "+"],
                     capture_output=True, text=True, check=True).stdout
rows = [dict(zip(e[1][::2], e[1][1::2])) for e in json.loads(out)] if out.strip() else []
print(sum(r.get("action") == sys.argv[3] and r.get("id") == sys.argv[4] for r in rows))' "$SOCK" "$@"; }
for key in canh:incidents canh:incidents:so-y-te; do
    [[ $(announced "$key" report_overdue "$deface") == 1 ]] ||
        fail "$key: expected one report_overdue announcement"
    [[ $(announced "$key" report_due_soon "$deface") == 2 ]] ||
        fail "$key: expected two report_due_soon announcements (initial, final)"
done
[[ $(count response-team escalated "$deface") == 1 ]] || fail "response-team got the incident more than once"
# The report-draft route hears "escalated" only: its reminders were passed
# by, and a report must not list it as notified of them.
! rc XRANGE "canh:log:$deface" - + | grep -q 'report (report_' ||
    fail "a reminder the report route passed by is logged as delivered: $(rc XRANGE "canh:log:$deface" - + | grep 'report (')"
grep -q 'soyte-admin (report_overdue)' <(rc XRANGE "canh:log:$deface" - +) ||
    fail "the overdue reminder to soyte-admin is not logged as delivered"
pass "reminders: due soon and overdue, once each (two collectors), to the incident's routes and streams, not another agency's"

# 3. An incident opened by hand is on its agency's stream.
out=$(timeout 20 "$CANH_BIN/canh-ctl" -r "unix:$SOCK" --operator an open --agency 'Sở Y tế' \
    --taxonomy attack.intrusion --summary 'báo qua điện thoại') || fail "canh-ctl open"
manual=$(sed -n 's/^incident \([^:]*\): opened.*/\1/p' <<<"$out")
[[ -n $manual ]] || fail "canh-ctl open printed no id: $out"
[[ $(announced canh:incidents:so-y-te opened "$manual") == 1 ]] ||
    fail "the opened incident is not on canh:incidents:so-y-te"
[[ $(announced canh:incidents:so-tai-chinh opened "$manual") == 0 ]] ||
    fail "the opened incident is on another agency's stream"
pass "canh-ctl open: the incident is announced on canh:incidents:so-y-te"

echo "PASS: $PASSED checks"
