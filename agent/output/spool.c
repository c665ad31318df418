/* spool.c — see spool.h.  Plain POSIX file I/O; the journal is only
 * touched when Redis cannot take events, so clarity wins over cleverness:
 * one pwritev per record, one pread pair per record read back. */
#include "agent/output/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include "common/log.h"

#define ACK_MAGIC 0x41484e43u /* "CNHA" */
#define ACK_FILE_SIZE 16
#define LOST_MAGIC 0x4c484e43u /* "CNHL" */
#define LOST_FILE_SIZE 36

struct spool {
    char path[512];
    char ack_path[520];
    char lost_path[520];
    int fd;
    int ack_fd;
    bool lost_dirty;    /* the loss counters changed since written */
    uint64_t base;      /* logical offset of the file's first byte */
    uint64_t file_size; /* bytes in the file */
    uint64_t head;      /* logical offset of the first unacknowledged record */
    uint64_t max_bytes;
    unsigned sync_every;
    unsigned unsynced;
    bool ack_dirty;
    char *buf;
    size_t buf_cap;
    /* Read-ahead for the replay: file bytes [rc_pos, rc_pos + rc_len),
     * read in one pread instead of three per record.  Bytes below
     * file_size never change but by a truncation, a rewrite or a
     * compaction, which empty it (cache_drop). */
    char *rc;
    uint64_t rc_pos;
    size_t rc_len;
    struct spool_stats st;
};

#define READ_AHEAD (256u << 10)

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int sync_dir(const char *path);

static uint32_t payload_crc(const void *p, size_t len)
{
    return (uint32_t)crc32(0L, p, (uInt)len);
}

static int read_full(int fd, void *buf, size_t len, uint64_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

static void cache_drop(struct spool *s)
{
    s->rc_len = 0;
}

/* len bytes at file position pos, through the read-ahead. */
static int read_at(struct spool *s, void *buf, size_t len, uint64_t pos)
{
    if (pos >= s->rc_pos && pos + len <= s->rc_pos + s->rc_len) {
        memcpy(buf, s->rc + (pos - s->rc_pos), len);
        return 0;
    }
    if (len > READ_AHEAD / 2 || pos + len > s->file_size)
        return read_full(s->fd, buf, len, pos);
    if (!s->rc && !(s->rc = malloc(READ_AHEAD)))
        return read_full(s->fd, buf, len, pos);
    size_t n = s->file_size - pos < READ_AHEAD ? (size_t)(s->file_size - pos) : READ_AHEAD;
    s->rc_len = 0;
    if (read_full(s->fd, s->rc, n, pos) < 0)
        return -1;
    s->rc_pos = pos;
    s->rc_len = n;
    memcpy(buf, s->rc, len);
    return 0;
}

static int grow_buf(struct spool *s, size_t need)
{
    if (need <= s->buf_cap)
        return 0;
    size_t cap = s->buf_cap ? s->buf_cap : 4096;
    while (cap < need)
        cap *= 2;
    char *b = realloc(s->buf, cap);
    if (!b)
        return -1;
    s->buf = b;
    s->buf_cap = cap;
    return 0;
}

/* Check the record at file position pos.  Returns its framed size, or 0
 * when it is missing, torn or damaged.  On success the payload is in
 * s->buf. */
static uint64_t check_record(struct spool *s, uint64_t pos, size_t *payload_len)
{
    uint8_t hdr[4], trailer[8];
    if (pos + SPOOL_RECORD_OVERHEAD > s->file_size || read_at(s, hdr, 4, pos) < 0)
        return 0;
    uint32_t len = get_le32(hdr);
    uint64_t total = (uint64_t)len + SPOOL_RECORD_OVERHEAD;
    if (len > SPOOL_MAX_RECORD || pos + total > s->file_size)
        return 0;
    if (grow_buf(s, (size_t)len + 1) < 0 || read_at(s, s->buf, len, pos + 4) < 0 ||
        read_at(s, trailer, 8, pos + 4 + len) < 0)
        return 0;
    if (get_le32(trailer) != payload_crc(s->buf, len) || get_le32(trailer + 4) != len)
        return 0;
    s->buf[len] = '\0';
    *payload_len = len;
    return total;
}

static int write_ack(struct spool *s)
{
    uint8_t rec[ACK_FILE_SIZE];
    uint64_t rel = s->head - s->base;
    put_le32(rec, ACK_MAGIC);
    put_le32(rec + 4, (uint32_t)rel);
    put_le32(rec + 8, (uint32_t)(rel >> 32));
    put_le32(rec + 12, payload_crc(rec, 12));
    if (pwrite(s->ack_fd, rec, sizeof(rec), 0) != (ssize_t)sizeof(rec))
        return -1;
    s->ack_dirty = false;
    return 0;
}

static uint64_t read_ack(int fd)
{
    uint8_t rec[ACK_FILE_SIZE];
    if (read_full(fd, rec, sizeof(rec), 0) < 0 || get_le32(rec) != ACK_MAGIC ||
        get_le32(rec + 12) != payload_crc(rec, 12))
        return 0;
    return (uint64_t)get_le32(rec + 4) | (uint64_t)get_le32(rec + 8) << 32;
}

static void put_le64(uint8_t *p, uint64_t v)
{
    put_le32(p, (uint32_t)v);
    put_le32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t get_le64(const uint8_t *p)
{
    return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

/* "<path>.lost": magic, lost records, lost bytes, torn bytes, damaged
 * records (u64 each), CRC32.  Losses are counted since the spool was
 * created, not since the agent started, so an overflow followed by a
 * restart still shows in the heartbeats. */
static void read_lost(struct spool *s)
{
    uint8_t rec[LOST_FILE_SIZE];
    int fd = open(s->lost_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    if (read_full(fd, rec, sizeof(rec), 0) == 0 && get_le32(rec) == LOST_MAGIC &&
        get_le32(rec + 32) == payload_crc(rec, 32)) {
        s->st.lost_records = get_le64(rec + 4);
        s->st.lost_bytes = get_le64(rec + 12);
        s->st.torn_bytes = get_le64(rec + 20);
        s->st.damaged_records = get_le32(rec + 28);
    } else {
        log_warn("%s: unreadable loss counters; they start again from 0", s->lost_path);
    }
    close(fd);
}

static int write_lost(struct spool *s)
{
    uint8_t rec[LOST_FILE_SIZE];
    put_le32(rec, LOST_MAGIC);
    put_le64(rec + 4, s->st.lost_records);
    put_le64(rec + 12, s->st.lost_bytes);
    put_le64(rec + 20, s->st.torn_bytes);
    put_le32(rec + 28, (uint32_t)s->st.damaged_records);
    put_le32(rec + 32, payload_crc(rec, 32));
    char tmp[540];
    snprintf(tmp, sizeof(tmp), "%s.tmp", s->lost_path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return -1;
    int rc = 0;
    if (pwrite(fd, rec, sizeof(rec), 0) != (ssize_t)sizeof(rec) || fdatasync(fd) < 0)
        rc = -1;
    close(fd);
    if (rc == 0 && rename(tmp, s->lost_path) < 0)
        rc = -1;
    if (rc < 0)
        unlink(tmp);
    else
        s->lost_dirty = false;
    return rc;
}

static void count_lost(struct spool *s, uint64_t bytes)
{
    s->st.lost_records++;
    s->st.lost_bytes += bytes;
    s->lost_dirty = true;
}

/* The first position after pos where a whole, intact record starts, or
 * the file size when there is none.  A frame is recognised by its leading
 * length, the same length after the CRC, and the CRC itself, so a
 * damaged record costs only itself, not every record after it. */
static uint64_t resync(struct spool *s, uint64_t pos)
{
    size_t len;
    for (uint64_t p = pos + 1; p + SPOOL_RECORD_OVERHEAD <= s->file_size; p++) {
        uint8_t hdr[4], tail[4];
        if (read_full(s->fd, hdr, 4, p) < 0)
            break;
        uint64_t l = get_le32(hdr);
        if (l > SPOOL_MAX_RECORD || p + l + SPOOL_RECORD_OVERHEAD > s->file_size ||
            read_full(s->fd, tail, 4, p + 8 + l) < 0 || get_le32(tail) != l)
            continue;
        if (check_record(s, p, &len))
            return p;
    }
    return s->file_size;
}

/* Copy the intact records of [from, end) to a new journal, without the
 * damaged spans between them, and put it in place.  The acknowledged
 * prefix goes too: the new file starts at the head. */
static int rewrite_intact(struct spool *s, uint64_t from, uint64_t end, char *err, size_t err_len)
{
    char tmp[530];
    snprintf(tmp, sizeof(tmp), "%s.tmp", s->path);
    int nfd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (nfd < 0) {
        snprintf(err, err_len, "%s: cannot rewrite the damaged spool: %s", tmp, strerror(errno));
        return -1;
    }
    uint64_t out = 0;
    size_t len;
    for (uint64_t pos = from; pos < end;) {
        uint64_t total = check_record(s, pos, &len);
        if (!total) {
            pos = resync(s, pos);
            continue;
        }
        uint8_t frame[4];
        put_le32(frame, (uint32_t)len);
        uint8_t trailer[8];
        put_le32(trailer, payload_crc(s->buf, len));
        put_le32(trailer + 4, (uint32_t)len);
        struct iovec iov[3] = {{frame, 4}, {s->buf, len}, {trailer, 8}};
        if (pwritev(nfd, iov, 3, (off_t)out) != (ssize_t)total)
            goto fail;
        out += total;
        pos += total;
    }
    if (fsync(nfd) < 0)
        goto fail;
    s->base = s->head = 0;
    if (write_ack(s) < 0 || fdatasync(s->ack_fd) < 0 || rename(tmp, s->path) < 0)
        goto fail;
    sync_dir(s->path);
    close(s->fd);
    s->fd = nfd;
    s->file_size = out;
    cache_drop(s);
    return 0;
fail:
    snprintf(err, err_len, "%s: cannot rewrite the damaged spool: %s", tmp, strerror(errno));
    close(nfd);
    unlink(tmp);
    return -1;
}

static int sync_dir(const char *path)
{
    char copy[512];
    snprintf(copy, sizeof(copy), "%s", path);
    int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -1;
    int rc = fsync(dfd);
    close(dfd);
    return rc;
}

struct spool *spool_open(const char *path, uint64_t max_bytes, unsigned sync_every, char *err,
                         size_t err_len)
{
    struct spool *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, err_len, "%s: out of memory", path);
        return NULL;
    }
    s->fd = s->ack_fd = -1;
    s->max_bytes = max_bytes;
    s->sync_every = sync_every ? sync_every : 1;
    if (snprintf(s->path, sizeof(s->path), "%s", path) >= (int)sizeof(s->path)) {
        snprintf(err, err_len, "%s: path too long", path);
        goto fail;
    }
    snprintf(s->ack_path, sizeof(s->ack_path), "%s.ack", path);
    snprintf(s->lost_path, sizeof(s->lost_path), "%s.lost", path);
    s->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (s->fd < 0) {
        snprintf(err, err_len,
                 "%s: cannot open the spool: %s; create the state directory writable by the "
                 "agent's user or set [agent] state_dir",
                 path, strerror(errno));
        goto fail;
    }
    if (flock(s->fd, LOCK_EX | LOCK_NB) < 0) {
        snprintf(err, err_len, "%s: %s; is another canh-agent using this state directory?", path,
                 errno == EWOULDBLOCK ? "locked" : strerror(errno));
        goto fail;
    }
    s->ack_fd = open(s->ack_path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (s->ack_fd < 0) {
        snprintf(err, err_len, "%s: cannot open: %s", s->ack_path, strerror(errno));
        goto fail;
    }
    struct stat st;
    if (fstat(s->fd, &st) < 0) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        goto fail;
    }
    s->file_size = (uint64_t)st.st_size;
    uint64_t ack = read_ack(s->ack_fd);
    /* An acknowledged position past the end: the journal was truncated
     * after everything was delivered and the ack file not yet rewritten. */
    if (ack > s->file_size)
        ack = 0;
    read_lost(s);
    uint64_t pos = ack, damaged_bytes = 0, damaged_records = 0;
    size_t len;
    for (;;) {
        uint64_t total = check_record(s, pos, &len);
        if (total) {
            pos += total;
            s->st.records++;
            continue;
        }
        if (pos >= s->file_size)
            break;
        uint64_t next = resync(s, pos);
        if (next >= s->file_size)
            break; /* nothing intact after it: a torn tail */
        /* Bit rot or a bad sector in the middle: the span is lost (at
         * least one record), the records after it are kept. */
        damaged_records++;
        damaged_bytes += next - pos;
        pos = next;
    }
    if (damaged_records) {
        s->st.damaged_records += damaged_records;
        s->st.lost_records += damaged_records;
        s->st.lost_bytes += damaged_bytes;
        s->lost_dirty = true;
        log_warn("%s: skipped %llu damaged records (%llu bytes; bit rot or a bad disk?) and kept "
                 "the %llu intact ones around them; the skipped ones count as lost",
                 path, (unsigned long long)damaged_records, (unsigned long long)damaged_bytes,
                 (unsigned long long)s->st.records);
    }
    uint64_t intact_end = pos;
    if (pos < s->file_size) {
        uint64_t torn = s->file_size - pos;
        s->st.torn_bytes += torn;
        s->lost_dirty = true;
        log_warn("%s: dropped a torn or damaged tail of %llu bytes at offset %llu (power loss "
                 "during a write?); %llu intact records kept",
                 path, (unsigned long long)torn, (unsigned long long)pos,
                 (unsigned long long)s->st.records);
        if (!damaged_records && (ftruncate(s->fd, (off_t)pos) < 0 || fsync(s->fd) < 0)) {
            snprintf(err, err_len, "%s: cannot cut the damaged tail: %s", path, strerror(errno));
            goto fail;
        }
        if (!damaged_records)
            s->file_size = pos;
        cache_drop(s);
    }
    if (damaged_records) {
        s->head = ack;
        if (rewrite_intact(s, ack, intact_end, err, err_len) < 0)
            goto fail;
        ack = 0;
    }
    s->head = ack;
    if (s->st.records == 0 && s->file_size > 0) {
        /* Everything in it was delivered before the last stop. */
        if (ftruncate(s->fd, 0) < 0) {
            snprintf(err, err_len, "%s: cannot truncate: %s", path, strerror(errno));
            goto fail;
        }
        s->file_size = 0;
        s->head = 0;
        cache_drop(s);
    }
    write_ack(s);
    if (s->lost_dirty && write_lost(s) < 0)
        log_warn("%s: cannot save the loss counters: %s", s->lost_path, strerror(errno));
    return s;
fail:
    if (s->fd >= 0)
        close(s->fd);
    if (s->ack_fd >= 0)
        close(s->ack_fd);
    free(s);
    return NULL;
}

/* Rewrite the journal without its acknowledged prefix.  The ack file is
 * reset first: a crash in between replays records again (duplicates a
 * consumer drops by id) but never skips any. */
static int compact(struct spool *s)
{
    char tmp[530];
    uint64_t from = s->head - s->base;
    snprintf(tmp, sizeof(tmp), "%s.tmp", s->path);
    int nfd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (nfd < 0)
        return -1;
    if (flock(nfd, LOCK_EX | LOCK_NB) < 0)
        goto fail;
    char chunk[65536];
    for (uint64_t pos = from; pos < s->file_size;) {
        size_t n =
            s->file_size - pos < sizeof(chunk) ? (size_t)(s->file_size - pos) : sizeof(chunk);
        if (read_full(s->fd, chunk, n, pos) < 0 ||
            pwrite(nfd, chunk, n, (off_t)(pos - from)) != (ssize_t)n)
            goto fail;
        pos += n;
    }
    if (fsync(nfd) < 0)
        goto fail;
    uint64_t old_base = s->base;
    s->base = s->head;
    if (write_ack(s) < 0 || fdatasync(s->ack_fd) < 0 || rename(tmp, s->path) < 0) {
        s->base = old_base;
        write_ack(s);
        goto fail;
    }
    sync_dir(s->path);
    close(s->fd);
    s->fd = nfd;
    s->file_size -= from;
    cache_drop(s);
    s->unsynced = 0;
    s->st.compactions++;
    return 0;
fail:
    close(nfd);
    unlink(tmp);
    return -1;
}

int spool_append(struct spool *s, const void *payload, size_t len, uint64_t *end_off)
{
    uint64_t total = (uint64_t)len + SPOOL_RECORD_OVERHEAD;
    if (len > SPOOL_MAX_RECORD || spool_tail(s) - s->head + total > s->max_bytes) {
        count_lost(s, total);
        return len > SPOOL_MAX_RECORD ? -EMSGSIZE : -ENOBUFS;
    }
    if (s->file_size + total > s->max_bytes && s->head > s->base && compact(s) < 0)
        log_warn("%s: cannot compact the spool: %s", s->path, strerror(errno));
    uint8_t hdr[4], trailer[8];
    put_le32(hdr, (uint32_t)len);
    put_le32(trailer, payload_crc(payload, len));
    put_le32(trailer + 4, (uint32_t)len);
    struct iovec iov[3] = {{hdr, 4}, {(void *)payload, len}, {trailer, 8}};
    ssize_t n = pwritev(s->fd, iov, 3, (off_t)s->file_size);
    if (n >= 0 && n < (ssize_t)total) {
        /* A short write: the disk filled up in the middle of the record.
         * Writing the rest gives the real reason (ENOSPC, EDQUOT). */
        uint8_t zero = 0;
        ssize_t m = pwrite(s->fd, &zero, 1, (off_t)(s->file_size + (uint64_t)n));
        errno = m < 0 ? errno : ENOSPC;
        n = -1;
    }
    if (n != (ssize_t)total) {
        int e = errno ? errno : EIO;
        /* Never leave half a record behind a good one. */
        if (ftruncate(s->fd, (off_t)s->file_size) < 0)
            log_warn("%s: cannot remove a partial record: %s", s->path, strerror(errno));
        cache_drop(s);
        count_lost(s, total);
        return -e;
    }
    s->file_size += total;
    s->st.records++;
    s->st.appended++;
    if (end_off)
        *end_off = s->base + s->file_size;
    if (++s->unsynced >= s->sync_every)
        spool_sync(s);
    return 0;
}

uint64_t spool_head(const struct spool *s)
{
    return s->head;
}
uint64_t spool_tail(const struct spool *s)
{
    return s->base + s->file_size;
}

int spool_read(struct spool *s, uint64_t *off, const char **payload, size_t *len)
{
    if (*off < s->base)
        return -1;
    uint64_t pos = *off - s->base;
    if (pos >= s->file_size)
        return 0;
    uint64_t total = check_record(s, pos, len);
    if (!total)
        return -1;
    *payload = s->buf;
    *off += total;
    return 1;
}

void spool_ack(struct spool *s, uint64_t end_off)
{
    if (end_off <= s->head || end_off > spool_tail(s))
        return;
    s->head = end_off;
    if (s->st.records)
        s->st.records--;
    s->ack_dirty = true;
    if (s->head == spool_tail(s)) {
        /* Drained: start the file over so it never grows while Redis
         * keeps up. */
        if (ftruncate(s->fd, 0) == 0) {
            s->base = s->head;
            s->file_size = 0;
            cache_drop(s);
            s->st.records = 0;
            write_ack(s);
        }
    }
}

int spool_sync(struct spool *s)
{
    int rc = 0;
    if (s->unsynced) {
        if (fdatasync(s->fd) < 0)
            rc = -1;
        s->unsynced = 0;
        s->st.syncs++;
    }
    if (s->ack_dirty && (write_ack(s) < 0 || fdatasync(s->ack_fd) < 0))
        rc = -1;
    if (s->lost_dirty && write_lost(s) < 0)
        rc = -1;
    return rc;
}

void spool_get_stats(const struct spool *s, struct spool_stats *out)
{
    *out = s->st;
    out->bytes = spool_tail(s) - s->head;
}

const char *spool_path(const struct spool *s)
{
    return s->path;
}

void spool_close(struct spool *s)
{
    if (!s)
        return;
    spool_sync(s);
    close(s->fd);
    close(s->ack_fd);
    free(s->buf);
    free(s->rc);
    free(s);
}
