#!/bin/bash
# fanout_workers.sh — two canh-agent workers in one PACKET_FANOUT group
# ([capture] fanout_group = 42, fanout = source) on a veth pair between two
# network namespaces this script creates (and deletes).  tcpreplay sends
# four SYN scans from four scanner addresses (scan_syn.pcap rewritten by
# tcprewrite).  Checks: the workers' final heartbeats count every packet
# of the capture exactly once between them (each saw some); each scanner
# is reported as one portscan finding, by one worker; --check refuses a
# fanout mode without a group with file:line.
source "$(dirname "$0")/lib/common.sh" # fail, wait_until, wait_pid
source "$(dirname "$0")/lib/redis.sh"  # redis_start, redis_stop
BIN=${CANH_BIN:?}; SRC=${CANH_SRC:?}
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for namespaces"; exit 77; }
for tool in tcpreplay tcprewrite mergecap; do
    command -v $tool >/dev/null || { echo "SKIP: no $tool"; exit 77; }
done
T=$TMP
chmod 755 "$T"
NSA=canh-foa-$$; NSB=canh-fob-$$
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    redis_stop
    wait 2>/dev/null
    ip netns del "$NSA" 2>/dev/null; ip netns del "$NSB" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

# --check: a mode without a group is a mistake at its line.
printf '[capture]\nfanout = source\n' >"$T/bad.conf"
rc=0; "$BIN/canh-agent" --check -c "$T/bad.conf" 2>"$T/check.out" || rc=$?
[ "$rc" -eq 2 ] || fail "--check with fanout but no fanout_group exited $rc, expected 2"
grep -q "bad.conf:2: .*fanout_group" "$T/check.out" || fail "no file:line message: $(cat "$T/check.out")"

# Four scanners: 203.0.113.7 (the original) and three rewritten copies.
cp "$SRC/tests/fixtures/scan_syn.pcap" "$T/s7.pcap"
for n in 8 9 10; do
    tcprewrite --pnat=203.0.113.7/32:203.0.113.$n/32 -i "$T/s7.pcap" -o "$T/s$n.pcap" 2>/dev/null ||
        fail "tcprewrite failed"
done
mergecap -F pcap -a -w "$T/all.pcap" "$T/s7.pcap" "$T/s8.pcap" "$T/s9.pcap" "$T/s10.pcap"
total=$(tcpdump -Z root -nr "$T/all.pcap" 2>/dev/null | wc -l)
echo "capture: $total packets from 4 scanners"

ip netns add "$NSA"; ip netns add "$NSB"
ip link add veth-a netns "$NSA" type veth peer name veth-b netns "$NSB"
# No IPv6: router solicitations would add packets the capture does not hold.
ip netns exec "$NSA" sysctl -qw net.ipv6.conf.veth-a.disable_ipv6=1
ip netns exec "$NSB" sysctl -qw net.ipv6.conf.veth-b.disable_ipv6=1
ip -n "$NSA" link set veth-a up; ip -n "$NSB" link set veth-b up

redis_start redis -s "$T/r.sock" -m 777 # the agent runs as nobody
rcli() { redis-cli -s "$T/r.sock" "$@"; }

for w in w0 w1; do
    cat >"$T/$w.conf" <<CONF
[agent]
name = $w
user = nobody
state_dir = $T/state-$w
home_net = 198.51.100.0/24
[capture]
interface = veth-b
fanout_group = 42
fanout = source
[output]
redis_url = unix:$T/r.sock
heartbeat_interval = 1s
CONF
    ip netns exec "$NSB" "$BIN/canh-agent" -c "$T/$w.conf" 2>"$T/$w.log" &
    PIDS+=($!)
done
# Both joined the group (the capture is open before privileges are dropped).
for w in w0 w1; do
    wait_until 30 "worker $w to open its capture" grep -q 'running as nobody' "$T/$w.log"
done

timeout 60 ip netns exec "$NSA" tcpreplay -q -i veth-a --mbps 20 "$T/all.pcap" >/dev/null 2>&1 ||
    fail "tcpreplay failed"

# packets in a worker's newest heartbeat
packets() {
    rcli --json XREVRANGE "canh:heartbeats:$1" + - COUNT 1 | python3 -c '
import json, sys
e = json.load(sys.stdin)
print(json.loads(dict(zip(e[0][1][::2], e[0][1][1::2]))["event"])["canh"]["packets"] if e else 0)'
}
all_seen() { (($(packets w0) + $(packets w1) >= total)); }
wait_until 60 "the workers' heartbeats to count $total packets" all_seen

for p in "${PIDS[@]}"; do
    kill -TERM "$p"
    rc=0; wait_pid 60 "$p" || rc=$?
    [ "$rc" -eq 0 ] || fail "a worker exited $rc after SIGTERM"
done
PIDS=()
p0=$(packets w0); p1=$(packets w1)
echo "worker w0 saw $p0 packets, w1 $p1: $((p0 + p1)) of $total"
((p0 > 0 && p1 > 0)) || fail "one worker saw nothing: the group did not share the link"
((p0 + p1 == total)) || fail "$((p0 + p1)) packets seen in all, the capture holds $total"

# One portscan finding per scanner, from one worker.
for w in w0 w1; do rcli --json XRANGE "canh:events:$w" - + >"$T/$w.events.json"; done
python3 - "$T" <<'PY' || fail "scanners not reported once each"
import json, sys
t = sys.argv[1]
new = {}
for w in ("w0", "w1"):
    for _, f in json.load(open(f"{t}/{w}.events.json")):
        e = json.loads(dict(zip(f[::2], f[1::2]))["event"])
        if e["canh"]["kind"] == "portscan" and e["canh"]["state"] == "new":
            new.setdefault(e["src_ip"], []).append(w)
print("portscan findings:", new)
want = {f"203.0.113.{n}" for n in (7, 8, 9, 10)}
assert set(new) == want, f"scanners reported: {sorted(new)}, expected {sorted(want)}"
assert all(len(v) == 1 for v in new.values()), "a scanner reported more than once"
PY
echo "OK: two workers in one fanout group saw every packet once and reported each scanner once"
