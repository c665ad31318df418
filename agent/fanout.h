/* fanout.h — several agent workers on one link: PACKET_FANOUT.
 *
 * Linux hands each packet of an interface to exactly one socket of a
 * fanout group.  Workers started with the same [capture] fanout_group on
 * the same interface share its traffic by the [capture] fanout mode
 * (docs/scaling.md):
 *   hash    the kernel's flow hash, the same both ways (PACKET_FANOUT_HASH):
 *           each connection whole on one worker; a scan's probes spread.
 *   source  a classic BPF program: the external address (the one outside
 *           [agent] home_net; the source when home_net is empty) picks the
 *           worker, so everything one scanner, flooder or client does, and
 *           the answers to it, stays on one worker; IPv6 by host pair.
 *   cpu     the CPU that received the packet (PACKET_FANOUT_CPU): follows
 *           the NIC's receive-side scaling.
 */
#ifndef CANH_FANOUT_H
#define CANH_FANOUT_H

#include <stddef.h>

#include "common/agent_conf.h"

/* Join the packet socket fd to cfg's fanout group (cfg->fanout_group
 * must be set).  0, or -1 with err filled. */
int fanout_join(int fd, const struct agent_config *cfg, char *err, size_t err_len);

#endif
