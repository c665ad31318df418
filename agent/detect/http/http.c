/* http.c — the http detector (DESIGN §4.3, issue 4): defacement-like web
 * traffic seen on the web ports of the agency's assets.
 *
 * Packets of web flows go through flow.c (in-order bytes per direction in
 * a small window) and http_parse.c (heads and body framing).  Requests are
 * classified when their head and the first body_inspect bytes of their
 * body are in; the verdict waits in a short per-flow queue for the
 * server's answer, so the finding carries the status (and impact) too:
 *
 *   dav_write        PUT MKCOL MOVE COPY PROPPATCH (pages → defacement)
 *   dav_delete       DELETE of site content (destruction)
 *   webshell_upload  a server-side script or webshell-looking content
 *                    written by PUT/MOVE/COPY or a multipart POST
 *   webshell_access  a script under an upload directory, a script that
 *                    was just uploaded, or one given a shell command
 *   defacement       HTML served with a marker ("hacked by" ...)
 *   page_changed     a monitored URL served with a body whose SHA-256
 *                    differs from the declared or learned one
 *   http_flood       request rate to one server far above its baseline
 *                    and the floor; counted per packet, so captures cut
 *                    by a small snaplen still count
 *
 * Findings are keyed by (kind, client, server) — by (kind, server) for
 * defacement, page_changed and http_flood, which are about the server —
 * and follow finding.h: one "new", updates at most every update_interval,
 * one "end" after hold_down of quiet.  Every table is fixed at init.
 * SHA-256 is nettle's (Debian nettle-dev); gzip/deflate is zlib's.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <nettle/sha2.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "agent/detect/detector.h"
#include "agent/detect/finding.h"
#include "agent/detect/http/flow.h"
#include "agent/detect/http/http_parse.h"
#include "agent/detect/sketch.h"
#include "common/hash.h"
#include "common/log.h"

/* ---- kinds and parameters ------------------------------------------ */

enum kind {
    K_DAV_WRITE,
    K_DAV_DELETE,
    K_WEBSHELL_UPLOAD,
    K_WEBSHELL_ACCESS,
    K_DEFACEMENT,
    K_PAGE_CHANGED,
    K_HTTP_FLOOD,
    K_COUNT
};

static const char *const kind_names[K_COUNT] = {
    "dav_write",  "dav_delete",   "webshell_upload", "webshell_access",
    "defacement", "page_changed", "http_flood",
};

/* Findings about the server itself, whoever fetched the page. */
static bool kind_keyed_by_server(enum kind k)
{
    return k == K_DEFACEMENT || k == K_PAGE_CHANGED || k == K_HTTP_FLOOD;
}

#define MAX_WEB_PORTS 32
#define REQ_QUEUE 4
#define EXCERPT_LEN 96
#define TOP_NAMES 16

struct strlist {
    char *text; /* owned copy, items NUL-separated, lower case */
    const char **v;
    size_t *len;
    size_t n;
};

struct params {
    struct rule *rule[K_COUNT]; /* NULL: kind not reported */
    /* shared by every http rule */
    uint16_t web_ports[MAX_WEB_PORTS];
    size_t n_web_ports;
    uint64_t max_flows, flow_window, flow_idle_us, body_inspect, max_findings;
    /* dav_write */
    struct strlist page_extensions;
    const struct taxonomy *nonpage_taxonomy;
    /* webshell_upload */
    struct strlist script_extensions, webshell_exec, webshell_input;
    uint64_t max_uploads, upload_memory_us;
    /* webshell_access */
    struct strlist upload_dirs, command_params, command_words;
    /* defacement */
    struct strlist markers;
    /* page_changed */
    bool learn_pages;
    uint64_t max_pages, hash_slots;
    /* http_flood */
    double flood_rate, flood_factor, answered_ratio;
    uint64_t flood_window_us, flood_learn_us, flood_top, max_targets;
};

/* ---- state ----------------------------------------------------------- */

struct http_req {
    char method[12];
    char target[160];
    char host[64];
    char detail[128]; /* filename, destination or matched pattern */
    char excerpt[EXCERPT_LEN];
    uint64_t body_bytes;
    uint16_t verdicts; /* kinds waiting for the answer */
    bool page;         /* dav_write of a page (defacement) */
    int8_t monitor;    /* monitored URL index on the asset, -1: none */
    uint8_t minor;
};

enum { SIDE_HEAD, SIDE_BODY, SIDE_OFF };

struct http_side {
    uint8_t phase;
    uint8_t coding;
    bool collect; /* keep a body prefix for inspection */
    bool is_html;
    bool multipart;
    bool hashing; /* page_changed: SHA-256 of the decoded body */
    bool hash_failed;
    bool seen_message; /* a head was parsed on this side */
    uint16_t zslot;    /* inflate slot of the hash + 1, 0: none */
    int status;
    uint8_t boundary_len;
    char boundary[72];
    uint32_t prefix_len;
    struct http_body body;
    struct sha256_ctx sha;
};

struct http_flow {
    struct http_side side[2];
    uint8_t head, count; /* request queue: oldest at head */
    uint8_t receiving;   /* queue slot + 1 whose body is arriving, 0: none */
    /* Not cleared for a new flow (most of its size): request_head clears
     * a slot as it enters the queue, and only queued slots are read. */
    struct http_req req[REQ_QUEUE];
    /* two body prefixes of body_inspect bytes follow */
};

struct fslot {
    bool used;
    uint8_t kind;
    struct ipaddr src, dst;
    uint16_t dport;
    struct finding_life life;
    uint64_t requests, ok, lru_us;
    int last_status;
    bool impact, dirty;
    const struct taxonomy *taxonomy;
    json_t *evidence;
};

struct url_name {
    uint64_t hash;
    char path[96];
};

struct target {
    bool used;
    struct ipaddr addr;
    uint16_t port;
    uint64_t sec; /* current second (packet time) */
    uint32_t req[60], answered[60], failed[60];
    double baseline;
    uint64_t seconds_seen, last_us;
    double peak_rate;
    struct topk urls, clients;
    struct url_name names[TOP_NAMES];
    struct finding_life life;
    bool dirty;
    struct ipaddr src;
    bool has_src;
};

struct upload {
    uint64_t key, at_us;
};

struct page_base {
    uint64_t key, lru_us;
    bool used;
    uint8_t sha256[32];
};

struct zslot {
    z_stream z;
    bool ready, busy;
};

struct counters {
    uint64_t requests, responses, malformed, not_http, tls, midstream_skipped, head_too_long;
    uint64_t queue_overflow, findings_dropped, allowed, pages_learned, page_hash_skipped;
    uint64_t inflate_errors, targets_replaced;
};

struct http_det {
    const struct detect_env *env;
    struct params p;
    struct flow_table *flows;
    struct fslot *findings;
    uint32_t n_findings;
    struct target *targets;
    uint32_t n_targets;
    struct upload *uploads;
    uint32_t n_uploads, next_upload;
    struct page_base *pages;
    uint32_t n_pages;
    struct zslot *zslots;
    uint32_t n_zslots;
    z_stream zprefix;
    bool zprefix_ready;
    uint8_t *scratch;
    size_t scratch_cap;
    uint64_t now_us;
    struct counters c;
    /* Every port that is a web port of some server (the rule's list and
     * the assets' own), so most packets are turned away before an asset
     * lookup; rebuilt when the assets are reloaded. */
    uint8_t web_port_map[65536 / 8];
    const struct asset *map_assets;
    size_t map_n_assets;
    bool map_ready;
};

/* ---- string lists ---------------------------------------------------- */

static void strlist_free(struct strlist *l)
{
    free(l->text);
    free(l->v);
    free(l->len);
    memset(l, 0, sizeof(*l));
}

/* Items separated by commas (or newlines when lines), trimmed, lower-cased,
 * empty ones and '#' comment lines skipped.  -1 on no memory. */
static int strlist_set(struct strlist *l, const char *text, bool lines)
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

static bool strlist_has(const struct strlist *l, const char *s, size_t n)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->len[i] == n && strncasecmp(l->v[i], s, n) == 0)
            return true;
    return false;
}

/* The first item found in text (case-insensitive), or NULL. */
static const char *strlist_find_in(const struct strlist *l, const uint8_t *text, size_t n)
{
    for (size_t i = 0; i < l->n; i++)
        if (http_memcasemem(text, n, l->v[i], l->len[i]))
            return l->v[i];
    return NULL;
}

/* ---- rules ----------------------------------------------------------- */

static const char DEFAULT_PAGE_EXT[] =
    ".html, .htm, .shtml, .xhtml, .css, .js, .png, .jpg, .jpeg, .gif, .svg, .ico, .webp, .bmp";
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

static void params_free(struct params *p)
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

static int get_list(struct rule *r, const char *key, const char *def, struct strlist *out,
                    struct cfg_err *err)
{
    const char *v = r ? rule_get_string(r, key) : NULL;
    if (strlist_set(out, v ? v : def, false) < 0)
        return cfg_fail(err, r ? r->file : "http", r ? rule_key_line(r, key) : 0, "out of memory");
    return 0;
}

/* One marker a line; relative paths are next to the rule file. */
static int load_markers_file(struct rule *r, const char *name, struct strlist *out,
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
    struct strlist file_list = {0};
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

static int parse_ports(struct rule *r, const char *text, struct params *p, struct cfg_err *err)
{
    p->n_web_ports = 0;
    const char *s = text;
    while (*s) {
        while (*s == ' ' || *s == ',' || *s == '\t')
            s++;
        if (!*s)
            break;
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > 65535 || p->n_web_ports >= MAX_WEB_PORTS)
            return cfg_fail(err, r->file, rule_key_line(r, "web_ports"),
                            "web_ports: '%s' is not a list of up to %d ports", text, MAX_WEB_PORTS);
        p->web_ports[p->n_web_ports++] = (uint16_t)v;
        s = end;
    }
    if (p->n_web_ports == 0)
        return cfg_fail(err, r->file, rule_key_line(r, "web_ports"), "web_ports: empty list");
    return 0;
}

/* Keys about the flow table may sit in any one http rule. */
static int shared_key(struct rule *r, const char *key, struct rule **owner, struct cfg_err *err)
{
    if (!rule_get_string(r, key))
        return 0;
    if (*owner && *owner != r)
        return cfg_fail(err, r->file, rule_key_line(r, key),
                        "%s is set in rule [%s] and in rule [%s] (%s:%d); set it once", key,
                        r->name, (*owner)->name, (*owner)->file, rule_key_line(*owner, key));
    *owner = r;
    return 1;
}

static int params_load(struct ruleset *rs, struct params *p, struct cfg_err *err)
{
    memset(p, 0, sizeof(*p));
    struct rule *all[K_COUNT] = {0};
    size_t cursor = 0;
    struct rule *r;
    while ((r = ruleset_next(rs, "http", &cursor))) {
        int k;
        for (k = 0; k < K_COUNT; k++)
            if (strcmp(r->name, kind_names[k]) == 0)
                break;
        if (k == K_COUNT)
            return cfg_fail(err, r->file, r->line,
                            "rule [%s]: an http rule is named after its finding (dav_write, "
                            "dav_delete, webshell_upload, webshell_access, defacement, "
                            "page_changed, http_flood)",
                            r->name);
        all[k] = r;
        if (r->enabled)
            p->rule[k] = r;
    }

    /* Shared keys. */
    memcpy(p->web_ports, DEFAULT_WEB_PORTS, sizeof(DEFAULT_WEB_PORTS));
    p->n_web_ports = sizeof(DEFAULT_WEB_PORTS) / sizeof(DEFAULT_WEB_PORTS[0]);
    p->max_flows = 2048;
    p->flow_window = 4096;
    p->flow_idle_us = 60ull * 1000000;
    p->body_inspect = 2048;
    p->max_findings = 256;
    struct rule *own[6] = {0};
    for (int k = 0; k < K_COUNT; k++) {
        struct rule *x = all[k];
        if (!x)
            continue;
        int rc;
        if ((rc = shared_key(x, "web_ports", &own[0], err)) < 0)
            return -1;
        if (rc && parse_ports(x, rule_get_string(x, "web_ports"), p, err) < 0)
            return -1;
        if ((rc = shared_key(x, "max_flows", &own[1], err)) < 0 ||
            (rc &&
             rule_get_count(x, "max_flows", p->max_flows, 16, 1u << 22, &p->max_flows, err) < 0))
            return -1;
        if ((rc = shared_key(x, "flow_window", &own[2], err)) < 0 ||
            (rc && rule_get_size(x, "flow_window", p->flow_window, &p->flow_window, err) < 0))
            return -1;
        if (p->flow_window < 1024 || p->flow_window > 65536)
            return cfg_fail(err, x->file, rule_key_line(x, "flow_window"),
                            "flow_window: between 1KiB and 64KiB");
        if ((rc = shared_key(x, "flow_idle", &own[3], err)) < 0 ||
            (rc && rule_get_duration(x, "flow_idle", p->flow_idle_us, &p->flow_idle_us, err) < 0))
            return -1;
        if ((rc = shared_key(x, "body_inspect", &own[4], err)) < 0 ||
            (rc && rule_get_size(x, "body_inspect", p->body_inspect, &p->body_inspect, err) < 0))
            return -1;
        if (p->body_inspect < 256 || p->body_inspect > 16384)
            return cfg_fail(err, x->file, rule_key_line(x, "body_inspect"),
                            "body_inspect: between 256 and 16KiB");
        if ((rc = shared_key(x, "max_findings", &own[5], err)) < 0 ||
            (rc && rule_get_count(x, "max_findings", p->max_findings, 8, 65536, &p->max_findings,
                                  err) < 0))
            return -1;
    }

    r = all[K_DAV_WRITE];
    if (get_list(r, "page_extensions", DEFAULT_PAGE_EXT, &p->page_extensions, err) < 0)
        return -1;
    p->nonpage_taxonomy = taxonomy_find("attack.intrusion");
    const char *tx = r ? rule_get_string(r, "nonpage_taxonomy") : NULL;
    if (tx && !(p->nonpage_taxonomy = taxonomy_find(tx)))
        return cfg_fail(err, r->file, rule_key_line(r, "nonpage_taxonomy"),
                        "nonpage_taxonomy: '%s' is not a taxonomy code", tx);

    r = all[K_WEBSHELL_UPLOAD];
    if (get_list(r, "script_extensions", DEFAULT_SCRIPT_EXT, &p->script_extensions, err) < 0 ||
        get_list(r, "webshell_exec", DEFAULT_EXEC, &p->webshell_exec, err) < 0 ||
        get_list(r, "webshell_input", DEFAULT_INPUT, &p->webshell_input, err) < 0)
        return -1;
    if (r &&
        (rule_get_count(r, "max_uploads", 256, 1, 65536, &p->max_uploads, err) < 0 ||
         rule_get_duration(r, "upload_memory", 3600ull * 1000000, &p->upload_memory_us, err) < 0))
        return -1;
    if (!r) {
        p->max_uploads = 256;
        p->upload_memory_us = 3600ull * 1000000;
    }

    r = all[K_WEBSHELL_ACCESS];
    if (get_list(r, "upload_dirs", DEFAULT_UPLOAD_DIRS, &p->upload_dirs, err) < 0 ||
        get_list(r, "command_params", DEFAULT_CMD_PARAMS, &p->command_params, err) < 0 ||
        get_list(r, "command_words", DEFAULT_CMD_WORDS, &p->command_words, err) < 0)
        return -1;

    r = all[K_DEFACEMENT];
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

    r = all[K_PAGE_CHANGED];
    p->learn_pages = true;
    p->max_pages = 256;
    p->hash_slots = 16;
    if (r && (rule_get_bool(r, "learn", true, &p->learn_pages, err) < 0 ||
              rule_get_count(r, "max_pages", 256, 1, 65536, &p->max_pages, err) < 0 ||
              rule_get_count(r, "hash_slots", 16, 1, 1024, &p->hash_slots, err) < 0))
        return -1;

    r = all[K_HTTP_FLOOD];
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

/* ---- paths ----------------------------------------------------------- */

/* The path of a request target, percent-decoded and lower-cased, without
 * scheme, authority, query or fragment. */
static size_t norm_path(const char *target, char *out, size_t cap)
{
    const char *s = target;
    if (strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0) {
        s = strstr(s, "://") + 3;
        s += strcspn(s, "/?#");
    }
    size_t n = 0;
    while (*s && *s != '?' && *s != '#' && n + 1 < cap) {
        int c = (unsigned char)*s;
        if (c == '%' && isxdigit((unsigned char)s[1]) && isxdigit((unsigned char)s[2])) {
            char hex[3] = {s[1], s[2], 0};
            c = (int)strtol(hex, NULL, 16);
            s += 2;
        }
        out[n++] = (char)tolower(c);
        s++;
    }
    out[n] = '\0';
    return n;
}

static const char *last_segment(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* A script extension anywhere in the last segment, as Apache's
 * multi-extension and IIS's ';' tricks allow ("a.php.jpg", "a.asp;.jpg"). */
static bool is_script(const struct params *p, const char *path)
{
    const char *seg = last_segment(path);
    /* Extensions start with a dot (as a rule): none can match before the
     * segment's first one, or at all without one. */
    const char *dot = strchr(seg, '.');
    for (size_t i = 0; i < p->script_extensions.n; i++) {
        const char *ext = p->script_extensions.v[i];
        size_t el = p->script_extensions.len[i];
        const char *from = ext[0] != '.' ? seg : dot;
        if (!from)
            continue;
        for (const char *q = strstr(from, ext); q; q = strstr(q + 1, ext)) {
            char after = q[el];
            if (after == '\0' || after == '.' || after == ';')
                return true;
        }
    }
    return false;
}

/* Pages: the page extensions, index.* and the directory itself. */
static bool is_page(const struct params *p, const char *path)
{
    const char *seg = last_segment(path);
    if (*seg == '\0' || strncmp(seg, "index", 5) == 0)
        return true;
    const char *dot = strrchr(seg, '.');
    return dot && strlist_has(&p->page_extensions, dot, strlen(dot));
}

static bool in_upload_dir(const struct params *p, const char *path)
{
    for (size_t i = 0; i < p->upload_dirs.n; i++)
        if (strstr(path, p->upload_dirs.v[i]))
            return true;
    return false;
}

/* Does a parameter value read like a shell command?  A command word at the
 * start ("id", "cat /etc/passwd") or shell punctuation anywhere. */
static bool looks_like_command(const struct params *p, const char *v, size_t n)
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
    return w && strlist_has(&p->command_words, buf, w);
}

/* The first command-like parameter of a query, as "name=value". */
static bool find_command_param(const struct params *p, const char *target, char *out, size_t cap)
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
            if (strlist_has(&p->command_params, q, nl) && vl && looks_like_command(p, v, vl)) {
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

static void copy_slice(char *out, size_t cap, struct http_slice s)
{
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s.p[i];
        out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '.';
    }
    out[n] = '\0';
}

/* Printable excerpt: control bytes and non-ASCII become '.'. */
static void excerpt(char *out, size_t cap, const uint8_t *p, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < cap; i++) {
        uint8_t c = p[i];
        if (c == '\r' || c == '\n' || c == '\t')
            c = ' ';
        if (k && c == ' ' && out[k - 1] == ' ')
            continue;
        out[k++] = (c >= 0x20 && c < 0x7f) ? (char)c : '.';
    }
    out[k] = '\0';
}

/* ---- findings -------------------------------------------------------- */

static json_t *counters_json(const struct fslot *s)
{
    json_t *c = json_object();
    json_object_set_new(c, "requests", json_integer((json_int_t)s->requests));
    json_object_set_new(c, "answered_2xx", json_integer((json_int_t)s->ok));
    return c;
}

static void emit_slot(struct http_det *d, struct fslot *s, enum finding_state state)
{
    struct evt ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = kind_names[s->kind];
    ev.rule = d->p.rule[s->kind];
    finding_fill(&s->life, &ev, state, d->now_us);
    ev.src = s->src;
    ev.has_src = true;
    ev.dst = s->dst;
    ev.has_dst = true;
    ev.dest_port = s->dport;
    ev.proto = PROTO_TCP;
    ev.impact = s->impact;
    ev.taxonomy = s->taxonomy;
    ev.counters = counters_json(s);
    json_object_set_new(s->evidence, "last_status", json_integer(s->last_status));
    ev.evidence = s->evidence;
    d->env->emit(d->env->emit_ctx, &ev);
    json_decref(ev.counters);
    s->dirty = false;
}

static void slot_clear(struct fslot *s)
{
    json_decref(s->evidence);
    memset(s, 0, sizeof(*s));
}

/* The finding slot of a key: found, or a free or quiet one taken.  Four
 * places are probed from a seeded hash; NULL when all four hold open
 * findings (counted). */
static struct fslot *slot_for(struct http_det *d, enum kind k, const struct ipaddr *src,
                              const struct ipaddr *dst)
{
    struct {
        uint8_t kind;
        uint8_t src[16], dst[16];
    } key;
    memset(&key, 0, sizeof(key));
    key.kind = (uint8_t)k;
    if (!kind_keyed_by_server(k))
        memcpy(key.src, src->b, 16);
    memcpy(key.dst, dst->b, 16);
    uint64_t h = hash_bytes(&key, sizeof(key), d->env->hash_seed);
    struct fslot *victim = NULL;
    for (uint32_t i = 0; i < 4; i++) {
        struct fslot *s = &d->findings[(h + i) % d->n_findings];
        if (s->used && s->kind == k && addr_eq(&s->dst, dst) &&
            (kind_keyed_by_server(k) || addr_eq(&s->src, src)))
            return s;
        if (!s->used) {
            if (!victim || victim->used)
                victim = s;
        } else if (!finding_is_open(&s->life) &&
                   (!victim || (victim->used && s->lru_us < victim->lru_us))) {
            victim = s;
        }
    }
    if (!victim) {
        d->c.findings_dropped++;
        return NULL;
    }
    slot_clear(victim);
    return victim;
}

struct occurrence {
    enum kind kind;
    const struct flow *flow;
    const struct http_req *req; /* may be NULL */
    int status;                 /* 0: no answer seen */
    uint64_t response_bytes;
    bool impact;
    bool page;
    const char *detail_key; /* evidence name of req->detail */
    json_t *extra;          /* more evidence (stolen), may be NULL */
};

static void report(struct http_det *d, struct occurrence *o)
{
    struct rule *rule = d->p.rule[o->kind];
    if (!rule) {
        json_decref(o->extra);
        return;
    }
    const struct flow *f = o->flow;
    if (netset_contains(&rule->allow, &f->client)) {
        d->c.allowed++;
        json_decref(o->extra);
        return;
    }
    struct fslot *s = slot_for(d, o->kind, &f->client, &f->server);
    if (!s) {
        json_decref(o->extra);
        return;
    }
    const struct taxonomy *tax = NULL;
    if (o->kind == K_DAV_WRITE && !o->page)
        tax = d->p.nonpage_taxonomy;
    if (!s->used) {
        s->used = true;
        s->kind = (uint8_t)o->kind;
        s->src = f->client;
        s->dst = f->server;
        s->dport = f->server_port;
        s->taxonomy = tax;
    } else if (s->taxonomy && !tax) {
        /* A page was written after other writes: the finding is now a
         * defacement (the rule's taxonomy). */
        s->taxonomy = NULL;
    }
    s->lru_us = d->now_us;
    s->requests++;
    if (o->status >= 200 && o->status < 300)
        s->ok++;
    s->last_status = o->status;
    s->impact = s->impact || o->impact;
    s->dirty = true;

    if (finding_is_open(&s->life)) {
        finding_touch(&s->life, d->now_us);
        json_decref(o->extra);
        if (finding_update_due(&s->life, d->now_us, rule->update_interval_us))
            emit_slot(d, s, FINDING_UPDATE);
        return;
    }
    json_t *e = o->extra ? o->extra : json_object();
    const struct http_req *q = o->req;
    if (q) {
        char line[256];
        snprintf(line, sizeof(line), "%s %s HTTP/1.%u", q->method, q->target, q->minor);
        json_object_set_new(e, "request", json_string(line));
        json_object_set_new(e, "method", json_string(q->method));
        json_object_set_new(e, "url", json_string(q->target));
        if (q->host[0])
            json_object_set_new(e, "host", json_string(q->host));
        json_object_set_new(e, "request_body_bytes", json_integer((json_int_t)q->body_bytes));
        if (q->detail[0] && o->detail_key)
            json_object_set_new(e, o->detail_key, json_string(q->detail));
        if (q->excerpt[0] && !json_object_get(e, "excerpt"))
            json_object_set_new(e, "excerpt", json_string(q->excerpt));
    }
    json_object_set_new(e, "status", json_integer(o->status));
    if (o->response_bytes)
        json_object_set_new(e, "response_body_bytes", json_integer((json_int_t)o->response_bytes));
    char a[ADDR_STRLEN];
    json_object_set_new(e, "client", json_string(addr_format(&f->client, a, sizeof(a))));
    /* A key seen again after its finding ended starts a new one. */
    json_decref(s->evidence);
    s->evidence = e;
    finding_open(&s->life, d->now_us, d->now_us);
    emit_slot(d, s, FINDING_NEW);
}

static void findings_tick(struct http_det *d, bool flush)
{
    for (uint32_t i = 0; i < d->n_findings; i++) {
        struct fslot *s = &d->findings[i];
        if (!s->used || !finding_is_open(&s->life))
            continue;
        struct rule *r = d->p.rule[s->kind];
        if (flush || !r || finding_end_due(&s->life, d->now_us, r->hold_down_us)) {
            /* The end carries the final counters. */
            if (r)
                emit_slot(d, s, FINDING_END);
            else
                s->life.seq = 0;
        } else if (s->dirty && finding_update_due(&s->life, d->now_us, r->update_interval_us)) {
            emit_slot(d, s, FINDING_UPDATE);
        }
    }
}

/* ---- recent uploads -------------------------------------------------- */

static uint64_t upload_key(struct http_det *d, const struct ipaddr *server, const char *name)
{
    uint64_t h = hash_bytes(server->b, 16, d->env->hash_seed);
    return hash_bytes(name, strlen(name), h);
}

static void upload_remember(struct http_det *d, const struct ipaddr *server, const char *name)
{
    struct upload *u = &d->uploads[d->next_upload++ % d->n_uploads];
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

/* ---- http_flood ------------------------------------------------------ */

static uint32_t flood_window_s(const struct http_det *d)
{
    return (uint32_t)(d->p.flood_window_us / 1000000);
}

static struct target *target_for(struct http_det *d, const struct ipaddr *server, bool create)
{
    uint64_t h = hash_bytes(server->b, 16, d->env->hash_seed ^ 0x7461726765740000ull);
    struct target *victim = NULL;
    for (uint32_t i = 0; i < 4; i++) {
        struct target *t = &d->targets[(h + i) % d->n_targets];
        if (t->used && addr_eq(&t->addr, server))
            return t;
        if (!create)
            continue;
        if (!t->used) {
            if (!victim || victim->used)
                victim = t;
        } else if (!finding_is_open(&t->life) &&
                   (!victim || (victim->used && t->last_us < victim->last_us))) {
            victim = t;
        }
    }
    if (!victim)
        return NULL;
    if (victim->used)
        d->c.targets_replaced++;
    struct topk urls = victim->urls, clients = victim->clients;
    memset(victim, 0, sizeof(*victim));
    victim->urls = urls;
    victim->clients = clients;
    topk_reset(&victim->urls);
    topk_reset(&victim->clients);
    victim->used = true;
    victim->addr = *server;
    victim->sec = d->now_us / 1000000;
    return victim;
}

static void flood_evaluate(struct http_det *d, struct target *t, bool partial);

/* Move a target's clock to now.  Each second that passed is closed: the
 * flood condition is checked on the window that ends with it (so a burst
 * shorter than a tick is not missed), and while no flood is open it feeds
 * the baseline. */
static void target_advance(struct http_det *d, struct target *t)
{
    uint64_t now_s = d->now_us / 1000000;
    if (now_s <= t->sec)
        return;
    double alpha = 1.0 / (double)(d->p.flood_learn_us / 1000000);
    uint64_t steps = now_s - t->sec;
    for (uint64_t s = 0; s < steps && s < 3600; s++) {
        uint32_t idx = (uint32_t)(t->sec % 60);
        if (s < 60 && d->p.rule[K_HTTP_FLOOD])
            flood_evaluate(d, t, true);
        /* Seconds over the floor teach nothing: they are the start of
         * what the baseline must tell apart. */
        if (!finding_is_open(&t->life) && t->req[idx] < d->p.flood_rate) {
            t->baseline += alpha * ((double)t->req[idx] - t->baseline);
            t->seconds_seen++;
        }
        t->sec++;
        idx = (uint32_t)(t->sec % 60);
        t->req[idx] = t->answered[idx] = t->failed[idx] = 0;
    }
    t->sec = now_s;
}

/* Sums over the last window of whole seconds; with partial, the second
 * under way counts too (end of input, where no later second will come). */
static void target_sums(const struct http_det *d, const struct target *t, bool partial,
                        uint64_t *req, uint64_t *answered, uint64_t *failed)
{
    *req = *answered = *failed = 0;
    uint32_t w = flood_window_s(d);
    for (uint32_t i = partial ? 0 : 1; i < w + (partial ? 0 : 1); i++) {
        uint32_t idx = (uint32_t)((t->sec + 60 - i) % 60);
        *req += t->req[idx];
        *answered += t->answered[idx];
        *failed += t->failed[idx];
    }
}

static void flood_request(struct http_det *d, const struct pkt *p, const uint8_t *line, size_t n)
{
    struct target *t = target_for(d, &p->dst, true);
    if (!t)
        return;
    target_advance(d, t);
    t->req[t->sec % 60]++;
    t->last_us = d->now_us;
    if (!t->port)
        t->port = p->dport;
    uint8_t key[16] = {0};
    memcpy(key, p->src.b, 16);
    topk_add(&t->clients, key, 1);
    /* URL: the target of the request line, up to the query. */
    const uint8_t *sp = memchr(line, ' ', n);
    if (!sp)
        return;
    const uint8_t *u = sp + 1;
    size_t ul = 0;
    while (u + ul < line + n && u[ul] != ' ' && u[ul] != '?' && u[ul] != '\r' && ul < 95)
        ul++;
    uint64_t h = hash_bytes(u, ul, d->env->hash_seed);
    memset(key, 0, sizeof(key));
    memcpy(key, &h, 8);
    topk_add(&t->urls, key, 1);
    struct url_name *nm = &t->names[h % TOP_NAMES];
    if (nm->hash != h) {
        nm->hash = h;
        memcpy(nm->path, u, ul);
        nm->path[ul] = '\0';
        for (size_t i = 0; i < ul; i++)
            if ((uint8_t)nm->path[i] < 0x20 || (uint8_t)nm->path[i] >= 0x7f)
                nm->path[i] = '.';
    }
}

static void flood_response(struct http_det *d, const struct pkt *p, int status)
{
    struct target *t = target_for(d, &p->src, false);
    if (!t)
        return;
    target_advance(d, t);
    if (status >= 500)
        t->failed[t->sec % 60]++;
    else
        t->answered[t->sec % 60]++;
}

static void emit_flood(struct http_det *d, struct target *t, enum finding_state state, bool partial)
{
    struct evt ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = kind_names[K_HTTP_FLOOD];
    ev.rule = d->p.rule[K_HTTP_FLOOD];
    finding_fill(&t->life, &ev, state, d->now_us);
    ev.dst = t->addr;
    ev.has_dst = true;
    ev.src = t->src;
    ev.has_src = t->has_src;
    ev.dest_port = t->port;
    ev.proto = PROTO_TCP;
    uint64_t req, answered, failed;
    target_sums(d, t, partial, &req, &answered, &failed);
    double w = (double)flood_window_s(d);
    double rate = (double)req / w;
    double answer_ratio = req ? (double)answered / (double)req : 1.0;
    ev.impact = req > 0 && answer_ratio < d->p.answered_ratio;
    json_t *c = json_object();
    json_object_set_new(c, "requests_window", json_integer((json_int_t)req));
    json_object_set_new(c, "answered_window", json_integer((json_int_t)answered));
    json_object_set_new(c, "server_errors_window", json_integer((json_int_t)failed));
    json_object_set_new(c, "rate_rps", json_real(rate));
    json_object_set_new(c, "peak_rps", json_real(t->peak_rate));
    json_t *e = json_object();
    json_object_set_new(e, "baseline_rps", json_real(t->baseline));
    json_object_set_new(e, "floor_rps", json_real(d->p.flood_rate));
    json_object_set_new(e, "answer_ratio", json_real(answer_ratio));
    struct topk_item items[16];
    uint32_t n = topk_sorted(&t->urls, items, (uint32_t)d->p.flood_top);
    json_t *urls = json_array();
    for (uint32_t i = 0; i < n; i++) {
        uint64_t h;
        memcpy(&h, items[i].key, 8);
        const struct url_name *nm = &t->names[h % TOP_NAMES];
        json_t *o = json_object();
        json_object_set_new(o, "url", json_string(nm->hash == h ? nm->path : "?"));
        json_object_set_new(o, "requests", json_integer((json_int_t)items[i].count));
        json_array_append_new(urls, o);
    }
    json_object_set_new(e, "top_urls", urls);
    n = topk_sorted(&t->clients, items, (uint32_t)d->p.flood_top);
    json_t *clients = json_array();
    for (uint32_t i = 0; i < n; i++) {
        struct ipaddr a;
        char s[ADDR_STRLEN];
        memcpy(a.b, items[i].key, 16);
        json_t *o = json_object();
        json_object_set_new(o, "client", json_string(addr_format(&a, s, sizeof(s))));
        json_object_set_new(o, "requests", json_integer((json_int_t)items[i].count));
        json_array_append_new(clients, o);
    }
    json_object_set_new(e, "top_clients", clients);
    ev.counters = c;
    ev.evidence = e;
    d->env->emit(d->env->emit_ctx, &ev);
    json_decref(c);
    json_decref(e);
    t->dirty = false;
}

/* Check the window ending now (partial: with the second under way) and
 * open the finding when the rate is over the floor and far over the
 * baseline; an open one is kept alive while the rate stays high. */
static void flood_evaluate(struct http_det *d, struct target *t, bool partial)
{
    struct rule *r = d->p.rule[K_HTTP_FLOOD];
    uint64_t req, answered, failed;
    target_sums(d, t, partial, &req, &answered, &failed);
    double rate = (double)req / (double)flood_window_s(d);
    if (rate > t->peak_rate)
        t->peak_rate = rate;
    if (finding_is_open(&t->life)) {
        if (rate >= d->p.flood_rate / 2) {
            finding_touch(&t->life, d->now_us);
            t->dirty = true;
        }
        return;
    }
    if (rate >= d->p.flood_rate && rate >= d->p.flood_factor * t->baseline) {
        /* One client with most of the requests is the source (DoS);
         * otherwise the flood has no one source (DDoS). */
        struct topk_item top;
        t->has_src = false;
        if (topk_sorted(&t->clients, &top, 1) == 1 && top.count * 2 >= req) {
            memcpy(t->src.b, top.key, 16);
            if (netset_contains(&r->allow, &t->src)) {
                d->c.allowed++;
                return;
            }
            t->has_src = true;
        }
        finding_open(&t->life, d->now_us, d->now_us);
        emit_flood(d, t, FINDING_NEW, partial);
    } else if (rate < d->p.flood_rate / 4) {
        /* Quiet: the top lists restart so the next flood's tops are its
         * own. */
        topk_reset(&t->urls);
        topk_reset(&t->clients);
        t->peak_rate = 0;
    }
}

static void flood_tick(struct http_det *d, bool flush)
{
    struct rule *r = d->p.rule[K_HTTP_FLOOD];
    for (uint32_t i = 0; i < d->n_targets; i++) {
        struct target *t = &d->targets[i];
        if (!t->used)
            continue;
        if (!r) {
            t->life.seq = 0;
            continue;
        }
        target_advance(d, t);
        if (flush)
            flood_evaluate(d, t, true); /* the last, unfinished second */
        if (!finding_is_open(&t->life))
            continue;
        if (flush || finding_end_due(&t->life, d->now_us, r->hold_down_us)) {
            emit_flood(d, t, FINDING_END, flush);
            topk_reset(&t->urls);
            topk_reset(&t->clients);
            t->peak_rate = 0;
        } else if (t->dirty && finding_update_due(&t->life, d->now_us, r->update_interval_us)) {
            emit_flood(d, t, FINDING_UPDATE, false);
        }
    }
}

/* A segment that starts a request line: "METHOD /" or "METHOD http". */
static size_t request_line_start(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n && i < 16 && p[i] >= 'A' && p[i] <= 'Z')
        i++;
    if (i < 3 || i >= n - 1 || p[i] != ' ' || (p[i + 1] != '/' && p[i + 1] != 'h'))
        return 0;
    return i;
}

/* ---- page_changed ---------------------------------------------------- */

static int monitor_index(const struct asset *a, const char *path)
{
    if (!a)
        return -1;
    for (size_t i = 0; i < a->n_monitor && i < 127; i++)
        if (strcasecmp(a->monitor[i].path, path) == 0)
            return (int)i;
    return -1;
}

static struct page_base *page_for(struct http_det *d, const struct flow *f, const char *path)
{
    uint64_t h = hash_bytes(f->server.b, 16, d->env->hash_seed);
    h = hash_bytes(&f->server_port, 2, h);
    uint64_t key = hash_bytes(path, strlen(path), h);
    struct page_base *victim = NULL;
    for (uint32_t i = 0; i < 4; i++) {
        struct page_base *b = &d->pages[(key + i) % d->n_pages];
        if (b->used && b->key == key)
            return b;
        if (!victim || !b->used || (victim->used && b->lru_us < victim->lru_us))
            victim = b;
    }
    memset(victim, 0, sizeof(*victim));
    victim->key = key;
    return victim;
}

static void hex32(const uint8_t *h, char *out)
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static void page_done(struct http_det *d, struct flow *f, struct http_side *s,
                      const struct http_req *q)
{
    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_digest(&s->sha, sizeof(digest), digest);
    s->hashing = false;
    const struct asset *a = classify_asset(&d->env->inv, &f->server);
    char path[256];
    norm_path(q->target, path, sizeof(path));
    const uint8_t *old = NULL;
    bool declared = false;
    if (a && q->monitor >= 0 && (size_t)q->monitor < a->n_monitor &&
        a->monitor[q->monitor].has_hash) {
        old = a->monitor[q->monitor].sha256;
        declared = true;
    } else if (d->p.learn_pages) {
        struct page_base *b = page_for(d, f, path);
        b->lru_us = d->now_us;
        if (!b->used) {
            b->used = true;
            memcpy(b->sha256, digest, 32);
            d->c.pages_learned++;
            return;
        }
        old = b->sha256;
    }
    if (!old || memcmp(old, digest, 32) == 0)
        return;
    char oh[65], nh[65];
    hex32(old, oh);
    hex32(digest, nh);
    json_t *e = json_object();
    json_object_set_new(e, "old_sha256", json_string(oh));
    json_object_set_new(e, "new_sha256", json_string(nh));
    json_object_set_new(e, "baseline", json_string(declared ? "declared" : "learned"));
    json_object_set_new(e, "monitored_path", json_string(path));
    struct occurrence o = {.kind = K_PAGE_CHANGED,
                           .flow = f,
                           .req = q,
                           .status = s->status,
                           .response_bytes = s->body.decoded,
                           .impact = true,
                           .extra = e};
    report(d, &o);
}

static void zslot_release(struct http_det *d, struct http_side *s)
{
    if (s->zslot)
        d->zslots[s->zslot - 1].busy = false;
    s->zslot = 0;
}

static void hash_feed(struct http_det *d, struct http_side *s, const uint8_t *p, size_t n)
{
    if (!s->zslot) {
        sha256_update(&s->sha, n, p);
        return;
    }
    z_stream *z = &d->zslots[s->zslot - 1].z;
    uint8_t out[4096];
    z->next_in = (Bytef *)(uintptr_t)p;
    z->avail_in = (uInt)n;
    /* Bounded: each round either fills out or uses all the input. */
    for (int round = 0; round < 4096 && (z->avail_in > 0); round++) {
        z->next_out = out;
        z->avail_out = sizeof(out);
        int rc = inflate(z, Z_NO_FLUSH);
        size_t got = sizeof(out) - z->avail_out;
        if (got)
            sha256_update(&s->sha, got, out);
        if (rc == Z_STREAM_END)
            break;
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            d->c.inflate_errors++;
            s->hash_failed = true;
            return;
        }
        if (got == 0 && rc == Z_BUF_ERROR)
            break;
    }
}

/* ---- per-flow HTTP --------------------------------------------------- */

static uint8_t *side_prefix(struct http_det *d, struct flow *f, enum flow_side side)
{
    return (uint8_t *)f->app + sizeof(struct http_flow) + (size_t)side * d->p.body_inspect;
}

struct sink_ctx {
    struct http_det *d;
    struct flow *f;
    enum flow_side side;
};

static void body_sink(void *ctx, const uint8_t *p, size_t n)
{
    struct sink_ctx *k = ctx;
    struct http_flow *hf = k->f->app;
    struct http_side *s = &hf->side[k->side];
    if (s->collect && s->prefix_len < k->d->p.body_inspect) {
        size_t room = k->d->p.body_inspect - s->prefix_len;
        size_t take = n < room ? n : room;
        memcpy(side_prefix(k->d, k->f, k->side) + s->prefix_len, p, take);
        s->prefix_len += (uint32_t)take;
    }
    if (s->hashing && !s->hash_failed)
        hash_feed(k->d, s, p, n);
}

static struct http_req *queue_at(struct http_flow *hf, int i)
{
    return &hf->req[(hf->head + i) % REQ_QUEUE];
}

/* Report what a request was found to be, now that its answer (or the end
 * of the flow) is known. */
static void settle_request(struct http_det *d, struct flow *f, struct http_req *q, int status)
{
    bool ok = status >= 200 && status < 300;
    for (int k = 0; k < K_COUNT; k++) {
        if (!(q->verdicts & (1u << k)))
            continue;
        struct occurrence o = {.kind = (enum kind)k, .flow = f, .req = q, .status = status};
        switch (k) {
        case K_DAV_WRITE:
            o.page = q->page;
            o.impact = ok && q->page; /* a page of the site was replaced */
            o.detail_key = "written";
            break;
        case K_DAV_DELETE:
            o.impact = ok;
            break;
        case K_WEBSHELL_UPLOAD:
            o.detail_key = "uploaded";
            if (status == 0 || ok) {
                char path[256];
                /* detail holds the uploaded name: a path for PUT/MOVE,
                 * a bare file name for a form upload. */
                norm_path(q->detail, path, sizeof(path));
                upload_remember(d, &f->server, path);
                upload_remember(d, &f->server, last_segment(path));
            }
            break;
        case K_WEBSHELL_ACCESS:
            o.impact = status == 200;
            o.detail_key = "why";
            break;
        default:
            break;
        }
        report(d, &o);
    }
    q->verdicts = 0;
}

static void classify_head(struct http_det *d, struct flow *f, struct http_req *q,
                          const struct http_head *h)
{
    char path[256];
    norm_path(q->target, path, sizeof(path));
    const struct params *p = &d->p;
    const char *m = q->method;
    bool dav_method = !strcmp(m, "PUT") || !strcmp(m, "MKCOL") || !strcmp(m, "MOVE") ||
                      !strcmp(m, "COPY") || !strcmp(m, "PROPPATCH");
    if (!strcmp(m, "DELETE")) {
        q->verdicts |= 1u << K_DAV_DELETE;
    } else if (dav_method) {
        const char *written = path;
        char dest[256] = "";
        if (h->destination.len) {
            char raw[256];
            copy_slice(raw, sizeof(raw), h->destination);
            norm_path(raw, dest, sizeof(dest));
            set_str(q->detail, sizeof(q->detail), raw);
            written = dest;
        } else if (!strcmp(m, "PUT")) {
            set_str(q->detail, sizeof(q->detail), q->target);
        }
        bool write_method = !strcmp(m, "PUT") || !strcmp(m, "MOVE") || !strcmp(m, "COPY");
        if (write_method && is_script(p, written))
            q->verdicts |= 1u << K_WEBSHELL_UPLOAD;
        else
            q->verdicts |= 1u << K_DAV_WRITE;
        q->page = write_method && is_page(p, written);
    }
    bool access = !strcmp(m, "GET") || !strcmp(m, "POST") || !strcmp(m, "HEAD");
    if (access && is_script(p, path)) {
        char why[128] = "";
        if (find_command_param(p, q->target, why, sizeof(why)))
            ;
        else if (upload_recent(d, &f->server, path) ||
                 upload_recent(d, &f->server, last_segment(path)))
            snprintf(why, sizeof(why), "recently uploaded");
        else if (in_upload_dir(p, path))
            snprintf(why, sizeof(why), "script in an upload directory");
        if (why[0]) {
            q->verdicts |= 1u << K_WEBSHELL_ACCESS;
            snprintf(q->detail, sizeof(q->detail), "%s", why);
        }
    }
    if (!strcmp(m, "GET")) {
        const struct asset *a = classify_asset(&d->env->inv, &f->server);
        q->monitor = (int8_t)monitor_index(a, path);
    }
}

/* Look at a request body prefix: uploaded scripts in multipart forms and
 * content that reads like a webshell. */
static void classify_body(struct http_det *d, struct flow *f, struct http_req *q,
                          struct http_side *s)
{
    const struct params *p = &d->p;
    const uint8_t *body = side_prefix(d, f, FLOW_TO_SERVER);
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
            copy_slice(name, sizeof(name), part.filename);
            norm_path(name, low, sizeof(low));
            bool script = is_script(p, low);
            bool code = strlist_find_in(&p->webshell_exec, part.data.p, part.data.len) &&
                        strlist_find_in(&p->webshell_input, part.data.p, part.data.len);
            if (script || code) {
                q->verdicts |= 1u << K_WEBSHELL_UPLOAD;
                snprintf(q->detail, sizeof(q->detail), "%s", last_segment(low));
                excerpt(q->excerpt, sizeof(q->excerpt), part.data.p, part.data.len);
                return;
            }
        }
    } else if (put_like) {
        if (strlist_find_in(&p->webshell_exec, body, n) &&
            strlist_find_in(&p->webshell_input, body, n)) {
            /* Webshell code under any name (shell.jpg, x.txt). */
            q->verdicts |= 1u << K_WEBSHELL_UPLOAD;
            q->verdicts &= (uint16_t) ~(1u << K_DAV_WRITE);
        }
    } else if (post && !s->multipart) {
        /* Commands posted to a one-line shell (China Chopper style). */
        if (is_script(p, q->target) && strlist_find_in(&p->webshell_exec, body, n) &&
            strlist_find_in(&p->webshell_input, body, n)) {
            q->verdicts |= 1u << K_WEBSHELL_ACCESS;
            snprintf(q->detail, sizeof(q->detail), "webshell code in the request body");
        }
    }
    if (!q->excerpt[0])
        excerpt(q->excerpt, sizeof(q->excerpt), body, n);
}

static bool content_is_html(struct http_slice ct)
{
    return http_memcasemem(ct.p, ct.len, "html", 4) != NULL;
}

/* The <title> of an HTML prefix, printable. */
static void html_title(const uint8_t *t, size_t n, char *out, size_t cap)
{
    out[0] = '\0';
    const uint8_t *a = http_memcasemem(t, n, "<title", 6);
    if (!a)
        return;
    const uint8_t *gt = memchr(a, '>', n - (size_t)(a - t));
    if (!gt)
        return;
    gt++;
    size_t left = n - (size_t)(gt - t);
    const uint8_t *e = http_memcasemem(gt, left, "</title", 7);
    excerpt(out, cap, gt, e ? (size_t)(e - gt) : left);
}

static void check_defacement(struct http_det *d, struct flow *f, struct http_side *s,
                             const struct http_req *q)
{
    if (!s->collect || s->prefix_len == 0 || !d->p.rule[K_DEFACEMENT])
        return;
    const uint8_t *text = side_prefix(d, f, FLOW_TO_CLIENT);
    size_t n = s->prefix_len;
    if (s->coding == HTTP_CODING_GZIP || s->coding == HTTP_CODING_DEFLATE) {
        if (!d->zprefix_ready)
            return;
        long got = http_inflate_prefix(&d->zprefix, (enum http_coding)s->coding, text, n,
                                       d->scratch, d->scratch_cap / 2);
        if (got <= 0) {
            d->c.inflate_errors++;
            return;
        }
        text = d->scratch;
        n = (size_t)got;
    } else if (s->coding != HTTP_CODING_IDENTITY) {
        return;
    }
    if (!s->is_html) {
        size_t i = 0;
        while (i < n && isspace(text[i]))
            i++;
        if (i >= n || text[i] != '<')
            return;
    }
    /* Markers are stored lower-case: fold the text once, then a plain
     * memmem per marker. */
    uint8_t *folded = d->scratch + d->scratch_cap / 2;
    size_t fn = n < d->scratch_cap / 2 ? n : d->scratch_cap / 2;
    for (size_t i = 0; i < fn; i++)
        folded[i] = (uint8_t)tolower(text[i]);
    const char *marker = NULL;
    for (size_t i = 0; i < d->p.markers.n && !marker; i++)
        if (memmem(folded, fn, d->p.markers.v[i], d->p.markers.len[i]))
            marker = d->p.markers.v[i];
    if (!marker)
        return;
    json_t *e = json_object();
    json_object_set_new(e, "marker", json_string(marker));
    char title[128];
    html_title(text, n, title, sizeof(title));
    if (title[0])
        json_object_set_new(e, "title", json_string(title));
    char ex[EXCERPT_LEN * 2];
    const uint8_t *at = http_memcasemem(text, n, marker, strlen(marker));
    size_t from = at && at - text > 40 ? (size_t)(at - text) - 40 : 0;
    excerpt(ex, sizeof(ex), text + from, n - from < 160 ? n - from : 160);
    json_object_set_new(e, "excerpt", json_string(ex));
    if (s->coding != HTTP_CODING_IDENTITY)
        json_object_set_new(e, "content_encoding",
                            json_string(s->coding == HTTP_CODING_GZIP ? "gzip" : "deflate"));
    struct occurrence o = {.kind = K_DEFACEMENT,
                           .flow = f,
                           .req = q,
                           .status = s->status,
                           .response_bytes = s->body.decoded,
                           .impact = true,
                           .extra = e};
    report(d, &o);
}

static void request_head(struct http_det *d, struct flow *f, const struct http_head *h)
{
    struct http_flow *hf = f->app;
    struct http_side *s = &hf->side[FLOW_TO_SERVER];
    d->c.requests++;
    if (hf->count == REQ_QUEUE) {
        /* Pipelined beyond the queue: the oldest is settled unanswered. */
        d->c.queue_overflow++;
        settle_request(d, f, queue_at(hf, 0), 0);
        hf->head = (uint8_t)((hf->head + 1) % REQ_QUEUE);
        hf->count--;
    }
    int slot = (hf->head + hf->count) % REQ_QUEUE;
    struct http_req *q = &hf->req[slot];
    memset(q, 0, sizeof(*q));
    hf->count++;
    hf->receiving = (uint8_t)(slot + 1);
    copy_slice(q->method, sizeof(q->method), h->method);
    copy_slice(q->target, sizeof(q->target), h->target);
    copy_slice(q->host, sizeof(q->host), h->host);
    q->minor = (uint8_t)h->minor_version;
    q->monitor = -1;
    classify_head(d, f, q, h);
    s->multipart = h->boundary.len > 0;
    if (s->multipart) {
        memcpy(s->boundary, h->boundary.p, h->boundary.len);
        s->boundary_len = (uint8_t)h->boundary.len;
    }
    s->collect = true;
    s->prefix_len = 0;
    s->coding = (uint8_t)h->coding;
}

static void request_done(struct http_det *d, struct flow *f)
{
    struct http_flow *hf = f->app;
    struct http_side *s = &hf->side[FLOW_TO_SERVER];
    if (!hf->receiving)
        return;
    struct http_req *q = &hf->req[hf->receiving - 1];
    q->body_bytes = s->body.decoded;
    if (s->coding == HTTP_CODING_IDENTITY)
        classify_body(d, f, q, s);
    hf->receiving = 0;
    s->collect = false;
}

static void response_head(struct http_det *d, struct flow *f, const struct http_head *h)
{
    struct http_flow *hf = f->app;
    struct http_side *s = &hf->side[FLOW_TO_CLIENT];
    d->c.responses++;
    s->status = h->status;
    s->coding = (uint8_t)h->coding;
    s->collect = false;
    s->hashing = false;
    s->hash_failed = false;
    s->prefix_len = 0;
    if (h->status < 200)
        return; /* interim: the final answer follows */
    if (hf->count == 0)
        return; /* answer to a request we did not see */
    struct http_req *q = queue_at(hf, 0);
    /* The request side may still be sending its body (an early answer):
     * settle it with what is known. */
    if (hf->receiving == hf->head + 1)
        request_done(d, f);
    settle_request(d, f, q, h->status);
    s->is_html = content_is_html(h->content_type);
    s->collect = d->p.rule[K_DEFACEMENT] && (s->is_html || h->content_type.len == 0);
    if (q->monitor >= 0 && h->status == 200 && d->p.rule[K_PAGE_CHANGED]) {
        if (h->coding == HTTP_CODING_IDENTITY) {
            s->hashing = true;
        } else if (h->coding == HTTP_CODING_GZIP || h->coding == HTTP_CODING_DEFLATE) {
            for (uint32_t i = 0; i < d->n_zslots; i++) {
                if (d->zslots[i].ready && !d->zslots[i].busy &&
                    inflateReset2(&d->zslots[i].z, h->coding == HTTP_CODING_GZIP ? 15 + 16 : 15) ==
                        Z_OK) {
                    d->zslots[i].busy = true;
                    s->zslot = (uint16_t)(i + 1);
                    s->hashing = true;
                    break;
                }
            }
        }
        if (s->hashing)
            sha256_init(&s->sha);
        else
            d->c.page_hash_skipped++;
    }
}

static void response_done(struct http_det *d, struct flow *f, bool complete)
{
    struct http_flow *hf = f->app;
    struct http_side *s = &hf->side[FLOW_TO_CLIENT];
    if (s->status < 200 || hf->count == 0)
        return;
    struct http_req *q = queue_at(hf, 0);
    check_defacement(d, f, s, q);
    if (s->hashing && complete && !s->hash_failed)
        page_done(d, f, s, q);
    s->hashing = false;
    zslot_release(d, s);
    s->collect = false;
    hf->head = (uint8_t)((hf->head + 1) % REQ_QUEUE);
    hf->count--;
    if (hf->count == 0)
        hf->receiving = 0;
}

static void give_up(struct http_det *d, struct flow *f, enum flow_side side, enum http_result r,
                    const uint8_t *data, uint32_t len)
{
    struct http_flow *hf = f->app;
    if (f->midstream && !hf->side[side].seen_message)
        d->c.midstream_skipped++;
    else if (r == HTTP_NOT_HTTP) {
        d->c.not_http++;
        /* TLS record: handshake (22), version 3.x. */
        if (len >= 2 && data[0] == 0x16 && data[1] == 0x03)
            d->c.tls++;
    } else {
        d->c.malformed++;
    }
    hf->side[side].phase = SIDE_OFF;
    flow_kill_side(f, side);
    if (r == HTTP_NOT_HTTP) {
        /* Not HTTP one way: the other way is not either. */
        hf->side[!side].phase = SIDE_OFF;
        flow_kill_side(f, (enum flow_side) !side);
    }
}

static void process_side(struct http_det *d, struct flow *f, enum flow_side side)
{
    struct http_flow *hf = f->app;
    struct http_side *s = &hf->side[side];
    struct sink_ctx k = {d, f, side};
    /* Bounded: every round consumes bytes or stops. */
    for (int round = 0; round < 256 && s->phase != SIDE_OFF; round++) {
        uint32_t len;
        const uint8_t *data = flow_data(f, side, &len);
        if (len == 0)
            break;
        if (s->phase == SIDE_HEAD) {
            struct http_head h;
            enum http_result r = http_parse_head(data, len, side == FLOW_TO_SERVER, &h);
            if (r == HTTP_MORE) {
                if (len >= d->p.flow_window) {
                    d->c.head_too_long++;
                    give_up(d, f, side, HTTP_BAD, data, len);
                }
                break;
            }
            if (r != HTTP_OK) {
                give_up(d, f, side, r, data, len);
                break;
            }
            s->seen_message = true;
            const char *req_method = NULL;
            char method[12];
            if (side == FLOW_TO_SERVER) {
                request_head(d, f, &h);
            } else {
                if (hf->count > 0) {
                    snprintf(method, sizeof(method), "%s", queue_at(hf, 0)->method);
                    req_method = method;
                }
                if (h.status == 101) {
                    /* Upgraded (WebSocket, h2c): no more HTTP/1 here. */
                    flow_consume(f, side, (uint32_t)h.head_len);
                    s->phase = SIDE_OFF;
                    hf->side[FLOW_TO_SERVER].phase = SIDE_OFF;
                    break;
                }
                response_head(d, f, &h);
            }
            flow_consume(f, side, (uint32_t)h.head_len);
            http_body_start(&s->body, &h, req_method);
            if (s->body.done) {
                if (side == FLOW_TO_SERVER)
                    request_done(d, f);
                else
                    response_done(d, f, true);
            } else {
                s->phase = SIDE_BODY;
            }
            continue;
        }
        long used = http_body_feed(&s->body, data, len, body_sink, &k);
        if (used < 0) {
            give_up(d, f, side, HTTP_BAD, data, len);
            break;
        }
        flow_consume(f, side, (uint32_t)used);
        if (s->body.done) {
            s->phase = SIDE_HEAD;
            if (side == FLOW_TO_SERVER)
                request_done(d, f);
            else
                response_done(d, f, true);
        } else if (used == 0) {
            break;
        }
    }
    /* A body that runs to the close ends with the FIN. */
    if (s->phase == SIDE_BODY && f->half[side].finished) {
        http_body_eof(&s->body);
        if (s->body.done) {
            s->phase = SIDE_HEAD;
            if (side == FLOW_TO_CLIENT)
                response_done(d, f, true);
        }
    }
}

static void on_flow_release(void *ctx, struct flow *f, enum flow_end why, uint64_t now_us)
{
    struct http_det *d = ctx;
    struct http_flow *hf = f->app;
    if (now_us > d->now_us)
        d->now_us = now_us;
    struct http_side *resp = &hf->side[FLOW_TO_CLIENT];
    if (resp->phase == SIDE_BODY && hf->count > 0)
        response_done(d, f, false); /* defacement markers in what came */
    if (hf->receiving)
        request_done(d, f);
    while (hf->count > 0) {
        settle_request(d, f, queue_at(hf, 0), 0);
        hf->head = (uint8_t)((hf->head + 1) % REQ_QUEUE);
        hf->count--;
    }
    zslot_release(d, resp);
    (void)why;
}

/* ---- packets --------------------------------------------------------- */

static bool port_in(const uint16_t *ports, size_t n, uint16_t port)
{
    for (size_t i = 0; i < n; i++)
        if (ports[i] == port)
            return true;
    return false;
}

/* A web port of a server the agent protects: the asset's own list, or
 * the rule's default list. */
static bool is_web_server(const struct http_det *d, const struct pkt *p, const struct ipaddr *a,
                          uint16_t port)
{
    const struct asset *as = detect_addr_asset(d->env, p, a);
    if (as && as->n_web_ports)
        return port_in(as->web_ports, as->n_web_ports, port);
    if (!port_in(d->p.web_ports, d->p.n_web_ports, port))
        return false;
    return as || detect_addr_protected(d->env, p, a);
}

static void port_map_add(struct http_det *d, uint16_t port)
{
    d->web_port_map[port >> 3] |= (uint8_t)(1u << (port & 7));
}

static bool port_map_has(const struct http_det *d, uint16_t port)
{
    return d->web_port_map[port >> 3] & (1u << (port & 7));
}

static void port_map_refresh(struct http_det *d)
{
    const struct assets *a = d->env->inv.assets;
    const struct asset *v = a ? a->v : NULL;
    size_t n = a ? a->n : 0;
    if (d->map_ready && v == d->map_assets && n == d->map_n_assets)
        return;
    memset(d->web_port_map, 0, sizeof(d->web_port_map));
    for (size_t i = 0; i < d->p.n_web_ports; i++)
        port_map_add(d, d->p.web_ports[i]);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < v[i].n_web_ports; k++)
            port_map_add(d, v[i].web_ports[k]);
    d->map_assets = v;
    d->map_n_assets = n;
    d->map_ready = true;
}

static bool any_rule(const struct http_det *d)
{
    for (int k = 0; k < K_COUNT; k++)
        if (d->p.rule[k])
            return true;
    return false;
}

static void http_on_packet(void *self, const struct pkt *p)
{
    struct http_det *d = self;
    if (p->proto != PROTO_TCP || p->later_fragment || !any_rule(d))
        return;
    port_map_refresh(d);
    bool dport_web = port_map_has(d, p->dport), sport_web = port_map_has(d, p->sport);
    if (!dport_web && !sport_web)
        return;
    bool to_server;
    if (dport_web && is_web_server(d, p, &p->dst, p->dport))
        to_server = true;
    else if (sport_web && is_web_server(d, p, &p->src, p->sport))
        to_server = false;
    else
        return;
    if (p->ts_us > d->now_us)
        d->now_us = p->ts_us;

    /* Flood counting reads segment starts, so it works on captures whose
     * snaplen cut the payloads. */
    if (d->p.rule[K_HTTP_FLOOD] && p->payload_len > 0) {
        if (to_server) {
            size_t m = request_line_start(p->payload, p->payload_len);
            if (m)
                flood_request(d, p, p->payload, p->payload_len);
        } else if (p->payload_len >= 12 && memcmp(p->payload, "HTTP/1.", 7) == 0 &&
                   isdigit(p->payload[9]) && isdigit(p->payload[10]) && isdigit(p->payload[11])) {
            flood_response(d, p,
                           (p->payload[9] - '0') * 100 + (p->payload[10] - '0') * 10 +
                               (p->payload[11] - '0'));
        }
    }

    bool syn_only = (p->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN;
    bool create = to_server && (syn_only || p->payload_len > 0);
    struct flow *f = flow_lookup(d->flows, p, to_server, create);
    if (!f)
        return;
    enum flow_side side = to_server ? FLOW_TO_SERVER : FLOW_TO_CLIENT;
    uint32_t ready = flow_segment(d->flows, f, p, to_server);
    /* A bare FIN can end a body that runs to the close. */
    if (ready || f->half[side].finished)
        process_side(d, f, side);
    if (flow_is_closed(f))
        flow_close(d->flows, f, p->ts_us);
}

/* ---- lifecycle ------------------------------------------------------- */

static int http_check(struct ruleset *rules, struct cfg_err *err)
{
    struct params p;
    int rc = params_load(rules, &p, err);
    params_free(&p);
    return rc;
}

static void http_free(void *self);

static void *http_init(struct ruleset *rules, const struct detect_env *env, struct cfg_err *err)
{
    struct http_det *d = calloc(1, sizeof(*d));
    if (!d) {
        cfg_fail(err, "http", 0, "out of memory");
        return NULL;
    }
    d->env = env;
    if (params_load(rules, &d->p, err) < 0) {
        free(d);
        return NULL;
    }
    struct flow_opts fo = {
        .max_flows = (uint32_t)d->p.max_flows,
        .window_bytes = (uint32_t)d->p.flow_window,
        .idle_timeout_us = d->p.flow_idle_us,
        .app_size = sizeof(struct http_flow) + 2 * d->p.body_inspect,
        /* the queue and the prefixes are tracked by count and prefix_len */
        .app_clear_size = offsetof(struct http_flow, req),
        .seed = env->hash_seed,
        /* Spoofed SYNs to a web port must not push out flows with data. */
        .defer_syn = true,
        .on_release = on_flow_release,
        .ctx = d,
    };
    d->flows = flow_table_new(&fo);
    d->n_findings = (uint32_t)d->p.max_findings;
    d->findings = calloc(d->n_findings, sizeof(*d->findings));
    d->n_targets = (uint32_t)d->p.max_targets;
    d->targets = calloc(d->n_targets, sizeof(*d->targets));
    d->n_uploads = (uint32_t)d->p.max_uploads;
    d->uploads = calloc(d->n_uploads, sizeof(*d->uploads));
    d->n_pages = (uint32_t)d->p.max_pages;
    d->pages = calloc(d->n_pages, sizeof(*d->pages));
    d->n_zslots = (uint32_t)d->p.hash_slots;
    d->zslots = calloc(d->n_zslots, sizeof(*d->zslots));
    /* Compressed text grows: room for a few times the prefix. */
    d->scratch_cap = 8 * d->p.body_inspect;
    d->scratch = malloc(d->scratch_cap);
    if (!d->flows || !d->findings || !d->targets || !d->uploads || !d->pages || !d->zslots ||
        !d->scratch)
        goto err;
    for (uint32_t i = 0; i < d->n_targets; i++)
        if (topk_init(&d->targets[i].urls, (uint32_t)d->p.flood_top * 2) < 0 ||
            topk_init(&d->targets[i].clients, (uint32_t)d->p.flood_top * 2) < 0)
            goto err;
    for (uint32_t i = 0; i < d->n_zslots; i++)
        d->zslots[i].ready = inflateInit2(&d->zslots[i].z, 15 + 32) == Z_OK;
    d->zprefix_ready = inflateInit2(&d->zprefix, 15 + 32) == Z_OK;
    return d;
err:
    cfg_fail(err, "http", 0, "out of memory for the http tables (max_flows %llu)",
             (unsigned long long)d->p.max_flows);
    http_free(d);
    return NULL;
}

static void http_on_tick(void *self, uint64_t now_us)
{
    struct http_det *d = self;
    if (now_us > d->now_us)
        d->now_us = now_us;
    flow_expire(d->flows, d->now_us);
    findings_tick(d, false);
    flood_tick(d, false);
}

static int http_reload(void *self, struct ruleset *rules, struct cfg_err *err)
{
    struct http_det *d = self;
    struct params np;
    if (params_load(rules, &np, err) < 0)
        return -1;
    if (np.max_flows != d->p.max_flows || np.flow_window != d->p.flow_window ||
        np.body_inspect != d->p.body_inspect || np.max_findings != d->p.max_findings ||
        np.max_targets != d->p.max_targets || np.max_uploads != d->p.max_uploads ||
        np.max_pages != d->p.max_pages || np.hash_slots != d->p.hash_slots ||
        np.flood_top != d->p.flood_top || np.flow_idle_us != d->p.flow_idle_us)
        log_info("http: new table sizes apply at the next restart");
    /* Findings whose rule is gone end now, under the old rule. */
    for (uint32_t i = 0; i < d->n_findings; i++) {
        struct fslot *s = &d->findings[i];
        if (s->used && finding_is_open(&s->life) && d->p.rule[s->kind] && !np.rule[s->kind])
            emit_slot(d, s, FINDING_END);
    }
    if (d->p.rule[K_HTTP_FLOOD] && !np.rule[K_HTTP_FLOOD])
        for (uint32_t i = 0; i < d->n_targets; i++)
            if (finding_is_open(&d->targets[i].life))
                emit_flood(d, &d->targets[i], FINDING_END, false);
    /* Sizes stay as allocated. */
    np.max_flows = d->p.max_flows;
    np.flow_window = d->p.flow_window;
    np.body_inspect = d->p.body_inspect;
    np.max_findings = d->p.max_findings;
    np.max_targets = d->p.max_targets;
    np.max_uploads = d->p.max_uploads;
    np.max_pages = d->p.max_pages;
    np.hash_slots = d->p.hash_slots;
    np.flood_top = d->p.flood_top;
    np.flow_idle_us = d->p.flow_idle_us;
    params_free(&d->p);
    d->p = np;
    d->map_ready = false;
    return 0;
}

static void http_stats(void *self, json_t *out)
{
    struct http_det *d = self;
    const struct flow_stats *fs = flow_table_stats(d->flows);
    json_t *flows = json_object();
    json_object_set_new(flows, "capacity", json_integer(flow_table_capacity(d->flows)));
    json_object_set_new(flows, "active", json_integer((json_int_t)fs->active));
    json_object_set_new(flows, "created", json_integer((json_int_t)fs->created));
    json_object_set_new(flows, "closed", json_integer((json_int_t)fs->closed));
    json_object_set_new(flows, "evicted_idle", json_integer((json_int_t)fs->evicted_idle));
    json_object_set_new(flows, "evicted_pressure", json_integer((json_int_t)fs->evicted_pressure));
    json_object_set_new(flows, "segments", json_integer((json_int_t)fs->segments));
    json_object_set_new(flows, "retransmitted", json_integer((json_int_t)fs->retransmitted));
    json_object_set_new(flows, "out_of_order", json_integer((json_int_t)fs->out_of_order));
    json_object_set_new(flows, "gaps", json_integer((json_int_t)fs->gaps));
    json_object_set_new(flows, "overflows", json_integer((json_int_t)fs->overflows));
    json_object_set_new(flows, "truncated", json_integer((json_int_t)fs->truncated));
    json_object_set_new(flows, "syns_deferred", json_integer((json_int_t)fs->syns_deferred));
    json_object_set_new(out, "flows", flows);
    const struct counters *c = &d->c;
    json_object_set_new(out, "requests", json_integer((json_int_t)c->requests));
    json_object_set_new(out, "responses", json_integer((json_int_t)c->responses));
    json_object_set_new(out, "malformed", json_integer((json_int_t)c->malformed));
    json_object_set_new(out, "head_too_long", json_integer((json_int_t)c->head_too_long));
    json_object_set_new(out, "not_http", json_integer((json_int_t)c->not_http));
    json_object_set_new(out, "tls", json_integer((json_int_t)c->tls));
    json_object_set_new(out, "midstream_skipped", json_integer((json_int_t)c->midstream_skipped));
    json_object_set_new(out, "queue_overflow", json_integer((json_int_t)c->queue_overflow));
    json_object_set_new(out, "findings_dropped", json_integer((json_int_t)c->findings_dropped));
    json_object_set_new(out, "allowed", json_integer((json_int_t)c->allowed));
    json_object_set_new(out, "pages_learned", json_integer((json_int_t)c->pages_learned));
    json_object_set_new(out, "page_hash_skipped", json_integer((json_int_t)c->page_hash_skipped));
    json_object_set_new(out, "inflate_errors", json_integer((json_int_t)c->inflate_errors));
    json_object_set_new(out, "targets_replaced", json_integer((json_int_t)c->targets_replaced));
}

static void http_flush(void *self, uint64_t now_us)
{
    struct http_det *d = self;
    if (now_us > d->now_us)
        d->now_us = now_us;
    flow_flush(d->flows, d->now_us);
    findings_tick(d, true);
    flood_tick(d, true);
}

static void http_free(void *self)
{
    struct http_det *d = self;
    if (!d)
        return;
    flow_table_free(d->flows);
    if (d->findings)
        for (uint32_t i = 0; i < d->n_findings; i++)
            json_decref(d->findings[i].evidence);
    free(d->findings);
    if (d->targets)
        for (uint32_t i = 0; i < d->n_targets; i++) {
            topk_free(&d->targets[i].urls);
            topk_free(&d->targets[i].clients);
        }
    free(d->targets);
    free(d->uploads);
    free(d->pages);
    if (d->zslots)
        for (uint32_t i = 0; i < d->n_zslots; i++)
            if (d->zslots[i].ready)
                inflateEnd(&d->zslots[i].z);
    free(d->zslots);
    if (d->zprefix_ready)
        inflateEnd(&d->zprefix);
    free(d->scratch);
    params_free(&d->p);
    free(d);
}

const struct detector_ops http_detector = {
    .name = "http",
    .check = http_check,
    .init = http_init,
    .on_packet = http_on_packet,
    .on_tick = http_on_tick,
    .reload = http_reload,
    .stats = http_stats,
    .flush = http_flush,
    .free = http_free,
};
