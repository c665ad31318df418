# collector_lib.bash — helpers the collector_*.sh and tail_*.sh tests source.
# (Named .bash so the test glob, which takes *.sh, does not run it alone.)
#
# Every test gets its own temporary directory, a private redis-server on a
# unix socket in it, and cleans both up on exit.

set -euo pipefail

: "${CANH_BIN:?set CANH_BIN to the bin directory of the build}"
: "${CANH_SRC:?set CANH_SRC to the source tree}"

source "$CANH_SRC/tests/e2e/lib/common.sh" # fail, wait_until, wait_pid
source "$CANH_SRC/tests/e2e/lib/redis.sh"  # redis_start, redis_stop
T=$TMP
SOCK="$T/redis.sock"
PIDS=()

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    redis_stop
    if [[ "${KEEP_TMP:-0}" != 1 ]]; then rm -rf "$T"; fi
}
trap cleanup EXIT

# start_redis: the private redis-server (lib/redis.sh), log in $T/redis.log;
# again after an rc SHUTDOWN, the same server back.
start_redis() {
    redis_start redis -s "$SOCK" -- --appendonly yes --appendfsync everysec
}

rc() { redis-cli -s "$SOCK" "$@"; }

# start_webhook PORT LOG [SECRET]: a webhook receiver logging one JSON line
# per delivery to LOG (tests/e2e/lib/webhook_receiver.py); stopped on exit.
start_webhook() {
    python3 "$CANH_SRC/tests/e2e/lib/webhook_receiver.py" "$@" &
    PIDS+=($!)
}

now_iso() { date +%Y-%m-%dT%H:%M:%S.%6N%z; }

# mkevent AGENT SEQ KIND TAXONOMY SEVERITY CLASS SRC DST ASSET LEVEL [STATE [AGENCY]]
# prints one event as common/event.c writes it (architecture §5).
mkevent() {
    local agent=$1 seq=$2 kind=$3 tax=$4 sev=$5 class=$6 src=$7 dst=$8 asset=$9 level=${10}
    local state=${11:-new} agency=${12:-Sở Y tế}
    local ts vi en eve type
    ts=$(now_iso)
    case $tax in
        attack.dos) vi="Tấn công từ chối dịch vụ"; en="Denial of service" ;;
        attack.defacement) vi="Tấn công thay đổi giao diện"; en="Defacement" ;;
        attack.intrusion) vi="Tấn công truy cập trái phép, chiếm quyền điều khiển"; en="Unauthorised access, takeover" ;;
        *) vi="Các hình thức tấn công mạng khác"; en="Other attack" ;;
    esac
    case $sev in critical) eve=1 ;; high) eve=2 ;; medium) eve=3 ;; *) eve=4 ;; esac
    case $state in new) type=alert ;; *) type=finding ;; esac
    printf '{"timestamp":"%s","flow_id":%d,"event_type":"%s","src_ip":"%s","dest_ip":"%s","dest_port":80,"proto":"TCP","host":"%s",' \
        "$ts" "$(cksum <<<"$agent:$kind" | cut -d' ' -f1)" "$type" "$src" "$dst" "$agent"
    printf '"alert":{"action":"allowed","gid":1,"signature_id":8600001,"rev":1,"signature":"canh %s","category":"%s / %s","severity":%d},' \
        "$kind" "$vi" "$en" "$eve"
    printf '"canh":{"v":1,"id":"%s:b00t:%06d","finding_id":"%s:b00t:f%s","agent":"%s","agency":"%s","kind":"%s","state":"%s",' \
        "$agent" "$seq" "$agent" "$kind" "$agent" "$agency" "$kind" "$state"
    printf '"taxonomy":{"code":"%s","vi":"%s","en":"%s"},"severity":"%s","class":"%s","rule":"test.rules:%s",' \
        "$tax" "$vi" "$en" "$sev" "$class" "$kind"
    printf '"asset":{"name":"%s","owner":"%s","level":%d},"first_seen":"%s","last_seen":"%s",' "$asset" "$agency" "$level" "$ts" "$ts"
    printf '"counters":{"packets":%d,"ports":%d},"evidence":{"scan_type":"syn","sample_ports":[22,80,443]}}}\n' $((seq * 10 + 7)) $((seq + 3))
}

# xadd_event AGENT JSON
xadd_event() { rc XADD "canh:events:$1" MAXLEN '~' 100000 '*' event "$2" >/dev/null; }

# heartbeat AGENT [AGENCY]
heartbeat() {
    local agency=${2:-Sở Y tế}
    rc XADD "canh:heartbeats:$1" MAXLEN '~' 1000 '*' event \
        "{\"timestamp\":\"$(now_iso)\",\"event_type\":\"stats\",\"canh\":{\"v\":1,\"agent\":\"$1\",\"agency\":\"$agency\",\"counters\":{\"packets\":1000,\"bytes\":64000,\"pcap_drops\":0,\"events\":3}}}" >/dev/null
}

# write_conf FILE [extra INI text]
write_conf() {
    local file=$1
    shift
    cat >"$file" <<EOF
[collector]
redis_url = unix:$SOCK
block = 200ms
claim_idle = 2s
claim_interval = 1s
discover_interval = 500ms
log_level = info

[incidents]
sweep_interval = 500ms
$*
EOF
}

# start_collector CONF NAME: runs canh-collector in the background
start_collector() {
    "$CANH_BIN/canh-collector" -c "$1" >>"$T/$2.log" 2>&1 &
    PIDS+=($!)
    LAST_PID=$!
}

pending_count() {
    # Sum of pending entries in group canh-collectors over every events stream.
    local total=0 key n
    for key in $(rc --scan --pattern 'canh:events:*'); do
        n=$(rc XPENDING "$key" canh-collectors 2>/dev/null | head -1)
        total=$((total + ${n:-0}))
    done
    echo "$total"
}

# incidents_where FIELD VALUE [FIELD VALUE ...]: ids of the incident
# hashes with all those field values
incidents_where() {
    local key i ok args=("$@")
    for key in $(rc --scan --pattern 'canh:incident:*'); do
        ok=1
        for ((i = 0; i < ${#args[@]}; i += 2)); do
            if [[ "$(rc HGET "$key" "${args[i]}")" != "${args[i + 1]}" ]]; then ok=0; break; fi
        done
        if ((ok)); then echo "${key#canh:incident:}"; fi
    done
}
