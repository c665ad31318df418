/* slug.c — see slug.h. */
#include "common/slug.h"

#include <stdint.h>
#include <stdio.h>

/* The base letter of a Latin letter with Vietnamese diacritics, 0 when cp
 * is not one. */
static char fold(uint32_t cp)
{
    static const char latin1[] = /* U+00C0 .. U+00FF */
        "aaaaaaaceeeeiiii"
        "dnooooo\0ouuuuy\0s"
        "aaaaaaaceeeeiiii"
        "dnooooo\0ouuuuy\0y";
    if (cp >= 0xC0 && cp <= 0xFF)
        return latin1[cp - 0xC0];
    switch (cp) {
    case 0x102:
    case 0x103:
        return 'a';
    case 0x110:
    case 0x111:
        return 'd';
    case 0x128:
    case 0x129:
        return 'i';
    case 0x168:
    case 0x169:
        return 'u';
    case 0x1A0:
    case 0x1A1:
        return 'o';
    case 0x1AF:
    case 0x1B0:
        return 'u';
    default:
        break;
    }
    /* Latin Extended Additional: the tone-marked vowels, in blocks. */
    if (cp >= 0x1EA0 && cp < 0x1EB8)
        return 'a';
    if (cp >= 0x1EB8 && cp < 0x1EC8)
        return 'e';
    if (cp >= 0x1EC8 && cp < 0x1ECC)
        return 'i';
    if (cp >= 0x1ECC && cp < 0x1EE4)
        return 'o';
    if (cp >= 0x1EE4 && cp < 0x1EF2)
        return 'u';
    if (cp >= 0x1EF2 && cp < 0x1EFA)
        return 'y';
    return 0;
}

/* One UTF-8 sequence at s; its length in *len (1 for a stray byte). */
static uint32_t next_cp(const unsigned char *s, size_t *len)
{
    if (s[0] < 0x80) {
        *len = 1;
        return s[0];
    }
    int n = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC0 ? 2 : 1;
    uint32_t cp = n == 4 ? s[0] & 0x07 : n == 3 ? s[0] & 0x0F : s[0] & 0x1F;
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *len = 1;
            return 0xFFFD;
        }
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    *len = n == 1 ? 1 : (size_t)n;
    return n == 1 ? 0xFFFD : cp;
}

void slug_agency(const char *name, char *out, size_t size)
{
    size_t used = 0;
    int dash = 0;
    const unsigned char *p = (const unsigned char *)name;
    while (*p && used + 2 < size) {
        size_t len;
        uint32_t cp = next_cp(p, &len);
        p += len;
        char c = 0;
        if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9'))
            c = (char)cp;
        else if (cp >= 'A' && cp <= 'Z')
            c = (char)(cp - 'A' + 'a');
        else
            c = fold(cp);
        if (!c) {
            dash = used > 0;
            continue;
        }
        if (dash)
            out[used++] = '-';
        dash = 0;
        out[used++] = c;
    }
    if (!used)
        out[used++] = '-';
    out[used] = '\0';
}

void slug_incident_stream(const char *agency, char *out, size_t size)
{
    char slug[256];
    slug_agency(agency, slug, sizeof(slug));
    snprintf(out, size, "canh:incidents:%s", slug);
}
