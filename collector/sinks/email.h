/* email.h — escalations as e-mail through the host's MTA.
 *
 * An email route hands each delivery to the local MTA's sendmail program
 * (Debian: msmtp-mta, exim4, postfix and others install one), as
 * `sendmail -oi -t` with the message on its standard input: a plain-text
 * UTF-8 message to the route's `to`, its subject the action, severity,
 * incident type (Vietnamese) and agency, its body the incident in both
 * languages and as JSON.  The MTA queues and relays it; sendmail's exit
 * status 0 is a delivery, anything else, or no exit within the route's
 * timeout (the program is then killed), a failure the queue retries.  The
 * program runs beside the collector's loop, which never waits for it.
 */
#ifndef CANH_COLLECTOR_EMAIL_H
#define CANH_COLLECTOR_EMAIL_H

#include <stddef.h>

#include "collector/sinks/sink.h"

/* The whole message (headers and body) of one delivery, malloc'd; NULL on
 * no memory.  hostname names the sender when the route has no from. */
char *email_message(const struct sink_delivery *d, const char *hostname);

extern const struct sink_ops email_sink_ops;

#endif
