#!/usr/bin/env bash
# metrics.sh — the counters mean what their HELP says, and both /metrics
# pass promtool.
#
# 1. canh-agent replays tests/fixtures/campaign.pcap into a private
#    redis-server; canh-collector (one, status page on a loopback port)
#    applies it.  Its /metrics must say: events applied = entries in the
#    agent's stream, incidents opened = incident hashes in Redis, conflicts
#    = 0 (one collector never conflicts with itself), and the agent's
#    figures from its last heartbeat = what the agent wrote (events in its
#    JSONL, packets in the capture).
# 2. canh-agent captures live on the loopback of a network namespace this
#    script creates, with [metrics] listen: its own /metrics counts the
#    pings sent there.  promtool check metrics passes on both outputs.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/redis.sh"
command -v promtool >/dev/null || { echo "SKIP: no promtool (Debian package prometheus)"; exit 77; }

SOCK=$TMP/redis.sock
NS=canh-met-$$
PIDS=()
stop_all() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    redis_stop
    ip netns del "$NS" 2>/dev/null || true
    cleanup_tmp
}
trap stop_all EXIT
rc() { timeout 30 redis-cli -s "$SOCK" "$@"; }
# metric FILE NAME{LABELS}: the value of one sample ("" when absent)
metric() { awk -v k="$2 " 'index($0, k) == 1 { print $NF }' "$1"; }

redis_start redis -s "$SOCK"

cat >"$TMP/collector.conf" <<CONF
[collector]
redis_url = unix:$SOCK
block = 200ms
discover_interval = 500ms
log_level = info
[incidents]
sweep_interval = 500ms
[status]
listen = 127.0.0.1:0
auth = none
refresh = 200ms
CONF
"$CANH_BIN/canh-collector" -c "$TMP/collector.conf" >"$TMP/collector.log" 2>&1 &
PIDS+=($!)
wait_until 30 "the status page to listen" grep -q 'status page on http://127.0.0.1:' "$TMP/collector.log"
PORT=$(grep -o 'status page on http://127.0.0.1:[0-9]*' "$TMP/collector.log" | head -1 | sed 's/.*://')

# --- 1. agent → Redis → collector ----------------------------------------

cat >"$TMP/agent.conf" <<CONF
[agent]
name = gw-soyte
agency = Sở Y tế
state_dir = $TMP/state
[output]
redis_url = unix:$SOCK
CONF
timeout 120 "$CANH_BIN/canh-agent" -c "$TMP/agent.conf" -r "$FIXTURES/campaign.pcap" \
    --assets "$FIXTURES/assets.conf" --output redis --output "jsonl:$TMP/agent.jsonl" \
    >"$TMP/agent.log" 2>&1 || fail "canh-agent exited $?"
sent=$(wc -l <"$TMP/agent.jsonl")
packets=$(tcpdump -nr "$FIXTURES/campaign.pcap" 2>/dev/null | wc -l)
[ "$sent" -gt 0 ] && [ "$(rc XLEN canh:events:gw-soyte)" = "$sent" ] ||
    fail "the agent wrote $sent events, its stream holds $(rc XLEN canh:events:gw-soyte)"

scrape() { curl -fsS "http://127.0.0.1:$PORT/metrics" -o "$TMP/collector.prom"; }
settled() {
    scrape || return 1
    [ "$(metric "$TMP/collector.prom" canh_collector_events_applied_total)" = "$sent" ] &&
        [ "$(metric "$TMP/collector.prom" "canh_agent_events_total{agent=\"gw-soyte\",agency=\"Sở Y tế\"}")" = "$sent" ]
}
wait_until 120 "the collector to apply all $sent events and the last heartbeat" settled
promtool check metrics <"$TMP/collector.prom" >"$TMP/promtool-collector.log" 2>&1 ||
    fail "promtool check metrics (collector): $(cat "$TMP/promtool-collector.log")"
pass "collector /metrics passes promtool check metrics"

incidents=$(rc --scan --pattern 'canh:incident:*' | wc -l)
opened=$(metric "$TMP/collector.prom" canh_collector_incidents_opened_total)
[ "$incidents" -gt 1 ] && [ "$opened" = "$incidents" ] ||
    fail "incidents_opened_total is $opened; Redis holds $incidents incidents"
pass "canh_collector_incidents_opened_total = $opened = incidents in Redis"
[ "$(metric "$TMP/collector.prom" canh_collector_conflicts_total)" = 0 ] ||
    fail "one collector counted conflicts: $(metric "$TMP/collector.prom" canh_collector_conflicts_total)"
[ "$(metric "$TMP/collector.prom" canh_collector_events_duplicate_total)" = 0 ] ||
    fail "duplicates counted on a first run"
pass "canh_collector_events_applied_total = $sent = events sent; no conflicts, no duplicates"

escalations=$(rc --scan --pattern 'canh:escalation:*' | wc -l)
queued=$(metric "$TMP/collector.prom" canh_collector_incidents_escalated_total)
[ "$queued" -ge "$escalations" ] || fail "escalated_total $queued < $escalations jobs in Redis"

A='{agent="gw-soyte",agency="Sở Y tế"}'
got=$(metric "$TMP/collector.prom" "canh_agent_packets_total$A")
[ "$got" = "$packets" ] || fail "canh_agent_packets_total is '$got'; the capture holds $packets packets"
grep -q '^# TYPE canh_agent_packets_total counter' "$TMP/collector.prom" || fail "packets not a counter"
grep -q "^canh_agent_spool_lost_records_total$A 0" "$TMP/collector.prom" || fail "no spool loss figure"
grep -q "^canh_agent_table_emergency{agent=\"gw-soyte\",agency=\"Sở Y tế\",detector=\"portscan\"} 0" \
    "$TMP/collector.prom" || fail "no table emergency figure for portscan"
findings=$(grep -c '"event_type":"alert"' "$TMP/agent.jsonl")
sum=$(awk '/^canh_agent_findings_total\{agent="gw-soyte"/ { s += $NF } END { print s + 0 }' "$TMP/collector.prom")
[ "$sum" = "$findings" ] || fail "canh_agent_findings_total sums to $sum; the agent raised $findings alerts"
pass "agent counters from the last heartbeat: $packets packets, $sent events, $findings findings"

# --- 2. the agent's own /metrics, live --------------------------------------

ip netns add "$NS" || { echo "SKIP: cannot create a network namespace"; exit 77; }
ip -n "$NS" link set lo up
cat >"$TMP/live.conf" <<CONF
[agent]
name = gw-live
agency = Sở Tư pháp
state_dir = $TMP/live-state
[capture]
interface = lo
[evidence]
ring_mb = 1
[metrics]
listen = 127.0.0.1:0
CONF
"$CANH_BIN/canh-agent" -c "$TMP/live.conf" --check >"$TMP/check.log" 2>&1 ||
    fail "--check refused [metrics] listen: $(cat "$TMP/check.log")"
ip netns exec "$NS" "$CANH_BIN/canh-agent" -c "$TMP/live.conf" --output "jsonl:$TMP/live.jsonl" \
    >"$TMP/live.log" 2>&1 &
LIVE=$!
PIDS+=($LIVE)
wait_until 30 "the agent's /metrics to listen" grep -q 'metrics on http://127.0.0.1:' "$TMP/live.log"
MPORT=$(grep -o 'metrics on http://127.0.0.1:[0-9]*' "$TMP/live.log" | head -1 | sed 's/.*://')
ip netns exec "$NS" ping -c 20 -i 0.05 -q 127.0.0.1 >/dev/null || fail "ping in $NS"
L='{agent="gw-live",agency="Sở Tư pháp"}'
pinged() {
    ip netns exec "$NS" curl -fsS "http://127.0.0.1:$MPORT/metrics" -o "$TMP/agent.prom" || return 1
    local n
    n=$(metric "$TMP/agent.prom" "canh_agent_packets_total$L")
    [ -n "$n" ] && [ "$n" -ge 40 ]
}
wait_until 30 "the agent's /metrics to count 40 ping packets" pinged
promtool check metrics <"$TMP/agent.prom" >"$TMP/promtool-agent.log" 2>&1 ||
    fail "promtool check metrics (agent): $(cat "$TMP/promtool-agent.log")"
grep -q '^canh_agent_info{' "$TMP/agent.prom" || fail "no canh_agent_info"
grep -q "^canh_agent_evidence_disk_bytes$L 0" "$TMP/agent.prom" || fail "no evidence disk figure"
code=$(ip netns exec "$NS" curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/other")
[ "$code" = 404 ] || fail "GET /other answered $code"
pass "the agent's own /metrics counts the pings and passes promtool"

# The port is taken now: --check says so, with the line.
sed -i "s/^listen = .*/listen = 127.0.0.1:$PORT/" "$TMP/live.conf"
if "$CANH_BIN/canh-agent" -c "$TMP/live.conf" --check >"$TMP/check2.log" 2>&1; then
    fail "--check accepted a listen address in use"
fi
grep -q "live.conf:10: .*listen.*in use" "$TMP/check2.log" || fail "--check: $(cat "$TMP/check2.log")"
pass "--check refuses a [metrics] listen address another process holds"

kill -TERM "$LIVE"
wait_pid 30 "$LIVE" || fail "the live agent exited $?"
echo "metrics: $PASSED checks passed"
