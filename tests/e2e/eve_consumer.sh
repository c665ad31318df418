#!/usr/bin/env bash
# eve_consumer.sh — a real EVE consumer reads canh's events: captures are
# replayed through the agent and the JSONL is fed to FEVER (Debian's
# `fever`, DCSO's router for Suricata EVE) over its input socket.  FEVER
# must parse every line, route only the `new` events as alerts (one
# finding, one alert) and route update/end as `finding` events with the
# alert's flow_id; signatures and ids come through unchanged.
. "$(dirname "$0")/lib/common.sh"
command -v fever >/dev/null || { echo "SKIP: fever is not installed (scripts/setup installs it)"; exit 77; }
AGENT=$CANH_BIN/canh-agent

printf '[agent]\nname = gw-eve\n' >"$TMP/agent.conf"
for f in http_dav_put_shell http_webshell_access scan_syn flood_syn campaign; do
    "$AGENT" -q -c "$TMP/agent.conf" -r "$FIXTURES/$f.pcap" --assets "$FIXTURES/assets.conf" \
        --output jsonl:"$TMP/events.jsonl" || fail "replay of $f.pcap failed"
done
n=$(wc -l <"$TMP/events.jsonl")
[ "$n" -gt 0 ] || fail "the replays raised no event"

# FEVER forwards to Unix sockets; a small listener stands in for the SIEM
# side and appends what each socket receives to a file.
cat >"$TMP/sink.py" <<'PY'
import os, socket, sys, threading
def serve(path, out):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(8)
    f = open(out, "ab", buffering=0)
    def drain(c):
        while True:
            d = c.recv(65536)
            if not d:
                return
            f.write(d)
    while True:
        c, _ = s.accept()
        with open(path + ".accepted", "a") as log:
            log.write("connection\n")
        threading.Thread(target=drain, args=(c,), daemon=True).start()
for path, out in zip(sys.argv[1::2], sys.argv[2::2]):
    threading.Thread(target=serve, args=(path, out), daemon=True).start()
threading.Event().wait()
PY
: >"$TMP/alerts.jsonl"
: >"$TMP/all.jsonl"
python3 "$TMP/sink.py" "$TMP/alerts.sock" "$TMP/alerts.jsonl" "$TMP/all.sock" "$TMP/all.jsonl" &
SINK=$!
# Two outputs, as a SIEM feed and an archive would be: alerts only, and
# everything.  buffer-length matters: without it FEVER 1.3.5 was seen to
# drop events that arrive while an output is still writing the previous
# one (its per-output queue then holds nothing).
cat >"$TMP/fever.yaml" <<EOF
multi-forward:
  siemalerts:
    socket: $TMP/alerts.sock
    buffer-length: 1000
    all: false
    types:
      - alert
  everything:
    socket: $TMP/all.sock
    buffer-length: 1000
    all: true
    types: []
EOF
wait_until 30 "the sink's sockets" test -S "$TMP/alerts.sock" -a -S "$TMP/all.sock"
fever run --config "$TMP/fever.yaml" --dummy -v -i "$TMP/in.sock" --in-buffer-drop=false \
    --mgmt-socket "$TMP/mgmt.sock" --logfile "$TMP/fever.log" >"$TMP/fever.out" 2>&1 &
FEVER=$!
cleanup() { kill "$FEVER" "$SINK" 2>/dev/null || true; wait "$FEVER" "$SINK" 2>/dev/null || true; cleanup_tmp; }
trap cleanup EXIT
wait_until 30 "FEVER's input socket" test -S "$TMP/in.sock"
# Both outputs connected to the sink before anything is sent.
wait_until 30 "FEVER connected to both forwarding sockets" \
    test -s "$TMP/alerts.sock.accepted" -a -s "$TMP/all.sock.accepted"

python3 - "$TMP/in.sock" "$TMP/events.jsonl" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(open(sys.argv[2], "rb").read())
s.close()
PY

alerts=$(grep -c '"event_type":"alert"' "$TMP/events.jsonl")
got() { [ "$(grep -c . "$TMP/all.jsonl")" -ge "$n" ] && [ "$(grep -c . "$TMP/alerts.jsonl")" -ge "$alerts" ]; }
wait_until 60 "FEVER forwarded every event" got
if grep -q 'level=warning' "$TMP/fever.log"; then
    grep 'level=warning' "$TMP/fever.log" | head -5
    fail "FEVER warned while reading canh events"
fi

python3 - "$TMP/events.jsonl" "$TMP/alerts.jsonl" "$TMP/all.jsonl" <<'PY' || fail "FEVER's output"
import json, sys
sent = [json.loads(l) for l in open(sys.argv[1])]
alerts = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
routed = [json.loads(l) for l in open(sys.argv[3]) if l.strip()]
def ids(events):
    return sorted(e["canh"]["id"] for e in events)
new = [e for e in sent if e["canh"]["state"] == "new"]
if ids(routed) != ids(sent):
    lost = sorted(set(ids(sent)) - set(ids(routed)))
    sys.exit(f"FEVER routed {len(routed)} of {len(sent)} events; lost {lost}")
if ids(alerts) != ids(new):
    sys.exit(f"the alert output has {len(alerts)} events, the findings opened are {len(new)}")
by_id = {e["canh"]["id"]: e for e in sent}
for a in alerts:
    want = by_id[a["canh"]["id"]]
    for key in ("flow_id", "host", "community_id", "src_port"):
        if want.get(key) != a.get(key):
            sys.exit(f"{key} changed on the way: {want.get(key)} -> {a.get(key)}")
    if a["alert"] != want["alert"] or a["event_type"] != "alert":
        sys.exit(f"alert object changed: {a['alert']}")
    if not a["alert"]["signature"].startswith("canh ") or a["alert"]["gid"] != 1:
        sys.exit(f"not a canh signature: {a['alert']}")
alert_flow = {a["flow_id"]: a["alert"]["signature_id"] for a in alerts}
later = [e for e in routed if e["event_type"] == "finding"]
if not later:
    sys.exit("no update or end event reached FEVER")
for e in later:
    if alert_flow.get(e["flow_id"]) != e["alert"]["signature_id"]:
        sys.exit(f"finding {e['canh']['id']} has no alert with its flow_id and signature")
if not any("community_id" in a for a in alerts):
    sys.exit("no alert with a community_id (the HTTP captures have flows)")
print(f"{len(sent)} events: {len(alerts)} alerts, {len(later)} finding events, "
      f"{len(alert_flow)} flow ids, {len({a['alert']['signature_id'] for a in alerts})} signatures")
PY
pass "FEVER reads canh's EVE: one alert per finding, signatures, flow_id and community_id intact"

echo "$PASSED passed, 0 failed"
