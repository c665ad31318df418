/* json_parse.h — a JSON object read without jansson's lexer, for the
 * collector's hot path (every event it reads).
 *
 * json_loadb reads its input one character at a time through a callback
 * and costs ~200 instructions a byte of an agent's event; a jansson tree
 * of the ~1.2 KB event, built and freed, still cost ~85,000 instructions
 * (one malloc per value and per member, a hash table per object), a
 * quarter of the collector's work per event (docs/performance.md).
 *
 * json_doc_parse() reads a text in place into a flat table of nodes: no
 * malloc per value, strings decoded and NUL-terminated inside the text
 * itself.  The reader looks members up by name (json_doc_get) and builds
 * jansson trees only of the parts it keeps (json_doc_tree).
 * json_parse_object() is the same parse giving a whole jansson tree.
 *
 * Both take the common shape only and refuse anything else — a text that
 * is not valid JSON, a \u escape, a repeated key, an object of more than
 * JSON_DOC_MAX_MEMBERS members, nesting deeper than 32, numbers jansson
 * would refuse — so the caller then runs json_loadb, whose answer (a tree
 * or an error with its line and column) stands.  Where they take a text,
 * its tree equals json_loadb(text, len, JSON_REJECT_DUPLICATES)'s, members
 * in the same order (tests/test_json_parse.c, tests/fuzz/fuzz_json_canon.c).
 */
#ifndef CANH_JSON_PARSE_H
#define CANH_JSON_PARSE_H

#include <jansson.h>
#include <stddef.h>

/* Repeated keys are looked for by comparing each with the object's
 * others; a bigger object is left to jansson's hash table. */
#define JSON_DOC_MAX_MEMBERS 64

/* One value of the text.  Node 0 is the root object. */
struct json_node {
    const char *key; /* an object member's name (NUL-terminated), else NULL */
    const char *str; /* a string's bytes, NUL-terminated; str_len of them */
    size_t str_len;
    json_int_t integer;
    double real;
    json_type type;
    int first; /* an object's or array's first member; -1 none */
    int next;  /* the next member of the same parent; -1 none */
};

struct json_doc {
    struct json_node *nodes; /* grown as needed, kept for the next text */
    size_t n, cap;
};

/* Parses text[0..len), which must be writable: strings are decoded and
 * NUL-terminated in place, and the nodes point into it.  0, or -1 when the
 * text is left to json_loadb (or no memory). */
int json_doc_parse(struct json_doc *d, char *text, size_t len);
/* Node of member key of object node obj, or -1 (none, or obj -1 or no
 * object). */
int json_doc_get(const struct json_doc *d, int obj, const char *key);
/* A new jansson tree of node i (NULL for i -1 or no memory). */
json_t *json_doc_tree(const struct json_doc *d, int i);
void json_doc_free(struct json_doc *d);

/* A new reference to the object text[0..len) holds, or NULL: leave it to
 * json_loadb. */
json_t *json_parse_object(const char *text, size_t len);

#endif
