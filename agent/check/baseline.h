/* baseline.h — what a checked URL looked like when it was good, kept in
 * the state dir across restarts (architecture §4.9).
 *
 * One small text file per URL, <state_dir>/checks/<id>, written to a
 * temporary name and renamed, so a crash leaves the old or the new one.
 * The page part is learned from the first good fetch (or from the first
 * fetch matching a pinned check_baseline); the TLS part from the first
 * verified handshake, and again at each renewal.  Deleting the file and
 * sending SIGHUP makes the agent learn the page again.
 */
#ifndef CANH_CHECK_BASELINE_H
#define CANH_CHECK_BASELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/check/cert.h"
#include "agent/check/page.h"

struct check_baseline {
    bool have_page;
    struct page_facts page;
    uint64_t masks_id; /* of the check_mask list the page was learned with */
    bool have_tls;
    struct cert_facts tls;
};

/* The file of (asset, url) under state_dir, into path. */
void baseline_path(const char *state_dir, const char *asset, const char *url, char *path,
                   size_t size);
/* 0 with b filled (or emptied when there is no file), -1 on a read error. */
int baseline_load(const char *path, struct check_baseline *b);
/* 0, or -1 with errno set. */
int baseline_save(const char *path, const char *asset, const char *url,
                  const struct check_baseline *b);

#endif
