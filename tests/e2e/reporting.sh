#!/usr/bin/env bash
# reporting.sh — the serious-incident criteria and the reports of
# Circular 20/2017 along the lifecycle (docs/reporting.md).
#
# The same real capture (curl fetching a defaced page from nginx,
# tests/fixtures/http_defaced_page.pcap) is replayed by two agents: one
# whose portal is level 4, one whose portal is level 3.
# 1. Level 4: a serious candidate with the consequence named
#    (loss_of_integrity); level 3: the same consequence, class normal.
# 2. canh-ctl confirm --class serious: the initial report draft is
#    written with the registry's details, its deadline 5 days after
#    detection (after the draft's own date, though the capture is old),
#    and /metrics shows canh_reports_due 1; canh-ctl report sent clears it.
# 3. canh-ctl resolve: the final report is due and cites the initial
#    report's number and date.  The level-3 incident confirmed normal gets
#    no report.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/redis.sh"
SOCK=$TMP/redis.sock
PIDS=()
stop_all() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    redis_stop
    cleanup_tmp
}
trap stop_all EXIT
rc() { timeout 30 redis-cli -s "$SOCK" "$@"; }
ctl() { timeout 30 "$CANH_BIN/canh-ctl" -r "unix:$SOCK" --operator an "$@"; }

redis_start redis -s "$SOCK"

mkdir -p "$TMP/reports"
cat >"$TMP/registry.conf" <<'CONF'
[reporting]
unit = Sở Thông tin và Truyền thông tỉnh Thử
address = 1 Đường Thử, TP. Thử
phone = 0200 3800 000
email = soc@stttt.example.gov.vn
contact_name = Nguyễn Văn An
contact_phone = 0912 000 000
contact_email = an@stttt.example.gov.vn

[agency Sở Y tế]
unit = Sở Y tế tỉnh Thử
address = 5 Đường Khỏe, TP. Thử
phone = 0200 3811 111
email = vanthu@soyte.example.gov.vn
contact_name = Trần Thị Bình
contact_title = Chuyên viên CNTT
contact_phone = 0913 111 111
contact_email = binh@soyte.example.gov.vn
isp = VNPT tỉnh Thử

[system portal]
agency = Sở Y tế
title = Cổng thông tin điện tử Sở Y tế
owner = Sở Y tế tỉnh Thử
addresses = 198.51.100.10
domains = soyte.example.gov.vn
security_provider = Trung tâm Giám sát tỉnh
CONF
cat >"$TMP/collector.conf" <<CONF
[collector]
redis_url = unix:$SOCK
block = 200ms
discover_interval = 500ms
[escalation]
poll_interval = 100ms
[report]
dir = $TMP/reports
registry = $TMP/registry.conf
[status]
listen = 127.0.0.1:0
auth = none
refresh = 300ms
CONF
"$CANH_BIN/canh-collector" -c "$TMP/collector.conf" --check >"$TMP/check.log" 2>&1 ||
    fail "collector --check refused the configuration"
printf '[reporting]\nunit = x\ninitial_for = sometimes\n' >"$TMP/bad-registry.conf"
sed "s|^registry = .*|registry = $TMP/bad-registry.conf|" "$TMP/collector.conf" >"$TMP/bad.conf"
status=0
"$CANH_BIN/canh-collector" -c "$TMP/bad.conf" --check >"$TMP/bad.out" 2>&1 || status=$?
[ "$status" = 2 ] && grep -q "bad-registry.conf:3: .*not serious or confirmed" "$TMP/bad.out" ||
    fail "a bad registry: --check exit $status, $(cat "$TMP/bad.out")"
pass "--check reads the registry: a mistake is file:line, exit 2"
"$CANH_BIN/canh-collector" -c "$TMP/collector.conf" >"$TMP/collector.log" 2>&1 &
PIDS+=($!)
wait_until 30 "status page address" grep -q 'status page on http://127.0.0.1:' "$TMP/collector.log"
PORT=$(grep -o 'status page on http://127.0.0.1:[0-9]*' "$TMP/collector.log" | head -1 | sed 's/.*://')
metric() { curl -sf --max-time 5 "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
metric_is() { [ "$(metric "$1")" = "$2" ]; } # re-read at each try of wait_until

replay() { # AGENT AGENCY LEVEL
    cat >"$TMP/$1.conf" <<CONF
[agent]
name = $1
agency = $2
[output]
redis_url = unix:$SOCK
CONF
    sed "s/^level = .*/level = $3/" "$FIXTURES/assets.conf" | sed "s/^owner = .*/owner = $2/" >"$TMP/$1.assets"
    timeout 120 "$CANH_BIN/canh-agent" -c "$TMP/$1.conf" -r "$FIXTURES/http_defaced_page.pcap" \
        --assets "$TMP/$1.assets" --output redis --output "jsonl:$TMP/$1.jsonl" >>"$TMP/agent.log" 2>&1 ||
        fail "canh-agent $1 exited $?"
}
replay gw-l4 "Sở Y tế" 4
replay gw-l3 "Sở Tư pháp" 3

# --- 1. classification -------------------------------------------------------
jq -se 'map(select(.canh.kind == "defacement" and .canh.state == "new")
       | select(.canh.class == "serious_candidate" and .canh.evidence.consequence == "loss_of_integrity")) | length == 1' \
    "$TMP/gw-l4.jsonl" >/dev/null || fail "level 4: no serious candidate naming loss_of_integrity"
jq -se 'map(select(.canh.kind == "defacement" and .canh.state == "new")
       | select(.canh.class == "normal" and .canh.evidence.consequence == "loss_of_integrity")) | length == 1' \
    "$TMP/gw-l3.jsonl" >/dev/null || fail "level 3: the same defacement should be normal with the consequence named"
incident_of() { # AGENCY
    local id
    for id in $(rc ZRANGE canh:open 0 -1); do
        if [ "$(rc HGET "canh:incident:$id" agency)" = "$1" ] &&
            [ "$(rc HGET "canh:incident:$id" type)" = finding ]; then
            echo "$id"
            return 0
        fi
    done
}
wait_until 60 "the level-4 incident" bash -c "[ -n \"\$(redis-cli -s '$SOCK' ZRANGE canh:open 0 -1)\" ]"
wait_until 60 "both incidents" bash -c "[ \$(redis-cli -s '$SOCK' ZCARD canh:open) -ge 2 ]"
L4=$(incident_of "Sở Y tế")
L3=$(incident_of "Sở Tư pháp")
[ -n "$L4" ] && [ -n "$L3" ] || fail "incidents: level 4 '$L4', level 3 '$L3'"
[ "$(rc HGET "canh:incident:$L4" class)" = serious_candidate ] || fail "level-4 incident class"
[ "$(rc HGET "canh:incident:$L4" consequences)" = loss_of_integrity ] || fail "level-4 incident consequence"
[ "$(rc HGET "canh:incident:$L3" class)" = normal ] || fail "level-3 incident class"
pass "level 4 defaced: serious candidate, loss_of_integrity named; level 3: normal"
wait_until 60 "the notification draft" test -f "$TMP/reports/$L4.notification.md"
[ ! -e "$TMP/reports/$L3.notification.md" ] || fail "a notification for the normal incident"
pass "notification drafted for the serious candidate only"

# --- 2. confirmed serious: the initial report ----------------------------------
ctl ack "$L4" >/dev/null
ctl confirm "$L4" --class serious >/dev/null
ctl confirm "$L3" --class normal >/dev/null
wait_until 60 "the initial report draft" test -f "$TMP/reports/$L4.initial.json"
md=$TMP/reports/$L4.initial.md
for text in "BÁO CÁO BAN ĐẦU SỰ CỐ MẠNG" "Sở Y tế tỉnh Thử" "5 Đường Khỏe, TP. Thử" "0200 3811 111" \
    "vanthu@soyte.example.gov.vn" "Trần Thị Bình" "binh@soyte.example.gov.vn" \
    "Cổng thông tin điện tử Sở Y tế" "soyte.example.gov.vn" "VNPT tỉnh Thử" "Trung tâm Giám sát tỉnh" \
    "Cấp độ 4" "Tấn công thay đổi giao diện" "Mất tính toàn vẹn của dữ liệu" "203.0.113.7" \
    "Xác nhận sự cố (an)" "Mức độ mật"; do
    expect_contains "$md" "$text"
done
/usr/bin/python3 - "$TMP/reports/$L4.initial.json" <<'PY' || fail "initial report JSON"
import json, sys, datetime
r = json.load(open(sys.argv[1]))
fmt = "%d/%m/%Y %H:%M"
drafted = datetime.datetime.strptime(r["report_date"], fmt)
due = datetime.datetime.strptime(r["deadline"]["date"], fmt)
detected = datetime.datetime.strptime(r["detected_at"], fmt)
# the capture is old; the deadline counts from detection by canh
assert detected <= drafted < due, (detected, drafted, due)
assert (due - detected).days == 5, due - detected
assert r["deadline"]["overdue"] is False
assert r["classification"]["confirmed_class"] == "serious"
assert [c["code"] for c in r["classification"]["consequences"]] == ["loss_of_integrity"]
assert r["system"]["level"] == 4 and r["system"]["domains"] == ["soyte.example.gov.vn"]
# a draft written is nobody notified; no webhook or syslog here
assert r["notified"] == [], r["notified"]
PY
wait_until 90 "canh_reports_due 1" metric_is canh_reports_due 1
[ "$(metric canh_reports_overdue)" = 0 ] || fail "overdue should be 0"
[ "$(rc ZCARD canh:reports)" = 1 ] || fail "one report due, not $(rc ZCARD canh:reports)"
curl -sf --max-time 5 "http://127.0.0.1:$PORT/api/incidents" | jq -e --arg id "$L4" \
    '.reports | map(select(.id == $id and .kind == "initial" and .overdue == false)) | length == 1' >/dev/null ||
    fail "/api/incidents does not list the initial report due"
pass "confirmed serious: initial report drafted with the registry's fields, due 5 days after detection, canh_reports_due 1"

ctl report sent "$L4" --kind final >"$TMP/ctl.out" 2>&1 && fail "a final report was marked sent before it was drafted"
ctl report sent "$L4" --kind initial --number 12/BC-STTTT >/dev/null
wait_until 90 "canh_reports_due 0" metric_is canh_reports_due 0
rc XRANGE "canh:log:$L4" - + | grep -q "Báo cáo ban đầu sự cố mạng số 12/BC-STTTT đã gửi" ||
    fail "report sent is not in the incident's log"
pass "canh-ctl report sent marks it (logged), canh_reports_due back to 0"

# --- 3. resolved: the final report ---------------------------------------------
ctl resolve "$L4" >/dev/null
wait_until 60 "the final report draft" test -f "$TMP/reports/$L4.final.json"
fmd=$TMP/reports/$L4.final.md
expect_contains "$fmd" "BÁO CÁO KẾT THÚC ỨNG PHÓ SỰ CỐ"
expect_contains "$fmd" "12/BC-STTTT"
/usr/bin/python3 - "$TMP/reports/$L4.final.json" <<'PY' || fail "final report JSON"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["initial_report"]["number"] == "12/BC-STTTT", r["initial_report"]
assert r["initial_report"]["date"][2] == "/" and len(r["initial_report"]["date"]) == 16
# the date the initial report was marked sent: today, not 1970
assert r["initial_report"]["date"][6:10] >= "2026", r["initial_report"]
assert r["deadline"]["overdue"] is False, r["deadline"]
assert r["status"] == "Đã xử lý xong"
assert r["outcome"]["resolved_at"][2] == "/"
assert [n["via"] for n in r["notified"]] == ["Báo cáo ban đầu sự cố mạng số 12/BC-STTTT đã gửi"], r["notified"]
PY
wait_until 90 "canh_reports_due 1 (final)" metric_is canh_reports_due 1
pass "resolved: the final report is due and cites the initial report's number and date"

ctl resolve "$L3" >/dev/null
queue_empty() { [ "$(rc ZCARD canh:report_queue)" = 0 ]; }
wait_until 60 "the report queue to empty" queue_empty
[ ! -e "$TMP/reports/$L3.initial.md" ] && [ ! -e "$TMP/reports/$L3.final.md" ] ||
    fail "the level-3 incident confirmed normal got a report"
pass "the level-3 incident confirmed normal: no report due"
echo "reporting: $PASSED checks passed"
