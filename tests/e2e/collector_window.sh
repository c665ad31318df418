#!/usr/bin/env bash
# The apply window (max_inflight, issue 17): with a window smaller than the
# number of streams, five agents' backlogs — each a burst of one finding
# (a spool replay) and findings of distinct sources — drain completely,
# every event counted once in the right incident, without the collector
# conflicting with itself while it reads again as the window frees.
source "$(dirname "$0")/collector_lib.bash"

start_redis
cat >"$T/c.conf" <<EOF
[collector]
redis_url = unix:$SOCK
block = 200ms
batch = 100
max_inflight = 3
claim_idle = 60s
claim_interval = 30s
discover_interval = 500ms
log_level = info
EOF

AGENTS=(gw-a gw-b gw-c gw-d gw-e)
BURST=24    # events of one finding per agent: new, then updates
DISTINCT=12 # one-event findings of distinct sources per agent
produce() { # agent index
    local agent=${AGENTS[$1]} k seq=0 state
    for ((k = 0; k < BURST; k++)); do
        seq=$((seq + 1))
        ((k == 0)) && state=new || state=update
        mkevent "$agent" $seq syn_flood attack.dos high normal "203.0.113.$(($1 + 1))" \
            198.51.100.10 portal 3 $state "Agency $agent"
    done
    for ((k = 1; k <= DISTINCT; k++)); do
        seq=$((seq + 1))
        mkevent "$agent" $seq "portscan$k" attack.other medium normal "10.$(($1 + 1)).0.$k" \
            198.51.100.10 portal 3 new "Agency $agent"
    done
}
# All of it queued before the collector starts: a backlog, not a trickle.
for i in "${!AGENTS[@]}"; do
    produce "$i" | while IFS= read -r ev; do xadd_event "${AGENTS[$i]}" "$ev"; done
done
total=$((${#AGENTS[@]} * (BURST + DISTINCT)))

start_collector "$T/c.conf" collector
drained() {
    local a info
    [[ $(pending_count) == 0 ]] || return 1
    for a in "${AGENTS[@]}"; do
        info=$(rc XINFO GROUPS "canh:events:$a" 2>/dev/null) || return 1
        [[ $(grep -A1 '^last-delivered-id$' <<<"$info" | tail -1) == \
            $(rc XINFO STREAM "canh:events:$a" | grep -A1 '^last-generated-id$' | tail -1) ]] || return 1
    done
}
wait_until 120 "the collector to drain $total events of ${#AGENTS[@]} streams" drained
kill -0 "$LAST_PID" || fail "the collector died"

seen=$(rc --scan --pattern 'canh:seen:*' | wc -l)
[[ $seen == "$total" ]] || fail "$seen events marked processed, expected $total"
# type, sources and events of every incident, one line each (one
# redis-cli for all: a loaded machine pays per process)
rc --scan --pattern 'canh:incident:*' | sed 's/^/HMGET /; s/$/ type sources events/' |
    rc | paste - - - >"$T/incidents.txt"
for i in "${!AGENTS[@]}"; do
    src=203.0.113.$((i + 1))
    n=$(awk -F'\t' -v s="$src" '$1 == "finding" && $2 == s' "$T/incidents.txt" | wc -l)
    [[ $n == 1 ]] || fail "${AGENTS[$i]}: burst in $n incidents, expected 1"
    n=$(awk -F'\t' -v s="$src" '$1 == "finding" && $2 == s {print $3}' "$T/incidents.txt")
    [[ $n == "$BURST" ]] || fail "${AGENTS[$i]}: burst incident counts $n events, expected $BURST"
done
findings=$(awk -F'\t' '$1 == "finding"' "$T/incidents.txt" | wc -l)
expected=$((${#AGENTS[@]} * (1 + DISTINCT)))
[[ $findings == "$expected" ]] || fail "$findings finding incidents, expected $expected"
# Its own account at stop: every entry applied once, no write conflicted
# (only this collector ran: a conflict would be it fighting itself).
kill -TERM "$LAST_PID"
wait_pid 60 "$LAST_PID" || fail "the collector did not stop on SIGTERM"
stopped=$(grep 'stopped:' "$T/collector.log") || fail "no stop summary in the log"
echo "$stopped"
grep -q " $total applied," <<<"$stopped" || fail "the collector did not apply $total entries"
grep -q ' 0 conflicts retried' <<<"$stopped" || fail "the collector conflicted with itself"
grep -q ' 0 errors' <<<"$stopped" || fail "the collector reported errors"
! grep -q 'still conflicting' "$T/collector.log" || fail "entries were left conflicting"
echo PASS
