#!/usr/bin/env bash
# agent_cli.sh — canh-agent as a sysadmin meets it: --check, exit codes and
# file:line messages, refused link types, truncated captures, GeoIP, and
# every event of every fixture valid against docs/event.schema.json.
. "$(dirname "$0")/lib/common.sh"
AGENT=$CANH_BIN/canh-agent

# --check on the shipped defaults
"$AGENT" --check >"$TMP/out" 2>&1 || { cat "$TMP/out"; fail "--check of the defaults failed"; }
pass "--check accepts the built-in defaults and shipped rules"

# a config mistake: exit 2 and file:line
printf '[agent]\nname = gw1\n[capture]\nsnaplen = lots\n' >"$TMP/bad.conf"
set +e
"$AGENT" --check -c "$TMP/bad.conf" >"$TMP/out" 2>&1
rc=$?
set -e
[ $rc -eq 2 ] || fail "--check on a bad config exited $rc, not 2"
expect_contains "$TMP/out" "$TMP/bad.conf:4: snaplen"
pass "a bad agent.conf exits 2 naming file:line"

# a rule mistake in a copy of the shipped rules
cp -r "$CANH_SRC/rules" "$TMP/rules"
first=$(ls "$TMP/rules"/*.rules | head -1)
printf '\n[broken]\ndetector = portscan\ntaxonomy = attack.other\nwindow = sometimes\n' >>"$first"
line=$(grep -n 'window = sometimes' "$first" | cut -d: -f1)
set +e
"$AGENT" --check --rules "$TMP/rules" >"$TMP/out" 2>&1
rc=$?
set -e
[ $rc -eq 2 ] || fail "--check on a bad rule exited $rc, not 2"
expect_contains "$TMP/out" "$first:$line:"
pass "a bad rule exits 2 naming file:line"

# an unsupported link type: exit 2 with a message naming it
set +e
"$AGENT" -r "$FIXTURES/link_unknown.pcap" --output jsonl:- >"$TMP/out" 2>&1
rc=$?
set -e
[ $rc -eq 2 ] || { cat "$TMP/out"; fail "unknown link type exited $rc, not 2"; }
grep -qi "link type" "$TMP/out" || { cat "$TMP/out"; fail "no link type message"; }
pass "an unsupported link type exits 2 with a message"

# a truncated capture: finishes with a warning and what it could read
"$AGENT" -r "$FIXTURES/truncated.pcap" --output jsonl:"$TMP/trunc.jsonl" >"$TMP/out" 2>&1 ||
    { cat "$TMP/out"; fail "truncated capture did not exit 0"; }
grep -qi "warning" "$TMP/out" || { cat "$TMP/out"; fail "no warning for a truncated capture"; }
frames=$(sed -n 's/.*: \([0-9]*\) frames.*/\1/p' "$TMP/out")
[ "${frames:-0}" -gt 0 ] || { cat "$TMP/out"; fail "no frames read from the truncated capture"; }
pass "a truncated capture ends with a warning after $frames frames"

# GeoIP: a tiny MMDB gives source countries; a missing one is one warning
perl "$CANH_SRC/tests/e2e/lib/make_mmdb.pl" "$TMP/country.mmdb"
printf '[agent]\nname = gw-test\n[geoip]\nmmdb = %s\n' "$TMP/country.mmdb" >"$TMP/geo.conf"
"$AGENT" -c "$TMP/geo.conf" -r "$FIXTURES/scan_syn.pcap" --assets "$FIXTURES/assets.conf" \
    --output jsonl:"$TMP/geo.jsonl" 2>"$TMP/out"
expect_contains "$TMP/geo.jsonl" '"src_geo":{"country":"VN"}'
pass "source country from the MMDB"
printf '[agent]\nname = gw-test\n[geoip]\nmmdb = %s/none.mmdb\n' "$TMP" >"$TMP/nogeo.conf"
"$AGENT" -c "$TMP/nogeo.conf" -r "$FIXTURES/scan_syn.pcap" --output jsonl:"$TMP/nogeo.jsonl" 2>"$TMP/out"
[ "$(grep -c 'GeoIP database not used' "$TMP/out")" -eq 1 ] || { cat "$TMP/out"; fail "missing MMDB: not exactly one warning"; }
[ -s "$TMP/nogeo.jsonl" ] || fail "no events without the MMDB"
pass "a missing MMDB is one warning and events still flow"

# every event of every fixture is valid against the JSON Schema
: >"$TMP/all.jsonl"
for f in "$FIXTURES"/*.pcap; do
    case $(basename "$f") in link_unknown.pcap) continue ;; esac
    "$AGENT" -q -r "$f" --assets "$FIXTURES/assets.conf" --output jsonl:"$TMP/all.jsonl" ||
        fail "replay of $f failed"
done
n=$(wc -l <"$TMP/all.jsonl")
[ "$n" -gt 0 ] || fail "the fixtures raised no event at all"
/usr/bin/python3 - "$CANH_SRC/docs/event.schema.json" "$TMP/all.jsonl" <<'PY'
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
validator = jsonschema.Draft202012Validator(schema)
flows, sids = {}, {}
for n, line in enumerate(open(sys.argv[2]), 1):
    event = json.loads(line)
    errors = sorted(validator.iter_errors(event), key=str)
    if errors:
        sys.exit(f"event {n} invalid: {errors[0].message}\n{line}")
    # One finding, one flow_id and one alert; a rule, one signature_id;
    # alert.severity tells every canh level apart (docs/event.md).
    c, a = event["canh"], event["alert"]
    flows.setdefault(c["finding_id"], set()).add(event["flow_id"])
    sids.setdefault(c["rule"].split(":", 1)[1], set()).add(a["signature_id"])
    if (event["event_type"] == "alert") != (c["state"] == "new"):
        sys.exit(f"event {n}: event_type {event['event_type']} for state {c['state']}")
    want = {"critical": 1, "high": 2, "medium": 3, "low": 4}[c["severity"]]
    if a["severity"] != want:
        sys.exit(f"event {n}: alert.severity {a['severity']} for {c['severity']}")
    if event.get("src_port") and event.get("dest_port") and "community_id" not in event:
        sys.exit(f"event {n}: a flow without community_id")
    last = event
bad = [k for k, v in flows.items() if len(v) != 1] + [k for k, v in sids.items() if len(v) != 1]
if bad:
    sys.exit(f"flow_id or signature_id not stable for {bad}")
if len({next(iter(v)) for v in sids.values()}) != len(sids):
    sys.exit("two rules share a signature_id")
last["event_type"] = "alert" if last["canh"]["state"] != "new" else "finding"
if validator.is_valid(last):
    sys.exit("the schema accepts an event_type that does not match canh.state")
PY
pass "$n events from the fixtures validate against docs/event.schema.json"

echo "$PASSED passed, 0 failed"
