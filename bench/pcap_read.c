/* pcap_read.c — the ceiling: read a capture with libpcap and do nothing
 * but touch each frame's length.  canh-agent's throughput is reported as
 * a ratio to this loop on the same file in the same run. */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>

static void on_frame(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
    uint64_t *sum = (uint64_t *)user;
    sum[0]++;
    sum[1] += h->caplen + bytes[0];
}

int main(int argc, char **argv)
{
    char err[PCAP_ERRBUF_SIZE];
    if (argc != 2) {
        fprintf(stderr, "usage: bench-pcap-read FILE\n");
        return 2;
    }
    pcap_t *p = pcap_open_offline(argv[1], err);
    if (!p) {
        fprintf(stderr, "bench-pcap-read: %s\n", err);
        return 1;
    }
    uint64_t sum[2] = {0, 0};
    while (pcap_dispatch(p, 4096, on_frame, (u_char *)sum) > 0)
        ;
    pcap_close(p);
    printf("%llu frames (checksum %llu)\n", (unsigned long long)sum[0], (unsigned long long)sum[1]);
    return 0;
}
