#!/usr/bin/env bash
# The collector's status page in a real browser, its JSON and Prometheus
# endpoints, access control, SIGHUP reload and the systemd notifications.
#
# Starts a private redis-server and canh-collector with [status] on a free
# loopback port, under a fake NOTIFY_SOCKET (a Python datagram listener)
# with a 2 s watchdog.  Debian's chromium, driven by playwright-core
# (npm-installed into a cache directory; never `npx playwright install`),
# opens the page; incidents are then added to Redis and must appear on the
# open page without a reload, with their Vietnamese taxonomy names.  The
# screenshot goes to $CANH_ARTIFACTS/status-page.png.
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
status_conf() { # TOKEN_FILE
    write_conf "$T/c.conf" "
[correlation]
silent_after = 60s

[status]
listen = 127.0.0.1:0
token_file = $1
user = soc
password_file = $T/password
refresh = 500ms
"
}
status_conf "$T/token"
NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=2000000 start_collector "$T/c.conf" collector
COLLECTOR=$LAST_PID
wait_until 30 "status page address in the log" grep -q 'status page on http://127.0.0.1:' "$T/collector.log"
PORT=$(grep -o 'status page on http://127.0.0.1:[0-9]*' "$T/collector.log" | head -1 | sed 's/.*://')
BASE="http://127.0.0.1:$PORT"
ok "status page bound to $BASE"

http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
get() { curl -sf --max-time 5 -H "Authorization: Bearer $TOKEN" "$@"; }

# ---- access control ------------------------------------------------------
[[ $(http_code "$BASE/") == 401 ]] || bad "/ without credentials should be 401"
[[ $(http_code "$BASE/metrics") == 401 ]] || bad "/metrics without credentials should be 401"
[[ $(http_code -H "Authorization: Bearer wrong-token" "$BASE/api/incidents") == 401 ]] ||
    bad "a wrong token should be 401"
[[ $(http_code "$BASE/api/agents?token=nope") == 401 ]] || bad "a wrong ?token= should be 401"
[[ $(http_code -u soc:wrong "$BASE/metrics") == 401 ]] || bad "a wrong password should be 401"
curl -s -D - -o /dev/null --max-time 5 "$BASE/" | grep -qi '^WWW-Authenticate: Basic' ||
    bad "401 should ask for basic auth"
ok "without a valid token or password: 401"
[[ $(http_code -H "Authorization: Bearer $TOKEN" "$BASE/metrics") == 200 ]] || bad "Bearer token refused"
[[ $(http_code "$BASE/metrics?token=$TOKEN") == 200 ]] || bad "?token= refused"
[[ $(http_code -u soc:s3cret-pass-word "$BASE/metrics") == 200 ]] || bad "basic auth refused"
[[ $(http_code -H "Authorization: Bearer $TOKEN" "$BASE/nothing") == 404 ]] || bad "unknown path should be 404"
[[ $(http_code -X POST -H "Authorization: Bearer $TOKEN" "$BASE/metrics") == 405 ]] || bad "POST should be 405"
ok "Bearer header, ?token= and basic auth accepted; 404 and 405 for the rest"

# ---- the page itself -----------------------------------------------------
page=$(get "$BASE/") || bad "GET / failed"
grep -q 'Sự cố đang mở' <<<"$page" || bad "page lacks its Vietnamese heading"
! grep -Eiq '(src|href)="(https?:)?//' <<<"$page" || bad "page references an external resource"
curl -s -D - -o /dev/null --max-time 5 -H "Authorization: Bearer $TOKEN" "$BASE/" |
    grep -qi "^Content-Security-Policy: default-src 'none'" || bad "page lacks its CSP header"
ok "page is self-contained (no external resources, CSP default-src 'none')"

# ---- browser: incidents arrive while the page is open ---------------------
heartbeat gw-soyte
mkdir -p "$ARTIFACTS"
SHOT="$ARTIFACTS/status-page.png"
rm -f "$SHOT"
DOS="Tấn công từ chối dịch vụ"
DEFACE="Tấn công thay đổi giao diện"
COMBINED="Tấn công tổng hợp sử dụng kết hợp nhiều hình thức"
timeout 90 node "$CANH_SRC/tests/e2e/status_browser.mjs" "$BASE/?token=$TOKEN" "$T/browser" "$SHOT" \
    gw-soyte "$DOS" "$DEFACE" "$COMBINED" >"$T/browser.out" 2>"$T/browser.log" &
BROWSER=$!
PIDS+=($BROWSER)
wait_until 45 "the browser to open the page" bash -c "test -f '$T/browser/ready' || ! kill -0 $BROWSER"
[[ -f "$T/browser/ready" ]] || bad "the browser driver ended early: $(cat "$T/browser.out" "$T/browser.log")"
[[ $(cat "$T/browser/ready") == 0 ]] || bad "the page showed incidents before any were added"
ok "page open in chromium, no incidents yet"

SRC=203.0.113.7
xadd_event gw-soyte "$(mkevent gw-soyte 1 portscan attack.other medium normal $SRC 198.51.100.10 portal 3)"
xadd_event gw-soyte "$(mkevent gw-soyte 2 syn_flood attack.dos high normal $SRC 198.51.100.10 portal 3)"
xadd_event gw-soyte "$(mkevent gw-soyte 3 defacement attack.defacement critical serious_candidate $SRC 198.51.100.10 portal 3)"
xadd_event gw-tuphap "$(mkevent gw-tuphap 1 portscan attack.other low normal 192.0.2.99 198.51.100.80 web 2 new 'Sở Tư pháp')"
for _ in 1 2 3; do heartbeat gw-soyte; done

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
EOF
ok "new incidents appeared on the open page without reload, Vietnamese names, serious highlighted"
[[ -s "$SHOT" ]] || bad "no screenshot at $SHOT"
ok "screenshot saved: $SHOT"

# ---- JSON endpoints ------------------------------------------------------
wait_until 30 "all 4 events applied" bash -c "curl -sf --max-time 2 -H 'Authorization: Bearer $TOKEN' $BASE/metrics | grep -q '^canh_collector_events_applied_total 4$'"
open_redis=$(rc ZCARD canh:open)
get "$BASE/api/incidents" >"$T/incidents.json" || bad "GET /api/incidents"
python3 - "$T/incidents.json" "$open_redis" <<'EOF' || bad "/api/incidents content: $(cat "$T/incidents.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["open_total"] == int(sys.argv[2]) == len(d["open"]), (d["open_total"], sys.argv[2])
by = {i["taxonomy"]["code"]: i for i in d["open"]}
assert by["attack.dos"]["taxonomy"]["vi"] == "Tấn công từ chối dịch vụ"
assert by["attack.defacement"]["class"] == "serious_candidate"
assert by["attack.combined"]["type"] == "combined"
assert by["attack.dos"]["sources"] == ["203.0.113.7"] and by["attack.dos"]["agency"] == "Sở Y tế"
assert all(i["age_s"] >= 0 and i["events"] >= 1 for i in d["open"])
EOF
ok "/api/incidents lists the $open_redis open incidents with names, class, agency, source"

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
assert get("canh_incidents_open", taxonomy="attack.dos", severity="high"), "no attack.dos count"
assert get("canh_incidents_open", taxonomy="attack.defacement", **{"class": "serious_candidate"}) == [1]
assert get("canh_collector_events_applied_total") == [4]
assert get("canh_collector_heartbeats_total")[0] >= 4
assert get("canh_agent_up", agent="gw-soyte") == [1]
assert 0 <= get("canh_agent_last_heartbeat_age_seconds", agent="gw-soyte")[0] < 30
assert get("canh_escalation_queue_depth") == [0]
assert len(get("canh_escalation_deliveries_total")) == 3
assert get("canh_collector_uptime_seconds")[0] >= 1
print(f"{len(samples)} samples in {len(types)} families")
EOF
if command -v promtool >/dev/null; then
    promtool check metrics <"$T/metrics.txt" || bad "promtool check metrics"
fi
ok "/metrics is valid Prometheus text with the open incidents by taxonomy and class"

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
wait_until 60 "Redis to answer after the pause" bash -c "redis-cli -s '$SOCK' PING | grep -q PONG"

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
wait_until 30 "event after reload applied" bash -c "curl -sf --max-time 2 -H 'Authorization: Bearer $NEW_TOKEN' $BASE/metrics | grep -q '^canh_collector_events_applied_total 5$'"
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
