# wait.sh — sourced by common.sh (the end-to-end tests) and by the
# capture generators' netns.sh.  wait_until calls fail, which each of them
# defines.
#
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
