/* pairing.c — HTTP on one web flow: the heads and bodies of both
 * directions as flow.c hands them over in order, parsed by http_parse.c.
 * Each request waits in a short queue (pipelining) with its verdicts from
 * webshell.c until the server answers it, so that a finding carries the
 * status; the answer's body goes to deface.c.  A flow that ends settles
 * what is still waiting, unanswered.
 */
#include <stdio.h>
#include <string.h>

#include "agent/detect/http/http_internal.h"

uint8_t *http_side_prefix(const struct http_det *d, struct flow *f, enum flow_side side)
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
        memcpy(http_side_prefix(k->d, k->f, k->side) + s->prefix_len, p, take);
        s->prefix_len += (uint32_t)take;
    }
    http_deface_hash_feed(k->d, s, p, n);
}

static struct http_req *queue_at(struct http_flow *hf, int i)
{
    return &hf->req[(hf->head + i) % HTTP_REQ_QUEUE];
}

static void request_head(struct http_det *d, struct flow *f, const struct http_head *h)
{
    struct http_flow *hf = f->app;
    struct http_side *s = &hf->side[FLOW_TO_SERVER];
    d->c.requests++;
    if (hf->count == HTTP_REQ_QUEUE) {
        /* Pipelined beyond the queue: the oldest is settled unanswered. */
        d->c.queue_overflow++;
        http_webshell_settle(d, f, queue_at(hf, 0), 0);
        hf->head = (uint8_t)((hf->head + 1) % HTTP_REQ_QUEUE);
        hf->count--;
    }
    int slot = (hf->head + hf->count) % HTTP_REQ_QUEUE;
    struct http_req *q = &hf->req[slot];
    memset(q, 0, sizeof(*q));
    hf->count++;
    hf->receiving = (uint8_t)(slot + 1);
    http_copy_slice(q->method, sizeof(q->method), h->method);
    http_copy_slice(q->target, sizeof(q->target), h->target);
    http_copy_slice(q->host, sizeof(q->host), h->host);
    q->minor = (uint8_t)h->minor_version;
    q->monitor = -1;
    http_webshell_classify_head(d, f, q, h);
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
        http_webshell_classify_body(d, f, q, s);
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
    http_webshell_settle(d, f, q, h->status);
    http_deface_response_head(d, s, q, h);
}

static void response_done(struct http_det *d, struct flow *f, bool complete)
{
    struct http_flow *hf = f->app;
    struct http_side *s = &hf->side[FLOW_TO_CLIENT];
    if (s->status < 200 || hf->count == 0)
        return;
    struct http_req *q = queue_at(hf, 0);
    http_deface_response_done(d, f, s, q, complete);
    s->collect = false;
    hf->head = (uint8_t)((hf->head + 1) % HTTP_REQ_QUEUE);
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
    hf->side[side].phase = HTTP_SIDE_OFF;
    flow_kill_side(f, side);
    if (r == HTTP_NOT_HTTP) {
        /* Not HTTP one way: the other way is not either. */
        hf->side[!side].phase = HTTP_SIDE_OFF;
        flow_kill_side(f, (enum flow_side) !side);
    }
}

void http_pairing_process(struct http_det *d, struct flow *f, enum flow_side side)
{
    struct http_flow *hf = f->app;
    struct http_side *s = &hf->side[side];
    struct sink_ctx k = {d, f, side};
    /* Bounded: every round consumes bytes or stops. */
    for (int round = 0; round < 256 && s->phase != HTTP_SIDE_OFF; round++) {
        uint32_t len;
        const uint8_t *data = flow_data(f, side, &len);
        if (len == 0)
            break;
        if (s->phase == HTTP_SIDE_HEAD) {
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
                    s->phase = HTTP_SIDE_OFF;
                    hf->side[FLOW_TO_SERVER].phase = HTTP_SIDE_OFF;
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
                s->phase = HTTP_SIDE_BODY;
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
            s->phase = HTTP_SIDE_HEAD;
            if (side == FLOW_TO_SERVER)
                request_done(d, f);
            else
                response_done(d, f, true);
        } else if (used == 0) {
            break;
        }
    }
    /* A body that runs to the close ends with the FIN. */
    if (s->phase == HTTP_SIDE_BODY && f->half[side].finished) {
        http_body_eof(&s->body);
        if (s->body.done) {
            s->phase = HTTP_SIDE_HEAD;
            if (side == FLOW_TO_CLIENT)
                response_done(d, f, true);
        }
    }
}

void http_pairing_release(void *ctx, struct flow *f, enum flow_end why, uint64_t now_us)
{
    struct http_det *d = ctx;
    struct http_flow *hf = f->app;
    if (now_us > d->now_us)
        d->now_us = now_us;
    struct http_side *resp = &hf->side[FLOW_TO_CLIENT];
    if (resp->phase == HTTP_SIDE_BODY && hf->count > 0)
        response_done(d, f, false); /* defacement markers in what came */
    if (hf->receiving)
        request_done(d, f);
    while (hf->count > 0) {
        http_webshell_settle(d, f, queue_at(hf, 0), 0);
        hf->head = (uint8_t)((hf->head + 1) % HTTP_REQ_QUEUE);
        hf->count--;
    }
    http_deface_release(d, resp);
    (void)why;
}
