/* json_parse.h — a JSON object parsed into a jansson tree without
 * jansson's lexer, for the collector's hot path (every event it reads).
 *
 * json_loadb reads its input one character at a time through a callback
 * and costs ~200 instructions a byte of an agent's event, a third of the
 * collector's work per event (docs/performance.md, "Collector round 4").
 * json_parse_object() scans the text directly and builds the same tree
 * with jansson's constructors.  It takes the common shape only and
 * returns NULL for anything else — a text that is not valid JSON, a \u
 * escape, a repeated key, nesting deeper than 32, numbers jansson would
 * refuse — so the caller then runs json_loadb, whose answer (a tree or an
 * error with its line and column) stands.  Where it returns a tree, that
 * tree equals json_loadb(text, len, JSON_REJECT_DUPLICATES)'s, members in
 * the same order (tests/test_json_parse.c, tests/fuzz/fuzz_json_canon.c).
 */
#ifndef CANH_JSON_PARSE_H
#define CANH_JSON_PARSE_H

#include <jansson.h>
#include <stddef.h>

/* A new reference to the object text[0..len) holds, or NULL: leave it to
 * json_loadb. */
json_t *json_parse_object(const char *text, size_t len);

#endif
