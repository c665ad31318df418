/* syslog.h — RFC 5424 messages to the SOC's SIEM, over UDP or TCP.
 *
 * syslog_format builds one message (PRI, version 1, RFC 3339 time of
 * sending, host, app, msgid, one structured-data element with the
 * incident's fields and its event times, a UTF-8 text with BOM).  The
 * element's SD-ID is the route's sd_id, by default canh@32473: 32473 is the
 * private enterprise number RFC 5612 reserves for documentation, so a
 * deployment sets its own.  UDP sends one datagram per message (RFC 5426);
 * TCP uses octet-counting framing (RFC 6587) on one kept connection.
 * syslog_sink_ops is the escalation sink (sink.h) built on them: it
 * resolves the route's host at its first delivery, and again after a failed
 * resolution, so a SIEM missing at start delays deliveries only.
 */
#ifndef CANH_COLLECTOR_SYSLOG_H
#define CANH_COLLECTOR_SYSLOG_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/incident.h"
#include "collector/sinks/sink.h"

#define SYSLOG_FACILITY 16 /* local0 */

/* Returns the length written (always NUL-terminated, truncated to len). */
size_t syslog_format(char *buf, size_t len, const struct incident *inc, const char *action,
                     const char *job_id, const char *hostname, const char *app, const char *sd_id,
                     uint64_t now_us);

struct syslog_sink;
typedef void (*syslog_done_fn)(void *priv, const char *error); /* error NULL: sent */

/* Resolves host now; NULL (and a logged reason) when it cannot. */
struct syslog_sink *syslog_sink_new(struct event_base *base, const char *host, uint16_t port,
                                    bool tcp);
/* done is always called, maybe before this returns. */
void syslog_sink_send(struct syslog_sink *s, const char *msg, size_t len, syslog_done_fn done,
                      void *priv);
void syslog_sink_free(struct syslog_sink *s);

extern const struct sink_ops syslog_sink_ops;

#endif
