/* tls_servers.h — what the TLS handshakes told about each protected web
 * server: the last name (SNI) clients asked it for, and the names and
 * client fingerprints (JA3) that asked most since the tops were last
 * reset.  Web findings about a server carry its name (tls_sni), so an
 * analyst can pivot from an address to the site; http_flood carries the
 * tops.  One fixed, seeded table allocated at init; a full table forgets
 * the server seen least recently (counted).
 */
#ifndef CANH_TLS_SERVERS_H
#define CANH_TLS_SERVERS_H

#include <jansson.h>
#include <stdint.h>

#include "agent/detect/tls/tls_parse.h"
#include "common/addr.h"

struct tls_servers;

/* slots servers, top names and fingerprints each (1..16); NULL when out
 * of memory. */
struct tls_servers *tls_servers_new(uint32_t slots, uint32_t top, uint64_t seed);
void tls_servers_free(struct tls_servers *s);

/* A ClientHello h to server, seen at now_us. */
void tls_servers_client_hello(struct tls_servers *s, const struct ipaddr *server,
                              const struct tls_hello *h, uint64_t now_us);
/* The last name clients asked server for, or NULL. */
const char *tls_servers_sni(const struct tls_servers *s, const struct ipaddr *server);
/* Add tls_sni, top_sni and top_ja3 (with their handshake counts) of
 * server to evidence e; nothing when no handshake was seen. */
void tls_servers_evidence(const struct tls_servers *s, const struct ipaddr *server, json_t *e);
/* Start server's tops afresh (a flood's tops are its own). */
void tls_servers_reset_tops(struct tls_servers *s, const struct ipaddr *server);
/* Servers forgotten to make room. */
uint64_t tls_servers_replaced(const struct tls_servers *s);

#endif
