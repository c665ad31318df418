#!/usr/bin/env bash
# A collector's own pending entries — delivered to it, not yet applied,
# as a Redis restart or a lost connection leaves them — are all applied as
# soon as it reads again, page after page, not only the first page with
# the rest left for claim_idle (issue 19: after Redis restarts the
# collector seemed to stall for claim_idle).
source "$(dirname "$0")/collector_lib.bash"

start_redis
N=60
cat >"$T/c.conf" <<EOF
[collector]
redis_url = unix:$SOCK
consumer = collector-1
block = 200ms
batch = 8
claim_idle = 10m
claim_interval = 10m
discover_interval = 500ms
log_level = info
EOF

rc XGROUP CREATE canh:events:gw-own canh-collectors 0 MKSTREAM >/dev/null
for ((i = 1; i <= N; i++)); do
    xadd_event gw-own "$(mkevent gw-own "$i" portscan attack.other medium normal "10.7.0.$i" \
        198.51.100.10 portal 3 new)"
done
# Delivered to collector-1 and never acknowledged: what a read whose
# replies were lost with the connection leaves behind.
rc XREADGROUP GROUP canh-collectors collector-1 COUNT $N STREAMS canh:events:gw-own '>' >/dev/null
[[ $(pending_count) == "$N" ]] || fail "setup: $(pending_count) pending, expected $N"

start_collector "$T/c.conf" collector
applied_all() { [[ $(pending_count) == 0 ]]; }
# claim_idle is 10 minutes: only the re-read of its own entries can do this.
wait_until 60 "collector-1 to apply its $N pending entries" applied_all
seen=$(rc --scan --pattern 'canh:seen:*' | wc -l)
[[ $seen == "$N" ]] || fail "$seen events applied, expected $N"
! grep -q 'claimed' "$T/collector.log" || fail "entries were claimed, not re-read"
echo PASS
