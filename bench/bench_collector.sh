#!/usr/bin/env bash
# bench_collector.sh — collector throughput and latency from a local Redis.
#
#   1. sustained events/s: N events (from 4 agents, 2000 sources, three
#      kinds, new/update states, so incidents open, extend and correlate)
#      are loaded first, then one collector — and in a second run two
#      collectors in the group — drain them; events/s = N / drain time.
#   2. latency: events XADDed at a steady rate, each from a new source (so
#      each opens an incident); latency = id of the canh:incidents entry
#      minus id of the event entry (both Redis clock), median and p99.
#
# usage: bench/bench_collector.sh [N] [RATE]   (defaults 20000 and 500/s)
# Needs a build: CANH_BIN (default ./build/bin).
set -euo pipefail
N=${1:-20000}
RATE=${2:-500}
BIN=${CANH_BIN:-$(pwd)/build/bin}
[[ -x "$BIN/canh-collector" ]] || { echo "no canh-collector in $BIN (set CANH_BIN)" >&2; exit 2; }
T=$(mktemp -d /tmp/canh-bench.XXXXXX)
SOCK=$T/redis.sock
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [[ -f $T/redis.pid ]] && kill "$(cat "$T/redis.pid")" 2>/dev/null || true
    sleep 0.3
    rm -rf "$T"
}
trap cleanup EXIT

start_redis() {
    redis-server --port 0 --unixsocket "$SOCK" --dir "$T" --daemonize yes --pidfile "$T/redis.pid" \
        --logfile "$T/redis.log" --save '' --appendonly yes --appendfsync everysec >/dev/null
    for _ in $(seq 100); do redis-cli -s "$SOCK" ping >/dev/null 2>&1 && return; sleep 0.05; done
    echo "redis did not start" >&2; exit 1
}
conf() {
    cat >"$T/c.conf" <<EOC
[collector]
redis_url = unix:$SOCK
block = 100ms
discover_interval = 1s
batch = 200
log_level = warning
EOC
}

# Events in redis-cli --pipe's RESP form.
gen() {
    python3 - "$1" "$2" <<'PY'
import json, sys, time
n, mode = int(sys.argv[1]), sys.argv[2]
kinds = [("portscan", "attack.other", "medium"), ("syn_flood", "attack.dos", "high"),
         ("defacement", "attack.defacement", "critical")]
out = sys.stdout.buffer
def resp(*args):
    b = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        b.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(b)
t = time.strftime("%Y-%m-%dT%H:%M:%S.000000+0000", time.gmtime())
for i in range(n):
    agent = "gw-%d" % (i % 4)
    src = "10.%d.%d.%d" % (i % 7, (i // 7) % 250, i % 2000 // 250) if mode == "load" else "172.%d.%d.%d" % (16 + i // 65536 % 16, i // 256 % 256, i % 256)
    kind, tax, sev = kinds[(i // 3) % 3] if mode == "load" else kinds[0]
    ev = {"timestamp": t, "event_type": "alert", "src_ip": src, "dest_ip": "198.51.100.%d" % (i % 4),
          "dest_port": 80, "proto": "TCP",
          "alert": {"signature": "canh " + kind, "category": tax, "severity": 2},
          "canh": {"v": 1, "id": "%s:bench:%08d" % (agent, i), "finding_id": "%s:bench:f%d" % (agent, i // 3),
                   "agent": agent, "agency": "Agency %d" % (i % 4), "kind": kind,
                   "state": "new" if i % 3 == 0 else "update",
                   "taxonomy": {"code": tax, "vi": "x", "en": "x"}, "severity": sev, "class": "normal",
                   "rule": "bench.rules:" + kind, "asset": {"name": "web", "owner": "o", "level": 2},
                   "first_seen": t, "last_seen": t, "counters": {"packets": i}, "evidence": {}}}
    out.write(resp("XADD", "canh:events:" + agent, "MAXLEN", "~", "10000000", "*", "event",
                   json.dumps(ev, ensure_ascii=False, separators=(",", ":"))))
PY
}

drained() {
    local k
    for k in canh:events:gw-0 canh:events:gw-1 canh:events:gw-2 canh:events:gw-3; do
        [[ $(redis-cli -s "$SOCK" XINFO GROUPS "$k" 2>/dev/null | grep -A1 '^lag$' | tail -1) == 0 ]] || return 1
        [[ $(redis-cli -s "$SOCK" XPENDING "$k" canh-collectors | head -1) == 0 ]] || return 1
    done
}

throughput() {
    local collectors=$1
    start_redis
    conf
    gen "$N" load | redis-cli -s "$SOCK" --pipe >/dev/null
    local t0 t1
    t0=$(date +%s.%N)
    for c in $(seq "$collectors"); do
        "$BIN/canh-collector" -c "$T/c.conf" 2>>"$T/c$c.log" &
        PIDS+=($!)
    done
    sleep 0.2
    until drained; do sleep 0.05; done
    t1=$(date +%s.%N)
    local inc
    inc=$(redis-cli -s "$SOCK" XLEN canh:incidents)
    python3 -c "import sys; n,a,b,c,i=map(float,sys.argv[1:]); print('throughput, %d collector(s): %d events in %.2f s = %.0f events/s (%d incident announcements)' % (c, n, b-a, n/(b-a), i))" \
        "$N" "$t0" "$t1" "$collectors" "$inc"
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    PIDS=()
    redis-cli -s "$SOCK" shutdown nosave >/dev/null 2>&1 || true
    sleep 0.3
    rm -rf "$T/appendonlydir"
}

latency() {
    start_redis
    conf
    local count=$((RATE * 10))
    "$BIN/canh-collector" -c "$T/c.conf" 2>>"$T/lat.log" &
    PIDS+=($!)
    sleep 1
    # Feed at RATE/s in 20 slices a second.
    gen "$count" latency >"$T/lat.resp"
    python3 - "$T/lat.resp" "$RATE" "$SOCK" <<'PY'
import socket, sys, time
data = open(sys.argv[1], "rb").read().split(b"*8\r\n")[1:]
rate = int(sys.argv[2])
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[3])
per = max(1, rate // 20); start = time.time()
for i in range(0, len(data), per):
    s.sendall(b"".join(b"*8\r\n" + d for d in data[i:i + per]))
    delay = start + (i + per) / rate - time.time()
    if delay > 0: time.sleep(delay)
s.settimeout(5)
try:
    while s.recv(65536): pass
except Exception: pass
PY
    until drained; do sleep 0.05; done
    python3 - "$SOCK" "$RATE" <<'PY'
import subprocess, sys
raw = subprocess.run(["redis-cli", "-s", sys.argv[1], "XRANGE", "canh:incidents", "-", "+"],
                     capture_output=True, text=True).stdout.split("\n")
lat = []
entry_ms = None
for i, l in enumerate(raw):
    if len(l) > 14 and l[:13].isdigit() and "-" in l and l.split("-")[0].isdigit():
        entry_ms = int(l.split("-")[0])
    if l == "cause" and entry_ms is not None:
        ev_ms = int(raw[i + 1].rsplit("/", 1)[1].split("-")[0])
        lat.append(entry_ms - ev_ms)
lat.sort()
if not lat:
    print("latency: no incidents measured"); sys.exit(1)
med = lat[len(lat) // 2]; p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
print("latency XADD -> canh:incidents at %s events/s: %d incidents, median %d ms, p99 %d ms, max %d ms"
      % (sys.argv[2], len(lat), med, p99, lat[-1]))
PY
}

throughput 1
throughput 2
latency
