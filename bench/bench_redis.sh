#!/usr/bin/env bash
# bench/bench_redis.sh — how fast canh-agent pushes events to a local Redis,
# and what producing events at a high rate costs the capture.
#
#   bench/bench_redis.sh [BUILD_DIR]      (default: build)
#
# 1. Sustained events/s: the hidden --debug-events source at increasing
#    rates into a redis-server on a unix socket (started here, in a temp
#    dir); a rate is sustained when the run keeps pace and < 1 % of the
#    events needed the spool.
# 2. Capture throughput ratio: a synthetic 2M-packet capture read by a bare
#    libpcap loop vs by the agent with every detector on while it pushes
#    events to Redis at EVENT_RATE (default 10000/s); the ratio is bare
#    read time / agent read time (the agent logs "read in X s").
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BIN=$BUILD/bin
EVENT_RATE=${EVENT_RATE:-10000}
for tool in canh-agent bench-gen-pcap bench-pcap-read; do
    [ -x "$BIN/$tool" ] || { echo "missing $BIN/$tool: build first"; exit 1; }
done
T=$(mktemp -d /tmp/canh-bench-redis-XXXXXX)
REDIS_PID=
cleanup() { [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
redis-server --port 0 --unixsocket "$T/r.sock" --dir "$T" --save '' --appendonly no \
    --logfile "$T/redis.log" &
REDIS_PID=$!
for _ in $(seq 100); do redis-cli -s "$T/r.sock" PING >/dev/null 2>&1 && break; sleep 0.05; done
cat >"$T/agent.conf" <<CONF
[agent]
name = bench
state_dir = $T/state
[output]
redis_url = unix:$T/r.sock
CONF
SMALL=tests/fixtures/scan_syn.pcap

echo "## events/s to a local Redis (unix socket), $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg)"
echo "| target /s | events | wall s | achieved /s | spooled | sustained |"
echo "|---|---|---|---|---|---|"
best=0
for rate in 10000 20000 30000 40000 60000 80000 120000; do
    n=$((rate * 3))
    redis-cli -s "$T/r.sock" DEL canh:events:bench >/dev/null
    rm -rf "$T/state"
    s=$(date +%s%N)
    "$BIN/canh-agent" -c "$T/agent.conf" -r "$SMALL" --output redis --debug-events "$n" \
        --debug-rate "$rate" 2>"$T/agent.log"
    e=$(date +%s%N)
    wall=$(awk "BEGIN{printf \"%.2f\", ($e-$s)/1e9}")
    achieved=$(awk "BEGIN{printf \"%d\", $n/(($e-$s)/1e9)}")
    spooled=$(sed -n 's/.*redis: .* delivered, \([0-9]*\) spooled.*/\1/p' "$T/agent.log")
    ok=no
    if [ "$spooled" -le $((n / 100)) ] && [ "$achieved" -ge $((rate * 85 / 100)) ]; then
        ok=yes; best=$achieved
    fi
    echo "| $rate | $n | $wall | $achieved | $spooled | $ok |"
done
echo
echo "sustained without spool: ${best} events/s"
echo

PCAP=$T/mixed.pcap
"$BIN/bench-gen-pcap" mixed 2000000 "$PCAP" >/dev/null
best_of3() { local b="" t; for _ in 1 2 3; do t=$("$@"); if [ -z "$b" ] || awk "BEGIN{exit !($t < $b)}"; then b=$t; fi; done; echo "$b"; }
bare_time() { local s e; s=$(date +%s%N); "$BIN/bench-pcap-read" "$PCAP" >/dev/null; e=$(date +%s%N); awk "BEGIN{printf \"%.3f\", ($e-$s)/1e9}"; }
agent_time() { # extra args
    rm -rf "$T/state"
    "$BIN/canh-agent" -c "$T/agent.conf" -r "$PCAP" "$@" 2>"$T/agent.log" >/dev/null
    sed -n 's/.*: read in \([0-9.]*\) s$/\1/p' "$T/agent.log"
}
bare=$(best_of3 bare_time)
quiet=$(best_of3 agent_time --output jsonl:/dev/null)
# Enough synthetic events to last longer than the read.
busy=$(best_of3 agent_time --output redis --debug-events $((EVENT_RATE * 30)) --debug-rate "$EVENT_RATE")
echo "## capture throughput, 2M packets (mixed)"
echo "| run | read s | ratio vs bare read |"
echo "|---|---|---|"
echo "| bare libpcap read | $bare | 1.00 |"
echo "| agent, JSONL to /dev/null | $quiet | $(awk "BEGIN{printf \"%.2f\", $bare/$quiet}") |"
echo "| agent, Redis + ${EVENT_RATE} events/s | $busy | $(awk "BEGIN{printf \"%.2f\", $bare/$busy}") |"
