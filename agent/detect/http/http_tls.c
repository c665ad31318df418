/* http_tls.c — the http detector's view of HTTPS (issue 13): TLS
 * handshakes to the protected web servers, read without decryption by
 * agent/detect/tls/.  A ClientHello to a server's TLS port (tls_ports) or
 * web port counts as a request for http_flood (a flood of new handshakes
 * is an HTTPS flood), its ServerHello as the answer; the name asked for
 * (SNI) and the client's fingerprint (JA3) are kept per server
 * (tls_servers.c) for the evidence.
 *
 * Hellos are read from the segment that carries them, without a flow:
 * most packets on port 443 are encrypted data, and only a segment that
 * starts with a handshake record reaches this file, so HTTPS traffic costs
 * the packet path one byte test (docs/decisions.md, "TLS hellos: one
 * segment").
 */
#include "agent/detect/http/http_internal.h"
#include "agent/detect/tls/tls_parse.h"
#include "agent/detect/tls/tls_servers.h"

static bool port_in(const uint16_t *ports, size_t n, uint16_t port)
{
    for (size_t i = 0; i < n; i++)
        if (ports[i] == port)
            return true;
    return false;
}

/* a:port is a protected server's TLS port, or one of its web ports (a
 * web port may serve HTTPS). */
static bool tls_server(const struct http_det *d, const struct pkt *p, const struct ipaddr *a,
                       uint16_t port)
{
    const struct asset *as = detect_addr_asset(d->env, p, a);
    bool tls_port = port_in(d->p.tls_ports, d->p.n_tls_ports, port);
    if (as && as->n_web_ports && !tls_port)
        return port_in(as->web_ports, as->n_web_ports, port);
    if (!tls_port && !port_in(d->p.web_ports, d->p.n_web_ports, port))
        return false;
    return as || detect_addr_protected(d->env, p, a);
}

void http_tls_on_packet(struct http_det *d, const struct pkt *p)
{
    if (p->proto != PROTO_TCP || p->payload_len < 6 || p->payload[0] != 0x16)
        return;
    bool to_server;
    if (tls_server(d, p, &p->dst, p->dport))
        to_server = true;
    else if (tls_server(d, p, &p->src, p->sport))
        to_server = false;
    else
        return;
    struct tls_hello h;
    enum tls_result r = tls_parse_hello(p->payload, p->payload_len, &h);
    if (r == TLS_NOT_HELLO)
        return;
    if (r == TLS_BAD) {
        d->c.tls_malformed++;
        return;
    }
    if (r == TLS_TRUNCATED)
        d->c.tls_truncated++;
    if (p->ts_us > d->now_us)
        d->now_us = p->ts_us;
    if (h.type == TLS_CLIENT_HELLO && to_server) {
        d->c.tls_client_hellos++;
        tls_servers_client_hello(d->tls, &p->dst, &h, d->now_us);
        http_flood_on_handshake(d, p, true);
    } else if (h.type == TLS_SERVER_HELLO && !to_server) {
        d->c.tls_server_hellos++;
        http_flood_on_handshake(d, p, false);
    }
}

const char *http_tls_sni(const struct http_det *d, const struct ipaddr *server)
{
    return tls_servers_sni(d->tls, server);
}

int http_tls_init(struct http_det *d)
{
    d->tls =
        tls_servers_new((uint32_t)d->p.max_targets, (uint32_t)d->p.flood_top, d->env->hash_seed);
    return d->tls ? 0 : -1;
}

void http_tls_free(struct http_det *d)
{
    tls_servers_free(d->tls);
    d->tls = NULL;
}
