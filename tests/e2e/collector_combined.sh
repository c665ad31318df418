#!/usr/bin/env bash
# One address scans, floods and defaces one agency: the collector opens one
# incident per kind and one attack.combined incident linking the three;
# canh-tail prints them, and its filters and --json work.
source "$(dirname "$0")/collector_lib.bash"

start_redis
write_conf "$T/c.conf"
start_collector "$T/c.conf" collector

SRC=203.0.113.7
xadd_event gw-soyte "$(mkevent gw-soyte 1 portscan attack.other medium normal $SRC 198.51.100.10 portal 3)"
xadd_event gw-soyte "$(mkevent gw-soyte 2 portscan attack.other medium normal $SRC 198.51.100.10 portal 3 update)"
xadd_event gw-soyte "$(mkevent gw-soyte 3 syn_flood attack.dos high normal $SRC 198.51.100.10 portal 3)"
xadd_event gw-soyte "$(mkevent gw-soyte 4 defacement attack.defacement critical serious_candidate $SRC 198.51.100.10 portal 4)"
# Another source, another agency: must not join the campaign.
xadd_event gw-tuphap "$(mkevent gw-tuphap 1 portscan attack.other low normal 192.0.2.99 198.51.100.80 web 2 new 'Sở Tư pháp')"

wait_until 30 "all events acknowledged" bash -c "[[ \$(source /dev/stdin <<<'$(declare -f rc pending_count); SOCK=$SOCK'; pending_count) == 0 && \$(redis-cli -s $SOCK XLEN canh:incidents) -ge 6 ]]"

combined=$(incidents_where type combined)
[[ $(wc -w <<<"$combined") == 1 ]] || fail "expected one combined incident, got: $combined"
[[ $(rc XRANGE canh:incidents - + | grep -c '^linked$') == 1 ]] || fail "the third kind should be announced as linked"
[[ $(rc HGET "canh:incident:$combined" taxonomy) == attack.combined ]] || fail "combined taxonomy"
[[ $(rc HGET "canh:incident:$combined" taxonomy_vi) == "Tấn công tổng hợp sử dụng kết hợp nhiều hình thức" ]] ||
    fail "combined Vietnamese name"
children=$(rc HGET "canh:incident:$combined" children)
[[ $(tr ',' '\n' <<<"$children" | wc -l) == 3 ]] || fail "combined should link 3 incidents: $children"
for kind in portscan syn_flood defacement; do
    id=$(incidents_where kinds $kind agency "Sở Y tế")
    [[ $(wc -w <<<"$id") == 1 ]] || fail "expected one $kind incident, got: $id"
    grep -q "$id" <<<"$children" || fail "$kind incident $id not linked by the combined one"
    [[ $(rc HGET "canh:incident:$id" combined_id) == "$combined" ]] || fail "$kind incident lacks combined_id"
done
scan=$(incidents_where kinds portscan agency "Sở Y tế")
[[ $(rc HGET "canh:incident:$scan" events) == 2 ]] || fail "the scan update should extend the scan incident"
[[ $(rc HGET "canh:incident:$combined" class) == serious_candidate ]] || fail "combined class"
[[ $(rc HGET "canh:incident:$combined" severity) == critical ]] || fail "combined severity"
[[ -z $(incidents_where type province) ]] || fail "no province-wide incident expected"

# canh-tail: the five 'opened' entries, readable, then filters and --json.
out=$(timeout 60 "$CANH_BIN/canh-tail" -r "unix:$SOCK" --since all -n 5 --no-color --wide) || fail "canh-tail -n 5 failed"
echo "$out"
[[ $(wc -l <<<"$out") == 5 ]] || fail "canh-tail -n 5 printed $(wc -l <<<"$out") lines"
grep -q "Tấn công tổng hợp sử dụng kết hợp nhiều hình thức \[combined\]" <<<"$out" || fail "tail: combined line"
grep -q "Tấn công từ chối dịch vụ" <<<"$out" || fail "tail: DoS line"
grep -q "203.0.113.7 → portal (198.51.100.10)" <<<"$out" || fail "tail: source → target"
# The other agency's incident may be the first of the six entries: the
# collector finds gw-tuphap's stream when it will.
out=$(timeout 60 "$CANH_BIN/canh-tail" -r "unix:$SOCK" --since all -n 6 --no-color --wide) || fail "canh-tail -n 6 failed"
grep -q "Sở Tư pháp" <<<"$out" || fail "tail: other agency"
out=$(timeout 60 "$CANH_BIN/canh-tail" -r "unix:$SOCK" --since 1h -n 3 --agency "Sở Y tế" --min-severity high --no-color --wide) ||
    fail "canh-tail with filters did not print 3 lines"
! grep -q -e "Sở Tư pháp" -e MEDIUM <<<"$out" || fail "tail filters let through: $out"
out=$(timeout 60 "$CANH_BIN/canh-tail" -r "unix:$SOCK" --since all -n 1 --class serious_candidate --no-color --wide) ||
    fail "canh-tail --class"
grep -q "Tấn công thay đổi giao diện" <<<"$out" || fail "tail --class: $out"
out=$(timeout 60 "$CANH_BIN/canh-tail" -r "unix:$SOCK" --since all -n 1 --taxonomy attack.combined --json) ||
    fail "canh-tail --json"
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["incident"]["taxonomy"]["code"]=="attack.combined"; assert len(d["incident"]["children"])>=2' "$out" ||
    fail "tail --json: $out"
# --color uses escapes; Ctrl-C exits cleanly.
timeout 60 "$CANH_BIN/canh-tail" -r "unix:$SOCK" --since all -n 1 --color | grep -q $'\033\[' || fail "tail --color"
# following: a client of Redis blocks in XREAD (canh-tail following;
# the collector reads with XREADGROUP)
following() { rc CLIENT LIST | grep -q ' cmd=xread '; }
"$CANH_BIN/canh-tail" -r "unix:$SOCK" >"$T/tail.out" 2>&1 &
tail_pid=$!
wait_until 30 "canh-tail to follow the stream" following
kill -INT $tail_pid
wait_pid 30 $tail_pid || fail "canh-tail should exit 0 on SIGINT, got $?"
# A lost connection prints one line and canh-tail follows again
# (tests/e2e/tail_reconnect.sh restarts Redis itself).
"$CANH_BIN/canh-tail" -r "unix:$SOCK" >"$T/tail2.out" 2>&1 &
tail_pid=$!
wait_until 30 "canh-tail to follow the stream" following
rc CLIENT KILL TYPE normal >/dev/null
wait_until 30 "canh-tail to report the lost connection" grep -q "lost connection" "$T/tail2.out"
wait_until 30 "canh-tail to follow again" following
kill -INT $tail_pid
wait_pid 30 $tail_pid || fail "canh-tail should exit 0 on SIGINT after reconnecting, got $?"
[[ $(wc -l <"$T/tail2.out") == 1 ]] || fail "tail on lost connection: $(cat "$T/tail2.out")"
# --events reads raw events from every agent.
out=$(timeout 60 "$CANH_BIN/canh-tail" -r "unix:$SOCK" --events --since all -n 5 --no-color) ||
    fail "canh-tail --events"
grep -q "(defacement)" <<<"$out" || fail "tail --events: $out"
echo PASS
