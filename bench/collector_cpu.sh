#!/usr/bin/env bash
# collector_cpu.sh — CPU time per event of the collector and of Redis while
# one collector drains a backlog: a profile that a loaded machine does not
# distort as much as wall-clock events/s (bench_collector.sh).
#
# usage: bench/collector_cpu.sh [N] [MODE...]   (default 10000, modes load
#        burst distinct: the event sets of bench_collector.sh)
#   CANH_BIN=dir, CANH_BIN_BASE=dir as in bench_collector.sh (both measured,
#   interleaved).  CMDSTATS=1 also prints Redis's INFO commandstats per
#   event (calls and µs of each command, those run inside scripts too).
#   COLLECTORS=2 drains with two collectors in the group and sums their
#   CPU: when the sum per event stays what one collector spends, two
#   collectors do not fight and a second core would be a second
#   collector's (docs/scaling.md).
set -euo pipefail
N=${1:-10000}
shift || true
MODES=("$@")
[[ ${#MODES[@]} -gt 0 ]] || MODES=(load burst distinct)
BIN=${CANH_BIN:-$(pwd)/build/bin}
BASE=${CANH_BIN_BASE:-}
HERE=$(cd "$(dirname "$0")" && pwd)
[[ -x "$BIN/canh-collector" ]] || { echo "no canh-collector in $BIN (set CANH_BIN)" >&2; exit 2; }
T=$(mktemp -d /tmp/canh-cpu.XXXXXX)
SOCK=$T/redis.sock
NC=${COLLECTORS:-1}
CP=()
cleanup() {
    for p in "${CP[@]}"; do kill "$p" 2>/dev/null || true; done
    [[ -f $T/redis.pid ]] && kill "$(cat "$T/redis.pid")" 2>/dev/null || true
    sleep 0.3
    rm -rf "$T"
}
trap cleanup EXIT
# the event generator and the drain check of bench_collector.sh
eval "$(sed -n '/^gen() {/,/^}/p' "$HERE/bench_collector.sh")"
eval "$(sed -n '/^drained() {/,/^}/p' "$HERE/bench_collector.sh")"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

one() { # bin mode
    redis-server --port 0 --unixsocket "$SOCK" --dir "$T" --daemonize yes --pidfile "$T/redis.pid" \
        --logfile "$T/redis.log" --save '' --appendonly yes --appendfsync everysec >/dev/null
    for _ in $(seq 100); do redis-cli -s "$SOCK" ping >/dev/null 2>&1 && break; sleep 0.05; done
    printf '[collector]\nredis_url = unix:%s\nbatch = 200\nlog_level = warning\n' "$SOCK" >"$T/c.conf"
    gen "$N" "$2" | redis-cli -s "$SOCK" --pipe >/dev/null
    local rp r0 t0
    rp=$(cat "$T/redis.pid")
    r0=$(cpu_ticks "$rp")
    t0=$(date +%s.%N)
    local i
    for i in $(seq "$NC"); do
        "$1/canh-collector" -c "$T/c.conf" >/dev/null 2>"$T/c$i.log" &
        CP+=($!)
    done
    until drained; do sleep 0.05; done
    local t1 c r1
    t1=$(date +%s.%N)
    c=0
    for i in "${CP[@]}"; do c=$((c + $(cpu_ticks "$i"))); done
    r1=$(cpu_ticks "$rp")
    kill "${CP[@]}"
    wait "${CP[@]}" 2>/dev/null || true
    CP=()
    [[ -z ${CMDSTATS:-} ]] || redis-cli -s "$SOCK" INFO commandstats | tr -d '\r' >"$T/cmdstats"
    redis-cli -s "$SOCK" shutdown nosave >/dev/null 2>&1 || true
    for _ in $(seq 100); do [[ -S $SOCK ]] || break; sleep 0.05; done
    rm -rf "$T/appendonlydir"
    python3 -c "
import sys
n, w, c, r = $N, $t1 - $t0, $c / 100, ($r1 - $r0) / 100
print('  %-9s %-40s collector%s %4.0f us/event, redis %4.0f us/event (wall %.1f s)' % ('$2', '$1', 's ($NC)' if $NC > 1 else '', c * 1e6 / n, r * 1e6 / n, w))"
    if [[ -n ${CMDSTATS:-} ]]; then
        python3 - "$N" "$T/cmdstats" <<'PY'
import re, sys
n = int(sys.argv[1])
rows = []
for line in open(sys.argv[2]):
    m = re.match(r'cmdstat_([^:]+):calls=(\d+),usec=(\d+)', line)
    if m:
        rows.append((int(m.group(3)), int(m.group(2)), m.group(1)))
for usec, calls, name in sorted(rows, reverse=True)[:12]:
    print('      %-14s %6.2f calls/event %7.1f us/event %7.1f us/call' % (name, calls / n, usec / n, usec / max(calls, 1)))
PY
    fi
}

for mode in "${MODES[@]}"; do
    one "$BIN" "$mode"
    [[ -z $BASE ]] || one "$BASE" "$mode"
done
