/* reflect.c — see reflect.h.  The vectors DDoS mitigation vendors and
 * CERTs list (US-CERT TA14-017A and its updates, vendor reflection
 * reports); the amplification factor each gives is in
 * docs/rules-flood.md. */
#include "agent/detect/flood/reflect.h"

#include <string.h>

const struct reflect_service reflect_services[] = {
    {"echo", 7, 1},
    {"qotd", 17, 1},
    {"chargen", 19, 1},
    {"dns", 53, 1},
    {"tftp", 69, 1},
    {"portmap", 111, 1},
    {"ntp", 123, 1},
    {"netbios", 137, 1},
    {"snmp", 161, 1},
    {"xdmcp", 177, 1},
    {"cldap", 389, 1},
    {"slp", 427, 1},
    {"isakmp", 500, 4},
    {"ripv1", 520, 1},
    {"ipmi", 623, 1},
    {"openvpn", 1194, 4},
    {"mssql_browser", 1434, 1},
    {"citrix", 1604, 1},
    {"l2tp", 1701, 4},
    {"ssdp", 1900, 1},
    {"ard", 3283, 1},
    {"rdp", 3389, 4},
    {"ws_discovery", 3702, 1},
    {"sentinel", 5093, 1},
    {"nat_pmp", 5351, 1},
    {"mdns", 5353, 1},
    {"coap", 5683, 1},
    {"ubiquiti", 10001, 1},
    {"tp240", 10074, 1},
    {"memcached", 11211, 1},
    {"steam", 27015, 4},
    {"quake3", 27960, 4},
    {"lantronix", 30718, 1},
    {"jenkins", 33848, 1},
    {"dvr_dhcpdiscover", 37810, 1},
    {"crestron", 41794, 1},
    {"bacnet", 47808, 1},
};

const int reflect_service_count = (int)(sizeof(reflect_services) / sizeof(reflect_services[0]));

/* Open addressing over 128 slots (more than three times the services):
 * index + 1, 0 empty. */
#define SLOTS 128
static uint8_t slot_of[SLOTS];
int reflect_tftp = -1;
static int built;

static unsigned slot_hash(uint16_t port)
{
    return (unsigned)(port * 40503u) >> 9 & (SLOTS - 1);
}

void reflect_init(void)
{
    if (built)
        return;
    memset(slot_of, 0, sizeof(slot_of));
    for (int i = 0; i < reflect_service_count; i++) {
        unsigned s = slot_hash(reflect_services[i].port);
        while (slot_of[s])
            s = (s + 1) & (SLOTS - 1);
        slot_of[s] = (uint8_t)(i + 1);
        if (strcmp(reflect_services[i].name, "tftp") == 0)
            reflect_tftp = i;
    }
    built = 1;
}

int reflect_udp_index(uint16_t port)
{
    for (unsigned s = slot_hash(port);; s = (s + 1) & (SLOTS - 1)) {
        int i = slot_of[s];
        if (!i)
            return -1;
        if (reflect_services[i - 1].port == port)
            return i - 1;
    }
}
