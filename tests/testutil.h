/* testutil.h — shared helpers for the Check suites. */
#ifndef CANH_TESTUTIL_H
#define CANH_TESTUTIL_H

#include <check.h>
#include <jansson.h>
#include <stddef.h>

/* FIXTURES_DIR "/" name, in a static buffer. */
const char *fixture_path(const char *name);

/* Write text to a fresh file under a temp dir; returns its path (static
 * ring of a few buffers, so several may be live at once). */
const char *write_temp_file(const char *name, const char *text);

/* Replay a capture through a whole pipeline (decode, every detector,
 * enrich) with built-in defaults; rules_dir/assets may be NULL for the
 * shipped rules and no assets.  Returns a JSON array of the events (new
 * reference) or NULL when the pipeline could not start (err_out filled). */
json_t *run_pcap(const char *pcap_path, const char *rules_dir, const char *assets_file,
                 char *err_out, size_t err_len);

/* Events of the array with canh.kind == kind and canh.state == state
 * (state NULL: any). */
size_t count_events(json_t *events, const char *kind, const char *state);

/* Peak resident memory, for tests that promise memory stays flat:
 * rss_peak_reset() restarts the kernel's high-water mark (VmHWM, through
 * /proc/self/clear_refs) and returns the resident size now, in KiB;
 * rss_peak_kib() reads the mark.  Both return -1 when /proc cannot tell.
 * Under ASan the figures include shadow memory and the free quarantine, so
 * they still grow when the code under test allocates. */
long rss_peak_reset(void);
long rss_peak_kib(void);

/* Run every case of s (the runner owns it from here) with Check's normal
 * output: EXIT_SUCCESS when all passed, else EXIT_FAILURE.  The whole
 * main() of most suites. */
int run_suite(Suite *s);

#endif
