# redis.sh — one way to run redis-server for the end-to-end tests:
# sourced after common.sh (fail, wait_until, wait_pid), as nginx.sh is.
#
# redis_start NAME [OPTION...] [-- REDIS-SERVER-ARGUMENT...]: a redis-server
# in the background of this shell (not daemonized, so it can be waited
# for), its output in $TMP/NAME.log, its files in $TMP, nothing saved
# (--save '') and no append-only file unless the arguments ask for one.
# Where it listens:
#   -s PATH       a unix socket, mode 700 (default: $TMP/NAME.sock), no TCP
#   -m MODE       the socket's mode instead of 700
#   -p PORT       TCP port PORT on 127.0.0.1 instead of a socket
#   -h HOST       the address for -p instead of 127.0.0.1
#   -f FILE       a configuration file, read first: the options here and
#                 the arguments after -- override it
#   -t CA CERT KEY    TLS only: -p is the TLS port (no plain port); the
#                     test's client trusts CA and shows CERT with KEY
#                     ('' '': no client certificate)
# Returns once redis-cli PING says PONG (not LOADING, not an error), as
#   -u USER PASSWORD  that ACL user (default: the default user)
#   -w SECONDS    bounds that wait (default 30: only a bound, so generous);
#                 0: return at once
# A server that exits before it answers fails the test with its log.
# Sets REDIS_PID.  Called again with the NAME of a server started before,
# it first stops that one (or reaps it, after a SHUTDOWN or redis_kill).
#
# redis_cli NAME ARG...: redis-cli to that server as redis_start asked it.
# redis_up NAME: it answers PING with PONG (not LOADING, not an error).
# redis_stop [NAME...]: SIGTERM and wait for it, 30 s at most (then
#   SIGKILL); no NAME: every server started here.  Call it from the test's
#   cleanup (redis_secure.sh's cleanup calls it).
# redis_kill NAME: SIGKILL (a crash: nothing flushed) and reap it.
declare -gA REDIS_PIDS REDIS_CLI_ARGS # (sourced twice: kept)
REDIS_PID=${REDIS_PID:-}

redis_start() {
    local name=$1 socket='' mode=700 port='' host=127.0.0.1 file='' wait_s=30
    local user='' password='' tls=0 ca='' cert='' key=''
    shift
    while (($#)); do
        case $1 in
            -s) socket=$2; shift 2 ;;
            -m) mode=$2; shift 2 ;;
            -p) port=$2; shift 2 ;;
            -h) host=$2; shift 2 ;;
            -f) file=$2; shift 2 ;;
            -u) user=$2 password=$3; shift 3 ;;
            -t) tls=1 ca=$2 cert=$3 key=$4; shift 4 ;;
            -w) wait_s=$2; shift 2 ;;
            --) shift; break ;;
            *) fail "redis_start $name: unknown option '$1'" ;;
        esac
    done
    local server=() cli=()
    [ -z "$file" ] || server+=("$file")
    if [ -n "$port" ]; then
        if ((tls)); then
            server+=(--port 0 --tls-port "$port")
        else
            server+=(--port "$port")
        fi
        server+=(--bind "$host")
        cli+=(-h "$host" -p "$port")
    else
        socket=${socket:-$TMP/$name.sock}
        server+=(--port 0 --unixsocket "$socket" --unixsocketperm "$mode")
        cli+=(-s "$socket")
    fi
    server+=(--dir "$TMP" --save '')
    if ((tls)); then
        cli+=(--tls --cacert "$ca")
        [ -z "$cert" ] || cli+=(--cert "$cert" --key "$key")
    fi
    [ -z "$user" ] || cli+=(--user "$user" --pass "$password" --no-auth-warning)
    REDIS_CLI_ARGS[$name]=$(printf '%q ' "${cli[@]}")

    # the same NAME again: reap the one before (SHUTDOWN or redis_kill)
    [ -z "${REDIS_PIDS[$name]:-}" ] || redis_stop "$name"
    redis-server "${server[@]}" "$@" >>"$TMP/$name.log" 2>&1 &
    REDIS_PID=$!
    REDIS_PIDS[$name]=$REDIS_PID
    ((wait_s > 0)) || return 0
    wait_until "$wait_s" "redis-server $name to answer PING" _redis_up_or_gone "$name"
    redis_up "$name" ||
        fail "redis-server $name exited at start: $(tail -5 "$TMP/$name.log" 2>/dev/null)"
}

redis_cli() {
    local name=$1 args
    shift
    eval "args=(${REDIS_CLI_ARGS[$name]:?redis_cli: no redis-server $name})"
    redis-cli "${args[@]}" "$@"
}

# The timeout keeps a server that does not answer (CLIENT PAUSE, a
# stopped process) from holding a wait past its bound.
redis_up() {
    local args
    eval "args=(${REDIS_CLI_ARGS[$1]:?redis_up: no redis-server $1})"
    [ "$(timeout 10 redis-cli "${args[@]}" PING 2>/dev/null)" = PONG ]
}

# redis_up, or the process has exited (a zombie until waited for: state Z)
_redis_up_or_gone() {
    local state
    redis_up "$1" && return 0
    state=$(sed 's/^.*) //' "/proc/${REDIS_PIDS[$1]}/stat" 2>/dev/null | cut -d' ' -f1)
    [ -z "$state" ] || [ "$state" = Z ]
}

redis_stop() {
    local name names=("$@")
    [ $# -gt 0 ] || names=("${!REDIS_PIDS[@]}")
    for name in "${names[@]}"; do
        [ -n "${REDIS_PIDS[$name]:-}" ] || continue
        kill -TERM "${REDIS_PIDS[$name]}" 2>/dev/null || true
        wait_pid 30 "${REDIS_PIDS[$name]}" || true
        unset "REDIS_PIDS[$name]"
    done
}

redis_kill() {
    [ -n "${REDIS_PIDS[$1]:-}" ] || return 0
    kill -9 "${REDIS_PIDS[$1]}" 2>/dev/null || true
    wait_pid 30 "${REDIS_PIDS[$1]}" 2>/dev/null || true
    unset "REDIS_PIDS[$1]"
}
