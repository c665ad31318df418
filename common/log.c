/* log.c — see log.h. */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *log_progname = "canh";
static enum log_level log_threshold = LOG_LEVEL_INFO;
static int log_to_journal;

void log_init(const char *progname, enum log_level level)
{
    log_progname = progname;
    log_threshold = level;
    log_to_journal = getenv("JOURNAL_STREAM") != NULL;
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

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level > log_threshold)
        return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
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
