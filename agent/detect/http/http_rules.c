/* http_rules.c — the http detector's rules: one rule per finding kind,
 * named after it (rules/http.rules, docs/rules-http.md), read into struct
 * http_params.  The keys about the flow table are shared: any one rule may
 * set each of them, once.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/detect/http/http_internal.h"

const char *const http_kind_names[HTTP_K_COUNT] = {
    "dav_write",  "dav_delete",   "webshell_upload", "webshell_access",
    "defacement", "page_changed", "http_flood",
};

/* ---- string lists ---------------------------------------------------- */

static void strlist_free(struct http_strlist *l)
{
    free(l->text);
    free(l->v);
    free(l->len);
    memset(l, 0, sizeof(*l));
}

/* Items separated by commas (or newlines when lines), trimmed, lower-cased,
 * empty ones and '#' comment lines skipped.  -1 on no memory. */
static int strlist_set(struct http_strlist *l, const char *text, bool lines)
{
    strlist_free(l);
    size_t tl = strlen(text);
    l->text = malloc(tl + 1);
    size_t cap = 1;
    for (size_t i = 0; i < tl; i++)
        cap += text[i] == ',' || text[i] == '\n';
    l->v = calloc(cap, sizeof(*l->v));
    l->len = calloc(cap, sizeof(*l->len));
    if (!l->text || !l->v || !l->len) {
        strlist_free(l);
        return -1;
    }
    for (size_t i = 0; i <= tl; i++)
        l->text[i] = (char)tolower((unsigned char)text[i]);
    char sep = lines ? '\n' : ',';
    char *s = l->text;
    while (s) {
        char *e = strchr(s, sep);
        if (e)
            *e = '\0';
        while (*s == ' ' || *s == '\t' || *s == '\r')
            s++;
        size_t n = strlen(s);
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
            s[--n] = '\0';
        if (n && !(lines && s[0] == '#')) {
            l->v[l->n] = s;
            l->len[l->n] = n;
            l->n++;
        }
        s = e ? e + 1 : NULL;
    }
    return 0;
}

bool http_strlist_has(const struct http_strlist *l, const char *s, size_t n)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->len[i] == n && strncasecmp(l->v[i], s, n) == 0)
            return true;
    return false;
}

/* The first item found in text (case-insensitive), or NULL. */
const char *http_strlist_find_in(const struct http_strlist *l, const uint8_t *text, size_t n)
{
    for (size_t i = 0; i < l->n; i++)
        if (http_memcasemem(text, n, l->v[i], l->len[i]))
            return l->v[i];
    return NULL;
}
/* ---- rules ----------------------------------------------------------- */

/* Web content: pages and what runs in the browser.  Server-side scripts
 * are script_extensions (webshell_upload); images and data are not here:
 * an API storing JSON or a form storing photos is not a defacement. */
static const char DEFAULT_PAGE_EXT[] = ".html, .htm, .shtml, .xhtml, .js, .css, .svg";
static const char DEFAULT_SCRIPT_EXT[] =
    ".php, .php3, .php4, .php5, .php7, .pht, .phtml, .phar, .jsp, .jspx, .asp, .aspx, .ashx, "
    ".asmx, .cer, .cgi, .pl, .py, .sh";
static const char DEFAULT_EXEC[] =
    "eval(, assert(, system(, passthru(, shell_exec(, exec(, popen(, proc_open(, pcntl_exec(, "
    "base64_decode(, create_function(, runtime.getruntime, processbuilder, wscript.shell, "
    "cmd.exe, /bin/sh";
static const char DEFAULT_INPUT[] =
    "$_get, $_post, $_request, $_cookie, $_server, $_files, <?php, <?=, <%, getparameter(, "
    "request.form, request.querystring, request.item, request(";
static const char DEFAULT_UPLOAD_DIRS[] =
    "/upload/, /uploads/, /files/, /images/, /img/, /media/, /static/, /assets/, /tmp/, "
    "/userfiles/, /attachments/, /cache/, /wp-content/uploads/";
static const char DEFAULT_CMD_PARAMS[] = "cmd, exec, command, c, shell, execute, e, run, x";
static const char DEFAULT_CMD_WORDS[] =
    "id, whoami, uname, ls, dir, cat, pwd, wget, curl, nc, ncat, bash, sh, python, perl, php, "
    "echo, rm, chmod, ps, netstat, ifconfig, ipconfig, net, type, hostname, find, tar, base64";
static const char DEFAULT_MARKERS[] =
    "hacked by, defaced by, owned by, h4ck3d, security is a myth, pwned by, greetz to";
static const uint16_t DEFAULT_WEB_PORTS[] = {80, 8080, 8000, 8888};
/* Where TLS handshakes are read (besides the web ports). */
static const uint16_t DEFAULT_TLS_PORTS[] = {443, 8443};

void http_params_free(struct http_params *p)
{
    strlist_free(&p->page_extensions);
    strlist_free(&p->script_extensions);
    strlist_free(&p->webshell_exec);
    strlist_free(&p->webshell_input);
    strlist_free(&p->upload_dirs);
    strlist_free(&p->command_params);
    strlist_free(&p->command_words);
    strlist_free(&p->markers);
    memset(p, 0, sizeof(*p));
}

static int get_list(struct rule *r, const char *key, const char *def, struct http_strlist *out,
                    struct cfg_err *err)
{
    const char *v = r ? rule_get_string(r, key) : NULL;
    if (strlist_set(out, v ? v : def, false) < 0)
        return cfg_fail(err, r ? r->file : "http", r ? rule_key_line(r, key) : 0, "out of memory");
    return 0;
}

/* Every item of list must start with lead ('.' for extensions, '/' for
 * directories): "php" or "uploads/" would never match what they mean. */
static int require_lead(struct rule *r, const char *key, const struct http_strlist *l, char lead,
                        struct cfg_err *err)
{
    for (size_t i = 0; r && i < l->n; i++)
        if (l->v[i][0] != lead)
            return cfg_fail(err, r->file, rule_key_line(r, key), "%s: '%s' must start with '%c'",
                            key, l->v[i], lead);
    return 0;
}

/* One marker a line; relative paths are next to the rule file. */
static int load_markers_file(struct rule *r, const char *name, struct http_strlist *out,
                             struct cfg_err *err)
{
    char path[1024];
    if (name[0] == '/') {
        snprintf(path, sizeof(path), "%s", name);
    } else {
        const char *slash = strrchr(r->file, '/');
        int dir = slash ? (int)(slash - r->file) : 1;
        snprintf(path, sizeof(path), "%.*s/%s", dir, slash ? r->file : ".", name);
    }
    FILE *fp = fopen(path, "r");
    if (!fp)
        return cfg_fail(err, r->file, rule_key_line(r, "markers_file"),
                        "markers_file: cannot open %s: %s", path, strerror(errno));
    char text[65536];
    size_t n = fread(text, 1, sizeof(text) - 1, fp);
    bool more = !feof(fp);
    fclose(fp);
    if (more)
        return cfg_fail(err, r->file, rule_key_line(r, "markers_file"),
                        "markers_file: %s is larger than 64 KiB", path);
    text[n] = '\0';
    struct http_strlist file_list = {0};
    if (strlist_set(&file_list, text, true) < 0)
        return cfg_fail(err, r->file, 0, "out of memory");
    /* Join with the inline list. */
    size_t total = 1;
    for (size_t i = 0; i < out->n; i++)
        total += out->len[i] + 2;
    for (size_t i = 0; i < file_list.n; i++)
        total += file_list.len[i] + 2;
    char *joined = malloc(total);
    if (!joined) {
        strlist_free(&file_list);
        return cfg_fail(err, r->file, 0, "out of memory");
    }
    joined[0] = '\0';
    for (size_t i = 0; i < out->n; i++) {
        strcat(joined, out->v[i]);
        strcat(joined, "\n");
    }
    for (size_t i = 0; i < file_list.n; i++) {
        strcat(joined, file_list.v[i]);
        strcat(joined, "\n");
    }
    strlist_free(&file_list);
    int rc = strlist_set(out, joined, true);
    free(joined);
    if (rc < 0)
        return cfg_fail(err, r->file, 0, "out of memory");
    if (out->n == 0)
        return cfg_fail(err, r->file, rule_key_line(r, "markers_file"),
                        "markers_file: %s has no markers", path);
    return 0;
}

static int parse_ports(struct rule *r, const char *key, const char *text, uint16_t *ports,
                       size_t *n_ports, struct cfg_err *err)
{
    *n_ports = 0;
    const char *s = text;
    while (*s) {
        while (*s == ' ' || *s == ',' || *s == '\t')
            s++;
        if (!*s)
            break;
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > 65535 || *n_ports >= HTTP_MAX_WEB_PORTS)
            return cfg_fail(err, r->file, rule_key_line(r, key),
                            "%s: '%s' is not a list of up to %d ports", key, text,
                            HTTP_MAX_WEB_PORTS);
        ports[(*n_ports)++] = (uint16_t)v;
        s = end;
    }
    if (*n_ports == 0)
        return cfg_fail(err, r->file, rule_key_line(r, key), "%s: empty list", key);
    return 0;
}

/* The keys about the flow table, which may sit in any one http rule. */
enum shared_type { SHARED_PORTS, SHARED_COUNT, SHARED_SIZE, SHARED_DURATION };

struct shared_key {
    const char *key;
    enum shared_type type;
    size_t field; /* offset of the uint64_t in struct http_params */
    uint64_t def;
    uint64_t min, max; /* SHARED_COUNT and SHARED_SIZE */
    const char *range; /* SHARED_SIZE: the bounds, as the message says them */
};

static const struct shared_key shared_keys[] = {
    {"web_ports", SHARED_PORTS, 0, 0, 0, 0, NULL},
    {"tls_ports", SHARED_PORTS, 0, 0, 0, 0, NULL},
    {"max_flows", SHARED_COUNT, offsetof(struct http_params, max_flows), 2048, 16, 1u << 22, NULL},
    {"flow_window", SHARED_SIZE, offsetof(struct http_params, flow_window), 4096, 1024, 65536,
     "between 1KiB and 64KiB"},
    {"flow_idle", SHARED_DURATION, offsetof(struct http_params, flow_idle_us), 60ull * 1000000, 0,
     0, NULL},
    {"body_inspect", SHARED_SIZE, offsetof(struct http_params, body_inspect), 2048, 256, 16384,
     "between 256 and 16KiB"},
    {"max_findings", SHARED_COUNT, offsetof(struct http_params, max_findings), 256, 8, 65536, NULL},
};
#define N_SHARED_KEYS (sizeof(shared_keys) / sizeof(shared_keys[0]))

static uint64_t *shared_field(struct http_params *p, const struct shared_key *k)
{
    return (uint64_t *)((char *)p + k->field);
}

static void shared_defaults(struct http_params *p)
{
    memcpy(p->web_ports, DEFAULT_WEB_PORTS, sizeof(DEFAULT_WEB_PORTS));
    p->n_web_ports = sizeof(DEFAULT_WEB_PORTS) / sizeof(DEFAULT_WEB_PORTS[0]);
    memcpy(p->tls_ports, DEFAULT_TLS_PORTS, sizeof(DEFAULT_TLS_PORTS));
    p->n_tls_ports = sizeof(DEFAULT_TLS_PORTS) / sizeof(DEFAULT_TLS_PORTS[0]);
    for (size_t i = 0; i < N_SHARED_KEYS; i++)
        if (shared_keys[i].type != SHARED_PORTS)
            *shared_field(p, &shared_keys[i]) = shared_keys[i].def;
}

/* Read key k from rule r if r sets it; owner is the rule that set it
 * first, so a second one is an error. */
static int shared_key_read(struct rule *r, const struct shared_key *k, struct rule **owner,
                           struct http_params *p, struct cfg_err *err)
{
    if (!rule_get_string(r, k->key))
        return 0;
    if (*owner && *owner != r)
        return cfg_fail(err, r->file, rule_key_line(r, k->key),
                        "%s is set in rule [%s] and in rule [%s] (%s:%d); set it once", k->key,
                        r->name, (*owner)->name, (*owner)->file, rule_key_line(*owner, k->key));
    *owner = r;
    uint64_t *v = shared_field(p, k);
    switch (k->type) {
    case SHARED_PORTS:
        if (strcmp(k->key, "tls_ports") == 0)
            return parse_ports(r, k->key, rule_get_string(r, k->key), p->tls_ports, &p->n_tls_ports,
                               err);
        return parse_ports(r, k->key, rule_get_string(r, k->key), p->web_ports, &p->n_web_ports,
                           err);
    case SHARED_COUNT:
        return rule_get_count(r, k->key, *v, k->min, k->max, v, err);
    case SHARED_DURATION:
        return rule_get_duration(r, k->key, *v, v, err);
    case SHARED_SIZE:
        if (rule_get_size(r, k->key, *v, v, err) < 0)
            return -1;
        if (*v < k->min || *v > k->max)
            return cfg_fail(err, r->file, rule_key_line(r, k->key), "%s: %s", k->key, k->range);
        return 0;
    }
    return 0;
}

static void script_pair_add(struct http_params *p, uint8_t a, uint8_t b)
{
    uint32_t pair = (uint32_t)a << 8 | b;
    p->script_pairs[pair / 64] |= 1ull << (pair % 64);
}

/* script_pairs and its flags from script_extensions (http_internal.h). */
static void script_pairs_build(struct http_params *p)
{
    static const uint8_t ends[] = {'\0', '.', ';'};
    const struct http_strlist *l = &p->script_extensions;
    memset(p->script_pairs, 0, sizeof(p->script_pairs));
    p->script_pairs_all = p->script_undotted = false;
    for (size_t i = 0; i < l->n; i++) {
        const uint8_t *e = (const uint8_t *)l->v[i];
        if (l->len[i] == 0 || e[0] != '.')
            p->script_undotted = true;
        else if (l->len[i] == 1)
            p->script_pairs_all = true;
        else if (l->len[i] == 2)
            for (size_t k = 0; k < sizeof(ends); k++) /* what may end a one-letter one */
                script_pair_add(p, e[1], ends[k]);
        else
            script_pair_add(p, e[1], e[2]);
    }
}

int http_params_load(struct ruleset *rs, struct http_params *p, struct cfg_err *err)
{
    memset(p, 0, sizeof(*p));
    struct rule *all[HTTP_K_COUNT] = {0};
    size_t cursor = 0;
    struct rule *r;
    while ((r = ruleset_next(rs, "http", &cursor))) {
        int k;
        for (k = 0; k < HTTP_K_COUNT; k++)
            if (strcmp(r->name, http_kind_names[k]) == 0)
                break;
        if (k == HTTP_K_COUNT)
            return cfg_fail(err, r->file, r->line,
                            "rule [%s]: an http rule is named after its finding (dav_write, "
                            "dav_delete, webshell_upload, webshell_access, defacement, "
                            "page_changed, http_flood)",
                            r->name);
        all[k] = r;
        if (r->enabled)
            p->rule[k] = r;
    }

    shared_defaults(p);
    struct rule *owner[N_SHARED_KEYS] = {0};
    for (int k = 0; k < HTTP_K_COUNT; k++)
        for (size_t i = 0; all[k] && i < N_SHARED_KEYS; i++)
            if (shared_key_read(all[k], &shared_keys[i], &owner[i], p, err) < 0)
                return -1;

    r = all[HTTP_K_DAV_WRITE];
    if (get_list(r, "page_extensions", DEFAULT_PAGE_EXT, &p->page_extensions, err) < 0 ||
        require_lead(r, "page_extensions", &p->page_extensions, '.', err) < 0)
        return -1;
    p->nonpage_taxonomy = taxonomy_find("attack.intrusion");
    const char *tx = r ? rule_get_string(r, "nonpage_taxonomy") : NULL;
    if (tx && !(p->nonpage_taxonomy = taxonomy_find(tx)))
        return cfg_fail(err, r->file, rule_key_line(r, "nonpage_taxonomy"),
                        "nonpage_taxonomy: '%s' is not a taxonomy code", tx);

    r = all[HTTP_K_WEBSHELL_UPLOAD];
    if (get_list(r, "script_extensions", DEFAULT_SCRIPT_EXT, &p->script_extensions, err) < 0 ||
        get_list(r, "webshell_exec", DEFAULT_EXEC, &p->webshell_exec, err) < 0 ||
        get_list(r, "webshell_input", DEFAULT_INPUT, &p->webshell_input, err) < 0)
        return -1;
    script_pairs_build(p);
    if (r &&
        (rule_get_count(r, "max_uploads", 256, 1, 65536, &p->max_uploads, err) < 0 ||
         rule_get_duration(r, "upload_memory", 3600ull * 1000000, &p->upload_memory_us, err) < 0))
        return -1;
    if (!r) {
        p->max_uploads = 256;
        p->upload_memory_us = 3600ull * 1000000;
    }

    r = all[HTTP_K_WEBSHELL_ACCESS];
    if (get_list(r, "upload_dirs", DEFAULT_UPLOAD_DIRS, &p->upload_dirs, err) < 0 ||
        get_list(r, "command_params", DEFAULT_CMD_PARAMS, &p->command_params, err) < 0 ||
        get_list(r, "command_words", DEFAULT_CMD_WORDS, &p->command_words, err) < 0 ||
        require_lead(r, "upload_dirs", &p->upload_dirs, '/', err) < 0)
        return -1;

    r = all[HTTP_K_DEFACEMENT];
    if (get_list(r, "markers", DEFAULT_MARKERS, &p->markers, err) < 0)
        return -1;
    const char *mf = r ? rule_get_string(r, "markers_file") : NULL;
    if (mf) {
        /* A file replaces the built-in list unless markers is given too. */
        if (!rule_get_string(r, "markers"))
            strlist_free(&p->markers);
        if (load_markers_file(r, mf, &p->markers, err) < 0)
            return -1;
    }
    if (p->markers.n == 0 && r)
        return cfg_fail(err, r->file, r->line, "rule [defacement] has no markers");

    r = all[HTTP_K_PAGE_CHANGED];
    p->learn_pages = true;
    p->max_pages = 256;
    p->hash_slots = 16;
    if (r && (rule_get_bool(r, "learn", true, &p->learn_pages, err) < 0 ||
              rule_get_count(r, "max_pages", 256, 1, 65536, &p->max_pages, err) < 0 ||
              rule_get_count(r, "hash_slots", 16, 1, 1024, &p->hash_slots, err) < 0))
        return -1;

    r = all[HTTP_K_HTTP_FLOOD];
    p->flood_rate = 1000;
    p->flood_factor = 10;
    p->answered_ratio = 0.5;
    p->flood_window_us = 1000000;
    p->flood_learn_us = 300ull * 1000000;
    p->flood_top = 5;
    p->max_targets = 256;
    if (r && (rule_get_rate(r, "rate", 1000, &p->flood_rate, err) < 0 ||
              rule_get_multiple(r, "factor", 10, &p->flood_factor, err) < 0 ||
              rule_get_ratio(r, "answered_ratio", 0.5, &p->answered_ratio, err) < 0 ||
              rule_get_duration(r, "window", 1000000, &p->flood_window_us, err) < 0 ||
              rule_get_duration(r, "learn", 300ull * 1000000, &p->flood_learn_us, err) < 0 ||
              rule_get_count(r, "top", 5, 1, 16, &p->flood_top, err) < 0 ||
              rule_get_count(r, "max_targets", 256, 1, 65536, &p->max_targets, err) < 0))
        return -1;
    if (r && (p->flood_window_us < 1000000 || p->flood_window_us > 59ull * 1000000 ||
              p->flood_window_us % 1000000))
        return cfg_fail(err, r->file, rule_key_line(r, "window"),
                        "window: whole seconds between 1s and 59s");
    if (r && p->flood_learn_us < 1000000)
        return cfg_fail(err, r->file, rule_key_line(r, "learn"), "learn: at least 1s");
    return 0;
}
