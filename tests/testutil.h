/* testutil.h — shared helpers for the Check suites. */
#ifndef CANH_TESTUTIL_H
#define CANH_TESTUTIL_H

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

#endif
