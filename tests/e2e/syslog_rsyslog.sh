#!/usr/bin/env bash
# syslog_rsyslog.sh — the syslog sink against a real rsyslogd (Debian's):
# rsyslog runs with its own configuration on loopback ports, writing what
# it parsed to files in the test directory.  An incident escalated through
# the sink over TCP (octet counting) and over UDP must arrive as RFC 5424
# that rsyslog parses: MSGID INCIDENT, the configured SD-ID with the
# incident's fields and its event time (first_seen/last_seen, UTC), and the
# Vietnamese text intact after the BOM.
source "$(dirname "$0")/collector_lib.bash"
RSYSLOGD=$(command -v rsyslogd || echo /usr/sbin/rsyslogd)
[ -x "$RSYSLOGD" ] || { echo "SKIP: no rsyslogd (Debian package rsyslog)"; exit 77; }

start_redis
free_port() { python3 -c 'import socket, sys; s=socket.socket(type=int(sys.argv[1])); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"; }
TCP_PORT=$(free_port 1)
UDP_PORT=$(free_port 2)
mkdir -p "$T/rsyslog-work"

# What rsyslog's RFC 5424 parser made of each message, one line each:
# MSGID|APP-NAME|STRUCTURED-DATA|MSG, and the raw message beside it.
cat >"$T/rsyslog.conf" <<CONF
global(workDirectory="$T/rsyslog-work")
module(load="imtcp")
module(load="imudp")
input(type="imtcp" address="127.0.0.1" port="$TCP_PORT" ruleset="canh")
input(type="imudp" address="127.0.0.1" port="$UDP_PORT" ruleset="canh")
template(name="parsed" type="list") {
    property(name="inputname") constant(value="|")
    property(name="msgid") constant(value="|")
    property(name="app-name") constant(value="|")
    property(name="structured-data") constant(value="|")
    property(name="msg") constant(value="\n")
}
ruleset(name="canh") {
    action(type="omfile" file="$T/parsed.txt" template="parsed")
}
CONF
"$RSYSLOGD" -N1 -f "$T/rsyslog.conf" >"$T/rsyslog-check.log" 2>&1 ||
    fail "rsyslogd refused its test configuration: $(cat "$T/rsyslog-check.log")"
"$RSYSLOGD" -n -f "$T/rsyslog.conf" -i "$T/rsyslog.pid" >>"$T/rsyslog.log" 2>&1 &
PIDS+=($!)
listening() { ss -Hltn "sport = :$TCP_PORT" | grep -q LISTEN && ss -Hlun "sport = :$UDP_PORT" | grep -q .; }
wait_until 30 "rsyslogd to listen on 127.0.0.1:$TCP_PORT and :$UDP_PORT" listening

run_collector() { # PROTO PORT NAME
    write_conf "$T/$3.conf" "
[escalation]
retry_base = 200ms
retry_max = 1s
poll_interval = 100ms
[syslog]
host = 127.0.0.1
port = $2
proto = $1
sd_id = soc@99999.1
app_name = canh-soc
min_severity = high
rate = unlimited
"
    "$CANH_BIN/canh-collector" -c "$T/$3.conf" --check >/dev/null || fail "--check refused $3.conf"
    start_collector "$T/$3.conf" "$3"
}

# check_message SOURCE_IP INPUT: the incident of SOURCE_IP as rsyslog saw it.
check_message() {
    local src=$1 input=$2 id line sd msg first
    id=$(incidents_where sources "$src")
    [ -n "$id" ] || fail "no incident for $src"
    line=$(grep -F "id=\"$id\"" "$T/parsed.txt" | head -1)
    IFS='|' read -r got_input msgid app sd msg <<<"$line"
    [ "$got_input" = "$input" ] || fail "$src arrived through '$got_input', not $input"
    [ "$msgid" = INCIDENT ] && [ "$app" = canh-soc ] || fail "rsyslog parsed MSGID '$msgid', APP-NAME '$app': $line"
    [[ $sd == "[soc@99999.1 id=\"$id\" action=\"escalated\""* ]] || fail "structured data: $sd"
    [[ $sd == *'taxonomy="attack.defacement" severity="critical"'* ]] || fail "incident fields: $sd"
    # The event time: the incident's first_seen (agent clock), in UTC.
    first=$(rc HGET "canh:incident:$id" first_seen_us)
    want=$(date -u -d "@$((first / 1000000))" +%Y-%m-%dT%H:%M:%S).$(printf '%06d' $((first % 1000000)))Z
    [[ $sd == *"first_seen=\"$want\""* ]] || fail "no first_seen=\"$want\" in $sd"
    [[ $sd == *' last_seen="'*'Z"]' ]] || fail "no last_seen in $sd"
    # RFC 5424 §6.4: the BOM marks MSG as UTF-8.  rsyslog's parser keeps it
    # as the first three bytes of its msg property (once: not doubled, not
    # escaped as #357#273#277), and the Vietnamese text after it arrives
    # byte for byte.
    [[ $msg == $'\xEF\xBB\xBF'"escalated: Tấn công thay đổi giao diện - Sở Y tế - $src → portal - "* ]] ||
        fail "BOM or Vietnamese text not intact: $(printf '%s' "$msg" | od -c | head -5)"
}

# --- TCP, octet counting ----------------------------------------------------
run_collector tcp "$TCP_PORT" collector-tcp
xadd_event gw-soyte "$(mkevent gw-soyte 1 defacement attack.defacement critical serious_candidate 10.7.1.1 198.51.100.10 portal 4)"
wait_until 60 "rsyslog to write the TCP message" grep -q 'soc@99999.1' "$T/parsed.txt"
check_message 10.7.1.1 imtcp
pass "TCP: rsyslog parsed SD-ID soc@99999.1, the event time and the Vietnamese text"
kill "$LAST_PID"; wait "$LAST_PID" 2>/dev/null || true

# --- UDP, one datagram a message -----------------------------------------------
run_collector udp "$UDP_PORT" collector-udp
xadd_event gw-soyte "$(mkevent gw-soyte 2 defacement attack.defacement critical serious_candidate 10.7.1.2 198.51.100.10 portal 4)"
wait_until 60 "rsyslog to write the UDP message" bash -c "grep -c 'soc@99999.1' '$T/parsed.txt' | grep -qx 2"
check_message 10.7.1.2 imudp
pass "UDP: the same"
echo "syslog_rsyslog: $PASSED checks passed"
