#!/usr/bin/env bash
# agent_instances.sh — canh-agent@eth1 and canh-agent@eth2 side by side, run
# as the unit runs them: ExecStartPre and ExecStart are read from
# systemd/canh-agent@.service with %i substituted (and /etc/canh, /usr/bin
# pointed into this test), StateDirectory= made as systemd would.  Each
# agent captures on its own veth in a network namespace made here; both
# deliver to one private redis-server.  Checks: each has its own name
# (gw-eth1 from agent.conf alone, gw-eth2 with agent-eth2.conf read over
# it), its own state directory and spool, its own streams; no lock
# collision; a second agent for the same interface is refused by the spool
# lock; SIGTERM stops both with 0.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/redis.sh"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for namespaces"; exit 77; }
command -v tcpreplay >/dev/null || { echo "SKIP: no tcpreplay"; exit 77; }
command -v redis-server >/dev/null || { echo "SKIP: no redis-server"; exit 77; }
UNIT=$CANH_SRC/systemd/canh-agent@.service
NSA=canh-ia-$$; NSB=canh-ib-$$
declare -A PID=()
cleanup() {
    local p
    for p in "${PID[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    redis_stop
    wait 2>/dev/null
    ip netns del "$NSA" 2>/dev/null; ip netns del "$NSB" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
ip netns add "$NSA"; ip netns add "$NSB"
for n in 1 2; do
    ip link add "eth$n" netns "$NSA" type veth peer name "peer$n" netns "$NSB"
    ip netns exec "$NSA" sysctl -qw "net.ipv6.conf.eth$n.disable_ipv6=1"
    ip netns exec "$NSB" sysctl -qw "net.ipv6.conf.peer$n.disable_ipv6=1"
    ip -n "$NSA" link set "eth$n" up; ip -n "$NSB" link set "peer$n" up
done

redis_start redis -s "$TMP/r.sock"
rcli() { redis-cli -s "$TMP/r.sock" "$@"; }
# at_least N COMMAND...: the command's output (a number) is N or more
at_least() { local want=$1; shift; [ "$("$@" 2>/dev/null || echo 0)" -ge "$want" ]; }

# /etc/canh of this test: one agent.conf, and agent-eth2.conf over it.
mkdir -p "$TMP/etc"
cat >"$TMP/etc/agent.conf" <<CONF
[agent]
name = gw
agency = Sở Y tế
state_dir = $TMP/lib/canh
[output]
redis_url = unix:$TMP/r.sock
heartbeat_interval = 1s
CONF
cat >"$TMP/etc/agent-eth2.conf" <<CONF
; the DMZ link
[agent]
agency = DMZ
CONF

# The unit's command lines for instance IFACE, as an array in CMD.
unit_cmd() {  # key iface
    local line
    line=$(sed -n "s/^$1=//p" "$UNIT")
    [ "$(printf '%s\n' "$line" | wc -l)" -eq 1 ] && [ -n "$line" ] || fail "expected one $1= in $UNIT"
    line=${line//%i/$2}
    line=${line//\/usr\/bin\/canh-agent/$CANH_BIN/canh-agent}
    line=${line//\/etc\/canh\//$TMP/etc/}
    [[ $line != *%* ]] || fail "$1: a specifier this test does not substitute: $line"
    read -ra CMD <<<"$line"
}
state_dir=$(sed -n 's/^StateDirectory=//p' "$UNIT")
[ "$state_dir" = "canh/%i" ] || fail "StateDirectory=$state_dir, expected canh/%i (one per instance)"

for n in 1 2; do
    i=eth$n
    mkdir -p "$TMP/lib/${state_dir//%i/$i}"   # what systemd makes for StateDirectory=
    unit_cmd ExecStartPre "$i"
    ip netns exec "$NSA" "${CMD[@]}" >"$TMP/check-$i.log" 2>&1 || { cat "$TMP/check-$i.log"; fail "ExecStartPre of canh-agent@$i"; }
    unit_cmd ExecStart "$i"
    echo "canh-agent@$i: ${CMD[*]}"
    ip netns exec "$NSA" "${CMD[@]}" 2>"$TMP/agent-$i.log" &
    PID[$i]=$!
done
expect_contains "$TMP/check-eth2.log" "agent-eth2.conf"
for n in 1 2; do
    wait_until 60 "a heartbeat on canh:heartbeats:gw-eth$n" at_least 1 rcli XLEN "canh:heartbeats:gw-eth$n"
done
pass "both instances run and send heartbeats to canh:heartbeats:gw-eth1 and gw-eth2"

# Own name and agency (agent-eth2.conf read over agent.conf for eth2 only).
agency_of() { rcli --raw XREVRANGE "canh:heartbeats:$1" + - COUNT 1 | grep '^{' | jq -r .canh.agency; }
[ "$(agency_of gw-eth1)" = "Sở Y tế" ] || fail "gw-eth1 agency $(agency_of gw-eth1)"
[ "$(agency_of gw-eth2)" = "DMZ" ] || fail "gw-eth2 agency $(agency_of gw-eth2), agent-eth2.conf not read"
pass "each instance has its own name; agent-eth2.conf applies to eth2 only"

# Own state directory and spool, each locked by its own agent.
for n in 1 2; do
    wait_until 30 "the spool in $TMP/lib/canh/eth$n" test -e "$TMP/lib/canh/eth$n/events.spool"
done
[ ! -e "$TMP/lib/canh/events.spool" ] || fail "a spool in the shared state directory"
for i in eth1 eth2; do
    kill -0 "${PID[$i]}" 2>/dev/null || fail "canh-agent@$i died"
    ! grep -qi "lock" "$TMP/agent-$i.log" || fail "canh-agent@$i: lock message"
done
pass "state and spool in /var/lib/canh/eth1 and eth2 (StateDirectory=canh/%i), no lock collision"

# Traffic on each link lands in that instance's stream.
for n in 1 2; do
    timeout 60 ip netns exec "$NSB" tcpreplay -q -i "peer$n" --mbps 50 \
        "$FIXTURES/scan_syn.pcap" >/dev/null 2>&1 || fail "tcpreplay on peer$n failed"
done
kinds() { rcli --raw XRANGE "canh:events:$1" - + | grep '^{' | jq -r .canh.kind | sort -u | tr '\n' ' '; }
has_portscan() { [[ " $(kinds "$1") " == *" portscan "* ]]; }
for n in 1 2; do
    wait_until 60 "a portscan in canh:events:gw-eth$n" has_portscan "gw-eth$n"
done
[ "$(rcli --raw KEYS 'canh:events:*' | sort | tr '\n' ' ')" = "canh:events:gw-eth1 canh:events:gw-eth2 " ] ||
    fail "streams: $(rcli --raw KEYS 'canh:events:*' | tr '\n' ' ')"
pass "findings of eth1 in canh:events:gw-eth1, of eth2 in canh:events:gw-eth2"

# A second agent for eth1 (a unit started twice by hand) meets the lock.
unit_cmd ExecStart eth1
rc=0
timeout 20 ip netns exec "$NSA" "${CMD[@]}" 2>"$TMP/dup.log" || rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || { cat "$TMP/dup.log"; fail "a second canh-agent@eth1 exited $rc"; }
expect_contains "$TMP/dup.log" "locked"
kill -0 "${PID[eth1]}" 2>/dev/null || fail "the first canh-agent@eth1 died"
pass "a second agent on eth1 is refused by its spool lock (exit $rc)"

for i in eth1 eth2; do
    term_wait 30 "${PID[$i]}" "canh-agent@$i"
    unset "PID[$i]"
done
pass "SIGTERM stops both with 0"
echo "$PASSED passed, 0 failed"
