#!/usr/bin/env bash
# A burst of one finding is applied one entry after another; while the
# tail of it waits its turn, Redis sees those entries idle.  When Redis
# stalls (here CLIENT PAUSE, in the field a restart or a slow disk) they
# pass claim_idle, and the collector's own claim must not queue them a
# second time: before, every claim added the waiting entries again, the
# queue grew faster than it drained and the collector stopped reading new
# entries (issue 19).  One collector alone: nothing is applied twice.
source "$(dirname "$0")/collector_lib.bash"

start_redis
# The burst outlasts the look that sees it delivered: 600 entries of one
# finding took a fast collector ~0.1 s, all applied before the look every
# 0.1 s could see one pending.  600 of them in flight at once, as before.
N=6000
INFLIGHT=600
cat >"$T/c.conf" <<EOF
[collector]
redis_url = unix:$SOCK
block = 200ms
batch = $INFLIGHT
max_inflight = $INFLIGHT
claim_idle = 1s
claim_interval = 200ms
discover_interval = 500ms
log_level = info
EOF

rc XGROUP CREATE canh:events:gw-burst canh-collectors 0 MKSTREAM >/dev/null
# The burst in one redis-cli --pipe: RESP (lengths in bytes), the events
# one template with their own ids (no process per event).
first=$(mkevent gw-burst 1 syn_flood attack.dos high normal 203.0.113.9 198.51.100.10 portal 3 new)
update=${first/'"event_type":"alert"'/'"event_type":"finding"'}
update=${update/'"state":"new"'/'"state":"update"'}
(
    export LC_ALL=C
    for ((i = 1; i <= N; i++)); do
        ev=$first
        printf -v id %06d "$i"
        ((i == 1)) || ev=${update/'b00t:000001'/"b00t:$id"}
        printf '*8\r\n$4\r\nXADD\r\n$20\r\ncanh:events:gw-burst\r\n$6\r\nMAXLEN\r\n$1\r\n~\r\n'
        printf '$6\r\n100000\r\n$1\r\n*\r\n$5\r\nevent\r\n$%d\r\n%s\r\n' ${#ev} "$ev"
    done
) | rc --pipe >/dev/null
[[ $(rc XLEN canh:events:gw-burst) == "$N" ]] || fail "setup: $(rc XLEN canh:events:gw-burst) entries, expected $N"

start_collector "$T/c.conf" collector
delivered() { [[ $(rc XPENDING canh:events:gw-burst canh-collectors | head -1) -gt 0 ]]; }
wait_until 60 "the collector to read the burst" delivered
# Redis stalls for 3 s with most of the burst still queued in the collector.
rc CLIENT PAUSE 3000 ALL >/dev/null
drained() { [[ $(pending_count) == 0 && $(rc XINFO GROUPS canh:events:gw-burst | grep -A1 '^lag$' | tail -1) == 0 ]]; }
wait_until 120 "the collector to drain the burst" drained

kill -TERM "$LAST_PID"
wait_pid 60 "$LAST_PID" || fail "the collector did not stop on SIGTERM"
stopped=$(grep 'stopped:' "$T/collector.log") || fail "no stop summary in the log"
echo "$stopped"
grep -q " $N applied, 0 duplicates" <<<"$stopped" || fail "entries were applied twice or not at all"
n=$(rc HGET "canh:incident:$(incidents_where type finding)" events)
[[ $n == "$N" ]] || fail "the incident counts $n events, expected $N"
echo PASS
