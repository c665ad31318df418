# common.sh — sourced by the end-to-end tests.
# CANH_BIN and CANH_SRC come from ctest; a test run by hand falls back to
# the default build directory.
set -euo pipefail
CANH_SRC=${CANH_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
CANH_BIN=${CANH_BIN:-$CANH_SRC/build/bin}
FIXTURES=$CANH_SRC/tests/fixtures
TMP=$(mktemp -d /tmp/canh-e2e-XXXXXX)
PASSED=0
cleanup_tmp() { rm -rf "$TMP"; }
trap cleanup_tmp EXIT

# fail MESSAGE: the tail of every $TMP/*.log, then MESSAGE; exit 1.
fail() {
    local f
    for f in "$TMP"/*.log; do
        [ -f "$f" ] && { echo "--- $f (last 20 lines)"; tail -20 "$f"; }
    done >&2
    echo "FAIL: $*" >&2
    exit 1
}
pass() { PASSED=$((PASSED + 1)); echo "ok - $*"; }
# expect_contains FILE TEXT
expect_contains() { grep -qF -- "$2" "$1" || { echo "--- $1:"; cat "$1"; fail "expected '$2' in $1"; }; }

# Waiting on a busy machine: wait for the condition a user would see (a
# stream length, a log line, a status field), never a fixed time.  The
# seconds given only bound the wait, so make them generous.

# wait_until SECONDS WHAT CMD...: run CMD (output discarded) every 0.1 s
# until it succeeds; fail naming WHAT when SECONDS pass first.
wait_until() {
    local secs=$1 what=$2
    shift 2
    local deadline=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || fail "timed out after ${secs}s waiting for $what"
        sleep 0.1
    done
}

# wait_pid SECONDS PID: wait for the background child PID and return its
# exit status; a child still running after SECONDS is killed (status 137),
# so the test cannot hang on it.  The watchdog is a separate sh that ends
# by itself once PID is gone: a signal to a bash subshell just forked could
# run this shell's EXIT trap (its cleanup) in it.
wait_pid() {
    local secs=$1 pid=$2 status=0
    sh -c 'i=0; while kill -0 "$2" 2>/dev/null; do
               [ "$i" -ge "$(($1 * 10))" ] && { kill -9 "$2"; exit; }
               i=$((i + 1)); sleep 0.1
           done' sh "$secs" "$pid" >/dev/null 2>&1 &
    wait "$pid" || status=$?
    return "$status"
}

# term_wait SECONDS PID WHAT: SIGTERM to the background child PID, wait
# for it (wait_pid); fail unless it exited 0 within SECONDS.
term_wait() {
    local rc=0
    kill -TERM "$2"
    wait_pid "$1" "$2" || rc=$?
    [ "$rc" -ne 137 ] || fail "SIGTERM: $3 was still running after $1 s"
    [ "$rc" -eq 0 ] || fail "$3 exited $rc on SIGTERM"
}
