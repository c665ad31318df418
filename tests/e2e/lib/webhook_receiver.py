"""A webhook receiver for the e2e tests: one JSON line per POST.

usage: webhook_receiver.py PORT LOG [SECRET]

Each delivery is logged as {"ok", "route", "action", "id", "exercise",
"note"} in that order (tests grep '"action": "escalated", "id": "X"').
"ok" is whether X-Canh-Signature is the HMAC-SHA256 of the body under
SECRET (true when no secret is given); a bad signature is answered 401.
"""
import hashlib
import hmac
import http.server
import json
import sys

port, log = int(sys.argv[1]), sys.argv[2]
secret = sys.argv[3].encode() if len(sys.argv) > 3 else None


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        ok = True
        if secret is not None:
            want = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
            ok = hmac.compare_digest(want, self.headers.get("X-Canh-Signature", ""))
        d = json.loads(body)
        line = {"ok": ok, "route": d.get("route"), "action": d["action"],
                "id": d["incident"]["id"], "exercise": d["incident"].get("exercise"),
                "note": d.get("note", "")}
        with open(log, "a") as f:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
        self.send_response(200 if ok else 401)
        self.end_headers()

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
