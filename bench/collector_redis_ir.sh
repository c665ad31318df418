#!/usr/bin/env bash
# collector_redis_ir.sh — Redis instructions per event of the collector's
# commands, counted by callgrind: a figure the load of a shared machine
# does not move (CPU time and wall clock do, by ±30 % and more).
#
# 1. One collector drains N events of a bench_collector.sh mode from a
#    local Redis while MONITOR records every command it sends.
# 2. A fresh Redis under `valgrind --tool=callgrind` replays those commands
#    in order (the state reads, the guarded writes, the EVAL that registers
#    a script after NOSCRIPT; not the stream reads, claims and discovery,
#    whose streams the replay does not have), pipelined 64 at a time.
# 3. Prints Redis instructions per event (the replay's total minus an
#    empty replay's), and those of a Redis without AOF.
# 4. Replays, as a floor, the same commands without scripts: every command
#    the scripts ran (MONITOR's "lua" lines), sent plain and pipelined, in
#    place of the script calls.  It has no guards and no atomicity, so it
#    is not a design, only what the scripts themselves (their calls, the
#    arguments handed to Lua, redis.call) cost on top of their commands.
#
# usage: bench/collector_redis_ir.sh [N] [MODE]   (default 5000 load)
#   CANH_BIN=dir, CANH_BIN_BASE=dir as in bench_collector.sh (both measured).
set -euo pipefail
N=${1:-5000}
MODE=${2:-load}
BIN=${CANH_BIN:-$(pwd)/build/bin}
BASE=${CANH_BIN_BASE:-}
HERE=$(cd "$(dirname "$0")" && pwd)
command -v valgrind >/dev/null || { echo "valgrind is needed" >&2; exit 2; }
[[ -x "$BIN/canh-collector" ]] || { echo "no canh-collector in $BIN (set CANH_BIN)" >&2; exit 2; }
T=$(mktemp -d /tmp/canh-ir.XXXXXX)
SOCK=$T/redis.sock
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    [[ -f $T/redis.pid ]] && kill "$(cat "$T/redis.pid")" 2>/dev/null || true
    sleep 0.3
    rm -rf "$T"
}
trap cleanup EXIT
eval "$(sed -n '/^gen() {/,/^}/p' "$HERE/bench_collector.sh")"

start_redis() { # extra args...
    rm -f "$T/redis.pid" "$SOCK"
    redis-server --port 0 --unixsocket "$SOCK" --dir "$T" --daemonize yes --pidfile "$T/redis.pid" \
        --logfile "$T/redis.log" --save '' "$@" >/dev/null
    for _ in $(seq 100); do redis-cli -s "$SOCK" ping >/dev/null 2>&1 && return; sleep 0.05; done
}

eval "$(sed -n '/^drained() {/,/^}/p' "$HERE/bench_collector.sh")"

record() { # bin → $T/monitor.txt
    start_redis
    printf '[collector]\nredis_url = unix:%s\nbatch = 200\nlog_level = warning\n' "$SOCK" >"$T/c.conf"
    gen "$N" "$MODE" | redis-cli -s "$SOCK" --pipe >/dev/null
    redis-cli -s "$SOCK" MONITOR >"$T/monitor.txt" &
    local mp=$! t
    PIDS+=("$mp")
    sleep 0.3
    "$1/canh-collector" -c "$T/c.conf" >/dev/null 2>"$T/c.log" &
    local cp=$!
    PIDS+=("$cp")
    for t in $(seq 6000); do drained && break; sleep 0.1; done
    kill "$cp" "$mp"
    wait "$cp" "$mp" 2>/dev/null || true
    redis-cli -s "$SOCK" shutdown nosave >/dev/null 2>&1 || true
    for _ in $(seq 100); do [[ -S $SOCK ]] || break; sleep 0.05; done
}

replay() { # empty(0/1/plain) redis-args... → instructions
    local empty=$1
    shift
    rm -f "$SOCK"
    valgrind --tool=callgrind --callgrind-out-file="$T/cg.out" redis-server --port 0 \
        --unixsocket "$SOCK" --dir "$T" --logfile "$T/redis.log" --save '' "$@" 2>"$T/vg.log" &
    local vp=$!
    PIDS+=("$vp")
    for _ in $(seq 600); do redis-cli -s "$SOCK" ping >/dev/null 2>&1 && break; sleep 0.1; done
    [[ $empty == 1 ]] || python3 - "$SOCK" "$T/monitor.txt" "$empty" <<'PY'
import re, socket, sys
tok = re.compile(r'"((?:[^"\\]|\\.)*)"')
ESC = {'n': b'\n', 'r': b'\r', 't': b'\t', '"': b'"', '\\': b'\\', 'a': b'\a', 'b': b'\b'}
def unesc(s):
    out, i = bytearray(), 0
    while i < len(s):
        if s[i] == '\\':
            if s[i + 1] == 'x':
                out.append(int(s[i + 2:i + 4], 16)); i += 4
            else:
                out += ESC.get(s[i + 1], s[i + 1].encode()); i += 2
        else:
            out += s[i].encode(); i += 1
    return bytes(out)
def resp(args):
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
SKIP = {b'XREADGROUP', b'XREAD', b'XAUTOCLAIM', b'XINFO', b'XGROUP', b'SCAN', b'CLIENT', b'PING',
        b'HELLO', b'SELECT', b'INFO', b'ZRANGEBYSCORE', b'ZRANGE', b'MONITOR'}
plain = sys.argv[3] == 'plain'
cmds = []
for line in open(sys.argv[2], encoding='utf-8', errors='surrogateescape'):
    if ('[0 lua]' in line) != plain and not (plain and ' [0 unix:' in line):
        continue  # run by a script, not sent (plain: the script's own commands instead)
    args = [unesc(m) for m in tok.findall(line)]
    if not args or args[0].upper() in SKIP:
        continue
    if plain and args[0].upper() in (b'EVAL', b'EVALSHA', b'SCRIPT'):
        continue
    if args[0].upper() in (b'EVAL', b'EVALSHA') and any(a.startswith(b'canh:events:') or a.startswith(b'canh:heartbeats:') for a in args[3:4]):
        continue  # the stream read and claim scripts
    cmds.append(resp(args))
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
for k in range(0, len(cmds), 64):
    s.sendall(b"".join(cmds[k:k + 64]) + resp([b"PING"]))
    buf = b""
    while not buf.endswith(b"+PONG\r\n"):
        buf += s.recv(1 << 20)
PY
    redis-cli -s "$SOCK" shutdown nosave >/dev/null 2>&1 || true
    wait "$vp" 2>/dev/null || true
    awk '/^summary:/ {print $2}' "$T/cg.out"
    rm -rf "$T/cg.out" "$T/appendonlydir"
}

one() { # bin
    record "$1"
    local e0 full e1 noaof plain plain_noaof
    e0=$(replay 1 --appendonly yes --appendfsync everysec)
    full=$(replay 0 --appendonly yes --appendfsync everysec)
    plain=$(replay plain --appendonly yes --appendfsync everysec)
    e1=$(replay 1 --appendonly no)
    noaof=$(replay 0 --appendonly no)
    plain_noaof=$(replay plain --appendonly no)
    python3 -c "
n = $N
print('  %-9s %-40s redis %4.0fk instructions/event (AOF everysec), %4.0fk without AOF' % ('$MODE', '$1', ($full - $e0) / n / 1e3, ($noaof - $e1) / n / 1e3))
print('  %-9s %-40s floor: the scripts\' commands sent plain %4.0fk (AOF everysec), %4.0fk without AOF' % ('', '', ($plain - $e0) / n / 1e3, ($plain_noaof - $e1) / n / 1e3))"
}

one "$BIN"
[[ -z $BASE ]] || one "$BASE"
