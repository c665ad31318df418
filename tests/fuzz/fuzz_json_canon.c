/* fuzz_json_canon.c — libFuzzer target for the JSON written without
 * jansson's tree (common/json_canon.c, common/event_text.c,
 * collector/incident_text.c), against jansson itself.
 *
 * Invariants, for any input:
 * - json_canon_is_dump() says "yes" only for a text that jansson parses
 *   and dumps again to the same bytes (precision 0 and 6);
 * - json_parse_object() returns a tree only where json_loadb (with
 *   JSON_REJECT_DUPLICATES) returns one, and the same tree: equal values,
 *   members in the same order;
 * - a tree jansson parsed from the input, written by event_text_value(),
 *   is json_dumps() of it;
 * - an incident whose evidence, summary, agency and lists come from the
 *   input (split at newlines) is written by incident_format() as
 *   json_dumps(incident_to_json()) writes it.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/incident.h"
#include "collector/incident_text.h"
#include "common/event_text.h"
#include "common/json_canon.h"
#include "common/json_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct event_text text;

static void check_canon(const char *in, size_t size, int precision)
{
    if (!json_canon_is_dump(in, size, precision))
        return;
    json_t *tree = json_loadb(in, size, 0, NULL);
    if (!tree)
        abort();
    char *out = json_dumps(tree, JSON_COMPACT | JSON_REAL_PRECISION(precision));
    if (!out || strlen(out) != size || memcmp(out, in, size) != 0)
        abort();
    free(out);
    json_decref(tree);
}

static void check_parse(const char *in, size_t size)
{
    json_t *mine = json_parse_object(in, size);
    if (!mine)
        return;
    json_t *ref = json_loadb(in, size, JSON_REJECT_DUPLICATES, NULL);
    if (!ref || !json_equal(mine, ref))
        abort();
    char *a = json_dumps(mine, JSON_COMPACT), *b = json_dumps(ref, JSON_COMPACT);
    if (!a || !b || strcmp(a, b) != 0)
        abort();
    free(a);
    free(b);
    json_decref(mine);
    json_decref(ref);
}

static void check_tree(const char *in, size_t size)
{
    json_t *tree = json_loadb(in, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!tree)
        return;
    for (int precision = 0; precision <= 6; precision += 6) {
        size_t flags = JSON_COMPACT | JSON_REAL_PRECISION(precision);
        char *want = json_dumps(tree, flags | JSON_ENCODE_ANY);
        struct event_text_writer w;
        event_text_start(&w, &text, flags);
        event_text_value(&w, NULL, tree);
        if (event_text_finish(&w) != 0 || !want || strcmp(text.buf, want) != 0)
            abort();
        free(want);
    }
    json_decref(tree);
}

/* The next newline-separated part of the input into dst (cut to fit). */
static const char *part(const char *p, const char *end, char *dst, size_t cap)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = (size_t)((nl ? nl : end) - p);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, p, n);
    dst[n] = '\0';
    return nl ? nl + 1 : end;
}

static void check_incident(const char *in, size_t size)
{
    static struct incident inc;
    memset(&inc, 0, sizeof(inc));
    const char *p = in, *end = in + size;
    p = part(p, end, inc.evidence, sizeof(inc.evidence));
    p = part(p, end, inc.summary, sizeof(inc.summary));
    p = part(p, end, inc.agency, sizeof(inc.agency));
    p = part(p, end, inc.sources, sizeof(inc.sources));
    p = part(p, end, inc.id, sizeof(inc.id));
    p = part(p, end, inc.exercise, sizeof(inc.exercise));
    inc.taxonomy = taxonomy_find("attack.dos");
    inc.type = size && (in[0] & 1) ? INCIDENT_PROVINCE : INCIDENT_FINDING;
    inc.events = size ? (uint64_t)in[size - 1] << 56 : 0;
    inc.first_seen_us = size * 1000003ull;
    json_t *tree = incident_to_json(&inc);
    char *want = json_dumps(tree, JSON_COMPACT);
    json_decref(tree);
    if (!want || incident_format(&inc, &text) != 0 || strcmp(text.buf, want) != 0)
        abort();
    free(want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    check_canon(in, size, 0);
    check_canon(in, size, 6);
    check_parse(in, size);
    check_tree(in, size);
    check_incident(in, size);
    return 0;
}
