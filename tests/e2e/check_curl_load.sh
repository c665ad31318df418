#!/bin/bash
# check_curl_load.sh — libcurl (and the OpenSSL the checks use) is loaded
# only when assets.conf declares a page check (agent/check/curl_load.c).
# A live agent on the loopback of a network namespace this script creates,
# next to nginx serving a page on 127.0.0.1 there:
#   1. no `check =`: /proc/PID/maps holds no libcurl, libssl, libcrypto or
#      GnuTLS, even with a broken libcurl.so.4 first on LD_LIBRARY_PATH;
#      a check added then by SIGHUP logs that libcurl cannot load;
#   2. a `check =` added and SIGHUP: libcurl is loaded then, and the page
#      is fetched (nginx's access log) and learned;
#   3. an agent started with the check fetches the page as well;
#   4. the check configured but libcurl.so.4 broken: the agent stops at
#      start with exit 1 and a message naming the library, nginx sees
#      nothing;
#   5. a replay (-r) of assets with checks never loads libcurl (LD_DEBUG).
source "$(dirname "$0")/lib/common.sh" # fail, wait_until, wait_pid, term_wait
source "$(dirname "$0")/lib/nginx.sh"  # start_nginx, stop_nginx
BIN=${CANH_BIN:?}
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for a network namespace"; exit 77; }
command -v nginx >/dev/null || PATH=$PATH:/usr/sbin
command -v nginx >/dev/null || { echo "SKIP: no nginx"; exit 77; }
T=$TMP
chmod 755 "$T"
NS=canh-ccl-$$
AGENT_PID=
cleanup() {
    [ -n "$AGENT_PID" ] && kill -9 "$AGENT_PID" 2>/dev/null
    stop_nginx
    wait 2>/dev/null
    ip netns del "$NS" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
ip netns add "$NS" || { echo "SKIP: cannot create a network namespace"; exit 77; }
ip -n "$NS" link set lo up

# ---- the page
PORT=18$(($$ % 90 + 10))
mkdir -p "$T/www"
echo '<html><head><title>Cổng thông tin</title></head><body>Sở Thử nghiệm</body></html>' \
    >"$T/www/index.html"
start_nginx "$T/nginx" "$NS" "access_log $T/access.log;
    server { listen 127.0.0.1:$PORT; root $T/www; }"
checks() { grep -c 'GET /index.html.*canh-agent' "$T/access.log" || true; }

# ---- the agent: live on the namespace's loopback; /metrics answers once
# start-up (checks included) is over
write_assets() { # [check URL]
    printf '[portal]\naddress = 127.0.0.1\nlevel = 3\n' >"$T/assets.conf"
    [ -z "${1:-}" ] || printf 'check = %s\ncheck_interval = 1s\n' "$1" >>"$T/assets.conf"
}
cat >"$T/agent.conf" <<CONF
[agent]
name = curl-load
state_dir = $T/state
assets = $T/assets.conf
[capture]
interface = lo
[metrics]
listen = 127.0.0.1:0
CONF
URL=http://127.0.0.1:$PORT/index.html
start_agent() { # log-file [env...]
    local log=$1
    shift
    ip netns exec "$NS" env "$@" "$BIN/canh-agent" -c "$T/agent.conf" -o "jsonl:$T/events.jsonl" \
        >"$log" 2>&1 &
    AGENT_PID=$!
}
wait_started() { # log-file
    wait_until 60 "the agent to start (its /metrics)" grep -q 'metrics on http://127.0.0.1:' "$1"
}
stop_agent() {
    local pid=$AGENT_PID
    AGENT_PID=
    term_wait 60 "$pid" "the agent"
}
mapped() { grep -q "/$1" "/proc/$AGENT_PID/maps"; }
# A libcurl.so.4 that cannot load, found before the system's
mkdir -p "$T/broken"
: >"$T/broken/libcurl.so.4"

# 1. No check: none of the checks' libraries is mapped, and a broken
#    libcurl.so.4 on the search path does not matter.
write_assets ""
start_agent "$T/agent1.log" LD_LIBRARY_PATH="$T/broken"
wait_started "$T/agent1.log"
for lib in libcurl.so libssl.so libcrypto.so libgnutls.so; do
    mapped "$lib" && fail "an agent without checks maps $lib"
done
n_libs=$(grep -o '/[^ ]*\.so[.0-9]*$' "/proc/$AGENT_PID/maps" | sort -u | wc -l)
pass "no check =: libcurl, OpenSSL and GnuTLS not mapped ($n_libs shared objects)"
# A check added by SIGHUP cannot load that libcurl: said, and the agent
# keeps running as it was.
write_assets "$URL"
kill -HUP "$AGENT_PID"
wait_until 60 "the reload to report libcurl" grep -q \
    'checks: reload failed: cannot load libcurl.so.4 (.*): install libcurl4; keeping the 0 URLs' \
    "$T/agent1.log"
kill -0 "$AGENT_PID" || fail "the agent stopped at the reload"
stop_agent
pass "check = added by SIGHUP with libcurl unusable: an error logged, the agent runs on"

# 2. The first check arrives with a reload: libcurl is loaded then.
write_assets ""
start_agent "$T/agent2.log"
wait_started "$T/agent2.log"
mapped libcurl.so && fail "libcurl mapped before any check"
write_assets "$URL"
kill -HUP "$AGENT_PID"
wait_until 60 "a check of the page after SIGHUP" bash -c "[ \$(grep -c 'GET /index.html.*canh-agent' '$T/access.log') -ge 1 ]"
wait_until 60 "the page to be learned" grep -q 'page learned' "$T/agent2.log"
mapped libcurl.so.4 || fail "checks run but libcurl.so.4 is not mapped"
mapped libssl.so.3 || fail "checks run but libssl.so.3 is not mapped"
stop_agent
pass "check = added by SIGHUP: libcurl loaded, the page fetched and learned"

# 3. Started with the check: the page is fetched (and learned again:
#    a fresh state dir).
rm -rf "$T/state"
before=$(checks)
start_agent "$T/agent3.log"
wait_started "$T/agent3.log"
wait_until 60 "a check of the page" bash -c "[ \$(grep -c 'GET /index.html.*canh-agent' '$T/access.log') -gt $before ]"
wait_until 60 "the page to be learned" grep -q 'page learned' "$T/agent3.log"
stop_agent
pass "started with check =: the page fetched and learned"

# 4. The check configured, libcurl broken: no start, a clear message.
before=$(checks)
start_agent "$T/agent4.log" LD_LIBRARY_PATH="$T/broken"
rc=0
wait_pid 60 "$AGENT_PID" || rc=$?
AGENT_PID=
[ "$rc" -eq 1 ] || fail "the agent exited $rc with checks and a broken libcurl, expected 1"
grep -q "page checks (check = in $T/assets.conf): cannot load libcurl.so.4 (.*file too short): install libcurl4" \
    "$T/agent4.log" || fail "no clear message: $(cat "$T/agent4.log")"
grep -q 'metrics on' "$T/agent4.log" && fail "the agent came up without its checks"
[ "$(checks)" -eq "$before" ] || fail "a check ran with a broken libcurl"
pass "check = with libcurl unusable: exit 1 at start, naming libcurl.so.4"

# 5. A replay never runs checks, so never loads libcurl.
LD_DEBUG=files "$BIN/canh-agent" -q -r "$FIXTURES/campaign.pcap" --assets "$T/assets.conf" \
    -o "jsonl:$T/replay.jsonl" >"$T/replay.out" 2>"$T/replay.ld" || fail "the replay failed"
grep -q 'file=libjansson.so.4' "$T/replay.ld" || fail "LD_DEBUG=files shows nothing"
grep -q 'file=libcurl.so.4' "$T/replay.ld" && fail "a replay loaded libcurl"
pass "a replay (-r) of assets with checks does not load libcurl"
echo "$PASSED passed"
