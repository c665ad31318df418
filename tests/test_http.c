/* test_http.c — the http detector on synthetic TCP conversations built
 * packet by packet (handshake, segments, FINs) with the shipped
 * rules/http.rules and the fixtures' assets: each finding kind with its
 * taxonomy and impact, headers split byte by byte, chunked and gzip
 * answers, learned and declared page hashes, the flood and its tops, and
 * benign browsing, form posts and an image upload staying silent. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "agent/detect/detector.h"
#include "agent/pipeline.h"
#include "testutil.h"

#define SEC 1000000ull
#define T0 (1700000000ull * SEC)
#define SERVER "198.51.100.10"
#define CLIENT "203.0.113.7"

struct seen {
    char kind[32], state[8], taxonomy[32], src[ADDR_STRLEN];
    bool impact, has_src;
    uint64_t finding;
    json_t *evidence;
};

struct harness {
    struct ruleset rules;
    struct assets assets;
    struct netset home;
    struct detect_env env;
    void *det;
    struct seen ev[512];
    int n;
    uint64_t now, next_tick;
    struct pipeline *pl; /* set: packets go through the whole agent */
};

static void record(void *ctx, struct evt *e)
{
    struct harness *h = ctx;
    ck_assert_int_lt(h->n, 512);
    struct seen *s = &h->ev[h->n++];
    snprintf(s->kind, sizeof(s->kind), "%s", e->kind);
    snprintf(s->state, sizeof(s->state), "%s", finding_state_name(e->state));
    const struct taxonomy *t = e->taxonomy ? e->taxonomy : e->rule->taxonomy;
    snprintf(s->taxonomy, sizeof(s->taxonomy), "%s", t->code);
    s->impact = e->impact;
    s->has_src = e->has_src;
    if (e->has_src)
        addr_format(&e->src, s->src, sizeof(s->src));
    s->finding = e->finding_seq;
    s->evidence = json_deep_copy(e->evidence);
}

static void h_start_rules(struct harness *h, const char *assets_text, const char *rules_file)
{
    struct cfg_err err;
    memset(h, 0, sizeof(*h));
    ck_assert_msg(ruleset_load_file(rules_file, &h->rules, &err) == 0, "%s", err.msg);
    const char *assets = assets_text ? write_temp_file("assets-http.conf", assets_text)
                                     : fixture_path("assets.conf");
    ck_assert_msg(assets_load(assets, &h->assets, &err) == 0, "%s", err.msg);
    h->env.emit = record;
    h->env.emit_ctx = h;
    h->env.inv.assets = &h->assets;
    h->env.inv.home_net = &h->home;
    h->env.hash_seed = 0x5eed5eed5eedULL;
    ck_assert_msg(http_detector.check(&h->rules, &err) == 0, "%s", err.msg);
    h->det = http_detector.init(&h->rules, &h->env, &err);
    ck_assert_msg(h->det != NULL, "%s", err.msg);
    ck_assert_msg(ruleset_check_unused(&h->rules, &err) == 0, "%s", err.msg);
    h->now = T0;
}

static void h_start_with(struct harness *h, const char *assets_text)
{
    h_start_rules(h, assets_text, SOURCE_DIR "/rules/http.rules");
}

static void h_start(struct harness *h)
{
    h_start_with(h, NULL);
}

static void h_finish(struct harness *h)
{
    http_detector.flush(h->det, h->now);
}

static void h_stop(struct harness *h)
{
    http_detector.free(h->det);
    ruleset_free(&h->rules);
    assets_free(&h->assets);
    for (int i = 0; i < h->n; i++)
        json_decref(h->ev[i].evidence);
}

static void h_packet(struct harness *h, const struct pkt *p)
{
    if (h->pl) {
        pipeline_packet(h->pl, p);
        return;
    }
    if (p->ts_us >= h->next_tick) {
        http_detector.on_tick(h->det, p->ts_us);
        h->next_tick = p->ts_us - p->ts_us % SEC + SEC;
    }
    http_detector.on_packet(h->det, p);
}

static int h_count(const struct harness *h, const char *kind, const char *state)
{
    int n = 0;
    for (int i = 0; i < h->n; i++)
        if ((!kind || strcmp(h->ev[i].kind, kind) == 0) &&
            (!state || strcmp(h->ev[i].state, state) == 0))
            n++;
    return n;
}

static const struct seen *h_new(const struct harness *h, const char *kind)
{
    for (int i = 0; i < h->n; i++)
        if (strcmp(h->ev[i].kind, kind) == 0 && strcmp(h->ev[i].state, "new") == 0)
            return &h->ev[i];
    ck_abort_msg("no new %s event (of %d events)", kind, h->n);
    return NULL;
}

static const char *ev_str(const struct seen *s, const char *key)
{
    return json_string_value(json_object_get(s->evidence, key));
}

/* ---- conversations ---- */

struct conv {
    struct harness *h;
    struct ipaddr client, server;
    uint16_t cport, sport;
    uint32_t cseq, sseq;
    size_t seg; /* segment size */
};

static struct pkt conv_pkt(struct conv *c, bool to_server, uint8_t flags)
{
    struct pkt p;
    memset(&p, 0, sizeof(p));
    p.ip_version = 4;
    p.proto = PROTO_TCP;
    p.ts_us = c->h->now;
    p.src = to_server ? c->client : c->server;
    p.dst = to_server ? c->server : c->client;
    p.sport = to_server ? c->cport : c->sport;
    p.dport = to_server ? c->sport : c->cport;
    p.tcp_flags = flags;
    p.tcp_seq = to_server ? c->cseq : c->sseq;
    return p;
}

static struct conv conv_open_from(struct harness *h, const char *client, uint16_t port)
{
    static uint16_t next_port = 30000;
    struct conv c = {
        .h = h, .cport = next_port++, .sport = port, .cseq = 1000, .sseq = 90000, .seg = 1400};
    ck_assert_int_eq(addr_parse(client, &c.client), 0);
    ck_assert_int_eq(addr_parse(SERVER, &c.server), 0);
    struct pkt p = conv_pkt(&c, true, TCP_SYN);
    h_packet(h, &p);
    c.cseq++;
    p = conv_pkt(&c, false, TCP_SYN | TCP_ACK);
    h_packet(h, &p);
    c.sseq++;
    return c;
}

static struct conv conv_open(struct harness *h)
{
    return conv_open_from(h, CLIENT, 80);
}

static void conv_send(struct conv *c, bool to_server, const void *data, size_t len)
{
    const uint8_t *d = data;
    for (size_t off = 0; off < len; off += c->seg) {
        size_t n = len - off < c->seg ? len - off : c->seg;
        struct pkt p = conv_pkt(c, to_server, TCP_ACK | TCP_PSH);
        p.payload = d + off;
        p.payload_len = p.payload_wire_len = (uint32_t)n;
        h_packet(c->h, &p);
        if (to_server)
            c->cseq += (uint32_t)n;
        else
            c->sseq += (uint32_t)n;
    }
}

static void conv_str(struct conv *c, bool to_server, const char *text)
{
    conv_send(c, to_server, text, strlen(text));
}

static void conv_close(struct conv *c)
{
    struct pkt p = conv_pkt(c, false, TCP_ACK | TCP_FIN);
    h_packet(c->h, &p);
    p = conv_pkt(c, true, TCP_ACK | TCP_FIN);
    h_packet(c->h, &p);
}

/* One request and its answer on a new connection. */
static void exchange(struct harness *h, const char *req, const char *resp)
{
    struct conv c = conv_open(h);
    conv_str(&c, true, req);
    if (resp)
        conv_str(&c, false, resp);
    conv_close(&c);
    h->now += 10000;
}

static const char PAGE_OK[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 54\r\n\r\n"
    "<html><title>Portal</title><body>Welcome</body></html>";

/* ---- tests ---- */

START_TEST(dav_put_of_a_page_is_defacement)
{
    struct harness h;
    h_start(&h);
    exchange(&h,
             "PUT /index.html HTTP/1.1\r\nHost: portal\r\nContent-Length: 44\r\n\r\n"
             "<html><h1>Hacked by Example Team</h1></html>",
             "HTTP/1.1 204 No Content\r\n\r\n");
    h_finish(&h);
    ck_assert_int_eq(h_count(&h, "dav_write", "new"), 1);
    ck_assert_int_eq(h_count(&h, "webshell_upload", NULL), 0);
    const struct seen *s = h_new(&h, "dav_write");
    ck_assert_str_eq(s->taxonomy, "attack.defacement");
    ck_assert(s->impact);
    ck_assert_str_eq(s->src, CLIENT);
    ck_assert_str_eq(ev_str(s, "request"), "PUT /index.html HTTP/1.1");
    ck_assert_str_eq(ev_str(s, "host"), "portal");
    ck_assert_int_eq(json_integer_value(json_object_get(s->evidence, "status")), 204);
    ck_assert_int_eq(json_integer_value(json_object_get(s->evidence, "request_body_bytes")), 44);
    ck_assert_ptr_nonnull(strstr(ev_str(s, "excerpt"), "Hacked by"));
    ck_assert_int_eq(h_count(&h, "dav_write", "end"), 1);
    h_stop(&h);
}
END_TEST

/* A REST API storing JSON and an image PUT into an upload folder are
 * counted, not reported; a LOCK (WebDAV only) and a PUT at the site's top
 * are findings; a file with webshell code under an image name, read back
 * right after, is a webshell access. */
START_TEST(rest_writes_are_counted_not_reported)
{
    struct harness h;
    h_start(&h);
    exchange(&h,
             "PUT /api/records/7 HTTP/1.1\r\nHost: portal\r\nContent-Type: application/json\r\n"
             "Content-Length: 9\r\n\r\n{\"id\": 7}",
             "HTTP/1.1 204 No Content\r\n\r\n");
    exchange(&h,
             "PUT /uploads/photo.png HTTP/1.1\r\nHost: portal\r\nContent-Length: 4\r\n\r\n\x89PNG",
             "HTTP/1.1 201 Created\r\n\r\n");
    exchange(&h, "GET /api/records/7 HTTP/1.1\r\nHost: portal\r\n\r\n",
             "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
    ck_assert_int_eq(h_count(&h, NULL, NULL), 0);
    json_t *st = json_object();
    http_detector.stats(h.det, st);
    ck_assert_int_eq(json_integer_value(json_object_get(st, "writes_not_reported")), 2);
    json_decref(st);
    exchange(&h, "LOCK /api/records/7 HTTP/1.1\r\nHost: portal\r\n\r\n", "HTTP/1.1 200 OK\r\n\r\n");
    h_finish(&h);
    const struct seen *w = h_new(&h, "dav_write");
    ck_assert_str_eq(w->taxonomy, "attack.intrusion");
    ck_assert_str_eq(ev_str(w, "method"), "LOCK");
    h_stop(&h);

    h_start(&h);
    exchange(&h, "PUT /.htaccess HTTP/1.1\r\nHost: portal\r\nContent-Length: 2\r\n\r\nok",
             "HTTP/1.1 201 Created\r\n\r\n");
    h_finish(&h);
    ck_assert_str_eq(h_new(&h, "dav_write")->taxonomy, "attack.defacement");
    h_stop(&h);

    h_start(&h);
    exchange(&h,
             "PUT /uploads/cat.jpg HTTP/1.1\r\nHost: portal\r\nContent-Length: 31\r\n\r\n"
             "<?php system($_GET['cmd']); ?>\n",
             "HTTP/1.1 201 Created\r\n\r\n");
    exchange(&h, "GET /uploads/cat.jpg HTTP/1.1\r\nHost: portal\r\n\r\n",
             "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    h_finish(&h);
    ck_assert_int_eq(h_count(&h, "webshell_upload", "new"), 1);
    ck_assert_str_eq(ev_str(h_new(&h, "webshell_access"), "why"), "recently uploaded");
    ck_assert_int_eq(h_count(&h, "dav_write", NULL), 0);
    h_stop(&h);
}
END_TEST

/* The extension list and the upload folders are checked with file:line. */
START_TEST(bad_lists_name_file_and_line)
{
    struct ruleset rs = {0};
    struct cfg_err err;
    const char *path = write_temp_file("bad-http.rules", "[dav_write]\ndetector = http\n"
                                                         "taxonomy = attack.defacement\n"
                                                         "page_extensions = .html, php\n");
    ck_assert_int_eq(ruleset_load_file(path, &rs, &err), 0);
    ck_assert_int_eq(http_detector.check(&rs, &err), -1);
    ck_assert_msg(strstr(err.msg, "bad-http.rules:4") && strstr(err.msg, "'php'"), "%s", err.msg);
    ruleset_free(&rs);
    memset(&rs, 0, sizeof(rs));
    path = write_temp_file("bad-http2.rules", "[webshell_access]\ndetector = http\n"
                                              "taxonomy = attack.intrusion\n"
                                              "upload_dirs = /uploads/,\n  media/\n");
    ck_assert_int_eq(ruleset_load_file(path, &rs, &err), 0);
    ck_assert_int_eq(http_detector.check(&rs, &err), -1);
    ck_assert_msg(strstr(err.msg, "bad-http2.rules:4") && strstr(err.msg, "media/"), "%s", err.msg);
    ruleset_free(&rs);
}
END_TEST

START_TEST(headers_split_byte_by_byte)
{
    struct harness h;
    h_start(&h);
    struct conv c = conv_open(&h);
    c.seg = 1;
    conv_str(&c, true, "PUT /about.htm HTTP/1.1\r\nHost: portal\r\nContent-Length: 5\r\n\r\nhello");
    c.seg = 3;
    conv_str(&c, false, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
    conv_close(&c);
    h_finish(&h);
    ck_assert_int_eq(h_count(&h, "dav_write", "new"), 1);
    ck_assert_int_eq(
        json_integer_value(json_object_get(h_new(&h, "dav_write")->evidence, "status")), 201);
    h_stop(&h);
}
END_TEST

START_TEST(dav_collection_move_and_delete)
{
    struct harness h;
    h_start(&h);
    exchange(&h, "MKCOL /backup/ HTTP/1.1\r\nHost: portal\r\n\r\n", "HTTP/1.1 201 Created\r\n\r\n");
    exchange(&h, "DELETE /news.html HTTP/1.1\r\nHost: portal\r\n\r\n",
             "HTTP/1.1 204 No Content\r\n\r\n");
    h_finish(&h);
    const struct seen *w = h_new(&h, "dav_write");
    ck_assert_str_eq(w->taxonomy, "attack.intrusion"); /* no page written */
    ck_assert(!w->impact);
    const struct seen *d = h_new(&h, "dav_delete");
    ck_assert_str_eq(d->taxonomy, "attack.destruction");
    ck_assert(d->impact);
    ck_assert_int_eq(h_count(&h, "dav_write", "new"), 1);
    h_stop(&h);
}
END_TEST

START_TEST(move_to_a_script_is_an_upload)
{
    struct harness h;
    h_start(&h);
    exchange(&h,
             "MOVE /uploads/a.txt HTTP/1.1\r\nHost: portal\r\nDestination: "
             "http://portal/uploads/a.php\r\n\r\n",
             "HTTP/1.1 201 Created\r\n\r\n");
    exchange(&h, "GET /uploads/a.php HTTP/1.1\r\nHost: portal\r\n\r\n",
             "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    h_finish(&h);
    ck_assert_str_eq(h_new(&h, "webshell_upload")->taxonomy, "attack.intrusion");
    ck_assert_str_eq(ev_str(h_new(&h, "webshell_upload"), "uploaded"),
                     "http://portal/uploads/a.php");
    ck_assert(h_new(&h, "webshell_access")->impact);
    ck_assert_int_eq(h_count(&h, "dav_write", NULL), 0);
    h_stop(&h);
}
END_TEST

/* A script extension counts at any dot of the name, however many the
 * name has (Apache's multi-extension, IIS's ';'), and only as a whole
 * extension. */
static int uploads_of_move_to_under(const char *rules_file, const char *dest)
{
    struct harness h;
    if (rules_file)
        h_start_rules(&h, NULL, rules_file);
    else
        h_start(&h);
    char req[512];
    snprintf(req, sizeof(req),
             "MOVE /uploads/a.txt HTTP/1.1\r\nHost: portal\r\nDestination: "
             "http://portal/uploads/%s\r\n\r\n",
             dest);
    exchange(&h, req, "HTTP/1.1 201 Created\r\n\r\n");
    h_finish(&h);
    int n = h_count(&h, "webshell_upload", "new");
    h_stop(&h);
    return n;
}

static int uploads_of_move_to(const char *dest)
{
    return uploads_of_move_to_under(NULL, dest);
}

START_TEST(script_extension_at_any_dot)
{
    ck_assert_int_eq(uploads_of_move_to("a.php"), 1);
    ck_assert_int_eq(uploads_of_move_to("a.php.jpg"), 1);
    ck_assert_int_eq(uploads_of_move_to("a.asp;.jpg"), 1);
    ck_assert_int_eq(uploads_of_move_to("a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.php"), 1);
    ck_assert_int_eq(uploads_of_move_to("a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.php.s"), 1);
    ck_assert_int_eq(uploads_of_move_to("a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.phpx"), 0);
    ck_assert_int_eq(uploads_of_move_to("a.phpx.txt"), 0);
    ck_assert_int_eq(uploads_of_move_to("php.txt"), 0);
    ck_assert_int_eq(uploads_of_move_to("a.pl"), 1);
    ck_assert_int_eq(uploads_of_move_to("a.p"), 0);
    ck_assert_int_eq(uploads_of_move_to("a."), 0);
    ck_assert_int_eq(uploads_of_move_to("index.html"), 0);
    /* A one-letter extension, one without a dot, and "." alone. */
    const char *one = write_temp_file(
        "script-one.rules", "[webshell_upload]\ndetector = http\ntaxonomy = attack.intrusion\n"
                            "script_extensions = .x, shell\n");
    ck_assert_int_eq(uploads_of_move_to_under(one, "a.x"), 1);
    ck_assert_int_eq(uploads_of_move_to_under(one, "a.x.txt"), 1);
    ck_assert_int_eq(uploads_of_move_to_under(one, "a.x;.txt"), 1);
    ck_assert_int_eq(uploads_of_move_to_under(one, "a.xy"), 0);
    ck_assert_int_eq(uploads_of_move_to_under(one, "myshell"), 1);
    ck_assert_int_eq(uploads_of_move_to_under(one, "a.txt"), 0);
    const char *dot = write_temp_file(
        "script-dot.rules", "[webshell_upload]\ndetector = http\ntaxonomy = attack.intrusion\n"
                            "script_extensions = .\n");
    ck_assert_int_eq(uploads_of_move_to_under(dot, "a."), 1);
    ck_assert_int_eq(uploads_of_move_to_under(dot, "a..b"), 1);
    ck_assert_int_eq(uploads_of_move_to_under(dot, "a.b"), 0);
}
END_TEST

START_TEST(put_shell_then_command)
{
    struct harness h;
    h_start(&h);
    exchange(&h,
             "PUT /shell.php HTTP/1.1\r\nHost: portal\r\nContent-Length: 31\r\n\r\n"
             "<?php system($_GET['cmd']); ?>\n",
             "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
    /* Not in an upload directory: known only because it was just uploaded. */
    exchange(&h, "GET /shell.php HTTP/1.1\r\nHost: portal\r\n\r\n",
             "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    h_finish(&h);
    const struct seen *u = h_new(&h, "webshell_upload");
    ck_assert_str_eq(u->taxonomy, "attack.intrusion");
    ck_assert_ptr_nonnull(strstr(ev_str(u, "excerpt"), "system($_GET"));
    ck_assert_int_eq(h_count(&h, "dav_write", NULL), 0);
    const struct seen *a = h_new(&h, "webshell_access");
    ck_assert_str_eq(ev_str(a, "why"), "recently uploaded");
    ck_assert(a->impact);
    h_stop(&h);
}
END_TEST

START_TEST(multipart_shell_upload_and_access)
{
    struct harness h;
    h_start(&h);
    const char body[] =
        "--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n"
        "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"cmd.php\"\r\n"
        "Content-Type: application/octet-stream\r\n\r\n"
        "<?php echo shell_exec($_REQUEST['cmd']); ?>\r\n--XyZ--\r\n";
    char req[1024];
    snprintf(req, sizeof(req),
             "POST /upload.php HTTP/1.1\r\nHost: portal\r\nContent-Type: multipart/form-data; "
             "boundary=XyZ\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(body), body);
    exchange(&h, req,
             "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 8\r\n\r\nuploaded");
    exchange(&h, "GET /uploads/cmd.php?cmd=id HTTP/1.1\r\nHost: portal\r\n\r\n",
             "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 39\r\n\r\n"
             "uid=33(www-data) gid=33(www-data) grps\n");
    h_finish(&h);
    const struct seen *u = h_new(&h, "webshell_upload");
    ck_assert_str_eq(ev_str(u, "uploaded"), "cmd.php");
    ck_assert(!u->impact);
    const struct seen *a = h_new(&h, "webshell_access");
    ck_assert_str_eq(ev_str(a, "why"), "cmd=id");
    ck_assert(a->impact);
    ck_assert_str_eq(a->taxonomy, "attack.intrusion");
    h_stop(&h);
}
END_TEST

START_TEST(webshell_access_without_answer_has_no_impact)
{
    struct harness h;
    h_start(&h);
    exchange(&h, "GET /images/x.php?c=whoami HTTP/1.1\r\nHost: portal\r\n\r\n",
             "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    h_finish(&h);
    ck_assert(!h_new(&h, "webshell_access")->impact);
    h_stop(&h);
}
END_TEST

START_TEST(defacement_identity_chunked_gzip)
{
    const char *html = "<html><head><title>HaCkEd By Anonymous</title></head>"
                       "<body><h1>Security is a myth</h1></body></html>";
    uint8_t gz[512];
    z_stream z;
    memset(&z, 0, sizeof(z));
    ck_assert_int_eq(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (Bytef *)(uintptr_t)html;
    z.avail_in = (uInt)strlen(html);
    z.next_out = gz;
    z.avail_out = sizeof(gz);
    ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t gzlen = sizeof(gz) - z.avail_out;
    deflateEnd(&z);

    for (int variant = 0; variant < 3; variant++) {
        struct harness h;
        h_start(&h);
        struct conv c = conv_open(&h);
        c.seg = 17;
        conv_str(&c, true, "GET / HTTP/1.1\r\nHost: portal\r\n\r\n");
        char resp[1024];
        int n;
        if (variant == 0) {
            n = snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n%s",
                         html);
            conv_send(&c, false, resp, (size_t)n);
        } else if (variant == 1) {
            n = snprintf(
                resp, sizeof(resp),
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n"
                "10\r\n%.16s\r\n%zx\r\n%s\r\n0\r\n\r\n",
                html, strlen(html) - 16, html + 16);
            conv_send(&c, false, resp, (size_t)n);
        } else {
            n = snprintf(resp, sizeof(resp),
                         "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n"
                         "Content-Length: %zu\r\n\r\n",
                         gzlen);
            memcpy(resp + n, gz, gzlen);
            conv_send(&c, false, resp, (size_t)n + gzlen);
        }
        conv_close(&c);
        h_finish(&h);
        ck_assert_msg(h_count(&h, "defacement", "new") == 1, "variant %d", variant);
        const struct seen *s = h_new(&h, "defacement");
        ck_assert_str_eq(s->taxonomy, "attack.defacement");
        ck_assert(s->impact);
        ck_assert_str_eq(ev_str(s, "marker"), "hacked by");
        ck_assert_str_eq(ev_str(s, "title"), "HaCkEd By Anonymous");
        ck_assert_int_eq(json_integer_value(json_object_get(s->evidence, "status")), 200);
        h_stop(&h);
    }
}
END_TEST

START_TEST(one_defacement_however_many_viewers)
{
    struct harness h;
    h_start(&h);
    for (int i = 0; i < 20; i++) {
        char client[32];
        snprintf(client, sizeof(client), "203.0.113.%d", 20 + i);
        struct conv c = conv_open_from(&h, client, 80);
        conv_str(&c, true, "GET / HTTP/1.1\r\nHost: portal\r\n\r\n");
        conv_str(&c, false,
                 "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 30\r\n\r\n"
                 "<h1>defaced by someone</h1>\n\n\n");
        conv_close(&c);
        h.now += SEC;
    }
    h_finish(&h);
    ck_assert_int_eq(h_count(&h, "defacement", "new"), 1);
    ck_assert_int_eq(h_count(&h, "defacement", "end"), 1);
    h_stop(&h);
}
END_TEST

START_TEST(page_changed_learned)
{
    struct harness h;
    h_start(&h);
    exchange(&h, "GET /index.html HTTP/1.1\r\nHost: portal\r\n\r\n", PAGE_OK);
    exchange(&h, "GET /index.html HTTP/1.1\r\nHost: portal\r\n\r\n", PAGE_OK);
    ck_assert_int_eq(h_count(&h, "page_changed", NULL), 0);
    exchange(&h, "GET /index.html HTTP/1.1\r\nHost: portal\r\n\r\n",
             "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 54\r\n\r\n"
             "<html><title>Portal</title><body>W3lcome</body></html>");
    /* A page nobody monitors may change freely. */
    exchange(&h, "GET /news.html HTTP/1.1\r\nHost: portal\r\n\r\n", PAGE_OK);
    exchange(&h, "GET /news.html HTTP/1.1\r\nHost: portal\r\n\r\n",
             "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nnew");
    h_finish(&h);
    ck_assert_int_eq(h_count(&h, "page_changed", "new"), 1);
    const struct seen *s = h_new(&h, "page_changed");
    ck_assert_str_eq(s->taxonomy, "attack.defacement");
    ck_assert(s->impact);
    ck_assert_str_eq(ev_str(s, "baseline"), "learned");
    ck_assert_int_eq(strlen(ev_str(s, "old_sha256")), 64);
    ck_assert_str_ne(ev_str(s, "old_sha256"), ev_str(s, "new_sha256"));
    h_stop(&h);
}
END_TEST

START_TEST(page_changed_declared_gzip)
{
    /* sha256("hello\n") */
    struct harness h;
    h_start_with(&h, "[portal]\naddress = 198.51.100.10\nname = portal\nowner = t\nlevel = 3\n"
                     "web_ports = 80\nmonitor = /index.html sha256:"
                     "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03\n");
    exchange(&h, "GET /index.html HTTP/1.1\r\nHost: portal\r\n\r\n",
             "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 6\r\n\r\nhello\n");
    ck_assert_int_eq(h_count(&h, "page_changed", NULL), 0);
    /* The same page compressed: the hash is of the content, so no change. */
    uint8_t gz[128];
    uLongf gzlen = sizeof(gz);
    z_stream z;
    memset(&z, 0, sizeof(z));
    ck_assert_int_eq(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (Bytef *)"hello\n";
    z.avail_in = 6;
    z.next_out = gz;
    z.avail_out = sizeof(gz);
    ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    gzlen = sizeof(gz) - z.avail_out;
    deflateEnd(&z);
    char resp[512];
    int n = snprintf(resp, sizeof(resp),
                     "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n"
                     "Content-Length: %lu\r\n\r\n",
                     (unsigned long)gzlen);
    memcpy(resp + n, gz, gzlen);
    struct conv c = conv_open(&h);
    conv_str(&c, true, "GET /index.html HTTP/1.1\r\nHost: portal\r\nAccept-Encoding: gzip\r\n\r\n");
    conv_send(&c, false, resp, (size_t)n + gzlen);
    conv_close(&c);
    ck_assert_int_eq(h_count(&h, "page_changed", NULL), 0);
    exchange(&h, "GET /index.html HTTP/1.1\r\nHost: portal\r\n\r\n",
             "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 6\r\n\r\nHELLO\n");
    h_finish(&h);
    const struct seen *s = h_new(&h, "page_changed");
    ck_assert_str_eq(ev_str(s, "baseline"), "declared");
    ck_assert_str_eq(ev_str(s, "old_sha256"),
                     "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
    h_stop(&h);
}
END_TEST

/* Requests at rate_rps for seconds, each on its own connection, answered. */
static void load(struct harness *h, const char *client, int rate_rps, int seconds, const char *url)
{
    char req[128];
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: portal\r\n\r\n", url);
    uint64_t step = SEC / (uint64_t)rate_rps;
    for (int i = 0; i < rate_rps * seconds; i++) {
        struct conv c = conv_open_from(h, client, 80);
        conv_str(&c, true, req);
        conv_str(&c, false, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        conv_close(&c);
        h->now += step;
    }
}

START_TEST(http_flood_with_tops)
{
    struct harness h;
    h_start(&h);
    load(&h, "203.0.113.70", 3, 10, "/");     /* light browsing: the baseline */
    load(&h, CLIENT, 6000, 1, "/search?q=x"); /* ab: a short burst */
    h.now += 60 * SEC;
    http_detector.on_tick(h.det, h.now);
    h_finish(&h);
    ck_assert_int_eq(h_count(&h, "http_flood", "new"), 1);
    ck_assert_int_eq(h_count(&h, "http_flood", "end"), 1);
    const struct seen *s = h_new(&h, "http_flood");
    ck_assert_str_eq(s->taxonomy, "attack.dos");
    ck_assert(s->has_src);
    ck_assert_str_eq(s->src, CLIENT);
    json_t *urls = json_object_get(s->evidence, "top_urls");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(urls, 0), "url")), "/search");
    json_t *clients = json_object_get(s->evidence, "top_clients");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(clients, 0), "client")),
                     CLIENT);
    ck_assert(!s->impact); /* every request answered */
    h_stop(&h);
}
END_TEST

/* A reload that drops rules ends their open findings at once, under the
 * old rule; the others go on. */
START_TEST(reload_ends_findings_of_removed_rules)
{
    struct harness h;
    h_start(&h);
    exchange(&h,
             "PUT /index.html HTTP/1.1\r\nHost: portal\r\nContent-Length: 44\r\n\r\n"
             "<html><h1>Hacked by Example Team</h1></html>",
             "HTTP/1.1 204 No Content\r\n\r\n");
    load(&h, "203.0.113.70", 3, 10, "/");
    load(&h, CLIENT, 6000, 1, "/search?q=x");
    h.now += 2 * SEC;
    http_detector.on_tick(h.det, h.now);
    ck_assert_int_eq(h_count(&h, "dav_write", "new"), 1);
    ck_assert_int_eq(h_count(&h, "http_flood", "new"), 1);
    ck_assert_int_eq(h_count(&h, NULL, "end"), 0);

    struct ruleset next = {0};
    struct cfg_err err;
    const char *path = write_temp_file("http-reload.rules", "[webshell_upload]\n"
                                                            "detector = http\n"
                                                            "taxonomy = attack.intrusion\n"
                                                            "severity = high\n");
    ck_assert_msg(ruleset_load_file(path, &next, &err) == 0, "%s", err.msg);
    ck_assert_msg(http_detector.reload(h.det, &next, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(h_count(&h, "dav_write", "end"), 1);
    ck_assert_int_eq(h_count(&h, "http_flood", "end"), 1);

    json_t *st = json_object();
    http_detector.stats(h.det, st);
    ck_assert_int_eq(json_integer_value(json_object_get(st, "findings")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(st, "ends")), 2);
    json_decref(st);
    h_finish(&h);
    ck_assert_int_eq(h_count(&h, NULL, "end"), 2);
    h_stop(&h);
    ruleset_free(&next);
}
END_TEST

START_TEST(busy_site_is_no_flood)
{
    struct harness h;
    h_start(&h);
    load(&h, "203.0.113.70", 3, 5, "/");
    load(&h, CLIENT, 400, 8, "/"); /* ab paced by the server, all answered */
    h_finish(&h);
    ck_assert_int_eq(h_count(&h, NULL, NULL), 0);
    h_stop(&h);
}
END_TEST

START_TEST(benign_browsing_forms_and_image_upload)
{
    struct harness h;
    h_start(&h);
    /* A page load on one keep-alive connection. */
    struct conv c = conv_open(&h);
    const char *urls[] = {"/", "/site.css", "/app.js", "/logo.png", "/index.php?page=news&c=home"};
    for (int i = 0; i < 5; i++) {
        char req[256];
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: portal\r\n\r\n", urls[i]);
        conv_str(&c, true, req);
        conv_str(&c, false, PAGE_OK);
    }
    conv_close(&c);
    /* A contact form and a login. */
    exchange(&h,
             "POST /contact.php HTTP/1.1\r\nHost: portal\r\nContent-Type: "
             "application/x-www-form-urlencoded\r\n"
             "Content-Length: 45\r\n\r\nname=An&email=an%40example.org&msg=Xin+chao!!",
             "HTTP/1.1 302 Found\r\nLocation: /thanks.html\r\nContent-Length: 0\r\n\r\n");
    /* A photo uploaded to the web application. */
    uint8_t body[1500];
    const char *h1 =
        "--b0undary\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nHoi nghi\r\n"
        "--b0undary\r\nContent-Disposition: form-data; name=\"photo\"; "
        "filename=\"hoi-nghi.jpg\"\r\n"
        "Content-Type: image/jpeg\r\n\r\n";
    size_t n = strlen(h1);
    memcpy(body, h1, n);
    for (int i = 0; i < 1000; i++)
        body[n++] = (uint8_t)(i * 7 + 0xd8);
    memcpy(body + n, "\r\n--b0undary--\r\n", 16);
    n += 16;
    c = conv_open(&h);
    char head[256];
    snprintf(head, sizeof(head),
             "POST /upload.php HTTP/1.1\r\nHost: portal\r\nContent-Type: multipart/form-data; "
             "boundary=b0undary\r\n"
             "Content-Length: %zu\r\n\r\n",
             n);
    conv_str(&c, true, head);
    conv_send(&c, true, body, n);
    conv_str(&c, false,
             "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 54\r\n\r\n"
             "<html><title>Portal</title><body>Welcome</body></html>");
    conv_close(&c);
    /* The uploaded image is fetched back. */
    exchange(
        &h, "GET /uploads/hoi-nghi.jpg HTTP/1.1\r\nHost: portal\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 4\r\n\r\n\xff\xd8\xff\xe0");
    h_finish(&h);
    ck_assert_int_eq(h_count(&h, NULL, NULL), 0);
    json_t *st = json_object();
    http_detector.stats(h.det, st);
    ck_assert_int_eq(json_integer_value(json_object_get(st, "requests")), 8);
    ck_assert_int_eq(json_integer_value(json_object_get(st, "malformed")), 0);
    json_decref(st);
    h_stop(&h);
}
END_TEST

START_TEST(tls_and_garbage_are_counted_not_reported)
{
    struct harness h;
    h_start(&h);
    const uint8_t hello[] = {0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03,
                             'P',  'U',  'T',  ' ',  '/',  'x',  '.',  'p',  'h',  'p'};
    struct conv c = conv_open(&h);
    conv_send(&c, true, hello, sizeof(hello));
    conv_send(&c, false, hello, sizeof(hello));
    conv_close(&c);
    exchange(&h, "GET /a HTTP/1.1\r\nBroken header line\r\n\r\n", NULL);
    exchange(&h, "HTTP/1.1 200 OK\r\n\r\n", NULL); /* a response sent as a request */
    exchange(&h, "GET / HTTP/1.1\r\n\r\n",
             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    h_finish(&h);
    ck_assert_int_eq(h_count(&h, NULL, NULL), 0);
    json_t *st = json_object();
    http_detector.stats(h.det, st);
    ck_assert_int_eq(json_integer_value(json_object_get(st, "tls")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(st, "not_http")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(st, "malformed")), 2);
    json_decref(st);
    h_stop(&h);
}
END_TEST

START_TEST(only_web_ports_of_assets)
{
    struct harness h;
    h_start(&h);
    /* Port 8000 is a default web port, but the portal lists only 80, 8080. */
    struct conv c = conv_open_from(&h, CLIENT, 8000);
    conv_str(&c, true, "DELETE /index.html HTTP/1.1\r\nHost: portal\r\n\r\n");
    conv_close(&c);
    c = conv_open_from(&h, CLIENT, 8080);
    conv_str(&c, true, "DELETE /index.html HTTP/1.1\r\nHost: portal\r\n\r\n");
    conv_close(&c);
    h_finish(&h);
    ck_assert_int_eq(h_count(&h, "dav_delete", "new"), 1);
    h_stop(&h);
}
END_TEST

START_TEST(one_finding_while_it_goes_on)
{
    struct harness h;
    h_start(&h);
    for (int i = 0; i < 200; i++) {
        exchange(&h, "GET /uploads/x.php?cmd=ls+-la HTTP/1.1\r\nHost: portal\r\n\r\n",
                 "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        h.now += SEC; /* 200 s of commands, one a second */
    }
    h_finish(&h);
    ck_assert_int_eq(h_count(&h, "webshell_access", "new"), 1);
    ck_assert_int_eq(h_count(&h, "webshell_access", "end"), 1);
    /* update_interval 60s: a few updates, not 200 events */
    ck_assert_int_le(h_count(&h, "webshell_access", "update"), 5);
    ck_assert_int_ge(h_count(&h, "webshell_access", "update"), 2);
    h_stop(&h);
}
END_TEST

static void collect(void *ctx, const struct evt *ev, json_t *json)
{
    (void)ev;
    json_array_append(ctx, json);
}

START_TEST(pipeline_marks_serious_candidates)
{
    /* Through the whole agent: the level 3 portal serving a defaced page
     * is a serious candidate; a webshell upload alone (no impact) is not. */
    struct agent_config cfg;
    struct cfg_err err;
    agent_config_defaults(&cfg);
    snprintf(cfg.name, sizeof(cfg.name), "t");
    snprintf(cfg.assets_file, sizeof(cfg.assets_file), "%s", fixture_path("assets.conf"));
    struct harness h;
    memset(&h, 0, sizeof(h));
    h.now = T0;
    h.pl = pipeline_new(&cfg, &err);
    ck_assert_msg(h.pl != NULL, "%s", err.msg);
    json_t *events = json_array();
    pipeline_set_event_hook(h.pl, collect, events);
    exchange(&h, "GET / HTTP/1.1\r\nHost: portal\r\n\r\n",
             "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 27\r\n\r\n"
             "<h1>Hacked by Nobody</h1>\n\n");
    exchange(&h, "PUT /x.php HTTP/1.1\r\nHost: portal\r\nContent-Length: 2\r\n\r\nhi",
             "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
    pipeline_finish(h.pl, h.now);
    size_t i;
    json_t *ev;
    int seen = 0;
    json_array_foreach(events, i, ev)
    {
        json_t *c = json_object_get(ev, "canh");
        const char *kind = json_string_value(json_object_get(c, "kind"));
        const char *state = json_string_value(json_object_get(c, "state"));
        const char *klass = json_string_value(json_object_get(c, "class"));
        if (strcmp(state, "new") != 0)
            continue;
        if (strcmp(kind, "defacement") == 0) {
            ck_assert_str_eq(klass, "serious_candidate");
            ck_assert_str_eq(json_string_value(json_object_get(ev, "dest_ip")), SERVER);
            ck_assert_str_eq(
                json_string_value(json_object_get(json_object_get(c, "asset"), "name")), "portal");
            seen++;
        } else if (strcmp(kind, "webshell_upload") == 0) {
            ck_assert_str_eq(klass, "normal");
            seen++;
        }
    }
    ck_assert_int_eq(seen, 2);
    json_decref(events);
    pipeline_free(h.pl);
    agent_config_free(&cfg);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("http");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, dav_put_of_a_page_is_defacement);
    tcase_add_test(tc, rest_writes_are_counted_not_reported);
    tcase_add_test(tc, bad_lists_name_file_and_line);
    tcase_add_test(tc, headers_split_byte_by_byte);
    tcase_add_test(tc, dav_collection_move_and_delete);
    tcase_add_test(tc, move_to_a_script_is_an_upload);
    tcase_add_test(tc, put_shell_then_command);
    tcase_add_test(tc, multipart_shell_upload_and_access);
    tcase_add_test(tc, webshell_access_without_answer_has_no_impact);
    tcase_add_test(tc, defacement_identity_chunked_gzip);
    tcase_add_test(tc, one_defacement_however_many_viewers);
    tcase_add_test(tc, page_changed_learned);
    tcase_add_test(tc, page_changed_declared_gzip);
    tcase_add_test(tc, http_flood_with_tops);
    tcase_add_test(tc, busy_site_is_no_flood);
    tcase_add_test(tc, reload_ends_findings_of_removed_rules);
    tcase_add_test(tc, benign_browsing_forms_and_image_upload);
    tcase_add_test(tc, tls_and_garbage_are_counted_not_reported);
    tcase_add_test(tc, only_web_ports_of_assets);
    tcase_add_test(tc, one_finding_while_it_goes_on);
    tcase_add_test(tc, pipeline_marks_serious_candidates);
    tcase_add_test(tc, script_extension_at_any_dot);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(suite());
}
