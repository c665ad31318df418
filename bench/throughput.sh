#!/usr/bin/env bash
# bench/throughput.sh — capture throughput and memory of canh-agent.
#
#   bench/throughput.sh [BUILD_DIR]     (default: build)
#
#   BENCH_BIG=0 skips the 10M capture, BENCH_OFFLINE=0 every capture file
#   (only the live rows).
#
# For each synthetic capture it times a bare libpcap read loop and
# `canh-agent -r` with every detector on, in the same run, 3 runs each,
# and reports the agent's times (fastest–slowest), the ratio (agent rate
# / bare rate, best runs; in brackets the spread over the 3 runs), the
# agent's peak RSS and the events it raised.  Captures are generated once
# into bench/out/.
#
# Then, as root, the live agent: idle on the loopback of a network
# namespace this script creates (nothing else in it, so no frame can
# leave), and while tcpreplay replays the mixed and scanners captures
# into it.
#
# Each row ends with the targets of issue 17 — ratio >= 0.5 and peak RSS
# <= 64 MiB — as met or not met.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BIN=$BUILD/bin
OUT=bench/out
RATIO_TARGET=0.5
RSS_TARGET_MIB=64
mkdir -p "$OUT"
for tool in canh-agent bench-gen-pcap bench-pcap-read; do
    [ -x "$BIN/$tool" ] || { echo "missing $BIN/$tool: build first (cmake --build $BUILD)"; exit 1; }
done

gen() { # NAME MODE PACKETS
    [ -s "$OUT/$1.pcap" ] || "$BIN/bench-gen-pcap" "$2" "$3" "$OUT/$1.pcap" >/dev/null
}

# 3 runs of a command: the wall times (s) into $OUT/times.txt, one a
# line; the largest peak RSS (KiB) of the three into $OUT/rss.txt.  The
# time is bash's microsecond clock around the run, not time(1)'s %e: a
# bare read of spoofed-1M takes ~40 ms, and %e's 10 ms steps made its
# ratio jump by 0.05-0.1 between neighbouring values.
us_now() { local t=${EPOCHREALTIME/./}; echo $((10#$t)); }
three_runs() {
    local t0 t1 rss maxrss=0
    : >"$OUT/times.txt"
    for _ in 1 2 3; do
        t0=$(us_now)
        /usr/bin/time -f "%M" -o "$OUT/time.txt" "$@" >/dev/null 2>"$OUT/stderr.txt" ||
            { cat "$OUT/stderr.txt" >&2; exit 1; }
        t1=$(us_now)
        read -r rss <"$OUT/time.txt"
        awk -v d=$((t1 - t0)) 'BEGIN{printf "%.6f\n", d / 1e6}' >>"$OUT/times.txt"
        [ "$rss" -gt "$maxrss" ] && maxrss=$rss
    done
    echo "$maxrss" >"$OUT/rss.txt"
}

verdict() { # RATIO RSS_KIB: "met" or "not met (...)"
    awk -v r="$1" -v m="$2" -v rt="$RATIO_TARGET" -v mt="$RSS_TARGET_MIB" 'BEGIN{
        why = ""
        if (r != "-" && r + 0 < rt) why = why sprintf("ratio %.2f < %.1f", r, rt)
        if (m / 1024 > mt) why = why (why ? ", " : "") sprintf("RSS %.1f > %d MiB", m / 1024, mt)
        print (why ? "not met (" why ")" : "met") }'
}

printf '| capture | packets | bare read s (best) | agent s (3 runs) | ratio (spread) | agent Mpps | peak RSS MiB | events | first flood after s | target: ratio >= %s, RSS <= %s MiB |\n' \
    "$RATIO_TARGET" "$RSS_TARGET_MIB"
printf '|---|---|---|---|---|---|---|---|---|---|\n'
run_case() { # NAME MODE PACKETS
    gen "$1" "$2" "$3"
    local f="$OUT/$1.pcap"
    local bare amin amax rss events
    three_runs "$BIN/bench-pcap-read" "$f"
    bare=$(sort -g "$OUT/times.txt" | head -1)
    # appended to by each run: a file left by an interrupted run would
    # add its events to the count
    rm -f "$OUT/$1.events.jsonl.tmp"
    three_runs "$BIN/canh-agent" -q -r "$f" --assets tests/fixtures/assets.conf \
        --output "jsonl:$OUT/$1.events.jsonl.tmp"
    amin=$(sort -g "$OUT/times.txt" | head -1)
    amax=$(sort -g "$OUT/times.txt" | tail -1)
    rss=$(cat "$OUT/rss.txt")
    # the events file was appended 3 times: count one run's worth
    events=$(($(wc -l <"$OUT/$1.events.jsonl.tmp") / 3))
    # capture time from a flood's first evidence to its "new" event
    latency=$(/usr/bin/python3 - "$OUT/$1.events.jsonl.tmp" <<'PY'
import json, sys
from datetime import datetime
for line in open(sys.argv[1]):
    c = json.loads(line)
    e = c["canh"]
    if e["state"] == "new" and e["kind"].endswith("flood"):
        t = lambda s: datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
        print("%.3f" % (t(c["timestamp"]) - t(e["first_seen"])))
        break
else:
    print("-")
PY
)
    rm -f "$OUT/$1.events.jsonl.tmp"
    local ratio
    ratio=$(awk -v b="$bare" -v a="$amin" 'BEGIN{printf "%.2f", (a > 0 ? b / a : 0)}')
    awk -v n="$1" -v p="$3" -v b="$bare" -v a="$amin" -v z="$amax" -v r="$rss" -v e="$events" \
        -v l="$latency" -v v="$(verdict "$ratio" "$rss")" 'BEGIN{
        printf "| %s | %d | %.3f | %.3f–%.3f | %.2f (%.2f–%.2f) | %.2f | %.1f | %d | %s | %s |\n",
               n, p, b, a, z, (a > 0 ? b / a : 0), (z > 0 ? b / z : 0), (a > 0 ? b / a : 0),
               (a > 0 ? p / a / 1e6 : 0), r / 1024, e, l, v }'
}

if [ "${BENCH_OFFLINE:-1}" = 1 ]; then
    run_case mixed-3M mixed 3000000
    run_case scanners-5k scanners 640000
    run_case spoofed-1M spoofed 1000000
    if [ "${BENCH_BIG:-1}" = 1 ]; then
        run_case spoofed-10M spoofed 10000000
    fi
fi
gen mixed-3M mixed 3000000 # replayed live below
gen scanners-5k scanners 640000

# ---- live: RSS of an idle agent, then while captures are replayed into it
if [ "$(id -u)" != 0 ] || ! command -v tcpreplay >/dev/null; then
    echo
    echo "live RSS: skipped (needs root and tcpreplay)"
    exit 0
fi
NS=canh-bench-$$
AGENT_PID=
cleanup() {
    [ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
    ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
hwm() { awk '/^VmHWM:/{print $2}' "/proc/$AGENT_PID/status"; }
# Until RSS stops growing for half a second (at most 10 s).
settle() {
    local prev=0 same=0 cur
    for _ in $(seq 100); do
        cur=$(hwm)
        if [ "$cur" = "$prev" ]; then same=$((same + 1)); else same=0; fi
        [ "$same" -ge 5 ] && return
        prev=$cur
        sleep 0.1
    done
}
start_agent() {
    ip netns exec "$NS" "$BIN/canh-agent" -q -i lo --assets tests/fixtures/assets.conf \
        --output "jsonl:$OUT/live.events.jsonl" &
    AGENT_PID=$!
    # Up once the capture ring is mapped (a socket mapping), at most 10 s.
    for _ in $(seq 100); do
        grep -q 'socket:' "/proc/$AGENT_PID/maps" 2>/dev/null && break
        sleep 0.1
    done
    settle
}
stop_agent() {
    kill "$AGENT_PID"
    wait "$AGENT_PID" 2>/dev/null || true
    AGENT_PID=
}
printf '\n| live agent (netns loopback, default buffer_mb) | peak RSS MiB | target: RSS <= %s MiB |\n|---|---|---|\n' "$RSS_TARGET_MIB"
start_agent
idle=$(hwm)
printf '| idle | %.1f | %s |\n' "$(awk -v k="$idle" 'BEGIN{print k / 1024}')" "$(verdict - "$idle")"
# 300,000 frames of each capture, as fast as tcpreplay sends them, each
# into a fresh agent.
replayed=300000
for name in mixed-3M scanners-5k; do
    [ -n "$AGENT_PID" ] || start_agent
    ip netns exec "$NS" tcpreplay -q -i lo -L "$replayed" --topspeed "$OUT/$name.pcap" >/dev/null 2>&1 || true
    settle
    loaded=$(hwm)
    stop_agent
    printf '| after %d frames of %s (tcpreplay --topspeed) | %.1f | %s |\n' "$replayed" "$name" \
        "$(awk -v k="$loaded" 'BEGIN{print k / 1024}')" "$(verdict - "$loaded")"
done
