/* evidence.h — packet evidence for findings (architecture §4.8,
 * docs/configuration.md [evidence]).
 *
 * A preallocated ring of recent frames ([evidence] ring_mb; nothing is
 * allocated per packet) remembers, with each frame, its two addresses.
 * When a finding opens (its "new" event, at the pipeline's one emission
 * point, so no detector knows of it), the frames of its hosts since
 * `before` ahead of its first packet are written to
 * <state_dir>/evidence/<finding_id>.pcap, and the frames that follow for
 * `after` seconds are added, up to `finding_packets`.  The finding's "end"
 * event names the file, its size and SHA-256 (canh.pcap).  The directory
 * never holds more than `disk_mb`: the oldest files are removed (counted);
 * a write that fails (a full disk) ends that file, is counted and logged
 * at most once a minute, and the agent carries on.
 */
#ifndef CANH_EVIDENCE_H
#define CANH_EVIDENCE_H

#include <jansson.h>
#include <stdint.h>

#include "agent/pkt.h"
#include "common/agent_conf.h"
#include "common/event.h"

struct evidence;

/* NULL with why filled when the ring or the directory cannot be made;
 * never called with ring_mb 0 (evidence off). */
struct evidence *evidence_new(const struct agent_config *cfg, char *why, size_t why_len);
/* One captured frame (p: its decoded form, NULL when it did not decode). */
void evidence_frame(struct evidence *e, int dlt, uint64_t ts_us, const uint8_t *frame,
                    uint32_t caplen, uint32_t len, const struct pkt *p);
/* An event leaving the agent: "new" starts a file, "end" finishes it and
 * adds canh.pcap to json. */
void evidence_event(struct evidence *e, const struct evt *ev, json_t *json);
/* Packet-clock time (quiet link, stop): files whose `after` has passed are
 * finished. */
void evidence_tick(struct evidence *e, uint64_t now_us);
/* Counters for the heartbeat ("evidence" object). */
void evidence_stats(const struct evidence *e, json_t *out);
/* Finishes every open file. */
void evidence_free(struct evidence *e);

#endif
