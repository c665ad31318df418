/* log.c — see log.h.
 *
 * Repeated lines are rate-limited here, for every program: a line
 * identical to one printed recently (same level and text) is printed at
 * most LOG_REPEAT_BURST times per LOG_REPEAT_WINDOW; the rest are counted
 * and announced once as "message repeated N times: ..." when the window
 * ends (on the next log call, or at exit).  A fault that makes one call
 * site spin (an accept loop out of descriptors, a reconnect that fails at
 * once) then costs a few lines a window instead of filling the journal.
 */
#include "common/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG_REPEAT_SLOTS 16
#define LOG_REPEAT_BURST 5
#define LOG_REPEAT_WINDOW_NS (10ull * 1000000000ull)

static const char *log_progname = "canh";
static enum log_level log_threshold = LOG_LEVEL_INFO;
static int log_to_journal;

/* A line printed recently: its hash, its window and what was held back. */
struct log_repeat {
    uint64_t hash;
    uint64_t window_start_ns;
    uint64_t last_ns;
    unsigned printed;    /* in this window */
    uint64_t suppressed; /* in this window */
    enum log_level level;
    char text[160]; /* the start of the line, for the summary */
};

static struct log_repeat log_repeats[LOG_REPEAT_SLOTS];
static bool log_atexit_set;

static uint64_t log_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* FNV-1a over level and text. */
static uint64_t log_hash(enum log_level level, const char *text)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)level;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h ? h : 1;
}

static void log_write(enum log_level level, const char *line)
{
    if (log_to_journal) {
        fprintf(stderr, "<%d>%s\n", (int)level, line);
    } else {
        const char *tag = level == LOG_LEVEL_ERR     ? "error: "
                          : level == LOG_LEVEL_WARN  ? "warning: "
                          : level == LOG_LEVEL_DEBUG ? "debug: "
                                                     : "";
        fprintf(stderr, "%s: %s%s\n", log_progname, tag, line);
    }
}

static void log_summary(struct log_repeat *r)
{
    if (!r->suppressed)
        return;
    char line[256];
    snprintf(line, sizeof(line), "message repeated %llu times in %llu s: %s",
             (unsigned long long)r->suppressed,
             (unsigned long long)((r->last_ns - r->window_start_ns) / 1000000000ull + 1), r->text);
    log_write(r->level, line);
    r->suppressed = 0;
}

/* Announce the held-back counts of windows that ended. */
static void log_expire(uint64_t now_ns, bool all)
{
    for (size_t i = 0; i < LOG_REPEAT_SLOTS; i++) {
        struct log_repeat *r = &log_repeats[i];
        if (r->hash && (all || now_ns - r->window_start_ns >= LOG_REPEAT_WINDOW_NS)) {
            log_summary(r);
            if (!all)
                r->hash = 0;
        }
    }
}

void log_flush(void)
{
    log_expire(log_now_ns(), true);
    fflush(stderr);
}

void log_init(const char *progname, enum log_level level)
{
    log_progname = progname;
    log_threshold = level;
    log_to_journal = getenv("JOURNAL_STREAM") != NULL;
    memset(log_repeats, 0, sizeof(log_repeats));
    if (!log_atexit_set && atexit(log_flush) == 0)
        log_atexit_set = true;
}

int log_level_parse(const char *name, enum log_level *out)
{
    static const struct {
        const char *name;
        enum log_level level;
    } names[] = {{"error", LOG_LEVEL_ERR},
                 {"warning", LOG_LEVEL_WARN},
                 {"warn", LOG_LEVEL_WARN},
                 {"info", LOG_LEVEL_INFO},
                 {"debug", LOG_LEVEL_DEBUG}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(name, names[i].name) == 0) {
            *out = names[i].level;
            return 0;
        }
    }
    return -1;
}

void log_set_level(enum log_level level)
{
    log_threshold = level;
}
enum log_level log_get_level(void)
{
    return log_threshold;
}

/* Whether line may be printed now; counts it otherwise. */
static bool log_admit(enum log_level level, const char *line)
{
    uint64_t now = log_now_ns();
    log_expire(now, false);
    uint64_t h = log_hash(level, line);
    struct log_repeat *slot = NULL, *oldest = &log_repeats[0];
    for (size_t i = 0; i < LOG_REPEAT_SLOTS; i++) {
        struct log_repeat *r = &log_repeats[i];
        if (r->hash == h) {
            slot = r;
            break;
        }
        if (!r->hash || (oldest->hash && r->last_ns < oldest->last_ns))
            oldest = r;
    }
    if (!slot) {
        /* A new line: it takes the least recently used slot, whose held
         * back count is told first so that nothing goes unsaid. */
        log_summary(oldest);
        slot = oldest;
        memset(slot, 0, sizeof(*slot));
        slot->hash = h;
        slot->level = level;
        slot->window_start_ns = now;
        size_t n = strnlen(line, sizeof(slot->text) - 1);
        memcpy(slot->text, line, n);
        slot->text[n] = '\0';
    }
    slot->last_ns = now;
    if (slot->printed < LOG_REPEAT_BURST) {
        slot->printed++;
        return true;
    }
    slot->suppressed++;
    return false;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level > log_threshold)
        return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (log_admit(level, line))
        log_write(level, line);
}

void log_libevent(int severity, const char *msg)
{
    /* libevent's EVENT_LOG_DEBUG .. EVENT_LOG_ERR are 0 .. 3. */
    enum log_level level = severity >= 3   ? LOG_LEVEL_ERR
                           : severity == 2 ? LOG_LEVEL_WARN
                           : severity == 1 ? LOG_LEVEL_INFO
                                           : LOG_LEVEL_DEBUG;
    log_msg(level, "libevent: %s", msg);
}
