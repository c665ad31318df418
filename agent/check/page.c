/* page.c — see page.h. */
#include "agent/check/page.h"

#include <ctype.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int page_masks_compile(struct page_masks *m, const struct asset_check *c)
{
    m->n = 0;
    for (size_t i = 0; c && i < c->n_mask; i++) {
        if (regcomp(&m->re[i], c->mask[i], REG_EXTENDED) != 0) {
            page_masks_free(m);
            return -1;
        }
        m->n++;
    }
    return 0;
}

void page_masks_free(struct page_masks *m)
{
    for (size_t i = 0; i < m->n; i++)
        regfree(&m->re[i]);
    m->n = 0;
}

int page_markers_parse(struct page_markers *mk, const char *text)
{
    mk->v = NULL;
    mk->n = 0;
    const char *s = text;
    while (*s) {
        size_t len = strcspn(s, "\n");
        const char *line = s;
        s += len + (s[len] == '\n');
        while (len && isspace((unsigned char)*line))
            line++, len--;
        while (len && isspace((unsigned char)line[len - 1]))
            len--;
        if (!len || line[0] == '#')
            continue;
        char **grown = realloc(mk->v, (mk->n + 1) * sizeof(*grown));
        if (!grown)
            goto oom;
        mk->v = grown;
        char *m = strndup(line, len);
        if (!m)
            goto oom;
        for (char *c = m; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        mk->v[mk->n++] = m;
    }
    return 0;
oom:
    page_markers_free(mk);
    return -1;
}

void page_markers_free(struct page_markers *mk)
{
    for (size_t i = 0; i < mk->n; i++)
        free(mk->v[i]);
    free(mk->v);
    mk->v = NULL;
    mk->n = 0;
}

/* Cut every match of re out of buf (NUL-terminated, *len bytes) in place:
 * the kept parts are copied down, so the cost is one pass per mask. */
static void mask_one(const regex_t *re, char *buf, size_t *len)
{
    size_t in = 0, out = 0;
    int flags = 0;
    regmatch_t m;
    while (in < *len && regexec(re, buf + in, 1, &m, flags) == 0) {
        size_t so = in + (size_t)m.rm_so, eo = in + (size_t)m.rm_eo;
        if (eo == so) /* an empty match removes nothing: step over one byte */
            eo = so + 1, so = so + 1;
        memmove(buf + out, buf + in, so - in);
        out += so - in;
        in = eo;
        flags = REG_NOTBOL;
    }
    memmove(buf + out, buf + in, *len - in);
    out += *len - in;
    buf[out] = '\0';
    *len = out;
}

/* The host of an absolute or scheme-relative URL, lower case; "" for a
 * relative one (same site). */
static void url_host(const char *v, size_t n, char *host, size_t size)
{
    host[0] = '\0';
    size_t skip = 0;
    if (n >= 2 && v[0] == '/' && v[1] == '/')
        skip = 2;
    else if (n >= 7 && strncasecmp(v, "http://", 7) == 0)
        skip = 7;
    else if (n >= 8 && strncasecmp(v, "https://", 8) == 0)
        skip = 8;
    if (!skip)
        return;
    size_t k = 0;
    for (size_t i = skip; i < n && k + 1 < size; i++) {
        char ch = v[i];
        if (ch == '/' || ch == ':' || ch == '?' || ch == '#' || ch == '\\' ||
            isspace((unsigned char)ch))
            break;
        if (ch == '@') { /* user@host: the host is what follows */
            k = 0;
            continue;
        }
        host[k++] = (char)tolower((unsigned char)ch);
    }
    host[k] = '\0';
}

/* The value of attribute name inside the tag text [p, end). */
static const char *tag_attr(const char *p, const char *end, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    for (const char *s = p; s + nl < end; s++) {
        if (strncasecmp(s, name, nl) != 0 || !isspace((unsigned char)s[-1]))
            continue;
        const char *q = s + nl;
        while (q < end && isspace((unsigned char)*q))
            q++;
        if (q >= end || *q != '=')
            continue;
        q++;
        while (q < end && isspace((unsigned char)*q))
            q++;
        char quote = (q < end && (*q == '"' || *q == '\'')) ? *q++ : 0;
        const char *v = q;
        while (q < end && (quote ? *q != quote : !isspace((unsigned char)*q) && *q != '>'))
            q++;
        *vlen = (size_t)(q - v);
        return v;
    }
    return NULL;
}

static void add_domain(struct page_facts *f, const char *host)
{
    if (!host[0] || page_has_domain(f, host) || f->n_domains >= PAGE_MAX_DOMAINS)
        return;
    snprintf(f->domains[f->n_domains++], PAGE_DOMAIN_MAX, "%s", host);
}

static void text_append(struct page_facts *f, size_t *n, char ch)
{
    if (isspace((unsigned char)ch)) {
        if (*n == 0 || f->text[*n - 1] == ' ')
            return;
        ch = ' ';
    }
    if (*n + 1 < PAGE_TEXT_MAX)
        f->text[(*n)++] = ch;
}

/* needle starts with a character that has no case ('<', '-'): memchr
 * finds the candidates. */
static const char *find_ci(const char *p, const char *end, const char *needle)
{
    size_t n = strlen(needle);
    while (p + n <= end) {
        const char *c = memchr(p, needle[0], (size_t)(end - p) - n + 1);
        if (!c)
            return NULL;
        if (strncasecmp(c, needle, n) == 0)
            return c;
        p = c + 1;
    }
    return NULL;
}

/* Title, visible text and the hosts scripts and frames load from. */
static void read_html(const char *buf, size_t len, struct page_facts *f)
{
    const char *p = buf, *end = buf + len;
    size_t tn = 0;
    while (p < end) {
        if (*p != '<') {
            text_append(f, &tn, *p++);
            continue;
        }
        if (end - p >= 4 && strncmp(p, "<!--", 4) == 0) {
            const char *close = find_ci(p + 4, end, "-->");
            p = close ? close + 3 : end;
            continue;
        }
        const char *gt = memchr(p, '>', (size_t)(end - p));
        const char *tag_end = gt ? gt : end;
        const char *name = p + 1;
        size_t nlen = 0;
        while (name + nlen < tag_end && (isalnum((unsigned char)name[nlen])))
            nlen++;
        const char *after = gt ? gt + 1 : end;
        bool script = nlen == 6 && strncasecmp(name, "script", 6) == 0;
        bool style = nlen == 5 && strncasecmp(name, "style", 5) == 0;
        bool iframe = nlen == 6 && strncasecmp(name, "iframe", 6) == 0;
        bool title = nlen == 5 && strncasecmp(name, "title", 5) == 0;
        if (script || iframe) {
            size_t vlen;
            const char *v = tag_attr(p, tag_end, "src", &vlen);
            char host[PAGE_DOMAIN_MAX];
            if (v) {
                url_host(v, vlen, host, sizeof(host));
                add_domain(f, host);
            }
        }
        if (script || style) {
            const char *close = find_ci(after, end, script ? "</script" : "</style");
            p = close ? close : end;
            if (close) {
                const char *g = memchr(close, '>', (size_t)(end - close));
                p = g ? g + 1 : end;
            }
            continue;
        }
        if (title && !f->title[0]) {
            const char *close = find_ci(after, end, "</title");
            size_t k = 0, n = (size_t)((close ? close : end) - after);
            for (size_t i = 0; i < n && k + 1 < PAGE_TITLE_MAX; i++) {
                char ch = isspace((unsigned char)after[i]) ? ' ' : after[i];
                if (ch == ' ' && (k == 0 || f->title[k - 1] == ' '))
                    continue;
                f->title[k++] = ch;
            }
            while (k && f->title[k - 1] == ' ')
                k--;
            f->title[k] = '\0';
        }
        text_append(f, &tn, ' ');
        p = after;
    }
    while (tn && f->text[tn - 1] == ' ')
        tn--;
    f->text[tn] = '\0';
}

int page_analyse(const char *body, size_t len, const struct page_masks *m,
                 const struct page_markers *mk, struct page_facts *out)
{
    memset(out, 0, sizeof(*out));
    char *buf = malloc(len + 1);
    if (!buf)
        return -1;
    /* A NUL would end the regular expressions' view of the page early. */
    for (size_t i = 0; i < len; i++)
        buf[i] = body[i] ? body[i] : ' ';
    buf[len] = '\0';
    for (size_t i = 0; m && i < m->n; i++)
        mask_one(&m->re[i], buf, &len);
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, len, (const uint8_t *)buf);
    sha256_digest(&ctx, sizeof(out->sha256), out->sha256);
    out->size = len;
    read_html(buf, len, out);
    for (size_t i = 0; i < len; i++)
        buf[i] = (char)tolower((unsigned char)buf[i]);
    size_t mn = 0;
    for (size_t i = 0; mk && i < mk->n; i++) {
        size_t l = strlen(mk->v[i]);
        if (l && memmem(buf, len, mk->v[i], l) && mn + l + 1 < PAGE_MARKERS_MAX) {
            memcpy(out->markers + mn, mk->v[i], l);
            mn += l;
            out->markers[mn++] = '\n';
        }
    }
    out->markers[mn] = '\0';
    free(buf);
    return 0;
}

bool page_has_domain(const struct page_facts *f, const char *domain)
{
    for (size_t i = 0; i < f->n_domains; i++)
        if (strcmp(f->domains[i], domain) == 0)
            return true;
    return false;
}

bool page_has_marker(const struct page_facts *f, const char *marker)
{
    size_t l = strlen(marker);
    for (const char *s = f->markers; *s;) {
        size_t n = strcspn(s, "\n");
        if (n == l && memcmp(s, marker, l) == 0)
            return true;
        s += n + (s[n] == '\n');
    }
    return false;
}

/* Copy about size - 1 bytes of text from a little before at, without
 * splitting a UTF-8 sequence at either end. */
static void excerpt(const char *text, size_t at, char *out, size_t size)
{
    size_t len = strlen(text), start = at > 40 ? at - 40 : 0;
    while (start > 0 && ((unsigned char)text[start] & 0xC0) == 0x80)
        start--;
    size_t n = len - start < size - 1 ? len - start : size - 1;
    while (n > 0 && start + n < len && ((unsigned char)text[start + n] & 0xC0) == 0x80)
        n--;
    memcpy(out, text + start, n);
    out[n] = '\0';
}

void page_text_diff(const char *old_text, const char *new_text, char *old_out, char *new_out,
                    size_t size)
{
    size_t i = 0;
    while (old_text[i] && old_text[i] == new_text[i])
        i++;
    excerpt(old_text, i, old_out, size);
    excerpt(new_text, i, new_out, size);
}
