#!/usr/bin/env bash
# man_pages.sh — the man pages built from docs/man/*.scd: one per source,
# each renders with man(1) and groff -ww (and mandoc's error level when
# mandoc is here) without a warning, every option a binary prints in --help
# is in its page, and every agent.conf and collector.conf key the parsers
# accept is in the file's page, so the pages cannot drift from the code.
. "$(dirname "$0")/lib/common.sh"
MAN=$(dirname "$CANH_BIN")/man
[ -d "$MAN" ] || { echo "SKIP: no $MAN (configured with -DCANH_MAN=OFF?)"; exit 77; }
command -v groff >/dev/null && command -v man >/dev/null || { echo "SKIP: no groff/man"; exit 77; }

n_src=0
for src in "$CANH_SRC"/docs/man/*.scd; do
    page=$(basename "$src" .scd)
    [ -s "$MAN/$page" ] || fail "$page not built from $src"
    [ "$MAN/$page" -nt "$src" ] || [ ! "$src" -nt "$MAN/$page" ] || fail "$page older than $src"
    n_src=$((n_src + 1))
done
pass "$n_src pages built"

# render PAGE: plain text, one paragraph per line (no hyphenation at line
# ends), into $TMP/PAGE.txt
render() {
    LC_ALL=C.UTF-8 MANWIDTH=2000 man --warnings -l "$MAN/$1" 2>"$TMP/$1.man.err" | col -b >"$TMP/$1.txt"
}
for f in "$MAN"/*.[0-9]; do
    page=$(basename "$f")
    render "$page"
    [ -s "$TMP/$page.txt" ] || fail "$page renders empty"
    [ ! -s "$TMP/$page.man.err" ] || { cat "$TMP/$page.man.err"; fail "man -l $page warns"; }
    LC_ALL=C.UTF-8 groff -k -man -Tutf8 -ww -z "$f" 2>"$TMP/groff.err"
    [ ! -s "$TMP/groff.err" ] || { cat "$TMP/groff.err"; fail "groff -ww $page warns"; }
    if command -v mandoc >/dev/null; then
        # scdoc's output carries mandoc style notes (empty .PP); errors only
        mandoc -T lint -W error "$f" >"$TMP/mandoc.err" 2>&1 || { cat "$TMP/mandoc.err"; fail "mandoc lint $page"; }
    fi
    head -1 "$TMP/$page.txt" | grep -q "${page%.*}(${page##*.})" || fail "$page: wrong title line"
done
pass "every page renders without warnings"

# Options: every -x and --long in BIN --help is in PAGE.
check_options() {  # bin page
    "$CANH_BIN/$1" --help >"$TMP/$1.help"
    local opts
    opts=$(grep -oE -- '(^|[][ ,/(|])--?[A-Za-z][A-Za-z-]*' "$TMP/$1.help" | sed 's/^[][ ,/(|]*//' | sort -u)
    [ -n "$opts" ] || fail "no options parsed from $1 --help"
    local o missing=
    for o in $opts; do
        grep -qE -- "(^|[^A-Za-z-])$o([^A-Za-z-]|\$)" "$TMP/$2.txt" || missing="$missing $o"
    done
    [ -z "$missing" ] || fail "$2 lacks options of $1 --help:$missing"
    pass "$2 documents the $(echo "$opts" | wc -l) options of $1 --help"
}
check_options canh-agent canh-agent.8
check_options canh-collector canh-collector.8
check_options canh-tail canh-tail.1
check_options canh-ctl canh-ctl.1
check_options canh-report canh-report.1

# Config keys: every key the parsers know is in the file's page.
check_keys() {  # page what keys...
    local page=$1 what=$2 k missing=
    shift 2
    [ $# -gt 5 ] || fail "too few $what keys found in the source"
    for k in "$@"; do
        grep -qE -- "(^|[^a-z_])$k([^a-z_]|\$)" "$TMP/$page.txt" || missing="$missing $k"
    done
    [ -z "$missing" ] || fail "$page lacks $what keys:$missing"
    pass "$page documents the $# $what keys"
}
# shellcheck disable=SC2046
check_keys canh-agent.conf.5 agent.conf $(sed -n 's/^ *FIELD("\([a-z]*\)", "\([a-z_]*\)".*/\1 \2/p' \
    "$CANH_SRC/common/agent_conf.c" | sort -u)
check_keys canh-collector.conf.5 collector.conf $(grep -oE 'strcmp\(name, "[a-z_]+"\)' \
    "$CANH_SRC/collector/config.c" "$CANH_SRC/collector/route.c" | sed 's/.*"\(.*\)".*/\1/' | sort -u) \
    $(grep -oE '\{"[a-z]+", h_[a-z]+\}' "$CANH_SRC/collector/config.c" | sed 's/{"\([a-z]*\)".*/[\1]/' | tr -d '[]')
echo "$PASSED passed, 0 failed"
