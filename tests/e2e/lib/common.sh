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

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { PASSED=$((PASSED + 1)); echo "ok - $*"; }
# expect_contains FILE TEXT
expect_contains() { grep -qF -- "$2" "$1" || { echo "--- $1:"; cat "$1"; fail "expected '$2' in $1"; }; }
# wait_for WHAT SECONDS CMD...: poll CMD every 50 ms until it succeeds
wait_for() {
    local what=$1 deadline=$((SECONDS + $2))
    shift 2
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || fail "timed out waiting for $what"
        sleep 0.05
    done
}
