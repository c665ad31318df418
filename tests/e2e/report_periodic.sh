#!/usr/bin/env bash
# Periodic reports.  (1) The collector archives an incident an operator
# acknowledged and resolved: one line in the month's file, with its log and
# its agency's district.  (2) canh-report on a seeded archive of three
# agencies in two districts over eight months (province-wide incidents,
# false positives, sensor faults, a reopened incident archived twice,
# serious incidents with reports on time, late and missing) gives the
# figures a Python reading of the same files computes by the rules of
# docs/reporting.md, for a half-year, a year, a month, a district and an
# agency, in JSON, Markdown and CSV.
source "$(dirname "$0")/collector_lib.bash"

# ---- (1) the collector's archive ---------------------------------------------
start_redis
mkdir -p "$T/archive"
write_conf "$T/c.conf" "
[agencies]
Sở Y tế = Thành phố Huế

[archive]
dir = $T/archive
retention = 24
"
"$CANH_BIN/canh-collector" -c "$T/c.conf" --check || fail "--check refused [archive]"
start_collector "$T/c.conf" collector
xadd_event gw-soyte "$(mkevent gw-soyte 1 portscan attack.other medium normal 10.9.0.1 198.51.100.10 portal 3)"
opened() { [[ -n $(incidents_where taxonomy attack.other) ]]; }
wait_until 60 "the incident" opened
id=$(incidents_where taxonomy attack.other)
ctl() { timeout 20 "$CANH_BIN/canh-ctl" -r "unix:$SOCK" --operator alice "$@" >/dev/null; }
ctl ack "$id" || fail "canh-ctl ack"
ctl resolve "$id" || fail "canh-ctl resolve"
month=$(date +%Y-%m)
archived() { grep -qF "\"$id\"" "$T/archive/incidents-$month.jsonl" 2>/dev/null; }
wait_until 60 "the archived line" archived
python3 - "$T/archive/incidents-$month.jsonl" "$id" <<'PY' || fail "the archived line"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
mine = [l for l in lines if l["incident"]["id"] == sys.argv[2]]
assert len(mine) == 1, mine
l = mine[0]
assert l["action"] == "resolved" and l["incident"]["state"] == "resolved", l
assert l["districts"] == "Thành phố Huế", l
assert [s["action"] for s in l["log"]][-2:] == ["acknowledged", "resolved"], l["log"]
assert float(l["incident"]["closed_us"]) > float(l["incident"]["opened_us"]) > 0
PY
[[ $(rc XPENDING canh:incidents canh-archive | head -1) == 0 ]] || fail "archived entries left pending"
"$CANH_BIN/canh-report" --archive "$T/archive" --period "$month" --format json --output - >"$T/live.json" ||
    fail "canh-report on the live archive"
python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["totals"]["incidents"] == 1, r["totals"]
assert r["times"]["resolve"]["n"] == 1 and r["times"]["acknowledge"]["n"] == 1, r["times"]
' "$T/live.json" || fail "the live incident in canh-report"
pass "a resolved incident is archived once (log, district) and canh-report counts it"

# ---- (2) a seeded archive ----------------------------------------------------
mkdir -p "$T/seed" "$T/out"
python3 - "$T/seed" <<'PY'
# Seeded, not hand-written: a fixed random sequence of incidents.
import json, os, random, sys, time
random.seed(15)
taxa = ["attack.dos", "attack.defacement", "attack.intrusion", "attack.other", "attack.malware",
        "fault.overload", "operator.software"]
agencies = {"Sở Y tế": "Thành phố Huế", "Sở Tài chính": "Thành phố Huế", "UBND huyện Phú Vang": "Huyện Phú Vang"}
names = list(agencies)
sources = ["203.0.113.%d" % i for i in range(1, 9)]
# The sources' countries as the agents' GeoIP named them (own sequence, so
# the rest of the seed is unchanged).
countries, cr = ["CN", "RU", "US", "VN", "KR"], random.Random(19)
def us(y, m, d, h):
    return int(time.mktime((y, m, d, h, 0, 0, 0, 0, -1))) * 1000000
files, n = {}, 0
for month in range(5, 13):
    for k in range(14):
        n += 1
        a = random.choice(names)
        agency = a if random.random() > 0.15 else "|".join(sorted({a, random.choice(names)}))
        first = us(2026, month, random.randint(1, 27), random.randint(0, 23))
        opened = first + 5000000
        kind = random.choice(["portscan", "syn_flood", "defacement", "webshell_upload", "http_flood"])
        inc = {"id": "2026%02d-%03d" % (month, n), "type": "finding",
               "taxonomy": random.choice(taxa), "severity": random.choice(["low", "medium", "high", "critical"]),
               "class": random.choice(["normal", "normal", "serious_candidate"]),
               "agency": agency, "agents": "gw-%d" % names.index(a), "level": str(random.choice([0, 1, 2, 3, 4, 5])),
               "kinds": kind, "sources": ",".join(random.sample(sources, random.randint(1, 2))),
               "first_seen_us": str(first), "opened_us": str(opened),
               "countries": ",".join(cr.sample(countries, cr.randint(0, 2)))}
        log, state = [{"ts_ms": opened // 1000, "action": "opened", "operator": "collector"}], "closed"
        r = random.random()
        if r < 0.15:
            state = "rejected"
        elif r < 0.75:
            ack = opened + random.randint(60, 7200) * 1000000
            log.append({"ts_ms": ack // 1000, "action": "acknowledged", "operator": "alice"})
            if r < 0.3:
                inc["confirmed_class"] = "serious"
                due = opened // 1000000 + 5 * 86400
                inc["report_initial_due"] = str(due)
                sent = random.choice([due - 3600, due + 7200, None])
                if sent:
                    inc["report_initial_sent"] = str(sent)
            state = "resolved"
        closed = opened + random.randint(3600, 5 * 86400) * 1000000
        inc.update(state=state, closed_us=str(closed))
        if state == "resolved":
            log.append({"ts_ms": closed // 1000, "action": "resolved", "operator": "alice"})
        districts = "|".join(dict.fromkeys(agencies[x] for x in agency.split("|")))
        line = {"archived": "", "action": state, "districts": districts, "incident": inc, "log": log}
        t = time.localtime(closed // 1000000)
        files.setdefault("incidents-%04d-%02d.jsonl" % (t.tm_year, t.tm_mon), []).append(line)
    # The sensors: a silent agent (the collector's fault.link) and capture drops.
    for agent, tax, typ, kinds in (("gw-1", "fault.link", "fault", "silent"), ("gw-2", "fault.overload", "finding", "capture_drops")):
        n += 1
        first = us(2026, month, 3, 2)
        inc = {"id": "2026%02d-%03d" % (month, n), "type": typ, "taxonomy": tax, "severity": "medium",
               "class": "normal", "agency": names[int(agent[-1])], "agents": agent, "kinds": kinds,
               "level": "0", "sources": "", "first_seen_us": str(first), "opened_us": str(first),
               "last_seen_us": str(first + 1800 * 1000000), "closed_us": str(first + 3600 * 1000000), "state": "closed"}
        files.setdefault("incidents-2026-%02d.jsonl" % month, []).append(
            {"archived": "", "action": "closed", "districts": agencies[inc["agency"]], "incident": inc, "log": []})
# An incident archived twice (closed, reopened, resolved): the later line counts.
first = files["incidents-2026-09.jsonl"][0]
again = json.loads(json.dumps(first))
again["incident"].update(taxonomy="attack.espionage", state="resolved")
files.setdefault("incidents-2026-12.jsonl", []).append(again)
for name, lines in files.items():
    with open(os.path.join(sys.argv[1], name), "w") as f:
        for l in lines:
            f.write(json.dumps(l, ensure_ascii=False) + "\n")
    with open(os.path.join(sys.argv[1], name), "a") as f:
        pass
with open(os.path.join(sys.argv[1], "incidents-2026-07.jsonl"), "a") as f:
    f.write("{not json\n")  # a damaged line is skipped, not fatal
PY

cat >"$T/expect.py" <<'PY'
# The figures, computed from the archive files by the rules of
# docs/reporting.md, independently of canh-report's code.
import glob, json, os, sys, time
from collections import Counter
archive, period, scope, got = sys.argv[1:5]
records = {}
for path in sorted(glob.glob(os.path.join(archive, "incidents-*.jsonl"))):
    for raw in open(path):
        try:
            l = json.loads(raw)
        except ValueError:
            continue
        records[l["incident"]["id"]] = l  # the last line wins
y = int(period[:4])
if len(period) == 4: lo, hi = (y, 1), (y + 1, 1)
elif period[5] == "H": lo, hi = ((y, 1), (y, 7)) if period[6] == "1" else ((y, 7), (y + 1, 1))
else:
    m = int(period[5:]); lo, hi = (y, m), (y + (m == 12), m % 12 + 1)
start = time.mktime((lo[0], lo[1], 1, 0, 0, 0, 0, 0, -1)); end = time.mktime((hi[0], hi[1], 1, 0, 0, 0, 0, 0, -1))
def sensor(i):
    return i["type"] == "fault" or i.get("class") == "sensor_fault" or (
        i["taxonomy"].startswith("fault.") and bool({"capture_drops", "link_silent"} & set(i["kinds"].split(","))))
tax, sev, lvl, cls, agency, fp, srcs = Counter(), Counter(), Counter(), Counter(), Counter(), Counter(), Counter()
ctry = Counter()
n = fps = faults = 0
serious = {}
acks, resolves = [], []
for l in records.values():
    i = l["incident"]
    if not start <= int(i["first_seen_us"]) // 1000000 < end: continue
    ags = i["agency"].split("|")
    if scope.startswith("district:") and scope[9:] not in l["districts"].split("|"): continue
    if scope.startswith("agency:") and scope[7:] not in ags: continue
    if sensor(i): faults += 1; continue
    if i["state"] == "rejected":
        fps += 1; fp.update(i["kinds"].split(",")); continue
    n += 1
    tax[i["taxonomy"]] += 1; sev[i["severity"]] += 1
    lv = int(i["level"]); lvl[str(lv) if 1 <= lv <= 5 else "unknown"] += 1
    cls["serious" if i.get("confirmed_class") == "serious" else i["class"]] += 1
    for a in ags:
        if not scope.startswith("agency:") or a == scope[7:]: agency[a] += 1
    srcs.update(s for s in i["sources"].split(",") if s)
    ctry.update(c for c in i.get("countries", "").split(",") if c)
    ack = [s["ts_ms"] for s in l["log"] if s["action"] in ("acknowledged", "confirmed")]
    if ack: acks.append(ack[0] * 1000 - int(i["opened_us"]))
    if i["state"] == "resolved": resolves.append(int(i["closed_us"]) - int(i["opened_us"]))
    if i.get("confirmed_class") == "serious":
        due, sent = int(i.get("report_initial_due", 0)), int(i.get("report_initial_sent", 0))
        serious[i["id"]] = "unknown" if not due else "not sent" if not sent else "on time" if sent <= due else "late"
r = json.load(open(got))
assert r["totals"] == {"incidents": n, "false_positives": fps, "sensor_faults": faults}, (r["totals"], n, fps, faults)
assert len(r["by_taxonomy"]) == 21, "every taxonomy code, zeros included"
assert {t["code"]: t["count"] for t in r["by_taxonomy"] if t["count"]} == dict(tax), r["by_taxonomy"]
assert {k: v for k, v in r["by_severity"].items() if v} == dict(sev), (r["by_severity"], sev)
assert {k: v for k, v in r["by_level"].items() if v} == dict(lvl), (r["by_level"], lvl)
assert {k: v for k, v in r["by_class"].items() if v} == dict(cls), (r["by_class"], cls)
assert {a["agency"]: a["count"] for a in r["by_agency"]} == dict(agency), (r["by_agency"], agency)
assert {a["rule"]: a["count"] for a in r["false_positives_by_rule"]} == dict(fp)
assert {s["id"]: s["initial_report"] for s in r["serious"]} == serious, (r["serious"], serious)
assert r["times"]["acknowledge"]["n"] == len(acks) and r["times"]["resolve"]["n"] == len(resolves)
if acks: assert abs(r["times"]["acknowledge"]["mean_seconds"] - sum(acks) / len(acks) / 1e6) < 0.01
if resolves: assert abs(r["times"]["resolve"]["mean_seconds"] - sum(resolves) / len(resolves) / 1e6) < 0.01
top = sorted(srcs.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
assert [(s["source"], s["count"]) for s in r["top_sources"]] == top, (r["top_sources"], top)
topc = sorted(ctry.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
assert [(c["country"], c["count"]) for c in r["countries"]] == topc, (r["countries"], topc)
print("%s %s: %d incidents, %d false positives, %d sensor faults, %d serious" % (period, scope, n, fps, faults, len(serious)))
PY

for case in "2026-H2 province" "2026-H1 province" "2026 province" "2026-11 province" \
    "2026 district:Thành phố Huế" "2026-H2 agency:UBND huyện Phú Vang"; do
    read -r period scope <<<"$case"
    "$CANH_BIN/canh-report" --archive "$T/seed" --period "$period" --scope "$scope" \
        --format md,json,csv --output "$T/out" >"$T/files.txt" 2>"$T/err.txt" ||
        fail "canh-report --period $period --scope $scope: $(cat "$T/err.txt")"
    grep -q "1 archive line(s) unreadable" "$T/err.txt" || fail "the damaged line should be reported"
    [[ $(wc -l <"$T/files.txt") == 3 ]] || fail "three files expected: $(cat "$T/files.txt")"
    json=$(grep '\.json$' "$T/files.txt")
    python3 "$T/expect.py" "$T/seed" "$period" "$scope" "$json" || fail "figures of $period $scope"
    # The CSV and the Markdown carry the same figures.
    csv=$(grep '\.csv$' "$T/files.txt")
    md=$(grep '\.md$' "$T/files.txt")
    python3 - "$json" "$csv" "$md" <<'PY' || fail "CSV/Markdown of $period $scope"
import csv, json, sys
r = json.load(open(sys.argv[1]))
rows = {(s, k): int(c) for s, k, c in list(csv.reader(open(sys.argv[2], newline="")))[1:]}
for t in r["by_taxonomy"]:
    assert rows[("taxonomy", t["code"])] == t["count"]
for k, v in r["totals"].items():
    assert rows[("total", k)] == v
md = open(sys.argv[3]).read()
for t in r["by_taxonomy"]:
    assert "| %s | %s | %s | %d |" % (t["code"], t["vi"], t["en"], t["count"]) in md, t
assert "Sensor coverage" in md and "Serious incidents" in md
PY
done
pass "canh-report's figures match an independent reading of the seeded archive (6 periods and scopes, md/json/csv)"

# Sensor coverage is its own section: silent periods per agent.
"$CANH_BIN/canh-report" --archive "$T/seed" --period 2026-H2 --format json --output - 2>/dev/null >"$T/h2.json"
python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
s = {x["agent"]: x for x in r["sensors"]}
assert s["gw-1"]["silent_periods"] == 6 and abs(s["gw-1"]["silent_seconds"] - 6 * 3600) < 1, s
assert s["gw-2"]["capture_drops"] == 6, s
assert 0.99 < s["gw-1"]["uptime"] < 1, s
' "$T/h2.json" || fail "sensor coverage"
pass "sensor coverage: silent periods and capture drops per agent, apart from the incidents"

# Bad arguments: exit 2 with a message.
for bad in "--period 2026-H3" "--period 2026 --scope city:x" "--period 2026 --format pdf" \
    "--period 2026 --format md,json --output -"; do
    set +e
    # shellcheck disable=SC2086
    "$CANH_BIN/canh-report" --archive "$T/seed" $bad >/dev/null 2>"$T/err.txt"
    code=$?
    set -e
    [[ $code == 2 && -s "$T/err.txt" ]] || fail "canh-report $bad: exit $code"
done
pass "canh-report refuses bad periods, scopes and formats with exit 2"
echo "PASS: $PASSED checks"
