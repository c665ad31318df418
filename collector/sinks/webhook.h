/* webhook.h — escalations as signed HTTP POSTs to the SOC's receiver.
 *
 * Each delivery is one POST of {"delivery", "action", "route", "incident"}
 * (JSON) to the route's url on one kept connection, with X-Canh-Signature
 * ("sha256=" + hex HMAC-SHA256 of the body under the secret file's key),
 * X-Canh-Delivery (the job id, so a receiver can drop a repeat),
 * X-Canh-Action and X-Canh-Route.  Any 2xx answer is a delivery; anything
 * else, or no answer within the route's timeout, is a failure the queue
 * retries.
 */
#ifndef CANH_COLLECTOR_WEBHOOK_H
#define CANH_COLLECTOR_WEBHOOK_H

#include <stddef.h>

#include "collector/sinks/sink.h"

extern const struct sink_ops webhook_sink_ops;

/* "sha256=" + hex HMAC-SHA256 of body under secret; out >= 72 bytes. */
void webhook_signature(const char *secret, const void *body, size_t len, char *out, size_t outlen);

#endif
