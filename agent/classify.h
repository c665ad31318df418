/* classify.h — who a packet's addresses are (architecture §4.4, the step between
 * decode and the detectors).
 *
 * The agent protects its declared assets and home_net; with neither, every
 * address is watched.  classify_packet() answers "protected?" and "which
 * asset?" once per packet so that no detector looks an address up again;
 * classify_is_protected() answers for any other address (an ICMP error's
 * quoted one, a packet built by hand in a test).
 */
#ifndef CANH_CLASSIFY_H
#define CANH_CLASSIFY_H

#include <stdbool.h>

#include "agent/pkt.h"
#include "common/config.h"

/* What the agent protects.  Both pointers may be NULL or empty. */
struct inventory {
    const struct assets *assets;
    const struct netset *home_net;
};

bool classify_is_protected(const struct inventory *inv, const struct ipaddr *a);
/* The asset a belongs to (most specific prefix), or NULL. */
const struct asset *classify_asset(const struct inventory *inv, const struct ipaddr *a);
/* Fill p's src/dst_protected and src/dst_asset and mark it classified. */
void classify_packet(const struct inventory *inv, struct pkt *p);

#endif
