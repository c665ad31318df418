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

struct spool {
    char path[512];
    char ack_path[520];
    int fd;
    int ack_fd;
    uint64_t base;      /* logical offset of the file's first byte */
    uint64_t file_size; /* bytes in the file */
    uint64_t head;      /* logical offset of the first unacknowledged record */
    uint64_t max_bytes;
    unsigned sync_every;
    unsigned unsynced;
    bool ack_dirty;
    char *buf;
    size_t buf_cap;
    struct spool_stats st;
};

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
    if (pos + SPOOL_RECORD_OVERHEAD > s->file_size || read_full(s->fd, hdr, 4, pos) < 0)
        return 0;
    uint32_t len = get_le32(hdr);
    uint64_t total = (uint64_t)len + SPOOL_RECORD_OVERHEAD;
    if (len > SPOOL_MAX_RECORD || pos + total > s->file_size)
        return 0;
    if (grow_buf(s, (size_t)len + 1) < 0 || read_full(s->fd, s->buf, len, pos + 4) < 0 ||
        read_full(s->fd, trailer, 8, pos + 4 + len) < 0)
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
    uint64_t pos = ack;
    size_t len;
    for (;;) {
        uint64_t total = check_record(s, pos, &len);
        if (!total)
            break;
        pos += total;
        s->st.records++;
    }
    if (pos < s->file_size) {
        s->st.torn_bytes = s->file_size - pos;
        log_warn("%s: dropped a torn or damaged tail of %llu bytes at offset %llu (power loss "
                 "during a write?); %llu intact records kept",
                 path, (unsigned long long)s->st.torn_bytes, (unsigned long long)pos,
                 (unsigned long long)s->st.records);
        if (ftruncate(s->fd, (off_t)pos) < 0 || fsync(s->fd) < 0) {
            snprintf(err, err_len, "%s: cannot cut the damaged tail: %s", path, strerror(errno));
            goto fail;
        }
        s->file_size = pos;
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
    }
    write_ack(s);
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
        s->st.lost_records++;
        s->st.lost_bytes += total;
        return len > SPOOL_MAX_RECORD ? -EMSGSIZE : -ENOSPC;
    }
    if (s->file_size + total > s->max_bytes && s->head > s->base && compact(s) < 0)
        log_warn("%s: cannot compact the spool: %s", s->path, strerror(errno));
    uint8_t hdr[4], trailer[8];
    put_le32(hdr, (uint32_t)len);
    put_le32(trailer, payload_crc(payload, len));
    put_le32(trailer + 4, (uint32_t)len);
    struct iovec iov[3] = {{hdr, 4}, {(void *)payload, len}, {trailer, 8}};
    ssize_t n = pwritev(s->fd, iov, 3, (off_t)s->file_size);
    if (n != (ssize_t)total) {
        int e = n < 0 ? errno : EIO;
        /* Never leave half a record behind a good one. */
        if (ftruncate(s->fd, (off_t)s->file_size) < 0)
            log_warn("%s: cannot remove a partial record: %s", s->path, strerror(errno));
        s->st.lost_records++;
        s->st.lost_bytes += total;
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
    free(s);
}
