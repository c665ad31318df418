/* webshell.c — verdicts on requests that write to or run code on a web
 * server: WebDAV writes and deletes (dav_write, dav_delete), scripts and
 * webshell-looking content uploaded (webshell_upload), and scripts run from
 * upload directories, just uploaded, or given a shell command
 * (webshell_access).  pairing.c asks for the verdicts of each request head
 * and body prefix, and settles them here once the answer is known; a ring
 * of recent uploads links an upload to the access that follows.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/detect/http/http_internal.h"
#include "common/hash.h"

struct http_upload {
    uint64_t key, at_us;
};

/* ext (el bytes, starting with '.') at q, ending the name or followed by
 * another extension or IIS's ';'. */
static bool ext_at(const char *q, const char *ext, size_t el)
{
    size_t k = 1; /* q[0] == ext[0] == '.'; q's NUL stops it */
    while (k < el && q[k] == ext[k])
        k++;
    return k == el && (q[el] == '\0' || q[el] == '.' || q[el] == ';');
}

#define SCRIPT_DOTS 16

/* A script extension anywhere in the last segment, as Apache's
 * multi-extension and IIS's ';' tricks allow ("a.php.jpg", "a.asp;.jpg"). */
static bool is_script(const struct http_params *p, const char *path)
{
    const char *seg = http_last_segment(path);
    /* Extensions start with a dot (as a rule): none can match but at one
     * of the segment's dots (one or two), found once for all of them. */
    const char *dots[SCRIPT_DOTS];
    size_t nd = 0;
    const char *more = NULL; /* the dot after the first SCRIPT_DOTS */
    for (const char *q = strchr(seg, '.'); q; q = strchr(q + 1, '.')) {
        if (nd == SCRIPT_DOTS) {
            more = q;
            break;
        }
        dots[nd++] = q;
    }
    /* Most names (.html, .png, .css) have no dot followed by the first
     * two bytes after any extension's dot: those compare with none. */
    bool maybe = p->script_pairs_all || more;
    for (size_t j = 0; j < nd && !maybe; j++) {
        uint8_t a = (uint8_t)dots[j][1];
        if (!a) /* the name's last byte: only "." could end there */
            continue;
        uint32_t pair = (uint32_t)a << 8 | (uint8_t)dots[j][2];
        maybe = p->script_pairs[pair / 64] >> (pair % 64) & 1;
    }
    if (!maybe && !p->script_undotted)
        return false;
    for (size_t i = 0; i < p->script_extensions.n; i++) {
        const char *ext = p->script_extensions.v[i];
        size_t el = p->script_extensions.len[i];
        if (ext[0] == '.') {
            if (!maybe)
                continue;
            for (size_t j = 0; j < nd; j++)
                if (ext_at(dots[j], ext, el))
                    return true;
            for (const char *q = more; q; q = strchr(q + 1, '.'))
                if (ext_at(q, ext, el))
                    return true;
            continue;
        }
        for (const char *q = strstr(seg, ext); q; q = strstr(q + 1, ext)) {
            char after = q[el];
            if (after == '\0' || after == '.' || after == ';')
                return true;
        }
    }
    return false;
}

/* Web content: a page extension (pages and client-side code), index.*,
 * a directory, a file at the top of the site (/.htaccess, /robots.txt) or
 * one of the server's monitored pages.  Other writes (JSON documents to an
 * API, images into an upload folder) are not defacement. */
static bool is_page(const struct http_det *d, const struct flow *f, const char *path)
{
    const char *seg = http_last_segment(path);
    if (*seg == '\0' || strncmp(seg, "index", 5) == 0)
        return true;
    if (seg == path + 1 && path[0] == '/')
        return true; /* the site root itself */
    const char *dot = strrchr(seg, '.');
    if (dot && http_strlist_has(&d->p.page_extensions, dot, strlen(dot)))
        return true;
    return http_deface_monitor_index(d, f, path) >= 0;
}

static bool in_upload_dir(const struct http_params *p, const char *path)
{
    for (size_t i = 0; i < p->upload_dirs.n; i++)
        if (strstr(path, p->upload_dirs.v[i]))
            return true;
    return false;
}

/* Does a parameter value read like a shell command?  A command word at the
 * start ("id", "cat /etc/passwd") or shell punctuation anywhere. */
static bool looks_like_command(const struct http_params *p, const char *v, size_t n)
{
    char buf[128];
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < sizeof(buf); i++) {
        int c = (unsigned char)v[i];
        if (c == '+')
            c = ' ';
        else if (c == '%' && i + 2 < n && isxdigit((unsigned char)v[i + 1]) &&
                 isxdigit((unsigned char)v[i + 2])) {
            char hex[3] = {v[i + 1], v[i + 2], 0};
            c = (int)strtol(hex, NULL, 16);
            i += 2;
        }
        buf[k++] = (char)tolower(c);
    }
    buf[k] = '\0';
    if (strpbrk(buf, ";|`") || strstr(buf, "$(") || strstr(buf, "/bin/") || strstr(buf, "/etc/"))
        return true;
    size_t w = strcspn(buf, " \t");
    return w && http_strlist_has(&p->command_words, buf, w);
}

/* The first command-like parameter of a query, as "name=value". */
static bool find_command_param(const struct http_params *p, const char *target, char *out,
                               size_t cap)
{
    const char *q = strchr(target, '?');
    if (!q)
        return false;
    q++;
    while (*q) {
        size_t len = strcspn(q, "&;#");
        const char *eq = memchr(q, '=', len);
        if (eq) {
            size_t nl = (size_t)(eq - q);
            const char *v = eq + 1;
            size_t vl = len - nl - 1;
            if (http_strlist_has(&p->command_params, q, nl) && vl && looks_like_command(p, v, vl)) {
                snprintf(out, cap, "%.*s", (int)len, q);
                return true;
            }
        }
        q += len;
        if (*q == '&' || *q == ';')
            q++;
        else
            break;
    }
    return false;
}

/* Bounded copy that truncates. */
static void set_str(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* ---- recent uploads -------------------------------------------------- */

static uint64_t upload_key(struct http_det *d, const struct ipaddr *server, const char *name)
{
    uint64_t h = hash_bytes(server->b, 16, d->env->hash_seed);
    return hash_bytes(name, strlen(name), h);
}

static void upload_remember(struct http_det *d, const struct ipaddr *server, const char *name)
{
    struct http_upload *u = &d->uploads[d->next_upload++ % d->n_uploads];
    u->key = upload_key(d, server, name);
    u->at_us = d->now_us;
}

static bool upload_recent(struct http_det *d, const struct ipaddr *server, const char *name)
{
    uint64_t key = upload_key(d, server, name);
    for (uint32_t i = 0; i < d->n_uploads; i++)
        if (d->uploads[i].key == key && d->uploads[i].at_us &&
            d->uploads[i].at_us + d->p.upload_memory_us >= d->now_us)
            return true;
    return false;
}

/* Report what a request was found to be, now that its answer (or the end
 * of the flow) is known. */
void http_webshell_settle(struct http_det *d, struct flow *f, struct http_req *q, int status)
{
    bool ok = status >= 200 && status < 300;
    if (q->plain_write && ok)
        d->c.writes_not_reported++;
    q->plain_write = false;
    for (int k = 0; k < HTTP_K_COUNT; k++) {
        if (!(q->verdicts & (1u << k)))
            continue;
        struct http_occurrence o = {
            .kind = (enum http_kind)k, .flow = f, .req = q, .status = status};
        switch (k) {
        case HTTP_K_DAV_WRITE:
            o.page = q->page;
            o.impact = ok && q->page; /* a page of the site was replaced */
            o.detail_key = "written";
            break;
        case HTTP_K_DAV_DELETE:
            o.impact = ok;
            break;
        case HTTP_K_WEBSHELL_UPLOAD:
            o.detail_key = "uploaded";
            if (status == 0 || ok) {
                char path[256];
                /* detail holds the uploaded name: a path for PUT/MOVE,
                 * a bare file name for a form upload. */
                http_norm_path(q->detail, path, sizeof(path));
                upload_remember(d, &f->server, path);
                upload_remember(d, &f->server, http_last_segment(path));
            }
            break;
        case HTTP_K_WEBSHELL_ACCESS:
            o.impact = status == 200;
            o.detail_key = "why";
            break;
        default:
            break;
        }
        http_report(d, &o);
    }
    q->verdicts = 0;
}

void http_webshell_classify_head(struct http_det *d, struct flow *f, struct http_req *q,
                                 const struct http_head *h)
{
    char path[256];
    http_norm_path(q->target, path, sizeof(path));
    const struct http_params *p = &d->p;
    const char *m = q->method;
    bool put = !strcmp(m, "PUT");
    /* Methods only WebDAV clients send: always a finding. */
    bool dav_only = !strcmp(m, "MKCOL") || !strcmp(m, "MOVE") || !strcmp(m, "COPY") ||
                    !strcmp(m, "PROPPATCH") || !strcmp(m, "LOCK");
    if (!strcmp(m, "DELETE")) {
        q->verdicts |= 1u << HTTP_K_DAV_DELETE;
    } else if (put || dav_only) {
        const char *written = path;
        char dest[256] = "";
        if (h->destination.len) {
            char raw[256];
            http_copy_slice(raw, sizeof(raw), h->destination);
            http_norm_path(raw, dest, sizeof(dest));
            set_str(q->detail, sizeof(q->detail), raw);
            written = dest;
        } else if (put) {
            set_str(q->detail, sizeof(q->detail), q->target);
        }
        bool write_method = put || !strcmp(m, "MOVE") || !strcmp(m, "COPY");
        q->page = write_method && is_page(d, f, written);
        if (write_method && is_script(p, written))
            q->verdicts |= 1u << HTTP_K_WEBSHELL_UPLOAD;
        else if (dav_only || q->page)
            q->verdicts |= 1u << HTTP_K_DAV_WRITE;
        else
            q->plain_write = true; /* a REST write: counted, not reported */
    }
    bool access = !strcmp(m, "GET") || !strcmp(m, "POST") || !strcmp(m, "HEAD");
    if (access) {
        bool script = is_script(p, path);
        char why[128] = "";
        if (script && find_command_param(p, q->target, why, sizeof(why)))
            ;
        else if (d->next_upload && (upload_recent(d, &f->server, path) ||
                                    upload_recent(d, &f->server, http_last_segment(path))))
            snprintf(why, sizeof(why), "recently uploaded");
        else if (script && in_upload_dir(p, path))
            snprintf(why, sizeof(why), "script in an upload directory");
        if (why[0]) {
            q->verdicts |= 1u << HTTP_K_WEBSHELL_ACCESS;
            snprintf(q->detail, sizeof(q->detail), "%s", why);
        }
    }
    if (!strcmp(m, "GET"))
        q->monitor = http_deface_monitor_index(d, f, path);
}

/* Look at a request body prefix: uploaded scripts in multipart forms and
 * content that reads like a webshell. */
void http_webshell_classify_body(struct http_det *d, struct flow *f, struct http_req *q,
                                 const struct http_side *s)
{
    const struct http_params *p = &d->p;
    const uint8_t *body = http_side_prefix(d, f, FLOW_TO_SERVER);
    size_t n = s->prefix_len;
    if (n == 0)
        return;
    bool put_like = !strcmp(q->method, "PUT");
    bool post = !strcmp(q->method, "POST");
    if (s->multipart && post) {
        struct http_slice boundary = {(const uint8_t *)s->boundary, s->boundary_len};
        size_t off = 0;
        struct http_part part;
        for (int i = 0; i < 32 && http_multipart_next(body, n, boundary, &off, &part); i++) {
            if (!part.filename.len)
                continue;
            char name[128], low[128];
            http_copy_slice(name, sizeof(name), part.filename);
            http_norm_path(name, low, sizeof(low));
            bool script = is_script(p, low);
            bool code = http_strlist_find_in(&p->webshell_exec, part.data.p, part.data.len) &&
                        http_strlist_find_in(&p->webshell_input, part.data.p, part.data.len);
            if (script || code) {
                q->verdicts |= 1u << HTTP_K_WEBSHELL_UPLOAD;
                snprintf(q->detail, sizeof(q->detail), "%s", http_last_segment(low));
                http_excerpt(q->excerpt, sizeof(q->excerpt), part.data.p, part.data.len);
                q->plain_write = false;
                return;
            }
            q->plain_write = true; /* a file upload of data: counted */
        }
    } else if (put_like) {
        if (http_strlist_find_in(&p->webshell_exec, body, n) &&
            http_strlist_find_in(&p->webshell_input, body, n)) {
            /* Webshell code under any name (shell.jpg, x.txt). */
            q->verdicts |= 1u << HTTP_K_WEBSHELL_UPLOAD;
            q->verdicts &= (uint16_t) ~(1u << HTTP_K_DAV_WRITE);
            q->plain_write = false;
        }
    } else if (post && !s->multipart) {
        /* Commands posted to a one-line shell (China Chopper style). */
        if (is_script(p, q->target) && http_strlist_find_in(&p->webshell_exec, body, n) &&
            http_strlist_find_in(&p->webshell_input, body, n)) {
            q->verdicts |= 1u << HTTP_K_WEBSHELL_ACCESS;
            snprintf(q->detail, sizeof(q->detail), "webshell code in the request body");
        }
    }
    if (!q->excerpt[0])
        http_excerpt(q->excerpt, sizeof(q->excerpt), body, n);
}

int http_webshell_init(struct http_det *d)
{
    d->n_uploads = (uint32_t)d->p.max_uploads;
    d->uploads = calloc(d->n_uploads, sizeof(*d->uploads));
    return d->uploads ? 0 : -1;
}

void http_webshell_free(struct http_det *d)
{
    free(d->uploads);
    d->uploads = NULL;
}
