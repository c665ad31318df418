# sentinel.sh — sourced after common.sh and redis_secure.sh: two Redis
# nodes (a master and its replica, started with redis.sh's redis_start as
# node0 and node1) and three Redis Sentinels on loopback,
# as Debian's redis-server and redis-sentinel run them, for
# redis_sentinel.sh and fault_cycles.sh.  Every node keeps an AOF fsynced
# always, so a restarted node has what it acknowledged.
#
#   sentinel_start             start node 0 (master), node 1 (replica), 3 sentinels
#   sentinel_url               sentinel://127.0.0.1:P1,...:P3/canh
#   master_port                the port the sentinels name now
#   node_of_port PORT          0 or 1
#   node_kill N / node_start N kill -9 / restart node N (as a replica once a
#                              master exists: the sentinels reconfigure it)
#   mcli CMD...                redis-cli against the current master

SENTINEL_MASTER=canh
NODE_PORT=()
SENTINEL_PORT=()
SENTINEL_PID=()

node_start() {
    local n=$1 extra=()
    mkdir -p "$TMP/node$n"
    if [ -n "${SENTINEL_STARTED:-}" ]; then
        # Rejoin as a replica of whoever is master now; the sentinels would
        # also tell it, but only after it announced itself as a master.
        extra=(--replicaof 127.0.0.1 "$(master_port)")
    elif [ "$n" = 1 ]; then
        extra=(--replicaof 127.0.0.1 "${NODE_PORT[0]}")
    fi
    redis_start "node$n" -p "${NODE_PORT[$n]}" -w 60 -- --protected-mode no \
        --dir "$TMP/node$n" --appendonly yes --appendfsync always "${extra[@]}"
}

node_kill() { redis_kill "node$1"; }

sentinel_start() {
    local i
    NODE_PORT=("$(free_port)" "$(free_port)")
    for i in 0 1 2; do SENTINEL_PORT[$i]=$(free_port); done
    node_start 0
    node_start 1
    replica_synced() { redis-cli -p "${NODE_PORT[1]}" INFO replication | grep -q 'master_link_status:up'; }
    wait_until 60 "the replica to sync" replica_synced
    # down-after 3 s, not 1: on a loaded 2-core machine a just-promoted
    # master forking for its replica's full sync missed PINGs for over a
    # second, and the sentinels failed back to the replica that had not
    # synced yet (a flap the test then waited on for ever).
    for i in 0 1 2; do
        cat >"$TMP/sentinel$i.conf" <<CONF
port ${SENTINEL_PORT[$i]}
bind 127.0.0.1
protected-mode no
dir $TMP
logfile $TMP/sentinel$i.log
sentinel monitor $SENTINEL_MASTER 127.0.0.1 ${NODE_PORT[0]} 2
sentinel down-after-milliseconds $SENTINEL_MASTER 3000
sentinel failover-timeout $SENTINEL_MASTER 10000
sentinel parallel-syncs $SENTINEL_MASTER 1
CONF
        redis-sentinel "$TMP/sentinel$i.conf" &
        SENTINEL_PID[$i]=$!
    done
    sees_replica() {
        redis-cli -p "${SENTINEL_PORT[$1]}" SENTINEL REPLICAS "$SENTINEL_MASTER" | grep -q "${NODE_PORT[1]}"
    }
    for i in 0 1 2; do wait_until 60 "sentinel $i to see the replica" sees_replica "$i"; done
    sees_others() {
        [ "$(redis-cli -p "${SENTINEL_PORT[$1]}" SENTINEL SENTINELS "$SENTINEL_MASTER" | grep -c '^name$')" -ge 2 ]
    }
    for i in 0 1 2; do wait_until 60 "sentinel $i to find the other two" sees_others "$i"; done
    SENTINEL_STARTED=1
}

sentinel_stop() {
    local p
    for p in "${SENTINEL_PID[@]}"; do
        [ -z "$p" ] || kill -9 "$p" 2>/dev/null || true
    done
    redis_kill node0
    redis_kill node1
    wait 2>/dev/null || true
}

sentinel_url() {
    printf 'sentinel://127.0.0.1:%s,127.0.0.1:%s,127.0.0.1:%s/%s' "${SENTINEL_PORT[@]}" "$SENTINEL_MASTER"
}

# master_port: what the first sentinel that answers names
master_port() {
    local i
    for i in 0 1 2; do
        redis-cli -p "${SENTINEL_PORT[$i]}" SENTINEL GET-MASTER-ADDR-BY-NAME "$SENTINEL_MASTER" 2>/dev/null |
            sed -n 2p | grep . && return 0
    done
    return 1
}

node_of_port() { [ "$1" = "${NODE_PORT[0]}" ] && echo 0 || echo 1; }

mcli() { redis-cli -p "$(master_port)" "$@"; }

# master_is_up PORT: PORT is named by the sentinels and answers as a master
master_is() {
    [ "$(master_port)" = "$1" ] && redis-cli -p "$1" ROLE 2>/dev/null | head -1 | grep -qx master
}
