/* evidence.c — see evidence.h.
 *
 * The ring is one buffer of variable-size records (header, then the
 * frame), 8-byte aligned, oldest at `tail`, next write at `head`.  When a
 * record does not fit before the end of the buffer, writing wraps to the
 * start and the data is [tail, wrap_at) + [0, head); the oldest records are
 * dropped until the new one fits.  Files being written are a small fixed
 * array; finished files are remembered (name, size, digest) in a fixed
 * array the "end" event reads; the directory's files are a list sorted by
 * age, to remove the oldest when the disk budget is spent.
 */
#include "agent/evidence.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <nettle/sha2.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#define MAX_OPEN 16    /* files written at once */
#define MAX_DONE 256   /* finished files the end events look up */
#define MAX_FILES 4096 /* files on disk tracked for the budget */
#define ERROR_LOG_US 60000000ull
#define LINKTYPE_RAW 101 /* the file format's number for DLT_RAW */

struct rec {
    uint64_t ts_us;
    uint32_t caplen, len;
    struct ipaddr src, dst;
    /* frame bytes follow */
};

struct open_file {
    bool used;
    char finding_id[96];
    char name[128];
    FILE *fp;
    struct ipaddr hosts[2];
    int n_hosts;
    uint64_t until_us;
    uint64_t packets, bytes;
    bool capped;
    struct sha256_ctx sha;
};

struct done_file {
    char finding_id[96];
    char name[128];
    uint64_t packets, bytes;
    bool capped, failed;
    char sha256[SHA256_DIGEST_SIZE * 2 + 1];
};

struct disk_file {
    char name[128];
    uint64_t bytes;
};

struct evidence {
    char dir[320];
    uint64_t before_us, after_us, finding_packets, disk_max;
    int dlt;
    /* ring */
    uint8_t *ring;
    size_t cap, head, tail, wrap_at;
    bool wrapped;
    uint64_t n_recs;
    /* files */
    struct open_file open[MAX_OPEN];
    size_t n_open;
    struct done_file done[MAX_DONE];
    size_t done_next;
    struct disk_file *files; /* oldest first */
    size_t n_files;
    uint64_t disk_bytes;
    uint64_t last_error_log_us;
    struct {
        uint64_t ring_frames, ring_dropped, files, packets, capped, removed_files, removed_bytes,
            write_errors, busy, too_big;
    } st;
};

static size_t rec_size(uint32_t caplen)
{
    return (sizeof(struct rec) + caplen + 7) & ~(size_t)7;
}

static struct rec *rec_at(struct evidence *e, size_t off)
{
    return (struct rec *)(e->ring + off);
}

static void drop_oldest(struct evidence *e)
{
    e->tail += rec_size(rec_at(e, e->tail)->caplen);
    e->n_recs--;
    e->st.ring_dropped++;
    if (e->wrapped && e->tail >= e->wrap_at) {
        e->tail = 0;
        e->wrapped = false;
    }
    if (e->n_recs == 0 && !e->wrapped)
        e->tail = e->head;
}

/* Room for need bytes at head, dropping the oldest records. */
static void make_room(struct evidence *e, size_t need)
{
    for (;;) {
        if (!e->wrapped) {
            if (e->head + need <= e->cap)
                return;
            if (e->n_recs == 0) {
                e->head = e->tail = 0;
                continue;
            }
            e->wrap_at = e->head;
            e->head = 0;
            e->wrapped = true;
        }
        if (e->tail - e->head >= need)
            return;
        drop_oldest(e);
    }
}

/* The oldest record's offset and the one after off (SIZE_MAX at the end). */
static size_t rec_next(struct evidence *e, size_t off, uint64_t *left)
{
    if (--*left == 0)
        return SIZE_MAX;
    off += rec_size(rec_at(e, off)->caplen);
    if (e->wrapped && off >= e->wrap_at)
        off = 0;
    return off;
}

static void log_error_limited(struct evidence *e, const char *fmt, const char *a, const char *b)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
    if (e->last_error_log_us && now - e->last_error_log_us < ERROR_LOG_US)
        return;
    e->last_error_log_us = now;
    log_err(fmt, a, b);
}

/* ---- the disk budget -------------------------------------------------- */

static bool is_open_name(const struct evidence *e, const char *name)
{
    for (size_t i = 0; i < MAX_OPEN; i++)
        if (e->open[i].used && strcmp(e->open[i].name, name) == 0)
            return true;
    return false;
}

/* Remove the oldest file not being written; false when there is none. */
static bool remove_oldest(struct evidence *e)
{
    size_t i = 0;
    while (i < e->n_files && is_open_name(e, e->files[i].name))
        i++;
    if (i == e->n_files)
        return false;
    char path[480];
    snprintf(path, sizeof(path), "%s/%s", e->dir, e->files[i].name);
    if (unlink(path) < 0 && errno != ENOENT) {
        e->st.write_errors++;
        log_error_limited(e, "evidence: cannot remove %s: %s", path, strerror(errno));
        return false;
    }
    e->disk_bytes -= e->files[i].bytes;
    e->st.removed_files++;
    e->st.removed_bytes += e->files[i].bytes;
    memmove(&e->files[i], &e->files[i + 1], (e->n_files - i - 1) * sizeof(e->files[0]));
    e->n_files--;
    return true;
}

/* Remove the oldest finished files until `more` bytes fit in disk_max;
 * false when they cannot (only files being written are left). */
static bool budget(struct evidence *e, uint64_t more)
{
    while (e->disk_bytes + more > e->disk_max)
        if (!remove_oldest(e))
            return false;
    return true;
}

static struct disk_file *file_entry(struct evidence *e, const char *name)
{
    for (size_t i = e->n_files; i-- > 0;)
        if (strcmp(e->files[i].name, name) == 0)
            return &e->files[i];
    if (e->n_files == MAX_FILES && !remove_oldest(e))
        return NULL;
    struct disk_file *f = &e->files[e->n_files++];
    snprintf(f->name, sizeof(f->name), "%s", name);
    f->bytes = 0;
    return f;
}

static int by_mtime(const void *a, const void *b)
{
    const struct {
        time_t t;
        struct disk_file f;
    } *x = a, *y = b;
    return (x->t > y->t) - (x->t < y->t);
}

/* What an earlier run left: counted against the budget, oldest first. */
static void scan_dir(struct evidence *e)
{
    DIR *d = opendir(e->dir);
    if (!d)
        return;
    struct entry {
        time_t t;
        struct disk_file f;
    } *list = calloc(MAX_FILES, sizeof(*list));
    size_t n = 0;
    struct dirent *de;
    while (list && n < MAX_FILES && (de = readdir(d))) {
        size_t len = strlen(de->d_name);
        struct stat st;
        char path[480];
        if (len < 6 || len >= sizeof(list[0].f.name) || strcmp(de->d_name + len - 5, ".pcap"))
            continue;
        snprintf(path, sizeof(path), "%s/%s", e->dir, de->d_name);
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        list[n].t = st.st_mtime;
        snprintf(list[n].f.name, sizeof(list[n].f.name), "%s", de->d_name);
        list[n].f.bytes = (uint64_t)st.st_size;
        n++;
    }
    closedir(d);
    if (list)
        qsort(list, n, sizeof(*list), by_mtime);
    for (size_t i = 0; i < n; i++) {
        e->files[e->n_files++] = list[i].f;
        e->disk_bytes += list[i].f.bytes;
    }
    free(list);
    budget(e, 0);
}

/* ---- files ------------------------------------------------------------ */

static bool write_out(struct evidence *e, struct open_file *o, const void *data, size_t n)
{
    struct disk_file *df = file_entry(e, o->name);
    if (!df || !budget(e, n)) {
        e->st.too_big++;
        o->capped = true;
        return false;
    }
    if (fwrite(data, 1, n, o->fp) != n) {
        e->st.write_errors++;
        log_error_limited(e, "evidence: writing %s: %s (disk full?); this file ends here", o->name,
                          strerror(errno));
        o->capped = true;
        return false;
    }
    sha256_update(&o->sha, n, data);
    o->bytes += n;
    df->bytes += n;
    e->disk_bytes += n;
    return true;
}

static void write_frame(struct evidence *e, struct open_file *o, const struct rec *r)
{
    if (o->capped)
        return;
    uint32_t hdr[4] = {(uint32_t)(r->ts_us / 1000000), (uint32_t)(r->ts_us % 1000000), r->caplen,
                       r->len};
    if (!budget(e, sizeof(hdr) + r->caplen)) { /* the record whole or not at all */
        e->st.too_big++;
        o->capped = true;
        return;
    }
    if (!write_out(e, o, hdr, sizeof(hdr)) || !write_out(e, o, r + 1, r->caplen))
        return;
    o->packets++;
    e->st.packets++;
    if (o->packets >= e->finding_packets) {
        o->capped = true;
        e->st.capped++;
    }
}

static bool matches(const struct open_file *o, const struct rec *r)
{
    for (int i = 0; i < o->n_hosts; i++)
        if (memcmp(&o->hosts[i], &r->src, sizeof(r->src)) == 0 ||
            memcmp(&o->hosts[i], &r->dst, sizeof(r->dst)) == 0)
            return true;
    return false;
}

static void finish(struct evidence *e, struct open_file *o)
{
    struct done_file *d = &e->done[e->done_next++ % MAX_DONE];
    memset(d, 0, sizeof(*d));
    snprintf(d->finding_id, sizeof(d->finding_id), "%s", o->finding_id);
    snprintf(d->name, sizeof(d->name), "%s", o->name);
    d->packets = o->packets;
    d->bytes = o->bytes;
    d->capped = o->packets >= e->finding_packets;
    if (fclose(o->fp) != 0) {
        e->st.write_errors++;
        d->failed = true;
        log_error_limited(e, "evidence: closing %s: %s (disk full?)", o->name, strerror(errno));
    }
    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_digest(&o->sha, sizeof(digest), digest);
    for (size_t i = 0; i < sizeof(digest); i++)
        snprintf(d->sha256 + 2 * i, 3, "%02x", digest[i]);
    o->used = false;
    o->fp = NULL;
    e->n_open--;
}

static bool start(struct evidence *e, const struct evt *ev)
{
    struct open_file *o = NULL;
    for (size_t i = 0; i < MAX_OPEN && !o; i++)
        if (!e->open[i].used)
            o = &e->open[i];
    if (!o) {
        e->st.busy++;
        return false;
    }
    memset(o, 0, sizeof(*o));
    snprintf(o->finding_id, sizeof(o->finding_id), "%s", ev->finding_id);
    snprintf(o->name, sizeof(o->name), "%s.pcap", ev->finding_id);
    /* The attacker's packets when there is one; a distributed attack's
     * victim otherwise. */
    if (ev->has_src)
        o->hosts[o->n_hosts++] = ev->src;
    else if (ev->has_dst)
        o->hosts[o->n_hosts++] = ev->dst;
    if (!o->n_hosts)
        return false;
    char path[480];
    snprintf(path, sizeof(path), "%s/%s", e->dir, o->name);
    /* 0640: the frames hold addresses and payloads of the agency's users. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    o->fp = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!o->fp) {
        if (fd >= 0)
            close(fd);
        e->st.write_errors++;
        log_error_limited(e, "evidence: cannot create %s: %s", path, strerror(errno));
        return false;
    }
    o->used = true;
    e->n_open++;
    e->st.files++;
    sha256_init(&o->sha);
    o->until_us = ev->ts_us + e->after_us;
    /* pcap file header: microsecond timestamps, host byte order. */
    struct {
        uint32_t magic;
        uint16_t major, minor;
        int32_t zone;
        uint32_t sigfigs, snaplen, linktype;
    } fh = {0xa1b2c3d4, 2, 4, 0, 0, 65535, (uint32_t)(e->dlt == DLT_RAW ? LINKTYPE_RAW : e->dlt)};
    write_out(e, o, &fh, sizeof(fh));
    uint64_t from =
        ev->first_seen_us && ev->first_seen_us < ev->ts_us ? ev->first_seen_us : ev->ts_us;
    from = from > e->before_us ? from - e->before_us : 0;
    uint64_t left = e->n_recs;
    for (size_t off = left ? e->tail : SIZE_MAX; off != SIZE_MAX && !o->capped;
         off = rec_next(e, off, &left)) {
        const struct rec *r = rec_at(e, off);
        if (r->ts_us >= from && matches(o, r))
            write_frame(e, o, r);
    }
    if (o->capped)
        finish(e, o);
    return true;
}

/* ---- the interface ---------------------------------------------------- */

struct evidence *evidence_new(const struct agent_config *cfg, char *why, size_t why_len)
{
    struct evidence *e = calloc(1, sizeof(*e));
    if (!e) {
        snprintf(why, why_len, "evidence: out of memory");
        return NULL;
    }
    e->before_us = cfg->evidence_before_us;
    e->after_us = cfg->evidence_after_us;
    e->finding_packets = cfg->evidence_finding_packets ? cfg->evidence_finding_packets : 1;
    e->disk_max = cfg->evidence_disk_bytes;
    e->dlt = 1;
    e->cap = (size_t)cfg->evidence_ring_bytes;
    e->ring = malloc(e->cap);
    e->files = calloc(MAX_FILES, sizeof(*e->files));
    snprintf(e->dir, sizeof(e->dir), "%s/evidence", cfg->state_dir);
    if (!e->ring || !e->files) {
        snprintf(why, why_len, "evidence: cannot allocate a ring of %zu bytes", e->cap);
        evidence_free(e);
        return NULL;
    }
    /* systemd's StateDirectory= makes state_dir; a hand-run agent may not. */
    if ((mkdir(cfg->state_dir, 0750) < 0 && errno != EEXIST) ||
        (mkdir(e->dir, 0750) < 0 && errno != EEXIST)) {
        snprintf(why, why_len, "evidence: cannot create %s: %s", e->dir, strerror(errno));
        evidence_free(e);
        return NULL;
    }
    scan_dir(e);
    return e;
}

void evidence_frame(struct evidence *e, int dlt, uint64_t ts_us, const uint8_t *frame,
                    uint32_t caplen, uint32_t len, const struct pkt *p)
{
    if (!p)
        return; /* no addresses to file it under */
    e->dlt = dlt;
    if (caplen > 65535)
        caplen = 65535;
    size_t need = rec_size(caplen);
    if (need > e->cap)
        return;
    make_room(e, need);
    struct rec *r = rec_at(e, e->head);
    r->ts_us = ts_us;
    r->caplen = caplen;
    r->len = len;
    r->src = p->src;
    r->dst = p->dst;
    memcpy(r + 1, frame, caplen);
    e->head += need;
    e->n_recs++;
    e->st.ring_frames++;
    if (e->n_open == 0)
        return;
    for (size_t i = 0; i < MAX_OPEN; i++) {
        struct open_file *o = &e->open[i];
        if (!o->used)
            continue;
        if (ts_us > o->until_us)
            finish(e, o);
        else if (matches(o, r)) {
            write_frame(e, o, r);
            if (o->capped)
                finish(e, o);
        }
    }
}

void evidence_tick(struct evidence *e, uint64_t now_us)
{
    for (size_t i = 0; i < MAX_OPEN && e->n_open; i++)
        if (e->open[i].used && now_us > e->open[i].until_us)
            finish(e, &e->open[i]);
}

void evidence_event(struct evidence *e, const struct evt *ev, json_t *json)
{
    if (ev->state == FINDING_NEW) {
        /* The name now, so the incident (and its report draft) can cite
         * the file; size and digest once it is finished, in the end event. */
        char file[160];
        snprintf(file, sizeof(file), "evidence/%s.pcap", ev->finding_id);
        if (start(e, ev))
            json_object_set_new(json_object_get(json, "canh"), "pcap",
                                json_pack("{s:s}", "file", file));
        return;
    }
    if (ev->state != FINDING_END)
        return;
    for (size_t i = 0; i < MAX_OPEN; i++)
        if (e->open[i].used && strcmp(e->open[i].finding_id, ev->finding_id) == 0)
            finish(e, &e->open[i]);
    for (size_t k = 0; k < MAX_DONE; k++) {
        const struct done_file *d = &e->done[(e->done_next - 1 - k) % MAX_DONE];
        if (strcmp(d->finding_id, ev->finding_id) != 0)
            continue;
        if (d->failed)
            return;
        char file[160];
        snprintf(file, sizeof(file), "evidence/%s", d->name);
        json_t *pcap =
            json_pack("{s:s,s:I,s:I,s:s,s:b}", "file", file, "bytes", (json_int_t)d->bytes,
                      "packets", (json_int_t)d->packets, "sha256", d->sha256, "capped", d->capped);
        json_object_set_new(json_object_get(json, "canh"), "pcap", pcap);
        return;
    }
}

void evidence_stats(const struct evidence *e, json_t *out)
{
    json_t *o = json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "ring_bytes", (json_int_t)e->cap,
        "ring_frames", (json_int_t)e->st.ring_frames, "ring_dropped",
        (json_int_t)e->st.ring_dropped, "files", (json_int_t)e->st.files, "packets",
        (json_int_t)e->st.packets, "capped_files", (json_int_t)e->st.capped, "disk_bytes",
        (json_int_t)e->disk_bytes, "disk_max_bytes", (json_int_t)e->disk_max, "removed_files",
        (json_int_t)e->st.removed_files, "removed_bytes", (json_int_t)e->st.removed_bytes,
        "write_errors", (json_int_t)e->st.write_errors, "over_budget", (json_int_t)e->st.too_big);
    json_object_set_new(o, "not_recorded_busy", json_integer((json_int_t)e->st.busy));
    json_object_set_new(out, "evidence", o);
}

void evidence_free(struct evidence *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < MAX_OPEN; i++)
        if (e->open[i].used)
            finish(e, &e->open[i]);
    free(e->ring);
    free(e->files);
    free(e);
}
