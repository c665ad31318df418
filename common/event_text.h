/* event_text.h — an event's JSON text written straight into a reusable
 * buffer, without building a jansson tree.
 *
 * The text is byte for byte what json_dumps(evt_to_json(ev), JSON_COMPACT |
 * JSON_REAL_PRECISION(6)) gives (tests/test_event_text.c compares them):
 * the same keys in the same order, the same escapes, a string that is not
 * valid UTF-8 left out with its key as jansson leaves it out.  Only the
 * detector's counters and evidence objects are dumped by jansson, into the
 * same buffer.  At an event storm the tree cost the agent ~10 µs an event
 * (docs/performance.md, "Agent → Redis round"); this costs ~1.5.
 */
#ifndef CANH_EVENT_TEXT_H
#define CANH_EVENT_TEXT_H

#include <stddef.h>

#include "common/event.h"

struct event_text {
    char *buf; /* NUL-terminated after evt_format() */
    size_t len, cap;
};

/* Replaces t's content with ev's JSON (an enriched event, as
 * evt_to_json).  0, or -1 out of memory (t is then empty).  t's buffer
 * is kept for the next event: no allocation per event once it has grown. */
int evt_format(const struct evt *ev, struct event_text *t);
void event_text_free(struct event_text *t);

#endif
