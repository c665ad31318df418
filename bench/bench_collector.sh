#!/usr/bin/env bash
# bench_collector.sh — collector throughput and latency from a local Redis.
#
#   1. throughput: N events (4 agents, 2000 sources, three kinds, new and
#      update events of findings, so incidents open, extend and correlate)
#      are loaded first, then one collector — and in a second run two
#      collectors in the group — drain them; events/s = N / drain time.
#   2. bursts: 5,000 events of ONE finding (a spool replay after an
#      outage) against 5,000 events of 5,000 distinct findings, drained by
#      one collector; its log must hold no conflict warning.
#   3. latency: events XADDed at a steady rate (500/s, then 5,000/s), each
#      from a new source (so each opens an incident); latency = id of the
#      canh:incidents entry minus id of the event entry (both Redis
#      clock), median and p99.
#
# The events are the agent's schema (common/event.c: EVE fields, "alert"
# for a finding's new event and "finding" for its updates, canh.* with
# taxonomy names, rule reference, asset, counters, evidence).
#
# Redis runs with the configuration the SOC is given: the shipped
# systemd/redis-canh.conf.example (AOF with appendfsync always, auto
# rewrites at Redis's defaults, noeviction, ...), then the bench's own
# lines (unix socket, directory, no RDB).  Every phase starts
# its own Redis in an emptied directory, so no phase inherits a dataset,
# an AOF or a rewrite from the one before.  Each latency line names the
# AOF rewrites that ran inside it (INFO persistence), the delayed fsyncs,
# and the CPU that processes other than the bench's used from the feed's
# start to Redis's stop (the host's busy time minus the bench's own
# children; kernel threads count as other, about 1 s of it the run's own
# I/O): a tail that comes with a rewrite or a busy host can be told from
# one that does not.
#
# usage: bench/bench_collector.sh [N]          (default 20000)
#   RUNS=3             repeat everything, print each figure's spread
#   CANH_BIN=dir       the build to measure (default ./build/bin)
#   CANH_BIN_BASE=dir  a second build measured in the same run, run by run
#                      interleaved with the first (before/after on one
#                      loaded machine), e.g. a worktree of an older commit
#   DRAIN_MAX=s        give up a drain after s seconds (default 120)
#   REDIS_CONF=file    Redis settings included instead of the shipped file
#                      (to compare another configuration; printed, and not
#                      the SOC's)
# Prints the targets of issue 17 with "met" / "NOT met" for CANH_BIN.
set -euo pipefail
N=${1:-20000}
RUNS=${RUNS:-3}
DRAIN_MAX=${DRAIN_MAX:-120}
BIN=${CANH_BIN:-$(pwd)/build/bin}
BASE=${CANH_BIN_BASE:-}
SRC=$(cd "$(dirname "$0")/.." && pwd)
REDIS_CONF=${REDIS_CONF:-$SRC/systemd/redis-canh.conf.example}
[[ -r $REDIS_CONF ]] || { echo "cannot read $REDIS_CONF (REDIS_CONF)" >&2; exit 2; }
REDIS_CONF=$(realpath "$REDIS_CONF")
[[ -x "$BIN/canh-collector" ]] || { echo "no canh-collector in $BIN (set CANH_BIN)" >&2; exit 2; }
[[ -z $BASE || -x "$BASE/canh-collector" ]] || { echo "no canh-collector in $BASE" >&2; exit 2; }
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

# Redis is a child of this shell (not daemonized), so the CPU it and its
# rewrite children use is counted in the shell's children's times once
# it is waited for (other_cpu below).
start_redis() {
    rm -rf "$T/appendonlydir"
    # The SOC's settings, then the bench's own plumbing (a later line wins;
    # the shipped file sets none of these).
    cat >"$T/redis.conf" <<EOC
include $REDIS_CONF
port 0
unixsocket $SOCK
dir $T
pidfile $T/redis.pid
logfile $T/redis.log
save ""
EOC
    redis-server "$T/redis.conf" >/dev/null &
    REDIS_PID=$!
    for _ in $(seq 100); do redis-cli -s "$SOCK" ping >/dev/null 2>&1 && return; sleep 0.05; done
    echo "redis did not start (see $T/redis.log)" >&2; exit 1
}
stop_redis() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    PIDS=()
    redis-cli -s "$SOCK" shutdown nosave >/dev/null 2>&1 || true
    # Redis is gone (not only its socket) before the next phase starts one.
    [[ -z ${REDIS_PID:-} ]] || wait "$REDIS_PID" 2>/dev/null || true
    REDIS_PID=
    rm -rf "$T/appendonlydir"
}
# CPU seconds of the whole host (/proc/stat, every state but idle and
# iowait) and of this shell's waited-for children (bash's times).
# other_cpu_mark, then other_cpu_since after everything started since
# was waited for: the CPU seconds of processes not the bench's.
host_busy_ticks() { local u n s q sq st; read -r _ u n s _ _ q sq st _ </proc/stat; echo $((u + n + s + q + sq + st)); }
# children_cpu_ms: bash's `times`, second line, into CHILDREN_MS: the
# children's user and system time ("XmY.ZZZs" each).  It must run in this
# shell, not in a pipe or $(...): a forked shell's children start at zero.
children_cpu_ms() {
    local l t
    CHILDREN_MS=0
    times >"$T/times"
    { read -r l; read -r l; } <"$T/times"
    for t in $l; do
        [[ $t =~ ^([0-9]+)m([0-9]+)\.([0-9]{3})s$ ]] || { echo "cannot read times: $l" >&2; exit 1; }
        CHILDREN_MS=$((CHILDREN_MS + 10#${BASH_REMATCH[1]} * 60000 + 10#${BASH_REMATCH[2]} * 1000 + 10#${BASH_REMATCH[3]}))
    done
}
other_cpu_mark() { CPU_MARK_HOST=$(host_busy_ticks); children_cpu_ms; CPU_MARK_OWN=$CHILDREN_MS; }
other_cpu_since() { # -> seconds, one decimal
    local hz host other
    hz=$(getconf CLK_TCK)
    host=$((($(host_busy_ticks) - CPU_MARK_HOST) * 1000 / hz))
    children_cpu_ms
    other=$((host - (CHILDREN_MS - CPU_MARK_OWN)))
    ((other > 0)) || other=0
    printf '%d.%d\n' $((other / 1000)) $((other % 1000 / 100))
}
conf() {
    cat >"$T/c.conf" <<EOC
[collector]
redis_url = unix:$SOCK
batch = 200
log_level = warning
EOC
}
start_collectors() { # bin count log-prefix
    for c in $(seq "$2"); do
        "$1/canh-collector" -c "$T/c.conf" >/dev/null 2>>"$T/$3$c.log" &
        PIDS+=($!)
    done
}

# Events in redis-cli --pipe's RESP form: gen N MODE
#   load      4 agents, 2000 sources, 3 kinds, findings of 3 events
#   burst     1 agent, one finding: new + N-1 updates
#   distinct  1 agent, N findings of N sources, one new event each
#   latency   4 agents, a new source and finding per event
gen() {
    python3 - "$1" "$2" <<'PY'
import json, sys, time
n, mode = int(sys.argv[1]), sys.argv[2]
kinds = [("portscan", "attack.other", "Các hình thức tấn công mạng khác", "Other attack", "medium", "scan.rules"),
         ("syn_flood", "attack.dos", "Tấn công từ chối dịch vụ", "Denial of service", "high", "flood.rules"),
         ("defacement", "attack.defacement", "Tấn công thay đổi giao diện", "Defacement", "critical", "http.rules")]
eve_sev = {"critical": 1, "high": 1, "medium": 2, "low": 3}
out = sys.stdout.buffer
def resp(*args):
    b = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        b.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(b)
t = time.strftime("%Y-%m-%dT%H:%M:%S.000000+0000", time.gmtime())
for i in range(n):
    if mode == "load":
        agent, finding, state = "gw-%d" % (i % 4), i // 3, ("new" if i % 3 == 0 else "update")
        src = "10.%d.%d.%d" % (i % 7, (i // 7) % 250, i % 2000 // 250)
        kind = kinds[(i // 3) % 3]
    elif mode == "burst":
        agent, finding, state, src, kind = "gw-0", 0, ("new" if i == 0 else "update"), "203.0.113.7", kinds[1]
    elif mode == "distinct":
        agent, finding, state, kind = "gw-0", i, "new", kinds[1]
        src = "172.%d.%d.%d" % (16 + i // 65536 % 16, i // 256 % 256, i % 256)
    else:
        agent, finding, state, kind = "gw-%d" % (i % 4), i, "new", kinds[0]
        src = "172.%d.%d.%d" % (16 + i // 65536 % 16, i // 256 % 256, i % 256)
    name, code, vi, en, sev, rules = kind
    dst = "198.51.100.%d" % (10 + i % 4 if mode == "load" else 10)
    ev = {"timestamp": t, "flow_id": 1000 + i, "in_iface": "eth0",
          "event_type": "alert" if state == "new" else "finding",
          "src_ip": src, "src_port": 40000 + i % 20000, "dest_ip": dst, "dest_port": 80, "proto": "TCP",
          "community_id": "1:bench%08d=" % i, "host": agent,
          "alert": {"action": "allowed", "gid": 1, "signature_id": 9000001 + kinds.index(kind), "rev": 1,
                    "signature": "canh " + name, "category": "%s / %s" % (vi, en), "severity": eve_sev[sev]},
          "canh": {"v": 1, "id": "%s:bench:%08d" % (agent, i), "finding_id": "%s:bench:f%d" % (agent, finding),
                   "agent": agent, "agency": "Agency %s" % agent[-1], "kind": name, "state": state,
                   "taxonomy": {"code": code, "vi": vi, "en": en}, "severity": sev, "class": "normal",
                   "rule": "%s:%d" % (rules, 8 + kinds.index(kind)),
                   "asset": {"name": "portal", "owner": "Sở Y tế", "level": 2},
                   "first_seen": t, "last_seen": t,
                   "counters": {"packets": 100 + i, "bytes": 6000 + 60 * i, "pps": 250},
                   "evidence": {"top_ports": [80, 443], "sample": "bench"}}}
    out.write(resp("XADD", "canh:events:" + agent, "MAXLEN", "~", "10000000", "*", "event",
                   json.dumps(ev, ensure_ascii=False, separators=(",", ":"))))
PY
}

# The agents' streams, named (a SCAN over every key while the collector
# works would load the Redis being measured), looked at in one script
# call: the lag and pending count of the group on each.  One redis-cli a
# poll: the former dozen redis-cli, grep and head processes every 50 ms
# took a good part of a core from the collector and Redis being measured.
drained() {
    [[ $(redis-cli -s "$SOCK" EVAL "
local left = 0
for _, k in ipairs(KEYS) do
  if redis.call('EXISTS', k) == 1 then
    local g = redis.call('XINFO', 'GROUPS', k)
    if #g == 0 then left = left + 1 end
    for _, grp in ipairs(g) do
      for i = 1, #grp, 2 do
        if grp[i] == 'pending' and grp[i + 1] ~= 0 then left = left + 1 end
        if grp[i] == 'lag' and grp[i + 1] ~= 0 then left = left + 1 end
      end
    end
  end
end
return left" 4 canh:events:gw-0 canh:events:gw-1 canh:events:gw-2 canh:events:gw-3 2>/dev/null) == 0 ]]
}
# wait_drained t0: seconds from t0 until drained (or DRAIN_MAX), on stdout.
# The clock is bash's own (EPOCHREALTIME): a python3 start per poll took
# ~20 ms of CPU every 50 ms from the collector and Redis being measured.
us_of() { local t=${1/./}; echo $((10#${t:0:16})); } # "s.frac" -> µs
wait_drained() {
    local t0 now
    t0=$(us_of "$1")
    while :; do
        now=$(us_of "$EPOCHREALTIME")
        if drained; then break; fi
        if ((now - t0 > DRAIN_MAX * 1000000)); then
            echo "timeout"; return
        fi
        sleep 0.05
    done
    now=$(us_of "$EPOCHREALTIME")
    printf '%d.%03d\n' $(((now - t0) / 1000000)) $(((now - t0) % 1000000 / 1000))
}
conflict_warnings() { cat "$T"/"$1"*.log 2>/dev/null | grep -c 'still conflicting' || true; }

# drain BIN COLLECTORS MODE COUNT → "events/s" (or 0 on timeout), details to stderr
drain() {
    local bin=$1 n=$2 mode=$3 count=$4 tag
    tag=d$RANDOM
    start_redis
    conf
    gen "$count" "$mode" | redis-cli -s "$SOCK" --pipe >/dev/null
    local t0 secs
    t0=$EPOCHREALTIME
    start_collectors "$bin" "$n" "$tag"
    secs=$(wait_drained "$t0")
    local inc conf_w
    inc=$(redis-cli -s "$SOCK" XLEN canh:incidents)
    conf_w=$(conflict_warnings "$tag")
    stop_redis
    if [[ $secs == timeout ]]; then
        echo "    $mode x$count, $n collector(s): not drained in ${DRAIN_MAX}s ($conf_w conflict warnings)" >&2
        echo "0 $conf_w"
        return
    fi
    python3 -c "import sys; c,s=float(sys.argv[1]),float(sys.argv[2]); print('%.0f' % (c/s), sys.argv[3])" \
        "$count" "$secs" "$conf_w"
    echo "    $mode x$count, $n collector(s): ${secs}s, $inc incident announcements, $conf_w conflict warnings" >&2
}

# latency BIN RATE → "median p99"
latency() {
    local bin=$1 rate=$2 tag=l$RANDOM
    start_redis
    conf
    local count=$((rate * 10))
    # the streams and the group exist before the collector starts
    gen 4 latency | redis-cli -s "$SOCK" --pipe >/dev/null
    start_collectors "$bin" 1 "$tag"
    local t0
    t0=$EPOCHREALTIME
    wait_drained "$t0" >/dev/null
    redis-cli -s "$SOCK" DEL canh:incidents >/dev/null
    gen "$count" latency >"$T/lat.resp"
    local rewrites0
    rewrites0=$(aof_info aof_rewrites)
    other_cpu_mark
    # Feed at RATE/s in 100 slices a second.
    python3 - "$T/lat.resp" "$rate" "$SOCK" <<'PY'
import socket, sys, time
data = open(sys.argv[1], "rb").read().split(b"*8\r\n")[1:]
rate = int(sys.argv[2])
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[3])
per = max(1, rate // 100); start = time.time()
for i in range(0, len(data), per):
    s.sendall(b"".join(b"*8\r\n" + d for d in data[i:i + per]))
    delay = start + (i + per) / rate - time.time()
    if delay > 0: time.sleep(delay)
s.settimeout(5)
try:
    while s.recv(65536): pass
except Exception: pass
PY
    t0=$EPOCHREALTIME
    wait_drained "$t0" >/dev/null
    local rewrites delayed
    rewrites=$(($(aof_info aof_rewrites) - rewrites0)) # started ones, finished or not
    delayed=$(aof_info aof_delayed_fsync)
    # Read in pages: one reply of 50,000 announcements would pass the
    # shipped client-output-buffer-limit (64 MB) and be cut.
    python3 - "$SOCK" >"$T/lat.out" <<'PY'
import subprocess, sys
lat = []
start = "-"
while True:
    raw = subprocess.run(["redis-cli", "-s", sys.argv[1], "XRANGE", "canh:incidents", start, "+", "COUNT", "10000"],
                         capture_output=True, text=True, check=True).stdout.split("\n")
    entry_ms = None
    last = None
    for i, l in enumerate(raw):
        if len(l) > 14 and l[:13].isdigit() and "-" in l and l.split("-")[0].isdigit():
            entry_ms = int(l.split("-")[0])
            last = l
        if l == "cause" and entry_ms is not None:
            ev_ms = int(raw[i + 1].rsplit("/", 1)[1].split("-")[0])
            lat.append(entry_ms - ev_ms)
    if last is None:
        break
    start = "(" + last
lat.sort()
if not lat:
    print("-1 -1 0 -1"); sys.exit(0)
med = lat[len(lat) // 2]; p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
print(med, p99, len(lat), lat[-1])
PY
    stop_redis
    local med p99 n max other
    read -r med p99 n max <"$T/lat.out"
    other_cpu_since >"$T/other"
    read -r other <"$T/other"
    echo "$med $p99 $rewrites $other"
    echo "    latency at $rate events/s: $n incidents, median $med ms, p99 $p99 ms, max $max ms;" \
        "$rewrites AOF rewrite(s), $delayed delayed fsync(s), other processes ${other} CPU s" >&2
}
aof_info() { redis-cli -s "$SOCK" INFO persistence | tr -d '\r' | sed -n "s/^$1://p"; }

# One run of every figure for one build: lines "name value" in $T/<label>.<run>
one_run() {
    local bin=$1 out=$2 r
    echo "  $(basename "$(dirname "$(dirname "$bin")")") ($bin):" >&2
    r=$(drain "$bin" 1 load "$N"); echo "one ${r%% *}" >>"$out"
    r=$(drain "$bin" 2 load "$N"); echo "two ${r%% *}" >>"$out"
    r=$(drain "$bin" 1 distinct 5000); echo "distinct ${r%% *}" >>"$out"
    r=$(drain "$bin" 1 burst 5000); echo "burst ${r%% *}" >>"$out"; echo "burst_conflicts ${r##* }" >>"$out"
    local med p99 rw other
    read -r med p99 rw other <<<"$(latency "$bin" 500)"
    printf 'p50_500 %s\np99_500 %s\n' "$med" "$p99" >>"$out"
    read -r med p99 rw other <<<"$(latency "$bin" 5000)"
    printf 'p50_5000 %s\np99_5000 %s\nrw_5000 %s\nother_5000 %s\n' "$med" "$p99" "$rw" "$other" >>"$out"
}

for run in $(seq "$RUNS"); do
    echo "run $run of $RUNS" >&2
    one_run "$BIN" "$T/new.$run"
    [[ -z $BASE ]] || one_run "$BASE" "$T/base.$run"
done

python3 - "$T" "$RUNS" "$BASE" "$N" "$REDIS_CONF" <<'PY'
import sys, os
d, runs, base, n, conf = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
def load(label):
    runsv = []
    for r in range(1, runs + 1):
        v = {}
        for line in open(os.path.join(d, "%s.%d" % (label, r))):
            k, x = line.split()
            v[k] = float(x)
        v["ratio"] = v["two"] / v["one"] if v["one"] else 0
        v["burst_vs_distinct"] = v["burst"] / v["distinct"] if v["distinct"] else 0
        runsv.append(v)
    return runsv
def spread(vals, fmt):
    vals = sorted(vals)
    return "%s (%s .. %s)" % (fmt % vals[len(vals) // 2], fmt % vals[0], fmt % vals[-1])
rows = [("one collector, events/s (N=%s)" % n, "one", "%.0f"),
        ("two collectors, events/s", "two", "%.0f"),
        ("two / one", "ratio", "%.2f"),
        ("5,000 distinct findings, events/s", "distinct", "%.0f"),
        ("5,000 events of one finding, events/s", "burst", "%.0f"),
        ("one finding / distinct", "burst_vs_distinct", "%.2f"),
        ("conflict warnings in the burst", "burst_conflicts", "%.0f"),
        ("latency at 500/s, median ms", "p50_500", "%.0f"),
        ("latency at 500/s, p99 ms", "p99_500", "%.0f"),
        ("latency at 5,000/s, median ms", "p50_5000", "%.0f"),
        ("latency at 5,000/s, p99 ms", "p99_5000", "%.0f"),
        ("  AOF rewrites inside the 5,000/s run", "rw_5000", "%.0f"),
        ("  other processes' CPU s meanwhile", "other_5000", "%.1f")]
new = load("new")
old = load("base") if base else None
print("\nmedian (min .. max) of %d run(s)%s; Redis: %s" % (runs, "; before = CANH_BIN_BASE" if old else "", conf))
for title, k, fmt in rows:
    line = "%-40s %s" % (title, spread([v[k] for v in new], fmt))
    if old:
        line += "   before: %s" % spread([v[k] for v in old], fmt)
    print(line)
def worst(k, lo):
    vals = [v[k] for v in new]
    return min(vals) if lo else max(vals)
targets = [("events/s per collector >= 20,000", worst("one", True) >= 20000),
           ("two collectors >= 1.8 x one", worst("ratio", True) >= 1.8),
           ("p99 < 100 ms at 500 events/s", 0 <= worst("p99_500", False) < 100),
           ("p99 < 250 ms at 5,000 events/s", 0 <= worst("p99_5000", False) < 250),
           ("one-finding burst >= distinct, 0 conflict warnings",
            worst("burst_vs_distinct", True) >= 1.0 and worst("burst_conflicts", False) == 0)]
print("\ntargets (issue 17), every run:")
for t, ok in targets:
    print("  %-52s %s" % (t, "met" if ok else "NOT met"))
PY
