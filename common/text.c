/* text.c — see text.h. */
#include "common/text.h"

#include <string.h>

size_t text_append(char *dst, size_t size, size_t at, const char *src, size_t n)
{
    if (n > size - 1 - at)
        n = size - 1 - at;
    memcpy(dst + at, src, n);
    dst[at + n] = '\0';
    return at + n;
}

size_t text_copy(char *dst, size_t size, const char *src)
{
    return text_append(dst, size, 0, src, strlen(src));
}

size_t text_append_u64(char *dst, size_t size, size_t at, unsigned long long v, int min_digits)
{
    char digits[32];
    size_t i = sizeof(digits);
    do {
        digits[--i] = (char)('0' + v % 10);
        v /= 10;
        min_digits--;
    } while (v || (min_digits > 0 && i > 0));
    return text_append(dst, size, at, digits + i, sizeof(digits) - i);
}
