#!/usr/bin/env bash
# Exactly-once effects: events flow while collectors are killed with SIGKILL
# at random points (10 times); a last collector then drains the streams.
# Every event must count exactly once in exactly one incident, no incident
# may be duplicated, and duplicates re-sent by an agent (spool replay) must
# have no effect.
source "$(dirname "$0")/collector_lib.bash"

start_redis
write_conf "$T/c.conf"

N_SRC=30      # sources; each scans, and every third also floods
PER_SRC=4     # events per (source, kind): new, update, update, end
produce() {
    local s k seq=0 ev state
    for ((k = 0; k < PER_SRC; k++)); do
        case $k in 0) state=new ;; $((PER_SRC - 1))) state=end ;; *) state=update ;; esac
        for ((s = 1; s <= N_SRC; s++)); do
            seq=$((seq + 1))
            ev=$(mkevent gw-soyte $seq portscan attack.other medium normal "10.9.0.$s" 198.51.100.10 portal 3 $state)
            xadd_event gw-soyte "$ev"
            if ((s % 3 == 0)); then
                seq=$((seq + 1))
                ev=$(mkevent gw-soyte $seq syn_flood attack.dos high normal "10.9.0.$s" 198.51.100.10 portal 3 $state)
                xadd_event gw-soyte "$ev"
            fi
            # An agent replaying its spool sends some events twice.
            if ((seq % 7 == 0)); then xadd_event gw-soyte "$ev"; fi
            sleep 0.01
        done
    done
    echo $seq >"$T/produced"
}
produce &
producer=$!

for round in $(seq 10); do
    start_collector "$T/c.conf" "collector$round"
    sleep "0.$((RANDOM % 6 + 1))"
    kill -KILL "$LAST_PID"
    wait "$LAST_PID" 2>/dev/null || true
done
wait $producer
distinct=$(cat "$T/produced")
total=$(rc XLEN canh:events:gw-soyte)
echo "produced $distinct distinct events in $total entries"
((total > distinct)) || fail "the test should re-send some events"

start_collector "$T/c.conf" final
drained() {
    local info
    info=$(rc XINFO GROUPS canh:events:gw-soyte)
    [[ $(pending_count) == 0 ]] &&
        [[ $(grep -A1 '^last-delivered-id$' <<<"$info" | tail -1) == $(rc XINFO STREAM canh:events:gw-soyte | grep -A1 '^last-generated-id$' | tail -1) ]]
}
wait_until 60 "the group drained (claims of killed consumers included)" drained

# Each distinct event id was processed: one dedup marker each.
seen=$(rc --scan --pattern 'canh:seen:*' | wc -l)
[[ $seen == "$distinct" ]] || fail "$seen events marked processed, expected $distinct"
# Each counted exactly once: the finding incidents' event counts add up.
sum=0
for id in $(incidents_where type finding); do
    sum=$((sum + $(rc HGET "canh:incident:$id" events)))
done
[[ $sum == "$distinct" ]] || fail "incidents count $sum events, expected $distinct"
# No duplicate incident: one per (kind, source), one combined per flooding source.
findings=$(incidents_where type finding | wc -l)
expected=$((N_SRC + N_SRC / 3))
[[ $findings == "$expected" ]] || fail "$findings finding incidents, expected $expected"
combined=$(incidents_where type combined | wc -l)
[[ $combined == $((N_SRC / 3)) ]] || fail "$combined combined incidents, expected $((N_SRC / 3))"
opened=$(rc XRANGE canh:incidents - + | grep -c '^opened$')
[[ $opened == $((expected + N_SRC / 3)) ]] || fail "$opened 'opened' announcements, expected $((expected + N_SRC / 3))"
grep -h "claimed" "$T"/*.log | head -3 || true
echo PASS
