/* values.c — see values.h.  The unit grammar is units.c's; here are the
 * ranges every file shares and the wording of every value mistake. */
#include "common/values.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/units.h"

int cfg_fail(struct cfg_err *err, const char *file, int line, const char *fmt, ...)
{
    char text[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (line > 0)
        snprintf(err->msg, sizeof(err->msg), "%s:%d: %s", file, line, text);
    else
        snprintf(err->msg, sizeof(err->msg), "%s: %s", file, text);
    return -1;
}

int value_fail(const struct cfg_at *at, const char *fmt, ...)
{
    char text[560];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    return cfg_fail(at->err, at->file, at->line, "%s: %s", at->key, text);
}

static const char *const severity_names[] = {"none", "low", "medium", "high", "critical"};

const char *severity_name(enum severity s)
{
    return (unsigned)s < 5 ? severity_names[s] : "none";
}

int severity_parse(const char *text, enum severity *out)
{
    for (int i = SEV_LOW; i <= SEV_CRITICAL; i++) {
        if (strcasecmp(text, severity_names[i]) == 0) {
            *out = (enum severity)i;
            return 0;
        }
    }
    return -1;
}

int value_duration(const struct cfg_at *at, const char *text, uint64_t min_us, uint64_t *out_us)
{
    uint64_t us;
    if (units_parse_duration_us(text, &us) < 0)
        return value_fail(at, "'%s' is not a duration (e.g. 500ms, 60s, 5m, 1h)", text);
    if (us < min_us) {
        if (min_us == 1)
            return value_fail(at, "'%s' must be longer than 0", text);
        return value_fail(at, "'%s' is shorter than %gs", text, (double)min_us / 1e6);
    }
    *out_us = us;
    return 0;
}

int value_size(const struct cfg_at *at, const char *text, uint64_t *out_bytes)
{
    if (units_parse_size_bytes(text, out_bytes) < 0)
        return value_fail(at, "'%s' is not a size (e.g. 4KiB, 256MiB)", text);
    return 0;
}

int value_mb(const struct cfg_at *at, const char *text, uint64_t *out_bytes)
{
    uint64_t mb;
    if (units_parse_count(text, &mb) < 0 || mb > (1u << 20))
        return value_fail(at, "'%s' is not a size in MiB (a whole number)", text);
    *out_bytes = mb << 20;
    return 0;
}

int value_rate(const struct cfg_at *at, const char *text, double *out_per_s)
{
    if (units_parse_rate_per_s(text, out_per_s) < 0)
        return value_fail(at, "'%s' is not a rate (e.g. 200/s, 30/m)", text);
    return 0;
}

int value_ratio(const struct cfg_at *at, const char *text, double *out)
{
    double v;
    if (units_parse_ratio(text, &v) < 0 || v > 1)
        return value_fail(at, "'%s' is not a ratio from 0 to 1 (e.g. 0.8 or 80%%)", text);
    *out = v;
    return 0;
}

int value_multiple(const struct cfg_at *at, const char *text, double *out)
{
    if (units_parse_ratio(text, out) < 0)
        return value_fail(at, "'%s' is not a factor (e.g. 4 or 2.5)", text);
    return 0;
}

int value_count(const struct cfg_at *at, const char *text, uint64_t min, uint64_t max,
                uint64_t *out)
{
    uint64_t v;
    if (units_parse_count(text, &v) < 0)
        return value_fail(at, "'%s' is not a whole number", text);
    if (v < min || v > max) {
        if (max == UINT64_MAX)
            return value_fail(at, "%s is below the minimum of %llu", text, (unsigned long long)min);
        return value_fail(at, "%s is out of range (%llu to %llu)", text, (unsigned long long)min,
                          (unsigned long long)max);
    }
    *out = v;
    return 0;
}

int value_bool(const struct cfg_at *at, const char *text, bool *out)
{
    int b;
    if (units_parse_bool(text, &b) < 0)
        return value_fail(at, "'%s' is not yes or no", text);
    *out = b;
    return 0;
}

int value_level(const struct cfg_at *at, const char *text, int *out)
{
    uint64_t v;
    if (units_parse_count(text, &v) < 0 || v < 1 || v > 5)
        return value_fail(at, "'%s' is not a level from 1 to 5 (Decree 85/2016)", text);
    *out = (int)v;
    return 0;
}

int value_severity(const struct cfg_at *at, const char *text, enum severity *out)
{
    if (severity_parse(text, out) < 0)
        return value_fail(at, "'%s' is not one of low, medium, high, critical", text);
    return 0;
}

int value_log_level(const struct cfg_at *at, const char *text, int *out)
{
    enum log_level level;
    if (log_level_parse(text, &level) < 0)
        return value_fail(at, "'%s' is not one of error, warning, info, debug", text);
    *out = (int)level;
    return 0;
}

int value_netset(const struct cfg_at *at, const char *text, struct netset *out)
{
    char bad[80];
    struct netset parsed;
    if (netset_parse(text, &parsed, bad, sizeof(bad)) < 0)
        return value_fail(at, "'%s' is not an address or prefix", bad);
    netset_free(out);
    *out = parsed;
    return 0;
}

int value_string(const struct cfg_at *at, const char *text, char *dst, size_t size)
{
    size_t n = strlen(text);
    if (n >= size)
        return value_fail(at, "too long (at most %zu characters)", size - 1);
    memcpy(dst, text, n + 1);
    return 0;
}

bool value_is_name(const char *text)
{
    for (const char *p = text; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
            return false;
    return *text != '\0';
}

int value_name(const struct cfg_at *at, const char *text, char *dst, size_t size)
{
    if (!*text)
        return value_fail(at, "must not be empty");
    if (!value_is_name(text))
        return value_fail(at, "'%s' may only use letters, digits, '-', '_' and '.'", text);
    return value_string(at, text, dst, size);
}

int value_ports(const struct cfg_at *at, const char *text, uint16_t *ports, size_t max, size_t *n)
{
    static const char sep[] = ", \t";
    *n = 0;
    for (const char *p = text + strspn(text, sep); *p; p += strspn(p, sep)) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 65535 || *n >= max || (*end && !strchr(sep, *end)))
            return value_fail(at, "'%s' is not a list of up to %zu ports", text, max);
        ports[(*n)++] = (uint16_t)v;
        p = end;
    }
    return 0;
}

int value_listen_split(const char *text, char *host, size_t host_len, uint16_t *port)
{
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text)
        return -1;
    const char *h = text;
    size_t n = (size_t)(colon - text);
    if (*h == '[') { /* [::1]:8088 */
        if (n < 3 || h[n - 1] != ']')
            return -1;
        h++;
        n -= 2;
    } else if (memchr(h, ':', n)) {
        return -1; /* a bare IPv6 address needs brackets */
    }
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (n == 0 || n >= host_len || *end || colon[1] == '\0' || p < 0 || p > 65535)
        return -1;
    memcpy(host, h, n);
    host[n] = '\0';
    *port = (uint16_t)p;
    return 0;
}

int value_listen(const struct cfg_at *at, const char *text, char *dst, size_t size)
{
    char host[128];
    uint16_t port;
    if (*text && value_listen_split(text, host, sizeof(host), &port) < 0)
        return value_fail(at, "'%s' is not host:port (IPv6 in brackets: [::1]:9465)", text);
    return value_string(at, text, dst, size);
}

int value_listen_try_bind(const char *text, char *why, size_t why_len)
{
    char host[128], service[8];
    uint16_t port;
    if (value_listen_split(text, host, sizeof(host), &port) < 0) {
        snprintf(why, why_len, "'%s' is not host:port", text);
        return -1;
    }
    snprintf(service, sizeof(service), "%u", port);
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(host, service, &hints, &ai);
    if (gai != 0) {
        snprintf(why, why_len, "cannot resolve '%s': %s", host, gai_strerror(gai));
        return -1;
    }
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    int one = 1, rc = -1, err = 0;
    if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
        bind(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        rc = 0;
    else
        err = errno;
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    if (rc == 0)
        return 0;
    snprintf(why, why_len, "cannot bind %s: %s%s", text, strerror(err),
             err == EADDRINUSE      ? " (another process holds it)"
             : err == EADDRNOTAVAIL ? " (not an address of this host)"
             : err == EACCES        ? " (ports below 1024 need CAP_NET_BIND_SERVICE)"
                                    : "");
    return -1;
}
