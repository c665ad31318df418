/* test_correlate.c — correlation and the per-event plan, without Redis
 * (collector/correlate.c, collector/process.c). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/config.h"
#include "collector/correlate.h"
#include "collector/process.h"
#include "collector/route.h"
#include "testutil.h"

#define S(x) ((uint64_t)(x)*1000000)

static struct in_event mk(const char *id, const char *agency, const char *code, const char *kind,
                          const char *src, uint64_t ts)
{
    return (struct in_event){.id = id,
                             .finding_id = id,
                             .agent = "gw",
                             .agency = agency,
                             .kind = kind,
                             .state = "new",
                             .taxonomy = taxonomy_find(code),
                             .severity = SEV_MEDIUM,
                             .src_ip = src,
                             .dest_ip = "198.51.100.10",
                             .asset_name = "portal",
                             .asset_owner = "",
                             .level = 3,
                             .ts_us = ts,
                             .first_seen_us = ts,
                             .last_seen_us = ts};
}

static void add_field_to(void *user, const char *field, const char *value)
{
    struct {
        const char *f[40];
        size_t l[40];
        size_t n;
        char buf[40][256];
    } *fl = user;
    if (fl->n + 2 > 40)
        return;
    const char *two[2] = {field, value};
    for (int i = 0; i < 2; i++) {
        snprintf(fl->buf[fl->n], 256, "%s", two[i]);
        fl->f[fl->n] = fl->buf[fl->n];
        fl->l[fl->n] = strlen(fl->buf[fl->n]);
        fl->n++;
    }
}

static struct incident *inc_with_id(const char *id, enum severity sev)
{
    struct incident *inc = calloc(1, sizeof(*inc));
    snprintf(inc->id, sizeof(inc->id), "%s", id);
    inc->severity = sev;
    return inc;
}

/* One stolen agent password naming several agencies is one agency's word:
 * province-wide needs distinct agents (issue 19). */
START_TEST(test_one_agent_naming_agencies_is_not_province_wide)
{
    struct corr_state *st = calloc(1, sizeof(*st));
    struct incident *a = inc_with_id("A", SEV_MEDIUM), *b = inc_with_id("B", SEV_MEDIUM),
                    *c = inc_with_id("C", SEV_MEDIUM);
    struct in_event e1 = mk("gw:1:1", "Sở Y tế", "attack.other", "portscan", "1.2.3.4", S(1000));
    struct in_event e2 = mk("gw:1:2", "Sở Tư pháp", "attack.other", "portscan", "1.2.3.4", S(1001));
    struct in_event e3 =
        mk("gw:1:3", "Sở Tài chính", "attack.other", "portscan", "1.2.3.4", S(1002));
    corr_state_note(st, &e1, a, S(3600));
    corr_state_note(st, &e2, b, S(3600));
    corr_state_note(st, &e3, c, S(3600));
    ck_assert_uint_eq(corr_agencies(st, S(1002), S(3600)), 1);
    /* the agent survives the round trip through canh:src:<address> */
    struct fields {
        const char *f[40];
        size_t l[40];
        size_t n;
        char buf[40][256];
    } *fl = calloc(1, sizeof(*fl));
    corr_state_to_fields(st, add_field_to, fl);
    struct corr_state *back = calloc(1, sizeof(*back));
    corr_state_from_fields(back, fl->f, fl->l, fl->n);
    ck_assert_uint_eq(back->n, 3);
    ck_assert_uint_eq(corr_agencies(back, S(1002), S(3600)), 1);
    /* a second agent makes it two */
    struct in_event e4 =
        mk("gw2:1:1", "Sở Tài chính", "attack.other", "portscan", "1.2.3.4", S(1003));
    e4.agent = "gw2";
    corr_state_note(back, &e4, c, S(3600));
    ck_assert_uint_eq(corr_agencies(back, S(1003), S(3600)), 2);
    free(fl);
    free(back);
    free(st);
    free(a);
    free(b);
    free(c);
}
END_TEST

START_TEST(test_kinds_and_agencies_in_window)
{
    struct corr_state *st = calloc(1, sizeof(*st));
    struct incident *a = inc_with_id("A", SEV_MEDIUM), *b = inc_with_id("B", SEV_HIGH),
                    *c = inc_with_id("C", SEV_LOW);
    struct in_event scan = mk("e1", "Sở Y tế", "attack.other", "portscan", "1.2.3.4", S(1000));
    struct in_event flood = mk("e2", "Sở Y tế", "attack.dos", "syn_flood", "1.2.3.4", S(1100));
    struct in_event other = mk("e3", "Sở Tư pháp", "attack.other", "sweep", "1.2.3.4", S(1200));
    other.agent = "gw-sotp";
    corr_state_note(st, &scan, a, S(3600));
    ck_assert_uint_eq(corr_kinds_for_agency(st, "Sở Y tế", S(1000), S(3600)), 1);
    corr_state_note(st, &flood, b, S(3600));
    ck_assert_uint_eq(corr_kinds_for_agency(st, "Sở Y tế", S(1100), S(3600)), 2);
    ck_assert_uint_eq(corr_agencies(st, S(1100), S(3600)), 1);
    corr_state_note(st, &other, c, S(3600));
    ck_assert_uint_eq(corr_agencies(st, S(1200), S(3600)), 2);
    /* The same kind again is one kind; out of the window it does not count. */
    scan.ts_us = S(1300);
    corr_state_note(st, &scan, a, S(3600));
    ck_assert_uint_eq(st->n, 3);
    ck_assert_uint_eq(st->v[0].events, 2);
    ck_assert_uint_eq(corr_kinds_for_agency(st, "Sở Y tế", S(1100 + 3601), S(3600)), 1);
    /* A later event prunes what fell out of the window. */
    struct in_event late =
        mk("e9", "Sở Y tế", "attack.dos", "udp_flood", "1.2.3.4", S(1250 + 3600));
    corr_state_note(st, &late, b, S(3600));
    ck_assert_uint_eq(st->n, 2);
    free(st);
    free(a);
    free(b);
    free(c);
}
END_TEST

struct fields {
    const char *f[200];
    size_t l[200];
    char store[200][256];
    size_t n;
};

static void collect(void *user, const char *field, const char *value)
{
    struct fields *fs = user;
    const char *both[2] = {field, value};
    for (int i = 0; i < 2; i++) {
        snprintf(fs->store[fs->n], sizeof(fs->store[0]), "%s", both[i]);
        fs->f[fs->n] = fs->store[fs->n];
        fs->l[fs->n] = strlen(both[i]);
        fs->n++;
    }
}

START_TEST(test_state_round_trip)
{
    struct corr_state *st = calloc(1, sizeof(*st)), *back = calloc(1, sizeof(*back));
    struct incident *a = inc_with_id("A", SEV_CRITICAL);
    a->serious = true;
    a->level = 4;
    struct in_event ev = mk("e1", "Sở Y tế", "attack.defacement", "defacement", "1.2.3.4", S(5));
    corr_state_note(st, &ev, a, S(60));
    st->ver = 7;
    struct fields *fs = calloc(1, sizeof(*fs));
    corr_state_to_fields(st, collect, fs);
    corr_state_from_fields(back, fs->f, fs->l, fs->n);
    ck_assert_uint_eq(back->ver, 7);
    ck_assert_uint_eq(back->n, 1);
    ck_assert_str_eq(back->v[0].agency, "Sở Y tế");
    ck_assert_str_eq(back->v[0].incident_id, "A");
    ck_assert_int_eq(back->v[0].severity, SEV_CRITICAL);
    ck_assert(back->v[0].serious);
    ck_assert_int_eq(back->v[0].level, 4);
    ck_assert_uint_eq(back->v[0].last_seen_us, S(5));
    free(fs);
    free(st);
    free(back);
    free(a);
}
END_TEST

START_TEST(test_combined_links_every_kind)
{
    struct corr_state *st = calloc(1, sizeof(*st));
    struct incident *ids[3] = {inc_with_id("SCAN", SEV_MEDIUM), inc_with_id("DOS", SEV_HIGH),
                               inc_with_id("DEFACE", SEV_CRITICAL)};
    struct in_event evs[3] = {
        mk("e1", "Sở Y tế", "attack.other", "portscan", "9.9.9.9", S(100)),
        mk("e2", "Sở Y tế", "attack.dos", "syn_flood", "9.9.9.9", S(200)),
        mk("e3", "Sở Y tế", "attack.defacement", "defacement", "9.9.9.9", S(300))};
    struct incident_policy pol = {.window_us = S(1800), .max_event_ids = 50, .serious_level = 3};
    struct incident *comb = calloc(1, sizeof(*comb));
    for (int i = 0; i < 2; i++)
        corr_state_note(st, &evs[i], ids[i], S(3600));
    ck_assert_uint_eq(corr_link(comb, true, INCIDENT_COMBINED, "C1", "combined|9.9.9.9|Sở Y tế", st,
                                "Sở Y tế", &evs[1], S(3600), &pol, 1),
                      2);
    ck_assert_str_eq(comb->taxonomy->code, "attack.combined");
    ck_assert_str_eq(comb->children, "SCAN,DOS");
    ck_assert_int_eq(comb->severity, SEV_HIGH);
    corr_state_note(st, &evs[2], ids[2], S(3600));
    ck_assert(corr_link_accepts(comb, &evs[2], S(3600)));
    ck_assert_uint_eq(corr_link(comb, false, INCIDENT_COMBINED, NULL, NULL, st, "Sở Y tế", &evs[2],
                                S(3600), &pol, 2),
                      1);
    ck_assert_str_eq(comb->children, "SCAN,DOS,DEFACE");
    ck_assert_str_eq(comb->kinds, "portscan,syn_flood,defacement");
    ck_assert_int_eq(comb->severity, SEV_CRITICAL);
    ck_assert_uint_eq(comb->events, 3);
    free(comb);
    free(st);
    for (int i = 0; i < 3; i++)
        free(ids[i]);
}
END_TEST

static uint32_t fixed_random(void *user)
{
    return (*(uint32_t *)user)++;
}

static bool ops_have(const struct store_ops *o, const char *a, const char *b)
{
    for (size_t i = 0; i + 1 < o->ops.n; i++)
        if (strcmp(o->ops.v[i], a) == 0 && (!b || strstr(o->ops.v[i + 1], b)))
            return true;
    return false;
}

/* Any argument of any command contains text. */
static bool ops_contain(const struct store_ops *o, const char *text)
{
    for (size_t i = 0; i < o->ops.n; i++)
        if (strstr(o->ops.v[i], text))
            return true;
    return false;
}

/* o guards field of key (a key ending in '*': any key it starts) to hold
 * expected ("" = absent). */
static bool guarded(const struct store_ops *o, const char *key, const char *field,
                    const char *expected)
{
    size_t len = strlen(key), cmp = key[len - 1] == '*' ? len - 1 : len + 1;
    for (size_t i = 0; i + 2 < o->guards.n; i += 3)
        if (strncmp(o->guards.v[i], key, cmp) == 0 && strcmp(o->guards.v[i + 1], field) == 0)
            return strcmp(o->guards.v[i + 2], expected) == 0;
    return false;
}

START_TEST(test_plan_event)
{
    struct collector_config *cfg = malloc(sizeof(*cfg));
    collector_config_defaults(cfg);
    route_defaults(&cfg->routes[cfg->n_routes++], "webhook", SINK_WEBHOOK, true, 0); /* medium+ */
    uint32_t seq = 1;
    struct process_env env = {
        .cfg = cfg, .now_us = S(1795396574), .random = fixed_random, .random_user = &seq};
    struct in_event ev =
        mk("gw:b:1", "Sở Y tế", "attack.dos", "syn_flood", "9.9.9.9", S(1795396570));
    struct process_load *ld = calloc(1, sizeof(*ld));
    char src_key[160];
    process_event_keys(&ev, ld, src_key, sizeof(src_key));
    ck_assert_uint_eq(ld->n, 3);
    ck_assert_str_eq(ld->keys[LOAD_COMBINED], "combined|9.9.9.9|Sở Y tế");
    ck_assert_str_eq(src_key, "canh:src:9.9.9.9");

    /* First event, nothing loaded: one incident opened and escalated. */
    struct store_ops o;
    struct process_outcome out;
    store_ops_init(&o);
    ck_assert_int_eq(process_plan_event(&env, "canh:events:gw", "1-0", &ev, ld, &o, &out), 0);
    ck_assert_int_eq(out.opened, 1);
    ck_assert_int_eq(out.escalated, 1);
    ck_assert_str_eq(o.seen_key, "canh:seen:gw:b:1");
    ck_assert_str_eq(o.ack_id, "1-0");
    ck_assert(ops_have(&o, "canh:ikeys", "f|attack.dos|9.9.9.9|Sở Y tế|portal"));
    ck_assert(ops_have(&o, "canh:escalations", NULL));
    ck_assert(!ops_have(&o, "canh:ikeys", "combined|"));
    /* Guards: the key was free, the source table new. */
    ck_assert_uint_eq(o.guards.n, 12); /* and the suppression read */
    ck_assert_str_eq(o.guards.v[0], "canh:ikeys");
    ck_assert_str_eq(o.guards.v[2], "");
    /* A write decided on empty state (the collector's presumed-new path
     * sends it without reading) must be guarded on every part of that
     * state: the key free, the source table, the suppression and the new
     * incident's hash absent (the script checks the dedup marker). */
    ck_assert(guarded(&o, "canh:ikeys", "f|attack.dos|9.9.9.9|Sở Y tế|portal", ""));
    ck_assert(guarded(&o, "canh:src:9.9.9.9", "ver", ""));
    ck_assert(guarded(&o, "canh:suppressions", "syn_flood|9.9.9.9|portal", ""));
    ck_assert(guarded(&o, "canh:incident:*", "ver", ""));
    store_ops_free(&o);

    /* The same source already scanned this agency: attack.combined opens. */
    struct incident *scan = inc_with_id("SCAN", SEV_MEDIUM);
    struct in_event prev =
        mk("gw:b:0", "Sở Y tế", "attack.other", "portscan", "9.9.9.9", S(1795396500));
    corr_state_note(&ld->src, &prev, scan, cfg->correlation_window_us);
    ld->src.ver = 4;
    store_ops_init(&o);
    ck_assert_int_eq(process_plan_event(&env, "canh:events:gw", "2-0", &ev, ld, &o, &out), 0);
    ck_assert_int_eq(out.opened, 2);
    ck_assert(ops_have(&o, "canh:ikeys", "combined|9.9.9.9|Sở Y tế"));
    ck_assert(ops_have(&o, "canh:incident:SCAN", NULL)); /* combined_id back-link */
    ck_assert(!ops_have(&o, "canh:ikeys", "province|"));
    store_ops_free(&o);

    /* Already processed: only the dedup check and the ack remain. */
    ld->seen = true;
    store_ops_init(&o);
    ck_assert_int_eq(process_plan_event(&env, "canh:events:gw", "3-0", &ev, ld, &o, &out), 0);
    ck_assert_uint_eq(o.ops.n, 0);
    ck_assert_uint_eq(o.guards.n, 0);
    store_ops_free(&o);
    free(scan);
    free(ld);
    free(cfg);
}
END_TEST

/* Lifecycle (docs/collector.md): material changes are announced once as
 * "updated", other events are not news, a rejected finding is suppressed,
 * and quiet time leaves incidents in an operator's hands alone. */
START_TEST(test_lifecycle)
{
    struct collector_config *cfg = malloc(sizeof(*cfg));
    collector_config_defaults(cfg);
    route_defaults(&cfg->routes[cfg->n_routes++], "webhook", SINK_WEBHOOK, true, 0); /* medium+ */
    uint32_t seq = 1;
    struct process_env env = {
        .cfg = cfg, .now_us = S(1795396574), .random = fixed_random, .random_user = &seq};
    struct incident_policy pol = {.window_us = cfg->incident_window_us,
                                  .max_event_ids = cfg->max_event_ids,
                                  .serious_level = cfg->serious_level};
    struct in_event first = mk("gw:b:1", "Sở Y tế", "attack.dos", "syn_flood", NULL, S(1795396570));
    struct process_load *ld = calloc(1, sizeof(*ld));
    char src_key[160];
    process_event_keys(&first, ld, src_key, sizeof(src_key));
    struct incident *old = calloc(1, sizeof(*old));
    incident_open_from_event(old, "INC1", ld->keys[LOAD_PRIMARY], &first, &pol, env.now_us);
    snprintf(old->sinks, sizeof(old->sinks), "webhook");
    old->status = INCIDENT_ESCALATED;
    old->ver = 3;
    ld->inc[LOAD_PRIMARY] = old;
    snprintf(ld->ids[LOAD_PRIMARY], sizeof(ld->ids[0]), "INC1");

    /* Severity rises: one "updated" entry saying so, logged, and the
     * webhook that carries the incident hears of it. */
    struct in_event worse = mk("gw:b:2", "Sở Y tế", "attack.dos", "syn_flood", NULL, S(1795396572));
    worse.severity = SEV_HIGH;
    struct store_ops o;
    struct process_outcome out;
    store_ops_init(&o);
    ck_assert_int_eq(process_plan_event(&env, "canh:events:gw", "2-0", &worse, ld, &o, &out), 0);
    ck_assert_int_eq(out.updated, 1);
    ck_assert_int_eq(out.escalated, 0);
    ck_assert(ops_have(&o, "action", "updated"));
    ck_assert(ops_have(&o, "changes", "severity medium→high"));
    ck_assert(ops_contain(&o, "canh:escalation:INC1/webhook/updated-4"));
    ck_assert(ops_contain(&o, "canh:log:INC1"));
    store_ops_free(&o);

    /* The same again adds counts only: not news, nothing announced. */
    store_ops_init(&o);
    ck_assert_int_eq(process_plan_event(&env, "canh:events:gw", "3-0", &first, ld, &o, &out), 0);
    ck_assert_int_eq(out.extended, 1);
    ck_assert(!ops_contain(&o, "canh:incidents"));
    store_ops_free(&o);

    /* A new kind is news. */
    struct in_event other = mk("gw:b:4", "Sở Y tế", "attack.dos", "tcp_flood", NULL, S(1795396573));
    store_ops_init(&o);
    ck_assert_int_eq(process_plan_event(&env, "canh:events:gw", "4-0", &other, ld, &o, &out), 0);
    ck_assert(ops_have(&o, "changes", "kinds +tcp_flood"));
    store_ops_free(&o);

    /* Rejected within reject_suppress: acknowledged and counted, nothing
     * opened; once it has run out, the finding raises incidents again. */
    char field[160];
    process_suppression_field(&first, field, sizeof(field));
    ck_assert_str_eq(field, "syn_flood|*|portal");
    snprintf(ld->suppression, sizeof(ld->suppression), "%llu INC0 alice",
             (unsigned long long)(env.now_us / 1000 - 60000));
    store_ops_init(&o);
    ck_assert_int_eq(process_plan_event(&env, "canh:events:gw", "5-0", &first, ld, &o, &out), 0);
    ck_assert_int_eq(out.suppressed, 1);
    ck_assert_str_eq(o.ack_id, "5-0");
    ck_assert(ops_contain(&o, "canh:incident:INC0"));
    ck_assert(ops_have(&o, "canh:false_positives", "suppressed:syn_flood"));
    ck_assert(!ops_contain(&o, "canh:incident:INC1"));
    ck_assert(!ops_contain(&o, "canh:incidents"));
    store_ops_free(&o);
    snprintf(ld->suppression, sizeof(ld->suppression), "%llu INC0 alice",
             (unsigned long long)(env.now_us / 1000 - cfg->reject_suppress_us / 1000 - 1));
    store_ops_init(&o);
    ck_assert_int_eq(process_plan_event(&env, "canh:events:gw", "6-0", &first, ld, &o, &out), 0);
    ck_assert_int_eq(out.suppressed, 0);
    ck_assert(ops_contain(&o, "canh:incident:INC1"));
    store_ops_free(&o);

    /* Quiet time: an acknowledged incident stays listed, untouched. */
    old->state = STATE_ACKNOWLEDGED;
    store_ops_init(&o);
    process_plan_close(&env, old, &o);
    ck_assert(ops_contain(&o, "canh:open"));
    ck_assert(!ops_contain(&o, "canh:incidents"));
    ck_assert_int_eq(old->state, STATE_ACKNOWLEDGED);
    store_ops_free(&o);
    /* An open one nobody touched closes, announced. */
    old->state = STATE_OPEN;
    store_ops_init(&o);
    process_plan_close(&env, old, &o);
    ck_assert(ops_have(&o, "action", "closed"));
    ck_assert_int_eq(old->state, STATE_CLOSED);
    store_ops_free(&o);

    /* Resolved or rejected incidents take no more events. */
    old->status = INCIDENT_OPEN;
    old->state = STATE_RESOLVED;
    ck_assert(!incident_accepts(old, &first, &pol));
    old->state = STATE_CONFIRMED;
    ck_assert(incident_accepts(old, &first, &pol));
    process_load_free(ld);
    free(ld);
    free(cfg);
}
END_TEST

START_TEST(test_route)
{
    struct collector_config *cfg = malloc(sizeof(*cfg));
    collector_config_defaults(cfg);
    static const enum sink_id sinks[] = {SINK_WEBHOOK, SINK_SYSLOG, SINK_REPORT};
    for (int s = 0; s < 3; s++) {
        struct route *r = &cfg->routes[cfg->n_routes++];
        route_defaults(r, sink_name(sinks[s]), sinks[s], false, 0);
        route_key(r, sink_name(sinks[s]), &(struct cfg_at){NULL, "x", 1, "sink"});
    }
    unsigned mask;
#define TAKEN(inc)                                                                                 \
    (mask = 0, route_takes(cfg, &cfg->routes[0], inc) ? mask |= 1 : 0,                             \
     route_takes(cfg, &cfg->routes[1], inc) ? mask |= 2 : 0,                                       \
     route_takes(cfg, &cfg->routes[2], inc) ? mask |= 4 : 0, mask)
    struct incident *inc = inc_with_id("X", SEV_LOW);
    ck_assert_uint_eq(TAKEN(inc), 0);
    inc->severity = SEV_HIGH;
    ck_assert_uint_eq(TAKEN(inc), 3);
    inc->serious = true;
    ck_assert_uint_eq(TAKEN(inc), 7);
    cfg->routes[1].classes = 1u << ROUTE_CLASS_SERIOUS;
    cfg->routes[0].min_severity = SEV_CRITICAL;
    inc->serious = false;
    ck_assert_uint_eq(TAKEN(inc), 0);
#undef TAKEN
    free(inc);
    free(cfg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("correlate");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_kinds_and_agencies_in_window);
    tcase_add_test(tc, test_one_agent_naming_agencies_is_not_province_wide);
    tcase_add_test(tc, test_state_round_trip);
    tcase_add_test(tc, test_combined_links_every_kind);
    tcase_add_test(tc, test_plan_event);
    tcase_add_test(tc, test_lifecycle);
    tcase_add_test(tc, test_route);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
