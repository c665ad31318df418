#!/usr/bin/env bash
# agent_cli.sh — canh-agent as a sysadmin meets it: --check, exit codes and
# file:line messages, refused link types, truncated captures, GeoIP, and
# every event of every fixture valid against docs/event.schema.json.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/redis.sh"
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

# check_fails FILE:LINE TEXT -- ARGS: --check with ARGS exits 2 and says
# FILE:LINE (or FILE: for a whole-file mistake) and TEXT
check_fails() {
    local where=$1 text=$2
    shift 3
    set +e
    "$AGENT" --check "$@" >"$TMP/out" 2>&1
    local rc=$?
    set -e
    [ $rc -eq 2 ] || { cat "$TMP/out"; fail "--check $* exited $rc, not 2"; }
    expect_contains "$TMP/out" "$where"
    expect_contains "$TMP/out" "$text"
}

# holes --check used to let through (issue 18)
mkdir "$TMP/conf.d"
check_fails "$TMP/conf.d: " "is a directory" -- -c "$TMP/conf.d"
check_fails "$TMP/conf.d: " "is a directory" -- --assets "$TMP/conf.d"
pass "a directory given as agent.conf or assets.conf exits 2"
printf '[agent]\nname = gw1\n[capture]\nsnaplen = 1500\nsnaplen = 9000\n' >"$TMP/dup.conf"
check_fails "$TMP/dup.conf:5:" "set twice" -- -c "$TMP/dup.conf"
printf '[capture]\ndrop_alert_ratio = 170%%\n' >"$TMP/ratio.conf"
check_fails "$TMP/ratio.conf:2:" "not a ratio from 0 to 1" -- -c "$TMP/ratio.conf"
cp -r "$CANH_SRC/rules" "$TMP/ratio-rules"
sed -i 's/^half_open = .*/half_open = 170%/' "$TMP/ratio-rules/flood.rules"
line=$(grep -n '^half_open = 170%' "$TMP/ratio-rules/flood.rules" | head -1 | cut -d: -f1)
check_fails "$TMP/ratio-rules/flood.rules:$line:" "half_open: '170%' is not a ratio" -- \
    --rules "$TMP/ratio-rules"
pass "a key set twice and a ratio above 100% exit 2 naming file:line"

printf '[output]\nredis_url = redis://127.0.0.1:1\nuser = gw1\npassword_file = %s/none\n' "$TMP" \
    >"$TMP/nopw.conf"
check_fails "$TMP/nopw.conf:4: password_file:" "$TMP/none" -- -c "$TMP/nopw.conf"
printf 'secret\n' >"$TMP/pw"
chmod 000 "$TMP/pw"
if ! cat "$TMP/pw" >/dev/null 2>&1; then # root reads it anyway
    sed "s|$TMP/none|$TMP/pw|" "$TMP/nopw.conf" >"$TMP/unreadable.conf"
    check_fails "$TMP/unreadable.conf:4: password_file:" "Permission denied" -- -c "$TMP/unreadable.conf"
fi
chmod 600 "$TMP/pw"
sed "s|$TMP/none|$TMP/pw|" "$TMP/nopw.conf" >"$TMP/pw.conf"
"$AGENT" --check -c "$TMP/pw.conf" >"$TMP/out" 2>&1 || { cat "$TMP/out"; fail "a readable password_file refused"; }
pass "a missing or unreadable password_file exits 2 naming file:line"

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

# a replay (-r) on a gateway whose agent.conf names the production Redis
# stays local unless --output redis asks for it
SOCK=$TMP/prod.sock
AGENT_PID=
trap '[ -z "$AGENT_PID" ] || kill "$AGENT_PID" 2>/dev/null; redis_stop; cleanup_tmp' EXIT
redis_start redis -s "$SOCK" -w 60
mkdir "$TMP/state"
printf '[agent]\nname = gw-test\nstate_dir = %s/state\n[output]\nredis_url = unix:%s\n' \
    "$TMP" "$SOCK" >"$TMP/prod.conf"
"$AGENT" -c "$TMP/prod.conf" -r "$FIXTURES/scan_syn.pcap" >"$TMP/replay.jsonl" 2>"$TMP/out" ||
    { cat "$TMP/out"; fail "replay with redis_url set exited $?"; }
expect_contains "$TMP/out" "give --output redis"
n=$(wc -l <"$TMP/replay.jsonl")
[ "$n" -gt 0 ] || fail "a replay without --output wrote no events to standard output"
[ "$(redis-cli -s "$SOCK" DBSIZE)" -eq 0 ] || fail "a replay without --output wrote to redis_url"
"$AGENT" -c "$TMP/prod.conf" -r "$FIXTURES/scan_syn.pcap" --output redis >"$TMP/out" 2>&1 ||
    { cat "$TMP/out"; fail "replay with --output redis exited $?"; }
[ "$(redis-cli -s "$SOCK" XLEN canh:events:gw-test)" -eq "$n" ] ||
    fail "--output redis did not deliver the $n events of the replay"
pass "a replay goes to redis_url only with --output redis ($n events)"

# logrotate: the JSONL file renamed, SIGHUP, later events in a fresh file
# at the same path, none lost or repeated.  The run (events for 500 s) is
# ended by SIGTERM once the fresh file has events: a fixed length of run
# could end before the SIGHUP on a busy machine.
"$AGENT" -r "$FIXTURES/scan_syn.pcap" --output jsonl:"$TMP/eve.json" --debug-events 100000 \
    --debug-rate 200 2>"$TMP/rotate.log" &
AGENT_PID=$!
wait_until 60 "the first events in eve.json" test -s "$TMP/eve.json"
mv "$TMP/eve.json" "$TMP/eve.json.1"
kill -HUP "$AGENT_PID"
wait_until 60 "a fresh eve.json after SIGHUP" test -s "$TMP/eve.json"
term_wait 60 "$AGENT_PID" "the agent after SIGHUP"
AGENT_PID=
emitted=$(sed -n 's/.* \([0-9]*\) events$/\1/p' "$TMP/rotate.log")
before=$(wc -l <"$TMP/eve.json.1")
after=$(wc -l <"$TMP/eve.json")
unique=$(cat "$TMP/eve.json.1" "$TMP/eve.json" | python3 -c \
    'import json,sys; print(len({json.loads(l)["canh"]["id"] for l in sys.stdin}))')
[ "$before" -gt 0 ] && [ "$after" -gt 0 ] || fail "rotation: $before lines before, $after after"
[ "$((before + after))" -eq "${emitted:-0}" ] && [ "$unique" -eq "$emitted" ] ||
    { cat "$TMP/rotate.log"; fail "rotation: $before + $after lines ($unique ids) for $emitted events"; }
pass "SIGHUP reopens the JSONL file: $before events in the rotated file, $after in the new one"

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
