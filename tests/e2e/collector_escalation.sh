#!/usr/bin/env bash
# Escalation: a webhook receiver that checks the HMAC is down while
# incidents open; the escalations wait in canh:escalations and are all
# delivered once, none twice, after it comes up.  Syslog (UDP, RFC 5424)
# gets the same incidents under a rate limit; serious candidates get a
# report draft with its deadline.
source "$(dirname "$0")/collector_lib.bash"

start_redis
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HOOK_PORT=$(free_port)
SYSLOG_PORT=$(free_port)
printf 's3cr3t-key\n' >"$T/hook.secret"
mkdir -p "$T/reports"

cat >"$T/receiver.py" <<'PY'
import hashlib, hmac, http.server, json, sys
port, secret, log = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        want = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        ok = hmac.compare_digest(want, self.headers.get("X-Canh-Signature", ""))
        d = json.loads(body)
        with open(log, "a") as f:
            f.write("%s %s %s %s\n" % ("good" if ok else "BAD", self.headers["X-Canh-Delivery"],
                                       d["incident"]["id"], d["action"]))
        self.send_response(200 if ok else 401)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
cat >"$T/syslog.py" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
with open(sys.argv[2], "a") as f:
    while True:
        data, _ = s.recvfrom(65535)
        f.write("%.3f %s\n" % (time.time(), data.decode("utf-8")))
        f.flush()
PY
python3 "$T/syslog.py" "$SYSLOG_PORT" "$T/syslog.txt" &
PIDS+=($!)
# UDP sent before the receiver is bound is lost: it opens its file after.
wait_until 30 "the syslog receiver" test -e "$T/syslog.txt"

write_conf "$T/c.conf" "
[escalation]
retry_base = 200ms
retry_max = 1s
poll_interval = 100ms

[webhook]
url = http://127.0.0.1:$HOOK_PORT/canh/hook
secret_file = $T/hook.secret
min_severity = medium
rate = unlimited
timeout = 2s

[syslog]
host = 127.0.0.1
port = $SYSLOG_PORT
proto = udp
min_severity = medium
rate = 2/s
burst = 2

[report]
dir = $T/reports
deadline = 5d
reporting_unit = Sở Thông tin và Truyền thông tỉnh
contact = Trực SOC, 0200 000 000
"
"$CANH_BIN/canh-collector" -c "$T/c.conf" --check || fail "--check refused the configuration"
start_collector "$T/c.conf" collector

# Six incidents at medium or above (one a serious candidate), two below.
for s in 1 2 3 4 5; do
    xadd_event gw-soyte "$(mkevent gw-soyte $s portscan attack.other medium normal 10.7.0.$s 198.51.100.10 portal 3)"
done
xadd_event gw-soyte "$(mkevent gw-soyte 6 defacement attack.defacement critical serious_candidate 10.7.1.1 198.51.100.10 portal 4)"
xadd_event gw-soyte "$(mkevent gw-soyte 7 portscan attack.other low normal 10.7.2.1 198.51.100.10 portal 3)"
xadd_event gw-soyte "$(mkevent gw-soyte 8 portscan attack.other low normal 10.7.2.2 198.51.100.10 portal 3)"

failed_once() { [[ $(rc HGET "canh:escalation:$(rc ZRANGE canh:escalations 0 0)" last_error) == *"no answer"* ]]; }
wait_until 60 "a failed webhook attempt" failed_once
# Several more retries while the receiver is down.
retried() {
    local id n
    for id in $(rc ZRANGE canh:escalations 0 -1); do
        n=$(rc HGET "canh:escalation:$id" attempts)
        ((${n:-0} >= 3)) && return 0
    done
    return 1
}
wait_until 60 "a third attempt at an escalation" retried
[[ ! -s "$T/hooks.txt" ]] || fail "nothing can have been delivered yet"

# Every command Redis runs, to count the collector's polls of the queue.
stdbuf -oL redis-cli -s "$SOCK" MONITOR >"$T/monitor.txt" &
PIDS+=($!)
queue_polls() { grep -F '"EVAL"' "$T/monitor.txt" | grep -cF canh:escalations || true; }
python3 "$T/receiver.py" "$HOOK_PORT" s3cr3t-key "$T/hooks.txt" &
PIDS+=($!)
queue_empty() { [[ $(rc ZCARD canh:escalations) == 0 ]]; }
wait_until 60 "every escalation delivered" queue_empty
# A second delivery of anything would show once the collector has looked
# at the queue a few more times.
polls=$(queue_polls)
polled_thrice_more() { (($(queue_polls) >= polls + 3)); }
wait_until 60 "three more polls of the escalation queue" polled_thrice_more

cat "$T/hooks.txt"
[[ $(wc -l <"$T/hooks.txt") == 6 ]] || fail "expected 6 webhook deliveries, got $(wc -l <"$T/hooks.txt")"
! grep -q BAD "$T/hooks.txt" || fail "a webhook signature did not verify"
[[ $(cut -d' ' -f2 "$T/hooks.txt" | sort -u | wc -l) == 6 ]] || fail "a delivery came twice"
[[ $(cut -d' ' -f3 "$T/hooks.txt" | sort -u | wc -l) == 6 ]] || fail "an incident was escalated twice"
for id in $(incidents_where severity low); do
    ! grep -q "$id" "$T/hooks.txt" || fail "a low incident went to the webhook"
    [[ $(rc HGET "canh:incident:$id" status) == open ]] || fail "low incident $id should stay open"
done
for id in $(cut -d' ' -f3 "$T/hooks.txt"); do
    [[ $(rc HGET "canh:incident:$id" status) == escalated ]] || fail "incident $id should be escalated"
done
[[ $(rc XRANGE canh:incidents - + | grep -c '^opened$') == 8 ]] || fail "8 incidents should be announced"

# Syslog: RFC 5424 header and structured data, six messages, rate limited.
wait_until 60 "six syslog messages" bash -c "[[ \$(wc -l <'$T/syslog.txt') == 6 ]]"
head -1 "$T/syslog.txt"
grep -qE '^[0-9.]+ <13[0-4]>1 [0-9T:.-]+Z [^ ]+ canh-collector [0-9]+ INCIDENT \[canh@32473 id="' "$T/syslog.txt" ||
    fail "syslog lines are not RFC 5424"
grep -q 'taxonomy="attack.defacement" severity="critical" class="serious_candidate"' "$T/syslog.txt" ||
    fail "syslog structured data"
first=$(head -1 "$T/syslog.txt" | cut -d' ' -f1)
last=$(tail -1 "$T/syslog.txt" | cut -d' ' -f1)
python3 -c "import sys; sys.exit(0 if float(sys.argv[2]) - float(sys.argv[1]) >= 1.5 else 1)" "$first" "$last" ||
    fail "6 messages at 2/s with a burst of 2 should take at least 1.5 s ($first .. $last)"

# One notification draft (Circular 20/2017), for the serious candidate only.
serious=$(incidents_where class serious_candidate type finding)
wait_until 60 "the notification draft" test -f "$T/reports/$serious.notification.md"
[[ $(ls "$T/reports" | wc -l) == 2 ]] || fail "expected only $serious.notification.md and .json: $(ls "$T/reports")"
grep -q "THÔNG BÁO SỰ CỐ AN TOÀN THÔNG TIN MẠNG" "$T/reports/$serious.notification.md" || fail "report title"
grep -q "Tấn công thay đổi giao diện" "$T/reports/$serious.notification.md" || fail "report incident type"
grep -q "Sở Thông tin và Truyền thông tỉnh" "$T/reports/$serious.notification.md" || fail "report unit"
python3 - "$T/reports/$serious.notification.json" <<'PY' || fail "report JSON"
import datetime, json, sys
r = json.load(open(sys.argv[1]))
fmt = "%d/%m/%Y %H:%M"
d = datetime.datetime.strptime(r["deadline"]["date"], fmt) - datetime.datetime.strptime(r["detected_at"], fmt)
assert d == datetime.timedelta(days=5), d
assert r["system"]["level"] == 4 and r["incident_type"]["code"] == "attack.defacement"
PY
echo PASS
