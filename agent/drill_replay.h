/* drill_replay.h — a table-top drill: a bundled real attack capture
 * replayed as if it were happening now to this agency (docs/drills.md).
 *
 * canh-agent --drill-replay CAPTURE --exercise ID reads CAPTURE through the
 * normal offline pipeline; before each frame reaches it, this module
 *   - rewrites the scenario's victims (the library's victim network
 *     198.51.100.0/24) to the agency's assets: victim 198.51.100.N becomes
 *     the first IPv4 address of asset number N mod (assets with an IPv4
 *     address), in assets.conf order (a /32 is the host, a wider prefix its
 *     first host), fixing the IPv4, TCP and UDP checksums;
 *   - shifts packet times so the capture's last frame falls at the moment
 *     the replay starts (every time is in the past, as a live capture's).
 * Sources are kept: the library's attackers are in 203.0.113.0/24 (TEST-NET-3),
 * the table-top's red-team prefix.  One buffer, allocated once.
 */
#ifndef CANH_AGENT_DRILL_REPLAY_H
#define CANH_AGENT_DRILL_REPLAY_H

#include <pcap/pcap.h>
#include <stddef.h>
#include <stdint.h>

#include "common/assets_conf.h"

struct drill_replay;

/* Reads CAPTURE once for its first and last times; takes the targets from
 * assets.  NULL with why set (no IPv4 asset, unreadable capture). */
struct drill_replay *drill_replay_new(const char *capture, const struct assets *assets,
                                      uint64_t now_us, char *why, size_t why_len);

/* The frame as the drill shows it: *out_h and the returned bytes (valid
 * until the next call). */
const uint8_t *drill_replay_frame(struct drill_replay *d, int dlt, const struct pcap_pkthdr *h,
                                  const uint8_t *frame, struct pcap_pkthdr *out_h);

/* Frames whose addresses were rewritten. */
uint64_t drill_replay_rewritten(const struct drill_replay *d);

void drill_replay_free(struct drill_replay *d);

#endif
