/* verdict.c — one finished fetch compared with its URL's baseline, and
 * the findings that follow (check.h).  Each kind of problem is one
 * finding per URL, opened on the first bad check, updated at most every
 * update_interval while it lasts, ended after hold_down of good checks. */
#include <ctype.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "agent/check/check_internal.h"
#include "common/log.h"
#include "common/taxonomy.h"

static const char *const kind_name[CK_COUNT] = {
    "page_changed", "defacement",  "content_injected", "dns_changed",
    "tls_changed",  "tls_changed", "site_down",
};
static const char *const rule_name[CK_COUNT] = {
    "check_page_changed", "check_defacement", "check_content_injected", "check_dns_changed",
    "check_tls_changed",  "check_tls_expiry", "check_site_down",
};

void verdict_init_rules(struct check *c)
{
    static const struct {
        const char *taxonomy;
        enum severity sev;
    } def[CK_COUNT] = {
        {"attack.defacement", SEV_HIGH}, {"attack.defacement", SEV_CRITICAL},
        {"attack.intrusion", SEV_HIGH},  {"attack.spoofing", SEV_HIGH},
        {"attack.spoofing", SEV_HIGH},   {"operator.software", SEV_MEDIUM},
        {"fault.software", SEV_HIGH},
    };
    static char refs[CK_COUNT][48];
    for (int k = 0; k < CK_COUNT; k++) {
        struct rule *r = &c->builtin[k];
        memset(r, 0, sizeof(*r));
        snprintf(refs[k], sizeof(refs[k]), "built-in:%s", rule_name[k]);
        r->name = (char *)rule_name[k];
        r->ref = refs[k];
        r->detector = (char *)"check";
        r->enabled = true;
        r->taxonomy = taxonomy_find(def[k].taxonomy);
        r->severity = def[k].sev;
        r->update_interval_us = 600000000ull;
        r->hold_down_us = 120000000ull;
    }
}

/* The loaded rule (it may have been reloaded since the finding opened)
 * or the built-in one. */
static const struct rule *rule_of(struct check_target *t, enum check_kind k)
{
    const struct rule *r = pipeline_rule(t->owner->pl, "check", rule_name[k]);
    return r ? r : &t->owner->builtin[k];
}

/* The name an https:// URL sends in its TLS handshake (SNI): its host,
 * unless that is an address literal (which clients do not send); false
 * for http:// URLs. */
static bool url_tls_sni(const char *url, char *out, size_t cap)
{
    if (strncasecmp(url, "https://", 8) != 0)
        return false;
    const char *host = url + 8;
    size_t n = strcspn(host, ":/?#");
    if (n == 0 || n >= cap || host[0] == '[' || strspn(host, "0123456789.") == n)
        return false;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)host[i]);
    out[n] = '\0';
    return true;
}

static void emit(struct check_target *t, enum check_kind k, enum finding_state state,
                 uint64_t now_us)
{
    struct check_finding *f = &t->f[k];
    const struct rule *rule = rule_of(t, k);
    struct evt ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = kind_name[k];
    ev.rule = rule;
    finding_fill(&f->life, &ev, state, now_us);
    ev.asset = t->asset;
    if (t->has_last_ip) {
        ev.dst = t->last_ip;
        ev.has_dst = true;
        ev.proto = IPPROTO_TCP;
    }
    ev.counters =
        json_pack("{s:I,s:I,s:I}", "bad_checks", (json_int_t)f->bad_checks, "failures_in_row",
                  (json_int_t)t->failures_in_row, "url_checks", (json_int_t)t->checks_done);
    json_t *evidence = f->evidence ? json_copy(f->evidence) : json_object();
    json_object_set_new(evidence, "url", json_string(t->url));
    char sni[256];
    if (url_tls_sni(t->url, sni, sizeof(sni)))
        json_object_set_new(evidence, "tls_sni", json_string(sni));
    ev.evidence = evidence;
    if (rule->enabled)
        pipeline_emit(t->owner->pl, &ev);
    json_decref(ev.counters);
    json_decref(evidence);
}

/* One finding's step: bad says whether the problem holds in this check;
 * evidence (owned) describes it. */
static void step(struct check_target *t, enum check_kind k, bool bad, json_t *evidence,
                 uint64_t now_us)
{
    struct check_finding *f = &t->f[k];
    const struct rule *rule = rule_of(t, k);
    if (bad) {
        json_decref(f->evidence);
        f->evidence = evidence;
        f->bad_checks++;
        if (!finding_is_open(&f->life)) {
            finding_open(&f->life, now_us, now_us);
            emit(t, k, FINDING_NEW, now_us);
            return;
        }
        finding_touch(&f->life, now_us);
        if (finding_update_due(&f->life, now_us, rule->update_interval_us))
            emit(t, k, FINDING_UPDATE, now_us);
        return;
    }
    json_decref(evidence);
    if (finding_end_due(&f->life, now_us, rule->hold_down_us)) {
        emit(t, k, FINDING_END, now_us);
        f->bad_checks = 0;
    }
}

void verdict_end_all(struct check_target *t, uint64_t now_us)
{
    for (int k = 0; k < CK_COUNT; k++)
        if (finding_is_open(&t->f[k].life)) {
            emit(t, (enum check_kind)k, FINDING_END, now_us);
            t->f[k].bad_checks = 0;
        }
}

void verdict_free(struct check_target *t)
{
    for (int k = 0; k < CK_COUNT; k++) {
        json_decref(t->f[k].evidence);
        t->f[k].evidence = NULL;
    }
}

static void hex32(const uint8_t *d, char *out)
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void save(struct check_target *t)
{
    if (!t->state_path[0])
        return;
    if (baseline_save(t->state_path, t->asset_name, t->url, &t->base) < 0)
        log_warn("check %s: cannot save its baseline to %s: %m (kept in memory)", t->url,
                 t->state_path);
}

static const char *iso_time(int64_t unix_s, char *buf, size_t size)
{
    time_t tt = (time_t)unix_s;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

/* ---- TLS ------------------------------------------------------------- */

static void judge_tls(struct check_target *t, const struct fetch_result *r, uint64_t now_us)
{
    if (r->outcome == FETCH_TLS_INVALID) {
        step(t, CK_TLS_CHANGED, true,
             json_pack("{s:s,s:s}", "reason", "certificate verification failed", "error", r->error),
             now_us);
        return;
    }
    const struct cert_facts *now_cert = &r->cert;
    if (!now_cert->valid)
        return;
    struct cert_facts *old = &t->base.tls;
    bool bad = false;
    json_t *ev = NULL;
    if (!t->base.have_tls) {
        t->base.tls = *now_cert;
        t->base.have_tls = true;
        save(t);
    } else if (strcmp(old->spki_sha256, now_cert->spki_sha256) != 0 ||
               strcmp(old->issuer, now_cert->issuer) != 0) {
        /* A renewal keeps the issuer and moves the expiry later; the key
         * may change with it (ACME clients rotate keys by default). */
        bool renewal =
            strcmp(old->issuer, now_cert->issuer) == 0 && now_cert->not_after > old->not_after;
        if (renewal) {
            log_info("check %s: certificate renewed by %s, until %lld", t->url, now_cert->issuer,
                     (long long)now_cert->not_after);
            t->base.tls = *now_cert;
            save(t);
        } else {
            char a[32];
            bad = true;
            ev = json_pack(
                "{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "reason",
                strcmp(old->issuer, now_cert->issuer) != 0 ? "issuer changed"
                                                           : "key changed without a renewal",
                "old_issuer", old->issuer, "new_issuer", now_cert->issuer, "old_spki_sha256",
                old->spki_sha256, "new_spki_sha256", now_cert->spki_sha256, "new_subject",
                now_cert->subject, "new_not_after", iso_time(now_cert->not_after, a, sizeof(a)));
        }
    }
    step(t, CK_TLS_CHANGED, bad, ev, now_us);

    int64_t left_s = now_cert->not_after - (int64_t)(now_us / 1000000u);
    bool expiring = left_s < CHECK_EXPIRY_WARNING_S;
    char when[32];
    step(t, CK_TLS_EXPIRY, expiring,
         expiring
             ? json_pack("{s:s,s:s,s:I,s:s}", "reason", "certificate expires soon", "not_after",
                         iso_time(now_cert->not_after, when, sizeof(when)), "days_left",
                         (json_int_t)(left_s / 86400), "subject", now_cert->subject)
             : NULL,
         now_us);
}

/* ---- page ------------------------------------------------------------ */

static json_t *new_markers(const struct page_facts *now, const struct page_facts *base)
{
    json_t *list = json_array();
    for (const char *s = now->markers; *s;) {
        size_t n = strcspn(s, "\n");
        char m[PAGE_MARKERS_MAX];
        snprintf(m, sizeof(m), "%.*s", (int)n, s);
        if (!base || !page_has_marker(base, m))
            json_array_append_new(list, json_string(m));
        s += n + (s[n] == '\n');
    }
    return list;
}

static void judge_page(struct check_target *t, const struct fetch_result *r, uint64_t now_us)
{
    char redirect[FETCH_URL_MAX + 32];
    const char *body = r->body;
    size_t len = r->body_len;
    if (r->outcome == FETCH_OFFSITE) {
        /* What a visitor gets is a trip to another site: that is the page. */
        len = (size_t)snprintf(redirect, sizeof(redirect), "redirect to %s", r->location);
        body = redirect;
    }
    static struct page_facts facts; /* one thread; 9 KiB off the stack */
    if (page_analyse(body, len, &t->masks, &t->owner->markers, &facts) < 0) {
        log_warn("check %s: out of memory reading the page", t->url);
        return;
    }
    bool pinned = t->cfg->has_baseline[t->url_index];
    const uint8_t *pin = t->cfg->baseline[t->url_index];
    char hex_new[65], hex_old[65];
    hex32(facts.sha256, hex_new);
    if (!t->base.have_page && (!pinned || memcmp(facts.sha256, pin, 32) == 0)) {
        t->base.page = facts;
        t->base.have_page = true;
        t->base.masks_id = t->masks_id;
        save(t);
        log_info("check %s: page learned, sha256:%s (%llu bytes)%s", t->url, hex_new,
                 (unsigned long long)facts.size,
                 facts.markers[0] ? "; it already holds defacement markers, which are ignored"
                                  : "");
    }
    const struct page_facts *base = t->base.have_page ? &t->base.page : NULL;

    json_t *markers = new_markers(&facts, base);
    bool defaced = json_array_size(markers) > 0;
    step(t, CK_DEFACEMENT, defaced,
         defaced ? json_pack("{s:o,s:s,s:s}", "markers", markers, "title", facts.title, "old_title",
                             base ? base->title : "")
                 : (json_decref(markers), NULL),
         now_us);

    json_t *hosts = json_array();
    for (size_t i = 0; base && i < facts.n_domains; i++)
        if (!page_has_domain(base, facts.domains[i]))
            json_array_append_new(hosts, json_string(facts.domains[i]));
    bool injected = json_array_size(hosts) > 0;
    step(t, CK_CONTENT_INJECTED, injected,
         injected ? json_pack("{s:o}", "new_hosts", hosts) : (json_decref(hosts), NULL), now_us);

    const uint8_t *ref = pinned ? pin : base ? base->sha256 : NULL;
    bool changed = ref && memcmp(facts.sha256, ref, 32) != 0 && !defaced && !injected;
    json_t *ev = NULL;
    if (changed) {
        char old_x[161], new_x[161];
        hex32(ref, hex_old);
        if (base) {
            page_text_diff(base->text, facts.text, old_x, new_x, sizeof(old_x));
        } else {
            page_text_diff("", facts.text, old_x, new_x, sizeof(old_x));
        }
        ev = json_pack("{s:s,s:s,s:I,s:I,s:s,s:s,s:s,s:b}", "old_sha256", hex_old, "new_sha256",
                       hex_new, "size", (json_int_t)facts.size, "size_delta",
                       (json_int_t)facts.size - (json_int_t)(base ? base->size : 0), "old_text",
                       old_x, "new_text", new_x, "title", facts.title, "pinned", pinned);
        if (r->outcome == FETCH_OFFSITE)
            json_object_set_new(ev, "redirect", json_string(r->location));
    }
    step(t, CK_PAGE_CHANGED, changed, ev, now_us);
}

void verdict_apply(struct check_target *t, const struct fetch_result *r, uint64_t now_us)
{
    struct check *c = t->owner;
    c->done++;
    t->checks_done++;
    c->latency_sum_us += r->latency_us;
    if (r->latency_us > c->latency_max_us)
        c->latency_max_us = r->latency_us;
    bool failed = r->outcome == FETCH_FAILED || r->outcome == FETCH_HTTP_ERROR;
    if (failed || r->outcome == FETCH_TLS_INVALID)
        c->failed++;
    if (failed) {
        t->failures_in_row++;
        log_debug("check %s: %s", t->url, r->error);
    } else {
        t->failures_in_row = 0;
    }
    struct ipaddr ip;
    if (r->primary_ip[0] && addr_parse(r->primary_ip, &ip) == 0) {
        t->last_ip = ip;
        t->has_last_ip = true;
        if (t->cfg->expect.n) {
            bool outside = !netset_contains(&t->cfg->expect, &ip);
            step(t, CK_DNS_CHANGED, outside,
                 outside ? json_pack("{s:s,s:s}", "address", r->primary_ip, "reason",
                                     "resolved outside check_expect_addresses")
                         : NULL,
                 now_us);
        }
    }
    if (r->outcome != FETCH_TLS_INVALID) {
        bool down = t->failures_in_row >= CHECK_DOWN_AFTER;
        step(t, CK_SITE_DOWN, down,
             down ? json_pack("{s:s,s:I,s:I}", "error", r->error, "http_status",
                              (json_int_t)r->status, "failures_in_row",
                              (json_int_t)t->failures_in_row)
                  : NULL,
             now_us);
    }
    if (strncmp(t->url, "https://", 8) == 0)
        judge_tls(t, r, now_us);
    if (r->outcome == FETCH_OK || r->outcome == FETCH_OFFSITE)
        judge_page(t, r, now_us);
}
