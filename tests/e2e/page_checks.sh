#!/bin/bash
# page_checks.sh — active checks of monitored pages (agent/check/) against
# real servers in two network namespaces this script creates and deletes:
# nginx with TLS (a private CA made here with openssl) and dnsmasq as the
# resolver in one, the agent in the other, its /etc/resolv.conf pointing
# at dnsmasq the ip-netns way (/etc/netns/NAME/resolv.conf).  Every check
# is one GET of https://portal.canh.test/ that nginx redirects (same site)
# to /home.html, so nginx's access log counts the checks.
#
# Cases, in order, each waiting on the JSONL output: an unchanged page
# with a dynamic date masked by check_mask stays silent; "Hacked by" →
# defacement within two checks, page restored → end; a script from a new
# host → content_injected; edited text → page_changed with an excerpt;
# the name re-pointed in dnsmasq → dns_changed; a certificate from
# another CA, trusted or not, or about to expire → tls_changed, and a
# renewal learned silently; nginx stopped → site_down, restarted → end;
# SIGHUP adds a URL; heartbeats (Redis) count checks done and failed;
# the learned baseline survives a restart.  Every
# event validates against docs/event.schema.json.
source "$(dirname "$0")/lib/common.sh" # fail, wait_until, wait_pid
source "$(dirname "$0")/lib/redis.sh"  # redis_start, redis_stop
source "$(dirname "$0")/lib/nginx.sh"  # start_nginx, stop_nginx
BIN=${CANH_BIN:?}; SRC=${CANH_SRC:?}
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for namespaces"; exit 77; }
for tool in nginx dnsmasq openssl jq; do
    command -v "$tool" >/dev/null || PATH=$PATH:/usr/sbin
    command -v "$tool" >/dev/null || { echo "SKIP: no $tool"; exit 77; }
done
T=$TMP
chmod 755 "$T"
NSS=canh-pcs-$$; NSA=canh-pca-$$
NET=10.213.$(($$ % 200 + 20))
SRV=$NET.1; SRV2=$NET.3; AGT=$NET.2
AGENT_PID=; DNS_PID=
cleanup() {
    redis_stop
    [ -n "$AGENT_PID" ] && kill -9 "$AGENT_PID" 2>/dev/null
    stop_nginx
    [ -n "$DNS_PID" ] && kill "$DNS_PID" 2>/dev/null
    wait 2>/dev/null
    ip netns del "$NSS" 2>/dev/null; ip netns del "$NSA" 2>/dev/null
    rm -rf "/etc/netns/$NSA" "$T"
}
trap cleanup EXIT

ip netns add "$NSS"; ip netns add "$NSA"
ip link add veth-s netns "$NSS" type veth peer name veth-a netns "$NSA"
ip -n "$NSS" addr add "$SRV/24" dev veth-s; ip -n "$NSS" addr add "$SRV2/24" dev veth-s
ip -n "$NSA" addr add "$AGT/24" dev veth-a
ip -n "$NSS" link set veth-s up; ip -n "$NSA" link set veth-a up
ip -n "$NSS" link set lo up; ip -n "$NSA" link set lo up
wait_until 30 "the veth pair to come up" ip netns exec "$NSA" ping -c1 -W1 "$SRV"

# ---- a private PKI: CAs one and two (trusted through check_ca_file),
# three (not)
printf 'subjectAltName=DNS:portal.canh.test\n' >"$T/ext"
leaf() {  # ca name days [key]: $T/name-portal.pem (+ .key) signed by ca
    if [ -n "${4:-}" ]; then cp "$T/$4" "$T/$2-portal.key"; else
        openssl genrsa -out "$T/$2-portal.key" 2048 2>/dev/null; fi
    openssl req -new -key "$T/$2-portal.key" -subj "/CN=portal.canh.test" \
        -out "$T/$2-portal.csr" 2>/dev/null
    openssl x509 -req -in "$T/$2-portal.csr" -CA "$T/$1-ca.pem" -CAkey "$T/$1-ca.key" \
        -CAcreateserial -days "$3" -extfile "$T/ext" -out "$T/$2-portal.pem" 2>/dev/null
}
for ca in one two three; do
    openssl req -x509 -newkey rsa:2048 -nodes -days 400 -subj "/CN=$ca CA" \
        -keyout "$T/$ca-ca.key" -out "$T/$ca-ca.pem" 2>/dev/null
    leaf "$ca" "$ca" 30
done
cat "$T/one-ca.pem" "$T/two-ca.pem" >"$T/trusted.pem"
leaf one expiring 7 one-portal.key # same key and issuer, expires within 14 days
leaf one renewed 90                # a renewal: same issuer, new key, later expiry
use_cert() { cp "$T/$1-portal.pem" "$T/portal.pem"; cp "$T/$1-portal.key" "$T/portal.key"; }
use_cert one

# ---- the site: / redirects to /home.html (same site); SSI prints the time
mkdir -p "$T/www"
page() {  # extra-head extra-body [text]
    cat >"$T/www/home.tmp" <<HTML
<!DOCTYPE html><html><head><title>Cổng thông tin điện tử Sở Thử nghiệm</title>
<script src="/static/site.js"></script><script src="https://cdn.canh.test/lib.js"></script>$1
</head><body><h1>Sở Thử nghiệm</h1>
<p>Cập nhật lúc <!--# config timefmt="%Y-%m-%d %H:%M:%S" --><!--# echo var="date_local" --></p>
<p>${3:-Thông báo tuyển dụng viên chức năm 2026.}</p>$2
</body></html>
HTML
    mv "$T/www/home.tmp" "$T/www/home.html"
}
page "" ""
echo "other page" >"$T/www/other.html"
SITE="    access_log $T/access.log;
    gzip on;
    gzip_min_length 1;
    server {
        listen $SRV:443 ssl; listen $SRV2:443 ssl;
        server_name portal.canh.test;
        ssl_certificate $T/portal.pem; ssl_certificate_key $T/portal.key;
        root $T/www;
        ssi on;
        location = / { return 302 /home.html; }
    }"
start_nginx "$T/nginx" "$NSS" "$SITE"

# ---- the resolver the test controls
printf '%s portal.canh.test\n' "$SRV" >"$T/hosts"
ip netns exec "$NSS" dnsmasq --keep-in-foreground --no-resolv --no-hosts --addn-hosts="$T/hosts" \
    --listen-address="$SRV" --bind-interfaces --port=53 --pid-file="$T/dnsmasq.pid" \
    --log-facility="$T/dnsmasq.log" --user=root &
DNS_PID=$!
mkdir -p "/etc/netns/$NSA"
printf 'nameserver %s\n' "$SRV" >"/etc/netns/$NSA/resolv.conf"
wait_until 30 "dnsmasq to answer" ip netns exec "$NSA" getent hosts portal.canh.test

# ---- the agent: checks every second; short hold_down from local rules
mkdir -p "$T/local-rules" "$T/state"
sed 's/^hold_down = .*/hold_down = 1s/' "$SRC/rules/check.rules" >"$T/local-rules/check.rules"
write_assets() {  # extra-check-URLs [extra-mask]
    cat >"$T/assets.conf" <<CONF
[portal]
address = $SRV, $SRV2
level = 3
check = https://portal.canh.test/$1
check_interval = 1s
check_ca_file = $T/trusted.pem
check_expect_addresses = $SRV
check_mask = [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}${2:+, $2}
CONF
}
write_assets ""
# Heartbeats (with the checks' counters) go to Redis.
redis_start redis -s "$T/r.sock" -m 777
cat >"$T/agent.conf" <<CONF
[agent]
name = checks
state_dir = $T/state
local_rules_dir = $T/local-rules
assets = $T/assets.conf
[capture]
interface = veth-a
[output]
redis_url = unix:$T/r.sock
heartbeat_interval = 1s
CONF
"$BIN/canh-agent" --check -c "$T/agent.conf" || fail "--check refused the config"
# A mistake in a check key: file:line and exit 2.
cp "$T/assets.conf" "$T/assets.good"
sed -i 's|^check_mask = .*|check_mask = ([0-9]|' "$T/assets.conf"
rc=0; "$BIN/canh-agent" --check -c "$T/agent.conf" 2>"$T/check-err.txt" || rc=$?
[ "$rc" -eq 2 ] || fail "--check exited $rc on a bad check_mask, expected 2"
grep -q "assets.conf:8: .*check_mask.*not a regular expression" "$T/check-err.txt" ||
    fail "no file:line for the bad check_mask: $(cat "$T/check-err.txt")"
mv "$T/assets.good" "$T/assets.conf"
EV=$T/events.jsonl
start_agent() {
    ip netns exec "$NSA" "$BIN/canh-agent" -c "$T/agent.conf" -o "jsonl:$EV" -o redis \
        2>>"$T/agent.log" &
    AGENT_PID=$!
}
start_agent
count() {  # kind [state]
    [ -f "$EV" ] || { echo 0; return; }
    jq -c --arg k "$1" --arg s "${2:-}" \
        'select(.canh.kind == $k and ($s == "" or .canh.state == $s))' "$EV" | wc -l
}
has() { [ "$(count "$@")" -ge "${N:-1}" ]; }
# The agent's checks of the page so far (each one GET /home.html).
checks() { grep -c 'GET /home.html.*canh-agent' "$T/access.log" || true; }
# wait_checks N: N more checks reached the page
wait_checks() {
    local want=$(($(checks) + $1))
    wait_until 60 "$1 more checks" bash -c "[ \$(grep -c 'GET /home.html.*canh-agent' '$T/access.log') -ge $want ]"
}
no_check_events() {
    local n
    n=$(jq -c 'select(.canh.rule | test("check_"))' "$EV" 2>/dev/null | wc -l)
    [ "$n" -eq 0 ] || { cat "$EV"; fail "$1: $n check events, expected none"; }
}

# 1. Unchanged page, its clock masked: the baseline is learned, no finding.
# (The clock is real: nginx prints the time at each request.)
fetch_page() { ip netns exec "$NSA" curl -s --cacert "$T/trusted.pem" https://portal.canh.test/home.html; }
fetch_page | grep -Eq 'lúc [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}' || fail "nginx does not print the time"
wait_until 60 "the page to be learned" grep -q 'page learned' "$T/agent.log"
wait_checks 4
no_check_events "an unchanged page whose date changes every second"
pass "unchanged HTTPS page with a masked dynamic date: silence"

# 2. Defaced: a defacement finding within two checks; page_changed stays quiet.
page "" "<h1>Hacked by Sh4d0w Team</h1>" "Your security is a myth. Greetz to all."
before=$(checks)
wait_until 60 "a defacement finding" has defacement new
# The event says which check of the URL found it (its url_checks): at most
# two after the edit, however late this script reads the output.
after=$(jq -s 'map(select(.canh.kind == "defacement"))[0].canh.counters.url_checks' "$EV")
[ $((after - before)) -le 2 ] || fail "defacement at check $after, the page was edited after check $before"
jq -e -s 'map(select(.canh.kind == "defacement"))[0] |
    .canh.taxonomy.code == "attack.defacement" and .canh.asset.name == "portal" and
    (.canh.evidence.markers | index("hacked by")) != null' "$EV" >/dev/null ||
    fail "defacement event without its taxonomy, asset or marker"
page "" ""
wait_until 60 "the defacement to end after the page is restored" has defacement end
[ "$(count page_changed)" -eq 0 ] || fail "page_changed raised alongside the defacement"
pass "defacement within $((after - before)) checks, ended when restored"

# 3. A script from a host the baseline never loaded from.
page '<script src="https://skimmer.evil.test/c.js"></script>' ""
wait_until 60 "a content_injected finding" has content_injected new
jq -e -s 'map(select(.canh.kind == "content_injected"))[0] |
    .canh.taxonomy.code == "attack.intrusion" and .canh.evidence.new_hosts == ["skimmer.evil.test"]' \
    "$EV" >/dev/null || fail "content_injected without attack.intrusion or the new host"
page "" ""
wait_until 60 "content_injected to end" has content_injected end
pass "content_injected for a script from a new host"

# 4. Edited text: page_changed with the hashes, the size delta and the text.
page "" "" "Thông báo: lịch tiếp công dân tháng 12."
wait_until 60 "a page_changed finding" has page_changed new
jq -e -s 'map(select(.canh.kind == "page_changed"))[0].canh.evidence |
    .old_sha256 != .new_sha256 and (.new_text | contains("lịch tiếp công dân")) and
    (.old_text | contains("tuyển dụng")) and (.size_delta | type) == "number"' "$EV" >/dev/null ||
    fail "page_changed evidence lacks hashes or the changed text"
page "" ""
wait_until 60 "page_changed to end" has page_changed end
pass "page_changed with old/new hash and a text excerpt"

# 5. The name re-pointed to an address outside check_expect_addresses.
printf '%s portal.canh.test\n' "$SRV2" >"$T/hosts"; kill -HUP "$DNS_PID"
wait_until 60 "a dns_changed finding" has dns_changed new
jq -e -s --arg a "$SRV2" 'map(select(.canh.kind == "dns_changed"))[0] |
    .canh.taxonomy.code == "attack.spoofing" and .canh.evidence.address == $a' "$EV" >/dev/null ||
    fail "dns_changed without attack.spoofing or the new address"
printf '%s portal.canh.test\n' "$SRV" >"$T/hosts"; kill -HUP "$DNS_PID"
wait_until 60 "dns_changed to end" has dns_changed end
pass "dns_changed when the name points elsewhere"

# 6. Certificates. The one of the first handshake was learned with the page.
grep -q '^issuer CN=one CA' "$T"/state/checks/* || fail "the certificate was not learned"
tls_nth() {  # n: the n-th tls_changed new event (from 0)
    jq -c -s --argjson n "$1" 'map(select(.canh.kind == "tls_changed" and .canh.state == "new"))[$n]' "$EV"
}
# Another CA, trusted too: the issuer changed.
use_cert two; kill -HUP "$NGINX_PID"
wait_until 60 "a tls_changed finding" has tls_changed new
tls_nth 0 | jq -e '.canh.taxonomy.code == "attack.spoofing" and .canh.evidence.reason == "issuer changed"
    and .canh.evidence.new_issuer == "CN=two CA"' >/dev/null ||
    fail "tls_changed for another CA: $(tls_nth 0)"
use_cert one; kill -HUP "$NGINX_PID"
wait_until 60 "tls_changed to end" has tls_changed end
pass "tls_changed (attack.spoofing) for a certificate from another CA"
# A CA nobody trusts: verification fails.
use_cert three; kill -HUP "$NGINX_PID"
N=2 wait_until 60 "a second tls_changed finding" has tls_changed new
tls_nth 1 | jq -e '.canh.evidence.reason == "certificate verification failed"' >/dev/null ||
    fail "tls_changed for an untrusted CA: $(tls_nth 1)"
use_cert one; kill -HUP "$NGINX_PID"
N=2 wait_until 60 "the second tls_changed to end" has tls_changed end
pass "tls_changed for a certificate that fails verification"
# The same key and issuer, expiring within 14 days: operator.software.
use_cert expiring; kill -HUP "$NGINX_PID"
N=3 wait_until 60 "a tls_changed finding for expiry" has tls_changed new
tls_nth 2 | jq -e '.canh.taxonomy.code == "operator.software" and .canh.evidence.days_left < 14' \
    >/dev/null || fail "tls_changed for expiry: $(tls_nth 2)"
use_cert one; kill -HUP "$NGINX_PID"
N=3 wait_until 60 "the expiry finding to end" has tls_changed end
pass "tls_changed (operator.software) for a certificate about to expire"
# A renewal (same issuer, new key, later expiry) is learned silently.
use_cert renewed; kill -HUP "$NGINX_PID"
spki=$(openssl x509 -in "$T/renewed-portal.pem" -pubkey -noout | openssl pkey -pubin -outform DER |
    sha256sum | cut -d' ' -f1)
wait_until 60 "the renewed certificate to be learned" grep -q "^spki $spki" "$T"/state/checks/*
wait_checks 2
[ "$(count tls_changed new)" -eq 3 ] || fail "a renewal raised tls_changed"
pass "a renewal is learned without a finding"

# 7. nginx stopped, then back.
stop_nginx "$T/nginx"
wait_until 60 "a site_down finding" has site_down new
jq -e -s 'map(select(.canh.kind == "site_down"))[0] | .canh.taxonomy.code == "fault.software"' \
    "$EV" >/dev/null || fail "site_down is not fault.software"
start_nginx "$T/nginx" "$NSS" "$SITE"
wait_until 60 "site_down to end" has site_down end
pass "site_down while nginx is stopped, ended when it is back"

# 8. SIGHUP reloads the checks: a second URL is checked, and the page is
# learned again under its new mask (hashes under other masks differ).
write_assets "other.html, https://portal.canh.test/" "viên chức"
# (the first URL is now /other.html; / stays as the second one)
changed_before=$(count page_changed new)
kill -HUP "$AGENT_PID"
wait_until 60 "the reload" grep -q 'checks: 2 URLs after reload' "$T/agent.log"
wait_until 60 "a check of the new URL" grep -q 'GET /other.html.*canh-agent' "$T/access.log"
grep -q 'portal.canh.test/: check_mask changed, learning the page again' "$T/agent.log" ||
    fail "the page was not learned again under its new mask"
wait_checks 3
[ "$(count page_changed new)" -eq "$changed_before" ] || fail "a new mask raised page_changed"
pass "SIGHUP reloads the checks; a changed mask re-learns the page"

# The heartbeat counts checks done and failed (TLS, nginx down) and their latency.
heartbeat_checks() {
    redis-cli -s "$T/r.sock" --raw XREVRANGE canh:heartbeats:checks + - COUNT 1 | grep '^{' |
        jq -e '.canh.checks | .urls == 2 and .done > 10 and .failed >= 3 and .latency_ms_mean > 0'
}
wait_until 30 "a heartbeat with the checks' counters" heartbeat_checks
pass "heartbeats carry checks done, failed and latency"

kill -TERM "$AGENT_PID"
rc=0; wait_pid 60 "$AGENT_PID" || rc=$?
AGENT_PID=
[ "$rc" -eq 0 ] || fail "exit $rc after SIGTERM"
# The checks' counters: some done, the failed ones (TLS, nginx down) counted.
grep -Eq 'checks: [0-9]+ done, [1-9][0-9]* failed' "$T/agent.log" || fail "no checks summary at stop"

# 9. The learned baseline survives a restart: a change made while the
# agent was down is reported on its first check.
write_assets "" "viên chức"
opened=$(count page_changed new)
learned=$(grep -c 'page learned' "$T/agent.log")
page "" "" "Trang đã bị thay đổi khi agent dừng."
start_agent
N=$((opened + 1)) wait_until 60 "page_changed after the restart" has page_changed new
[ "$(grep -c 'page learned' "$T/agent.log")" -eq "$learned" ] ||
    fail "the page was learned again after the restart"
kill -TERM "$AGENT_PID"; wait_pid 60 "$AGENT_PID" || true; AGENT_PID=
pass "the learned baseline is kept in the state dir across restarts"

python3 - "$SRC/docs/event.schema.json" "$EV" <<'PY' || fail "events do not match the schema"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
n = 0
for line in open(sys.argv[2]):
    jsonschema.validate(json.loads(line), schema)
    n += 1
print(f"{n} events match docs/event.schema.json")
PY
echo "OK: $PASSED page check cases"
