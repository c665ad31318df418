/* test_collector.c — collector.conf, escalation helpers, syslog and report
 * formatting (collector/config.c, escalate.c, sinks/, report.c). */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "collector/archive.h"
#include "collector/config.h"
#include "collector/escalate.h"
#include "collector/ingest.h"
#include "collector/report.h"
#include "collector/route.h"
#include "collector/sinks/syslog.h"
#include "collector/sinks/webhook.h"
#include "common/slug.h"
#include "testutil.h"

static char conf_path[64];

static int load_text(const char *text, struct collector_config *cfg, struct cfg_err *err)
{
    snprintf(conf_path, sizeof(conf_path), "/tmp/canh-test-collector-%d.conf", (int)getpid());
    FILE *f = fopen(conf_path, "w");
    fputs(text, f);
    fclose(f);
    collector_config_defaults(cfg);
    int rc = collector_config_load(conf_path, cfg, err);
    unlink(conf_path);
    return rc;
}

/* [agents] binds agents (and their per-interface instances) to agencies. */
START_TEST(test_agents_section_binds_agencies)
{
    struct collector_config *cfg = malloc(sizeof(*cfg));
    struct cfg_err err;
    ck_assert_int_eq(load_text("[collector]\nmisdated = deadletter\nmax_entry_size = 64KiB\n"
                               "[agents]\ngw-soyte = Sở Y tế\ngw-soyte-dmz = Sở Y tế (DMZ)\n"
                               "gw-sotc = Sở Tài chính\n",
                               cfg, &err),
                     0);
    ck_assert_uint_eq(cfg->n_bindings, 3);
    ck_assert(cfg->deadletter_misdated);
    ck_assert_uint_eq(cfg->max_entry_bytes, 64 << 10);
    ck_assert_str_eq(collector_agent_agency(cfg, "gw-soyte"), "Sở Y tế");
    ck_assert_str_eq(collector_agent_agency(cfg, "gw-soyte-eth1"), "Sở Y tế");
    ck_assert_str_eq(collector_agent_agency(cfg, "gw-soyte-dmz"), "Sở Y tế (DMZ)");
    ck_assert_ptr_null(collector_agent_agency(cfg, "gw-soyteX"));
    ck_assert_ptr_null(collector_agent_agency(cfg, "gw-sotp"));
    ck_assert_int_eq(load_text("[agents]\ngw 1 = x\n", cfg, &err), -1);
    ck_assert_msg(strstr(err.msg, ":2:") != NULL, "%s", err.msg);
    ck_assert_int_eq(load_text("[agents]\ngw1 = a|b\n", cfg, &err), -1);
    ck_assert_int_eq(load_text("[collector]\nmisdated = maybe\n", cfg, &err), -1);
    ck_assert_msg(strstr(err.msg, ":2:") != NULL, "%s", err.msg);
    free(cfg);
}
END_TEST

static const char *event_text(const char *id, const char *agency, const char *ts)
{
    static char buf[1024];
    snprintf(buf, sizeof(buf),
             "{\"timestamp\":\"%s\",\"event_type\":\"alert\",\"src_ip\":\"203.0.113.5\","
             "\"canh\":{\"v\":1,\"id\":\"%s\",\"agent\":\"gw-soyte\",\"agency\":\"%s\","
             "\"kind\":\"portscan\",\"state\":\"new\",\"taxonomy\":{\"code\":\"attack.other\"},"
             "\"severity\":\"medium\",\"class\":\"normal\"}}",
             ts, id, agency);
    return buf;
}

/* What one agent's word may claim: its own ids, its bound agency, times
 * near the stream entry's. */
START_TEST(test_ingest_vets_what_an_agent_claims)
{
    struct in_event ev;
    char reason[256];
    uint64_t clamped = 0;
    /* 2026-12-01T00:00:00Z */
    struct ingest_policy pol = {.bound_agency = "Sở Y tế",
                                .bindings = true,
                                .entry_ms = 1796083200000ull,
                                .max_ahead_us = 300ull * 1000000,
                                .max_age_us = 86400ull * 1000000,
                                .deadletter_misdated = true,
                                .clamped = &clamped};
    const char *now = "2026-12-01T00:00:00Z";
    const struct {
        const char *id, *agency, *ts, *why; /* why NULL: accepted */
    } cases[] = {
        {"gw-soyte:ab:000001", "Sở Y tế", now, NULL},
        {"gw-soyte:ab:000001", "", now, NULL},
        {"gw-sotc:ab:000001", "Sở Y tế", now, "is not one of agent gw-soyte's"},
        {"gw-soyte-eth1:ab:1", "Sở Y tế", now, "is not one of agent gw-soyte's"},
        {"gw-soyte:ab:000002", "Sở Tài chính", now, "is not agent gw-soyte's agency"},
        {"gw-soyte:ab:000003", "Sở Y tế", "9999-12-31T23:59:59Z", "max_clock_ahead"},
        {"gw-soyte:ab:000004", "Sở Y tế", "1970-01-01T00:00:01Z", "max_event_age"},
        {"gw-soyte:ab:000005", "Sở Y tế", "2026-12-01T00:04:00Z", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *text = event_text(cases[i].id, cases[i].agency, cases[i].ts);
        ck_assert_int_eq(
            ingest_parse_event("gw-soyte", text, strlen(text), &ev, reason, sizeof(reason)), 0);
        int rc = ingest_vet_event(&pol, "gw-soyte", &ev, reason, sizeof(reason));
        if (cases[i].why) {
            ck_assert_msg(rc == -1 && strstr(reason, cases[i].why), "case %zu: %d %s", i, rc,
                          reason);
        } else {
            ck_assert_msg(rc == 0, "case %zu: %s", i, reason);
            ck_assert_str_eq(ev.agency, "Sở Y tế");
        }
        ingest_event_free(&ev);
    }
    /* clamp (the default): the 1970 event counts at the entry's time */
    pol.deadletter_misdated = false;
    const char *text = event_text("gw-soyte:ab:000006", "Sở Y tế", "1970-01-01T00:00:01Z");
    ck_assert_int_eq(
        ingest_parse_event("gw-soyte", text, strlen(text), &ev, reason, sizeof(reason)), 0);
    ck_assert_int_eq(ingest_vet_event(&pol, "gw-soyte", &ev, reason, sizeof(reason)), 1);
    ck_assert_uint_eq(ev.ts_us, pol.entry_ms * 1000);
    ck_assert_uint_eq(ev.first_seen_us, pol.entry_ms * 1000);
    ck_assert_uint_eq(clamped, 1);
    ingest_event_free(&ev);
    /* no [agents] at all: the agent's own agency is believed (legacy) */
    pol = (struct ingest_policy){0};
    text = event_text("gw-soyte:ab:000007", "Sở Tài chính", now);
    ck_assert_int_eq(
        ingest_parse_event("gw-soyte", text, strlen(text), &ev, reason, sizeof(reason)), 0);
    ck_assert_int_eq(ingest_vet_event(&pol, "gw-soyte", &ev, reason, sizeof(reason)), 0);
    ck_assert_str_eq(ev.agency, "Sở Tài chính");
    ingest_event_free(&ev);
    /* [agents] without this agent: refused */
    pol.bindings = true;
    ck_assert_int_eq(
        ingest_parse_event("gw-soyte", text, strlen(text), &ev, reason, sizeof(reason)), 0);
    ck_assert_int_eq(ingest_vet_event(&pol, "gw-soyte", &ev, reason, sizeof(reason)), -1);
    ck_assert_ptr_nonnull(strstr(reason, "is not bound to an agency"));
    ingest_event_free(&ev);
}
END_TEST

START_TEST(test_config_values)
{
    struct collector_config *cfg = malloc(sizeof(*cfg));
    struct cfg_err err;
    ck_assert_int_eq(load_text("[collector]\nredis_url = unix:/run/redis.sock\nagents = gw1, gw2\n"
                               "claim_idle = 90s\n[incidents]\nwindow = 10m\n"
                               "[correlation]\ncombined_min_kinds = 3\nsilent_after = 5m\n"
                               "[syslog]\nhost = 10.0.0.1\nproto = tcp\nrate = 30/m\nburst = 5\n"
                               "class = serious_candidate\n[report]\ndir = /tmp\ndeadline = 3d\n",
                               cfg, &err),
                     0);
    ck_assert_uint_eq(cfg->n_agents, 2);
    ck_assert_str_eq(cfg->agents[1], "gw2");
    ck_assert_uint_eq(cfg->claim_idle_us, 90000000ull);
    ck_assert_uint_eq(cfg->incident_window_us, 600000000ull);
    ck_assert_uint_eq(cfg->combined_min_kinds, 3);
    /* [syslog] and [report] are the routes of those names. */
    const struct route *syslog = collector_route(cfg, "syslog");
    ck_assert_ptr_nonnull(syslog);
    ck_assert(syslog->sink == SINK_SYSLOG && syslog->tcp);
    ck_assert_uint_eq(syslog->classes, 1u << ROUTE_CLASS_SERIOUS);
    ck_assert_double_eq_tol(syslog->rate_per_s, 0.5, 1e-9);
    ck_assert(collector_sink_enabled(cfg, SINK_REPORT));
    ck_assert(!collector_sink_enabled(cfg, SINK_WEBHOOK));
    ck_assert_uint_eq(cfg->n_routes, 2);
    ck_assert_uint_eq(cfg->report_deadline_us, 3ull * 86400 * 1000000);
    free(cfg);
}
END_TEST

START_TEST(test_config_errors_name_the_line)
{
    struct collector_config *cfg = malloc(sizeof(*cfg));
    struct cfg_err err;
    char want[160];
    ck_assert_int_eq(load_text("[collector]\nbatch = 10\nblock = soon\n", cfg, &err), -1);
    snprintf(want, sizeof(want), "%s:3: block: 'soon' is not a duration", conf_path);
    ck_assert_ptr_nonnull(strstr(err.msg, want));
    ck_assert_int_eq(load_text("[collector]\n\n[webhok]\nurl = x\n", cfg, &err), -1);
    snprintf(want, sizeof(want), "%s:3: unknown section [webhok]", conf_path);
    ck_assert_ptr_nonnull(strstr(err.msg, want));
    ck_assert_int_eq(load_text("[incidents]\nwindw = 5m\n", cfg, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, ":2: unknown key 'windw' in [incidents]"));
    ck_assert_int_eq(load_text("[webhook]\nurl = https://soc.example/hook\n", cfg, &err), -1);
    ck_assert_ptr_nonnull(
        strstr(err.msg, ":2: url: 'https://soc.example/hook' must start with http://"));
    ck_assert_int_eq(load_text("[webhook]\nurl = http://127.0.0.1:9/hook\n", cfg, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "secret_file is not"));
    ck_assert_int_eq(load_text("[syslog]\nmin_severity = severe\n", cfg, &err), -1);
    /* The SD-ID: NAME@NUMBER, RFC 5424's characters, at most 32 of them. */
    ck_assert_int_eq(load_text("[syslog]\nsd_id = canh\n", cfg, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, ":2: sd_id: 'canh' is not an RFC 5424 SD-ID"));
    ck_assert_int_eq(load_text("[syslog]\nsd_id = canh@12ab\n", cfg, &err), -1);
    ck_assert_int_eq(load_text("[syslog]\nsd_id = ca=nh@1234\n", cfg, &err), -1);
    ck_assert_int_eq(
        load_text("[syslog]\nsd_id = soc-incidents-of-the-province@123456\n", cfg, &err), -1);
    ck_assert_int_eq(load_text("[syslog]\nhost = 10.0.0.1\nsd_id = soc@99999.1\n", cfg, &err), 0);
    ck_assert_str_eq(collector_route(cfg, "syslog")->sd_id, "soc@99999.1");
    ck_assert_int_eq(load_text("[collector]\nagents = gw 1, gw/2\n", cfg, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "'gw/2'"));
    /* The same INI layer as the agent's files: a key set twice is refused. */
    ck_assert_int_eq(load_text("[syslog]\nport = 514\nport = 1514\n", cfg, &err), -1);
    ck_assert_ptr_nonnull(
        strstr(err.msg, ":3: key 'port' is set twice in [syslog] (first at line 2)"));
    free(cfg);
}
END_TEST

START_TEST(test_config_routes)
{
    struct collector_config *cfg = malloc(sizeof(*cfg));
    struct cfg_err err;
    ck_assert_int_eq(
        load_text("[agencies]\nSở Y tế = Thành phố Huế\nSở Tài chính = Huyện Phú Vang\n"
                  "[route.soyte]\nsink = webhook\nurl = http://127.0.0.1:9/a\n"
                  "secret_file = /etc/hostname\nagency = Sở Y tế | Sở Tài chính\n"
                  "taxonomy = attack.dos, attack.def\nmin_severity = low\nmax_severity = high\n"
                  "[route.mail]\nsink = email\nto = soc@example.org\nclass = serious_candidate\n"
                  "actions = escalated, confirmed\nexercise = yes\n"
                  "[route.drafts]\nsink = report\n[report]\ndir = /tmp\n",
                  cfg, &err),
        0);
    ck_assert_uint_eq(cfg->n_routes, 3);
    const struct route *r = collector_route(cfg, "soyte");
    ck_assert_str_eq(r->agencies, "Sở Y tế|Sở Tài chính");
    ck_assert_str_eq(r->taxonomy, "attack.dos,attack.def");
    ck_assert_int_eq(r->max_severity, SEV_HIGH);
    ck_assert_str_eq(collector_agency_district(cfg, "Sở Tài chính"), "Huyện Phú Vang");
    r = collector_route(cfg, "mail");
    ck_assert(r->sink == SINK_EMAIL && r->exercise);
    ck_assert_str_eq(r->sendmail, "/usr/sbin/sendmail");
    ck_assert(route_hears(r, "confirmed", STATE_CONFIRMED));
    ck_assert(!route_hears(r, "updated-7", STATE_OPEN));
    /* report drafts: serious candidates, escalated only, by default */
    r = collector_route(cfg, "drafts");
    ck_assert_uint_eq(r->classes, 1u << ROUTE_CLASS_SERIOUS);
    ck_assert(!route_hears(r, "closed", STATE_CLOSED));

    /* Mistakes name the line. */
    ck_assert_int_eq(load_text("[route.a]\nsink = syslog\nurl = http://x/\n", cfg, &err), -1);
    ck_assert_ptr_nonnull(
        strstr(err.msg, ":3: url: is a webhook key, but route a has sink = syslog"));
    ck_assert_int_eq(load_text("[route.a]\nhost = 10.0.0.1\nsink = webhook\n", cfg, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, ":3: sink: route a has host (line 2), a syslog key"));
    ck_assert_int_eq(load_text("\n[route.a]\nagency = X\n", cfg, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, ":2: [route.a] has no sink"));
    ck_assert_int_eq(load_text("[route.a]\nsink = email\ntaxonomy = attack.doss\n", cfg, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, ":3: taxonomy: 'attack.doss' is no taxonomy code"));
    ck_assert_int_eq(load_text("[route.a]\nsink = email\nclass = bad\n", cfg, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, ":3: class: 'bad' is not one of normal"));
    ck_assert_int_eq(load_text("[route.a]\nsink = email\n", cfg, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, ":1: [route.a] an email route needs to"));
    ck_assert_int_eq(load_text("[route.a b]\nsink = email\n", cfg, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, ":1: [route.a b]: a route name"));
    ck_assert_int_eq(load_text("[webhook]\nurl = http://x/\nsecret_file = /x\n"
                               "[route.webhook]\nsink = syslog\nhost = h\n",
                               cfg, &err),
                     -1);
    ck_assert_ptr_nonnull(strstr(err.msg, ":4: route webhook is defined twice (line 1)"));
    ck_assert_int_eq(load_text("[webhook]\nsink = email\n", cfg, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, ":2: sink: [webhook] is always a webhook route"));
    ck_assert_int_eq(load_text("[route.d]\nsink = report\n", cfg, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, ":2: route d writes report drafts, but [report] dir"));
    free(cfg);
}
END_TEST

START_TEST(test_route_filters)
{
    struct collector_config *cfg = malloc(sizeof(*cfg));
    struct cfg_err err;
    ck_assert_int_eq(load_text("[agencies]\nSở Y tế = Huế\nSở Tài chính = Phú Vang\n"
                               "[route.hue]\nsink = email\nto = a@b\ndistrict = Huế\n"
                               "taxonomy = attack.\nmin_severity = high\n",
                               cfg, &err),
                     0);
    const struct route *r = collector_route(cfg, "hue");
    struct incident *inc = calloc(1, sizeof(*inc));
    inc->taxonomy = taxonomy_find("attack.dos");
    inc->severity = SEV_CRITICAL;
    snprintf(inc->agency, sizeof(inc->agency), "Sở Y tế");
    ck_assert(route_takes(cfg, r, inc));
    inc->severity = SEV_MEDIUM; /* below the range */
    ck_assert(!route_takes(cfg, r, inc));
    inc->severity = SEV_HIGH;
    snprintf(inc->agency, sizeof(inc->agency), "Sở Tài chính"); /* another district */
    ck_assert(!route_takes(cfg, r, inc));
    snprintf(inc->agency, sizeof(inc->agency), "Sở Tài chính|Sở Y tế"); /* province-wide */
    ck_assert(route_takes(cfg, r, inc));
    inc->taxonomy = taxonomy_find("fault.link"); /* not an attack */
    ck_assert(!route_takes(cfg, r, inc));
    inc->type = INCIDENT_FAULT;
    ck_assert_int_eq(route_incident_class(inc), ROUTE_CLASS_SENSOR_FAULT);
    free(inc);
    free(cfg);
}
END_TEST

START_TEST(test_route_class_reads_the_confirmation)
{
    /* An operator's confirm --class decides over the collector's class;
     * the reminders are actions a route's filter names. */
    struct collector_config *cfg = malloc(sizeof(*cfg));
    struct cfg_err err;
    ck_assert_int_eq(load_text("[route.team]\nsink = email\nto = a@b\nclass = serious_candidate\n"
                               "actions = escalated, report_overdue\n",
                               cfg, &err),
                     0);
    const struct route *r = collector_route(cfg, "team");
    const char *fields[] = {"id",    "x",        "taxonomy", "attack.defacement", "severity",
                            "high",  "class",    "normal",   "confirmed_class",   "serious",
                            "state", "confirmed"};
    size_t lens[12];
    for (int i = 0; i < 12; i++)
        lens[i] = strlen(fields[i]);
    struct incident *inc = calloc(1, sizeof(*inc));
    ck_assert_int_eq(incident_from_fields(inc, fields, lens, 12), 0);
    ck_assert(!inc->serious);
    ck_assert_int_eq(route_incident_class(inc), ROUTE_CLASS_SERIOUS);
    ck_assert(route_takes(cfg, r, inc));
    inc->confirmed = CONFIRMED_NORMAL;
    inc->serious = true; /* the collector's candidate, confirmed normal */
    ck_assert(!route_takes(cfg, r, inc));
    ck_assert(route_hears(r, "report_overdue-1796263843862", STATE_CONFIRMED));
    ck_assert(!route_hears(r, "report_due_soon", STATE_CONFIRMED));
    ck_assert_int_eq(route_action_parse("report_due_soon"), ROUTE_REPORT_DUE_SOON);
    free(inc);
    free(cfg);
}
END_TEST

START_TEST(test_agency_slug)
{
    char out[64];
    slug_agency("Sở Y tế", out, sizeof(out));
    ck_assert_str_eq(out, "so-y-te");
    slug_agency("Sở Tài chính tỉnh Thừa Thiên Huế", out, sizeof(out));
    ck_assert_str_eq(out, "so-tai-chinh-tinh-thua-thien-hue");
    slug_agency("UBND huyện Đắk Glei (2)", out, sizeof(out));
    ck_assert_str_eq(out, "ubnd-huyen-dak-glei-2");
    slug_agency("  ", out, sizeof(out));
    ck_assert_str_eq(out, "-");
    slug_incident_stream("Sở Y tế", out, sizeof(out));
    ck_assert_str_eq(out, "canh:incidents:so-y-te");
}
END_TEST

START_TEST(test_archive_files)
{
    /* Monthly files by the local month; retention removes whole months. */
    char dir[64], path[128], name[64];
    ck_assert_ptr_nonnull(test_temp_dir(dir, sizeof(dir), "archive"));
    struct tm tm = {.tm_year = 2026 - 1900, .tm_mon = 10, .tm_mday = 15, .tm_hour = 12};
    tm.tm_isdst = -1;
    time_t now = mktime(&tm);
    archive_file_name(now, name, sizeof(name));
    ck_assert_str_eq(name, "incidents-2026-11.jsonl");
    const char *files[] = {"incidents-2026-11.jsonl", "incidents-2026-09.jsonl",
                           "incidents-2026-08.jsonl", "incidents-2025-12.jsonl", "notes.txt"};
    for (size_t i = 0; i < 5; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        FILE *f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fclose(f);
    }
    ck_assert_int_eq(archive_expire(dir, 0, now), 0); /* 0 keeps all */
    /* Three months: November, October, September stay. */
    ck_assert_int_eq(archive_expire(dir, 3, now), 2);
    for (size_t i = 0; i < 5; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        ck_assert_int_eq(access(path, F_OK) == 0, i < 2 || i == 4);
    }
    if (test_temp_dir_remove(dir) != 0)
        fprintf(stderr, "could not remove %s: %s\n", dir, strerror(errno));
}
END_TEST

START_TEST(test_check_listen_names_the_line)
{
    /* A port another process listens on: --check says so at listen's line
     * instead of the page failing at start. */
    int held = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    ck_assert_int_eq(bind(held, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ck_assert_int_eq(listen(held, 1), 0);
    ck_assert_int_eq(getsockname(held, (struct sockaddr *)&sin, &len), 0);
    struct collector_config *cfg = malloc(sizeof(*cfg));
    struct cfg_err err;
    char text[128], want[160];
    snprintf(text, sizeof(text), "[status]\nrefresh = 1s\nlisten = 127.0.0.1:%u\nauth = none\n",
             ntohs(sin.sin_port));
    ck_assert_int_eq(load_text(text, cfg, &err), 0);
    ck_assert_int_eq(collector_config_check_listen(cfg, &err), -1);
    snprintf(want, sizeof(want), "%s:3: listen: cannot bind 127.0.0.1:%u: ", conf_path,
             ntohs(sin.sin_port));
    ck_assert_msg(strstr(err.msg, want) == err.msg, "%s", err.msg);
    ck_assert_ptr_nonnull(strstr(err.msg, "holds it"));
    close(held);
    ck_assert_int_eq(collector_config_check_listen(cfg, &err), 0);
    /* No listen: no status page, nothing to check. */
    ck_assert_int_eq(load_text("[status]\nrefresh = 1s\n", cfg, &err), 0);
    ck_assert_int_eq(collector_config_check_listen(cfg, &err), 0);
    free(cfg);
}
END_TEST

START_TEST(test_signature_and_backoff)
{
    char sig[80];
    /* RFC 4231 test case 2. */
    webhook_signature("Jefe", "what do ya want for nothing?", 28, sig, sizeof(sig));
    ck_assert_str_eq(sig,
                     "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    struct collector_config *cfg = malloc(sizeof(*cfg));
    collector_config_defaults(cfg);
    cfg->retry_base_us = 1000000;
    cfg->retry_max_us = 8000000;
    ck_assert_uint_eq(escalate_backoff_us(cfg, 1, 0), 750000);
    ck_assert_uint_eq(escalate_backoff_us(cfg, 3, 0), 3000000);
    ck_assert_uint_le(escalate_backoff_us(cfg, 3, 0xffffffffu), 5000000);
    ck_assert_uint_eq(escalate_backoff_us(cfg, 40, 0), 6000000); /* capped */
    free(cfg);
}
END_TEST

static struct incident *sample(void)
{
    struct incident *inc = calloc(1, sizeof(*inc));
    snprintf(inc->id, sizeof(inc->id), "20261123-081614-0000abcd");
    inc->type = INCIDENT_FINDING;
    inc->taxonomy = taxonomy_find("attack.defacement");
    snprintf(inc->agency, sizeof(inc->agency), "Sở Y tế");
    snprintf(inc->asset, sizeof(inc->asset), "portal \"main\"]");
    inc->level = 3;
    inc->serious = true;
    inc->severity = SEV_CRITICAL;
    snprintf(inc->sources, sizeof(inc->sources), "203.0.113.7");
    snprintf(inc->targets, sizeof(inc->targets), "198.51.100.10");
    snprintf(inc->kinds, sizeof(inc->kinds), "defacement");
    snprintf(inc->summary, sizeof(inc->summary), "defacement: marker=hacked");
    inc->first_seen_us = 1795396574000000ull;
    inc->status = INCIDENT_ESCALATED;
    return inc;
}

START_TEST(test_syslog_format)
{
    struct incident *inc = sample();
    char msg[2048];
    size_t n = syslog_format(msg, sizeof(msg), inc, "escalated", "J1", "soc1", "canh-collector",
                             "canh@32473", 1795396574123456ull);
    ck_assert_uint_eq(n, strlen(msg));
    /* local0 (16) * 8 + crit (2) = 130 */
    ck_assert_ptr_nonnull(strstr(msg, "<130>1 2026-11-23T01:16:14.123456Z soc1 canh-collector "));
    ck_assert_ptr_nonnull(strstr(msg, " INCIDENT [canh@32473 id=\"20261123-081614-0000abcd\""));
    ck_assert_ptr_nonnull(strstr(msg, "asset=\"portal \\\"main\\\"\\]\""));
    /* The event time, apart from the header's time of sending. */
    ck_assert_ptr_nonnull(strstr(msg, " first_seen=\"2026-11-23T01:16:14.000000Z\""));
    /* A deployment's own SD-ID. */
    syslog_format(msg, sizeof(msg), inc, "escalated", "J1", "soc1", "canh-collector", "soc@99999.1",
                  1795396574123456ull);
    ck_assert_ptr_nonnull(strstr(msg, " INCIDENT [soc@99999.1 id=\""));
    ck_assert_ptr_nonnull(strstr(msg, "] \xEF\xBB\xBF"
                                      "escalated: Tấn công thay đổi giao diện - Sở Y tế"));
    n = syslog_format(msg, 64, inc, "closed", "J1", "soc1", "canh-collector", "canh@32473", 0);
    ck_assert_uint_eq(n, 63);
    ck_assert_ptr_nonnull(strstr(msg, "<134>1 "));
    free(inc);
}
END_TEST

int main(void)
{
    setenv("TZ", "Asia/Ho_Chi_Minh", 1);
    Suite *s = suite_create("collector");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_config_values);
    tcase_add_test(tc, test_agents_section_binds_agencies);
    tcase_add_test(tc, test_ingest_vets_what_an_agent_claims);
    tcase_add_test(tc, test_config_errors_name_the_line);
    tcase_add_test(tc, test_check_listen_names_the_line);
    tcase_add_test(tc, test_signature_and_backoff);
    tcase_add_test(tc, test_syslog_format);
    tcase_add_test(tc, test_config_routes);
    tcase_add_test(tc, test_route_filters);
    tcase_add_test(tc, test_route_class_reads_the_confirmation);
    tcase_add_test(tc, test_agency_slug);
    tcase_add_test(tc, test_archive_files);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
