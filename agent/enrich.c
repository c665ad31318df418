/* enrich.c — see enrich.h. */
#include "agent/enrich.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "agent/community_id.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/text.h"

void enrich_init(struct enrich *e, const struct agent_config *cfg, const struct assets *assets)
{
    memset(e, 0, sizeof(*e));
    e->cfg = cfg;
    e->assets = assets;
    /* 64 random bits: two starts of any agent must not meet within the
     * collector's 7-day dedup window (24 bits did, by the birthday bound,
     * across a province of restarting agents). */
    snprintf(e->boot_id, sizeof(e->boot_id), "%016llx", (unsigned long long)hash_random_seed());
    if (cfg->mmdb[0]) {
        int rc = MMDB_open(cfg->mmdb, MMDB_MODE_MMAP, &e->mmdb);
        if (rc == MMDB_SUCCESS)
            e->has_mmdb = true;
        else
            log_warn("%s: GeoIP database not used (%s); events will have no source country",
                     cfg->mmdb, MMDB_strerror(rc));
    }
}

void enrich_set_assets(struct enrich *e, const struct assets *assets)
{
    e->assets = assets;
}

void enrich_set_rules_digest(struct enrich *e, uint64_t digest)
{
    e->rules_rev = event_rules_rev(digest);
}

static int mmdb_string(MMDB_lookup_result_s *res, char *buf, const char *const *path)
{
    MMDB_entry_data_s data;
    if (MMDB_aget_value(&res->entry, &data, path) != MMDB_SUCCESS || !data.has_data ||
        data.type != MMDB_DATA_TYPE_UTF8_STRING || data.data_size != 2)
        return -1;
    memcpy(buf, data.utf8_string, 2);
    buf[2] = '\0';
    return 0;
}

const char *enrich_country(struct enrich *e, const struct ipaddr *addr, char *buf)
{
    buf[0] = '\0';
    if (!e->has_mmdb)
        return buf;
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    const struct sockaddr *sa;
    if (addr_is_v4(addr)) {
        memset(&sin, 0, sizeof(sin));
        sin.sin_family = AF_INET;
        memcpy(&sin.sin_addr, addr->b + 12, 4);
        sa = (const struct sockaddr *)&sin;
    } else {
        memset(&sin6, 0, sizeof(sin6));
        sin6.sin6_family = AF_INET6;
        memcpy(&sin6.sin6_addr, addr->b, 16);
        sa = (const struct sockaddr *)&sin6;
    }
    int mmdb_error;
    MMDB_lookup_result_s res = MMDB_lookup_sockaddr(&e->mmdb, sa, &mmdb_error);
    if (mmdb_error != MMDB_SUCCESS || !res.found_entry)
        return buf;
    /* MaxMind's layout (country.iso_code), then ip-location-db's
     * (country_code). */
    static const char *const maxmind[] = {"country", "iso_code", NULL};
    static const char *const flat[] = {"country_code", NULL};
    if (mmdb_string(&res, buf, maxmind) < 0 && mmdb_string(&res, buf, flat) < 0)
        buf[0] = '\0';
    return buf;
}

/* Which consequence of Decision 05/2017 a finding's wire evidence shows
 * (architecture §6).  One table for every detector: a detector only says
 * whether it saw the victim's side give way (impact); this names it. */
static const struct {
    const char *kind;     /* NULL: any kind of the taxonomy */
    const char *taxonomy; /* NULL: any taxonomy of the kind */
    bool needs_impact;
    enum consequence consequence;
} consequence_rules[] = {
    /* floods of every class and HTTP floods: the victim's answers collapsed */
    {NULL, "attack.dos", true, CONSEQ_SERVICE_INTERRUPTION},
    /* the page check could not reach the site at all */
    {"site_down", NULL, false, CONSEQ_SERVICE_INTERRUPTION},
    /* a webshell answered 2xx; a login that may have succeeded */
    {"webshell_access", NULL, true, CONSEQ_LOSS_OF_CONTROL},
    {"brute_force", NULL, true, CONSEQ_LOSS_OF_CONTROL},
    /* a defaced page served (wire or page check), a page written or
     * deleted with 2xx, scripts injected into a page */
    {"defacement", NULL, false, CONSEQ_LOSS_OF_INTEGRITY},
    {"content_injected", NULL, false, CONSEQ_LOSS_OF_INTEGRITY},
    {"dav_write", NULL, true, CONSEQ_LOSS_OF_INTEGRITY},
    {"dav_delete", NULL, true, CONSEQ_LOSS_OF_INTEGRITY},
    /* a monitored page served other than its baseline */
    {"page_changed", NULL, true, CONSEQ_LOSS_OF_INTEGRITY},
};

/* The sensor's own faults: raised to the SOC, kept out of the agency's
 * statistics (docs/reporting.md). */
static const char *const sensor_kinds[] = {"capture_drops", "link_silent"};

enum consequence enrich_consequence(const struct evt *ev)
{
    for (size_t i = 0; i < sizeof(consequence_rules) / sizeof(consequence_rules[0]); i++) {
        const char *kind = consequence_rules[i].kind, *tax = consequence_rules[i].taxonomy;
        if (kind && strcmp(kind, ev->kind) != 0)
            continue;
        if (tax && (!ev->taxonomy || strcmp(tax, ev->taxonomy->code) != 0))
            continue;
        if (consequence_rules[i].needs_impact && !ev->impact)
            continue;
        return consequence_rules[i].consequence;
    }
    return CONSEQ_NONE;
}

void enrich_event(struct enrich *e, struct evt *ev)
{
    const struct agent_config *cfg = e->cfg;
    e->seq++;
    /* "name:boot_id:000042" and "name:boot_id:f7", cut as snprintf cuts;
     * finding_id starts as a copy of id's prefix */
    _Static_assert(sizeof(ev->finding_id) >= sizeof(ev->id), "finding_id holds id's prefix");
    size_t n = text_copy(ev->id, sizeof(ev->id), cfg->name);
    n = text_append(ev->id, sizeof(ev->id), n, ":", 1);
    n = text_append(ev->id, sizeof(ev->id), n, e->boot_id, strlen(e->boot_id));
    n = text_append(ev->id, sizeof(ev->id), n, ":", 1);
    memcpy(ev->finding_id, ev->id, n + 1);
    text_append_u64(ev->id, sizeof(ev->id), n, e->seq, 6);
    n = text_append(ev->finding_id, sizeof(ev->finding_id), n, "f", 1);
    text_append_u64(ev->finding_id, sizeof(ev->finding_id), n, ev->finding_seq, 1);
    ev->agent = cfg->name;
    ev->flow_id = event_flow_id(ev->finding_id);
    ev->in_iface = cfg->interface[0] ? cfg->interface : NULL;
    ev->rules_rev = e->rules_rev;
    ev->exercise = e->exercise;
    /* Seed 0, the spec's default, so ids match other tools' out of the box. */
    if (!ev->has_src || !ev->has_dst ||
        community_id_v1(0, &ev->src, ev->src_port, &ev->dst, ev->dest_port, ev->proto,
                        ev->community_id) < 0)
        ev->community_id[0] = '\0';
    if (!ev->taxonomy)
        ev->taxonomy = ev->rule->taxonomy;
    if (ev->severity == SEV_NONE)
        ev->severity = ev->rule->severity;
    /* An active page check names its asset itself (agent/check/): the
     * address it reached may be one the asset does not own. */
    if (!ev->asset)
        ev->asset = ev->has_dst ? assets_lookup(e->assets, &ev->dst) : NULL;
    /* An agency host attacking outward (roles swapped): the asset is the
     * attacker's, the one to clean. */
    if (!ev->asset && ev->has_src && strcmp(ev->taxonomy->code, "attack.malware") == 0)
        ev->asset = assets_lookup(e->assets, &ev->src);
    ev->agency = ev->asset && ev->asset->agency[0] ? ev->asset->agency : cfg->agency;
    ev->consequence = enrich_consequence(ev);
    ev->sensor = false;
    for (size_t i = 0; i < sizeof(sensor_kinds) / sizeof(sensor_kinds[0]); i++)
        ev->sensor |= strcmp(ev->kind, sensor_kinds[i]) == 0;
    /* Criterion (1) of Decision 05/2017: an important system (level >=
     * serious_level, or nationally critical) suffering a listed
     * consequence.  Criterion (2), the owner cannot cope alone, is the
     * SOC's to decide (canh-ctl confirm --class serious). */
    ev->class_ = ev->consequence != CONSEQ_NONE && ev->asset &&
                         (ev->asset->level >= cfg->serious_level || ev->asset->national_critical)
                     ? CLASS_SERIOUS_CANDIDATE
                     : CLASS_NORMAL;
    if (ev->has_src)
        enrich_country(e, &ev->src, ev->src_country);
    else
        ev->src_country[0] = '\0';
}

void enrich_free(struct enrich *e)
{
    if (e->has_mmdb)
        MMDB_close(&e->mmdb);
    e->has_mmdb = false;
}
