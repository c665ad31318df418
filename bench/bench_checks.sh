#!/usr/bin/env bash
# bench_checks.sh — what active page checks (agent/check/) cost the agent.
#
# nginx (TLS, a private CA made here) serves N pages of about 20 KB (gzip)
# in one network namespace with dnsmasq as the resolver; the agent runs in
# another, capturing on its veth, with one asset per page and
# check_interval = INTERVAL.  The same agent is run twice for DURATION
# seconds: without checks, then with them.  Reported: CPU of the agent
# (utime + stime over the run, as % of one core), its RSS at the end and
# the difference; the checks done and failed (from the agent's counters)
# and the mean latency.  Every check is a fresh DNS lookup, TCP connection
# and verified TLS handshake, so this is the full cost.
#
# The issue's rate is 100 URLs every 60 s; by default this runs 100 URLs
# every 6 s (ten times that rate) for 60 s and also prints the CPU scaled
# to the issue's rate.
#
# usage: bench/bench_checks.sh [N] [INTERVAL_S] [DURATION_S]   (root)
# Needs a build: CANH_BIN (default ./build/bin).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../tests/e2e/lib/common.sh" # fail, wait_until, wait_pid
source "$HERE/../tests/e2e/lib/nginx.sh"  # start_nginx, stop_nginx
N=${1:-100}
INTERVAL=${2:-6}
DURATION=${3:-60}
BIN=${CANH_BIN:-$(pwd)/build/bin}
[[ -x "$BIN/canh-agent" ]] || { echo "no canh-agent in $BIN (set CANH_BIN)" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "needs root (network namespaces)" >&2; exit 2; }
PATH=$PATH:/usr/sbin
T=$TMP
chmod 755 "$T"
NSS=canh-bcs-$$; NSA=canh-bca-$$
SRV=10.214.0.1; AGT=10.214.0.2
PIDS=()
cleanup() {
    stop_nginx
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    ip netns del "$NSS" 2>/dev/null || true; ip netns del "$NSA" 2>/dev/null || true
    rm -rf "/etc/netns/$NSA" "$T"
}
trap cleanup EXIT

ip netns add "$NSS"; ip netns add "$NSA"
ip link add veth-s netns "$NSS" type veth peer name veth-a netns "$NSA"
ip -n "$NSS" addr add "$SRV/24" dev veth-s; ip -n "$NSA" addr add "$AGT/24" dev veth-a
ip -n "$NSS" link set veth-s up; ip -n "$NSA" link set veth-a up
ip -n "$NSS" link set lo up; ip -n "$NSA" link set lo up

openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=bench CA" \
    -keyout "$T/ca.key" -out "$T/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=bench.canh.test" \
    -keyout "$T/srv.key" -out "$T/srv.csr" 2>/dev/null
printf 'subjectAltName=DNS:*.bench.canh.test,DNS:bench.canh.test\n' >"$T/ext"
openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
    -days 30 -extfile "$T/ext" -out "$T/srv.pem" 2>/dev/null

mkdir -p "$T/www"
python3 - "$T/www" "$N" <<'PY'
import sys
root, n = sys.argv[1], int(sys.argv[2])
para = "<p>Thông báo về việc tổ chức kỳ thi tuyển dụng viên chức, lịch tiếp công dân và các văn bản mới ban hành.</p>\n"
for i in range(n):
    with open(f"{root}/p{i}.html", "w") as f:
        f.write(f"<!DOCTYPE html><html><head><title>Trang {i}</title>"
                '<script src="/static/app.js"></script>'
                '<script src="https://cdn.bench.canh.test/lib.js"></script></head><body>'
                + para * 160 + "</body></html>\n")
PY
NGINX_CONNECTIONS=512 start_nginx "$T/nginx" "$NSS" "    gzip on;
    server {
        listen $SRV:443 ssl;
        ssl_certificate $T/srv.pem; ssl_certificate_key $T/srv.key;
        root $T/www;
    }"
ip netns exec "$NSS" dnsmasq --keep-in-foreground --no-resolv --no-hosts \
    --address=/bench.canh.test/$SRV --listen-address=$SRV --bind-interfaces \
    --pid-file="$T/dnsmasq.pid" --user=root --log-facility="$T/dnsmasq.log" &
PIDS+=($!)
mkdir -p "/etc/netns/$NSA"
printf 'nameserver %s\n' "$SRV" >"/etc/netns/$NSA/resolv.conf"
wait_until 30 "dnsmasq to answer" ip netns exec "$NSA" getent hosts p0.bench.canh.test

assets() {  # with-checks
    for i in $(seq 0 $((N - 1))); do
        printf '[page%d]\naddress = %s\n' "$i" "$SRV"
        if [[ $1 == yes ]]; then
            printf 'check = https://p%d.bench.canh.test/p%d.html\n' "$i" "$i"
            printf 'check_interval = %ss\ncheck_ca_file = %s/ca.pem\n' "$INTERVAL" "$T"
        fi
    done >"$T/assets.conf"
}

# run with-checks: prints "cpu_s rss_kib done failed latency_ms"
run() {
    assets "$1"
    rm -rf "$T/state"; mkdir -p "$T/state"
    cat >"$T/agent.conf" <<CONF
[agent]
name = bench
state_dir = $T/state
assets = $T/assets.conf
[capture]
interface = veth-a
[output]
heartbeat_interval = 1s
CONF
    ip netns exec "$NSA" ${AGENT_WRAP:-} "$BIN/canh-agent" -c "$T/agent.conf" -o "jsonl:$T/events.jsonl" \
        -v 2>"$T/agent.log" &
    local pid=$!
    sleep "$DURATION" # the measured window: a fixed time is the point here
    local ticks rss
    ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    awk -v hz="$(getconf CLK_TCK)" '{printf "  user %.2f s, system %.2f s\n", $14 / hz, $15 / hz}' \
        "/proc/$pid/stat" >&2
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
    kill -TERM "$pid"; wait "$pid" || true
    echo "$ticks $rss"
}

hz=$(getconf CLK_TCK)
read -r base_ticks base_rss < <(run no)
read -r chk_ticks chk_rss < <(run yes)
learned=$(grep -c 'page learned' "$T/agent.log" || true)
grep 'checks:.*done' "$T/agent.log" || true
python3 - "$hz" "$DURATION" "$N" "$INTERVAL" "$base_ticks" "$base_rss" "$chk_ticks" "$chk_rss" \
    "$learned" <<'PY'
import sys
hz, dur, n, iv, bt, br, ct, cr, learned = map(float, sys.argv[1:])
base_cpu = bt / hz / dur * 100
chk_cpu = ct / hz / dur * 100
extra = chk_cpu - base_cpu
rate = n / iv
print(f"{int(n)} URLs every {iv:g} s ({rate:.1f} checks/s) for {dur:g} s; {int(learned)} pages learned")
print(f"agent without checks: CPU {base_cpu:.2f} % of a core, RSS {br/1024:.1f} MiB")
print(f"agent with checks:    CPU {chk_cpu:.2f} % of a core, RSS {cr/1024:.1f} MiB")
print(f"extra: CPU {extra:.2f} % of a core, RSS {(cr-br)/1024:.1f} MiB")
scaled = extra * (n / 60) / rate
print(f"scaled to {int(n)} URLs every 60 s: CPU {scaled:.3f} % of a core")
PY
