/* flow.h — light TCP flow tracking for the application detectors.
 *
 * A fixed table of flows (allocated once, sized from the rules), found by
 * a seeded hash of (client, server, ports), each with a small in-order
 * window per direction.  Segments are placed by sequence number:
 * retransmitted bytes are dropped, segments that arrive a little early
 * wait in the window (up to FLOW_MAX_HOLES pieces) until the gap before
 * them fills.  The application reads the in-order bytes with flow_data(),
 * consumes what it has understood with flow_consume(), and leaves the rest
 * (half a header) for the next segment.  There is no full reassembly: a
 * direction only ever holds window_bytes, and a direction that loses a
 * segment, overflows its window or is cut short by the snaplen stops
 * delivering ("dead") rather than guess.
 *
 * Flows end on RST, on FIN from both sides, after idle_timeout without a
 * packet (flow_expire), or — when the table is full — the least recently
 * active flow is evicted to make room.  Every way out is counted.  Each
 * flow carries app_size bytes of storage for its user (the first
 * app_clear_size zeroed for each new flow; the rest is scratch the user
 * tracks itself), who is told through on_release before a flow's slot is
 * reused.
 *
 * With defer_syn a bare SYN gets no flow: its initial sequence number (and
 * the server's, from the SYN-ACK) waits in a direct-mapped table of
 * handshakes, and the first data segment creates the flow from it.  A SYN
 * flood then only overwrites handshake slots instead of evicting flows
 * that carry data; a handshake whose slot was overwritten is picked up
 * midstream from its first segment.
 */
#ifndef CANH_FLOW_H
#define CANH_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/pkt.h"
#include "common/addr.h"

#define FLOW_MAX_HOLES 4 /* out-of-order pieces a direction may hold */

enum flow_side { FLOW_TO_SERVER = 0, FLOW_TO_CLIENT = 1 };

enum flow_end { FLOW_END_CLOSED, FLOW_END_IDLE, FLOW_END_PRESSURE, FLOW_END_FLUSH };

struct flow_range {
    uint32_t start, end; /* sequence numbers, end exclusive */
};

struct flow_half {
    bool seq_known;
    bool dead; /* gave up on this direction (gap, overflow, cut) */
    bool fin_seen;
    bool finished;     /* every byte up to the FIN was delivered */
    uint32_t next_seq; /* sequence number of the next in-order byte */
    uint32_t fin_seq;
    uint32_t fill; /* in-order bytes in buf not consumed yet */
    uint32_t n_ooo;
    struct flow_range ooo[FLOW_MAX_HOLES];
    uint64_t delivered; /* in-order bytes seen so far */
    uint8_t *buf;       /* window_bytes */
};

struct flow {
    /* Read-only for users. */
    struct ipaddr client, server;
    uint16_t client_port, server_port;
    bool midstream; /* first seen without its SYN */
    bool reset;     /* an RST was seen */
    uint64_t first_us, last_us;
    struct flow_half half[2];
    void *app; /* app_size zeroed bytes for the user */

    /* Table links (flow.c only; bucket chains are in the table). */
    uint32_t lru_prev, lru_next;
    uint32_t bucket;
    bool in_use;
};

struct flow_stats {
    uint64_t created, active, closed, evicted_idle, evicted_pressure;
    uint64_t segments, retransmitted, out_of_order, gaps, overflows, truncated;
    uint64_t syns_deferred; /* bare SYNs kept as handshakes (defer_syn) */
};

typedef void (*flow_release_fn)(void *ctx, struct flow *f, enum flow_end why, uint64_t now_us);

struct flow_opts {
    uint32_t max_flows;
    uint32_t window_bytes; /* per direction */
    uint64_t idle_timeout_us;
    size_t app_size;
    size_t app_clear_size; /* bytes of app zeroed for a new flow (0: all) */
    uint64_t seed;         /* secret hash seed */
    bool defer_syn;        /* no flow before the first data segment (see above) */
    flow_release_fn on_release;
    void *ctx;
};

struct flow_table;

/* NULL when out of memory or the options are out of range. */
struct flow_table *flow_table_new(const struct flow_opts *opts);
void flow_table_free(struct flow_table *t);

/* The flow of a TCP packet between client and server.  to_server says
 * which way p goes; create: make a flow when there is none (only for a
 * SYN or a data segment — a bare ACK or RST never creates one; with
 * defer_syn a SYN is remembered instead and NULL returned).  NULL when
 * there is none. */
struct flow *flow_lookup(struct flow_table *t, const struct pkt *p, bool to_server, bool create);
/* flow_lookup(t, p, true, true) for a SYN to the server, the one segment
 * of a SYN flood: the same answer and the same handshake slot, without
 * the branches of the other segments. */
struct flow *flow_lookup_syn(struct flow_table *t, const struct pkt *p);
/* Ask the CPU for the bucket (and a SYN's handshake slot) a lookup of p,
 * sent to the server, reads first (detector_ops.prefetch). */
void flow_prefetch(const struct flow_table *t, const struct pkt *p);

/* Put the packet's segment into its direction.  Returns the number of
 * in-order bytes now waiting in that direction (0 when nothing new). */
uint32_t flow_segment(struct flow_table *t, struct flow *f, const struct pkt *p, bool to_server);

/* In-order bytes of one direction not consumed yet. */
static inline const uint8_t *flow_data(const struct flow *f, enum flow_side side, uint32_t *len)
{
    *len = f->half[side].dead ? 0 : f->half[side].fill;
    return f->half[side].buf;
}
void flow_consume(struct flow *f, enum flow_side side, uint32_t n);
/* Stop delivering a direction (the application gave up on it). */
void flow_kill_side(struct flow *f, enum flow_side side);

/* Closed by RST or both FINs: release it now. */
bool flow_is_closed(const struct flow *f);
void flow_close(struct flow_table *t, struct flow *f, uint64_t now_us);

/* Release flows idle for idle_timeout (call from on_tick). */
void flow_expire(struct flow_table *t, uint64_t now_us);
/* Release every flow (end of input). */
void flow_flush(struct flow_table *t, uint64_t now_us);

const struct flow_stats *flow_table_stats(const struct flow_table *t);
uint32_t flow_table_capacity(const struct flow_table *t);

#endif
