/* check.h — active checks of monitored pages (architecture §4.9,
 * docs/rules-http.md "Active checks").
 *
 * For every URL of an asset's "check =" (assets.conf), every
 * check_interval: resolve the name, connect, verify TLS, GET the page
 * (fetch.c, libcurl on the agent's libevent loop, never blocking the
 * capture), reduce the page to facts (page.c, cert.c), compare them with
 * the URL's baseline (baseline.c) and report findings through the agent's
 * normal event path with the usual lifecycle (verdict.c):
 *
 *   page_changed      the masked body's hash differs from the baseline
 *   defacement        a defacement marker appeared (attack.defacement)
 *   content_injected  a script or frame from a host not in the baseline
 *   dns_changed       the name resolved outside check_expect_addresses
 *   tls_changed       a new key or issuer without a renewal, a failed
 *                     verification (attack.spoofing), or expiry within
 *                     14 days (operator.software)
 *   site_down         consecutive failures or error answers
 *
 * Their rules (taxonomy, severity, update_interval, hold_down) are the
 * "check" detector's in rules/check.rules, or built-in ones.
 */
#ifndef CANH_CHECK_H
#define CANH_CHECK_H

#include <event2/event.h>
#include <jansson.h>
#include <stdint.h>

#include "agent/pipeline.h"

struct check;

/* Reads the assets of pl and schedules their checks on base.  libcurl is
 * loaded only when an asset declares a URL (now or at a reload).  NULL
 * with why set when it cannot be loaded, or on allocation failure (no
 * checks declared is not an error). */
struct check *check_new(struct event_base *base, const struct agent_config *cfg,
                        struct pipeline *pl, char *why, size_t size);
/* After a successful pipeline_reload: new URLs start, removed ones end
 * their findings, kept ones keep their state and re-read their baseline.
 * The first URLs of an agent started without any load libcurl; when that
 * fails the error is logged and the list stays as it was. */
void check_reload(struct check *c);
/* Shutdown: cancel fetches, end every open finding at now. */
void check_finish(struct check *c, uint64_t now_us);
/* "checks": URLs, done, failed, latency; pipeline_stats (the heartbeat)
 * adds it while the check exists. */
void check_stats(struct check *c, json_t *out);
void check_free(struct check *c);

#endif
