/* fanout.c — see fanout.h.
 *
 * The source mode's program runs on the packet with its data at the
 * network header (the fanout demux runs before af_packet puts the link
 * header back), so IPv4 addresses are at offsets 12 and 16 and IPv6 ones
 * at 8 and 24.  Its return value modulo the group size is the worker. */
#include "agent/fanout.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "common/addr.h"

/* Each IPv4 home_net prefix costs three instructions; jumps reach 255. */
#define FANOUT_MAX_PREFIXES 64
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd

struct prog {
    struct sock_filter ins[16 + 3 * FANOUT_MAX_PREFIXES];
    unsigned n;
};

static unsigned emit(struct prog *p, uint16_t code, uint32_t k)
{
    p->ins[p->n] = (struct sock_filter)BPF_STMT(code, k);
    return p->n++;
}

static unsigned emit_jump(struct prog *p, uint16_t code, uint32_t k)
{
    p->ins[p->n] = (struct sock_filter)BPF_JUMP(code, k, 0, 0);
    return p->n++;
}

/* Point the true branch of the jump at index at to target. */
static void jump_true(struct prog *p, unsigned at, unsigned target)
{
    p->ins[at].jt = (uint8_t)(target - at - 1);
}

static int build_source_prog(const struct netset *home, struct prog *p, char *err, size_t err_len)
{
    unsigned prefixes = 0;
    for (size_t i = 0; i < home->n; i++)
        if (addr_is_v4(&home->v[i].net))
            prefixes++;
    if (prefixes > FANOUT_MAX_PREFIXES) {
        snprintf(err, err_len,
                 "fanout = source takes at most %d IPv4 home_net prefixes (%u given); merge "
                 "them or use fanout = hash",
                 FANOUT_MAX_PREFIXES, prefixes);
        return -1;
    }
    p->n = 0;
    emit(p, BPF_LD | BPF_H | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_PROTOCOL));
    unsigned is_v4 = emit_jump(p, BPF_JMP | BPF_JEQ | BPF_K, ETHERTYPE_IPV4);
    unsigned is_v6 = emit_jump(p, BPF_JMP | BPF_JEQ | BPF_K, ETHERTYPE_IPV6);
    emit(p, BPF_RET | BPF_K, 0); /* neither: the first worker */
    /* IPv6: the low words of both addresses, the same both ways. */
    jump_true(p, is_v6, p->n);
    emit(p, BPF_LD | BPF_W | BPF_ABS, 20);
    emit(p, BPF_MISC | BPF_TAX, 0);
    emit(p, BPF_LD | BPF_W | BPF_ABS, 36);
    emit(p, BPF_ALU | BPF_XOR | BPF_X, 0);
    unsigned v6_done = emit(p, BPF_JMP | BPF_JA, 0);
    /* IPv4: the source, unless it is a home address: then the destination. */
    jump_true(p, is_v4, p->n);
    emit(p, BPF_LD | BPF_W | BPF_ABS, 12);
    emit(p, BPF_MISC | BPF_TAX, 0);
    unsigned home_jumps[FANOUT_MAX_PREFIXES], n_jumps = 0;
    for (size_t i = 0; i < home->n; i++) {
        const struct cidr *c = &home->v[i];
        if (!addr_is_v4(&c->net))
            continue;
        unsigned bits = c->bits > 96 ? c->bits - 96u : 0;
        uint32_t mask = bits ? 0xffffffffu << (32 - bits) : 0;
        uint32_t net = ((uint32_t)c->net.b[12] << 24 | (uint32_t)c->net.b[13] << 16 |
                        (uint32_t)c->net.b[14] << 8 | c->net.b[15]) &
                       mask;
        emit(p, BPF_MISC | BPF_TXA, 0);
        emit(p, BPF_ALU | BPF_AND | BPF_K, mask);
        home_jumps[n_jumps++] = emit_jump(p, BPF_JMP | BPF_JEQ | BPF_K, net);
    }
    emit(p, BPF_MISC | BPF_TXA, 0);
    unsigned v4_done = emit(p, BPF_JMP | BPF_JA, 0);
    unsigned use_dst = emit(p, BPF_LD | BPF_W | BPF_ABS, 16);
    for (unsigned i = 0; i < n_jumps; i++)
        jump_true(p, home_jumps[i], use_dst);
    /* Mix the high bits in: the group size takes the value modulo. */
    unsigned mix = emit(p, BPF_MISC | BPF_TAX, 0);
    p->ins[v6_done].k = mix - v6_done - 1;
    p->ins[v4_done].k = mix - v4_done - 1;
    emit(p, BPF_ALU | BPF_RSH | BPF_K, 16);
    emit(p, BPF_ALU | BPF_XOR | BPF_X, 0);
    emit(p, BPF_MISC | BPF_TAX, 0);
    emit(p, BPF_ALU | BPF_RSH | BPF_K, 8);
    emit(p, BPF_ALU | BPF_XOR | BPF_X, 0);
    emit(p, BPF_RET | BPF_A, 0);
    return 0;
}

int fanout_join(int fd, const struct agent_config *cfg, char *err, size_t err_len)
{
    int type = cfg->fanout_mode == FANOUT_SOURCE ? PACKET_FANOUT_CBPF
               : cfg->fanout_mode == FANOUT_CPU  ? PACKET_FANOUT_CPU
                                                 : PACKET_FANOUT_HASH;
    struct prog prog;
    if (type == PACKET_FANOUT_CBPF && build_source_prog(&cfg->home_net, &prog, err, err_len) < 0)
        return -1;
    int arg = (int)(cfg->fanout_group & 0xffff) | type << 16;
    if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)) < 0) {
        snprintf(err, err_len, "cannot join fanout group %u: %s%s", cfg->fanout_group,
                 strerror(errno),
                 errno == EINVAL ? " (another worker in this group on this interface uses a "
                                   "different fanout mode?)"
                                 : "");
        return -1;
    }
    if (type == PACKET_FANOUT_CBPF) {
        struct sock_fprog fprog = {(unsigned short)prog.n, prog.ins};
        if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT_DATA, &fprog, sizeof(fprog)) < 0) {
            snprintf(err, err_len, "cannot set the fanout program of group %u: %s",
                     cfg->fanout_group, strerror(errno));
            return -1;
        }
    }
    return 0;
}
