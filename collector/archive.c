/* archive.c — see archive.h. */
#include "collector/archive.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/collector.h"
#include "collector/incident.h"
#include "common/log.h"
#include "common/units.h"

#define ARCHIVE_GROUP "canh-archive"
#define ARCHIVE_BATCH 50
#define ARCHIVE_POLL_US 1000000ull
#define ARCHIVE_EXPIRE_EVERY_US (3600ull * 1000000)

/* The incident's hash and its log, in one atomic read (keys declared). */
static const char fetch_lua[] = "return {redis.call('HGETALL', KEYS[1]), "
                                "redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1000)}\n";

struct entry {
    char entry_id[48];
    char action[32];
    char id[64];
};

struct archive {
    const struct collector_config *cfg;
    struct redis_link *link;
    bool group_made, own_pending_done, busy;
    uint64_t next_poll_us, next_expire_us;
    struct entry batch[ARCHIVE_BATCH];
    size_t n, at;
    bool failed; /* a line could not be written: nothing acknowledged */
};

void archive_file_name(time_t t, char *buf, size_t len)
{
    struct tm tm;
    localtime_r(&t, &tm);
    snprintf(buf, len, "incidents-%04d-%02d.jsonl", tm.tm_year + 1900, tm.tm_mon + 1);
}

int archive_expire(const char *dir, uint32_t keep_months, time_t now)
{
    if (!keep_months)
        return 0;
    struct tm tm;
    localtime_r(&now, &tm);
    int current = (tm.tm_year + 1900) * 12 + tm.tm_mon;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int removed = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        int year, month;
        char tail[16];
        if (sscanf(de->d_name, "incidents-%4d-%2d.%15s", &year, &month, tail) != 3 ||
            strcmp(tail, "jsonl") != 0 || month < 1 || month > 12)
            continue;
        if (current - (year * 12 + month - 1) < (int)keep_months)
            continue;
        char path[600];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (unlink(path) == 0) {
            log_info("archive: removed %s (older than %u months)", path, keep_months);
            removed++;
        }
    }
    closedir(d);
    return removed;
}

static bool ends_incident(const char *action)
{
    return strcmp(action, "closed") == 0 || strcmp(action, "resolved") == 0 ||
           strcmp(action, "rejected") == 0;
}

/* "A|B" agencies → "D1|D2": their districts, in order, each once. */
static void districts_of(const struct collector_config *cfg, const char *agencies, char *out,
                         size_t size)
{
    out[0] = '\0';
    size_t used = 0;
    char agency[256];
    for (const char *p = agencies; incident_list_next(&p, '|', agency, sizeof(agency));) {
        const char *d = collector_agency_district(cfg, agency);
        if (d && !strstr(out, d) && used + strlen(d) + 2 < size)
            used += (size_t)snprintf(out + used, size - used, "%s%s", used ? "|" : "", d);
    }
}

/* One JSON line of the incident whose hash and log are in reply; 0, or
 * -1 when the file cannot be written. */
static int write_line(struct archive *a, const struct entry *e, const redisReply *reply)
{
    const redisReply *hash = reply->element[0], *log = reply->element[1];
    if (hash->type != REDIS_REPLY_ARRAY || hash->elements == 0)
        return 0; /* deleted since: nothing to keep */
    json_t *inc = json_object();
    for (size_t i = 0; i + 1 < hash->elements; i += 2)
        if (hash->element[i]->str && hash->element[i + 1]->str)
            json_object_set_new(inc, hash->element[i]->str,
                                json_stringn(hash->element[i + 1]->str, hash->element[i + 1]->len));
    json_t *steps = json_array();
    for (size_t i = 0; log->type == REDIS_REPLY_ARRAY && i < log->elements; i++) {
        const redisReply *item = log->element[i];
        if (item->type != REDIS_REPLY_ARRAY || item->elements != 2 || !item->element[0]->str)
            continue;
        json_t *step = json_object();
        json_object_set_new(step, "ts_ms", json_integer(strtoll(item->element[0]->str, NULL, 10)));
        const redisReply *f = item->element[1];
        for (size_t k = 0; f->type == REDIS_REPLY_ARRAY && k + 1 < f->elements; k += 2)
            if (f->element[k]->str && f->element[k + 1]->str)
                json_object_set_new(step, f->element[k]->str, json_string(f->element[k + 1]->str));
        json_array_append_new(steps, step);
    }
    const char *agency = json_string_value(json_object_get(inc, "agency"));
    char districts[1024];
    districts_of(a->cfg, agency ? agency : "", districts, sizeof(districts));
    uint64_t now = units_now_us();
    const char *closed = json_string_value(json_object_get(inc, "closed_us"));
    /* strtod: canh-ctl's scripts write times through Lua's tostring,
     * which turns 16 digits into "1.796253957292e+15". */
    uint64_t closed_us = closed ? (uint64_t)strtod(closed, NULL) : 0;
    char when[64], name[64], path[600];
    json_t *line =
        json_pack("{s:s,s:s,s:s,s:o,s:o}", "archived", units_format_time(now, when, sizeof(when)),
                  "action", e->action, "districts", districts, "incident", inc, "log", steps);
    archive_file_name((time_t)((closed_us ? closed_us : now) / 1000000), name, sizeof(name));
    snprintf(path, sizeof(path), "%s/%s", a->cfg->archive_dir, name);
    char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
    json_decref(line);
    if (!text)
        return -1;
    size_t len = strlen(text);
    text[len++] = '\n'; /* in place of the NUL */
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    int rc = -1;
    if (fd >= 0) {
        ssize_t n = write(fd, text, len);
        rc = n == (ssize_t)len && fsync(fd) == 0 ? 0 : -1;
        if (rc < 0 && n > 0 && n < (ssize_t)len)
            (void)!ftruncate(fd, lseek(fd, 0, SEEK_END) - n); /* no half line */
        close(fd);
    }
    if (rc < 0)
        log_err("archive: cannot write %s: %s", path, strerror(errno));
    free(text);
    return rc;
}

static void next_entry(struct archive *a);

static void on_acked(redisReply *reply, void *priv)
{
    struct archive *a = priv;
    a->busy = false;
    if (reply && reply->type == REDIS_REPLY_ERROR)
        log_err("archive: XACK failed: %s", reply->str);
}

/* The batch is written: acknowledge it (all or, after a failure, none). */
static void end_batch(struct archive *a)
{
    if (a->failed || a->n == 0) {
        a->busy = false;
        a->next_poll_us = units_now_us() + (a->failed ? 10 * ARCHIVE_POLL_US : ARCHIVE_POLL_US);
        a->failed = false;
        return;
    }
    const char *argv[3 + ARCHIVE_BATCH];
    size_t lens[3 + ARCHIVE_BATCH];
    int argc = 0;
    argv[argc++] = "XACK";
    argv[argc++] = "canh:incidents";
    argv[argc++] = ARCHIVE_GROUP;
    for (size_t i = 0; i < a->n; i++)
        argv[argc++] = a->batch[i].entry_id;
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    /* A full batch: more may wait, read again on the next tick. */
    a->next_poll_us = a->n == ARCHIVE_BATCH ? 0 : units_now_us() + ARCHIVE_POLL_US;
    if (redis_link_command(a->link, COLLECTOR_CMD, on_acked, a, argc, argv, lens) < 0)
        a->busy = false;
}

static void on_fetched(redisReply *reply, void *priv)
{
    struct archive *a = priv;
    if (!reply) {
        a->busy = false; /* the session went; the entries stay pending */
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        write_line(a, &a->batch[a->at], reply) < 0)
        a->failed = true;
    a->at++;
    next_entry(a);
}

static void next_entry(struct archive *a)
{
    while (a->at < a->n && !a->failed && !ends_incident(a->batch[a->at].action))
        a->at++;
    if (a->at >= a->n || a->failed) {
        end_batch(a);
        return;
    }
    const struct entry *e = &a->batch[a->at];
    char key[128], log_key[128];
    snprintf(key, sizeof(key), "canh:incident:%s", e->id);
    snprintf(log_key, sizeof(log_key), "canh:log:%s", e->id);
    const char *argv[] = {"EVAL", fetch_lua, "2", key, log_key};
    size_t lens[5];
    for (int i = 0; i < 5; i++)
        lens[i] = strlen(argv[i]);
    if (redis_link_command(a->link, COLLECTOR_CMD, on_fetched, a, 5, argv, lens) < 0)
        a->busy = false;
}

static void on_read(redisReply *reply, void *priv)
{
    struct archive *a = priv;
    a->n = a->at = 0;
    if (!reply) {
        a->busy = false;
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        log_err("archive: reading canh:incidents: %s", reply->str);
        a->group_made = strstr(reply->str, "NOGROUP") == NULL;
        a->busy = false;
        a->next_poll_us = units_now_us() + 10 * ARCHIVE_POLL_US;
        return;
    }
    /* [[stream, [[id, [f, v, ...]], ...]]], or nil when nothing is new. */
    const redisReply *entries = NULL;
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1 &&
        reply->element[0]->type == REDIS_REPLY_ARRAY && reply->element[0]->elements == 2)
        entries = reply->element[0]->element[1];
    for (size_t i = 0; entries && i < entries->elements && a->n < ARCHIVE_BATCH; i++) {
        const redisReply *item = entries->element[i];
        if (item->type != REDIS_REPLY_ARRAY || item->elements != 2 || !item->element[0]->str)
            continue;
        struct entry *e = &a->batch[a->n++];
        memset(e, 0, sizeof(*e));
        snprintf(e->entry_id, sizeof(e->entry_id), "%s", item->element[0]->str);
        const redisReply *f = item->element[1];
        for (size_t k = 0; f->type == REDIS_REPLY_ARRAY && k + 1 < f->elements; k += 2) {
            const char *name = f->element[k]->str, *value = f->element[k + 1]->str;
            if (!name || !value)
                continue;
            if (strcmp(name, "action") == 0)
                snprintf(e->action, sizeof(e->action), "%s", value);
            else if (strcmp(name, "id") == 0)
                snprintf(e->id, sizeof(e->id), "%s", value);
        }
    }
    /* Our own pending entries first (a crash between write and ack), then
     * new ones. */
    if (!a->own_pending_done && a->n == 0)
        a->own_pending_done = true;
    next_entry(a);
}

static void on_group(redisReply *reply, void *priv)
{
    struct archive *a = priv;
    a->busy = false;
    if (!reply)
        return;
    if (reply->type == REDIS_REPLY_ERROR && !strstr(reply->str, "BUSYGROUP")) {
        log_err("archive: cannot create group " ARCHIVE_GROUP " on canh:incidents: %s", reply->str);
        a->next_poll_us = units_now_us() + 10 * ARCHIVE_POLL_US;
        return;
    }
    a->group_made = true;
    a->next_poll_us = 0;
}

void archive_tick(struct archive *a)
{
    if (!a || !a->cfg->archive_dir[0])
        return;
    uint64_t now = units_now_us();
    if (now >= a->next_expire_us) {
        a->next_expire_us = now + ARCHIVE_EXPIRE_EVERY_US;
        archive_expire(a->cfg->archive_dir, a->cfg->archive_retention_months,
                       (time_t)(now / 1000000));
    }
    if (a->busy || now < a->next_poll_us || !redis_link_up(a->link))
        return;
    a->busy = true;
    if (!a->group_made) {
        /* From the stream's start: what it still holds is archived too. */
        const char *argv[] = {"XGROUP", "CREATE", "canh:incidents", ARCHIVE_GROUP, "0", "MKSTREAM"};
        size_t lens[6];
        for (int i = 0; i < 6; i++)
            lens[i] = strlen(argv[i]);
        if (redis_link_command(a->link, COLLECTOR_CMD, on_group, a, 6, argv, lens) < 0)
            a->busy = false;
        return;
    }
    char count[16];
    snprintf(count, sizeof(count), "%d", ARCHIVE_BATCH);
    const char *argv[] = {"XREADGROUP",     "GROUP",          ARCHIVE_GROUP,
                          a->cfg->consumer, "COUNT",          count,
                          "STREAMS",        "canh:incidents", a->own_pending_done ? ">" : "0"};
    size_t lens[9];
    for (int i = 0; i < 9; i++)
        lens[i] = strlen(argv[i]);
    if (redis_link_command(a->link, COLLECTOR_CMD, on_read, a, 9, argv, lens) < 0)
        a->busy = false;
}

void archive_session_lost(struct archive *a)
{
    if (!a)
        return;
    a->busy = false;
    a->own_pending_done = false;
    a->n = a->at = 0;
    a->failed = false;
}

bool archive_idle(const struct archive *a)
{
    return !a || !a->busy;
}

struct archive *archive_new(const struct collector_config *cfg, struct redis_link *link)
{
    struct archive *a = calloc(1, sizeof(*a));
    if (!a) {
        log_err("archive: out of memory");
        return NULL;
    }
    a->cfg = cfg;
    a->link = link;
    return a;
}

void archive_reconfigure(struct archive *a, const struct collector_config *cfg)
{
    if (a)
        a->cfg = cfg;
}

void archive_free(struct archive *a)
{
    free(a);
}
