/* capture.h — where packets come from: a live interface or a file.
 *
 * Thin wrapper over libpcap: live capture with snaplen, ring buffer size,
 * BPF filter and immediate mode off (TPACKET_V3 underneath), or an offline
 * pcap/pcapng file read as fast as possible.  The link type is checked
 * against what decode.c understands when the capture is opened.
 */
#ifndef CANH_CAPTURE_H
#define CANH_CAPTURE_H

#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/agent_conf.h"

struct capture {
    pcap_t *pcap;
    int dlt; /* link type */
    bool live;
    bool eof;                /* offline: the file is finished */
    bool truncated;          /* offline: it ended inside a record (or a damaged one) */
    uint64_t frames;         /* handed to callbacks so far */
    uint32_t snaplen;        /* the capture's (live) or the file's snap length */
    uint64_t wirelen_capped; /* frames whose claimed wire length was cut down */
    char source[256];
    char *file_buf; /* offline: the stdio buffer the file is read through */
    /* pcap_stats counters are 32-bit and wrap; the last values seen let
     * capture_stats report 64-bit totals. */
    uint32_t last_recv, last_drop, last_ifdrop;
    uint64_t total_recv, total_drop, total_ifdrop;
    char errbuf[PCAP_ERRBUF_SIZE + 128];
};

struct capture_opts {
    const char *interface; /* live when set */
    const char *file;      /* offline when set */
    uint32_t snaplen;
    uint32_t buffer_mb;
    const char *filter; /* BPF, may be NULL or "" */
    /* Live: join this config's [capture] fanout_group (agent/fanout.h). */
    const struct agent_config *fanout;
};

/* 0, or -1 with cap->errbuf set.  An unsupported link type returns -2
 * (the caller exits 2 with the message, which names the link type).
 * Live captures are promiscuous and nonblocking; snaplen 0 means 262144
 * and buffer_mb 0 leaves libpcap's default (2 MiB). */
int capture_open(struct capture *cap, const struct capture_opts *opts);

/* Called for each frame; return non-zero to stop early.  h->len is never
 * above the larger of h->caplen and CAPTURE_MAX_WIRELEN (capped, counted,
 * logged once). */
typedef int (*capture_cb)(void *ctx, const struct pcap_pkthdr *h, const uint8_t *frame);

/* Process up to max frames (0: all available / until EOF).  Returns the
 * number processed, 0 at end of file (offline, cap->eof set) or when
 * nothing is ready (live, nonblocking), -1 on error (errbuf set).  A
 * truncated or damaged file ends with the frames it could read, then eof
 * and cap->truncated set and a warning in errbuf (not an error). */
int capture_dispatch(struct capture *cap, int max, capture_cb cb, void *ctx);

/* Selectable fd for a live capture (nonblocking), -1 offline. */
int capture_fd(const struct capture *cap);

/* The largest wire length a cut frame may claim: a 64 KiB IP datagram
 * (also what GRO/TSO hand a capture) plus link headers. */
#define CAPTURE_MAX_WIRELEN (65535u + 64u)

struct capture_stats {
    uint64_t received;       /* by the kernel filter */
    uint64_t wirelen_capped; /* claimed wire lengths cut to the captured or largest one */
    uint64_t dropped;        /* kernel buffer full */
    uint64_t if_dropped;
};
/* Totals since capture_open; 0, or -1 with errbuf set.  Offline there is
 * no kernel: received is the frames read, the drops are zero. */
int capture_stats(struct capture *cap, struct capture_stats *out);

void capture_close(struct capture *cap);

#endif
