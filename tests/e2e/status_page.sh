#!/usr/bin/env bash
# The collector's status page in a real browser, its JSON and Prometheus
# endpoints, access control (tokens, roles, login cookie, CSRF, Host
# check), operators' actions (POST /api/action: operators only, CSRF,
# clear refusals, logged and announced like canh-ctl, a rejection
# suppressing the identical finding), HEAD, the connection cap, stale data,
# SIGHUP reload and the systemd notifications.
#
# Starts a private redis-server and canh-collector with [status] on a free
# loopback port, under a fake NOTIFY_SOCKET (a Python datagram listener)
# with a 2 s watchdog and an open-file limit of 256.  Debian's chromium,
# driven by playwright-core (npm-installed into a cache directory; never
# `npx playwright install`), logs in with an operator's token; incidents
# are then added to Redis and must appear on the open page without a
# reload, grouped, filterable, with their detail; the operator triages
# them from the page (acknowledge, confirm, resolve, reject) and a viewer
# cannot act; then Redis is stopped and the page must say its data is
# stale.  Screenshots go to $CANH_ARTIFACTS/status-page.png,
# status-page-actions.png and status-page-stale.png.
source "$(dirname "$0")/collector_lib.bash"

ARTIFACTS=${CANH_ARTIFACTS:-/tmp/canh-artifacts}
PW_CACHE=${CANH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/canh}/playwright-core
PASSED=0

ok() {
    PASSED=$((PASSED + 1))
    echo "ok $PASSED - $*"
}
bad() {
    echo "$PASSED passed, 1 failed"
    fail "$@"
}

command -v chromium >/dev/null || bad "chromium is not installed (apt-get install -y chromium)"
command -v node >/dev/null && command -v npm >/dev/null || bad "node and npm are needed (apt-get install -y nodejs npm)"

# ---- playwright-core, installed once into the cache ----------------------
if [[ ! -f "$PW_CACHE/node_modules/playwright-core/package.json" ]]; then
    mkdir -p "$PW_CACHE"
    echo "installing playwright-core into $PW_CACHE"
    if ! timeout 300 npm install --prefix "$PW_CACHE" --no-audit --no-fund --loglevel=error \
        playwright-core@1 >"$T/npm.log" 2>&1; then
        cat "$T/npm.log" >&2
        bad "npm install playwright-core failed (no network?): the browser test cannot run"
    fi
fi
export PLAYWRIGHT_DIR="$PW_CACHE/node_modules/playwright-core"

# ---- systemd's side: a notify socket that records what it is told --------
python3 - "$T/notify.sock" "$T/notify.log" <<'EOF' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(0.5)
end = time.time() + 3600
with open(sys.argv[2], "a", buffering=1) as log:
    while time.time() < end:
        try:
            data = s.recv(4096)
        except socket.timeout:
            continue
        log.write("%.3f %s\n" % (time.time(), data.decode().replace("\n", " ")))
EOF
PIDS+=($!)
wait_until 30 "notify socket" test -S "$T/notify.sock"

# ---- Redis, secrets, collector -------------------------------------------
start_redis
TOKEN=tok-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$TOKEN" >"$T/token"
echo "s3cret-pass-word" >"$T/password"
OP_TOKEN=op-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '# name token\nan %s\nbinh op-binh-0123456789abcdef\n' "$OP_TOKEN" >"$T/operators"
status_conf() { # TOKEN_FILE
    write_conf "$T/c.conf" "
[correlation]
silent_after = 60s

[status]
listen = 127.0.0.1:0
token_file = $1
operators_file = $T/operators
user = soc
password_file = $T/password
allowed_hosts = localhost, soc.example
refresh = 500ms
"
}
status_conf "$T/token"
# 256 descriptors: 1,100 connections below would exhaust them without the cap.
(
    ulimit -n 256
    NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=2000000 exec "$CANH_BIN/canh-collector" -c "$T/c.conf"
) >>"$T/collector.log" 2>&1 &
PIDS+=($!)
COLLECTOR=$!
wait_until 30 "status page address in the log" grep -q 'status page on http://127.0.0.1:' "$T/collector.log"
PORT=$(grep -o 'status page on http://127.0.0.1:[0-9]*' "$T/collector.log" | head -1 | sed 's/.*://')
BASE="http://127.0.0.1:$PORT"
ok "status page bound to $BASE"

http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
get() { curl -sf --max-time 5 -H "Authorization: Bearer $TOKEN" "$@"; }

# ---- access control ------------------------------------------------------
[[ $(http_code "$BASE/") == 401 ]] || bad "/ without credentials should be 401"
page401=$(curl -s --max-time 5 "$BASE/")
grep -q 'id="login"' <<<"$page401" || bad "401 on / should carry the login form"
[[ $(http_code "$BASE/metrics") == 401 ]] || bad "/metrics without credentials should be 401"
[[ $(http_code "$BASE/api/incidents") == 401 ]] || bad "/api/incidents without credentials should be 401"
[[ $(http_code -H "Authorization: Bearer wrong-token" "$BASE/api/incidents") == 401 ]] ||
    bad "a wrong token should be 401"
[[ $(http_code "$BASE/api/agents?token=$TOKEN") == 401 ]] || bad "a token in the URL is not accepted"
[[ $(http_code -u soc:wrong "$BASE/metrics") == 401 ]] || bad "a wrong password should be 401"
grep -qi '^WWW-Authenticate: Basic' <<<"$(curl -s -D - -o /dev/null --max-time 5 "$BASE/metrics")" ||
    bad "401 on /metrics should ask for basic auth"
grep -qi '^WWW-Authenticate: Bearer' <<<"$(curl -s -D - -o /dev/null --max-time 5 "$BASE/")" ||
    bad "401 on the page should not make browsers prompt for basic auth"
ok "without a valid credential: 401 (the page with its login form)"
[[ $(http_code -H "Authorization: Bearer $TOKEN" "$BASE/metrics") == 200 ]] || bad "viewers' token refused"
# /api answers 503 until the first snapshot: wait for it, then the operator's token.
wait_until 30 "the first snapshot" bash -c "[[ \$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Authorization: Bearer $TOKEN' '$BASE/api/incidents') == 200 ]]"
[[ $(http_code -H "Authorization: Bearer $OP_TOKEN" "$BASE/api/incidents") == 200 ]] || bad "operator token refused"
[[ $(http_code -u soc:s3cret-pass-word "$BASE/metrics") == 200 ]] || bad "basic auth refused"
[[ $(curl -sf --max-time 5 -H "Authorization: Bearer $OP_TOKEN" "$BASE/api/session" | jq -r '.name + "/" + .role') == an/operator ]] ||
    bad "an operator's token should name the operator"
[[ $(get "$BASE/api/session" | jq -r .role) == viewer ]] || bad "the viewers' token is a viewer"
[[ $(http_code -H "Authorization: Bearer $TOKEN" "$BASE/nothing") == 404 ]] || bad "unknown path should be 404"
[[ $(http_code -X POST -H "Authorization: Bearer $TOKEN" "$BASE/metrics") == 405 ]] || bad "POST should be 405"
[[ $(http_code -H "Authorization: Bearer $TOKEN" "$BASE/login") == 405 ]] || bad "GET /login should be 405"
ok "viewers' token, operator token (named), basic auth: 200; 404 and 405 for the rest"

# ---- Host: DNS rebinding -------------------------------------------------
[[ $(http_code -H "Host: attacker.example:$PORT" -H "Authorization: Bearer $TOKEN" "$BASE/metrics") == 421 ]] ||
    bad "a foreign Host should be 421"
[[ $(http_code -H "Host: attacker.example" "$BASE/") == 421 ]] || bad "a foreign Host should be 421 before auth"
for host in "localhost:$PORT" "LOCALHOST." "soc.example" "127.0.0.1:$PORT" "[::1]:$PORT"; do
    [[ $(http_code -H "Host: $host" -H "Authorization: Bearer $TOKEN" "$BASE/metrics") == 200 ]] ||
        bad "Host $host should be accepted"
done
ok "Host check: a foreign name 421; loopback names, allowed_hosts and address literals accepted"

# ---- login cookie and CSRF ------------------------------------------------
JAR=$T/cookies
[[ $(http_code -X POST -d "token=nope" "$BASE/login") == 401 ]] || bad "login with a wrong token"
[[ $(http_code -X POST -H "Origin: http://attacker.example" -d "token=$OP_TOKEN" "$BASE/login") == 403 ]] ||
    bad "a cross-site login should be 403"
[[ $(http_code -X POST -H "Sec-Fetch-Site: cross-site" -d "token=$OP_TOKEN" "$BASE/login") == 403 ]] ||
    bad "Sec-Fetch-Site: cross-site login should be 403"
curl -s -D "$T/login.h" -c "$JAR" --max-time 5 -X POST -H "Origin: $BASE" -d "token=$OP_TOKEN" "$BASE/login" >"$T/login.json"
grep -qi '^Set-Cookie: canh_session=[0-9a-f]\{64\}; Path=/; HttpOnly; SameSite=Strict' "$T/login.h" ||
    bad "login should set an HttpOnly SameSite=Strict cookie: $(cat "$T/login.h")"
CSRF=$(jq -r .csrf "$T/login.json")
[[ $(curl -sf -b "$JAR" --max-time 5 "$BASE/api/session" | jq -r .name) == an ]] || bad "the cookie should log in"
[[ $(http_code -b "$JAR" -X POST "$BASE/logout") == 403 ]] || bad "logout without X-CSRF-Token should be 403"
[[ $(http_code -b "$JAR" -X POST -H "X-CSRF-Token: ${CSRF}x" "$BASE/logout") == 403 ]] || bad "a wrong CSRF token should be 403"
[[ $(http_code -b "$JAR" -X POST -H "X-CSRF-Token: $CSRF" "$BASE/logout") == 200 ]] || bad "logout with the CSRF token"
[[ $(http_code -b "$JAR" "$BASE/api/session") == 401 ]] || bad "the cookie should be dead after logout"
grep -q 'status page: an (operator) logged in from 127.0.0.1' "$T/collector.log" || bad "logins should be logged with the name"
ok "login: cookie HttpOnly/SameSite=Strict, cross-site login 403, logout needs the CSRF token"

# ---- HEAD carries no body -------------------------------------------------
python3 - "$PORT" "$TOKEN" <<'EOF' || bad "HEAD answer framing"
# HEAD then GET on one connection: the HEAD answer must end at its headers
# (Content-Length tells the GET's size), the next bytes are the GET's.
import socket, sys
port, token = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=5)
req = "{} {} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token + "\r\n\r\n"
s.sendall((req.format("HEAD", "/metrics") + req.format("GET", "/api/session")).encode())
data = b""
while data.count(b"HTTP/1.1 ") < 2 or not data.rstrip().endswith(b"}"):
    chunk = s.recv(65536)
    assert chunk, data
    data += chunk
head, rest = data.split(b"\r\n\r\n", 1)
assert head.startswith(b"HTTP/1.1 200"), head
length = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0].split(b":")[1])
assert length > 1000, length
assert rest.startswith(b"HTTP/1.1 200"), rest[:80]
print("HEAD /metrics: Content-Length", length, "and no body")
EOF
for path in / /api/incidents /api/collector; do
    n=$(curl -s -I --max-time 5 -H "Authorization: Bearer $TOKEN" "$BASE$path" -o /dev/null -w '%{size_download}')
    [[ $n == 0 ]] || bad "HEAD $path sent $n body bytes"
done
[[ $(http_code -I "$BASE/metrics") == 401 ]] || bad "HEAD without credentials should be 401"
ok "HEAD answers carry no body (the next response follows the headers)"

# ---- the page itself -----------------------------------------------------
page=$(get "$BASE/") || bad "GET / failed"
grep -q 'Sự cố đang mở' <<<"$page" || bad "page lacks its Vietnamese heading"
! grep -Eiq '(src|href)="(https?:)?//' <<<"$page" || bad "page references an external resource"
curl -s -D - -o /dev/null --max-time 5 -H "Authorization: Bearer $TOKEN" "$BASE/" |
    grep -qi "^Content-Security-Policy: default-src 'none'" || bad "page lacks its CSP header"
ok "page is self-contained (no external resources, CSP default-src 'none')"

# ---- browser: log in, incidents arrive, group, filter, detail, stale ----
heartbeat gw-soyte
mkdir -p "$ARTIFACTS"
rm -f "$ARTIFACTS/status-page.png" "$ARTIFACTS/status-page-stale.png" "$ARTIFACTS/status-page-actions.png"
DOS="Tấn công từ chối dịch vụ"
DEFACE="Tấn công thay đổi giao diện"
COMBINED="Tấn công tổng hợp sử dụng kết hợp nhiều hình thức"
timeout 150 node "$CANH_SRC/tests/e2e/status_browser.mjs" "$BASE/" "$T/browser" "$ARTIFACTS" \
    gw-soyte "$OP_TOKEN" "$DOS" "$DEFACE" "$COMBINED" "$TOKEN" op-binh-0123456789abcdef \
    >"$T/browser.out" 2>"$T/browser.log" &
BROWSER=$!
PIDS+=($BROWSER)
wait_until 60 "the browser to log in" bash -c "test -f '$T/browser/ready' || ! kill -0 $BROWSER"
[[ -f "$T/browser/ready" ]] || bad "the browser driver ended early: $(cat "$T/browser.out" "$T/browser.log"; get "$BASE/api/collector"; curl -sv --max-time 5 "$BASE/api/session" 2>&1 | tail -5)"
[[ $(cat "$T/browser/ready") == 0 ]] || bad "the page showed incidents before any were added"
ok "page open in chromium: login form first, then logged in as operator 'an', no incidents yet"

SRC=203.0.113.7
xadd_event gw-soyte "$(mkevent gw-soyte 1 portscan attack.other medium normal $SRC 198.51.100.10 portal 3)"
xadd_event gw-soyte "$(mkevent gw-soyte 2 syn_flood attack.dos high normal $SRC 198.51.100.10 portal 3)"
xadd_event gw-soyte "$(mkevent gw-soyte 3 defacement attack.defacement critical serious_candidate $SRC 198.51.100.10 portal 4)"
xadd_event gw-tuphap "$(mkevent gw-tuphap 1 portscan attack.other low normal 192.0.2.99 198.51.100.80 web 2 new 'Sở Tư pháp')"
for _ in 1 2 3; do heartbeat gw-soyte; done
applied() { curl -sf --max-time 2 -H "Authorization: Bearer $TOKEN" "$BASE/metrics" | grep -q "^canh_collector_events_applied_total $1\$"; }
wait_until 30 "all 4 events applied" applied 4
combined_has_parts() {
    get "$BASE/api/incidents" | jq -e '[.open[] | select(.type == "combined" and (.children | length) == 3)] | length == 1' >/dev/null
}
wait_until 30 "the combined incident with its 3 parts" combined_has_parts
COMBINED_ID=$(get "$BASE/api/incidents" | jq -r '.open[] | select(.type == "combined") | .id')

wait_until 120 "the browser to ask for Redis to stop" bash -c "test -f '$T/browser/stop-redis' || ! kill -0 $BROWSER"
if [[ $(cat "$T/browser/stop-redis" 2>/dev/null) == 1 ]]; then
    rc SHUTDOWN >/dev/null 2>&1 || true
    wait_until 30 "redis-server to stop" bash -c "! redis-cli -s '$SOCK' PING >/dev/null 2>&1"
    stale_api() { get "$BASE/api/incidents" | jq -e '.snapshot.stale and (.snapshot.redis_up | not) and (.snapshot.redis_down_since | length > 0)' >/dev/null; }
    wait_until 30 "/api/incidents to say its data is stale" stale_api
    [[ $(http_code -H "Authorization: Bearer $TOKEN" "$BASE/api/incidents") == 200 ]] || bad "the cached data should still be served"
    [[ $(http_code -H "Authorization: Bearer $TOKEN" "$BASE/api/incident?id=$COMBINED_ID") == 503 ]] ||
        bad "the detail needs Redis: 503 while it is down"
fi
set +e
wait "$BROWSER"
browser_rc=$?
set -e
cat "$T/browser.out"
if [[ $browser_rc != 0 ]]; then
    cat "$T/browser.log" >&2
    bad "browser checks failed (exit $browser_rc): $(cat "$T/browser.out")"
fi
python3 - "$T/browser.out" <<'EOF' || bad "browser result"
import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
assert r["ok"], r["errors"]
assert r["navigations"] == 1 and not r["foreign"], r
assert r["open_count"] == "2", r["open_count"]
EOF
ok "browser: login, grouping of the combined incident (counted once), filters, sort, detail with evidence and timeline"
ok "browser: triage from the page: ack with a note (state in the table, state filter, log entry), ack/confirm serious/resolve, reject (a reason required), a clear 409 on a stale view; a viewer gets no buttons and 403"
ok "browser: with redis-server stopped the page says 'Data as of … — Redis unreachable since …' and its time stops"
[[ -s "$ARTIFACTS/status-page.png" && -s "$ARTIFACTS/status-page-stale.png" && -s "$ARTIFACTS/status-page-actions.png" ]] ||
    bad "no screenshots in $ARTIFACTS"
ok "screenshots saved: $ARTIFACTS/status-page.png, status-page-actions.png, status-page-stale.png"
start_redis
fresh_api() { get "$BASE/api/incidents" | jq -e '(.snapshot.stale | not) and .snapshot.redis_up' >/dev/null; }
wait_until 60 "fresh data after Redis is back" fresh_api
ok "Redis back: the snapshot is fresh again"

# ---- the page's actions, as canh-ctl makes them ----------------------------
# Announced on canh:incidents with the action name, the operator and the
# note, and logged in canh:log:<id>, by the same scripts as canh-ctl.
SCAN_ID=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])["scan_id"])' "$T/browser.out")
python3 - "$COMBINED_ID" "$SCAN_ID" "$SOCK" <<'EOF' || bad "the page's actions on canh:incidents and canh:log"
import json, subprocess, sys
combined, scan, sock = sys.argv[1:4]
def rc(*a):
    return subprocess.check_output(["redis-cli", "-s", sock, "--json", *a], text=True)
def entries(key):
    out = []
    for e in json.loads(rc("XRANGE", key, "-", "+")):
        f = e[1] if isinstance(e, list) else list(e.values())[0]
        if isinstance(f, list):
            f = dict(zip(f[::2], f[1::2]))
        out.append(f)
    return out
ann = [e for e in entries("canh:incidents") if e.get("operator") not in (None, "collector")]
seen = [(e["action"], e["id"], e["operator"]) for e in ann]
assert ("acknowledged", combined, "an") in seen, seen
assert ("rejected", scan, "an") in seen, seen
acts = [a for a, _, o in seen if o == "an"]
for a in ("acknowledged", "confirmed", "resolved", "rejected"):
    assert a in acts, (a, acts)
assert any(o == "binh" and a == "acknowledged" for a, _, o in seen), seen
rej = [e for e in ann if e["action"] == "rejected"][0]
assert rej["note"] == "quét từ đội kiểm thử được phép" and "suppressed" in rej["changes"], rej
assert json.loads(rej["incident"])["state"] == "rejected", rej
log = entries("canh:log:" + combined)
assert {"action": "acknowledged", "operator": "an", "state": "acknowledged", "note": "đang xem xét"} in log, log
sup = json.loads(rc("HGETALL", "canh:suppressions"))
sup = sup if isinstance(sup, dict) else dict(zip(sup[::2], sup[1::2]))
assert any(k.startswith("portscan|203.0.113.7|") and v.split()[1:] == [scan, "an"] for k, v in sup.items()), sup
EOF
ok "the page's actions are announced on canh:incidents and logged in canh:log:<id> with the operator's name (an, binh); the rejection suppresses the scan"

# ---- JSON endpoints ------------------------------------------------------
open_redis=$(rc ZCARD canh:open)
get "$BASE/api/incidents" >"$T/incidents.json" || bad "GET /api/incidents"
python3 - "$T/incidents.json" "$open_redis" <<'EOF' || bad "/api/incidents content: $(cat "$T/incidents.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["open_total"] == int(sys.argv[2]) == len(d["open"]) == 3, (d["open_total"], sys.argv[2])
by = {i["taxonomy"]["code"]: i for i in d["open"]}
rec = {i["taxonomy"]["code"] + "/" + i["agency"]: i for i in d["recent"]}
assert by["attack.defacement"]["class"] == "serious_candidate"
assert by["attack.defacement"]["state"] == "acknowledged" and by["attack.defacement"]["operator"] == "binh"
assert by["attack.combined"]["type"] == "combined" and by["attack.combined"]["state"] == "acknowledged"
assert by["attack.other"]["agency"] == "Sở Tư pháp" and by["attack.other"]["state"] in ("open", "escalated")
dos = rec["attack.dos/Sở Y tế"]
assert dos["taxonomy"]["vi"] == "Tấn công từ chối dịch vụ" and dos["sources"] == ["203.0.113.7"], dos
assert dos["state"] == "resolved" and dos["confirmed_class"] == "serious" and dos["operator"] == "an", dos
scan = rec["attack.other/Sở Y tế"]
assert scan["state"] == "rejected" and scan["rejected_why"] == "quét từ đội kiểm thử được phép", scan
assert all(i["age_s"] >= 0 and i["events"] >= 1 for i in d["open"])
assert by["attack.defacement"]["combined_id"] == by["attack.combined"]["id"] == dos["combined_id"]
assert d["open_groups"] == 2, d["open_groups"]
assert d["snapshot"]["stale"] is False and d["snapshot"]["redis_up"] is True, d["snapshot"]
EOF
ok "/api/incidents lists the $open_redis open incidents (2 groups) with states and operators; the resolved and rejected ones among the recent"

DOS_ID=$(jq -r '.recent[] | select(.taxonomy.code == "attack.dos") | .id' "$T/incidents.json")
get "$BASE/api/incident?id=$DOS_ID" >"$T/detail.json" || bad "GET /api/incident?id=$DOS_ID"
get "$BASE/api/incident?id=$COMBINED_ID" >"$T/detail-combined.json" || bad "GET /api/incident?id=$COMBINED_ID"
python3 - "$T/detail.json" "$T/detail-combined.json" "$DOS_ID" "$COMBINED_ID" <<'EOF' || bad "/api/incident content"
import json, sys
d, c = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert d["incident"]["id"] == sys.argv[3] and d["incident"]["evidence"] is not None, d
assert [e["fields"]["action"] for e in d["timeline"]][0] == "opened", d["timeline"]
assert d["actions"]["key"] == "canh:log:%s" % sys.argv[3] and d["actions"]["kind"] == "stream", d["actions"]
e = d["actions"]["entries"]
assert e[0]["fields"]["action"] == "opened" and e[0]["fields"]["operator"] == "collector", d["actions"]
ops = [(x["fields"]["action"], x["fields"]["operator"], x["fields"]["state"]) for x in e[1:]]
assert ops == [("acknowledged", "an", "acknowledged"), ("confirmed", "an", "confirmed"), ("resolved", "an", "resolved")], ops
assert len(c["children"]) == 3, c["children"]
e = c["actions"]["entries"]
assert c["actions"]["kind"] == "stream" and {"action": "acknowledged", "operator": "an", "state": "acknowledged", "note": "đang xem xét"} in [x["fields"] for x in e], c["actions"]
EOF
[[ $(http_code -H "Authorization: Bearer $TOKEN" "$BASE/api/incident?id=20990101-000000-00000000") == 404 ]] || bad "unknown id: 404"
[[ $(http_code -H "Authorization: Bearer $TOKEN" "$BASE/api/incident?id=../../etc/passwd") == 400 ]] || bad "bad id: 400"
ok "/api/incident: evidence, timeline, action log read from canh:log:<id> (the collector's steps, then the operator's), 404/400"

# The browser's part took a while: a fresh heartbeat, as a live agent sends.
heartbeat gw-soyte
fresh_heartbeat() { get "$BASE/api/agents" | jq -e '.agents[] | select(.name == "gw-soyte") | .age_s < 10' >/dev/null; }
wait_until 30 "gw-soyte's new heartbeat on /api/agents" fresh_heartbeat
get "$BASE/api/agents" >"$T/agents.json" || bad "GET /api/agents"
python3 - "$T/agents.json" <<'EOF' || bad "/api/agents content: $(cat "$T/agents.json")"
import json, sys
d = json.load(open(sys.argv[1]))
a = {x["name"]: x for x in d["agents"]}["gw-soyte"]
assert a["status"] == "ok" and a["agency"] == "Sở Y tế", a
assert 0 <= a["age_s"] < 30 and a["packets"] == 1000 and a["drops"] == 0, a
assert a["last_heartbeat"].startswith("20"), a
EOF
ok "/api/agents shows the heartbeat-sending agent as ok with its packets and drops"

# ---- /metrics: valid Prometheus text with the incident counts -------------
get "$BASE/metrics" >"$T/metrics.txt" || bad "GET /metrics"
python3 - "$T/metrics.txt" "$open_redis" <<'EOF' || bad "/metrics: see $T/metrics.txt"
# A strict reader of the text exposition format 0.0.4: every sample belongs
# to a family announced by # TYPE, names and labels are well formed, values
# are floats, no family is announced twice.
import re, sys
name_re = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
label_re = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
sample = re.compile(rf"^({name_re})(?:\{{((?:{label_re})(?:,{label_re})*)?\}})? (\S+)(?: -?\d+)?$")
types, samples = {}, []
for n, line in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
    line = line.rstrip("\n")
    if line.startswith("# TYPE "):
        _, _, fam, typ = line.split(" ", 3)
        assert fam not in types, f"line {n}: {fam} announced twice"
        assert typ in ("counter", "gauge", "histogram", "summary", "untyped"), line
        types[fam] = typ
        continue
    if line.startswith("#") or not line:
        continue
    m = sample.match(line)
    assert m, f"line {n} is not a sample: {line!r}"
    fam = m.group(1)
    assert fam in types, f"line {n}: {fam} has no # TYPE"
    float(m.group(3))
    samples.append((fam, dict(re.findall(r'([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"', m.group(2) or "")), float(m.group(3))))
def get(fam, **labels):
    return [v for f, l, v in samples if f == fam and all(l.get(k) == v2 for k, v2 in labels.items())]
open_n = int(sys.argv[2])
assert get("canh_incidents_open_all") == [open_n], get("canh_incidents_open_all")
assert sum(get("canh_incidents_open")) == open_n
assert get("canh_incidents_open", taxonomy="attack.combined"), "no attack.combined count"
assert not get("canh_incidents_open", taxonomy="attack.dos"), "the resolved attack.dos still counted open"
assert get("canh_incidents_open", taxonomy="attack.defacement", **{"class": "serious_candidate"}) == [1]
assert get("canh_collector_events_applied_total") == [4]
assert get("canh_collector_heartbeats_total")[0] >= 4
assert get("canh_agent_up", agent="gw-soyte") == [1]
assert 0 <= get("canh_agent_last_heartbeat_age_seconds", agent="gw-soyte")[0] < 30
assert get("canh_escalation_queue_depth") == [0]
assert len(get("canh_escalation_deliveries_total")) == 4  # webhook, syslog, report, email
assert get("canh_collector_uptime_seconds")[0] >= 1
assert get("canh_status_actions_total")[0] >= 6 and get("canh_status_action_failures_total")[0] >= 2
print(f"{len(samples)} samples in {len(types)} families")
EOF
if command -v promtool >/dev/null; then
    promtool check metrics <"$T/metrics.txt" || bad "promtool check metrics"
fi
ok "/metrics is valid Prometheus text with the open incidents by taxonomy and class"

# ---- POST /api/action: who may act, clear refusals ------------------------
TUPHAP_ID=$(jq -r '.open[] | select(.agency == "Sở Tư pháp") | .id' "$T/incidents.json")
BINH=op-binh-0123456789abcdef
# act CREDENTIAL-ARGS... -- FORM: the status code; the body in $T/act.json
act() {
    local args=()
    while [[ $1 != -- ]]; do args+=("$1"); shift; done
    shift
    curl -s -o "$T/act.json" -w '%{http_code}' --max-time 10 "${args[@]}" -X POST --data "$1" "$BASE/api/action"
}
expect_act() { # CODE TEXT CREDENTIAL-ARGS... -- FORM
    local code=$1 text=$2 got
    shift 2
    got=$(act "$@")
    [[ $got == "$code" ]] && grep -q -- "$text" "$T/act.json" ||
        bad "POST /api/action ${*: -1}: want $code '$text', got $got $(cat "$T/act.json")"
}
expect_act 200 '"action":"noted"' -H "Authorization: Bearer $BINH" -- "action=note&id=$TUPHAP_ID&note=g%E1%BB%8Di%20S%E1%BB%9F%20T%C6%B0%20ph%C3%A1p"
expect_act 403 'viewers cannot act' -H "Authorization: Bearer $TOKEN" -- "action=ack&id=$TUPHAP_ID"
expect_act 403 'X-CSRF-Token' -u soc:s3cret-pass-word -- "action=ack&id=$TUPHAP_ID"
expect_act 404 "no incident 20990101-000000-00000000" -H "Authorization: Bearer $BINH" -- "action=ack&id=20990101-000000-00000000"
expect_act 409 "cannot resolve incident $TUPHAP_ID: it is open; acknowledge or confirm it first" \
    -H "Authorization: Bearer $BINH" -- "action=resolve&id=$TUPHAP_ID"
expect_act 409 "cannot reject incident $SCAN_ID: it is rejected; reopen it first" \
    -H "Authorization: Bearer $BINH" -- "action=reject&id=$SCAN_ID&note=again"
expect_act 400 'confirm needs class=normal or class=serious' -H "Authorization: Bearer $BINH" -- "action=confirm&id=$TUPHAP_ID&class=huge"
expect_act 400 'action must be' -H "Authorization: Bearer $BINH" -- "action=delete&id=$TUPHAP_ID"
expect_act 400 'id must be an incident id' -H "Authorization: Bearer $BINH" -- "action=ack&id=canh:open"
expect_act 400 'a note needs text' -H "Authorization: Bearer $BINH" -- "action=note&id=$TUPHAP_ID&note="
expect_act 400 'control characters' -H "Authorization: Bearer $BINH" -- "action=note&id=$TUPHAP_ID&note=red%1B%5B31m"
expect_act 400 'longer than 2000 bytes' -H "Authorization: Bearer $BINH" -- "action=note&id=$TUPHAP_ID&note=$(head -c 2001 /dev/zero | tr '\0' x)"
[[ $(http_code -H "Authorization: Bearer $BINH" "$BASE/api/action") == 405 ]] || bad "GET /api/action should be 405"
[[ $(http_code -X POST --data "action=ack&id=$TUPHAP_ID" "$BASE/api/action") == 401 ]] || bad "no credential: 401"
# A login session: the CSRF token is required, a foreign Origin refused.
curl -s -c "$JAR" --max-time 5 -X POST -d "token=$BINH" "$BASE/login" >"$T/login2.json"
CSRF=$(jq -r .csrf "$T/login2.json")
expect_act 403 'X-CSRF-Token' -b "$JAR" -- "action=ack&id=$TUPHAP_ID"
expect_act 403 'X-CSRF-Token' -b "$JAR" -H "X-CSRF-Token: $CSRF" -H "Origin: http://attacker.example" -- "action=ack&id=$TUPHAP_ID"
expect_act 200 '"state":"acknowledged"' -b "$JAR" -H "X-CSRF-Token: $CSRF" -H "Origin: $BASE" -- "action=ack&id=$TUPHAP_ID"
[[ $(rc HGET "canh:incident:$TUPHAP_ID" state) == acknowledged ]] || bad "the incident is not acknowledged in Redis"
[[ $(rc XREVRANGE "canh:log:$TUPHAP_ID" + - COUNT 2 | grep -c binh) == 2 ]] || bad "binh's note and ack are not in the log"
grep -q "status page: incident $TUPHAP_ID acknowledged by binh (from 127.0.0.1)" "$T/collector.log" || bad "the action is not in the collector's log"
ok "POST /api/action: operators act (bearer, or login + CSRF token); viewers, basic auth, foreign origins 403; unknown id 404; invalid transitions 409 with the reason; bad forms 400"

# The rejected scan: the identical finding again is suppressed, counted.
xadd_event gw-soyte "$(mkevent gw-soyte 5 portscan attack.other medium normal $SRC 198.51.100.10 portal 3 update)"
wait_until 30 "the repeated scan applied" bash -c "curl -sf --max-time 2 -H 'Authorization: Bearer $TOKEN' $BASE/metrics | grep -q '^canh_collector_events_applied_total 5$'"
suppressed_counted() { grep -q '^canh_collector_events_suppressed_total 1$' <<<"$(get "$BASE/metrics")"; }
# (counted after the entry is acknowledged: wait for it)
wait_until 30 "the repeated scan counted as suppressed on /metrics" suppressed_counted
[[ $(rc HGET "canh:incident:$SCAN_ID" suppressed) == 1 ]] || bad "the rejected incident does not count the suppressed finding"
[[ $(rc ZCARD canh:open) == "$open_redis" ]] || bad "the suppressed finding opened an incident"
ok "the finding rejected from the page, seen again, is suppressed (counted on the rejected incident)"

# ---- 1,100 idle connections: events still flow, the log stays small -------
lines_before=$(wc -l <"$T/collector.log")
timeout 120 python3 "$CANH_SRC/tests/e2e/lib/idle_connections.py" "$PORT" "$T/flood.ready" "$T/flood.release" 90 \
    >"$T/flood.out" 2>&1 &
FLOOD=$!
PIDS+=($FLOOD)
wait_until 60 "1,100 connections opened" test -f "$T/flood.ready"
cap_reached() { [[ $(grep -c 'the limit (max_connections)' "$T/collector.log") -ge 1 ]]; }
wait_until 30 "the connection cap to be reached" cap_reached
fds=$(ls "/proc/$COLLECTOR/fd" | wc -l)
(( fds <= 64 + 64 )) || bad "$fds descriptors open with 1,100 connections waiting: the cap does not hold"
for i in $(seq 10 29); do
    xadd_event gw-tuphap "$(mkevent gw-tuphap "$i" portscan attack.other low normal 192.0.2.99 198.51.100.80 web 2 update 'Sở Tư pháp')"
done
# The page is full; Redis shows the incident growing.
tuphap_events() { [[ $(rc HGET "canh:incident:$TUPHAP_ID" events) == 21 ]]; }
wait_until 60 "20 events applied during the connection flood" tuphap_events
lines_during=$(( $(wc -l <"$T/collector.log") - lines_before ))
(( lines_during < 30 )) || bad "$lines_during log lines during the flood: $(tail -5 "$T/collector.log")"
touch "$T/flood.release"
wait_pid 60 "$FLOOD" || bad "the flood script did not end"
page_back() { [[ $(http_code -H "Authorization: Bearer $TOKEN" "$BASE/metrics") == 200 ]]; }
wait_until 60 "the page to answer after the flood" page_back
# The incident's hash is written before the entries are acknowledged and
# counted: wait for the counter rather than read it once.
all_applied() { grep -q '^canh_collector_events_applied_total 25$' <<<"$(get "$BASE/metrics")"; }
wait_until 60 "all 25 events counted as applied on /metrics" all_applied
cap_counted() { grep -qE '^canh_status_connection_cap_reached_total [1-9]' <<<"$(get "$BASE/metrics")"; }
wait_until 30 "the connection cap counted on /metrics" cap_counted
ok "1,100 idle connections (open-file limit 256): $fds descriptors in use, 20 events applied meanwhile, $lines_during log lines"

# ---- handlers answer from the cache while Redis is stalled ----------------
# Nothing, not even CLIENT UNPAUSE, gets through a pause of ALL: it lasts
# 10 s, and each request below may take 5 (http_code, get), so an answer
# that waited for Redis fails.
rc CLIENT PAUSE 10000 ALL >/dev/null
# A refresh (every 500 ms) is stuck in Redis once the snapshot is 1 s old.
snapshot_old() { get "$BASE/metrics" | grep -qE '^canh_status_snapshot_age_seconds [1-9]'; }
wait_until 30 "a snapshot 1 s old while Redis is paused" snapshot_old
[[ $(http_code -H "Authorization: Bearer $TOKEN" "$BASE/api/incidents") == 200 ]] ||
    bad "/api/incidents while Redis is paused"
[[ $(http_code -H "Authorization: Bearer $TOKEN" "$BASE/metrics") == 200 ]] || bad "/metrics while Redis is paused"
ok "answers from the cache while Redis is paused"
wait_until 60 "Redis to answer after the pause" redis_up redis

# ---- systemd notifications -----------------------------------------------
wait_until 30 "READY=1" grep -q 'READY=1' "$T/notify.log"
before=$(grep -c 'WATCHDOG=1' "$T/notify.log" || true)
wait_until 60 "four more WATCHDOG=1" bash -c "(( \$(grep -c 'WATCHDOG=1' '$T/notify.log') >= $before + 4 ))"
# A busy machine only makes the gaps longer: the shortest is the interval.
gap=$(grep 'WATCHDOG=1' "$T/notify.log" | tail -4 | awk 'NR > 1 && (min == "" || $1 - prev < min) { min = $1 - prev } { prev = $1 } END { printf "%.2f", min }')
awk -v g="$gap" 'BEGIN { exit !(g >= 0.5 && g < 1.5) }' ||
    bad "WATCHDOG=1 every $gap s at best for WATCHDOG_USEC=2s (want one a second)"
ok "sd_notify READY=1, and WATCHDOG=1 every second for WATCHDOG_USEC=2s (shortest gap $gap s)"

# ---- SIGHUP: a bad file keeps the running configuration -------------------
status_conf "$T/token"
echo "bogus_key = 1" >>"$T/c.conf"
bad_line=$(wc -l <"$T/c.conf")
kill -HUP "$COLLECTOR"
wait_until 30 "reload refused" grep -q "keeping the running configuration" "$T/collector.log"
grep -q "c.conf:$bad_line: unknown key 'bogus_key' in \[status\]" "$T/collector.log" ||
    bad "the refused reload should name c.conf:$bad_line"
[[ $(http_code -H "Authorization: Bearer $TOKEN" "$BASE/metrics") == 200 ]] || bad "old token after a bad reload"
kill -0 "$COLLECTOR" || bad "collector died on a bad reload"
ok "SIGHUP with a bad file: logged as c.conf:$bad_line, old configuration kept"

# ---- SIGHUP: a good file takes effect (new token) -------------------------
NEW_TOKEN=tok2-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$NEW_TOKEN" >"$T/token2"
status_conf "$T/token2"
kill -HUP "$COLLECTOR"
wait_until 30 "reloaded" grep -q "reloaded $T/c.conf" "$T/collector.log"
[[ $(http_code -H "Authorization: Bearer $TOKEN" "$BASE/metrics") == 401 ]] || bad "old token after reload"
[[ $(http_code -H "Authorization: Bearer $NEW_TOKEN" "$BASE/metrics") == 200 ]] || bad "new token after reload"
grep -q 'RELOADING=1' "$T/notify.log" || bad "no RELOADING=1 on SIGHUP"
[[ $(grep -c 'READY=1' "$T/notify.log") -ge 3 ]] || bad "no READY=1 after each reload"
ok "SIGHUP with a good file: new token in force, RELOADING=1 then READY=1"
# Still processing after the reloads.
xadd_event gw-tuphap "$(mkevent gw-tuphap 2 syn_flood attack.dos high normal 192.0.2.99 198.51.100.80 web 2 new 'Sở Tư pháp')"
wait_until 30 "event after reload applied" bash -c "curl -sf --max-time 2 -H 'Authorization: Bearer $NEW_TOKEN' $BASE/metrics | grep -q '^canh_collector_events_applied_total 26$'"
ok "events still applied after the reloads"

# ---- stop ----------------------------------------------------------------
kill -TERM "$COLLECTOR"
status=0
wait_pid 60 "$COLLECTOR" || status=$?
[[ $status != 137 ]] || bad "collector did not stop within 60 s"
[[ $status == 0 ]] || bad "collector exited $status"
grep -q 'STOPPING=1' "$T/notify.log" || bad "no STOPPING=1 on SIGTERM"
ok "SIGTERM: STOPPING=1 and a clean exit"

echo "$PASSED passed, 0 failed"
