/* capture.c — libpcap handles for a live interface or a capture file.
 *
 * Opening checks the link type against what decode.c understands, so an
 * unsupported capture fails at start with a message naming the type, not
 * later as a stream of undecodable frames.  Live captures run with
 * immediate mode off so that libpcap's TPACKET_V3 ring hands packets over
 * in blocks (one wakeup per block, not per packet), nonblocking, on the
 * agent's event loop.  Files (pcap and pcapng, through libpcap) are read
 * with microsecond timestamps, the unit of struct pkt.
 */
#include "agent/capture.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/decode.h"
#include "agent/fanout.h"
#include "common/log.h"

/* Block timeout of the TPACKET_V3 ring: how long a half-filled block may
 * wait before it is handed over.  Detector windows are seconds long, so a
 * tenth of a second of latency costs nothing and saves wakeups. */
#define CAPTURE_TIMEOUT_MS 100
#define CAPTURE_DEFAULT_SNAPLEN 262144

/* Messages are cut to fit errbuf, which is fine for a message. */
__attribute__((format(printf, 2, 3))) static void errorf(struct capture *cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cap->errbuf, sizeof cap->errbuf, fmt, ap);
    va_end(ap);
}

static void set_error(struct capture *cap, const char *what, const char *detail)
{
    errorf(cap, "%s: %s: %s", cap->source, what, detail);
}

/* A human name for a link type: "IEEE802_11 (802.11, DLT 105)". */
static void describe_dlt(int dlt, char *buf, size_t len)
{
    const char *name = pcap_datalink_val_to_name(dlt);
    const char *desc = pcap_datalink_val_to_description(dlt);
    if (name != NULL && desc != NULL)
        snprintf(buf, len, "%s (%s, DLT %d)", name, desc, dlt);
    else if (name != NULL)
        snprintf(buf, len, "%s (DLT %d)", name, dlt);
    else
        snprintf(buf, len, "DLT %d", dlt);
}

/* Live interfaces may offer several link types (an Ethernet device can
 * also do DLT_DOCSIS, "any" both cooked versions): keep the default when
 * decode.c knows it, otherwise switch to one it knows. */
static int choose_dlt(struct capture *cap)
{
    int dlt = pcap_datalink(cap->pcap);
    char what[128];

    if (decode_linktype_supported(dlt) == 0) {
        cap->dlt = dlt;
        return 0;
    }
    if (cap->live) {
        int *list = NULL;
        int n = pcap_list_datalinks(cap->pcap, &list);
        for (int i = 0; i < n; i++) {
            if (decode_linktype_supported(list[i]) == 0 &&
                pcap_set_datalink(cap->pcap, list[i]) == 0) {
                cap->dlt = list[i];
                pcap_free_datalinks(list);
                return 0;
            }
        }
        if (list != NULL)
            pcap_free_datalinks(list);
    }
    describe_dlt(dlt, what, sizeof what);
    errorf(cap,
           "%s: link type %s is not supported (supported: Ethernet with VLAN tags, "
           "Linux cooked v1/v2, raw IP, BSD null/loopback)",
           cap->source, what);
    return -2;
}

static int set_filter(struct capture *cap, const char *filter)
{
    struct bpf_program prog;

    if (filter == NULL || filter[0] == '\0')
        return 0;
    if (pcap_compile(cap->pcap, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        errorf(cap, "%s: filter \"%s\": %s", cap->source, filter, pcap_geterr(cap->pcap));
        return -1;
    }
    int rc = pcap_setfilter(cap->pcap, &prog);
    pcap_freecode(&prog);
    if (rc != 0) {
        set_error(cap, "setting the filter", pcap_geterr(cap->pcap));
        return -1;
    }
    return 0;
}

static int open_live(struct capture *cap, const struct capture_opts *opts)
{
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    int snaplen = opts->snaplen ? (int)opts->snaplen : CAPTURE_DEFAULT_SNAPLEN;

    cap->pcap = pcap_create(opts->interface, errbuf);
    if (cap->pcap == NULL) {
        set_error(cap, "cannot open", errbuf);
        return -1;
    }
    if (pcap_set_snaplen(cap->pcap, snaplen) != 0 || pcap_set_promisc(cap->pcap, 1) != 0 ||
        pcap_set_immediate_mode(cap->pcap, 0) != 0 ||
        pcap_set_timeout(cap->pcap, CAPTURE_TIMEOUT_MS) != 0 ||
        (opts->buffer_mb != 0 &&
         pcap_set_buffer_size(cap->pcap, (int)(opts->buffer_mb > 2047 ? 2047 : opts->buffer_mb) *
                                             1024 * 1024) != 0)) {
        set_error(cap, "setting capture options", "the handle is already active");
        return -1;
    }
    int rc = pcap_activate(cap->pcap);
    if (rc < 0) {
        /* pcap_geterr holds the detail for PCAP_ERROR; the others are
         * best described by pcap_statustostr ("You don't have permission
         * to perform this capture on that device", "No such device"). */
        const char *detail = pcap_geterr(cap->pcap);
        if (rc != PCAP_ERROR || detail == NULL || detail[0] == '\0')
            detail = pcap_statustostr(rc);
        errorf(cap, "%s: cannot capture: %s%s", cap->source, detail,
               rc == PCAP_ERROR_PERM_DENIED ? " (needs root or CAP_NET_RAW)" : "");
        return -1;
    }
    /* Warnings (promiscuous mode unsupported, timestamp type) leave a
     * working capture: keep going. */
    if (opts->fanout && fanout_join(pcap_fileno(cap->pcap), opts->fanout, errbuf, sizeof errbuf)) {
        set_error(cap, "fanout", errbuf);
        return -1;
    }
    if (pcap_setnonblock(cap->pcap, 1, errbuf) != 0) {
        set_error(cap, "nonblocking mode", errbuf);
        return -1;
    }
    return 0;
}

/* Files are read through a large stdio buffer: libpcap freads every
 * record (header, then frame), which with the default buffer of one file
 * block is a read(2) every few frames. */
#define CAPTURE_FILE_BUFFER (1u << 20)

static int open_file(struct capture *cap, const struct capture_opts *opts)
{
    char errbuf[PCAP_ERRBUF_SIZE] = "";

    FILE *fp = strcmp(opts->file, "-") != 0 ? fopen(opts->file, "rb") : NULL;
    cap->file_buf = fp ? malloc(CAPTURE_FILE_BUFFER) : NULL;
    if (fp && cap->file_buf && setvbuf(fp, cap->file_buf, _IOFBF, CAPTURE_FILE_BUFFER) == 0) {
        cap->pcap =
            pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_MICRO, errbuf);
        if (cap->pcap != NULL)
            return 0;
    }
    /* Standard input, or anything unusual: libpcap opens it itself and
     * says what is wrong in its own words. */
    if (fp)
        fclose(fp);
    free(cap->file_buf);
    cap->file_buf = NULL;
    cap->pcap =
        pcap_open_offline_with_tstamp_precision(opts->file, PCAP_TSTAMP_PRECISION_MICRO, errbuf);
    if (cap->pcap == NULL) {
        set_error(cap, "cannot read", errbuf);
        return -1;
    }
    return 0;
}

int capture_open(struct capture *cap, const struct capture_opts *opts)
{
    int rc;

    memset(cap, 0, sizeof *cap);
    cap->dlt = -1;
    if ((opts->interface == NULL) == (opts->file == NULL)) {
        errorf(cap, "capture: give either an interface or a file, not %s",
               opts->interface == NULL ? "neither" : "both");
        return -1;
    }
    cap->live = opts->interface != NULL;
    snprintf(cap->source, sizeof cap->source, "%s", cap->live ? opts->interface : opts->file);

    rc = cap->live ? open_live(cap, opts) : open_file(cap, opts);
    if (rc == 0)
        rc = choose_dlt(cap);
    if (rc == 0)
        rc = set_filter(cap, opts->filter);
    if (rc == 0) {
        int snap = pcap_snapshot(cap->pcap);
        cap->snaplen = snap > 0 ? (uint32_t)snap : CAPTURE_DEFAULT_SNAPLEN;
    }
    if (rc != 0) {
        if (cap->pcap != NULL)
            pcap_close(cap->pcap);
        cap->pcap = NULL;
        free(cap->file_buf);
        cap->file_buf = NULL;
    }
    return rc;
}

struct dispatch_ctx {
    struct capture *cap;
    capture_cb cb;
    void *ctx;
    int count;
    bool stopped;
};

/* A record whose wire length is past what any frame can be: counted,
 * logged once, and handed on with the length capped.  Out of line: the
 * per-frame path below then needs no stack frame of its own. */
static __attribute__((noinline)) int deliver_capped(struct dispatch_ctx *d,
                                                    const struct pcap_pkthdr *h,
                                                    const u_char *frame, uint32_t most)
{
    struct pcap_pkthdr hdr = *h;
    if (d->cap->wirelen_capped++ == 0)
        log_warn("%s: frame %llu claims %u bytes on the wire with %u captured (snap length "
                 "%u); counted as %u (wirelen_capped)",
                 d->cap->source, (unsigned long long)d->cap->frames, h->len, h->caplen,
                 d->cap->snaplen, most);
    hdr.len = most;
    return d->cb(d->ctx, &hdr, frame);
}

static void on_pcap_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *frame)
{
    struct dispatch_ctx *d = (struct dispatch_ctx *)user;

    /* After pcap_breakloop the current batch may still deliver. */
    if (d->stopped)
        return;
    d->count++;
    d->cap->frames++;
    /* The wire length is only a claim of the file (or driver): at most
     * the largest IP datagram plus link headers (GRO/TSO super-frames
     * included).  Without this one crafted record claiming 4 GiB is a
     * flood's worth of bytes.  (A frame shorter than the snap length is
     * not proof it was whole: real files cut at other lengths too.) */
    uint32_t most = h->caplen > CAPTURE_MAX_WIRELEN ? h->caplen : CAPTURE_MAX_WIRELEN;
    int rc = h->len > most ? deliver_capped(d, h, frame, most) : d->cb(d->ctx, h, frame);
    if (rc != 0) {
        d->stopped = true;
        pcap_breakloop(d->cap->pcap);
    }
}

int capture_dispatch(struct capture *cap, int max, capture_cb cb, void *ctx)
{
    struct dispatch_ctx d = {cap, cb, ctx, 0, false};

    if (cap->pcap == NULL || cap->eof)
        return 0;
    int rc = pcap_dispatch(cap->pcap, max > 0 ? max : -1, on_pcap_packet, (u_char *)&d);
    if (rc == PCAP_ERROR_BREAK)
        return d.count;
    if (rc == PCAP_ERROR) {
        if (cap->live) {
            set_error(cap, "capture failed", pcap_geterr(cap->pcap));
            return -1;
        }
        /* A file cut while it was being written (the capturing process
         * died, the disk filled) or damaged at the end: libpcap has
         * already delivered every frame before the bad record.  Keep them
         * and end the input with a warning; losing the whole replay for a
         * torn tail would help no one. */
        cap->eof = true;
        cap->truncated = true;
        errorf(cap,
               "%s: file ends inside a cut or damaged record after %llu frames; "
               "using the frames before it (%s)",
               cap->source, (unsigned long long)cap->frames, pcap_geterr(cap->pcap));
        return d.count;
    }
    if (rc == 0 && !cap->live)
        cap->eof = true;
    return d.count;
}

int capture_fd(const struct capture *cap)
{
    if (cap->pcap == NULL || !cap->live)
        return -1;
    return pcap_get_selectable_fd(cap->pcap);
}

/* Add the change of a wrapping 32-bit counter to a 64-bit total. */
static void add_wrapping(uint64_t *total, uint32_t *last, uint32_t now)
{
    *total += (uint32_t)(now - *last);
    *last = now;
}

int capture_stats(struct capture *cap, struct capture_stats *out)
{
    struct pcap_stat ps;

    memset(out, 0, sizeof *out);
    if (cap->pcap == NULL) {
        errorf(cap, "%s: capture is closed", cap->source);
        return -1;
    }
    if (!cap->live) {
        out->received = cap->frames;
        out->wirelen_capped = cap->wirelen_capped;
        return 0;
    }
    if (pcap_stats(cap->pcap, &ps) != 0) {
        set_error(cap, "statistics", pcap_geterr(cap->pcap));
        return -1;
    }
    add_wrapping(&cap->total_recv, &cap->last_recv, ps.ps_recv);
    add_wrapping(&cap->total_drop, &cap->last_drop, ps.ps_drop);
    add_wrapping(&cap->total_ifdrop, &cap->last_ifdrop, ps.ps_ifdrop);
    out->received = cap->total_recv;
    out->dropped = cap->total_drop;
    out->if_dropped = cap->total_ifdrop;
    out->wirelen_capped = cap->wirelen_capped;
    return 0;
}

void capture_close(struct capture *cap)
{
    if (cap->pcap != NULL)
        pcap_close(cap->pcap);
    cap->pcap = NULL;
    /* After pcap_close, which fclose()s the file that used it. */
    free(cap->file_buf);
    cap->file_buf = NULL;
}
