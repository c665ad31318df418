#!/usr/bin/env bash
# collector_cli.sh — canh-collector --check and canh-tail's options as a SOC
# operator meets them: every mistake exits 2 before anything connects, and
# configuration mistakes say file:line.  No Redis is needed.
. "$(dirname "$0")/lib/common.sh"
COLLECTOR=$CANH_BIN/canh-collector
TAIL=$CANH_BIN/canh-tail

# expect_exit2 TEXT CMD...: CMD exits 2 and its output holds TEXT
expect_exit2() {
    local text=$1
    shift
    set +e
    "$@" >"$TMP/out" 2>&1
    local rc=$?
    set -e
    [ $rc -eq 2 ] || { cat "$TMP/out"; fail "$* exited $rc, not 2"; }
    expect_contains "$TMP/out" "$text"
}

mkdir "$TMP/etc"
expect_exit2 "$TMP/etc: is a directory" "$COLLECTOR" --check -c "$TMP/etc"
pass "a directory given as collector.conf exits 2"

printf '[collector]\nbatch = 10\n\n[incidents]\nwindow = 5m\nwindow = 10m\n' >"$TMP/dup.conf"
expect_exit2 "$TMP/dup.conf:6: key 'window' is set twice in [incidents] (first at line 5)" \
    "$COLLECTOR" --check -c "$TMP/dup.conf"
pass "a key set twice exits 2 naming file:line"

printf '[collector]\nuser = canh-collector\npassword_file = %s/none\n' "$TMP" >"$TMP/pw.conf"
expect_exit2 "$TMP/pw.conf:3: password_file: cannot read $TMP/none" \
    "$COLLECTOR" --check -c "$TMP/pw.conf"
pass "a missing password_file exits 2 naming file:line"

# 192.0.2.1 (TEST-NET-1) is no address of this host.
echo "viewer-token-$RANDOM$RANDOM" >"$TMP/status.token"
printf '[status]\nrefresh = 1s\nlisten = 192.0.2.1:8088\ntoken_file = %s/status.token\n' "$TMP" >"$TMP/listen.conf"
expect_exit2 "$TMP/listen.conf:3: listen: cannot bind 192.0.2.1:8088" \
    "$COLLECTOR" --check -c "$TMP/listen.conf"
printf '[status]\nlisten = 127.0.0.1:0\nauth = none\n' >"$TMP/listen-ok.conf"
"$COLLECTOR" --check -c "$TMP/listen-ok.conf" >"$TMP/out" 2>&1 ||
    { cat "$TMP/out"; fail "a bindable listen address refused"; }
pass "a status listen address that cannot be bound exits 2 naming file:line"

# A token is required by default; auth = none only on loopback.
printf '[status]\nrefresh = 1s\nlisten = 127.0.0.1:0\n' >"$TMP/notoken.conf"
expect_exit2 "$TMP/notoken.conf:3: [status] the page needs a token" \
    "$COLLECTOR" --check -c "$TMP/notoken.conf"
printf '[status]\nlisten = 0.0.0.0:0\nauth = none\n' >"$TMP/open.conf"
expect_exit2 "$TMP/open.conf:3: [status] auth = none is refused on 0.0.0.0:0" \
    "$COLLECTOR" --check -c "$TMP/open.conf"
printf 'an operator-token-0123456789\nbinh short\n' >"$TMP/operators"
printf '[status]\nlisten = 127.0.0.1:0\noperators_file = %s/operators\n' "$TMP" >"$TMP/ops.conf"
expect_exit2 "$TMP/ops.conf:3: operators_file: $TMP/operators:2: the token of binh must be 16 to 255 characters" \
    "$COLLECTOR" --check -c "$TMP/ops.conf"
printf 'an operator-token-0123456789\nbinh operator-token-0123456789\n' >"$TMP/operators"
expect_exit2 "$TMP/operators:2: a token twice" "$COLLECTOR" --check -c "$TMP/ops.conf"
printf 'an operator-token-0123456789\n' >"$TMP/operators"
"$COLLECTOR" --check -c "$TMP/ops.conf" >"$TMP/out" 2>&1 || { cat "$TMP/out"; fail "a good operators file refused"; }
printf '[status]\nlisten = 127.0.0.1:0\nauth = none\nmax_connections = 4000\n' >"$TMP/fds.conf"
set +e
(ulimit -n 1024; "$COLLECTOR" --check -c "$TMP/fds.conf") >"$TMP/out" 2>&1
rc=$?
set -e
[[ $rc == 2 ]] && grep -q "fds.conf:4: max_connections: 4000 status connections plus 64 descriptors kept for Redis and the sinks exceed the open-file limit 1024" "$TMP/out" ||
    { cat "$TMP/out"; fail "max_connections above the descriptor limit should exit 2 (rc $rc)"; }
pass "status page: no token refused, auth = none only on loopback, operators file and descriptor limit checked"

expect_exit2 "--taxonomy: 'attack.dso' is not a taxonomy code" "$TAIL" --taxonomy attack.dso
expect_exit2 "--taxonomy: 'atack.' is not a taxonomy code" "$TAIL" -t atack.
# a known code and a known prefix pass the options and only then need Redis
for t in attack.dos attack. fault.; do
    set +e
    "$TAIL" -r "unix:$TMP/no.sock" -t "$t" -n 1 >"$TMP/out" 2>&1
    rc=$?
    set -e
    [ $rc -eq 1 ] || { cat "$TMP/out"; fail "canh-tail -t $t exited $rc, not 1 (no Redis)"; }
done
pass "canh-tail --taxonomy with an unknown code exits 2"

echo "$PASSED passed, 0 failed"
