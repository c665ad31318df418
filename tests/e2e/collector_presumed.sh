#!/usr/bin/env bash
# A collector writes a new finding of a source it has not met without
# reading state first ("presumed new", docs/collector.md "Performance").
# Here the guess is wrong: the source's incident and table were made
# before this collector started (by a collector since stopped, and by a
# second collector running beside it). The events must still extend or
# link the existing incidents — no second incident for a key, every event
# acknowledged, no "still conflicting" warning — and the wrong guesses
# show in canh_collector_presumed_misses_total, not in conflicts.
source "$(dirname "$0")/collector_lib.bash"

start_redis
write_conf "$T/c.conf" "
[status]
listen = 127.0.0.1:0
auth = none
refresh = 200ms"

SRC1=203.0.113.50
SRC2=203.0.113.51
acked() { [[ $(pending_count) == 0 ]] && [[ $(rc XINFO GROUPS canh:events:gw-soyte | grep -A1 '^lag$' | tail -1) == 0 ]]; }
metric() { curl -fsS "http://127.0.0.1:$PORT/metrics" | awk -v k="$1 " 'index($0, k) == 1 { print $NF }'; }
status_port() {
    wait_until 30 "the status page of $1 to listen" grep -q 'status page on http://127.0.0.1:' "$T/$1.log"
    PORT=$(grep -o 'status page on http://127.0.0.1:[0-9]*' "$T/$1.log" | tail -1 | sed 's/.*://')
}
n_incidents() { [[ $(redis-cli -s "$SOCK" --scan --pattern 'canh:incident:*' | wc -l) -ge $1 ]]; }

# 1. A first collector opens a scan incident for each of two sources, then
#    stops.
start_collector "$T/c.conf" first
xadd_event gw-soyte "$(mkevent gw-soyte 1 portscan attack.other medium normal $SRC1 198.51.100.10 portal 3)"
xadd_event gw-soyte "$(mkevent gw-soyte 2 portscan attack.other medium normal $SRC2 198.51.100.10 portal 3)"
wait_until 30 "two incidents opened" n_incidents 2
wait_until 30 "the first events acknowledged" acked
kill -TERM "$LAST_PID"
wait_pid 30 "$LAST_PID" || fail "the first collector did not stop cleanly"
scan1=$(incidents_where kinds portscan sources $SRC1)
scan2=$(incidents_where kinds portscan sources $SRC2)
[[ $(wc -w <<<"$scan1 $scan2") == 2 ]] || fail "expected one scan incident per source: $scan1 / $scan2"
# What an operator reads in the journal when it stops: two first events
# of unmet sources, both written at once.
grep -q 'stopped: .* 2 presumed-new writes (0 missed)' "$T/first.log" ||
    fail "the stop line does not count the presumed writes: $(grep 'stopped:' "$T/first.log")"

# 2. A fresh collector (it has met nothing). A new finding with an
#    existing incident key (the scan detected again: new finding id, state
#    new) must extend that incident. The source's table is removed first,
#    so only the guard on the incident key (canh:ikeys) can catch the
#    wrong guess.
rc DEL "canh:src:$SRC1" >/dev/null
start_collector "$T/c.conf" second
status_port second
xadd_event gw-soyte "$(mkevent gw-soyte 3 portscan attack.other medium normal $SRC1 198.51.100.10 portal 3 new | sed 's/:fportscan"/:fportscan-again"/')"
wait_until 30 "the re-detected scan applied" bash -c "[[ \$(redis-cli -s $SOCK HGET canh:incident:$scan1 events) == 2 ]]"
wait_until 30 "the re-detected scan acknowledged" acked
[[ $(incidents_where kinds portscan sources $SRC1) == "$scan1" ]] || fail "a second scan incident for $SRC1"
misses=$(metric canh_collector_presumed_misses_total)
[[ $misses == 1 ]] || fail "presumed_misses_total is '$misses' after one wrong guess"
pass "a new finding of an existing incident key extends it (presumed miss counted)"

# 3. A new kind from the other source: its incident key is new, but the
#    source's table exists, so the guess is wrong again; read, the event
#    opens the flood incident and a combined incident links it to the scan.
xadd_event gw-soyte "$(mkevent gw-soyte 4 syn_flood attack.dos high normal $SRC2 198.51.100.10 portal 3)"
wait_until 30 "the flood and combined incidents" n_incidents 4
wait_until 30 "the flood event acknowledged" acked
combined=$(incidents_where type combined)
[[ $(wc -w <<<"$combined") == 1 ]] || fail "expected one combined incident, got: $combined"
children=$(rc HGET "canh:incident:$combined" children)
grep -q "$scan2" <<<"$children" || fail "the combined incident does not link the scan incident: $children"
[[ $(incidents_where kinds syn_flood | wc -w) == 1 ]] || fail "expected one flood incident"
[[ $(metric canh_collector_presumed_misses_total) == 2 ]] || fail "presumed_misses_total should be 2"
pass "a new kind of a known source joins its campaign (presumed miss counted)"

# 4. A source nobody has seen: the guess is right, nothing to read.
before=$(metric canh_collector_presumed_writes_total)
xadd_event gw-soyte "$(mkevent gw-soyte 5 portscan attack.other medium normal 192.0.2.77 198.51.100.10 portal 3)"
wait_until 30 "the new source's incident" n_incidents 5
wait_until 30 "the new source's event acknowledged" acked
[[ $(incidents_where sources 192.0.2.77 | wc -w) == 1 ]] || fail "expected one incident for 192.0.2.77"
after=$(metric canh_collector_presumed_writes_total)
((after == before + 1)) || fail "presumed_writes_total went $before -> $after for a new source"
[[ $(metric canh_collector_presumed_misses_total) == 2 ]] || fail "a right guess counted as a miss"
[[ $(metric canh_collector_conflicts_total) == 0 ]] || fail "presumed misses counted as conflicts"
pass "a new source is written at once (presumed, no miss)"

# 5. A second collector in the group opens incidents this one has not met:
#    sources that each send two findings, spread over both collectors.
start_collector "$T/c.conf" third
N=20
seq=10
for s in $(seq $N); do
    for kind in portscan syn_flood; do
        seq=$((seq + 1))
        case $kind in portscan) tax=attack.other ;; *) tax=attack.dos ;; esac
        xadd_event gw-soyte "$(mkevent gw-soyte $seq $kind $tax medium normal "10.77.0.$s" 198.51.100.10 portal 3)"
    done
done
wait_until 60 "all events acknowledged" acked
# One line per incident: type kinds sources.
for key in $(rc --scan --pattern 'canh:incident:*'); do
    rc HMGET "$key" type kinds sources | paste -sd' '
done >"$T/incidents.txt"
for s in $(seq $N); do
    for kind in portscan syn_flood; do
        n=$(grep -c "^finding $kind 10.77.0.$s\$" "$T/incidents.txt" || true)
        [[ $n == 1 ]] || fail "$n $kind incidents for 10.77.0.$s"
    done
done
[[ $(incidents_where type combined | wc -w) == $((N + 1)) ]] || fail "expected $((N + 1)) combined incidents"
seen=$(rc --scan --pattern 'canh:seen:*' | wc -l)
[[ $seen == $((5 + 2 * N)) ]] || fail "$seen events marked processed, expected $((5 + 2 * N))"
pass "two collectors: one incident per key, every event applied once"

! grep -q "still conflicting" "$T"/*.log || fail "a conflict warning: $(grep -h 'still conflicting' "$T"/*.log)"
echo PASS
