/* test_tls_parse.c — the TLS hello parser on real handshakes (curl and
 * openssl against openssl s_server, tests/fixtures/gen/gen_tls.sh): the
 * names, versions and fingerprints Wireshark reads from the same frames
 * (tls_hellos.expected), a ClientHello split over two segments, every
 * prefix of a hello, and hellos whose lengths lie. */
#include <check.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/decode.h"
#include "agent/detect/tls/tls_parse.h"
#include "testutil.h"

/* Payload of frame number `frame` (1-based) of a capture, copied into
 * buf; its length. */
static size_t frame_payload(const char *name, int frame, uint8_t *buf, size_t cap)
{
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline(fixture_path(name), errbuf);
    ck_assert_msg(pc, "%s", errbuf);
    struct pcap_pkthdr *hdr;
    const u_char *data;
    size_t n = 0;
    for (int i = 1; pcap_next_ex(pc, &hdr, &data) == 1; i++) {
        if (i != frame)
            continue;
        struct pkt p;
        struct decode_stats st = {0};
        ck_assert_int_eq(decode_frame(pcap_datalink(pc), data, hdr->caplen, hdr->len, 0, &p, &st),
                         DECODE_OK);
        ck_assert_uint_le(p.payload_len, cap);
        memcpy(buf, p.payload, p.payload_len);
        n = p.payload_len;
        break;
    }
    pcap_close(pc);
    ck_assert_msg(n > 0, "frame %d of %s has no payload", frame, name);
    return n;
}

struct expected {
    int frame, type;
    char sni[256], ja3_text[1024], ja3[40];
};

/* tls_hellos.expected: frame, type, sni, ja3 text, ja3 md5 (tab-separated,
 * empty fields kept). */
static size_t load_expected(struct expected *out, size_t max)
{
    FILE *f = fopen(fixture_path("tls_hellos.expected"), "r");
    ck_assert(f);
    char line[2048];
    size_t n = 0;
    while (n < max && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        char *field[5] = {0}, *s = line;
        for (int i = 0; i < 5; i++) {
            field[i] = s;
            s = strchr(s, '\t');
            if (!s) {
                ck_assert_int_eq(i, 4);
                break;
            }
            *s++ = '\0';
        }
        struct expected *e = &out[n++];
        e->frame = atoi(field[0]);
        e->type = atoi(field[1]);
        snprintf(e->sni, sizeof(e->sni), "%s", field[2]);
        snprintf(e->ja3_text, sizeof(e->ja3_text), "%s", field[3]);
        snprintf(e->ja3, sizeof(e->ja3), "%s", field[4]);
    }
    fclose(f);
    return n;
}

START_TEST(hellos_match_wireshark)
{
    struct expected want[16];
    size_t n = load_expected(want, 16);
    ck_assert_uint_eq(n, 8); /* four handshakes */
    for (size_t i = 0; i < n; i++) {
        uint8_t buf[2048];
        size_t len = frame_payload("tls_hellos.pcap", want[i].frame, buf, sizeof(buf));
        struct tls_hello h;
        ck_assert_int_eq(tls_parse_hello(buf, len, &h), TLS_OK);
        ck_assert_int_eq(h.type, want[i].type);
        ck_assert_str_eq(h.sni, want[i].sni);
        ck_assert(h.has_ja3);
        ck_assert_str_eq(h.ja3_text, want[i].ja3_text);
        ck_assert_str_eq(h.ja3, want[i].ja3);
    }
}
END_TEST

START_TEST(versions_ciphers_alpn)
{
    uint8_t buf[2048];
    struct tls_hello h;
    char vb[8];
    /* curl, default: offers TLS 1.3 (supported_versions) and h2. */
    size_t len = frame_payload("tls_hellos.pcap", 4, buf, sizeof(buf));
    ck_assert_int_eq(tls_parse_hello(buf, len, &h), TLS_OK);
    ck_assert_uint_eq(h.legacy_version, 0x0303);
    ck_assert_str_eq(tls_version_name(h.version, vb, sizeof(vb)), "TLS 1.3");
    ck_assert_str_eq(h.alpn, "h2");
    ck_assert_uint_eq(h.n_ciphers, 31);
    ck_assert_uint_eq(h.n_extensions, 12);
    /* The server chose TLS 1.3 and TLS_AES_256_GCM_SHA384. */
    len = frame_payload("tls_hellos.pcap", 6, buf, sizeof(buf));
    ck_assert_int_eq(tls_parse_hello(buf, len, &h), TLS_OK);
    ck_assert_int_eq(h.type, TLS_SERVER_HELLO);
    ck_assert_uint_eq(h.version, 0x0304);
    ck_assert_uint_eq(h.cipher, 0x1302);
    /* curl limited to TLS 1.2 and HTTP/1.1. */
    len = frame_payload("tls_hellos.pcap", 26, buf, sizeof(buf));
    ck_assert_int_eq(tls_parse_hello(buf, len, &h), TLS_OK);
    ck_assert_str_eq(tls_version_name(h.version, vb, sizeof(vb)), "TLS 1.2");
    ck_assert_str_eq(h.alpn, "http/1.1");
    /* The TLS 1.2 ServerHello shares its segment with the certificate:
     * the hello is read from its own record. */
    len = frame_payload("tls_hellos.pcap", 28, buf, sizeof(buf));
    ck_assert_int_eq(tls_parse_hello(buf, len, &h), TLS_OK);
    ck_assert_uint_eq(h.version, 0x0303);
    ck_assert_uint_eq(h.cipher, 49196);
}
END_TEST

/* The first client data segment of a capture (the ClientHello's start). */
static size_t first_client_hello_segment(const char *name, uint8_t *buf, size_t cap)
{
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline(fixture_path(name), errbuf);
    ck_assert_msg(pc, "%s", errbuf);
    struct pcap_pkthdr *hdr;
    const u_char *data;
    size_t n = 0;
    while (n == 0 && pcap_next_ex(pc, &hdr, &data) == 1) {
        struct pkt p;
        struct decode_stats st = {0};
        if (decode_frame(pcap_datalink(pc), data, hdr->caplen, hdr->len, 0, &p, &st) != DECODE_OK ||
            p.dport != 443 || p.payload_len == 0)
            continue;
        ck_assert_uint_le(p.payload_len, cap);
        memcpy(buf, p.payload, p.payload_len);
        n = p.payload_len;
    }
    pcap_close(pc);
    return n;
}

START_TEST(split_hello_is_truncated)
{
    uint8_t buf[2048];
    size_t len = first_client_hello_segment("tls_hello_split.pcap", buf, sizeof(buf));
    ck_assert_uint_gt(len, 0);
    ck_assert_uint_lt(len, 300); /* MTU 296: the hello did not fit */
    struct tls_hello h;
    ck_assert_int_eq(tls_parse_hello(buf, len, &h), TLS_TRUNCATED);
    ck_assert_int_eq(h.type, TLS_CLIENT_HELLO);
    /* What the first segment holds is read; no fingerprint of half a hello. */
    ck_assert_uint_eq(h.n_ciphers, 31);
    ck_assert_str_eq(h.sni, "portal.test");
    ck_assert(!h.has_ja3);
    ck_assert_str_eq(h.ja3, "");
}
END_TEST

START_TEST(every_prefix_is_truncated_never_bad)
{
    struct expected want[16];
    size_t n = load_expected(want, 16);
    for (size_t i = 0; i < n; i++) {
        uint8_t buf[2048];
        size_t len = frame_payload("tls_hellos.pcap", want[i].frame, buf, sizeof(buf));
        size_t rec = 5 + ((size_t)buf[3] << 8 | buf[4]);
        for (size_t k = 0; k < rec && k <= len; k++) {
            struct tls_hello h;
            /* A copy of exactly k bytes, so a read past them is caught by ASan. */
            uint8_t *cut = malloc(k ? k : 1);
            memcpy(cut, buf, k);
            enum tls_result r = tls_parse_hello(cut, k, &h);
            free(cut);
            ck_assert_msg(r == (k < 6 ? TLS_NOT_HELLO : TLS_TRUNCATED), "frame %d k %zu of %zu: %d",
                          want[i].frame, k, rec, r);
            ck_assert(!h.has_ja3);
        }
    }
}
END_TEST

START_TEST(lying_lengths_are_bad)
{
    uint8_t buf[2048], bad[2048];
    size_t len = frame_payload("tls_hellos.pcap", 4, buf, sizeof(buf));
    struct tls_hello h;
    /* Session id longer than 32. */
    memcpy(bad, buf, len);
    bad[9 + 34] = 33;
    ck_assert_int_eq(tls_parse_hello(bad, len, &h), TLS_BAD);
    /* A cipher list of odd length. */
    memcpy(bad, buf, len);
    size_t sid = buf[9 + 34];
    bad[9 + 35 + sid + 1] |= 1;
    ck_assert_int_eq(tls_parse_hello(bad, len, &h), TLS_BAD);
    /* A handshake shorter than the cipher list it holds. */
    memcpy(bad, buf, len);
    bad[6] = 0;
    bad[7] = 0;
    bad[8] = 40;
    ck_assert_int_eq(tls_parse_hello(bad, len, &h), TLS_BAD);
    /* Extensions running past the hello. */
    memcpy(bad, buf, len);
    size_t ciphers = (size_t)buf[9 + 35 + sid] << 8 | buf[9 + 35 + sid + 1];
    size_t ext = 9 + 35 + sid + 2 + ciphers + 1 + buf[9 + 35 + sid + 2 + ciphers];
    bad[ext] = 0xff;
    ck_assert_int_eq(tls_parse_hello(bad, len, &h), TLS_BAD);
}
END_TEST

START_TEST(other_traffic_is_not_a_hello)
{
    struct tls_hello h;
    const char *get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    ck_assert_int_eq(tls_parse_hello((const uint8_t *)get, strlen(get), &h), TLS_NOT_HELLO);
    /* Application data, a ChangeCipherSpec, a Finished-type handshake. */
    const uint8_t appdata[] = {0x17, 3, 3, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
    const uint8_t ccs[] = {0x14, 3, 3, 0, 1, 1};
    const uint8_t finished[] = {0x16, 3, 3, 0, 8, 20, 0, 0, 4, 1, 2, 3, 4};
    ck_assert_int_eq(tls_parse_hello(appdata, sizeof(appdata), &h), TLS_NOT_HELLO);
    ck_assert_int_eq(tls_parse_hello(ccs, sizeof(ccs), &h), TLS_NOT_HELLO);
    ck_assert_int_eq(tls_parse_hello(finished, sizeof(finished), &h), TLS_NOT_HELLO);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tls_parse");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, hellos_match_wireshark);
    tcase_add_test(tc, versions_ciphers_alpn);
    tcase_add_test(tc, split_hello_is_truncated);
    tcase_add_test(tc, every_prefix_is_truncated_never_bad);
    tcase_add_test(tc, lying_lengths_are_bad);
    tcase_add_test(tc, other_traffic_is_not_a_hello);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
