#!/usr/bin/env bash
# install_systemd.sh — `cmake --install` into a staging DESTDIR puts every
# file where a Debian admin expects it, a reinstall keeps local edits in
# /etc/canh, and the units pass `systemd-analyze verify` and score an
# exposure of 2.0 or lower in `systemd-analyze security --offline=true`.
. "$(dirname "$0")/lib/common.sh"
BUILD=$(dirname "$CANH_BIN")
STAGE=$TMP/stage

DESTDIR=$STAGE cmake --install "$BUILD" --prefix /usr >"$TMP/install.log" 2>&1 ||
    { cat "$TMP/install.log"; fail "cmake --install failed"; }
for f in usr/bin/canh-agent usr/bin/canh-collector usr/bin/canh-tail usr/bin/canh-report \
    usr/lib/systemd/system/canh-agent@.service usr/lib/systemd/system/canh-collector.service \
    usr/lib/systemd/system/canh-stunnel.service etc/canh/canh-stunnel.conf \
    usr/lib/sysusers.d/canh-agent.conf usr/lib/tmpfiles.d/canh-agent.conf \
    usr/lib/sysusers.d/canh-collector.conf usr/lib/tmpfiles.d/canh-collector.conf \
    usr/share/canh/rules/scan.rules etc/canh/agent.conf etc/canh/assets.conf \
    usr/share/doc/canh/README.md usr/share/man/man8/canh-agent.8 usr/share/man/man8/canh-collector.8 \
    usr/share/man/man1/canh-tail.1 usr/share/man/man1/canh-report.1 usr/share/man/man5/canh-agent.conf.5 usr/share/man/man5/canh-rules.5 \
    usr/share/man/man5/canh-collector.conf.5 usr/share/bash-completion/completions/canh-agent \
    usr/share/bash-completion/completions/canh-collector usr/share/bash-completion/completions/canh-tail; do
    [ -e "$STAGE/$f" ] || fail "missing /$f after install"
done
[ -d "$STAGE/etc/canh/rules.d" ] || fail "missing /etc/canh/rules.d"
pass "install puts binaries, units, rules, configs, man pages and completions in place"

# An upgrade (install again) keeps local edits, replaces shipped rules.
echo "; edited by the sysadmin" >>"$STAGE/etc/canh/agent.conf"
echo "; stale shipped copy" >>"$STAGE/usr/share/canh/rules/scan.rules"
DESTDIR=$STAGE cmake --install "$BUILD" --prefix /usr >/dev/null 2>&1
tail -1 "$STAGE/etc/canh/agent.conf" | grep -q "edited by the sysadmin" || fail "reinstall overwrote agent.conf"
cmp -s "$STAGE/usr/share/canh/rules/scan.rules" "$CANH_SRC/rules/scan.rules" || fail "reinstall kept stale shipped rules"
pass "reinstall keeps /etc/canh edits and refreshes shipped rules"

# The installed example config names no agency: --check refuses it
# (exit 2, file:line) until the placeholders are set, then passes (paths
# pointed into the stage, the Redis password written).
grep -q -e 'gw-soyte' -e 'Sở Y tế' "$STAGE/etc/canh/agent.conf" &&
    fail "the shipped agent.conf carries an agency's identity"
printf 'example-password\n' >"$TMP/redis-password"
sed -e "s|/usr/share/canh/rules|$STAGE/usr/share/canh/rules|" \
    -e "s|/etc/canh/assets.conf|$STAGE/etc/canh/assets.conf|" \
    -e "s|/etc/canh/redis-password|$TMP/redis-password|" \
    "$STAGE/etc/canh/agent.conf" >"$TMP/agent.conf"
line=$(grep -n '^name = <' "$TMP/agent.conf" | cut -d: -f1)
set +e
"$STAGE/usr/bin/canh-agent" --check -c "$TMP/agent.conf" >"$TMP/check.log" 2>&1
rc=$?
set -e
[ $rc -eq 2 ] || { cat "$TMP/check.log"; fail "--check of the unset example exited $rc, not 2"; }
expect_contains "$TMP/check.log" "$TMP/agent.conf:$line: name: <gateway name> is a placeholder"
sed -i -e 's|^name = <.*>|name = gw-test|' -e 's|^agency = <.*>|agency = Test agency|' \
    -e 's|^home_net = <.*>|home_net = 192.0.2.0/24|' -e 's|^user = <.*>|user = gw-test|' \
    "$TMP/agent.conf"
"$STAGE/usr/bin/canh-agent" --check -c "$TMP/agent.conf" >"$TMP/check.log" 2>&1 ||
    { cat "$TMP/check.log"; fail "the example agent.conf with its placeholders set fails --check"; }
pass "the shipped agent.conf is refused until its placeholders are set, then passes --check"

# systemd-analyze: the units as installed, with the binary paths pointed
# at the stage so the check does not depend on this machine's /usr/bin.
UNITS=$TMP/units
mkdir -p "$UNITS"
for u in canh-agent@.service canh-collector.service canh-stunnel.service; do
    sed "s|/usr/bin/canh-|$STAGE/usr/bin/canh-|g" "$STAGE/usr/lib/systemd/system/$u" >"$UNITS/$u"
done
cp "$UNITS/canh-agent@.service" "$UNITS/canh-agent@eth0.service"
for u in canh-agent@eth0.service canh-collector.service canh-stunnel.service; do
    # --man=no: the Documentation= pages are in the stage, not in this machine's man path
    systemd-analyze verify --man=no "$UNITS/$u" >"$TMP/verify.log" 2>&1 || { cat "$TMP/verify.log"; fail "verify $u"; }
    # verify exits 0 on many warnings: any line about our unit is a finding
    if grep -v -e "Unit sysinit.target not found" "$TMP/verify.log" | grep -q "$u"; then
        cat "$TMP/verify.log"
        fail "systemd-analyze verify complains about $u"
    fi
    systemd-analyze security --offline=true "$UNITS/$u" >"$TMP/security.log" 2>&1 || true
    score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$TMP/security.log")
    [ -n "$score" ] || { cat "$TMP/security.log"; fail "no exposure score for $u"; }
    awk -v s="$score" 'BEGIN{exit !(s <= 2.0)}' || fail "$u exposure $score > 2.0"
    pass "$u verifies and scores $score"
done

echo "$PASSED passed, 0 failed"
