#!/usr/bin/env bash
# ab_agent.sh — two (or more) agent builds against each other on one
# capture, in alternated single runs beside a bare libpcap read, so that
# a host whose speed drifts (a shared machine) moves every build alike.
#
#   bench/ab_agent.sh CAPTURE RUNS BUILD_DIR...
#
# Each run times, one after the other and pinned to one CPU (taskset):
# bench-pcap-read of CAPTURE (from the first build), then `canh-agent -r
# CAPTURE` of each build with every detector on (tests/fixtures/
# assets.conf, JSONL to /dev/null).  Runs go round the CPUs the script
# may use (BENCH_PIN=0: no pinning), since a shared host's CPUs are not
# alike (bench/throughput.sh).  Prints per CPU and build the median wall
# time and the ratio bare / agent of each run: median and range.
# bench/throughput.sh gives the best of 3 pairs of one build; this gives
# the spread of many alternated runs.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -ge 3 ]] || { echo "usage: $0 CAPTURE RUNS BUILD_DIR..." >&2; exit 2; }
CAP=$1 RUNS=$2
shift 2
[[ -r $CAP ]] || { echo "cannot read $CAP" >&2; exit 2; }
for b in "$@"; do
    [[ -x $b/bin/canh-agent ]] || { echo "no $b/bin/canh-agent: build first" >&2; exit 2; }
done
BARE=$1/bin/bench-pcap-read
[[ -x $BARE ]] || { echo "no $BARE: build first" >&2; exit 2; }
OUT=$(mktemp /tmp/canh-ab.XXXXXX)
trap 'rm -f "$OUT"' EXIT
# The CPUs runs are pinned to, and on_cpu (BENCH_PIN=0: none).
source bench/cpus.sh
us_now() { local t=${EPOCHREALTIME/./}; echo $((10#$t)); }
for _ in $(seq "$RUNS"); do
    for c in "${CPUS[@]}"; do
        t0=$(us_now)
        on_cpu "$c" "$BARE" "$CAP" >/dev/null
        t1=$(us_now)
        line="$c $((t1 - t0))"
        for b in "$@"; do
            t0=$(us_now)
            on_cpu "$c" "$b/bin/canh-agent" -q -r "$CAP" --assets tests/fixtures/assets.conf \
                --output jsonl:/dev/null
            t1=$(us_now)
            line="$line $((t1 - t0))"
        done
        echo "$line" >>"$OUT"
    done
done
python3 - "$OUT" "$@" <<'PY'
import statistics as st, sys
rows = [l.split() for l in open(sys.argv[1])]
print("%-8s %-40s %6s %12s %s" % ("cpu", "build", "runs", "median ms", "ratio bare/agent: median (min-max)"))
for c in sorted({r[0] for r in rows}):
    mine = [list(map(int, r[1:])) for r in rows if r[0] == c]
    bare = [r[0] for r in mine]
    print("%-8s %-40s %6d %12.1f" % (c, "bare libpcap read", len(mine), st.median(bare) / 1000))
    for i, b in enumerate(sys.argv[2:], 1):
        t = [r[i] for r in mine]
        ratio = [x / y for x, y in zip(bare, t)]
        print("%-8s %-40s %6d %12.1f %.3f (%.2f-%.2f)" % (c, b, len(mine), st.median(t) / 1000,
                                                         st.median(ratio), min(ratio), max(ratio)))
PY
