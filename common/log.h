/* log.h — levelled logging to stderr.
 *
 * Under systemd stderr goes to the journal; when JOURNAL_STREAM is set the
 * lines carry the kernel-style "<N>" priority prefix the journal
 * understands, otherwise a readable "canh-agent: warning: ..." prefix.
 *
 * Identical lines are rate-limited: at most 5 in 10 s each, the rest
 * counted and told once as "message repeated N times in S s: <line>".
 */
#ifndef CANH_LOG_H
#define CANH_LOG_H

enum log_level { LOG_LEVEL_ERR = 3, LOG_LEVEL_WARN = 4, LOG_LEVEL_INFO = 6, LOG_LEVEL_DEBUG = 7 };

void log_init(const char *progname, enum log_level level);
/* "error", "warning", "info", "debug"; returns -1 for anything else. */
int log_level_parse(const char *name, enum log_level *out);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Tells the held-back counts of repeated lines now (also run at exit). */
void log_flush(void);
/* For event_set_log_callback(): libevent's own warnings through log_msg,
 * rate-limited like every other line. */
void log_libevent(int severity, const char *msg);

#define log_err(...) log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
