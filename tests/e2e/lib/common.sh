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

# wait_until, wait_pid: waiting on conditions, bounded (shared with the
# capture generators).
source "$(dirname "${BASH_SOURCE[0]}")/wait.sh"

# term_wait SECONDS PID WHAT: SIGTERM to the background child PID, wait
# for it (wait_pid); fail unless it exited 0 within SECONDS.
term_wait() {
    local rc=0
    kill -TERM "$2"
    wait_pid "$1" "$2" || rc=$?
    [ "$rc" -ne 137 ] || fail "SIGTERM: $3 was still running after $1 s"
    [ "$rc" -eq 0 ] || fail "$3 exited $rc on SIGTERM"
}
