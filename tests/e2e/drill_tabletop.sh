#!/usr/bin/env bash
# A table-top drill (docs/drills.md) through the whole chain: canh-ctl drill
# create; canh-agent --drill-replay of the shipped scenario (a scan, a
# defacement, a webshell) against this agency's portal, into a real
# redis-server; canh-collector with a SOC webhook and a drill webhook
# (exercise = yes) and a drill report route.  A real incident comes in at
# the same time.
#  1. Only the drill webhook hears of the drill's incidents; the SOC
#     webhook hears only of the real one.
#  2. The drill's report drafts (notification, initial) carry the
#     watermark "DIỄN TẬP — KHÔNG GỬI".
#  3. canh-report leaves the drill out of the period's figures and counts
#     it as a drill held.
#  4. canh-ctl drill report: the timeline first packet → event → incident
#     → acknowledged → confirmed → report draft, in that order, and the
#     drill routes reached.
source "$(dirname "$0")/collector_lib.bash"

start_redis
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ctl() { timeout 30 "$CANH_BIN/canh-ctl" -r "unix:$SOCK" --operator an "$@"; }
SOC_HOOK=$(free_port)
DRILL_HOOK=$(free_port)
printf 'soc-secret\n' >"$T/soc.secret"
printf 'drill-secret\n' >"$T/drill.secret"
mkdir -p "$T/reports" "$T/archive" "$T/state"

start_webhook "$SOC_HOOK" "$T/soc.jsonl" soc-secret
start_webhook "$DRILL_HOOK" "$T/drill.jsonl" drill-secret

write_conf "$T/c.conf" "
[escalation]
retry_base = 200ms
retry_max = 1s
poll_interval = 100ms

[report]
dir = $T/reports

[archive]
dir = $T/archive

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

[route.drill-report]
sink = report
exercise = yes
"
"$CANH_BIN/canh-collector" -c "$T/c.conf" --check >"$T/check.log" 2>&1 || fail "collector --check"
start_collector "$T/c.conf" collector

# The agency: its portal and the agent that watches it.
cat >"$T/assets.conf" <<'EOF'
[portal]
address = 10.20.0.5
name = cong-thong-tin
owner = Sở Thử nghiệm
level = 4
EOF
cat >"$T/agent.conf" <<EOF
[agent]
name = gw-drill
agency = Sở Thử nghiệm
assets = $T/assets.conf
state_dir = $T/state
[output]
redis_url = unix:$SOCK
EOF

# Mistakes are usage errors before anything runs.
set +e
"$CANH_BIN/canh-agent" -c "$T/agent.conf" --drill-replay "$CANH_SRC/drills/ddos.pcap" 2>"$T/usage.err"
code1=$?
"$CANH_BIN/canh-agent" -c "$T/agent.conf" --drill-replay "$CANH_SRC/drills/ddos.pcap" --exercise 'x y' 2>>"$T/usage.err"
code2=$?
ctl drill create --name "thiếu cửa sổ" 2>>"$T/usage.err"
code3=$?
set -e
[[ $code1 == 2 && $code2 == 2 && $code3 == 2 ]] || fail "usage errors: $code1 $code2 $code3 ($(cat "$T/usage.err"))"
expect_contains "$T/usage.err" "--drill-replay CAPTURE and --exercise ID go together"
expect_contains "$T/usage.err" "create needs the end of the window"
pass "usage mistakes of --drill-replay and drill create exit 2 with the reason"

DRILL=$(ctl drill create --name "Diễn tập trên bàn quý IV" --for 2h \
    --scenario "Quét cổng, thay đổi giao diện và webshell trên cổng thông tin") || fail "drill create"
[[ $DRILL =~ ^d[0-9]{8}-[0-9]{6}-[0-9a-f]{4}$ ]] || fail "drill id '$DRILL'"
ctl drill list >"$T/list.txt"
expect_contains "$T/list.txt" "$DRILL"
expect_contains "$T/list.txt" "(table-top)"

# A real attack at the same time, from the same agency.
xadd_event gw-real "$(mkevent gw-real 1 sweep attack.other medium normal 192.0.2.44 10.20.0.9 "" 0 new "Sở Thử nghiệm")"

timeout 120 "$CANH_BIN/canh-agent" -c "$T/agent.conf" --drill-replay "$CANH_SRC/drills/scan_deface_webshell.pcap" \
    --exercise "$DRILL" --output redis --output "jsonl:$T/drill-events.jsonl" >>"$T/agent.log" 2>&1 ||
    fail "canh-agent --drill-replay exited $?"
jq -se --arg d "$DRILL" 'length >= 4 and all(.canh.exercise == $d and .dest_ip == "10.20.0.5")
    and (map(.canh.kind) | contains(["portscan", "defacement", "webshell_upload", "webshell_access"]))' \
    "$T/drill-events.jsonl" >/dev/null || fail "replayed events: $(jq -c '[.canh.kind,.dest_ip,.canh.exercise]' "$T/drill-events.jsonl")"
python3 - "$CANH_SRC/docs/event.schema.json" "$T/drill-events.jsonl" <<'PY' || fail "drill events against docs/event.schema.json"
import json, sys, jsonschema
v = jsonschema.Draft202012Validator(json.load(open(sys.argv[1])))
for line in open(sys.argv[2]):
    v.validate(json.loads(line))
bad = json.loads(line)
bad["canh"]["exercise"] = "not a drill id!"
assert not v.is_valid(bad)
PY
now=$(date +%s)
jq -se --argjson now "$now" 'all((.timestamp | sub("\\.[0-9]+"; "") | strptime("%Y-%m-%dT%H:%M:%S%z") | mktime) <= $now + 1
    and (.timestamp | sub("\\.[0-9]+"; "") | strptime("%Y-%m-%dT%H:%M:%S%z") | mktime) >= $now - 120)' \
    "$T/drill-events.jsonl" >/dev/null || fail "replayed times are not the last minutes"
pass "drill replay: every event carries canh.exercise, targets the agency's portal, at today's time"

# --- 1. routes ------------------------------------------------------------------
drill_incidents() { incidents_where exercise "$DRILL" | wc -l; }
got_three() { (($(drill_incidents) >= 3)); }
wait_until 60 "three drill incidents" got_three
REAL=$(incidents_where agents gw-real)
[[ -n $REAL ]] || fail "no real incident"
escalated_to() { grep -q "\"action\": \"escalated\", \"id\": \"$2\"" "$T/$1.jsonl" 2>/dev/null; }
for id in $(incidents_where exercise "$DRILL"); do
    wait_until 60 "drill incident $id on the drill webhook" escalated_to drill "$id"
done
wait_until 60 "the real incident on the SOC webhook" escalated_to soc "$REAL"
if grep -q "\"exercise\": \"$DRILL\"" "$T/soc.jsonl"; then fail "the SOC webhook heard of the drill: $(cat "$T/soc.jsonl")"; fi
[[ $(jq -s 'map(select(.ok | not)) | length' "$T/soc.jsonl" "$T/drill.jsonl") == 0 ]] || fail "bad signatures"
for id in $(incidents_where exercise "$DRILL"); do
    [[ $(rc HGET "canh:incident:$id" sinks) != *soc* ]] || fail "drill incident $id routed to soc"
done
pass "drill incidents reach only the drill webhook; the real one reaches the SOC webhook"

# What the operator reads: canh-tail marks the drill's incidents, not the real one.
N=$(rc XLEN canh:incidents)
timeout 60 "$CANH_BIN/canh-tail" -r "unix:$SOCK" --since all -n "$N" --no-color -w >"$T/tail.txt" 2>&1 ||
    fail "canh-tail: $(tail -3 "$T/tail.txt")"
grep -qF "[DIỄN TẬP $DRILL]" "$T/tail.txt" || fail "canh-tail does not mark the drill: $(head -5 "$T/tail.txt")"
if grep -F "$REAL" "$T/tail.txt" | grep -qF "DIỄN TẬP"; then fail "canh-tail marks the real incident as a drill"; fi
pass "canh-tail marks the drill's incidents [DIỄN TẬP $DRILL], not the real one"

# --- 2. watermarked drafts ----------------------------------------------------------
DEF=$(incidents_where exercise "$DRILL" taxonomy attack.defacement)
[[ -n $DEF ]] || fail "no drill defacement incident"
wait_until 60 "the drill's notification draft" test -f "$T/reports/$DEF.notification.md"
head -1 "$T/reports/$DEF.notification.md" | grep -qF "DIỄN TẬP — KHÔNG GỬI" || fail "notification not watermarked: $(head -3 "$T/reports/$DEF.notification.md")"
jq -e --arg d "$DRILL" '.drill.watermark == "DIỄN TẬP — KHÔNG GỬI" and .drill.exercise == $d' \
    "$T/reports/$DEF.notification.json" >/dev/null || fail "notification JSON not watermarked"
ctl ack "$DEF" >/dev/null || fail "ack"
ctl confirm "$DEF" --class serious >/dev/null || fail "confirm"
wait_until 60 "the drill's initial report draft" test -f "$T/reports/$DEF.initial.md"
head -1 "$T/reports/$DEF.initial.md" | grep -qF "DIỄN TẬP — KHÔNG GỬI" || fail "initial report not watermarked"
tail -1 "$T/reports/$DEF.initial.md" | grep -qF "DIỄN TẬP — KHÔNG GỬI" || fail "initial report not watermarked at the end"
pass "the drill's notification and initial report drafts carry DIỄN TẬP — KHÔNG GỬI"

# Rejecting a drill incident suppresses nothing (the red team's later
# traffic must still be judged) and is no detector false positive.
SCAN=$(incidents_where exercise "$DRILL" taxonomy attack.other)
[[ -n $SCAN ]] || fail "no drill scan incident"
ctl reject "$SCAN" --why "đã biết: đội diễn tập" >/dev/null || fail "reject drill incident"
[[ $(rc HGET "canh:incident:$SCAN" state) == rejected && $(rc HLEN canh:suppressions) == 0 &&
    -z $(rc HGET canh:false_positives rejected:portscan) ]] ||
    fail "a drill rejection suppressed findings: $(rc HGETALL canh:suppressions)"
pass "rejecting a drill incident suppresses nothing"

# --- 3. periodic statistics -----------------------------------------------------------
ctl resolve "$DEF" >/dev/null || fail "resolve drill incident"
ctl ack "$REAL" >/dev/null || fail "ack real"
ctl resolve "$REAL" >/dev/null || fail "resolve real"
month=$(date +%Y-%m)
archived() { grep -qF "\"$1\"" "$T/archive/incidents-$month.jsonl" 2>/dev/null; }
wait_until 60 "the drill incident archived" archived "$DEF"
wait_until 60 "the real incident archived" archived "$REAL"
wait_until 60 "the rejected drill incident archived" archived "$SCAN"
"$CANH_BIN/canh-report" --archive "$T/archive" --period "$month" --format json --output - >"$T/period.json" ||
    fail "canh-report"
jq -e '.totals.incidents == 1 and .totals.false_positives == 0 and .drills.held == 1 and .drills.incidents == 2
    and (.by_taxonomy | map(select(.code == "attack.defacement")) | .[0].count // 0) == 0' \
    "$T/period.json" >/dev/null || fail "periodic figures: $(jq -c '{totals, drills}' "$T/period.json")"
"$CANH_BIN/canh-report" --archive "$T/archive" --period "$month" --format md --output - >"$T/period.md"
expect_contains "$T/period.md" "Drills held (their incidents not counted): 1"
pass "canh-report: the drill (resolved and rejected) is out of the figures and false positives, one drill held"

# --- 4. after-action report -------------------------------------------------------------
delivered_to_report() { rc XRANGE "canh:log:$DEF" - + | grep -q report_drafted; }
wait_until 30 "report_drafted in the log" delivered_to_report
ctl drill report "$DRILL" -j >"$T/aar.json" || fail "drill report"
python3 - "$T/aar.json" "$DRILL" <<'PY' || fail "after-action report: $(cat "$T/aar.json")"
import json, sys
from datetime import datetime
r = json.load(open(sys.argv[1]))
assert r["drill"]["id"] == sys.argv[2]
t = r["timeline"]
order = ["first_packet", "first_event", "incident", "acknowledged", "confirmed", "report_draft"]
times = [datetime.strptime(t[k], "%Y-%m-%dT%H:%M:%S.%f%z") for k in order]
assert all(a <= b for a, b in zip(times, times[1:])), t
after = r["seconds_after_first_packet"]
# The scenario's first packet is ~7 s before its replay ended; the incident
# opens after the replay, within the minutes a busy machine may take.
assert 0 <= after["first_event"] < 10 and 0 < after["incident"] < 300, after
routes = {x["route"] for x in r["routes_reached"]}
assert routes == {"drill", "drill-report"}, routes
assert len(r["incidents"]) >= 3 and not r["scope_breaches"], r["incidents"]
PY
ctl drill report "$DRILL" >"$T/aar.md"
expect_contains "$T/aar.md" "Báo cáo sau diễn tập"
expect_contains "$T/aar.md" "| Xác nhận / Confirmed |"
expect_contains "$T/aar.md" "- drill-report"
pass "after-action report: first packet → event → incident → ack → confirm → draft, drill routes only"
ctl drill end "$DRILL" >/dev/null || fail "drill end"
ctl drill list >"$T/list2.txt"
grep -q "$DRILL.*ended" "$T/list2.txt" || fail "drill not ended: $(cat "$T/list2.txt")"
pass "drill end"
