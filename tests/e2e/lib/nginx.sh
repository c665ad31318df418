# nginx.sh — one way to run nginx for the end-to-end tests, bench/ and the
# capture generators: sourced after wait_until, wait_pid (wait.sh) and
# fail (common.sh's in the tests, netns.sh's in the generators).
#
# start_nginx PREFIX NETNS HTTP: nginx in the foreground inside network
# namespace NETNS, from PREFIX.conf written here: one worker running as
# root (the tests' files are root's), pid file PREFIX.pid, errors in
# PREFIX-error.log, its stderr in PREFIX.log, NGINX_CONNECTIONS (default
# 256) connections, and HTTP as the body of its http block (server blocks
# and http-level directives; unless HTTP sets them, no access log and
# default_type text/html).
# Returns once the pid file is there, which nginx writes after binding
# its listening sockets: connections made from then on are served.  A
# start that fails (nginx exits) or takes over 30 s fails the test.
# Sets NGINX_PID (also for kill -HUP: nginx re-reads its certificates).
#
# stop_nginx [PREFIX]: TERM (the master takes its workers down with it)
# and wait for it, 30 s at most; no PREFIX: every nginx started here.
# Call it from the test's cleanup.
declare -gA NGINX_PIDS=()
NGINX_PID=

start_nginx() {
    local prefix=$1 ns=$2 http=$3
    [[ $http == *access_log* ]] || http="    access_log off;
$http"
    [[ $http == *default_type* ]] || http="    default_type text/html;
$http"
    cat >"$prefix.conf" <<CONF
daemon off;
user root;
worker_processes 1;
pid $prefix.pid;
error_log $prefix-error.log;
events { worker_connections ${NGINX_CONNECTIONS:-256}; }
http {
$http
}
CONF
    rm -f "$prefix.pid"
    ip netns exec "$ns" nginx -c "$prefix.conf" 2>>"$prefix.log" &
    NGINX_PID=$!
    NGINX_PIDS[$prefix]=$NGINX_PID
    # (an nginx that exited stays a zombie until waited for: state Z)
    wait_until 30 "nginx ($prefix.conf) to start" \
        bash -c "[ -s '$prefix.pid' ] || ! awk '{exit \$3 == \"Z\"}' /proc/$NGINX_PID/stat"
    [ -s "$prefix.pid" ] ||
        fail "nginx ($prefix.conf) exited at start: $(cat "$prefix.log" "$prefix-error.log" 2>/dev/null)"
}

stop_nginx() {
    local prefix prefixes=("$@")
    [ $# -gt 0 ] || prefixes=("${!NGINX_PIDS[@]}")
    for prefix in "${prefixes[@]}"; do
        [ -n "${NGINX_PIDS[$prefix]:-}" ] || continue
        kill -TERM "${NGINX_PIDS[$prefix]}" 2>/dev/null || true
        wait_pid 30 "${NGINX_PIDS[$prefix]}" || true
        unset "NGINX_PIDS[$prefix]"
    done
}
