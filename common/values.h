/* values.h — typed configuration values and the "file:line: message" they
 * report (architecture §7).
 *
 * agent.conf, assets.conf, rule files and collector.conf all turn text into
 * values here, so a duration, a ratio or a port list means the same thing
 * in every file and a mistake reads the same way wherever it is made.  The
 * unit arithmetic itself is common/units.c; this layer adds the ranges and
 * the messages.  Each value_* function parses text for the key named in a
 * struct cfg_at and returns 0, or fills at->err with
 * "file:line: key: 'text' is not ..." and returns -1.
 */
#ifndef CANH_VALUES_H
#define CANH_VALUES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"

struct cfg_err {
    char msg[768];
};

/* Formats "file:line: message" (line 0: "file: message"); returns -1. */
int cfg_fail(struct cfg_err *err, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Where a value was written, for its error message. */
struct cfg_at {
    struct cfg_err *err;
    const char *file;
    int line;
    const char *key;
};

/* cfg_fail at the value's file:line, the message prefixed with "key: ". */
int value_fail(const struct cfg_at *at, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

enum severity { SEV_NONE = 0, SEV_LOW = 1, SEV_MEDIUM = 2, SEV_HIGH = 3, SEV_CRITICAL = 4 };
const char *severity_name(enum severity s);
int severity_parse(const char *text, enum severity *out);

/* Durations ("500ms", "60s", "5m"; bare number: seconds) of at least min_us. */
int value_duration(const struct cfg_at *at, const char *text, uint64_t min_us, uint64_t *out_us);
/* Sizes ("64KiB", "256MB"; bare number: bytes). */
int value_size(const struct cfg_at *at, const char *text, uint64_t *out_bytes);
/* A whole number of MiB (keys named *_mb), returned in bytes. */
int value_mb(const struct cfg_at *at, const char *text, uint64_t *out_bytes);
/* Rates ("200/s", "30/m"; bare number: per second). */
int value_rate(const struct cfg_at *at, const char *text, double *out_per_s);
/* Shares from 0 to 1: "0.8" or "80%". */
int value_ratio(const struct cfg_at *at, const char *text, double *out);
/* Factors of 0 or more ("4", "2.5"; "250%" too). */
int value_multiple(const struct cfg_at *at, const char *text, double *out);
/* Whole numbers from min to max. */
int value_count(const struct cfg_at *at, const char *text, uint64_t min, uint64_t max,
                uint64_t *out);
int value_bool(const struct cfg_at *at, const char *text, bool *out);
/* Security levels 1..5 (Decree 85/2016). */
int value_level(const struct cfg_at *at, const char *text, int *out);
/* low, medium, high, critical. */
int value_severity(const struct cfg_at *at, const char *text, enum severity *out);
/* error, warning, info, debug (enum log_level). */
int value_log_level(const struct cfg_at *at, const char *text, int *out);
/* "10.0.0.5, 10.0.0.0/24, 2001:db8::/32"; out is replaced. */
int value_netset(const struct cfg_at *at, const char *text, struct netset *out);
/* Text of at most size - 1 bytes. */
int value_string(const struct cfg_at *at, const char *text, char *dst, size_t size);
/* A non-empty name of letters, digits, '-', '_' and '.' (ids, Redis keys). */
int value_name(const struct cfg_at *at, const char *text, char *dst, size_t size);
bool value_is_name(const char *text);
/* "80, 443, 8080": up to max ports from 1 to 65535. */
int value_ports(const struct cfg_at *at, const char *text, uint16_t *ports, size_t max, size_t *n);

/* Listen addresses "127.0.0.1:9465", "[::1]:9465", "localhost:9465". */
int value_listen_split(const char *text, char *host, size_t host_len, uint16_t *port);
int value_listen(const struct cfg_at *at, const char *text, char *dst, size_t size);
/* Whether a listen address can be bound now (as evhttp_bind_socket does:
 * the first passive address, SO_REUSEADDR); 0, or -1 with why filled
 * ("Address already in use (another process holds it)"). */
int value_listen_try_bind(const char *text, char *why, size_t why_len);

#endif
