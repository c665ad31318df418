/* flood_table.h — the flood detector's per-destination state (private to
 * agent/detect/flood*.c).
 *
 * One fixed-capacity, set-associative table of protected destinations,
 * allocated once from the rules and indexed with the secret hash seed.
 * Each destination keeps, per traffic class, a one-second sliding window
 * of packet and byte counts (ten 100 ms slots), a learned baseline (EWMA
 * of its per-second rate), and the fingerprint of the traffic since the
 * class was last quiet — sources only ever in sketches (HyperLogLog,
 * space-saving top-K), never in a table that grows with them.  A small
 * direct-mapped cache of SYN-ACKs shared by every destination tells
 * completed handshakes from half-open ones without per-flow state.
 */
#ifndef CANH_FLOOD_TABLE_H
#define CANH_FLOOD_TABLE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "agent/detect/finding.h"
#include "agent/detect/flood/outward.h"
#include "agent/detect/keyhash.h"
#include "agent/detect/sketch.h"
#include "agent/pkt.h"
#include "common/addr.h"

enum flood_class {
    FLOOD_TCP_SYN,
    FLOOD_TCP_OTHER,
    FLOOD_UDP,
    FLOOD_ICMP,
    FLOOD_FRAGMENT,
    FLOOD_AMPLIFICATION,
    FLOOD_CLASS_COUNT,
    FLOOD_NONE = -1
};

const char *flood_class_name(enum flood_class c);

#define FLOOD_SLOTS 10
#define FLOOD_SLOT_US 100000ull
#define FLOOD_HISTORY_S 8
#define FLOOD_SOURCES_P 10 /* distinct sources of an attack: 1 KiB, ~3% error */
#define FLOOD_SIZE_BUCKETS 7
#define FLOOD_FLAG_KINDS 7
#define FLOOD_REFLECT_TOP 4 /* reflected services kept per class */
/* A fingerprint outside an attack covers at most this much of the past. */
#define FLOOD_ACC_MAX_US 4000000ull

/* A reflected service and its packets (reflect.h keys), space-saving. */
struct flood_reflected {
    uint32_t key;  /* reflect_services index, or REFLECT_KEY_TCP | port; */
    uint32_t pkts; /* 0: unused */
};

/* What one class of one destination needs from its rule to age its state. */
struct flood_learn {
    bool watched;
    double rate_pps;       /* floor: the fingerprint restarts below half of it */
    double alpha;          /* EWMA weight of one second */
    uint64_t hold_down_us; /* a finding this quiet counts as over */
};

struct flood_slot {
    uint32_t pkts[FLOOD_CLASS_COUNT];
    uint64_t bytes[FLOOD_CLASS_COUNT];
    uint32_t requests;    /* packets to the destination */
    uint32_t replies;     /* packets from it */
    uint32_t completions; /* handshakes completed to it */
};

struct flood_class_state {
    /* the current aligned second and the ones before it */
    uint32_t sec_pkts;
    uint64_t sec_bytes;
    uint32_t history[FLOOD_HISTORY_S]; /* packets per second, by second % N */
    double base_pps, base_bps;         /* learned normal (EWMA) */

    /* fingerprint since the class was last quiet */
    uint64_t acc_first_us;
    uint64_t acc_pkts, acc_bytes;
    uint32_t size_min, size_max;
    uint64_t size_hist[FLOOD_SIZE_BUCKETS];
    uint64_t flags[FLOOD_FLAG_KINDS];
    uint8_t ttl_seen[32];
    /* The last run of alike packets (same size, TCP flags and TTL) not
     * yet in size_min/max, size_hist, flags and ttl_seen: a flood's
     * packets are alike, so most of them only count here, and
     * flood_class_settle moves the run in before those are read. */
    uint64_t run_key; /* flood_run_key of its packets; 0: none */
    uint64_t run_pkts;
    uint64_t martians;
    struct hll sources;
    uint8_t sources_reg[1u << FLOOD_SOURCES_P];
    struct topk top_src, top_port;
    struct flood_reflected reflected[FLOOD_REFLECT_TOP]; /* amplification */
    uint64_t req_pkts, req_bytes; /* amplification: requests the victim sent */
    bool restart_pending;         /* restart once the open finding ends */

    /* the open finding */
    struct finding_life life;
    uint64_t f_pkts, f_bytes;
    uint64_t peak_pps, peak_bytes_per_s;
    uint8_t severity; /* enum severity last emitted */
    bool impact;      /* the victim's answers collapsed during it */
    bool spoofed;     /* the sources looked forged at some emission */
};

struct flood_dest {
    struct ipaddr addr;
    bool used;
    /* Echo requests it sent not yet answered (at most FLOOD_ECHO_OWED_MAX):
     * echo replies within them answer its own pings, not a flood. */
    uint32_t echo_owed;
    uint64_t last_us;     /* latest packet or tick seen */
    uint64_t slot_abs;    /* current 100 ms slot number */
    uint64_t slot_end_us; /* its end: a packet before it moves no window */
    uint32_t slot_i;      /* slot_abs % FLOOD_SLOTS */
    uint64_t sec;         /* current second */
    struct flood_slot slots[FLOOD_SLOTS];
    struct flood_slot sum; /* of slots: the last second */
    uint32_t sec_requests, sec_replies;
    double base_answer_ratio;    /* learned replies/requests; < 0: unknown */
    double capacity_bytes_per_s; /* of its asset, looked up at emission; 0: unknown */
    struct flood_class_state cls[FLOOD_CLASS_COUNT];
    struct flood_outward out; /* what it sends outward (outward.h) */
};

struct flood_handshake {
    uint32_t check; /* high bits of the flow hash; 0: empty */
    uint32_t ack;   /* the ACK number that completes the handshake */
};

struct flood_table {
    struct flood_dest *dest;
    /* Per entry, the high bits of its address's hash (0: unused), packed
     * per bucket: a lookup compares tags in one cache line and touches
     * an entry (several KiB, one line per way) only when its tag matches. */
    uint32_t *tags;
    uint32_t n_buckets; /* FLOOD_WAYS entries each */
    uint32_t capacity;
    uint32_t in_use;
    uint32_t top_k;
    uint64_t seed;
    uint64_t src_h1_v4;                  /* flood_source_hash's first round for IPv4 */
    uint64_t key_seed[KEYHASH_SECRETS];  /* of address hashes (keyhash.h) */
    uint64_t flow_seed[KEYHASH_SECRETS]; /* of handshake slots */
    uint64_t evictions;
    /* The entry found or claimed last: a flood sends packet after packet
     * to one destination, which then costs no hash and no bucket walk. */
    struct flood_dest *recent;
    struct flood_handshake *handshakes;
    uint32_t handshake_mask;
    /* The top-K pools of every class of every entry (two of
     * TOPK_POOL_ITEMS(top_k) each), set up when a destination claims the
     * entry. */
    struct topk_item *top_items;
};

#define FLOOD_WAYS 4
/* Requests in flight cover rate x round trip; more are pings nobody
 * answers, whose credit must not hide a later echo-reply (Smurf) flood. */
#define FLOOD_ECHO_OWED_MAX 1024

int flood_table_init(struct flood_table *t, uint32_t capacity, uint32_t handshakes, uint32_t top_k,
                     uint64_t seed);
void flood_table_free(struct flood_table *t);

/* Does entry i hold a destination?  Asked of the tag array, so that a
 * walk over the table reads no entry a destination never claimed (their
 * pages stay untouched). */
static inline bool flood_table_used(const struct flood_table *t, uint32_t i)
{
    return t->tags[i] != 0;
}

/* The seeded hash of an address that the functions below take, so a
 * destination is hashed once per packet. */
uint64_t flood_table_hash(const struct flood_table *t, const struct ipaddr *a);
/* hash_bytes(a->b, 16, seed): the hash of a source in the distinct-source
 * sketches, by the same rounds, the first of which is the same for every
 * IPv4 address (its first eight bytes are zero) and taken at init. */
uint64_t flood_source_hash(const struct flood_table *t, const struct ipaddr *a);
/* The destination's entry, or NULL. */
struct flood_dest *flood_table_find(struct flood_table *t, const struct ipaddr *a, uint64_t h);
/* The entry found or claimed last if it holds a, else NULL (then hash and
 * find): the same answer as flood_table_find, without the hash. */
static inline struct flood_dest *flood_table_recent(const struct flood_table *t,
                                                    const struct ipaddr *a)
{
    struct flood_dest *d = t->recent;
    return d && d->used && addr_eq(&d->addr, a) ? d : NULL;
}
/* The slot a new destination would take; *victim is set when that slot
 * holds another destination, which the caller must close before calling
 * flood_table_claim. */
struct flood_dest *flood_table_slot_for(struct flood_table *t, uint64_t h, bool *victim);
void flood_table_claim(struct flood_table *t, struct flood_dest *d, const struct ipaddr *a,
                       uint64_t h, uint64_t now_us);

/* Move the destination's windows to now: shift slots, close seconds
 * (baselines learn from seconds without an open finding, fingerprints of
 * quiet classes restart). */
void flood_dest_advance_slow(struct flood_dest *d, uint64_t now_us,
                             const struct flood_learn learn[FLOOD_CLASS_COUNT]);
static inline void flood_dest_advance(struct flood_dest *d, uint64_t now_us,
                                      const struct flood_learn learn[FLOOD_CLASS_COUNT])
{
    /* Within the current slot (so within the current second, a whole
     * number of slots): nothing to shift or close, only the clock moves
     * (never backwards: merged captures).  last_us is always before
     * slot_end_us, so this is the slow path's answer for such a time. */
    if (now_us < d->slot_end_us) {
        if (now_us > d->last_us)
            d->last_us = now_us;
        return;
    }
    flood_dest_advance_slow(d, now_us, learn);
}

/* Addresses no host can send from (0/8, 127/8, 224/4, 240/4 and the IPv6
 * unspecified, loopback and multicast): a sign of random forgery. */
static inline bool flood_martian_source(const struct ipaddr *a)
{
    if (addr_is_v4(a)) {
        uint8_t first = a->b[12];
        return first == 0 || first == 127 || first >= 224;
    }
    static const uint8_t zero[15];
    if (memcmp(a->b, zero, 15) == 0 && (a->b[15] == 0 || a->b[15] == 1))
        return true; /* :: and ::1 */
    return a->b[0] == 0xff;
}

static inline struct flood_slot *flood_current_slot(struct flood_dest *d)
{
    return &d->slots[d->slot_i];
}

/* What makes packets alike for the fingerprint: size, the TCP flags
 * flag_kind looks at, TTL; bit 48 so that no key is 0. */
static inline uint64_t flood_run_key(uint32_t wire_bytes, uint8_t tcp_flags, uint8_t ttl)
{
    return (uint64_t)wire_bytes |
           (uint64_t)(tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN | TCP_PSH)) << 32 |
           (uint64_t)ttl << 40 | 1ull << 48;
}

/* Move the run of alike packets of class c into the fingerprint's sizes,
 * flags and TTLs (before they are read: an emission). */
void flood_class_settle(struct flood_class_state *cs, enum flood_class c);

/* Space-saving over FLOOD_REFLECT_TOP slots: an attack reflects one or a
 * few services. */
void flood_reflected_add(struct flood_reflected *r, uint32_t key);

/* Account one packet of class c sent to the destination; reflect_key:
 * what an amplification packet reflects (reflect.h), else unused.
 * Inline, so that a caller that knows c (a SYN) has its state at fixed
 * offsets. */
__attribute__((always_inline)) static inline void
flood_dest_count(struct flood_table *t, struct flood_dest *d, enum flood_class c, uint64_t now_us,
                 const struct ipaddr *src, uint16_t dport, uint8_t ttl, uint8_t tcp_flags,
                 uint32_t wire_bytes, uint32_t reflect_key)
{
    struct flood_slot *s = flood_current_slot(d);
    s->pkts[c]++;
    s->bytes[c] += wire_bytes;
    d->sum.pkts[c]++;
    d->sum.bytes[c] += wire_bytes;

    struct flood_class_state *cs = &d->cls[c];
    cs->sec_pkts++;
    cs->sec_bytes += wire_bytes;
    if (cs->acc_pkts == 0)
        cs->acc_first_us = now_us;
    uint64_t alike = flood_run_key(wire_bytes, tcp_flags, ttl);
    if (alike != cs->run_key) {
        flood_class_settle(cs, c);
        cs->run_key = alike;
    }
    cs->run_pkts++;
    cs->acc_pkts++;
    cs->acc_bytes += wire_bytes;
    if (flood_martian_source(src))
        cs->martians++;
    /* The sources' own hash (not the table's): distinct counts as
     * before keyhash.h, whose fold would move the estimates a little. */
    uint64_t h = flood_source_hash(t, src);
    hll_add_hash_p(&cs->sources, h, FLOOD_SOURCES_P);
    topk_add_fp(&cs->top_src, src->b, (uint16_t)(h >> 48) | 1u, 1);
    if (c != FLOOD_ICMP && c != FLOOD_FRAGMENT) {
        /* The port in network order, then zeros: built as two words so
         * that the top-K's word loads of the key are forwarded from these
         * stores (two byte stores and a load across them stall). */
        uint64_t key[2] = {0, 0};
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        key[0] = (uint64_t)(dport >> 8) | (uint64_t)(dport & 0xffu) << 8;
#else
        key[0] = (uint64_t)dport << 48;
#endif
        topk_add(&cs->top_port, (const uint8_t *)key, 1);
    }
    if (c == FLOOD_AMPLIFICATION)
        flood_reflected_add(cs->reflected, reflect_key);
    if (finding_is_open(&cs->life)) {
        cs->f_pkts++;
        cs->f_bytes += wire_bytes;
    }
}

/* The service most packets of the class reflected, or NULL. */
const struct flood_reflected *flood_reflected_top(const struct flood_class_state *cs);
/* Its key, for packets that do not name one (later fragments); 0 if none. */
uint32_t flood_reflected_key(const struct flood_class_state *cs);

/* The victim's side of the answer ratio and the handshakes, counted in
 * the current slot. */
void flood_dest_request(struct flood_dest *d);
void flood_dest_reply(struct flood_dest *d);
void flood_dest_completion(struct flood_dest *d);

/* Restart the fingerprint of a class (now is its first packet time). */
void flood_class_restart(struct flood_class_state *cs, uint64_t now_us);

/* SYN-ACK from server:sport to client:cport with sequence seq. */
void flood_handshake_synack(struct flood_table *t, const struct ipaddr *server, uint16_t sport,
                            const struct ipaddr *client, uint16_t cport, uint32_t seq);
/* An ACK from client to server may complete a handshake: start fetching
 * its slot (a likely cache miss) and return the key for
 * flood_handshake_ack, to be called after other work on the packet. */
uint64_t flood_handshake_prefetch(const struct flood_table *t, const struct ipaddr *server,
                                  uint16_t sport, const struct ipaddr *client, uint16_t cport);
/* True (once) when the ACK number completes the handshake of key. */
bool flood_handshake_ack(struct flood_table *t, uint64_t key, uint32_t ack);

#endif
