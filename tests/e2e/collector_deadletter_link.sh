#!/usr/bin/env bash
# Garbage in an agent's stream goes to canh:deadletter with a reason and is
# acknowledged (the collector keeps going); an agent whose heartbeats stop
# raises fault.link for its agency, closed when they resume; canh:agents
# holds each agent's last heartbeat.
source "$(dirname "$0")/collector_lib.bash"

start_redis
write_conf "$T/c.conf" "
[correlation]
silent_after = 3s"
start_collector "$T/c.conf" collector

good=$(mkevent gw-soyte 1 portscan attack.other medium normal 203.0.113.9 198.51.100.10 portal 3)
xadd_event gw-soyte 'this is not JSON'
xadd_event gw-soyte '{"event_type":"alert","timestamp":"2026-11-23T08:16:14.123456+0700"}'
xadd_event gw-soyte "${good/\"v\":1/\"v\":99}"
xadd_event gw-soyte "${good/\"agent\":\"gw-soyte\"/\"agent\":\"gw-other\"}"
xadd_event gw-soyte "${good/attack.other/attack.made-up}"
rc XADD canh:events:gw-soyte '*' payload "$good" >/dev/null
xadd_event gw-soyte "$good"
wait_until 30 "all entries acknowledged" bash -c "[[ \$(redis-cli -s $SOCK XPENDING canh:events:gw-soyte canh-collectors | head -1) == 0 && \$(redis-cli -s $SOCK XLEN canh:deadletter) == 6 ]]"
reasons=$(rc XRANGE canh:deadletter - + | grep -A1 '^reason$' | grep -v -e '^reason$' -e '^--$')
echo "$reasons"
for want in "invalid JSON" "missing object \"canh\"" "unknown schema version canh.v=99" \
    "is not the stream's agent" "unknown taxonomy code \"attack.made-up\"" "no field \"event\""; do
    grep -qF "$want" <<<"$reasons" || fail "no dead letter with reason: $want"
done
[[ $(incidents_where kinds portscan | wc -l) == 1 ]] || fail "the good event after the garbage was not processed"

# Heartbeats: two agents; gw-tuphap stops, gw-soyte keeps sending, five a
# second as an agent would (heartbeat_interval), whatever the test waits on.
(while :; do heartbeat gw-soyte; sleep 0.2; done) &
PIDS+=($!)
heartbeat gw-tuphap "Sở Tư pháp"
wait_until 30 "canh:agents to list both agents" bash -c "[[ \$(redis-cli -s $SOCK HLEN canh:agents) == 2 ]]"
rc HGET canh:agents gw-tuphap | python3 -c 'import json,sys; assert json.load(sys.stdin)["canh"]["agency"]=="Sở Tư pháp"' ||
    fail "canh:agents holds the heartbeat JSON"
# Every command Redis runs, to count the collector's checks for silent agents.
stdbuf -oL redis-cli -s "$SOCK" MONITOR >"$T/monitor.txt" &
PIDS+=($!)
silence_checks() { grep -cF '"ZRANGEBYSCORE" "canh:agent_seen"' "$T/monitor.txt" || true; }
link_opened() { [[ -n $(incidents_where taxonomy fault.link) ]]; }
wait_until 60 "a fault.link incident for the silent agent" link_opened
link=$(incidents_where taxonomy fault.link)
[[ $(wc -w <<<"$link") == 1 ]] || fail "expected one fault.link incident, got: $link"
[[ $(rc HGET "canh:incident:$link" agency) == "Sở Tư pháp" ]] || fail "fault.link agency"
[[ $(rc HGET "canh:incident:$link" status) == open ]] || fail "fault.link should be open"
[[ $(rc HGET "canh:incident:$link" taxonomy_vi) == "Sự cố đường kết nối Internet" ]] || fail "fault.link name"
# It stays one incident while the agent stays silent: two more checks.
checks=$(silence_checks)
checked_twice_more() { (($(silence_checks) >= checks + 2)); }
wait_until 60 "two more checks for silent agents" checked_twice_more
[[ $(incidents_where taxonomy fault.link | wc -w) == 1 ]] || fail "fault.link duplicated"
heartbeat gw-tuphap "Sở Tư pháp"
closed() { [[ $(rc HGET "canh:incident:$link" status) == closed ]]; }
wait_until 30 "fault.link closed after heartbeats resume" closed
[[ $(rc XRANGE canh:incidents - + | grep -c '"taxonomy":{"code":"fault.link"') == 2 ]] ||
    fail "fault.link should be announced opened and closed"
out=$(timeout 60 "$CANH_BIN/canh-tail" -r "unix:$SOCK" --since all --taxonomy fault. -n 2 --no-color) || fail "canh-tail fault."
grep -q "closed .*Sở Tư pháp | Sự cố đường kết nối Internet" <<<"$out" || fail "tail: $out"
echo PASS
