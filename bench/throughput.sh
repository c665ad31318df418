#!/usr/bin/env bash
# bench/throughput.sh — capture throughput and memory of canh-agent.
#
#   bench/throughput.sh [BUILD_DIR]     (default: build)
#
# For each synthetic capture it times a bare libpcap read loop and
# `canh-agent -r` with every detector on, in the same run, best of 3, and
# reports the ratio (agent rate / bare rate), the agent's peak RSS and the
# events it raised.  Captures are generated once into bench/out/.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BIN=$BUILD/bin
OUT=bench/out
mkdir -p "$OUT"
for tool in canh-agent bench-gen-pcap bench-pcap-read; do
    [ -x "$BIN/$tool" ] || { echo "missing $BIN/$tool: build first (cmake --build $BUILD)"; exit 1; }
done

gen() { # NAME MODE PACKETS
    [ -s "$OUT/$1.pcap" ] || "$BIN/bench-gen-pcap" "$2" "$3" "$OUT/$1.pcap" >/dev/null
}

# best-of-3 wall time in seconds of a command into $OUT/best.txt, the
# largest peak RSS (KiB) of the three into $OUT/rss.txt
best_time() {
    local best="" t rss maxrss=0
    for _ in 1 2 3; do
        /usr/bin/time -f "%e %M" -o "$OUT/time.txt" "$@" >/dev/null 2>"$OUT/stderr.txt" ||
            { cat "$OUT/stderr.txt" >&2; exit 1; }
        read -r t rss <"$OUT/time.txt"
        if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
        [ "$rss" -gt "$maxrss" ] && maxrss=$rss
    done
    echo "$best" >"$OUT/best.txt"
    echo "$maxrss" >"$OUT/rss.txt"
}

printf '| capture | packets | bare read s | agent s | ratio | agent Mpps | peak RSS MiB | events | first flood after s |\n'
printf '|---|---|---|---|---|---|---|---|---|\n'
run_case() { # NAME MODE PACKETS
    gen "$1" "$2" "$3"
    local f="$OUT/$1.pcap"
    local bare agent rss events
    best_time "$BIN/bench-pcap-read" "$f"
    bare=$(cat "$OUT/best.txt")
    best_time "$BIN/canh-agent" -q -r "$f" --assets tests/fixtures/assets.conf \
        --output "jsonl:$OUT/$1.events.jsonl.tmp"
    agent=$(cat "$OUT/best.txt")
    rss=$(cat "$OUT/rss.txt")
    # the events file was appended 3 times: count one run's worth
    events=$(( $(wc -l <"$OUT/$1.events.jsonl.tmp") / 3 ))
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
    awk -v n="$1" -v p="$3" -v b="$bare" -v a="$agent" -v r="$rss" -v e="$events" -v l="$latency" 'BEGIN{
        printf "| %s | %d | %.2f | %.2f | %.2f | %.2f | %.1f | %d | %s |\n",
               n, p, b, a, (a > 0 ? b / a : 0), (a > 0 ? p / a / 1e6 : 0), r / 1024, e, l }'
}

run_case mixed-3M mixed 3000000
run_case scanners-5k scanners 640000
run_case spoofed-1M spoofed 1000000
if [ "${BENCH_BIG:-1}" = 1 ]; then
    run_case spoofed-10M spoofed 10000000
fi
