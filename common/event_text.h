/* event_text.h — JSON text written straight into a reusable buffer,
 * without building a jansson tree: the agent's events, and (through the
 * writer below) the collector's incident announcements.
 *
 * An event's text is byte for byte what json_dumps(evt_to_json(ev),
 * JSON_COMPACT | JSON_REAL_PRECISION(6)) gives (tests/test_event_text.c
 * compares them): the same keys in the same order, the same escapes, a
 * string that is not valid UTF-8 left out with its key as jansson leaves
 * it out.  Only the detector's counters and evidence objects are dumped
 * by jansson, into the same buffer, when they hold what the writer leaves
 * to it.  At an event storm the tree cost the agent ~10 µs an event
 * (docs/performance.md, "Agent → Redis round"); this costs ~1.5.
 */
#ifndef CANH_EVENT_TEXT_H
#define CANH_EVENT_TEXT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/event.h"

struct event_text_memo;

struct event_text {
    char *buf; /* NUL-terminated after evt_format() / event_text_finish() */
    size_t len, cap;
    /* The escaped text of the last few short strings that needed the
     * slow path (non-ASCII: the taxonomy's Vietnamese name, an asset's
     * owner), keyed by their bytes: they recur event after event.
     * Allocated at the first such string; NULL before, or out of memory
     * (then every string takes the slow path). */
    struct event_text_memo *memo;
};

/* Replaces t's content with ev's JSON (an enriched event, as
 * evt_to_json).  0, or -1 out of memory (t is then empty).  t's buffer
 * is kept for the next event: no allocation per event once it has grown. */
int evt_format(const struct evt *ev, struct event_text *t);
void event_text_free(struct event_text *t);

/* ---- the writer, for other texts that must read as jansson's dump ----
 * Each call adds one member to the open object (name given) or one
 * element to the open array or the top (name NULL), with the comma
 * jansson puts between them.  The text equals json_dumps(tree, flags) of
 * the tree the same calls would build with json_object_set_new /
 * json_array_append_new, flags being JSON_COMPACT and a real precision. */
#define EVENT_TEXT_DEPTH 8
struct event_text_writer {
    struct event_text *t;
    size_t flags; /* the dump flags the text matches */
    bool failed;  /* out of memory or nested too deep: the text is void */
    int depth;
    bool first[EVENT_TEXT_DEPTH + 1]; /* no member yet at this depth */
};

/* Empties t (its buffer is kept) and starts a text for flags. */
void event_text_start(struct event_text_writer *w, struct event_text *t, size_t flags);
/* NUL-terminates the text: 0, or -1 when a call failed (t is then empty). */
int event_text_finish(struct event_text_writer *w);
void event_text_object(struct event_text_writer *w, const char *name);
void event_text_object_end(struct event_text_writer *w);
void event_text_array(struct event_text_writer *w, const char *name);
void event_text_array_end(struct event_text_writer *w);
/* Left out, as json_string()'s NULL makes jansson leave it out, when
 * value is NULL or not valid UTF-8. */
void event_text_string(struct event_text_writer *w, const char *name, const char *value);
/* len bytes (json_stringn); a NUL among them is written as \u0000. */
void event_text_stringn(struct event_text_writer *w, const char *name, const char *value,
                        size_t len);
void event_text_int(struct event_text_writer *w, const char *name, long long value);
void event_text_bool(struct event_text_writer *w, const char *name, bool value);
void event_text_null(struct event_text_writer *w, const char *name);
/* A tree's value (NULL: an empty object) as jansson dumps it with w's
 * flags. */
void event_text_value(struct event_text_writer *w, const char *name, const json_t *value);
/* The JSON text text[0..len) as json_loadb(text, len, 0) and a dump with
 * w's flags write it: copied as it is when it already reads so
 * (json_canon.h), else parsed and dumped.  False, nothing written, when
 * jansson refuses it. */
bool event_text_json(struct event_text_writer *w, const char *name, const char *text, size_t len);

#endif
