#!/usr/bin/env bash
# deb_package.sh — the Debian packages of debian/ as a sysadmin meets them.
# dpkg-buildpackage builds canh-agent, canh-collector and canh-doc from a
# copy of the source tree; lintian reports no error or warning; dpkg -i creates the users, the
# state directories and the /etc/canh conffiles; the installed binaries
# pass --check on the shipped configs, as their units' users, and make
# first contact (agent replay → a private Redis → collector incident); an
# upgrade to a second build keeps edited conffiles; a purge leaves no
# /etc/canh, no state and no binaries.
# systemd is not PID 1 in the test containers, so the programs are started
# directly with the units' users and command lines instead of systemctl.
# It installs into this machine's /usr and /etc: root only, and skipped
# when canh is already installed here (by dpkg or by cmake --install).
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/redis.sh"

[ "$(id -u)" -eq 0 ] || { echo "skip: installing packages needs root"; exit 77; }
for tool in dpkg-buildpackage dh lintian fakeroot redis-server redis-cli setpriv; do
    command -v "$tool" >/dev/null || fail "$tool missing: run scripts/setup"
done
# One run at a time on this machine (other worktrees run the same test).
exec 9>/run/lock/canh-deb-package.lock
flock -w 300 9 || fail "another deb_package test holds /run/lock/canh-deb-package.lock"
if dpkg-query -W -f='${Status}\n' canh-agent canh-collector canh-doc 2>/dev/null | grep -q installed ||
    [ -e /usr/bin/canh-agent ] || [ -e /usr/bin/canh-collector ] || [ -e /etc/canh ]; then
    echo "skip: canh is already installed on this machine; this test installs and purges it"
    exit 77
fi

# dpkg, retried while another apt-get or dpkg on this machine holds its
# lock (a package install by scripts/setup or a sysadmin); bounded.
dpkg_waiting() {
    local deadline=$((SECONDS + 600)) rc
    while :; do
        dpkg "$@" >"$TMP/dpkg.out" 2>&1
        rc=$?
        cat "$TMP/dpkg.out"
        if [ "$rc" -eq 0 ] || ! grep -q 'locked by another process' "$TMP/dpkg.out" ||
            [ "$SECONDS" -ge "$deadline" ]; then
            return "$rc"
        fi
        wait_until "$((deadline - SECONDS))" "the dpkg lock to be free" bash -c '! fuser /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock >/dev/null 2>&1'
    done
}

COLL_PID=
INSTALLED=0
MADE_PASSWORD=0 # this test wrote /etc/canh/redis-password (no package owns it)
cleanup() {
    set +e
    [ -n "$COLL_PID" ] && kill "$COLL_PID" 2>/dev/null
    redis_stop
    wait 2>/dev/null
    if [ "$INSTALLED" = 1 ]; then
        dpkg_waiting --purge canh-agent canh-collector canh-doc >/dev/null 2>&1 || true
    fi
    # The purge leaves the password file it did not ship: a failed run
    # must not leave it (and /etc/canh) behind, or every later run skips.
    if [ "$MADE_PASSWORD" = 1 ]; then
        rm -f /etc/canh/redis-password
        rmdir /etc/canh 2>/dev/null
    fi
    cleanup_tmp
}
trap cleanup EXIT
# the programs run as the units' users: they must reach the temp files
chmod 755 "$TMP"

# --- build -----------------------------------------------------------------
# The working tree as it is (committed or not), without build directories.
SRC=$TMP/build/canh
mkdir -p "$SRC"
(cd "$CANH_SRC" && git ls-files -co --exclude-standard -z | xargs -0 -I{} sh -c '[ -e "{}" ] && printf "%s\0" "{}"' |
    tar --null -cf - -T -) | tar -xf - -C "$SRC"
[ -x "$SRC/debian/rules" ] || fail "no debian/rules in the copied tree"
export DEB_BUILD_OPTIONS="nocheck parallel=2"
start=$SECONDS
(cd "$SRC" && timeout 420 dpkg-buildpackage -us -uc -b) >"$TMP/build1.log" 2>&1 ||
    { tail -40 "$TMP/build1.log"; fail "dpkg-buildpackage failed"; }
V1=$(dpkg-parsechangelog -l "$SRC/debian/changelog" -S Version)
for p in canh-agent_${V1}_*.deb canh-collector_${V1}_*.deb canh-doc_${V1}_all.deb; do
    compgen -G "$TMP/build/$p" >/dev/null || fail "no $p built"
done
pass "dpkg-buildpackage -us -uc -b builds the three packages of $V1 ($((SECONDS - start))s)"

# dh_shlibdeps found the shared libraries
dpkg-deb -f "$TMP"/build/canh-agent_"${V1}"_*.deb Depends >"$TMP/deps"
for lib in libpcap0.8 libevent-2.1-7 libhiredis0.14 libjansson4 libinih1 libsystemd0; do
    expect_contains "$TMP/deps" "$lib"
done
# and on those the page checks load with dlopen, which it cannot see
expect_contains "$TMP/deps" "libcurl4 (>= 7.85.0)"
expect_contains "$TMP/deps" "libssl3 (>= 3.0.0)"
dpkg-deb -f "$TMP"/build/canh-agent_"${V1}"_*.deb Recommends | grep -q stunnel4 || fail "canh-agent should recommend stunnel4"
pass "canh-agent depends on the shared libraries dh_shlibdeps found and on libcurl4, libssl3"

# lintian: no error, no warning (overrides, if any ever come, are justified
# in docs/decisions.md)
lintian --fail-on error,warning --info "$TMP"/build/canh_"${V1}"_*.changes >"$TMP/lintian.log" 2>&1 ||
    { cat "$TMP/lintian.log"; fail "lintian reports errors or warnings"; }
pass "lintian is clean"

# --- second build: the upgrade ----------------------------------------------
# A newer version whose shipped assets.conf changed; agent.conf is the same.
V2=$V1+upgradetest1
{
    printf 'canh (%s) unstable; urgency=medium\n\n  * Upgrade test build.\n\n -- %s  %s\n\n' \
        "$V2" "$(dpkg-parsechangelog -l "$SRC/debian/changelog" -S Maintainer)" "$(date -R)"
    cat "$SRC/debian/changelog"
} >"$TMP/changelog" && mv "$TMP/changelog" "$SRC/debian/changelog"
echo "; shipped in $V2" >>"$SRC/systemd/assets.conf.example"
# keep the CMake build directory, redo the packaging steps
(cd "$SRC/debian" && rm -rf .debhelper tmp canh-agent canh-collector canh-doc \
    ./*.debhelper.log ./*.substvars files debhelper-build-stamp)
mkdir -p "$TMP/v2"
(cd "$SRC" && timeout 300 dpkg-buildpackage -us -uc -b -nc) >"$TMP/build2.log" 2>&1 ||
    { tail -40 "$TMP/build2.log"; fail "second dpkg-buildpackage failed"; }
compgen -G "$TMP/build/canh-agent_${V2}_*.deb" >/dev/null || fail "no canh-agent $V2 built"

# --- install -----------------------------------------------------------------
INSTALLED=1
dpkg_waiting -i "$TMP"/build/canh-agent_"${V1}"_*.deb "$TMP"/build/canh-collector_"${V1}"_*.deb \
    "$TMP"/build/canh-doc_"${V1}"_all.deb >"$TMP/install.log" 2>&1 ||
    { cat "$TMP/install.log"; fail "dpkg -i failed"; }
for f in /usr/bin/canh-agent /usr/bin/canh-collector /usr/bin/canh-tail \
    /lib/systemd/system/canh-agent@.service /lib/systemd/system/canh-stunnel.service \
    /lib/systemd/system/canh-collector.service /usr/lib/sysusers.d/canh-agent.conf \
    /usr/lib/sysusers.d/canh-collector.conf /usr/lib/tmpfiles.d/canh-agent.conf \
    /usr/lib/tmpfiles.d/canh-collector.conf /usr/share/canh/rules/scan.rules \
    /usr/share/doc/canh/README.md /usr/share/doc/canh/examples/redis-users.acl.example \
    /usr/share/doc/canh-agent/copyright /usr/share/man/man8/canh-agent.8.gz \
    /usr/share/man/man5/canh-agent.conf.5.gz /usr/share/man/man1/canh-tail.1.gz \
    /usr/share/bash-completion/completions/canh-agent; do
    [ -e "$f" ] || fail "missing $f after dpkg -i"
done
[ -d /etc/canh/rules.d ] || fail "missing /etc/canh/rules.d"
dpkg-query -W -f='${Conffiles}\n' canh-agent canh-collector >"$TMP/conffiles"
for c in /etc/canh/agent.conf /etc/canh/assets.conf /etc/canh/canh-stunnel.conf /etc/canh/collector.conf; do
    expect_contains "$TMP/conffiles" "$c "
done
tok=/etc/canh/status-viewer.token
[[ $(stat -c '%a %U' "$tok") == "600 canh-collector" ]] && [[ $(head -1 "$tok" | wc -c) -ge 33 ]] ||
    fail "the status page's viewers' token should be created: $(ls -l "$tok" 2>&1)"
pass "dpkg -i installs binaries, units, rules, docs, the /etc/canh conffiles and the viewers' token"

getent passwd canh >/dev/null || fail "no user canh"
getent passwd canh-collector >/dev/null || fail "no user canh-collector"
[ "$(id -gn canh-collector)" = canh ] || fail "canh-collector is not in group canh"
[ "$(stat -c '%U:%G %a' /var/lib/canh)" = "canh:canh 750" ] ||
    fail "/var/lib/canh is $(stat -c '%U:%G %a' /var/lib/canh)"
[ "$(stat -c '%U:%G %a' /var/lib/canh-collector)" = "canh-collector:canh 750" ] ||
    fail "/var/lib/canh-collector is $(stat -c '%U:%G %a' /var/lib/canh-collector)"
pass "postinst ran sysusers (canh, canh-collector in group canh) and tmpfiles (/var/lib)"

# --- run the installed programs as their units would --------------------------
as_agent() { setpriv --reuid=canh --regid=canh --init-groups "$@"; }
as_collector() { setpriv --reuid=canh-collector --regid=canh --init-groups "$@"; }
# The shipped agent.conf carries placeholders, not one agency's identity:
# --check refuses it until the sysadmin fills them in (exit 2, file:line).
rc=0
as_agent /usr/bin/canh-agent --check -c /etc/canh/agent.conf >"$TMP/check0.log" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "agent.conf:[0-9]*: .*placeholder" "$TMP/check0.log" ||
    { cat "$TMP/check0.log"; fail "--check of the shipped agent.conf: exit $rc, expected 2 naming a placeholder"; }
sed -i -e 's|^name = <.*|name = gw-debtest|' -e 's|^agency = <.*|agency = Sở Thử nghiệm|' \
    -e 's|^home_net = <.*|home_net = 198.51.100.0/24|' -e 's|^user = <.*|user = gw-debtest|' /etc/canh/agent.conf
[ ! -e /etc/canh/redis-password ] || fail "/etc/canh/redis-password exists before the test wrote it"
MADE_PASSWORD=1
install -o root -g canh -m 640 /dev/null /etc/canh/redis-password
echo "not-a-real-password" >/etc/canh/redis-password
as_agent /usr/bin/canh-agent --check -c /etc/canh/agent.conf >"$TMP/check.log" 2>&1 ||
    { cat "$TMP/check.log"; fail "canh-agent --check of the filled-in agent.conf failed"; }
as_collector /usr/bin/canh-collector --check -c /etc/canh/collector.conf >"$TMP/ccheck.log" 2>&1 ||
    { cat "$TMP/ccheck.log"; fail "canh-collector --check of the shipped collector.conf failed"; }
pass "the installed agent refuses its placeholders, then passes --check once filled in; the collector passes on the shipped collector.conf"

cp "$FIXTURES/scan_syn.pcap" "$TMP/scan_syn.pcap"
chmod 644 "$TMP/scan_syn.pcap"
(cd "$TMP" && as_agent timeout 60 /usr/bin/canh-agent -r scan_syn.pcap --output jsonl:-) \
    >"$TMP/replay.jsonl" 2>"$TMP/replay.log" || { cat "$TMP/replay.log"; fail "installed agent replay failed"; }
grep -q '"kind":"portscan"' "$TMP/replay.jsonl" ||
    { head -5 "$TMP/replay.jsonl" "$TMP/replay.log"; fail "the replay found no scan"; }
pass "the installed agent replays scan_syn.pcap to JSONL ($(wc -l <"$TMP/replay.jsonl") events)"

# First contact: the shipped configs with only the Redis address (and the
# agent's state) changed; a private redis-server on a unix socket.
mkdir -m 755 "$TMP/redis"
# (mode 777: the installed programs run as the canh users)
redis_start redis -s "$TMP/redis/r.sock" -m 777 -- --dir "$TMP/redis"
rcli() { redis-cli -s "$TMP/redis/r.sock" "$@"; }
install -d -o canh -g canh -m 750 "$TMP/agent-state"
sed -e "s|^redis_url = .*|redis_url = unix:$TMP/redis/r.sock|" -e "s|^state_dir = .*|state_dir = $TMP/agent-state|" \
    -e '/^user = /d' -e '/^password_file = /d' /etc/canh/agent.conf >"$TMP/agent.conf"
sed -e "s|^redis_url = [^ ]*|redis_url = unix:$TMP/redis/r.sock|" /etc/canh/collector.conf >"$TMP/collector.conf"
chmod 644 "$TMP/agent.conf" "$TMP/collector.conf"
name=$(sed -n 's/^name = //p' "$TMP/agent.conf")
as_agent timeout 60 /usr/bin/canh-agent -c "$TMP/agent.conf" -r "$TMP/scan_syn.pcap" --output redis \
    2>"$TMP/agent.log" || { cat "$TMP/agent.log"; fail "installed agent to Redis failed"; }
[ "$(rcli XLEN "canh:events:$name")" -gt 0 ] || fail "no events in canh:events:$name"
as_collector timeout 60 /usr/bin/canh-collector -c "$TMP/collector.conf" >"$TMP/collector.log" 2>&1 &
COLL_PID=$!
incident_or_exit() {
    kill -0 "$COLL_PID" 2>/dev/null || fail "the installed collector exited"
    [ "$(rcli XLEN canh:incidents)" -gt 0 ]
}
wait_until 30 "an incident from the installed collector" incident_or_exit
kill "$COLL_PID"
wait "$COLL_PID" 2>/dev/null || true
COLL_PID=
pass "first contact: installed agent → private Redis → installed collector opens incidents"

# --- upgrade keeps /etc edits ---------------------------------------------------
echo "; edited by the sysadmin" >>/etc/canh/agent.conf
echo "; edited by the sysadmin" >>/etc/canh/assets.conf
echo "; edited by the sysadmin" >>/etc/canh/collector.conf
dpkg_waiting -i --force-confdef --force-confold "$TMP"/build/canh-agent_"${V2}"_*.deb \
    "$TMP"/build/canh-collector_"${V2}"_*.deb "$TMP"/build/canh-doc_"${V2}"_all.deb >"$TMP/upgrade.log" 2>&1 ||
    { cat "$TMP/upgrade.log"; fail "dpkg -i of $V2 failed"; }
[ "$(dpkg-query -W -f='${Version}' canh-agent)" = "$V2" ] || fail "canh-agent is not at $V2"
for c in agent assets collector; do
    tail -1 "/etc/canh/$c.conf" | grep -q "edited by the sysadmin" || fail "the upgrade overwrote /etc/canh/$c.conf"
done
grep -q "shipped in $V2" /etc/canh/assets.conf.dpkg-dist ||
    fail "the new shipped assets.conf is not in assets.conf.dpkg-dist"
as_agent /usr/bin/canh-agent --check -c /etc/canh/agent.conf >"$TMP/check2.log" 2>&1 ||
    { cat "$TMP/check2.log"; fail "--check after the upgrade failed"; }
pass "the upgrade to $V2 keeps edited conffiles (a changed one lands in .dpkg-dist)"

# --- purge ------------------------------------------------------------------------
dpkg_waiting --purge canh-agent canh-collector canh-doc >"$TMP/purge.log" 2>&1 ||
    { cat "$TMP/purge.log"; fail "dpkg --purge failed"; }
INSTALLED=0
# What dpkg shipped goes; the sysadmin's own secret stays, as dpkg leaves
# files no package owns.
if [ -e /etc/canh ]; then
    left=$(cd /etc/canh && find . -mindepth 1 | sort | tr '\n' ' ')
    [ "$left" = "./redis-password " ] || fail "/etc/canh still holds shipped files after the purge: $left"
    rm -rf /etc/canh
fi
MADE_PASSWORD=0
for f in /usr/bin/canh-agent /usr/bin/canh-collector /usr/bin/canh-tail /usr/share/canh \
    /lib/systemd/system/canh-agent@.service /lib/systemd/system/canh-collector.service \
    /usr/lib/sysusers.d/canh-agent.conf /usr/share/doc/canh /var/lib/canh /var/lib/canh-collector; do
    [ ! -e "$f" ] || fail "$f is still there after the purge"
done
if dpkg-query -W -f='${Status}\n' canh-agent canh-collector canh-doc 2>/dev/null | grep -q "installed\|config-files"; then
    fail "a canh package is still known to dpkg after the purge"
fi
pass "dpkg --purge removes /etc/canh, the state and the binaries (the system users stay, as Debian does)"

echo "$PASSED passed, 0 failed"
