#!/usr/bin/env bash
# acl_commands.sh — the shipped ACL file is the one generated from the
# single command list (common/redis/acl.c, scripts/gen-acl), and every
# Redis command the collector (status page included), canh-ctl and
# canh-tail send is in that list: the commands are read from their
# sources (C argv literals and Lua redis.call/pcall), checked against the
# command table of the real redis-server, and compared.  The ACL test
# (redis_acl.sh) then runs the programs under the shipped file.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/redis.sh"

"$CANH_BIN/canh-gen-acl" >"$TMP/generated.acl"
diff -u "$CANH_SRC/systemd/redis-users.acl.example" "$TMP/generated.acl" >"$TMP/diff.txt" ||
    { cat "$TMP/diff.txt"; fail "systemd/redis-users.acl.example is not what common/redis/acl.c generates: run scripts/gen-acl"; }
pass "the shipped ACL file is the generated one"

trap 'redis_stop; cleanup_tmp' EXIT
redis_start redis -s "$TMP/r.sock"
redis-cli -s "$TMP/r.sock" COMMAND LIST >"$TMP/commands.txt"
[ "$(wc -l <"$TMP/commands.txt")" -gt 100 ] || fail "COMMAND LIST gave too little"

for prog in collector ctl tail agent; do
    "$CANH_BIN/canh-gen-acl" --commands "$prog" >"$TMP/listed.$prog"
done
python3 - "$CANH_SRC" "$TMP" <<'PY' || fail "commands used but not in common/redis/acl.c (see above)"
import glob, re, sys
src, tmp = sys.argv[1], sys.argv[2]
redis_commands = {l.strip().upper() for l in open(tmp + "/commands.txt") if l.strip()}
# Containers whose subcommand is the next word (the ACL grants "cmd|sub").
containers = {c for c in redis_commands if c in ("XGROUP", "XINFO", "SCRIPT", "CLIENT", "CONFIG",
                                                 "FUNCTION", "OBJECT", "MEMORY", "ACL")}
# Upper-case words that are Redis commands but stand for an option in the
# sources (SCAN ... TYPE stream).
options = {"TYPE"}
link = [src + "/common/redis/link.c", src + "/common/redis/sentinel.c"]
programs = {
    # The status page runs canh-ctl's scripts on the collector's link.
    "collector": glob.glob(src + "/collector/**/*.[ch]", recursive=True) + [src + "/common/ctl_scripts.c"] + link,
    "ctl": [src + "/tools/canh-ctl.c", src + "/common/ctl_scripts.c"] + link,
    "tail": [src + "/tools/canh-tail.c"] + link,
}
word = r"['\"]([A-Z][A-Z]+)['\"]"
bad = 0
for prog, files in programs.items():
    listed = {l.strip() for l in open(f"{tmp}/listed.{prog}") if l.strip()}
    used = set()
    for f in files:
        text = open(f).read()
        # C: the first element of an argv initializer, a command-line string,
        # a Lua table of arguments; Lua: redis.call / redis.pcall.
        for m in re.finditer(r"\{\s*" + word + r"(?:\s*,\s*" + word + r")?", text):
            used.add((m.group(1), m.group(2)))
        for m in re.finditer(r"redis\.p?call\(\s*" + word + r"(?:\s*,\s*" + word + r")?", text,
                             re.I):
            used.add((m.group(1).upper(), (m.group(2) or "").upper() or None))
        for m in re.finditer(r'"([A-Z][A-Z]+) [^"]*"', text):
            used.add((m.group(1), None))
        for m in re.finditer(r'argv\[[^\]]*\]\s*=\s*"([A-Z][A-Z]+)"', text):
            used.add((m.group(1), None))
    seen = set()
    for cmd, sub in sorted(used, key=str):
        if cmd not in redis_commands or cmd in options or cmd == "AUTH":
            continue
        name = f"{cmd} {sub}" if cmd in containers and sub else cmd
        seen.add(name)
        if name not in listed and not (cmd in containers and not sub and
                                       any(l.startswith(cmd + " ") for l in listed)):
            print(f"{prog}: {name} is sent but not in its ACL selectors (common/redis/acl.c)")
            bad += 1
    print(f"{prog}: {len(seen)} commands found in the sources, all listed" if not bad else "")
sys.exit(1 if bad else 0)
PY
pass "every command the collector, canh-ctl and canh-tail send is in their ACL selectors"
# The agent's users need only the link's checks and XADD (its XREVRANGE
# after a drop is optional: NOPERM is handled, docs/redis.md).
for c in PING ROLE XADD; do
    grep -qx "$c" "$TMP/listed.agent" || fail "the agent's ACL lacks $c"
done
pass "the agent's users have PING, ROLE and XADD"
echo "OK: $PASSED checks"
