/* sink.h — what every escalation sink offers the escalation worker.
 *
 * escalate.c leases a job, rebuilds its incident and hands it to the sink
 * the job names through these operations; it counts deliveries and
 * failures itself, puts failed jobs back with backoff and keeps a sink's
 * state alive until the deliveries it started have ended.  A sink knows
 * nothing of the queue or of Redis.  Each [route.NAME] opens its own
 * state of its sink.  Adding a channel means one file that defines a
 * struct sink_ops, its entry in enum sink_id (config.h), its keys in
 * route.c and its entry in escalate.c's table.
 */
#ifndef CANH_COLLECTOR_SINK_H
#define CANH_COLLECTOR_SINK_H

#include <event2/event.h>

#include "collector/config.h"
#include "collector/incident.h"

/* One delivery: valid only during send (copy what outlives it). */
struct sink_delivery {
    const char *id;     /* job id, for the receiver to drop repeats */
    const char *action; /* "escalated", "updated", "closed", an operator's action */
    const char *note;   /* the operator's note, a reminder's text; "" or NULL none */
    const struct incident *inc;
    const struct route *route; /* the route it goes through */
};

/* error NULL: delivered.  Called exactly once per send, maybe before send
 * returns, and with an error when the sink is closed first. */
typedef void (*sink_done_fn)(void *priv, const char *error);

struct sink_ops {
    const char *name; /* as sink_name() spells it */
    /* Builds the state of one route's sink from route and cfg, which it
     * does not keep; 0, or -1 with the reason logged. */
    int (*open)(void **state, const struct collector_config *cfg, const struct route *route,
                struct event_base *base);
    /* cfg is the running configuration, for settings read at each send. */
    void (*send)(void *state, const struct collector_config *cfg, const struct sink_delivery *d,
                 sink_done_fn done, void *priv);
    void (*close)(void *state);
};

#endif
