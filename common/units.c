/* units.c — see units.h. */
#include "common/units.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* A number followed by an optional suffix; the suffix is returned trimmed. */
static int split_number(const char *text, double *num, const char **suffix)
{
    while (isspace((unsigned char)*text))
        text++;
    if (!isdigit((unsigned char)*text) && *text != '.')
        return -1;
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || !isfinite(v) || v < 0)
        return -1;
    while (isspace((unsigned char)*end))
        end++;
    *num = v;
    *suffix = end;
    return 0;
}

static int suffix_is(const char *suffix, const char *want)
{
    size_t n = strlen(want);
    if (strncasecmp(suffix, want, n) != 0)
        return 0;
    for (const char *p = suffix + n; *p; p++)
        if (!isspace((unsigned char)*p))
            return 0;
    return 1;
}

struct unit_scale {
    const char *suffix;
    double mult;
};

/* A number times the multiplier of its suffix, rounded; -1 for an unknown
 * suffix or a result above limit. */
static int parse_scaled(const char *text, const struct unit_scale *units, size_t n, double limit,
                        uint64_t *out)
{
    double v;
    const char *suffix;
    if (split_number(text, &v, &suffix) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (suffix_is(suffix, units[i].suffix)) {
            double scaled = v * units[i].mult;
            if (scaled > limit)
                return -1;
            *out = (uint64_t)llround(scaled);
            return 0;
        }
    }
    return -1;
}

int units_parse_duration_us(const char *text, uint64_t *out_us)
{
    static const struct unit_scale units[] = {{"us", 1},     {"ms", 1e3},    {"s", 1e6},
                                              {"sec", 1e6},  {"m", 60e6},    {"min", 60e6},
                                              {"h", 3600e6}, {"d", 86400e6}, {"", 1e6}};
    return parse_scaled(text, units, sizeof(units) / sizeof(units[0]), 1e17, out_us);
}

int units_parse_rate_per_s(const char *text, double *out_per_s)
{
    double v;
    const char *suffix;
    if (split_number(text, &v, &suffix) < 0)
        return -1;
    if (*suffix == '\0') {
        *out_per_s = v;
        return 0;
    }
    if (*suffix != '/')
        return -1;
    uint64_t per_us;
    const char *unit = suffix + 1;
    /* "/s" means per one second: put a 1 in front so the duration parser
     * reads the unit. */
    char buf[32];
    if (snprintf(buf, sizeof(buf), "1%s", unit) >= (int)sizeof(buf))
        return -1;
    if (units_parse_duration_us(buf, &per_us) < 0 || per_us == 0)
        return -1;
    *out_per_s = v * 1e6 / (double)per_us;
    return 0;
}

int units_parse_ratio(const char *text, double *out)
{
    double v;
    const char *suffix;
    if (split_number(text, &v, &suffix) < 0)
        return -1;
    if (suffix_is(suffix, "%"))
        v /= 100.0;
    else if (*suffix)
        return -1;
    *out = v;
    return 0;
}

int units_parse_size_bytes(const char *text, uint64_t *out_bytes)
{
    static const struct unit_scale units[] = {
        {"", 1},           {"b", 1},           {"k", 1024},        {"kb", 1024},
        {"kib", 1024},     {"m", 1048576},     {"mb", 1048576},    {"mib", 1048576},
        {"g", 1073741824}, {"gb", 1073741824}, {"gib", 1073741824}};
    return parse_scaled(text, units, sizeof(units) / sizeof(units[0]), 1e18, out_bytes);
}

int units_parse_count(const char *text, uint64_t *out)
{
    while (isspace((unsigned char)*text))
        text++;
    if (!isdigit((unsigned char)*text))
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    while (isspace((unsigned char)*end))
        end++;
    if (errno || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

int units_parse_bool(const char *text, int *out)
{
    static const char *yes[] = {"yes", "true", "on", "1"};
    static const char *no[] = {"no", "false", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

int units_parse_time_us(const char *text, uint64_t *out_us)
{
    const char *p = text;
    int year, mon, day, hour, min, sec;
    if (digits(&p, 4, &year) < 0 || *p++ != '-' || digits(&p, 2, &mon) < 0 || *p++ != '-' ||
        digits(&p, 2, &day) < 0 || (*p != 'T' && *p != ' '))
        return -1;
    p++;
    if (digits(&p, 2, &hour) < 0 || *p++ != ':' || digits(&p, 2, &min) < 0 || *p++ != ':' ||
        digits(&p, 2, &sec) < 0)
        return -1;
    if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
        return -1;
    uint64_t frac_us = 0;
    if (*p == '.') {
        p++;
        int n = 0;
        for (; isdigit((unsigned char)*p); p++, n++)
            if (n < 6)
                frac_us = frac_us * 10 + (uint64_t)(*p - '0');
        if (n == 0)
            return -1;
        for (; n < 6; n++)
            frac_us *= 10;
    }
    long offset_s = 0;
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (digits(&p, 2, &oh) < 0)
            return -1;
        if (*p == ':')
            p++;
        if (digits(&p, 2, &om) < 0 || oh > 23 || om > 59)
            return -1;
        offset_s = sign * (oh * 3600L + om * 60L);
    } else {
        return -1;
    }
    if (*p)
        return -1;
    struct tm tm = {.tm_year = year - 1900,
                    .tm_mon = mon - 1,
                    .tm_mday = day,
                    .tm_hour = hour,
                    .tm_min = min,
                    .tm_sec = sec};
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || (long)t - offset_s < 0)
        return -1;
    *out_us = (uint64_t)((long)t - offset_s) * 1000000u + frac_us;
    return 0;
}

const char *units_format_time(uint64_t ts_us, char *buf, size_t len)
{
    /* The local minute's text is kept ("2026-11-23T08:16:" and "+0700"):
     * an event's three times mostly share their minute, and localtime_r +
     * strftime were a tenth of the agent's cost per event
     * (docs/performance.md).  A zone's offset changes on a minute's
     * boundary (docs/decisions.md). */
    static __thread struct {
        time_t minute; /* the local minute's first second, UTC */
        bool valid;
        char date[32], zone[8];
    } last;
    time_t secs = (time_t)(ts_us / 1000000);
    int sec;
    if (last.valid && secs >= last.minute && secs - last.minute < 60) {
        sec = (int)(secs - last.minute);
    } else {
        struct tm tm;
        localtime_r(&secs, &tm);
        strftime(last.date, sizeof(last.date), "%Y-%m-%dT%H:%M:", &tm);
        strftime(last.zone, sizeof(last.zone), "%z", &tm);
        sec = tm.tm_sec;
        last.valid = tm.tm_sec < 60; /* a leap second's minute is not kept */
        last.minute = secs - tm.tm_sec;
    }
    unsigned us = (unsigned)(ts_us % 1000000);
    char tail[10] = {(char)('0' + sec / 10), (char)('0' + sec % 10), '.'};
    for (int i = 8; i >= 3; i--, us /= 10)
        tail[i] = (char)('0' + us % 10);
    size_t d = strlen(last.date), z = strlen(last.zone);
    if (len < d + 9 + z + 1) {
        snprintf(buf, len, "%s%.9s%s", last.date, tail, last.zone);
        return buf;
    }
    memcpy(buf, last.date, d);
    memcpy(buf + d, tail, 9);
    memcpy(buf + d + 9, last.zone, z + 1);
    return buf;
}

uint64_t units_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
