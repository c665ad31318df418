#!/usr/bin/env bash
# Routes: two agencies' incidents reach two webhook receivers by agency
# and by district filter, defacements reach the police liaison by e-mail
# through the real sendmail (msmtp-mta) to an SMTP listener on loopback,
# and each agency's incidents are in its own stream, which a Redis ACL
# user limited to it follows with canh-tail --own-agency.
source "$(dirname "$0")/collector_lib.bash"

[[ -x /usr/sbin/sendmail ]] || fail "no /usr/sbin/sendmail: scripts/setup installs msmtp-mta"
start_redis
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HOOK_A=$(free_port)
HOOK_B=$(free_port)
SMTP_PORT=$(free_port)
printf 'route-secret-1\n' >"$T/a.secret"
printf 'route-secret-2\n' >"$T/b.secret"
mkdir -p "$T/mail"

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
            f.write(json.dumps({"ok": ok, "route": self.headers.get("X-Canh-Route"),
                                "action": d["action"], "id": d["incident"]["id"],
                                "agency": d["incident"]["agency"],
                                "taxonomy": d["incident"]["taxonomy"]["code"]}) + "\n")
        self.send_response(200 if ok else 401)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
# The mail server msmtp hands the messages to: one file per message.
cat >"$T/smtp.py" <<'PY'
import asyncore, os, smtpd, sys, warnings
warnings.simplefilter("ignore")
class S(smtpd.SMTPServer):
    n = 0
    def process_message(self, peer, mailfrom, rcpttos, data, **kw):
        S.n += 1
        path = os.path.join(sys.argv[2], "%03d.eml" % S.n)
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.rename(path + ".tmp", path)
S(("127.0.0.1", int(sys.argv[1])), None, decode_data=False)
open(os.path.join(sys.argv[2], "..", "smtp.ready"), "w").close()
asyncore.loop()
PY
python3 "$T/receiver.py" "$HOOK_A" route-secret-1 "$T/hook-a.jsonl" &
PIDS+=($!)
python3 "$T/receiver.py" "$HOOK_B" route-secret-2 "$T/hook-b.jsonl" &
PIDS+=($!)
python3 "$T/smtp.py" "$SMTP_PORT" "$T/mail" &
PIDS+=($!)
wait_until 30 "the SMTP listener" test -e "$T/smtp.ready"
cat >"$T/msmtprc" <<EOF
account default
host 127.0.0.1
port $SMTP_PORT
auth off
tls off
from canh@soc.example
EOF
chmod 600 "$T/msmtprc"

routes="
[escalation]
retry_base = 200ms
retry_max = 1s
poll_interval = 100ms

[agencies]
Sở Y tế = Thành phố Huế
Sở Tài chính = Huyện Phú Vang

[route.soyte-admin]
sink = webhook
url = http://127.0.0.1:$HOOK_A/hook
secret_file = $T/a.secret
agency = Sở Y tế
min_severity = low
rate = unlimited

[route.phuvang]
sink = webhook
url = http://127.0.0.1:$HOOK_B/hook
secret_file = $T/b.secret
district = Huyện Phú Vang
rate = unlimited

[route.police]
sink = email
to = lienlac.congan@soc.example
from = canh@soc.example
taxonomy = attack.defacement
sendmail = /usr/sbin/sendmail -C $T/msmtprc
timeout = 20s
"

# --check names the line of a mistake in a route.
write_conf "$T/bad.conf" "$routes
[route.typo]
sink = syslog
url = http://127.0.0.1:9/x
"
set +e
"$CANH_BIN/canh-collector" -c "$T/bad.conf" --check 2>"$T/bad.err"
code=$?
set -e
[[ $code == 2 ]] || fail "--check of a bad route should exit 2, not $code"
line=$(grep -n '^url = http://127.0.0.1:9/x' "$T/bad.conf" | cut -d: -f1)
expect_contains "$T/bad.err" "$T/bad.conf:$line: url: is a webhook key, but route typo has sink = syslog"
pass "--check: a webhook key in a syslog route is refused at its line"

write_conf "$T/c.conf" "$routes"
"$CANH_BIN/canh-collector" -c "$T/c.conf" --check || fail "--check refused the configuration"
start_collector "$T/c.conf" collector

# Sở Y tế: a low and a medium scan.  Sở Tài chính: a high DoS and a
# critical defacement.
xadd_event gw-soyte "$(mkevent gw-soyte 1 portscan attack.other low normal 10.7.0.1 198.51.100.10 portal 3 new 'Sở Y tế')"
xadd_event gw-soyte "$(mkevent gw-soyte 2 portscan attack.other medium normal 10.7.0.2 198.51.100.10 portal 3 new 'Sở Y tế')"
xadd_event gw-sotc "$(mkevent gw-sotc 1 syn_flood attack.dos high normal 10.8.0.1 198.51.100.20 tc-portal 3 new 'Sở Tài chính')"
xadd_event gw-sotc "$(mkevent gw-sotc 2 defacement attack.defacement critical serious_candidate 10.8.0.2 198.51.100.20 tc-portal 4 new 'Sở Tài chính')"

lines() { [[ -f $1 ]] && wc -l <"$1" || echo 0; }
wait_until 60 "two deliveries to each webhook" bash -c "[[ \$( [ -f '$T/hook-a.jsonl' ] && wc -l <'$T/hook-a.jsonl' || echo 0) -ge 2 && \$( [ -f '$T/hook-b.jsonl' ] && wc -l <'$T/hook-b.jsonl' || echo 0) -ge 2 ]]"
wait_until 60 "the e-mail" bash -c "ls '$T'/mail/*.eml >/dev/null 2>&1"
queue_empty() { [[ $(rc ZCARD canh:escalations) == 0 ]]; }
wait_until 60 "every escalation delivered" queue_empty
cat "$T/hook-a.jsonl" "$T/hook-b.jsonl"

python3 - "$T/hook-a.jsonl" "$T/hook-b.jsonl" <<'PY' || fail "webhook deliveries by agency"
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert all(d["ok"] for d in a + b), "a signature did not verify"
assert len(a) == 2 and {d["agency"] for d in a} == {"Sở Y tế"}, a
assert {d["route"] for d in a} == {"soyte-admin"}, a
assert len(b) == 2 and {d["agency"] for d in b} == {"Sở Tài chính"}, b
assert {d["taxonomy"] for d in b} == {"attack.dos", "attack.defacement"}, b
assert {d["action"] for d in a + b} == {"escalated"}, a + b
PY
pass "route soyte-admin (agency) got Sở Y tế's two incidents, low included; route phuvang (district) Sở Tài chính's two"

# An operator's action reaches the routes that carry the incident, and no other.
soyte_id=$(incidents_where agency 'Sở Y tế' severity medium)
[[ -n $soyte_id ]] || fail "no medium Sở Y tế incident"
timeout 20 "$CANH_BIN/canh-ctl" -r "unix:$SOCK" --operator alice ack "$soyte_id" >/dev/null ||
    fail "canh-ctl ack"
acked() { grep -F "$soyte_id" "$T/hook-a.jsonl" | grep -qF '"action": "acknowledged"'; }
wait_until 60 "the acknowledgement at route soyte-admin" acked
wait_until 60 "every escalation delivered" queue_empty
! grep -qF acknowledged "$T/hook-b.jsonl" || fail "route phuvang heard of another agency's incident"
pass "canh-ctl ack reached route soyte-admin, not route phuvang"

n=$(ls "$T"/mail/*.eml | wc -l)
[[ $n == 1 ]] || fail "expected one e-mail (the defacement), got $n"
deface=$(incidents_where taxonomy attack.defacement type finding)
python3 - "$T"/mail/001.eml "$deface" <<'PY' || fail "the e-mail"
import email, email.header, email.policy, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
assert m["To"] == "lienlac.congan@soc.example", m["To"]
assert m["X-Canh-Route"] == "police", m["X-Canh-Route"]
subject = str(m["Subject"])
assert "Tấn công thay đổi giao diện" in subject and "Sở Tài chính" in subject, subject
assert sys.argv[2] in subject, subject
body = m.get_content()
assert "Cơ quan / Agency: Sở Tài chính" in body, body
assert '"id": "%s"' % sys.argv[2] in body, body
PY
pass "route police (taxonomy attack.defacement) sent one e-mail through sendmail, subject in Vietnamese"

# Per-agency streams: each agency's incidents, and only them.
python3 - <<PY || fail "per-agency streams"
import json, subprocess
def entries(key):
    out = subprocess.run(["redis-cli", "-s", "$SOCK", "--json", "XRANGE", key, "-", "+"],
                         capture_output=True, text=True, check=True).stdout
    return [dict(zip(e[1][::2], e[1][1::2])) for e in json.loads(out)] if out.strip() else []
soyte, sotc, allx = (entries("canh:incidents:so-y-te"), entries("canh:incidents:so-tai-chinh"),
                     entries("canh:incidents"))
assert soyte and sotc, (soyte, sotc)
assert {json.loads(e["incident"])["agency"] for e in soyte} == {"Sở Y tế"}
assert {json.loads(e["incident"])["agency"] for e in sotc} == {"Sở Tài chính"}
mine = [e for e in allx if json.loads(e["incident"])["agency"] == "Sở Y tế"]
assert mine == soyte, (mine, soyte)  # every field, the incident text too
PY
pass "canh:incidents:so-y-te and :so-tai-chinh hold each agency's announcements as canh:incidents has them"

# An agency's tail user, as docs/deployment.md sets it up.
printf 'tail-soyte-password\n' >"$T/tail.pw"
rc ACL SETUSER tail-soyte on '>tail-soyte-password' resetkeys resetchannels -@all +ping \
    +xread +xrange +xrevrange +xlen '+xinfo|stream' '%R~canh:incidents:so-y-te' >/dev/null
timeout 30 "$CANH_BIN/canh-tail" -r "unix:$SOCK" --user tail-soyte --password-file "$T/tail.pw" \
    --own-agency 'Sở Y tế' --since all --json -n 2 >"$T/tail.json" 2>"$T/tail.err" ||
    fail "canh-tail --own-agency: $(cat "$T/tail.err")"
python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 2 and all(r["incident"]["agency"] == "Sở Y tế" for r in rows), rows
' "$T/tail.json" || fail "the agency's tail shows other agencies' incidents"
set +e
timeout 30 "$CANH_BIN/canh-tail" -r "unix:$SOCK" --user tail-soyte --password-file "$T/tail.pw" \
    --since all --json -n 1 >"$T/tail2.json" 2>"$T/tail2.err"
set -e
[[ ! -s "$T/tail2.json" ]] || fail "the agency's user could read canh:incidents"
grep -qi "noperm\|no permissions" "$T/tail2.err" || fail "expected NOPERM reading canh:incidents: $(cat "$T/tail2.err")"
pass "an ACL user limited to canh:incidents:so-y-te follows it with --own-agency and is refused canh:incidents"

echo "PASS: $PASSED checks"
