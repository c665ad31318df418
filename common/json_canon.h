/* json_canon.h — jansson's text conventions, for writers that must give
 * the same bytes as jansson without its tree (event_text.h).
 *
 * json_canon_is_dump() answers whether a JSON text already reads exactly
 * as jansson would dump its own parse of it: then a writer may copy the
 * text instead of parsing and dumping it.  The collector keeps an
 * incident's evidence as such a text (collector/incident.c) and copies it
 * into every announcement.  The check is conservative: "no" only costs
 * the parse; "yes" must be right, which tests/test_json_canon.c and the
 * fuzz target tests/fuzz/fuzz_json_canon.c hold against jansson itself.
 *
 * The C locale is assumed (nothing in canh calls setlocale).
 */
#ifndef CANH_JSON_CANON_H
#define CANH_JSON_CANON_H

#include <stdbool.h>
#include <stddef.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Length of the UTF-8 sequence at s (avail bytes readable) as jansson
 * accepts it: no overlong forms, no surrogates, nothing past U+10FFFF;
 * 0 when invalid. */
size_t json_utf8_seq(const unsigned char *s, size_t avail);

#ifdef __SSE2__
/* The bytes of v a JSON string cannot hold as they are (control
 * characters, '"', '\\', bytes >= 0x80), as a bit mask.  As signed bytes,
 * both the control characters and the bytes >= 0x80 are less than ' '. */
static inline unsigned json_stop_mask(__m128i v)
{
    const __m128i space = _mm_set1_epi8(0x20), quote = _mm_set1_epi8('"'),
                  backslash = _mm_set1_epi8('\\');
    __m128i stop =
        _mm_or_si128(_mm_cmplt_epi8(v, space),
                     _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)));
    return (unsigned)_mm_movemask_epi8(stop);
}
#endif

/* The end of the run of printable ASCII but '"' and '\\' from p on: the
 * first control character, '"', '\\' or byte >= 0x80 (or end).  Sixteen
 * bytes at a time with SSE2. */
const unsigned char *json_ascii_run(const unsigned char *p, const unsigned char *end);
/* json_ascii_run that also copies the run to dst, which has room for
 * end - p bytes (bytes past the run may be written too, within that
 * room); the run's end. */
const unsigned char *json_ascii_copy(unsigned char *dst, const unsigned char *p,
                                     const unsigned char *end);

/* The end of the run from p on that a JSON string holds as it is:
 * printable ASCII but '"' and '\\', and whole valid UTF-8 sequences.  It
 * stops at the first '"', '\\', control character or invalid UTF-8 (or
 * at end). */
const unsigned char *json_plain_run(const unsigned char *p, const unsigned char *end);

/* The JSON number at p (up to end) copied into token (NUL-terminated) and
 * its length; *real when it has a fraction or exponent.  0 when p holds
 * no number by JSON's grammar or it does not fit in size. */
size_t json_number_token(const unsigned char *p, const unsigned char *end, char *token, size_t size,
                         bool *real);

/* The real v as jansson dumps it with JSON_REAL_PRECISION(precision) (0:
 * jansson's default, 17 digits): "%.*g", ".0" added when that reads as an
 * integer, the exponent without '+' or leading zeros.  Its length, or 0
 * for NaN and infinities (jansson refuses them) or a buffer too small. */
size_t json_canon_real(double v, int precision, char *buf, size_t size);

/* True when text[0..len) is byte for byte json_dumps(json_loadb(text, len,
 * 0, NULL), JSON_COMPACT | JSON_REAL_PRECISION(precision)): an object or
 * array without white space, strings escaped as jansson escapes them,
 * numbers as it prints them, no key twice in an object.  False when it is
 * not, or when the check does not go that far (nesting deeper than 16,
 * objects of more than 32 members). */
bool json_canon_is_dump(const char *text, size_t len, int precision);

#endif
