#!/bin/bash
# cut.sh — cut the drill scenario library (drills/*.pcap, docs/drills.md)
# from the real fixtures of tests/fixtures (made in network namespaces by
# tests/fixtures/gen/; see the README-*.md there for how each was taken).
#
#   bash drills/cut.sh [OUTDIR]      (default: drills/)
#
# Needs tcpdump and wireshark-common (editcap, mergecap, capinfos).  Every
# scenario keeps the fixtures' addresses: victims in 198.51.100.0/24, the
# attackers in 203.0.113.0/24; canh-agent --drill-replay maps the victims to
# the agency's assets when it plays them.  Only IPv4 and ARP are kept (the
# namespaces' IPv6 link-local chatter is not part of the attack).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
fixtures=$here/../tests/fixtures
out=${1:-$here}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ipv4_only() { tcpdump -r "$1" -w "$2" 'ip or arp' 2>/dev/null; }
first_time() { capinfos -T -r -S -a "$1" | awk -F'\t' '{print $2}'; }
last_time() { capinfos -T -r -S -e "$1" | awk -F'\t' '{print $2}'; }

# Concatenate captures in order, each moved to start GAP seconds after the
# previous one ended, so the scenario reads as one attack that unfolds.
chain() {
    local dest=$1 gap=$2
    shift 2
    local parts=() end="" i=0
    for f in "$@"; do
        ipv4_only "$fixtures/$f" "$tmp/$i.pcap"
        if [ -n "$end" ]; then
            local delta
            delta=$(awk -v e="$end" -v g="$gap" -v s="$(first_time "$tmp/$i.pcap")" \
                'BEGIN { printf "%.6f", e + g - s }')
            editcap -t "$delta" "$tmp/$i.pcap" "$tmp/$i.shifted.pcap"
            mv "$tmp/$i.shifted.pcap" "$tmp/$i.pcap"
        fi
        end=$(last_time "$tmp/$i.pcap")
        parts+=("$tmp/$i.pcap")
        i=$((i + 1))
    done
    mergecap -F pcap -a -w "$dest" "${parts[@]}"
}

mkdir -p "$out"
# 1. A SYN port scan of the portal, then a defaced page served, then a PHP
#    webshell written with PUT and run.
chain "$out/scan_deface_webshell.pcap" 2 scan_syn.pcap http_defaced_page.pcap \
    http_put_php_get.pcap http_webshell_access.pcap
# 2. A distributed SYN flood from spoofed sources against the portal.
chain "$out/ddos.pcap" 0 flood_syn_spoofed.pcap
# 3. hydra guessing SSH passwords on the portal.
chain "$out/brute_force.pcap" 0 auth_ssh_hydra.pcap
for f in scan_deface_webshell ddos brute_force; do
    capinfos -c -u "$out/$f.pcap" | sed -n '2,3p' | tr -s ' ' | paste -sd' ' | sed "s/^/$f.pcap: /"
done
