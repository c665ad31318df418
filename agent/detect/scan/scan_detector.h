/* scan_detector.h — the half of a scan detector that portscan and sweep
 * share: their table and doorkeeper (scan_table.h), their rules
 * (scan_rules.h), and the life of their findings on top of both.
 *
 * Each detector's entry starts with a struct scan_entry and its pending
 * record with a struct scan_pending; a struct scan_kind says how big they
 * are and what the detector adds: the fields of its events, how a pending
 * record replays into a new entry, and an optional cap on findings.  The
 * rest is here, once: admission from the doorkeeper at a key's second
 * packet, restart of an entry whose windows ran out, the rule windows and
 * thresholds, the allow lists, the one finding of an entry (opened by the
 * first rule that fires, updated, ended after hold_down, at an eviction, at
 * a flush or when a reload removes its rule, through finding.h's walk),
 * the reload of rules and the counters.
 */
#ifndef CANH_SCAN_DETECTOR_H
#define CANH_SCAN_DETECTOR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/detect/detector.h"
#include "agent/detect/finding.h"
#include "agent/detect/scan/scan_rules.h"
#include "agent/detect/scan/scan_table.h"
#include "agent/detect/sketch.h"
#include "common/event_text.h"

/* Entry flags both detectors use; a detector's own start at the low bits. */
#define SCAN_ENTRY_SUPPRESSED 0x20 /* crossed a threshold beyond the detector's cap */
#define SCAN_ENTRY_ALLOWED 0x40    /* crossed a threshold from an allowed source */
/* Entry and pending record flag: a protected host probing unprotected
 * ones (roles swapped: an infected agency host, attack.malware). */
#define SCAN_OUTWARD 0x08
/* Pending record flag: a reload restarted the rule windows since. */
#define SCAN_PENDING_RELOADED 0x80

/* What every entry starts with. */
struct scan_entry {
    struct scan_head head; /* head.score: the distinct count rules compare */
    /* The entry's HyperLogLog registers in the detector's pool (index
     * + 1; 0: none).  Only an entry past its exact values needs them, so
     * they are not part of every slot: untouched pool pages cost no
     * memory.  Kept across a restart's reset, which gives them back. */
    uint32_t regs;
    /* Reset by a restart, with the detector's fields up to kind->reset_end: */
    uint64_t first_us; /* first packet of this entry's window */
    uint32_t probes;
    uint32_t emitted_probes; /* probes at the last new/update */
    uint32_t win_start_ms[SCAN_MAX_RULES];
    uint16_t win_base[SCAN_MAX_RULES];
    uint8_t rule; /* index of the rule whose finding is open */
    uint8_t flags;
};

struct scan_detector;

struct scan_kind {
    const struct scan_defaults *defaults; /* defaults->detector names the kind */
    size_t entry_size;                    /* bytes of an entry (its registers are pooled) */
    size_t reset_end;                     /* a restart zeroes the entry from first_us up to here */
    size_t pending_size;                  /* bytes of a pending record */
    size_t pending_flags;                 /* offset of the pending record's flags byte */
    uint8_t keep_flags;                   /* entry flags a window restart and a reload keep */
    uint64_t seed_salt;                   /* mixed into the agent's seed; 0: the seed as is */
    /* Fill ev's addresses and proto, and write the members of its
     * counters and evidence objects (event_text.h's writer, each inside
     * its open object). */
    void (*describe)(struct scan_detector *d, struct scan_entry *e, enum finding_state state,
                     struct evt *ev, struct event_text_writer *counters,
                     struct event_text_writer *evidence);
    /* Fill fresh entry e (first_us set, the rest zeroed) from its key's
     * pending record: what the first packet and the answers since added. */
    void (*replay)(struct scan_detector *d, struct scan_entry *e, const struct scan_pending *pd);
    /* A rule fired for a source that is not allowed: may the finding open?
     * On false the detector counts it and sets SCAN_ENTRY_SUPPRESSED.
     * NULL: always. */
    bool (*may_open)(struct scan_detector *d, struct scan_entry *e);
};

/* The sizes and offsets of a kind, from its entry type (with its reset
 * end field and end field) and its pending record type. */
#define SCAN_KIND_LAYOUT(entry, reset_end_field, end_field, pending)                               \
    .entry_size = offsetof(entry, end_field), .reset_end = offsetof(entry, reset_end_field),       \
    .pending_size = sizeof(pending), .pending_flags = offsetof(pending, flags)

struct scan_detector {
    const struct scan_kind *kind;
    struct scan_params p;
    const struct detect_env *env;
    struct scan_table table;
    struct finding_source findings; /* the open-finding list, as finding.h walks it */
    struct finding_counts counts;
    uint64_t now_us;
    uint64_t reload_us;                    /* now_us at the last reload */
    const struct scan_params *reload_next; /* the new rules, during a reload */
    uint8_t hll_p;
    /* The registers of entries past their exact values: one block of
     * 1 << hll_p per table slot at most, so taking one never fails; free
     * blocks are reused last-in first-out, never-used ones in order, so
     * the pages touched follow the most blocks ever held at once. */
    uint8_t *regs;
    struct hll_sum *sums;          /* each block's estimate, kept (sketch.h) */
    uint32_t regs_used, regs_free; /* blocks ever handed out; free list head (index + 1) */
    uint32_t regs_held;
    const struct taxonomy *malware; /* the taxonomy of outward findings */
    /* The text of an event's counters and evidence objects, written
     * straight as JSON (no tree per event); the buffers are kept. */
    struct event_text counters, evidence;
    uint64_t probes, answers, allowed_scans, outward_probes;
};

/* Outward (SCAN_OUTWARD): the taxonomy and evidence that say so (the
 * evidence's last member). */
void scan_detector_describe_outward(const struct scan_detector *d, struct evt *ev,
                                    struct event_text_writer *evidence);

/* Read the rules and allocate the table; -1 with err set. */
int scan_detector_init(struct scan_detector *d, const struct scan_kind *kind, struct ruleset *rules,
                       const struct detect_env *env, struct cfg_err *err);
void scan_detector_free(struct scan_detector *d);

/* scan_detector_entry's two outcomes but the first packet, out of line:
 * a found entry e (restarted when its windows all ran out and no finding
 * is open), and the admission of key from its pending record pd; both
 * touched at now. */
struct scan_entry *scan_detector_found(struct scan_detector *d, struct scan_entry *e,
                                       uint64_t now_us);
struct scan_entry *scan_detector_admit(struct scan_detector *d, struct scan_pending *pd,
                                       const uint8_t key[SCAN_KEY_LEN], uint64_t h,
                                       uint64_t now_us);

/* The entry of key (hash h) for a packet that creates state, touched at
 * now: found, restarted when its windows all ran out and no finding is
 * open, or admitted from its pending record at the key's second packet.
 * NULL when the packet is the key's first (in the longest window): the
 * caller starts its pending record with scan_table_pending_take(lk), and
 * lk->pending is then the key's record whose window ran out (read it
 * before), or NULL.  Inline: a flood of new keys pays one lookup call and
 * no frame of its own. */
static inline struct scan_entry *scan_detector_entry(struct scan_detector *d,
                                                     const uint8_t key[SCAN_KEY_LEN], uint64_t h,
                                                     uint64_t now_us, struct scan_look *lk)
{
    struct scan_entry *e = scan_table_lookup(&d->table, key, h, now_us, lk);
    if (e)
        return scan_detector_found(d, e, now_us);
    /* None, or the window ran out: the packet starts (over) a record, as
     * an entry would start over. */
    if (!lk->pending || now_us - lk->pending->first_us > d->p.longest_window_us)
        return NULL;
    return scan_detector_admit(d, lk->pending, key, h, now_us);
}

/* Zero e's windowed state (up to kind->reset_end) as of now. */
void scan_detector_restart(struct scan_detector *d, struct scan_entry *e, uint64_t now_us);
/* After new evidence on e: touch its open finding, or try the rules in
 * file order and open the finding of the first that fires. */
void scan_detector_evaluate(struct scan_detector *d, struct scan_entry *e, uint64_t now_us);

/* Distinct values as both detectors count them: the first few exactly
 * (thresholds compare small counts), later ones in a HyperLogLog of
 * 1 << p registers, whose error then applies to the excess only.
 * count_excess adds one value beyond the cap exact ones (hash: its
 * hash) and sets *count to cap plus the estimate; count_port keeps a port
 * in exact[0..*n) up to cap, clears reg when exact fills, then goes on in
 * reg (which may be NULL while *n + 1 < cap).  *count only grows. */
/* e's pooled registers (cleared when first taken), and the estimate kept
 * with them (valid once the registers are taken). */
uint8_t *scan_detector_regs(struct scan_detector *d, struct scan_entry *e);
struct hll_sum *scan_detector_sum(struct scan_detector *d, struct scan_entry *e);
/* sum: the registers' kept estimate, or NULL to walk them each time. */
void scan_detector_count_excess(uint8_t *reg, struct hll_sum *sum, uint8_t p, uint32_t cap,
                                uint64_t hash, uint16_t *count);
void scan_detector_count_port(struct scan_detector *d, uint16_t *exact, uint8_t *n, uint8_t cap,
                              uint8_t *reg, struct hll_sum *sum, uint8_t p, uint16_t port,
                              uint16_t *count);

/* The detector interface's clock, reload and stats (detector.h), shared:
 * self is a struct scan_detector, or a struct that starts with one. */
void scan_detector_tick(void *self, uint64_t now_us);
void scan_detector_flush(void *self, uint64_t now_us);
int scan_detector_reload(void *self, struct ruleset *rules, struct cfg_err *err);
void scan_detector_stats(void *self, json_t *out);

#endif
