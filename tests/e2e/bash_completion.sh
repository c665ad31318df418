#!/usr/bin/env bash
# bash_completion.sh — completions/canh-* sourced in bash: `CMD --<TAB>`
# offers every long option CMD --help prints, and nothing CMD refuses;
# option values (log levels, severities) complete too.
. "$(dirname "$0")/lib/common.sh"

# complete CMD WORD... : COMPREPLY, one per line, for the last WORD
complete_words() {
    local cmd=$1
    shift
    bash --norc --noprofile -c '
        set -e
        source "$1"; shift
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
        COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
        fn=$(complete -p "$1" | sed -n "s/.*-F \([^ ]*\) .*/\1/p")
        [ -n "$fn" ] || { echo "no completion for $1" >&2; exit 1; }
        "$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
        printf "%s\n" "${COMPREPLY[@]}"' _ "$CANH_SRC/completions/$cmd" "$cmd" "$@"
}

for cmd in canh-agent canh-collector canh-tail canh-ctl canh-report; do
    [ -f "$CANH_SRC/completions/$cmd" ] || fail "no completions/$cmd"
    complete_words "$cmd" -- >"$TMP/$cmd.offered" || fail "completing '$cmd --' failed"
    "$CANH_BIN/$cmd" --help >"$TMP/$cmd.help"
    want=$(grep -oE -- '(^|[ ,/(|])--[a-z][a-z-]*' "$TMP/$cmd.help" | sed 's/^[ ,/(|]*//' | sort -u)
    for o in $want; do
        grep -qx -- "$o" "$TMP/$cmd.offered" || fail "'$cmd --<TAB>' does not offer $o (offered: $(tr '\n' ' ' <"$TMP/$cmd.offered"))"
    done
    # Everything offered is accepted: the binary does not call it unknown
    # (canh-tail pointed at no Redis, so it stops at once).
    while read -r o; do
        CANH_REDIS=unix:$TMP/none.sock timeout 10 "$CANH_BIN/$cmd" "$o" </dev/null >/dev/null 2>"$TMP/err" || true
        ! grep -qE "unrecognized option|invalid option" "$TMP/err" || fail "$cmd refuses offered $o"
    done <"$TMP/$cmd.offered"
    pass "'$cmd --<TAB>' offers the $(echo "$want" | wc -l) long options of --help"
done

complete_words canh-agent --instance l >"$TMP/o"; grep -qx lo "$TMP/o" || fail "--instance does not complete interfaces"
complete_words canh-collector --log-level d >"$TMP/o"; grep -qx debug "$TMP/o" || fail "--log-level d"
complete_words canh-tail -s h >"$TMP/o"; grep -qx high "$TMP/o" || fail "canh-tail -s h"
complete_words canh-tail --taxonomy attack.d >"$TMP/o"
[ "$(sort "$TMP/o" | tr '\n' ' ')" = "attack.defacement attack.destruction attack.dos " ] || fail "--taxonomy attack.d: $(cat "$TMP/o")"
complete_words canh-ctl a >"$TMP/o"; grep -qx ack "$TMP/o" || fail "canh-ctl a does not complete ack"
complete_words canh-ctl confirm 2026 --class s >"$TMP/o"; grep -qx serious "$TMP/o" || fail "--class s"
complete_words canh-tail --state ac >"$TMP/o"; grep -qx acknowledged "$TMP/o" || fail "--state ac"
pass "option values complete (interfaces, log levels, severities, taxonomy, commands, states)"
echo "$PASSED passed, 0 failed"
