/* baseline.c — see baseline.h.  The file is "key value" lines; values
 * never hold a newline (page text is whitespace-collapsed). */
#include "agent/check/baseline.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hash.h"

void baseline_path(const char *state_dir, const char *asset, const char *url, char *path,
                   size_t size)
{
    char key[1024];
    int n = snprintf(key, sizeof(key), "%s\n%s", asset, url);
    uint64_t id = hash_bytes(key, (size_t)(n > 0 ? n : 0), 0x63616e68u);
    snprintf(path, size, "%s/checks/%016" PRIx64, state_dir, id);
}

static void hex_to(const char *hex, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return;
        out[i] = (uint8_t)v;
    }
}

static void copy_value(char *dst, size_t size, const char *v)
{
    snprintf(dst, size, "%s", v);
}

int baseline_load(const char *path, struct check_baseline *b)
{
    memset(b, 0, sizeof(*b));
    FILE *fp = fopen(path, "r");
    if (!fp)
        return errno == ENOENT ? 0 : -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    size_t markers = 0;
    while ((n = getline(&line, &cap, fp)) > 0) {
        if (line[n - 1] == '\n')
            line[--n] = '\0';
        char *v = strchr(line, ' ');
        if (!v)
            continue;
        *v++ = '\0';
        struct page_facts *p = &b->page;
        if (strcmp(line, "sha256") == 0 && strlen(v) == 64) {
            hex_to(v, p->sha256, 32);
            b->have_page = true;
        } else if (strcmp(line, "masks") == 0) {
            b->masks_id = strtoull(v, NULL, 16);
        } else if (strcmp(line, "size") == 0) {
            p->size = strtoull(v, NULL, 10);
        } else if (strcmp(line, "title") == 0) {
            copy_value(p->title, sizeof(p->title), v);
        } else if (strcmp(line, "text") == 0) {
            copy_value(p->text, sizeof(p->text), v);
        } else if (strcmp(line, "domain") == 0 && p->n_domains < PAGE_MAX_DOMAINS) {
            copy_value(p->domains[p->n_domains++], PAGE_DOMAIN_MAX, v);
        } else if (strcmp(line, "marker") == 0 && markers + strlen(v) + 2 < PAGE_MARKERS_MAX) {
            markers +=
                (size_t)snprintf(p->markers + markers, PAGE_MARKERS_MAX - markers, "%s\n", v);
        } else if (strcmp(line, "spki") == 0 && strlen(v) == 64) {
            copy_value(b->tls.spki_sha256, sizeof(b->tls.spki_sha256), v);
            b->have_tls = b->tls.valid = true;
        } else if (strcmp(line, "issuer") == 0) {
            copy_value(b->tls.issuer, sizeof(b->tls.issuer), v);
        } else if (strcmp(line, "subject") == 0) {
            copy_value(b->tls.subject, sizeof(b->tls.subject), v);
        } else if (strcmp(line, "not_before") == 0) {
            b->tls.not_before = strtoll(v, NULL, 10);
        } else if (strcmp(line, "not_after") == 0) {
            b->tls.not_after = strtoll(v, NULL, 10);
        }
    }
    free(line);
    int rc = ferror(fp) ? -1 : 0;
    fclose(fp);
    return rc;
}

static void put_line(FILE *fp, const char *key, const char *v)
{
    fputs(key, fp);
    fputc(' ', fp);
    for (; *v; v++)
        fputc(*v == '\n' || *v == '\r' ? ' ' : *v, fp);
    fputc('\n', fp);
}

int baseline_save(const char *path, const char *asset, const char *url,
                  const struct check_baseline *b)
{
    char dir[1024], tmp[1100];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        if (mkdir(dir, 0750) < 0 && errno != EEXIST)
            return -1;
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *fp = fopen(tmp, "w");
    if (!fp)
        return -1;
    fputs("# canh-agent page check baseline (agent/check/baseline.c); delete the file and\n"
          "# send SIGHUP to learn the page again.\n",
          fp);
    put_line(fp, "asset", asset);
    put_line(fp, "url", url);
    if (b->have_page) {
        const struct page_facts *p = &b->page;
        char hex[65];
        for (int i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", p->sha256[i]);
        put_line(fp, "sha256", hex);
        fprintf(fp, "size %" PRIu64 "\nmasks %016" PRIx64 "\n", p->size, b->masks_id);
        put_line(fp, "title", p->title);
        for (size_t i = 0; i < p->n_domains; i++)
            put_line(fp, "domain", p->domains[i]);
        for (const char *s = p->markers; *s;) {
            size_t n = strcspn(s, "\n");
            fprintf(fp, "marker %.*s\n", (int)n, s);
            s += n + (s[n] == '\n');
        }
        put_line(fp, "text", p->text);
    }
    if (b->have_tls) {
        put_line(fp, "spki", b->tls.spki_sha256);
        put_line(fp, "issuer", b->tls.issuer);
        put_line(fp, "subject", b->tls.subject);
        fprintf(fp, "not_before %" PRId64 "\nnot_after %" PRId64 "\n", b->tls.not_before,
                b->tls.not_after);
    }
    int rc = 0;
    if (fflush(fp) != 0 || fsync(fileno(fp)) != 0)
        rc = -1;
    if (fclose(fp) != 0)
        rc = -1;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -1;
    if (rc < 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
    }
    return rc;
}
