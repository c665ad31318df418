#!/bin/bash
# tls_passive.sh — passive signals on HTTPS traffic (agent/detect/tls/,
# agent/detect/http/http_tls.c) against a real nginx with TLS (an ECDSA
# certificate from a private CA made here with openssl), in two network
# namespaces this script creates and deletes: nginx in one, the clients
# and the agent (capturing on the clients' veth) in the other; the name
# portal.canh.test resolves there through /etc/netns/NAME/hosts.
#
# Cases, in order, each waiting on the JSONL output (events and stats):
#   1. benign browsing (a few curl fetches over HTTPS, the agent's own
#      page check every second): the hellos are counted, no finding;
#   2. a TLS handshake flood (wrk, new connection per request, bounded to
#      a few seconds) → http_flood on port 443 with the name asked for
#      (tls_sni, top_sni) and the client fingerprints (top_ja3) in its
#      evidence, then its end;
#   3. the page defaced and fetched over HTTPS through a TLS-terminating
#      reverse proxy (the shipped docs/examples/reverse-proxy/ nginx
#      config, run in the agent's namespace on 127.0.0.1:8443, forwarding
#      to the site's plain HTTP on :8080 across the captured link): the
#      passive defacement read on that plaintext segment and the page
#      check's both carry tls_sni; the shipped agent-eth1.conf and
#      assets-backend.conf pass --check.
source "$(dirname "$0")/lib/common.sh" # fail, wait_until, wait_pid
source "$(dirname "$0")/lib/redis.sh"  # redis_start, redis_stop
source "$(dirname "$0")/lib/nginx.sh"  # start_nginx, stop_nginx
BIN=${CANH_BIN:?}; SRC=${CANH_SRC:?}
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for namespaces"; exit 77; }
for tool in nginx openssl jq wrk curl redis-server; do
    command -v "$tool" >/dev/null || PATH=$PATH:/usr/sbin
    command -v "$tool" >/dev/null || { echo "SKIP: no $tool"; exit 77; }
done
T=$TMP
chmod 755 "$T"
NSS=canh-tls-s-$$; NSA=canh-tls-a-$$
NET=10.214.$(($$ % 200 + 20))
SRV=$NET.1; AGT=$NET.2
NAME=portal.canh.test
AGENT_PID=; WRK_PID=
cleanup() {
    redis_stop
    [ -n "$WRK_PID" ] && kill -9 "$WRK_PID" 2>/dev/null
    [ -n "$AGENT_PID" ] && kill -9 "$AGENT_PID" 2>/dev/null
    stop_nginx
    wait 2>/dev/null
    ip netns del "$NSS" 2>/dev/null; ip netns del "$NSA" 2>/dev/null
    rm -rf "/etc/netns/$NSA" "$T"
}
trap cleanup EXIT

ip netns add "$NSS"; ip netns add "$NSA"
ip link add veth-s netns "$NSS" type veth peer name veth-a netns "$NSA"
ip -n "$NSS" addr add "$SRV/24" dev veth-s
ip -n "$NSA" addr add "$AGT/24" dev veth-a
ip -n "$NSS" link set veth-s up; ip -n "$NSA" link set veth-a up
ip -n "$NSS" link set lo up; ip -n "$NSA" link set lo up
wait_until 30 "the veth pair to come up" ip netns exec "$NSA" ping -c1 -W1 "$SRV"
mkdir -p "/etc/netns/$NSA"
printf '127.0.0.1 localhost\n%s %s\n' "$SRV" "$NAME" >"/etc/netns/$NSA/hosts"

# ---- a private CA and the site's certificate (ECDSA: cheap handshakes)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/CN=canh test CA" -keyout "$T/ca.key" -out "$T/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$NAME" \
    -keyout "$T/portal.key" -out "$T/portal.csr" 2>/dev/null
printf 'subjectAltName=DNS:%s\n' "$NAME" >"$T/ext"
openssl x509 -req -in "$T/portal.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
    -days 30 -extfile "$T/ext" -out "$T/portal.pem" 2>/dev/null

mkdir -p "$T/www"
echo '<html><head><title>Portal</title></head><body><p>Tin tức</p></body></html>' \
    >"$T/www/index.html"
start_nginx "$T/nginx" "$NSS" "    server {
        listen $SRV:443 ssl; listen $SRV:8080;
        server_name $NAME;
        ssl_certificate $T/portal.pem; ssl_certificate_key $T/portal.key;
        root $T/www;
    }"
CURL=(ip netns exec "$NSA" curl -s --max-time 10 --cacert "$T/ca.pem")

# ---- the agent: http_flood's floor at 20 handshakes/s for the test,
# short hold-downs; the portal's page checked every second.
mkdir -p "$T/local-rules" "$T/state"
sed -e 's|^rate = 1000/s|rate = 20/s|' -e 's|^hold_down = .*|hold_down = 2s|' \
    -e 's|^update_interval = .*|update_interval = 1s|' \
    "$SRC/rules/http.rules" >"$T/local-rules/http.rules"
grep -q '^rate = 20/s' "$T/local-rules/http.rules" || fail "http.rules has no 'rate = 1000/s' to lower"
cp "$SRC/rules/defacement.markers" "$T/local-rules/"
cat >"$T/assets.conf" <<CONF
[portal]
address = $SRV
level = 3
check = https://$NAME/
check_interval = 1s
check_ca_file = $T/ca.pem
CONF
cat >"$T/agent.conf" <<CONF
[agent]
name = tls
state_dir = $T/state
local_rules_dir = $T/local-rules
assets = $T/assets.conf
[capture]
interface = veth-a
[output]
redis_url = unix:$T/r.sock
heartbeat_interval = 1s
CONF
# Heartbeats (the http detector's TLS counters) go to Redis.
redis_start redis -s "$T/r.sock" -m 777
"$BIN/canh-agent" --check -c "$T/agent.conf" || fail "--check refused the config"
EV=$T/events.jsonl
ip netns exec "$NSA" "$BIN/canh-agent" -c "$T/agent.conf" -o "jsonl:$EV" -o redis 2>>"$T/agent.log" &
AGENT_PID=$!

findings() {  # [kind [state]]: finding events so far
    [ -f "$EV" ] || { echo 0; return; }
    jq -c --arg k "${1:-}" --arg s "${2:-}" \
        'select(.canh.kind != null and ($k == "" or .canh.kind == $k) and
                ($s == "" or .canh.state == $s))' "$EV" | wc -l
}
has() { [ "$(findings "$@")" -ge 1 ]; }
# The http detector's counter NAME in the last heartbeat.
stat() {
    redis-cli -s "$T/r.sock" --raw XREVRANGE canh:heartbeats:tls + - COUNT 1 |
        grep '^{' | jq --arg n "$1" '[.. | objects | select(has($n)) | .[$n]] | last // 0' ||
        echo 0
}
stat_at_least() { [ "$(stat "$1")" -ge "$2" ]; }

# 1. Benign browsing: a few fetches at a reader's pace: the next one once
# the agent's heartbeat (every second) counts a ClientHello more than
# before this one, however fast or slow the machine is.
wait_until 60 "the page check to learn the page" grep -q 'page learned' "$T/agent.log"
for page in / /index.html / /index.html /; do
    hellos=$(stat tls_client_hellos)
    "${CURL[@]}" -o /dev/null "https://$NAME$page" || fail "curl https://$NAME$page"
    wait_until 60 "the agent to count a ClientHello more than $hellos" \
        stat_at_least tls_client_hellos $((hellos + 1))
done
wait_until 60 "the agent to count 6 ClientHellos and their ServerHellos" \
    bash -c "$(declare -f stat stat_at_least); T='$T'; stat_at_least tls_client_hellos 6 &&
             stat_at_least tls_server_hellos 6"
[ "$(stat tls_malformed)" -eq 0 ] || fail "real hellos counted as malformed"
[ "$(findings)" -eq 0 ] || { cat "$EV"; fail "benign HTTPS browsing raised findings"; }
pass "benign HTTPS browsing: $(stat tls_client_hellos) hellos read, no finding"

# 2. A handshake flood: every request on a new connection (a new
# handshake), 8 connections, 6 seconds at most.
ip netns exec "$NSA" timeout 20 wrk -t1 -c8 -d6s -H 'Connection: close' "https://$NAME/" \
    >"$T/wrk.out" 2>&1 &
WRK_PID=$!
wait_until 60 "an http_flood finding" has http_flood new
wait_pid 30 "$WRK_PID" || true
WRK_PID=
cat "$T/wrk.out"
jq -e -s --arg name "$NAME" 'map(select(.canh.kind == "http_flood" and .canh.state == "new"))[0] |
    .dest_port == 443 and .canh.evidence.tls_sni == $name and
    .canh.evidence.top_sni[0].sni == $name and .canh.evidence.top_sni[0].handshakes > 20 and
    (.canh.evidence.top_ja3[0].ja3 | test("^[0-9a-f]{32}$")) and
    .canh.evidence.top_ja3[0].handshakes > 20 and
    .canh.counters.tls_handshakes_window >= 20 and
    .canh.taxonomy.code == "attack.dos"' "$EV" >/dev/null || {
    jq -c 'select(.canh.kind == "http_flood")' "$EV"
    fail "http_flood without port 443, the SNI, the JA3 tops or the handshake count"
}
wait_until 60 "the flood to end once wrk stopped" has http_flood end
[ "$(findings http_flood new)" -eq 1 ] || fail "one flood, $(findings http_flood new) findings"
pass "TLS handshake flood: one http_flood on 443 with SNI $NAME and JA3 $(jq -r -s \
    'map(select(.canh.kind == "http_flood"))[0].canh.evidence.top_ja3[0].ja3' "$EV")"

# 3. Defaced, and fetched through the TLS-terminating proxy of the shipped
# example: the proxy ends TLS in the agent's namespace and forwards plain
# HTTP to $SRV:8080 across the captured link.
EX=$SRC/docs/examples/reverse-proxy
mkdir -p "$T/proxy"
sed -e "s|listen 443 ssl;|listen 127.0.0.1:8443 ssl;|" -e '/listen \[::\]/d' \
    -e "s|listen 80;|listen 127.0.0.1:8081;|" -e "s|portal.example.gov.vn|$NAME|" \
    -e "s|10.20.0.10:8080|$SRV:8080|" -e "s|/etc/ssl/portal/fullchain.pem|$T/portal.pem|" \
    -e "s|/etc/ssl/portal/privkey.pem|$T/portal.key|" "$EX/nginx-tls-proxy.conf" >"$T/proxy/site.conf"
grep -q "proxy_pass http://portal_backend" "$T/proxy/site.conf" || fail "the example proxy config changed shape"
start_nginx "$T/proxy" "$NSA" "    include $T/proxy/site.conf;"
PROXY_CURL=("${CURL[@]}" --resolve "$NAME:8443:127.0.0.1")
echo '<html><head><title>Hacked by Sh4d0w</title></head><body>Hacked by Sh4d0w Team</body></html>' \
    >"$T/www/index.html"
"${PROXY_CURL[@]}" -o "$T/through-proxy.html" "https://$NAME:8443/" || fail "curl through the proxy"
grep -q "Hacked by" "$T/through-proxy.html" || fail "the proxy did not serve the defaced page"
wait_until 60 "the check's and the passive defacement findings" \
    bash -c "[ \$(jq -c 'select(.canh.kind == \"defacement\" and .canh.state == \"new\")' '$EV' | wc -l) -ge 2 ]"
jq -e -s --arg name "$NAME" 'map(select(.canh.kind == "defacement" and .canh.state == "new")) |
    length == 2 and all(.canh.evidence.tls_sni == $name) and
    any(.canh.rule | endswith(":check_defacement")) and
    any((.canh.rule | endswith(":defacement")) and .dest_port == 8080 and .canh.evidence.host == $name)' \
    "$EV" >/dev/null || {
    jq -c 'select(.canh.kind == "defacement")' "$EV"
    fail "defacement findings: not one passive (port 8080, Host kept) and one check, each with tls_sni"
}
pass "behind the TLS proxy the passive defacement is read; it and the check's carry tls_sni $NAME"

# The shipped instance and assets examples are valid as written.
mkdir -p "$T/example"
cp "$EX/agent-eth1.conf" "$T/example/"
sed "s|^assets = .*|assets = $T/example/assets-backend.conf|" "$EX/agent-eth1.conf" \
    >"$T/example/agent-eth1.conf"
cp "$EX/assets-backend.conf" "$T/example/"
printf '[agent]\nname = gw\nstate_dir = %s\n' "$T/example" >"$T/example/agent.conf"
"$BIN/canh-agent" --check -c "$T/example/agent.conf" --instance eth1 >"$T/example-check.txt" 2>&1 ||
    fail "the shipped reverse-proxy examples fail --check: $(cat "$T/example-check.txt")"
pass "docs/examples/reverse-proxy agent-eth1.conf and assets-backend.conf pass --check"

kill -TERM "$AGENT_PID"
wait_pid 30 "$AGENT_PID" || fail "the agent did not stop cleanly"
AGENT_PID=
echo "tls_passive: $PASSED passed"
