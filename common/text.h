/* text.h — bounded C strings: copies, appends and decimal numbers that
 * truncate as snprintf does (always NUL-terminated, never past size),
 * without its format parsing.  The agent writes an event's ids and the
 * collector an incident's fields with them, per event. */
#ifndef CANH_TEXT_H
#define CANH_TEXT_H

#include <stddef.h>

/* src into dst[size], cut to size - 1 bytes; the length written. */
size_t text_copy(char *dst, size_t size, const char *src);
/* n bytes of src after dst[0..at), cut to size - 1 bytes in all; the new
 * length.  at must be < size. */
size_t text_append(char *dst, size_t size, size_t at, const char *src, size_t n);
/* The decimal digits of v, at least min_digits of them (zeros before),
 * after dst[0..at), cut as text_append; the new length. */
size_t text_append_u64(char *dst, size_t size, size_t at, unsigned long long v, int min_digits);

#endif
