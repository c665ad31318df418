/* units.h — values with units as rule and config files write them, and
 * timestamps as events print them.
 *
 *   durations: "500ms", "60s", "5m", "1h", "1d" (a bare number is seconds)
 *   rates:     "200/s", "30/m", "5/h" (a bare number is per second)
 *   sizes:     "512", "64k", "64KiB", "256MB", "1GiB" (binary multiples)
 *   ratios:    "0.8", "80%" (nothing may follow the %)
 *   counts:    non-negative integers
 */
#ifndef CANH_UNITS_H
#define CANH_UNITS_H

#include <stddef.h>
#include <stdint.h>

int units_parse_duration_us(const char *text, uint64_t *out_us);
int units_parse_rate_per_s(const char *text, double *out_per_s);
int units_parse_size_bytes(const char *text, uint64_t *out_bytes);
int units_parse_ratio(const char *text, double *out);
int units_parse_count(const char *text, uint64_t *out);
int units_parse_bool(const char *text, int *out);

/* "2026-11-23T08:16:14.123456+0700" (also Z, +07:00, no fraction) to
 * microseconds since the epoch; -1 on anything else. */
int units_parse_time_us(const char *text, uint64_t *out_us);
/* "2026-11-23T08:16:14.123456+0700" in local time; buf >= 40 bytes. */
const char *units_format_time(uint64_t ts_us, char *buf, size_t len);

/* Wall-clock microseconds. */
uint64_t units_now_us(void);

#endif
