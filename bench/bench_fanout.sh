#!/usr/bin/env bash
# bench/bench_fanout.sh — one agent worker against two in one PACKET_FANOUT
# group, on a live link: a veth pair between two network namespaces created
# here (and deleted), tcpreplay sending a synthetic capture from one side
# as fast as it can, the workers capturing on the other.
#
#   bench/bench_fanout.sh [BUILD_DIR]    (default: build; needs root)
#   PACKETS=300000 MODES="single source hash" bench/bench_fanout.sh
#
# For each setup: packets sent (tcpreplay's count and rate), packets the
# workers saw and the kernel dropped (their final heartbeats, summed),
# events they raised, portscan/sweep findings and the scanner sources they
# name (16 scanners: one finding each is exact), and their CPU time.
# Bounded: PACKETS packets of mixed background traffic (default 300,000)
# plus 16 x 2,007 scan packets, at most 120 s of replay per setup.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BIN=$BUILD/bin
PACKETS=${PACKETS:-300000}
MODES=${MODES:-single source hash}
[ "$(id -u)" -eq 0 ] || { echo "needs root (network namespaces)"; exit 1; }
for tool in canh-agent bench-gen-pcap; do
    [ -x "$BIN/$tool" ] || { echo "missing $BIN/$tool: build first"; exit 1; }
done
for tool in tcpreplay tcprewrite mergecap redis-server redis-cli ip python3; do
    command -v "$tool" >/dev/null || { echo "missing $tool: run scripts/setup"; exit 1; }
done
T=$(mktemp -d /tmp/canh-bench-fanout-XXXXXX)
chmod 755 "$T"
NSA=canh-bfa-$$; NSB=canh-bfb-$$
REDIS_PID=; PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null
    wait 2>/dev/null
    ip netns del "$NSA" 2>/dev/null; ip netns del "$NSB" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

# Background traffic, then 16 SYN scanners (scan_syn.pcap, nmap, rewritten
# to 203.0.113.20-35 by tcprewrite): each scanner must come out as one
# portscan finding, whichever worker saw it.
"$BIN/bench-gen-pcap" mixed "$PACKETS" "$T/mixed.pcap" >/dev/null
scans=()
for n in $(seq 20 35); do
    tcprewrite --pnat=203.0.113.7/32:203.0.113.$n/32 -i tests/fixtures/scan_syn.pcap \
        -o "$T/scan$n.pcap" 2>/dev/null
    scans+=("$T/scan$n.pcap")
done
mergecap -F pcap -a -w "$T/cap.pcap" "$T/mixed.pcap" "${scans[@]}"
ip netns add "$NSA"; ip netns add "$NSB"
ip link add veth-a netns "$NSA" type veth peer name veth-b netns "$NSB"
ip netns exec "$NSA" sysctl -qw net.ipv6.conf.veth-a.disable_ipv6=1
ip netns exec "$NSB" sysctl -qw net.ipv6.conf.veth-b.disable_ipv6=1
ip -n "$NSA" link set veth-a mtu 9000 up; ip -n "$NSB" link set veth-b mtu 9000 up
redis-server --port 0 --unixsocket "$T/r.sock" --unixsocketperm 777 --dir "$T" --save '' \
    --logfile "$T/redis.log" &
REDIS_PID=$!
for _ in $(seq 100); do redis-cli -s "$T/r.sock" PING >/dev/null 2>&1 && break; sleep 0.05; done
rcli() { redis-cli -s "$T/r.sock" "$@"; }

# newest heartbeat of worker $1: "packets dropped"
beat() {
    rcli --json XREVRANGE "canh:heartbeats:$1" + - COUNT 1 | python3 -c '
import json, sys
e = json.load(sys.stdin)
c = json.loads(dict(zip(e[0][1][::2], e[0][1][1::2]))["event"])["canh"] if e else {}
print(c.get("packets", 0), c.get("capture", {}).get("dropped", 0))'
}

# run SETUP WORKERS: start the workers, replay, wait until they have seen
# (or dropped) what was sent or 30 s pass, stop them; one table row.
run() {
    local setup=$1 workers=$2 i
    rcli FLUSHALL >/dev/null
    PIDS=()
    for i in $(seq 0 $((workers - 1))); do
        {
            printf '[agent]\nname = w%s\nuser = nobody\nstate_dir = %s/state-w%s\n' "$i" "$T" "$i"
            printf 'home_net = 198.51.100.0/24\n'
            printf '[capture]\ninterface = veth-b\nbuffer_mb = 64\n'
            [ "$setup" = single ] || printf 'fanout_group = 7\nfanout = %s\n' "$setup"
            printf '[output]\nredis_url = unix:%s/r.sock\nheartbeat_interval = 1s\n' "$T"
        } >"$T/w$i.conf"
        rm -rf "$T/state-w$i"
        # ip netns exec becomes the agent: $! is its pid.
        ip netns exec "$NSB" "$BIN/canh-agent" -c "$T/w$i.conf" 2>"$T/w$i.log" &
        PIDS+=($!)
    done
    for i in $(seq 0 $((workers - 1))); do
        for _ in $(seq 300); do grep -q 'running as nobody' "$T/w$i.log" && break; sleep 0.1; done
    done
    timeout 120 ip netns exec "$NSA" tcpreplay -i veth-a --topspeed "$T/cap.pcap" \
        >"$T/replay.out" 2>&1 || true
    local sent pps
    sent=$(sed -n 's/^Actual: \([0-9]*\) packets.*/\1/p' "$T/replay.out")
    pps=$(sed -n 's/^Rated: .*, \([0-9.]*\) pps.*/\1/p' "$T/replay.out")
    local deadline=$((SECONDS + 30)) seen dropped p d
    while :; do
        seen=0; dropped=0
        for i in $(seq 0 $((workers - 1))); do
            read -r p d < <(beat "w$i"); seen=$((seen + p)); dropped=$((dropped + d))
        done
        ((seen + dropped >= sent || SECONDS >= deadline)) && break
        sleep 0.5
    done
    # CPU seconds (user + system) of the workers, from /proc before they stop
    local cpu
    cpu=$(for p in "${PIDS[@]}"; do cat "/proc/$p/stat"; done |
        awk -v hz="$(getconf CLK_TCK)" '{sub(/^.*\) /, ""); t += $12 + $13} END {printf "%.2f", t / hz}')
    for p in "${PIDS[@]}"; do kill -TERM "$p"; done
    for p in "${PIDS[@]}"; do wait "$p" || true; done
    PIDS=()
    seen=0; dropped=0
    local events=0
    for i in $(seq 0 $((workers - 1))); do
        read -r p d < <(beat "w$i"); seen=$((seen + p)); dropped=$((dropped + d))
        events=$((events + $(rcli XLEN "canh:events:w$i")))
    done
    local scans
    scans=$(for i in $(seq 0 $((workers - 1))); do rcli --json XRANGE "canh:events:w$i" - +; done |
        python3 -c '
import json, sys
n = 0; srcs = set()
for line in sys.stdin:
    for _, f in json.loads(line):
        c = json.loads(dict(zip(f[::2], f[1::2]))["event"])
        if c["canh"]["kind"] in ("portscan", "sweep") and c["canh"]["state"] == "new":
            n += 1; srcs.add(c.get("src_ip"))
print(n, len(srcs))')
    echo "| $setup | $workers | $sent | ${pps%.*} | $seen | $dropped | $events | ${scans% *} | ${scans#* } | $cpu |"
}

echo "## fanout: $PACKETS mixed packets + 16 scanners over veth, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| setup | workers | sent | sent pps | seen | dropped | events | scan findings (new) | scanner sources | worker CPU s |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for m in $MODES; do
    if [ "$m" = single ]; then run single 1; else run "$m" 2; fi
done
