#!/usr/bin/env bash
# agent_boot_id.sh — the boot id in canh.id (<agent>:<boot id>:<seq>) has
# 64 random bits (16 hex digits), new at every start, so two starts of
# one agent cannot meet in the collector's 7-day dedup window (issue 19,
# item 10: it had 24 bits, which two starts share with probability 1 in
# 16 M, and then the second start's events are dropped as duplicates).
. "$(dirname "$0")/lib/common.sh"
trap cleanup_tmp EXIT
for run in 1 2; do
    timeout 120 "$CANH_BIN/canh-agent" -r "$FIXTURES/scan_syn.pcap" \
        --output "jsonl:$TMP/run$run.jsonl" >"$TMP/run$run.out" 2>&1 ||
        fail "canh-agent run $run: $(cat "$TMP/run$run.out")"
done
python3 - "$TMP/run1.jsonl" "$TMP/run2.jsonl" <<'PY' || fail "boot ids"
import json, re, sys
boots = []
for path in sys.argv[1:]:
    ids = [json.loads(l)["canh"]["id"] for l in open(path) if l.strip()]
    assert ids, "no events in " + path
    parts = {tuple(i.rsplit(":", 2)[1:2]) for i in ids}
    assert len(parts) == 1, "one boot id per start: %r" % parts
    boot = parts.pop()[0]
    assert re.fullmatch(r"[0-9a-f]{16}", boot), "boot id %r is not 16 hex digits" % boot
    boots.append(boot)
assert boots[0] != boots[1], "two starts share boot id %s" % boots[0]
print("boot ids", boots)
PY
pass "each start's events carry one 64-bit boot id (16 hex digits), a new one at each start"
echo "PASS: $PASSED checks"
