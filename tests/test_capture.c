/* test_capture.c — capture.c on the fixture files and on loopback.
 *
 * Every fixture opens with the link type it was captured with and yields
 * as many frames as tcpdump reads from it; a file cut mid-record yields
 * the frames before the cut and a warning; an unsupported link type is
 * refused with -2 and a message naming it.  A live capture on lo sees
 * datagrams the test sends itself (only loopback traffic).
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent/capture.h"
#include "agent/decode.h"
#include "testutil.h"

/* Frames tcpdump reads from a file (it prints the ones before a cut and
 * then complains, as we should). */
static long tcpdump_count(const char *path, const char *filter)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "tcpdump -n -r '%s' %s 2>/dev/null | wc -l", path,
             filter ? filter : "");
    FILE *f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    long n = -1;
    ck_assert_int_eq(fscanf(f, "%ld", &n), 1);
    pclose(f);
    return n;
}

struct counter {
    long frames;
    long stop_after; /* 0: never stop */
    struct decode_stats st;
    int dlt;
};

static int count_cb(void *ctx, const struct pcap_pkthdr *h, const uint8_t *frame)
{
    struct counter *c = ctx;
    struct pkt p;
    c->frames++;
    decode_frame(c->dlt, frame, h->caplen, h->len, 0, &p, &c->st);
    return c->stop_after != 0 && c->frames % c->stop_after == 0;
}

/* Read a file to its end in batches of max; returns frames. */
static long read_all(struct capture *cap, int max, struct counter *c)
{
    c->dlt = cap->dlt;
    for (int calls = 0; calls < 1000000 && !cap->eof; calls++) {
        int n = capture_dispatch(cap, max, count_cb, c);
        ck_assert_msg(n >= 0, "%s", cap->errbuf);
        if (max > 0)
            ck_assert_int_le(n, max);
    }
    ck_assert(cap->eof);
    ck_assert_int_eq(capture_dispatch(cap, max, count_cb, c), 0); /* stays at end */
    return c->frames;
}

START_TEST(test_fixture_files_open_and_count)
{
    static const struct {
        const char *file;
        int dlt;
    } files[] = {
        {"scan_syn.pcap", DLT_EN10MB},      {"link_eth.pcap", DLT_EN10MB},
        {"link_vlan.pcap", DLT_EN10MB},     {"link_qinq.pcap", DLT_EN10MB},
        {"link_sll.pcap", DLT_LINUX_SLL},   {"link_sll2.pcap", DLT_LINUX_SLL2},
        {"link_raw.pcap", DLT_RAW},         {"link_null.pcap", DLT_NULL},
        {"link_pcapng.pcapng", DLT_EN10MB}, {"fragments.pcap", DLT_EN10MB},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        const char *path = fixture_path(files[i].file);
        struct capture_opts opts = {.file = path};
        struct capture cap;
        struct counter c = {0};
        ck_assert_msg(capture_open(&cap, &opts) == 0, "%s", cap.errbuf);
        ck_assert_int_eq(cap.dlt, files[i].dlt);
        ck_assert(!cap.live);
        ck_assert_int_eq(capture_fd(&cap), -1);
        long want = tcpdump_count(path, NULL);
        ck_assert_int_gt(want, 0);
        ck_assert_int_eq(read_all(&cap, 64, &c), want);
        ck_assert(!cap.truncated);
        ck_assert_uint_eq(cap.frames, (uint64_t)want);
        ck_assert_uint_eq(c.st.errors, 0);
        struct capture_stats cs;
        ck_assert_int_eq(capture_stats(&cap, &cs), 0);
        ck_assert_uint_eq(cs.received, (uint64_t)want);
        ck_assert_uint_eq(cs.dropped, 0);
        capture_close(&cap);
    }
}
END_TEST

START_TEST(test_truncated_file_keeps_frames)
{
    const char *path = fixture_path("truncated.pcap");
    long want = tcpdump_count(path, NULL);
    ck_assert_int_gt(want, 0);
    /* in one call for the whole file, and in small batches */
    const int batches[] = {0, 7};
    for (size_t i = 0; i < 2; i++) {
        struct capture_opts opts = {.file = path};
        struct capture cap;
        struct counter c = {0};
        ck_assert_msg(capture_open(&cap, &opts) == 0, "%s", cap.errbuf);
        ck_assert_int_eq(read_all(&cap, batches[i], &c), want);
        ck_assert(cap.truncated);
        ck_assert_ptr_nonnull(strstr(cap.errbuf, "truncated.pcap"));
        ck_assert_msg(strstr(cap.errbuf, "truncated") != NULL, "%s", cap.errbuf);
        ck_assert_uint_eq(c.st.errors, 0);
        capture_close(&cap);
    }
    /* the frames before the cut are those of the file it was cut from */
    ck_assert_int_lt(want, tcpdump_count(fixture_path("scan_syn.pcap"), NULL));
}
END_TEST

START_TEST(test_unknown_link_type_refused)
{
    struct capture_opts opts = {.file = fixture_path("link_unknown.pcap")};
    struct capture cap;
    ck_assert_int_eq(capture_open(&cap, &opts), -2);
    ck_assert_ptr_null(cap.pcap);
    ck_assert_msg(strstr(cap.errbuf, "IEEE802_11") != NULL, "%s", cap.errbuf);
    ck_assert_msg(strstr(cap.errbuf, "105") != NULL, "%s", cap.errbuf);
    ck_assert_msg(strstr(cap.errbuf, "not supported") != NULL, "%s", cap.errbuf);
    capture_close(&cap); /* harmless after a failed open */
}
END_TEST

START_TEST(test_open_errors)
{
    struct capture cap;
    struct capture_opts missing = {.file = "/nonexistent/dir/x.pcap"};
    ck_assert_int_eq(capture_open(&cap, &missing), -1);
    ck_assert_msg(strstr(cap.errbuf, "/nonexistent/dir/x.pcap") != NULL, "%s", cap.errbuf);
    ck_assert_msg(strstr(cap.errbuf, "No such file") != NULL, "%s", cap.errbuf);

    const char *text = write_temp_file("notapcap.pcap", "hello, this is not a capture\n");
    struct capture_opts garbage = {.file = text};
    ck_assert_int_eq(capture_open(&cap, &garbage), -1);
    ck_assert_ptr_nonnull(strstr(cap.errbuf, "notapcap.pcap"));

    struct capture_opts both = {.file = text, .interface = "lo"};
    ck_assert_int_eq(capture_open(&cap, &both), -1);
    struct capture_opts neither = {0};
    ck_assert_int_eq(capture_open(&cap, &neither), -1);

    struct capture_opts bad_filter = {.file = fixture_path("scan_syn.pcap"), .filter = "tcp and"};
    ck_assert_int_eq(capture_open(&cap, &bad_filter), -1);
    ck_assert_msg(strstr(cap.errbuf, "filter \"tcp and\"") != NULL, "%s", cap.errbuf);
    ck_assert_ptr_null(cap.pcap);
}
END_TEST

START_TEST(test_filter_and_early_stop)
{
    const char *path = fixture_path("scan_syn.pcap");
    struct capture_opts opts = {.file = path, .filter = "tcp[tcpflags] == tcp-syn"};
    struct capture cap;
    struct counter c = {0};
    ck_assert_msg(capture_open(&cap, &opts) == 0, "%s", cap.errbuf);
    long want = tcpdump_count(path, "'tcp[tcpflags] == tcp-syn'");
    ck_assert_int_ge(want, 1000);
    ck_assert_int_eq(read_all(&cap, 0, &c), want);
    capture_close(&cap);

    /* a callback that stops every 10 frames loses none of them */
    opts.filter = "";
    struct counter s = {.stop_after = 10};
    ck_assert_int_eq(capture_open(&cap, &opts), 0);
    s.dlt = cap.dlt;
    int n = capture_dispatch(&cap, 0, count_cb, &s);
    ck_assert_int_eq(n, 10);
    ck_assert(!cap.eof);
    ck_assert_int_eq(read_all(&cap, 0, &s), tcpdump_count(path, NULL));
    capture_close(&cap);
}
END_TEST

/* Live on lo: send datagrams to ourselves and see them captured. */
START_TEST(test_live_loopback)
{
    struct capture_opts opts = {
        .interface = "lo", .snaplen = 256, .buffer_mb = 4, .filter = "udp and dst port 39517"};
    struct capture cap;
    int rc = capture_open(&cap, &opts);
    if (rc != 0) {
        /* Not root: the message must say what is missing. */
        ck_assert_msg(geteuid() != 0, "%s", cap.errbuf);
        ck_assert_msg(strstr(cap.errbuf, "permission") != NULL ||
                          strstr(cap.errbuf, "CAP_NET_RAW") != NULL,
                      "%s", cap.errbuf);
        return;
    }
    ck_assert(cap.live);
    ck_assert_int_eq(cap.dlt, DLT_EN10MB);
    int fd = capture_fd(&cap);
    ck_assert_int_ge(fd, 0);

    int s = socket(AF_INET, SOCK_DGRAM, 0);
    ck_assert_int_ge(s, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(39517)};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(sendto(s, "probe", 5, 0, (struct sockaddr *)&to, sizeof to), 5);
    close(s);

    struct counter c = {.dlt = cap.dlt};
    time_t deadline = time(NULL) + 60; /* only stops a hang */
    while (c.frames < 5 && time(NULL) < deadline) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        poll(&pfd, 1, 200); /* the ring hands blocks over on its timeout */
        ck_assert_int_ge(capture_dispatch(&cap, 0, count_cb, &c), 0);
    }
    ck_assert_int_eq(c.frames, 5);
    ck_assert_uint_eq(c.st.decoded, 5);
    struct capture_stats cs;
    ck_assert_int_eq(capture_stats(&cap, &cs), 0);
    ck_assert_uint_ge(cs.received, 5);
    capture_close(&cap);
    ck_assert_int_eq(capture_fd(&cap), -1);
}
END_TEST

/* A file whose frames are whole SYNs (54 bytes captured of 54) except that
 * one record claims 4 GiB on the wire:
 * a crafted pcap must not turn one packet into a flood's worth of bytes. */
static const char *write_crafted_pcap(void)
{
    static char path[256];
    snprintf(path, sizeof(path), "%s", write_temp_file("crafted.pcap", ""));
    pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
    pcap_dumper_t *d = pcap_dump_open(dead, path);
    ck_assert_ptr_nonnull(d);
    uint8_t f[54] = {0};
    memcpy(f, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00", 14);
    uint8_t ip[20] = {0x45, 0, 0, 40, 0, 1, 0, 0, 64, 6, 0, 0, 198, 51, 100, 7, 10, 0, 0, 80};
    memcpy(f + 14, ip, 20);
    f[34] = 0x9c;
    f[35] = 0x40; /* sport 40000 */
    f[37] = 80;   /* dport 80 */
    f[46] = 0x50; /* data offset 5 */
    f[47] = 0x02; /* SYN */
    for (int i = 0; i < 20; i++) {
        struct pcap_pkthdr h = {.caplen = 54, .len = 54};
        h.ts.tv_sec = 1700000000 + i / 10;
        h.ts.tv_usec = (i % 10) * 100000;
        if (i == 10)
            h.len = 0xffffffffu; /* "4 GiB" */
        f[35] = (uint8_t)(0x40 + i);
        pcap_dump((u_char *)d, &h, f);
    }
    pcap_dump_close(d);
    pcap_close(dead);
    return path;
}

static int max_len_cb(void *ctx, const struct pcap_pkthdr *h, const uint8_t *frame)
{
    (void)frame;
    uint32_t *max = ctx;
    if (h->len > *max)
        *max = h->len;
    return 0;
}

START_TEST(test_crafted_wire_length_is_capped)
{
    const char *path = write_crafted_pcap();
    struct capture cap;
    struct capture_opts opts = {.file = path};
    ck_assert_int_eq(capture_open(&cap, &opts), 0);
    uint32_t max = 0;
    while (!cap.eof)
        ck_assert_int_ge(capture_dispatch(&cap, 0, max_len_cb, &max), 0);
    /* no frame is longer on the wire than the largest IP datagram */
    ck_assert_uint_eq(max, CAPTURE_MAX_WIRELEN);
    struct capture_stats cs;
    ck_assert_int_eq(capture_stats(&cap, &cs), 0);
    ck_assert_uint_eq(cs.wirelen_capped, 1);
    capture_close(&cap);

    char err[256];
    json_t *events = run_pcap(path, NULL, NULL, err, sizeof(err));
    ck_assert_msg(events != NULL, "%s", err);
    ck_assert_uint_eq(count_events(events, "tcp_flood", NULL), 0);
    ck_assert_uint_eq(count_events(events, "udp_flood", NULL), 0);
    json_decref(events);
}
END_TEST

static Suite *capture_suite(void)
{
    Suite *s = suite_create("capture");
    TCase *tw = tcase_create("wire length");
    tcase_add_test(tw, test_crafted_wire_length_is_capped);
    suite_add_tcase(s, tw);
    TCase *tc = tcase_create("files");
    tcase_add_test(tc, test_fixture_files_open_and_count);
    tcase_add_test(tc, test_truncated_file_keeps_frames);
    tcase_add_test(tc, test_unknown_link_type_refused);
    tcase_add_test(tc, test_open_errors);
    tcase_add_test(tc, test_filter_and_early_stop);
    suite_add_tcase(s, tc);
    tc = tcase_create("live");
    tcase_add_test(tc, test_live_loopback);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(capture_suite());
}
