/* resp.c — see resp.h. */
#include "common/redis/resp.h"

#include <string.h>

static size_t digits(size_t v)
{
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* <lead><v>\r\n */
static char *put_num(char *p, char lead, size_t v)
{
    *p++ = lead;
    size_t n = digits(v);
    for (size_t i = n; i > 0; i--) {
        p[i - 1] = (char)('0' + v % 10);
        v /= 10;
    }
    p += n;
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

size_t resp_count_size(size_t argc)
{
    return 1 + digits(argc) + 2;
}

size_t resp_bulk_size(size_t len)
{
    return 1 + digits(len) + 2 + len + 2;
}

char *resp_put_count(char *p, size_t argc)
{
    return put_num(p, '*', argc);
}

char *resp_put_bulk(char *p, const char *s, size_t len)
{
    p = put_num(p, '$', len);
    memcpy(p, s, len);
    p += len;
    *p++ = '\r';
    *p++ = '\n';
    return p;
}
