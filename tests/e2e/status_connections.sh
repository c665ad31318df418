#!/usr/bin/env bash
# 1,100 idle connections to the status page must not stop event processing
# (issue 19, item 5): with an open-file limit of 256 the collector keeps
# applying events, reconnects to Redis when its connections are cut in
# the middle of the flood, does not flood its log, and the page answers
# again once the connections go.
#
# Needs only what every collector with a status page had (token_file and
# a bearer token), so it also runs against old builds:
#   CANH_BIN=/tmp/old/build/bin tests/e2e/status_connections.sh
source "$(dirname "$0")/collector_lib.bash"

start_redis
TOKEN=tok-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$TOKEN" >"$T/token"
write_conf "$T/c.conf" "
[status]
listen = 127.0.0.1:0
token_file = $T/token
refresh = 500ms
"
# 256 descriptors: 1,100 connections exhaust them unless the page caps its own.
(
    ulimit -n 256
    exec "$CANH_BIN/canh-collector" -c "$T/c.conf"
) >>"$T/collector.log" 2>&1 &
COLLECTOR=$!
PIDS+=($COLLECTOR)
wait_until 30 "status page address in the log" grep -q 'status page on http://127.0.0.1:' "$T/collector.log"
PORT=$(grep -o 'status page on http://127.0.0.1:[0-9]*' "$T/collector.log" | head -1 | sed 's/.*://')
BASE="http://127.0.0.1:$PORT"
http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $TOKEN" "$@"; }
page_up() { [[ $(http_code "$BASE/metrics") == 200 ]]; }
wait_until 30 "the page to answer" page_up
pass "status page on $BASE, open-file limit 256"

AGENCY='Sở Tư pháp'
xadd_event gw-tuphap "$(mkevent gw-tuphap 1 portscan attack.other low normal 192.0.2.99 198.51.100.80 web 2 new "$AGENCY")"
incident() { incidents_where agency "$AGENCY" | head -1; }
wait_until 30 "the first event applied" bash -c "[[ -n \$(redis-cli -s '$SOCK' --scan --pattern 'canh:incident:*' | head -1) ]]"
wait_until 30 "the incident of the first event" test -n "$(incident)"
ID=$(incident)
[[ -n $ID ]] || fail "no incident for $AGENCY"

# ---- the flood ------------------------------------------------------------
lines_before=$(wc -l <"$T/collector.log")
timeout 150 python3 "$CANH_SRC/tests/e2e/lib/idle_connections.py" "$PORT" "$T/flood.ready" "$T/flood.release" 120 \
    >"$T/flood.out" 2>&1 &
FLOOD=$!
PIDS+=($FLOOD)
wait_until 60 "1,100 connections opened" test -f "$T/flood.ready"
# The collector has stopped accepting (at its cap, or out of descriptors)
# once connections wait in the listening socket's queue.
queued() { (($(ss -Hltn "sport = :$PORT" | awk '{print $2}' | head -1) > 0)); }
wait_until 60 "connections waiting in the listen queue" queued
fds=$(ls "/proc/$COLLECTOR/fd" | wc -l)

# Cut the collector's Redis connections: it must make new ones, which
# takes descriptors the idle connections must not have taken.
rc CLIENT KILL TYPE normal >/dev/null
for i in $(seq 2 21); do
    xadd_event gw-tuphap "$(mkevent gw-tuphap "$i" portscan attack.other low normal 192.0.2.99 198.51.100.80 web 2 update "$AGENCY")"
done
# Waits for the 20 events, but gives up at once if the log floods (an
# accept loop spinning on EMFILE writes some 100,000 lines a second).
FLOODED=0
applied_or_flooded() {
    if (($(wc -l <"$T/collector.log") - lines_before > 2000)); then
        FLOODED=1
        return 0
    fi
    [[ $(rc HGET "canh:incident:$ID" events) == 21 ]]
}
wait_until 90 "20 events applied during the connection flood (Redis connections cut meanwhile)" applied_or_flooded
lines_during=$(($(wc -l <"$T/collector.log") - lines_before))
if ((FLOODED)); then
    echo "--- log during the flood (first and last lines):"
    sed -n "$((lines_before + 1)),$((lines_before + 5))p" "$T/collector.log"
    tail -3 "$T/collector.log"
    fail "$lines_during log lines before the events were applied: the log floods"
fi
emfile=$(sed -n "$((lines_before + 1)),\$p" "$T/collector.log" | grep -c 'Too many open files' || true)
((emfile == 0)) || fail "the collector ran out of descriptors during the flood ($emfile log lines say so): $(grep -m3 'Too many open files' "$T/collector.log")"
((lines_during < 60)) || fail "$lines_during log lines during the flood: $(tail -5 "$T/collector.log")"
pass "1,100 idle connections: $fds descriptors in use, Redis reconnected, 20 events applied, $lines_during log lines"

touch "$T/flood.release"
wait_pid 60 "$FLOOD" || fail "the flood script did not end"
wait_until 60 "the page to answer after the flood" page_up
kill -0 "$COLLECTOR" || fail "the collector died"
pass "the page answers again once the connections are gone"
