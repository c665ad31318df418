#!/bin/bash
# live_veth.sh — live capture smoke test on a veth pair between two network
# namespaces this script creates (and deletes): the agent captures in one,
# tcpreplay sends a fixture from the other.  Checks: the agent drops to
# [agent] user after opening the capture; link_silent (fault.link) is
# raised while the link is quiet; findings from the replayed traffic are in
# Redis soon after (the delay is printed; a busy machine only makes it
# longer) and name veth-b as in_iface; SIGTERM closes the open findings and
# exits 0.
source "$(dirname "$0")/lib/common.sh" # fail, wait_until, wait_pid
source "$(dirname "$0")/lib/redis.sh"  # redis_start, redis_stop
BIN=${CANH_BIN:?}; SRC=${CANH_SRC:?}
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for namespaces"; exit 77; }
command -v tcpreplay >/dev/null || { echo "SKIP: no tcpreplay"; exit 77; }
T=$TMP
chmod 755 "$T"
NSA=canh-lva-$$; NSB=canh-lvb-$$
AGENT_PID=
cleanup() {
    [ -n "$AGENT_PID" ] && kill -9 "$AGENT_PID" 2>/dev/null
    redis_stop
    wait 2>/dev/null
    ip netns del "$NSA" 2>/dev/null; ip netns del "$NSB" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

ip netns add "$NSA"; ip netns add "$NSB"
ip link add veth-a netns "$NSA" type veth peer name veth-b netns "$NSB"
# No IPv6 on the pair: its router solicitations and MLD reports every few
# seconds would make the "quiet" link below not quiet (flaky link_silent).
ip netns exec "$NSA" sysctl -qw net.ipv6.conf.veth-a.disable_ipv6=1
ip netns exec "$NSB" sysctl -qw net.ipv6.conf.veth-b.disable_ipv6=1
ip -n "$NSA" link set veth-a up; ip -n "$NSB" link set veth-b up
ip -n "$NSA" link set lo up; ip -n "$NSB" link set lo up

redis_start redis -s "$T/r.sock" -m 777 # the agent runs as nobody
rcli() { redis-cli -s "$T/r.sock" "$@"; }
count_kind() {  # kind [state]
    rcli --json XRANGE canh:events:live - + | python3 -c '
import json, sys
kind, state = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
n = 0
for _, f in json.load(sys.stdin):
    c = json.loads(dict(zip(f[::2], f[1::2]))["event"])["canh"]
    n += c["kind"] == kind and (state is None or c["state"] == state)
print(n)' "$@"
}

cat >"$T/agent.conf" <<CONF
[agent]
name = live
user = nobody
state_dir = $T/state
[capture]
interface = veth-b
link_silent = 2s
[output]
redis_url = unix:$T/r.sock
heartbeat_interval = 1s
CONF
ip netns exec "$NSB" "$BIN/canh-agent" -c "$T/agent.conf" 2>"$T/agent.log" &
AGENT_PID=$!

# Privileges dropped once the capture is open.
wait_until 30 "the agent to drop privileges" grep -q 'running as nobody' "$T/agent.log"
uid=$(awk '/^Uid:/ {print $3}' "/proc/$AGENT_PID/status")
[ "$uid" = "$(id -u nobody)" ] || fail "effective uid $uid, expected nobody"

# Quiet link: link_silent (after link_silent = 2 s) and heartbeats.
has_kind() { [ "$(count_kind "$@")" -ge 1 ]; }
wait_until 60 "a link_silent finding on a quiet link" has_kind link_silent new
wait_until 30 "a heartbeat" bash -c "[ \$(redis-cli -s '$T/r.sock' XLEN canh:heartbeats:live) -ge 1 ]"

# Traffic: findings in Redis within 1 s of the end of the replay.
timeout 30 ip netns exec "$NSA" tcpreplay -q -i veth-a --mbps 50 \
    "$SRC/tests/fixtures/scan_syn.pcap" >/dev/null 2>&1 || fail "tcpreplay failed"
sent=$(date +%s%N)
wait_until 60 "a portscan finding in Redis after the traffic" has_kind portscan
ms=$(( ($(date +%s%N) - sent) / 1000000 ))
echo "portscan finding in Redis ${ms} ms after the replay ended"
# A live capture names its interface in every event (EVE in_iface).
rcli --json XRANGE canh:events:live - + | python3 -c '
import json, sys
ifaces = {json.loads(dict(zip(f[::2], f[1::2]))["event"]).get("in_iface") for _, f in json.load(sys.stdin)}
sys.exit(0 if ifaces == {"veth-b"} else f"in_iface {ifaces}")' || fail "events without in_iface veth-b"

kill -TERM "$AGENT_PID"
rc=0; wait_pid 60 "$AGENT_PID" || rc=$?
AGENT_PID=
[ "$rc" -eq 0 ] || fail "exit $rc after SIGTERM"
[ "$(count_kind link_silent end)" -ge 1 ] || fail "link_silent not closed at stop"
echo "OK: live capture on veth, privilege drop, link_silent, findings after the traffic, clean stop"
