#!/usr/bin/env bash
# The status page limited to one agency per token: an operators_file line
# "name token agency=NAME" reads that agency's incidents and agents (a
# province-wide incident included) and nothing else; the SOC's operator
# token still sees every agency.
source "$(dirname "$0")/collector_lib.bash"

start_redis
SOYTE_TOKEN=soyte-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
OP_TOKEN=op-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf 'an %s\nsoyte-admin %s agency=Sở Y tế\n' "$OP_TOKEN" "$SOYTE_TOKEN" >"$T/operators"
write_conf "$T/c.conf" "
[status]
listen = 127.0.0.1:0
operators_file = $T/operators
refresh = 300ms
"
"$CANH_BIN/canh-collector" -c "$T/c.conf" --check || fail "--check refused an agency line"
start_collector "$T/c.conf" collector
wait_until 30 "status page address in the log" grep -q 'status page on http://127.0.0.1:' "$T/collector.log"
PORT=$(grep -o 'status page on http://127.0.0.1:[0-9]*' "$T/collector.log" | head -1 | sed 's/.*://')
BASE="http://127.0.0.1:$PORT"
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
as() { local t=$1; shift; curl -sf --max-time 5 -H "Authorization: Bearer $t" "$@"; }

# Sở Y tế, Sở Tài chính, and one source against both (province-wide).
xadd_event gw-soyte "$(mkevent gw-soyte 1 portscan attack.other medium normal 10.7.0.1 198.51.100.10 portal 3 new 'Sở Y tế')"
xadd_event gw-sotc "$(mkevent gw-sotc 1 syn_flood attack.dos high normal 10.8.0.1 198.51.100.20 tc 3 new 'Sở Tài chính')"
xadd_event gw-soyte "$(mkevent gw-soyte 2 portscan attack.other medium normal 10.9.9.9 198.51.100.10 portal 3 new 'Sở Y tế')"
xadd_event gw-sotc "$(mkevent gw-sotc 2 portscan attack.other medium normal 10.9.9.9 198.51.100.20 tc 3 new 'Sở Tài chính')"
heartbeat gw-soyte 'Sở Y tế'
heartbeat gw-sotc 'Sở Tài chính'
seen_all() { as "$OP_TOKEN" "$BASE/api/incidents" | python3 -c '
import json, sys
r = json.load(sys.stdin)
sys.exit(0 if r["open_total"] >= 5 and any(i["type"] == "province" for i in r["open"]) else 1)'; }
wait_until 60 "the five incidents on the page" seen_all

as "$SOYTE_TOKEN" "$BASE/api/incidents" >"$T/mine.json" || fail "the agency token cannot read /api/incidents"
as "$OP_TOKEN" "$BASE/api/incidents" >"$T/all.json"
python3 - "$T/mine.json" "$T/all.json" <<'PY' || fail "the agency's view"
import json, sys
mine, every = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
def of(r, agency):
    return [i for i in r["open"] + r["recent"] if agency in i["agency"].split("|")]
assert mine["open"] + mine["recent"], mine
assert all("Sở Y tế" in i["agency"].split("|") for i in mine["open"] + mine["recent"]), mine
assert sorted(i["id"] for i in mine["open"] + mine["recent"]) == sorted(i["id"] for i in of(every, "Sở Y tế"))
assert any(i["type"] == "province" for i in mine["open"]), "the province-wide incident names Sở Y tế too"
assert mine["open_total"] == len(mine["open"]) and "open_groups" not in mine
assert len(of(every, "Sở Tài chính")) > 0
PY
mine=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["open"][0]["id"])' "$T/mine.json")
other=$(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print([i["id"] for i in r["open"] if "Sở Y tế" not in i["agency"].split("|")][0])' "$T/all.json")
[[ $(code -H "Authorization: Bearer $SOYTE_TOKEN" "$BASE/api/incident?id=$mine") == 200 ]] ||
    fail "the agency cannot open its own incident"
[[ $(code -H "Authorization: Bearer $SOYTE_TOKEN" "$BASE/api/incident?id=$other") == 404 ]] ||
    fail "the agency opened another agency's incident"
[[ $(code -H "Authorization: Bearer $OP_TOKEN" "$BASE/api/incident?id=$other") == 200 ]] ||
    fail "the SOC operator cannot open it"
for path in /metrics /api/collector; do
    [[ $(code -H "Authorization: Bearer $SOYTE_TOKEN" "$BASE$path") == 403 ]] ||
        fail "$path should be 403 to an agency token"
done
as "$SOYTE_TOKEN" "$BASE/api/agents" | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["agents"] and {a["agency"] for a in r["agents"]} <= {"Sở Y tế"}, r["agents"]' ||
    fail "/api/agents shows other agencies' gateways to the agency token"
pass "an agency token sees its own incidents (province-wide ones too) and agents, nothing else"

# The agency line is a viewer: no operator rights.
as "$SOYTE_TOKEN" "$BASE/api/session" | python3 -c 'import json,sys; assert json.load(sys.stdin)["role"] == "viewer"' ||
    fail "the agency line should be a viewer"
pass "the agency's line is a viewer"
echo "PASS: $PASSED checks"
