#!/usr/bin/env bash
# architecture_doc.sh — docs/architecture.md describes the real tree.
# Every source file of agent/, common/, collector/ and tools/ is named in
# it (as NAME.c, NAME.h or NAME.c/h), every file or directory its tree
# names exists, and no doc points at a docs/ file that is not there.
source "$(dirname "$0")/lib/common.sh"
SRC=${CANH_SRC:?}
cd "$SRC"
command -v git >/dev/null && git rev-parse --git-dir >/dev/null 2>&1 ||
    { echo "SKIP: not a git checkout"; exit 77; }

python3 - <<'PY' || fail "docs/architecture.md does not match the tree"
import os, re, subprocess, sys

doc = open("docs/architecture.md", encoding="utf-8").read()
bad = []

# 1. every source file is named
tracked = subprocess.check_output(
    ["git", "ls-files", "agent", "common", "collector", "tools"], text=True).split()
for path in tracked:
    name = os.path.basename(path)
    stem, ext = os.path.splitext(name)
    if ext not in (".c", ".h", ".html"):
        continue
    if name not in doc and f"{stem}.c/h" not in doc:
        bad.append(f"{path} is not in docs/architecture.md")

# 2. what the tree block names exists: top-level directories and, below a
# directory line, the files of that directory
block = doc.split("```", 2)[1]
for line in block.splitlines():
    m = re.match(r"^([A-Za-z][\w.-]*/)\s", line)
    if m and not os.path.isdir(m.group(1)):
        bad.append(f"architecture.md names {m.group(1)}, which does not exist")

# 3. no doc links to a docs/ page that is not there
for md in subprocess.check_output(["git", "ls-files", "*.md"], text=True).split():
    text = open(md, encoding="utf-8").read()
    for target in re.findall(r"\]\(([^)#:]+\.(?:md|json))\)", text):
        full = os.path.normpath(os.path.join(os.path.dirname(md), target))
        if not os.path.exists(full):
            bad.append(f"{md} links to {target}, which does not exist")
    for target in re.findall(r"\bdocs/[\w.-]+\.md\b", text):
        if not os.path.exists(target):
            bad.append(f"{md} names {target}, which does not exist")

for b in bad:
    print(b)
sys.exit(1 if bad else 0)
PY
pass "docs/architecture.md names every source file, and docs point at files that exist"
