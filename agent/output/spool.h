/* spool.h — the durable queue of events Redis has not acknowledged yet
 * (architecture §4.6).
 *
 * One append-only journal file in the state directory.  Each record is
 *
 *     u32 len | payload (len bytes) | u32 CRC32(payload) | u32 len
 *
 * little-endian, as Filebeat's disk queue frames them: the leading length
 * lets a reader skip, the trailing CRC and repeated length prove the
 * record was written whole.  A torn or corrupt tail (power loss in the
 * middle of a write) is found when the spool is opened, cut off, counted
 * and logged; it is never handed out as an event.  A damaged record in
 * the middle (bit rot, a bad sector) costs only itself: the reader
 * resynchronises on the next intact frame, the journal is rewritten
 * without the damaged span, and the span counts as lost.
 *
 * The loss counters (lost_records, lost_bytes, torn_bytes,
 * damaged_records) are kept in "<path>.lost" across restarts, so they
 * count since the spool was created and heartbeats keep showing them.
 *
 * Offsets in this API are logical: they only grow, even when the file is
 * compacted, so a caller may keep them across appends.  A sidecar file
 * "<path>.ack" remembers how far the consumer has acknowledged (written at
 * spool_sync), so a restart does not resend what Redis already has, beyond
 * the last half second.
 *
 * Overflow policy: refuse the newest.  When the unacknowledged records
 * would exceed max_bytes, the new record is not written and counted in
 * lost_records / lost_bytes.  The oldest records are the start of each
 * finding (its "new" event, first evidence), which an incident cannot be
 * built without; later updates of the same findings are what gets lost.
 *
 * The spool does no I/O on its own schedule: the caller runs spool_sync()
 * from a timer (output_redis: every 500 ms); spool_append() also syncs
 * after every sync_every records.
 */
#ifndef CANH_SPOOL_H
#define CANH_SPOOL_H

#include <stddef.h>
#include <stdint.h>

/* Largest payload a record may carry; a length field above it is damage. */
#define SPOOL_MAX_RECORD (4u << 20)
/* Bytes of framing around each payload. */
#define SPOOL_RECORD_OVERHEAD 12u

struct spool;

struct spool_stats {
    uint64_t records;      /* written, not yet acknowledged */
    uint64_t bytes;        /* their size on disk, framing included */
    uint64_t appended;     /* records appended since open */
    uint64_t lost_records; /* refused because the spool was full */
    uint64_t lost_bytes;
    uint64_t torn_bytes;      /* cut off as a torn/corrupt tail at open */
    uint64_t damaged_records; /* skipped as damaged in the middle (also in lost_records) */
    uint64_t syncs;
    uint64_t compactions;
};

/* Opens (creating) path, takes an exclusive lock on it, drops a torn
 * tail with a warning and positions after the acknowledged records.
 * NULL with err filled ("path: what; what to do") on failure. */
struct spool *spool_open(const char *path, uint64_t max_bytes, unsigned sync_every, char *err,
                         size_t err_len);

/* Append one record.  0 and *end_off (logical offset just past it), or
 * -ENOBUFS when the spool is at max_bytes, -EMSGSIZE for a payload above
 * SPOOL_MAX_RECORD, or the write's -errno (-ENOSPC: the disk is full, even
 * when the write was short); every failure is counted as lost. */
int spool_append(struct spool *s, const void *payload, size_t len, uint64_t *end_off);

/* Logical offset of the first unacknowledged record / of the end. */
uint64_t spool_head(const struct spool *s);
uint64_t spool_tail(const struct spool *s);

/* Read the record at *off (a record boundary at or after the head).
 * 1 with *payload (valid until the next spool call) and *len set and *off
 * moved past it; 0 at the end; -1 on a read error or damage. */
int spool_read(struct spool *s, uint64_t *off, const char **payload, size_t *len);

/* The record ending at end_off has been delivered: the head moves there.
 * When the head reaches the tail the file is truncated to nothing. */
void spool_ack(struct spool *s, uint64_t end_off);

/* fsync the journal and persist the acknowledged position. */
int spool_sync(struct spool *s);

void spool_get_stats(const struct spool *s, struct spool_stats *out);
const char *spool_path(const struct spool *s);

/* Sync and close. */
void spool_close(struct spool *s);

#endif
