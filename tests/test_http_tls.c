/* test_http_tls.c — the http detector's TLS path (http_tls.c) on the real
 * handshakes of tests/fixtures/tls_*.pcap: hellos counted by direction,
 * a split ClientHello counted as truncated, nothing reported for a few
 * handshakes. */
#include <check.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

#include "agent/decode.h"
#include "agent/detect/detector.h"
#include "testutil.h"

static json_t *events;

static void keep_event(void *ctx, struct evt *ev)
{
    (void)ctx;
    json_t *o = json_pack("{s:s,s:s}", "kind", ev->kind, "state",
                          ev->state == FINDING_NEW      ? "new"
                          : ev->state == FINDING_UPDATE ? "update"
                                                        : "end");
    if (ev->evidence)
        json_object_set(o, "evidence", ev->evidence);
    json_array_append_new(events, o);
}

static struct ruleset rules;
static struct assets no_assets;
static struct netset no_home;
static struct detect_env env = {
    .emit = keep_event, .inv = {.assets = &no_assets, .home_net = &no_home}, .hash_seed = 99};

/* Every packet of a capture through a fresh http detector (shipped
 * rules); its stats. */
static json_t *replay(const char *name)
{
    struct cfg_err err;
    ck_assert_int_eq(ruleset_load_file(SOURCE_DIR "/rules/http.rules", &rules, &err), 0);
    void *det = http_detector.init(&rules, &env, &err);
    ck_assert_msg(det, "%s", err.msg);
    events = json_array();
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline(fixture_path(name), errbuf);
    ck_assert_msg(pc, "%s", errbuf);
    struct pcap_pkthdr *hdr;
    const u_char *data;
    uint64_t last = 0;
    while (pcap_next_ex(pc, &hdr, &data) == 1) {
        struct pkt p;
        struct decode_stats st = {0};
        last = (uint64_t)hdr->ts.tv_sec * 1000000 + (uint64_t)hdr->ts.tv_usec;
        if (decode_frame(pcap_datalink(pc), data, hdr->caplen, hdr->len, last, &p, &st) ==
            DECODE_OK)
            http_detector.on_packet(det, &p);
    }
    pcap_close(pc);
    http_detector.flush(det, last + 60000000);
    json_t *stats = json_object();
    http_detector.stats(det, stats);
    http_detector.free(det);
    ruleset_free(&rules);
    return stats;
}

static json_int_t stat(json_t *stats, const char *name)
{
    json_t *v = json_object_get(stats, name);
    ck_assert_msg(json_is_integer(v), "no %s in the stats", name);
    return json_integer_value(v);
}

START_TEST(hellos_counted_by_direction)
{
    json_t *stats = replay("tls_hellos.pcap");
    ck_assert_int_eq(stat(stats, "tls_client_hellos"), 4);
    ck_assert_int_eq(stat(stats, "tls_server_hellos"), 4);
    ck_assert_int_eq(stat(stats, "tls_truncated"), 0);
    ck_assert_int_eq(stat(stats, "tls_malformed"), 0);
    /* Four handshakes are no flood, nor anything else. */
    ck_assert_uint_eq(json_array_size(events), 0);
    json_decref(stats);
    json_decref(events);
}
END_TEST

START_TEST(split_hello_counted_truncated)
{
    json_t *stats = replay("tls_hello_split.pcap");
    ck_assert_int_eq(stat(stats, "tls_client_hellos"), 1);
    ck_assert_int_eq(stat(stats, "tls_truncated"), 1);
    ck_assert_int_eq(stat(stats, "tls_malformed"), 0);
    json_decref(stats);
    json_decref(events);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http_tls");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, hellos_counted_by_direction);
    tcase_add_test(tc, split_hello_counted_truncated);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
