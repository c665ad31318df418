#!/usr/bin/env bash
# tail_reconnect.sh — canh-tail outlives a Redis restart: it follows
# canh:incidents on redis://[::1]:PORT (an IPv6 URL), redis-server is
# stopped and started again on the same port, canh-tail prints one line
# about the lost connection (not one per retry), reconnects with backoff
# and shows the entries written after the restart.  --version answers.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/redis_secure.sh"

"$CANH_BIN/canh-tail" --version | grep -qE '^canh-tail [0-9]' || fail "canh-tail --version"
ip -6 addr show lo 2>/dev/null | grep -q '::1' || { echo "SKIP: no IPv6 loopback"; exit 77; }
PORT=$(free_port)
start_redis() { redis_start redis -h ::1 -p "$PORT"; }
rc() { timeout 30 redis-cli -h ::1 -p "$PORT" "$@"; }
entry() {  # entry ID SUMMARY: one canh:incidents entry as the collector writes it
    rc XADD canh:incidents '*' action opened id "$1" operator collector incident \
        "{\"id\":\"$1\",\"type\":\"finding\",\"taxonomy\":{\"code\":\"attack.dos\",\"vi\":\"Tấn công từ chối dịch vụ\"},\"severity\":\"high\",\"class\":\"normal\",\"state\":\"open\",\"agency\":\"Sở Y tế\",\"sources\":[\"203.0.113.7\"],\"targets\":[\"198.51.100.10\"],\"summary\":\"$2\"}" >/dev/null
}

start_redis
bg tail "$CANH_BIN/canh-tail" -r "redis://[::1]:$PORT" --no-color
TAIL_PID=$LAST_PID
wait_until 30 "canh-tail to connect" bash -c "redis-cli -h ::1 -p $PORT CLIENT LIST | grep -q 'cmd=xread\|cmd=xinfo'"
entry 20261123-090000-00000001 before-restart
wait_until 30 "the first entry in canh-tail" grep -q 090000-00000001 "$TMP/tail.log"
pass "canh-tail follows redis://[::1]:$PORT"

redis_stop redis
wait_until 30 "canh-tail to notice" grep -q 'lost connection' "$TMP/tail.log"
kill -0 "$TAIL_PID" || fail "canh-tail exited when Redis stopped"
start_redis
wait_until 60 "canh-tail to reconnect" bash -c "redis-cli -h ::1 -p $PORT CLIENT LIST | grep -q 'cmd=xread'"
entry 20261123-090500-00000002 after-restart
wait_until 30 "the entry after the restart in canh-tail" grep -q 090500-00000002 "$TMP/tail.log"
[ "$(grep -c 'lost connection' "$TMP/tail.log")" = 1 ] || { cat "$TMP/tail.log"; fail "expected one line about the lost connection"; }
grep -q "lost connection to .*reconnecting" "$TMP/tail.log" || fail "the line should say it reconnects"
! grep -q 'error' "$TMP/tail.log" || { cat "$TMP/tail.log"; fail "more than the one line about the restart"; }
[ "$(grep -c 'opened' "$TMP/tail.log")" = 2 ] || { cat "$TMP/tail.log"; fail "expected the two entries once each"; }
pass "Redis restarted: one line printed, canh-tail reconnected and shows what came after"
echo "$PASSED passed, 0 failed"
