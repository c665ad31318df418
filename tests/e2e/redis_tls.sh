#!/usr/bin/env bash
# redis_tls.sh — the WAN path of docs/deployment.md on loopback: a TLS-only
# redis-server (plain port 0, client certificates required, the shipped
# ACL file), Debian's stunnel4 in client mode with the shipped
# canh-stunnel.conf.example (only addresses and file paths changed), and
# the real canh-agent writing redis://127.0.0.1:<tunnel> as its ACL user.
# Also: plain TCP to the TLS port gets nothing, a client without a
# certificate is refused, stunnel refuses a server whose certificate is
# not from the SOC CA or names another host (and the agent's events then
# stay in its spool), and canh-stunnel.service verifies and scores <= 2.0.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/redis_secure.sh"
command -v stunnel4 >/dev/null || fail "stunnel4 is not installed (apt-get install stunnel4)"

PKI=$TMP/pki
mkdir -p "$PKI"
HOST=redis.soc.example # the name in the shipped stunnel config
make_ca "$PKI" soc-ca
make_cert "$PKI" server soc-ca "$HOST"
make_cert "$PKI" gw-soyte soc-ca gw-soyte
make_cert "$PKI" admin soc-ca canh-admin
make_cert "$PKI" wronghost soc-ca other.soc.example
make_ca "$PKI" rogue-ca
make_cert "$PKI" rogue rogue-ca "$HOST"

acl_instantiate "$CANH_SRC/systemd/redis-users.acl.example" "$TMP/users.acl"
# set by tls_redis and tunnel below
soc_PORT='' rogue_PORT='' wrong_PORT='' tun_PORT='' tun_rogue_PORT='' tun_wrong_PORT=''

# tls_redis NAME CERT CA CLIENT [redis_start options] -- [extra
# redis-server args]: a TLS-only redis-server (lib/redis.sh) on a free
# loopback port (in the variable NAME_PORT) with the certificate CERT,
# signed by CA; up once it answers PING over TLS to a client that trusts
# CA and shows the certificate CLIENT ('': none).
tls_redis() {
    local name=$1 cert=$2 ca=$3 client=$4 port
    shift 4
    port=$(free_port)
    mkdir -p "$TMP/$name"
    local cert_key=('' '')
    [ -z "$client" ] || cert_key=("$PKI/$client.crt" "$PKI/$client.key")
    redis_start "$name" -p "$port" -t "$PKI/$ca.crt" "${cert_key[@]}" "$@" \
        --tls-cert-file "$PKI/$cert.crt" --tls-key-file "$PKI/$cert.key" \
        --tls-ca-cert-file "$PKI/soc-ca.crt" --dir "$TMP/$name"
    printf -v "${name}_PORT" '%s' "$port"
}

# tunnel NAME REDIS_PORT: stunnel with the shipped config, accepting on a
# free loopback port (NAME_PORT) and connecting to REDIS_PORT.
tunnel() {
    local name=$1 port
    port=$(free_port)
    sed -e "s|^accept = .*|accept = 127.0.0.1:$port|" \
        -e "s|^connect = .*|connect = 127.0.0.1:$2|" \
        -e "s|^CAfile = .*|CAfile = $PKI/soc-ca.crt|" \
        -e "s|^cert = .*|cert = $PKI/gw-soyte.crt|" \
        -e "s|^key = .*|key = $PKI/gw-soyte.key|" \
        "$CANH_SRC/systemd/canh-stunnel.conf.example" >"$TMP/$name.conf"
    grep -q "^checkHost = $HOST\$" "$TMP/$name.conf" || fail "the shipped stunnel config does not check $HOST"
    grep -q "^verifyChain = yes\$" "$TMP/$name.conf" || fail "the shipped stunnel config does not verify the chain"
    bg "$name" stunnel4 "$TMP/$name.conf"
    printf -v "${name}_PORT" '%s' "$port"
    wait_until 30 "stunnel $name listening on $port" bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"
}

# admin CMD...: a command as canh-admin over TLS straight to the SOC Redis.
admin() {
    timeout 10 redis-cli --tls --cacert "$PKI/soc-ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
        -h 127.0.0.1 -p "$soc_PORT" --user canh-admin --pass "$(test_password canh-admin)" \
        --no-auth-warning "$@" 2>&1
}
# via PORT USER CMD...: a plain redis-cli command to a tunnel's local end.
via() {
    local port=$1 user=$2
    shift 2
    timeout 10 redis-cli -h 127.0.0.1 -p "$port" --user "$user" --pass "$(test_password "$user")" \
        --no-auth-warning "$@" 2>&1
}

tls_redis soc server soc-ca admin -u canh-admin "$(test_password canh-admin)" -- \
    --tls-auth-clients yes --aclfile "$TMP/users.acl"
[ "$(admin PING)" = PONG ] || fail "no PONG over TLS: $(admin PING)"
pass "a TLS-only redis-server with the shipped ACL answers over TLS"

# Plain TCP to the TLS port: no Redis reply, ever.
out=$(timeout 5 redis-cli -h 127.0.0.1 -p "$soc_PORT" --user canh-admin \
    --pass "$(test_password canh-admin)" --no-auth-warning PING 2>&1) || true
[ "$out" != PONG ] || fail "plain TCP to the TLS port got PONG"
grep -q 'canh:' < <(timeout 5 redis-cli -h 127.0.0.1 -p "$soc_PORT" --user canh-admin \
    --pass "$(test_password canh-admin)" --no-auth-warning KEYS '*' 2>&1) && fail "plain TCP read keys"
wait_until 30 "redis-server to log the plain-text client" grep -q 'wrong version number' "$TMP/soc.log"
pass "plain TCP to the TLS port gets no answer (Redis logs 'wrong version number')"

# TLS without a client certificate: refused by tls-auth-clients yes.
out=$(timeout 5 redis-cli --tls --cacert "$PKI/soc-ca.crt" -h 127.0.0.1 -p "$soc_PORT" \
    --user canh-admin --pass "$(test_password canh-admin)" --no-auth-warning PING 2>&1) || true
[ "$out" != PONG ] || fail "a client without a certificate got PONG"
wait_until 30 "redis-server to log the client without a certificate" grep -q 'peer did not return a certificate' "$TMP/soc.log"
pass "a TLS client without a certificate from the SOC CA is refused"

tunnel tun "$soc_PORT"
[ "$(via "$tun_PORT" gw-soyte PING)" = PONG ] || fail "no PONG through the tunnel: $(via "$tun_PORT" gw-soyte PING)"
out=$(via "$tun_PORT" gw-soyte XRANGE canh:incidents - +)
case $out in NOPERM*) ;; *) fail "the agent user read incidents through the tunnel: $out" ;; esac
pass "stunnel with the shipped config carries gw-soyte's commands, ACL still applied"

# The agent through the tunnel, as on a gateway.
test_password gw-soyte >"$TMP/gw-soyte.pw"
chmod 600 "$TMP/gw-soyte.pw"
agent_conf() { # FILE PORT STATE
    cat >"$1" <<CONF
[agent]
name = gw-soyte
agency = Sở Y tế
state_dir = $3
[output]
redis_url = redis://127.0.0.1:$2
user = gw-soyte
password_file = $TMP/gw-soyte.pw
timeout = 3s
CONF
}
agent_conf "$TMP/agent.conf" "$tun_PORT" "$TMP/state"
timeout 60 "$CANH_BIN/canh-agent" -c "$TMP/agent.conf" -r "$FIXTURES/scan_syn.pcap" \
    --output redis --output "jsonl:$TMP/events.jsonl" >"$TMP/agent.log" 2>&1 ||
    { cat "$TMP/agent.log"; fail "canh-agent exited $?"; }
lines=$(wc -l <"$TMP/events.jsonl")
[ "$lines" -ge 1 ] || fail "the fixture gave no events"
admin --json XRANGE canh:events:gw-soyte - + >"$TMP/stream.json"
python3 - "$TMP/stream.json" "$TMP/events.jsonl" <<'PY' || fail "the stream read back over TLS differs from the agent's JSONL"
import json, sys
entries = json.load(open(sys.argv[1]))
stream = []
for _, fields in entries:
    f = dict(zip(fields[::2], fields[1::2])) if isinstance(fields, list) else fields
    stream.append(f["event"])
jsonl = open(sys.argv[2]).read().splitlines()
assert stream == jsonl, (len(stream), len(jsonl))
PY
grep -q " $lines delivered" "$TMP/agent.log" || { cat "$TMP/agent.log"; fail "the agent did not report $lines delivered"; }
pass "canh-agent through stunnel: all $lines events of scan_syn.pcap in canh:events:gw-soyte, read back over TLS"

# An impostor with a certificate from another CA, and a genuine SOC
# certificate for another host: stunnel refuses both, so the agent's
# events stay in its spool and nothing reaches the impostor.
tls_redis rogue rogue rogue-ca '' -- --tls-auth-clients no
tunnel tun_rogue "$rogue_PORT"
out=$(via "$tun_rogue_PORT" gw-soyte PING) || true
[ "$out" != PONG ] || fail "stunnel talked to a server with a rogue CA's certificate"
wait_until 30 "stunnel to log the rogue certificate" grep -q 'unable to get local issuer certificate' "$TMP/tun_rogue.log"
agent_conf "$TMP/agent_rogue.conf" "$tun_rogue_PORT" "$TMP/state_rogue"
timeout 60 "$CANH_BIN/canh-agent" -c "$TMP/agent_rogue.conf" -r "$FIXTURES/scan_syn.pcap" \
    --output redis >"$TMP/agent_rogue.log" 2>&1 || true
grep -q "$lines left in the spool" "$TMP/agent_rogue.log" ||
    { cat "$TMP/agent_rogue.log"; fail "the agent's events did not stay in the spool"; }
n=$(timeout 10 redis-cli --tls --cacert "$PKI/rogue-ca.crt" -h 127.0.0.1 -p "$rogue_PORT" \
    XLEN canh:events:gw-soyte 2>&1)
[ "$n" = 0 ] || fail "the impostor received $n events"
pass "stunnel refuses a server certificate not signed by the SOC CA; events stay in the spool"

tls_redis wrong wronghost soc-ca '' -- --tls-auth-clients no
tunnel tun_wrong "$wrong_PORT"
out=$(via "$tun_wrong_PORT" gw-soyte PING) || true
[ "$out" != PONG ] || fail "stunnel talked to a server certified for another host"
wait_until 30 "stunnel to log the host name mismatch" grep -q 'Subject checks failed' "$TMP/tun_wrong.log"
pass "stunnel refuses a SOC-signed certificate for another host name (checkHost)"

# The unit that runs the tunnel on a gateway.
systemd-analyze verify "$CANH_SRC/systemd/canh-stunnel.service" >"$TMP/verify.log" 2>&1 ||
    { cat "$TMP/verify.log"; fail "systemd-analyze verify canh-stunnel.service"; }
if grep -v "Unit sysinit.target not found" "$TMP/verify.log" | grep -q canh-stunnel; then
    cat "$TMP/verify.log"
    fail "systemd-analyze verify complains about canh-stunnel.service"
fi
systemd-analyze security --offline=true "$CANH_SRC/systemd/canh-stunnel.service" >"$TMP/security.log" 2>&1 || true
score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$TMP/security.log")
[ -n "$score" ] || { cat "$TMP/security.log"; fail "no exposure score for canh-stunnel.service"; }
awk -v s="$score" 'BEGIN{exit !(s <= 2.0)}' || fail "canh-stunnel.service exposure $score > 2.0"
pass "canh-stunnel.service verifies and scores $score"

echo "$PASSED passed, 0 failed"
