/* test_config.c — agent.conf, assets.conf, rules, collector.conf and
 * units: good files load with the right values, every kind of mistake is
 * reported as file:line: message with the right line, and the four formats
 * read the INI grammar and the typed values the same way. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collector/config.h"
#include "common/config.h"
#include "common/log.h"
#include "common/units.h"
#include "testutil.h"

/* err must start with "<path>:<line>: " and contain the fragment. */
static void assert_error_at(const struct cfg_err *err, const char *path, int line,
                            const char *fragment)
{
    char prefix[600];
    snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
    ck_assert_msg(strncmp(err->msg, prefix, strlen(prefix)) == 0, "expected '%s...', got '%s'",
                  prefix, err->msg);
    ck_assert_msg(strstr(err->msg, fragment) != NULL, "expected '%s' in '%s'", fragment, err->msg);
}

/* The file kinds the INI layer reads, loaded from text; returns the
 * loader's result with err filled. */
enum conf_kind { AGENT_CONF, ASSETS_CONF, RULES_FILE, COLLECTOR_CONF };

static int load_kind(enum conf_kind kind, const char *path, struct cfg_err *err)
{
    int rc;
    switch (kind) {
    case AGENT_CONF: {
        struct agent_config c;
        agent_config_defaults(&c);
        rc = agent_config_load(path, &c, err);
        agent_config_free(&c);
        return rc;
    }
    case ASSETS_CONF: {
        struct assets a;
        rc = assets_load(path, &a, err);
        if (rc == 0)
            assets_free(&a);
        return rc;
    }
    case RULES_FILE: {
        struct ruleset rs = {0};
        rc = ruleset_load_file(path, &rs, err);
        double ratio;
        size_t cursor = 0;
        struct rule *r = rc == 0 ? ruleset_next(&rs, "flood", &cursor) : NULL;
        if (r)
            rc = rule_get_ratio(r, "half_open", 0.7, &ratio, err);
        ruleset_free(&rs);
        return rc;
    }
    case COLLECTOR_CONF: {
        struct collector_config *c = malloc(sizeof(*c));
        collector_config_defaults(c);
        rc = collector_config_load(path, c, err);
        free(c);
        return rc;
    }
    }
    return -1;
}

static void kind_fails(enum conf_kind kind, const char *text, int line, const char *fragment)
{
    const char *path = write_temp_file("kind.conf", text);
    struct cfg_err err;
    ck_assert_int_eq(load_kind(kind, path, &err), -1);
    assert_error_at(&err, path, line, fragment);
}

static void kind_loads(enum conf_kind kind, const char *text)
{
    const char *path = write_temp_file("kind.conf", text);
    struct cfg_err err;
    ck_assert_msg(load_kind(kind, path, &err) == 0, "%s", err.msg);
}

START_TEST(agent_conf_good)
{
    const char *path = write_temp_file("good.conf", "; a gateway\n"
                                                    "[agent]\n"
                                                    "name = gw-soyte\n"
                                                    "agency = Sở Y tế\n"
                                                    "home_net = 198.51.100.0/24, 2001:db8::/32\n"
                                                    "serious_level = 4\n"
                                                    "[capture]\n"
                                                    "interface = eth1\n"
                                                    "snaplen = 2048\n"
                                                    "link_silent = 10m\n"
                                                    "drop_alert_ratio = 2%\n"
                                                    "[output]\n"
                                                    "redis_url = redis://10.0.0.1:6379\n"
                                                    "spool_max_mb = 64\n"
                                                    "heartbeat_interval = 5s\n");
    struct agent_config c;
    struct cfg_err err;
    agent_config_defaults(&c);
    ck_assert_msg(agent_config_load(path, &c, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(c.name, "gw-soyte");
    ck_assert_str_eq(c.agency, "Sở Y tế");
    ck_assert_int_eq(c.serious_level, 4);
    ck_assert_str_eq(c.interface, "eth1");
    ck_assert_uint_eq(c.snaplen, 2048);
    ck_assert_uint_eq(c.link_silent_us, 600ull * 1000000);
    ck_assert_uint_eq(c.drop_alert_ratio_ppm, 20000);
    ck_assert_uint_eq(c.spool_max_bytes, 64ull << 20);
    ck_assert_uint_eq(c.heartbeat_interval_us, 5000000);
    ck_assert_uint_eq(c.home_net.n, 2);
    struct ipaddr a;
    addr_parse("198.51.100.77", &a);
    ck_assert(netset_contains(&c.home_net, &a));
    addr_parse("203.0.113.7", &a);
    ck_assert(!netset_contains(&c.home_net, &a));
    /* Untouched keys keep their defaults. */
    ck_assert_uint_eq(c.buffer_mb, 16);
    agent_config_free(&c);
}
END_TEST

START_TEST(agent_conf_mistakes)
{
    kind_fails(AGENT_CONF, "[agent]\nname = a\nnmae = b\n", 3, "unknown key 'nmae' in [agent]");
    kind_fails(AGENT_CONF, "[agent]\n\n[captur]\nsnaplen = 5\n", 3, "unknown section [captur]");
    kind_fails(AGENT_CONF, "[capture]\nlink_silent = soon\n", 2, "not a duration");
    kind_fails(AGENT_CONF, "[capture]\nsnaplen = -1\n", 2, "not a whole number");
    kind_fails(AGENT_CONF, "[agent]\nserious_level = 7\n", 2, "level from 1 to 5");
    kind_fails(AGENT_CONF, "[agent]\nhome_net = 10.0.0.0/33\n", 2,
               "'10.0.0.0/33' is not an address");
    kind_fails(AGENT_CONF, "[agent]\nname = gw 1\n", 2, "may only use letters");
    kind_fails(AGENT_CONF, "[agent]\nname = a\nthis line has no equals sign\n", 3, "syntax error");
    kind_fails(AGENT_CONF, "[output]\nspool_max_mb = lots\n", 2, "size in MiB");
    /* The shipped example's placeholders, whatever the key. */
    kind_fails(AGENT_CONF, "[agent]\nstate_dir = /var/lib/canh\nagency = <agency name>\n", 3,
               "agency: <agency name> is a placeholder");
    kind_fails(AGENT_CONF, "[output]\nuser = <gateway name>\n", 2, "is a placeholder");
}
END_TEST

START_TEST(agent_conf_missing_file)
{
    struct agent_config c;
    struct cfg_err err;
    agent_config_defaults(&c);
    ck_assert_int_eq(agent_config_load("/nonexistent/agent.conf", &c, &err), -1);
    ck_assert_msg(strstr(err.msg, "/nonexistent/agent.conf: cannot open") == err.msg, "%s",
                  err.msg);
}
END_TEST

START_TEST(directory_is_not_a_file)
{
    /* A directory opens and reads as an empty file: every format must
     * refuse it rather than run on defaults. */
    char dir[64];
    ck_assert_ptr_nonnull(test_temp_dir(dir, sizeof(dir), "test-dir"));
    char expected[600];
    snprintf(expected, sizeof(expected), "%s: is a directory", dir);
    for (int kind = AGENT_CONF; kind <= COLLECTOR_CONF; kind++) {
        struct cfg_err err;
        ck_assert_int_eq(load_kind((enum conf_kind)kind, dir, &err), -1);
        ck_assert_msg(strstr(err.msg, expected) == err.msg, "expected '%s', got '%s'", expected,
                      err.msg);
    }
    if (test_temp_dir_remove(dir) != 0)
        fprintf(stderr, "could not remove %s: %s\n", dir, strerror(errno));
}
END_TEST

/* canh-agent@IFACE: agent-IFACE.conf over agent.conf; name and state_dir
 * derived per instance unless that file sets them. */
START_TEST(agent_conf_instance)
{
    const char *path =
        write_temp_file("agent.conf", "[agent]\nname = gw\nstate_dir = /var/lib/canh\n"
                                      "[capture]\nsnaplen = 2048\n");
    write_temp_file("agent-eth2.conf", "[agent]\nname = gw-dmz\n[capture]\nsnaplen = 1500\n");
    struct agent_config c;
    struct cfg_err err;
    agent_config_defaults(&c);
    ck_assert_msg(agent_config_load(path, &c, &err) == 0, "%s", err.msg);
    ck_assert_msg(agent_config_instance(&c, "eth1", &err) == 0, "%s", err.msg);
    ck_assert_str_eq(c.name, "gw-eth1");
    ck_assert_str_eq(c.state_dir, "/var/lib/canh/eth1");
    ck_assert_str_eq(c.interface, "eth1");
    ck_assert_str_eq(c.instance_path, "");
    ck_assert_uint_eq(c.snaplen, 2048);
    agent_config_free(&c);

    agent_config_defaults(&c);
    ck_assert_msg(agent_config_load(path, &c, &err) == 0, "%s", err.msg);
    ck_assert_msg(agent_config_instance(&c, "eth2", &err) == 0, "%s", err.msg);
    ck_assert_str_eq(c.name, "gw-dmz");
    ck_assert_str_eq(c.state_dir, "/var/lib/canh/eth2");
    ck_assert_uint_eq(c.snaplen, 1500);
    ck_assert_ptr_nonnull(strstr(c.instance_path, "/agent-eth2.conf"));
    agent_config_free(&c);

    write_temp_file("agent-eth3.conf", "[capture]\nsnaplen = x\n");
    agent_config_defaults(&c);
    ck_assert_msg(agent_config_load(path, &c, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(agent_config_instance(&c, "eth3", &err), -1);
    ck_assert_msg(strstr(err.msg, "agent-eth3.conf:2: ") != NULL, "%s", err.msg);
    agent_config_free(&c);
    ck_assert_int_eq(agent_config_instance(&c, "../x", &err), -1);
}
END_TEST

START_TEST(assets_good_and_lookup)
{
    struct assets a;
    struct cfg_err err;
    ck_assert_msg(assets_load(fixture_path("assets.conf"), &a, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(a.n, 2);
    struct ipaddr ip;
    addr_parse("198.51.100.10", &ip);
    const struct asset *portal = assets_lookup(&a, &ip);
    ck_assert_ptr_nonnull(portal);
    /* The /32 wins over the /24 that also contains it. */
    ck_assert_str_eq(portal->name, "portal");
    ck_assert_int_eq(portal->level, 4);
    ck_assert_uint_eq(portal->n_web_ports, 2);
    ck_assert_uint_eq(portal->web_ports[1], 8080);
    ck_assert_uint_eq(portal->n_monitor, 1);
    ck_assert_str_eq(portal->monitor[0].path, "/index.html");
    ck_assert_uint_eq(portal->capacity_mbps, 100);
    addr_parse("198.51.100.20", &ip);
    ck_assert_str_eq(assets_lookup(&a, &ip)->name, "agency-lan");
    addr_parse("2001:db8:1::10", &ip);
    ck_assert_str_eq(assets_lookup(&a, &ip)->name, "portal");
    addr_parse("203.0.113.7", &ip);
    ck_assert_ptr_null(assets_lookup(&a, &ip));
    assets_free(&a);
}
END_TEST

START_TEST(assets_mistakes)
{
    kind_fails(ASSETS_CONF, "[web]\naddress = 198.51.100.10\nlevel = 6\n", 3, "level from 1 to 5");
    kind_fails(ASSETS_CONF, "[web]\naddress = 198.51.100.10\nnational_critical = maybe\n", 3,
               "not yes or no");
    kind_fails(ASSETS_CONF, "[web]\naddress = 198.51.100.300\n", 2,
               "'198.51.100.300' is not an address");
    kind_fails(ASSETS_CONF, "[web]\naddress = 198.51.100.10\nweb_ports = 80, http\n", 3,
               "web_ports");
    kind_fails(ASSETS_CONF, "[web]\naddress = 198.51.100.10\nmonitor = index.html\n", 3,
               "starting with /");
    kind_fails(ASSETS_CONF, "[web]\naddress = 198.51.100.10\nmonitor = /a sha256:12\n", 3,
               "sha256");
    kind_fails(ASSETS_CONF, "[web]\nname = portal\n", 1, "has no address");
    kind_fails(ASSETS_CONF, "[web]\naddress = 198.51.100.10\nowner = x\ncolour = red\n", 4,
               "unknown key 'colour'");
}
END_TEST

/* The check_* keys of active page checks (agent/check/). */
START_TEST(assets_checks)
{
    const char *ca = write_temp_file("check-ca.pem", "not read at load, only opened\n");
    char text[2048];
    snprintf(text, sizeof(text),
             "[portal]\naddress = 198.51.100.10\n"
             "check = https://portal.example.gov.vn/, http://198.51.100.10:8080/news?id=1,\n"
             "  https://[2001:db8::10]/\n"
             "check_interval = 30s\ncheck_ca_file = %s\n"
             "check_expect_addresses = 198.51.100.10, 2001:db8::/64\n"
             "check_mask = [0-9]{4}-[0-9]{2}-[0-9]{2}, csrf=[a-z0-9]+, a\\,b\n"
             "check_baseline = learn, "
             "sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff, learn\n"
             "[lan]\naddress = 198.51.100.0/24\n",
             ca);
    const char *path = write_temp_file("checks.conf", text);
    struct assets a;
    struct cfg_err err;
    ck_assert_msg(assets_load(path, &a, &err) == 0, "%s", err.msg);
    const struct asset_check *c = a.v[0].check;
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_null(a.v[1].check);
    ck_assert_uint_eq(c->n_url, 3);
    ck_assert_str_eq(c->url[1], "http://198.51.100.10:8080/news?id=1");
    ck_assert_str_eq(c->url[2], "https://[2001:db8::10]/");
    ck_assert_uint_eq(c->interval_us, 30000000u);
    ck_assert_str_eq(c->ca_file, ca);
    ck_assert_uint_eq(c->expect.n, 2);
    ck_assert_uint_eq(c->n_mask, 3);
    ck_assert_str_eq(c->mask[2], "a,b");
    ck_assert(!c->has_baseline[0] && c->has_baseline[1] && !c->has_baseline[2]);
    ck_assert_uint_eq(c->baseline[1][1], 0x11);
    assets_free(&a);

    /* The default interval is a minute. */
    path = write_temp_file("checks.conf", "[w]\naddress = 10.0.0.1\ncheck = http://w.example/\n");
    ck_assert_msg(assets_load(path, &a, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(a.v[0].check->interval_us, 60000000u);
    assets_free(&a);

    const char *head = "[web]\naddress = 198.51.100.10\n";
    char t[1024];
#define CHECK_FAILS(body, line, fragment)                                                          \
    do {                                                                                           \
        snprintf(t, sizeof(t), "%s%s", head, body);                                                \
        kind_fails(ASSETS_CONF, t, line, fragment);                                                \
    } while (0)
    CHECK_FAILS("check = ftp://w.example/\n", 3, "not an http:// or https:// URL");
    CHECK_FAILS("check = https://\n", 3, "has no host");
    CHECK_FAILS("check = https://w.example:99999/\n", 3, "port");
    CHECK_FAILS("check = https://bad_host!/\n", 3, "not a name or an address");
    CHECK_FAILS("check = https://u:p@w.example/\n", 3, "user name");
    CHECK_FAILS("check = https://w.example/\ncheck_interval = 0s\n", 4, "check_interval");
    CHECK_FAILS("check = https://w.example/\ncheck_interval = 2d\n", 4, "at most 1d");
    CHECK_FAILS("check = https://w.example/\ncheck_ca_file = /nonexistent/ca.pem\n", 4,
                "cannot read /nonexistent/ca.pem");
    CHECK_FAILS("check = https://w.example/\ncheck_expect_addresses = 10.0.0.300\n", 4,
                "not an address");
    CHECK_FAILS("check = https://w.example/\ncheck_mask = ([0-9]\n", 4, "not a regular expression");
    CHECK_FAILS("check = https://w.example/\ncheck_baseline = sha256:1234\n", 4, "sha256");
    CHECK_FAILS("check = https://a.example/, https://b.example/\ncheck_baseline = learn\n", 4,
                "1 digests for 2 URLs");
    CHECK_FAILS("check_interval = 10s\n", 3, "no 'check = URL'");
    CHECK_FAILS("check = https://w.example/\ncheck_colour = red\n", 4,
                "unknown key 'check_colour'");
#undef CHECK_FAILS
}
END_TEST

START_TEST(rules_good_and_getters)
{
    const char *path = write_temp_file("t.rules", "[fast_scan]\n"
                                                  "detector = portscan\n"
                                                  "taxonomy = attack.other\n"
                                                  "severity = high\n"
                                                  "allow = 10.0.0.5, 192.0.2.0/24\n"
                                                  "window = 60s\n"
                                                  "rate = 30/m\n"
                                                  "ports = 100\n"
                                                  "half_open = 80%\n"
                                                  "hold_down = 2m\n");
    struct ruleset rs = {0};
    struct cfg_err err;
    ck_assert_msg(ruleset_load_file(path, &rs, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(rs.n, 1);
    struct rule *r = ruleset_find(&rs, "portscan", "fast_scan");
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(r->taxonomy->code, "attack.other");
    ck_assert_str_eq(r->taxonomy->vi, "Các hình thức tấn công mạng khác");
    ck_assert_int_eq(r->severity, SEV_HIGH);
    ck_assert_uint_eq(r->allow.n, 2);
    ck_assert_uint_eq(r->hold_down_us, 120ull * 1000000);
    ck_assert(strstr(r->ref, "t.rules:fast_scan") != NULL);
    uint64_t window, ports;
    double rate, ratio;
    ck_assert_int_eq(rule_get_duration(r, "window", 0, &window, &err), 0);
    ck_assert_uint_eq(window, 60000000);
    ck_assert_int_eq(rule_get_rate(r, "rate", 0, &rate, &err), 0);
    ck_assert_double_eq_tol(rate, 0.5, 1e-9);
    ck_assert_int_eq(rule_get_count(r, "ports", 10, 1, 65535, &ports, &err), 0);
    ck_assert_uint_eq(ports, 100);
    ck_assert_int_eq(rule_get_ratio(r, "half_open", 0, &ratio, &err), 0);
    ck_assert_double_eq_tol(ratio, 0.8, 1e-9);
    /* A key no detector asked for is reported where it was written. */
    ck_assert_int_eq(ruleset_check_unused(&rs, &err), 0);
    ck_assert_uint_eq(ports, 100);
    ruleset_free(&rs);
}
END_TEST

START_TEST(rules_mistakes)
{
    struct ruleset rs = {0};
    struct cfg_err err;
    const char *p;

    p = write_temp_file("a.rules", "[x]\ndetector = portscan\ntaxonomy = attack.scan\n");
    ck_assert_int_eq(ruleset_load_file(p, &rs, &err), -1);
    assert_error_at(&err, p, 3, "unknown code 'attack.scan'");
    ruleset_free(&rs);

    p = write_temp_file("b.rules", "[x]\ntaxonomy = attack.other\nwindow = 5s\n");
    ck_assert_int_eq(ruleset_load_file(p, &rs, &err), -1);
    assert_error_at(&err, p, 1, "has no 'detector ='");
    ruleset_free(&rs);

    p = write_temp_file(
        "c.rules", "[x]\ndetector = portscan\ntaxonomy = attack.other\nports = 5\nports = 6\n");
    ck_assert_int_eq(ruleset_load_file(p, &rs, &err), -1);
    assert_error_at(&err, p, 5, "set twice");
    ruleset_free(&rs);

    p = write_temp_file("d.rules", "[x]\ndetector = portscan\ntaxonomy = attack.other\n"
                                   "severity = urgent\n");
    ck_assert_int_eq(ruleset_load_file(p, &rs, &err), -1);
    assert_error_at(&err, p, 4, "severity");
    ruleset_free(&rs);

    p = write_temp_file("e.rules", "[x]\ndetector = portscan\ntaxonomy = attack.other\n\n"
                                   "windw = 5s\nwindow = fast\n");
    ck_assert_int_eq(ruleset_load_file(p, &rs, &err), 0);
    uint64_t v;
    struct rule *r = ruleset_find(&rs, "portscan", "x");
    ck_assert_int_eq(rule_get_duration(r, "window", 1, &v, &err), -1);
    assert_error_at(&err, p, 6, "'fast' is not a duration");
    ck_assert_int_eq(ruleset_check_unused(&rs, &err), -1);
    assert_error_at(&err, p, 5, "unknown key 'windw'");
    const char *known[] = {"sweep"};
    ck_assert_int_eq(ruleset_check_detectors(&rs, known, 1, &err), -1);
    assert_error_at(&err, p, 2, "unknown detector 'portscan'");
    ruleset_free(&rs);

    p = write_temp_file("f.rules", "[x]\ndetector = portscan\ntaxonomy = attack.other\n"
                                   "[x]\ndetector = sweep\n");
    ck_assert_int_eq(ruleset_load_file(p, &rs, &err), -1);
    ck_assert_msg(strstr(err.msg, "already defined") != NULL, "%s", err.msg);
    ruleset_free(&rs);
}
END_TEST

START_TEST(shipped_rules_load)
{
    struct ruleset rs = {0};
    struct cfg_err err;
    ck_assert_msg(ruleset_load_dir(SOURCE_DIR "/rules", &rs, &err) == 0, "%s", err.msg);
    ck_assert_uint_gt(rs.n, 0);
    ck_assert_uint_eq(strlen(rs.version), 16);
    ruleset_free(&rs);
}
END_TEST

START_TEST(rules_local_overlay)
{
    struct ruleset rs = {0};
    struct cfg_err err;
    const char *shipped = write_temp_file("shipped.rules", "[scan]\ndetector = portscan\n"
                                                           "taxonomy = attack.other\nports = 30\n");
    ck_assert_msg(ruleset_load_file(shipped, &rs, &err) == 0, "%s", err.msg);
    char version[17];
    memcpy(version, rs.version, sizeof(version));
    /* A local directory overrides [scan] and adds [extra]. */
    char dir[64];
    ck_assert_ptr_nonnull(test_temp_dir(dir, sizeof(dir), "rulesd"));
    char path[300];
    snprintf(path, sizeof(path), "%s/local.rules", dir);
    FILE *fp = fopen(path, "w");
    fputs("[scan]\ndetector = portscan\ntaxonomy = attack.other\nports = 500\n"
          "[extra]\ndetector = sweep\ntaxonomy = attack.other\n",
          fp);
    fclose(fp);
    ck_assert_msg(ruleset_overlay_dir(dir, &rs, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(rs.n, 2);
    uint64_t ports;
    struct rule *r = ruleset_find(&rs, "portscan", "scan");
    ck_assert_int_eq(rule_get_count(r, "ports", 0, 0, 65535, &ports, &err), 0);
    ck_assert_uint_eq(ports, 500);
    ck_assert_str_eq(r->file, path);
    ck_assert_ptr_nonnull(ruleset_find(&rs, "sweep", "extra"));
    ck_assert_str_ne(rs.version, version);
    /* No local directory: nothing changes, no error. */
    ck_assert_int_eq(ruleset_overlay_dir("/nonexistent/rules.d", &rs, &err), 0);
    ck_assert_uint_eq(rs.n, 2);
    if (test_temp_dir_remove(dir) != 0)
        fprintf(stderr, "could not remove %s: %s\n", dir, strerror(errno));
    ruleset_free(&rs);
}
END_TEST

START_TEST(units_parse)
{
    uint64_t us, bytes;
    double rate;
    ck_assert_int_eq(units_parse_duration_us("500ms", &us), 0);
    ck_assert_uint_eq(us, 500000);
    ck_assert_int_eq(units_parse_duration_us("1h", &us), 0);
    ck_assert_uint_eq(us, 3600ull * 1000000);
    ck_assert_int_eq(units_parse_duration_us("90", &us), 0);
    ck_assert_uint_eq(us, 90000000);
    ck_assert_int_eq(units_parse_duration_us("5 parsecs", &us), -1);
    ck_assert_int_eq(units_parse_duration_us("-5s", &us), -1);
    ck_assert_int_eq(units_parse_rate_per_s("200/s", &rate), 0);
    ck_assert_double_eq_tol(rate, 200, 1e-9);
    ck_assert_int_eq(units_parse_rate_per_s("60/m", &rate), 0);
    ck_assert_double_eq_tol(rate, 1, 1e-9);
    ck_assert_int_eq(units_parse_rate_per_s("3/fortnight", &rate), -1);
    ck_assert_int_eq(units_parse_size_bytes("64KiB", &bytes), 0);
    ck_assert_uint_eq(bytes, 65536);
    ck_assert_int_eq(units_parse_size_bytes("2g", &bytes), 0);
    ck_assert_uint_eq(bytes, 2ull << 30);
    char buf[48];
    units_format_time(1763885774123456ull, buf, sizeof(buf));
    ck_assert_msg(strstr(buf, ".123456") != NULL && strlen(buf) == 31, "%s", buf);
}
END_TEST

/* What units_format_time printed before it kept the minute. */
static void format_time_reference(uint64_t ts_us, char *buf, size_t len)
{
    time_t secs = (time_t)(ts_us / 1000000);
    struct tm tm;
    char date[32], zone[8];
    localtime_r(&secs, &tm);
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    strftime(zone, sizeof(zone), "%z", &tm);
    snprintf(buf, len, "%s.%06u%s", date, (unsigned)(ts_us % 1000000), zone);
}

/* The kept minute never shows: seconds on, back, across minutes and
 * across a DST change, in zones of whole hours, half hours and an
 * offset with seconds (which is not kept). */
START_TEST(format_time_as_strftime_in_every_zone)
{
    static const char *zones[] = {"UTC0", "<+07>-7", "<+0530>-5:30", "CET-1CEST,M3.5.0,M10.5.0/3",
                                  "<+070640>-7:06:40"};
    char *old = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
    /* 2026-03-29 00:59:00 UTC: CET becomes CEST at 01:00 UTC */
    uint64_t base = 1774745940ull * 1000000ull;
    unsigned seed = 3;
    for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
        setenv("TZ", zones[z], 1);
        tzset();
        uint64_t t = base + z * 3600ull * 1000000ull * 24; /* a minute not kept yet */
        for (int i = 0; i < 3000; i++) {
            char got[48], want[48];
            int step = rand_r(&seed) % 8;
            if (step == 0)
                t -= (uint64_t)(rand_r(&seed) % 90) * 1000000ull; /* back */
            else if (step < 6)
                t += (uint64_t)(rand_r(&seed) % 1500000); /* within a second or two */
            else
                t += (uint64_t)(rand_r(&seed) % 70) * 1000000ull + 7;
            if (i == 1500)
                t = base + 30ull * 1000000ull; /* 30 s before CET becomes CEST */
            units_format_time(t, got, sizeof(got));
            format_time_reference(t, want, sizeof(want));
            ck_assert_msg(strcmp(got, want) == 0, "TZ=%s, %llu: %s, want %s", zones[z],
                          (unsigned long long)t, got, want);
        }
        /* a short buffer is cut as before */
        char small[12], want[12];
        units_format_time(t, small, sizeof(small));
        format_time_reference(t, want, sizeof(want));
        ck_assert_str_eq(small, want);
    }
    if (old)
        setenv("TZ", old, 1);
    else
        unsetenv("TZ");
    tzset();
    free(old);
}
END_TEST

START_TEST(taxonomy_table)
{
    size_t n;
    const struct taxonomy *all = taxonomy_all(&n);
    ck_assert_uint_eq(n, 21);
    ck_assert_str_eq(taxonomy_find("attack.defacement")->vi, "Tấn công thay đổi giao diện");
    ck_assert_str_eq(taxonomy_find("attack.dos")->en, "Denial of service");
    ck_assert_str_eq(taxonomy_find("fault.link")->vi, "Sự cố đường kết nối Internet");
    ck_assert_ptr_null(taxonomy_find("attack.everything"));
    for (size_t i = 0; i < n; i++)
        ck_assert_ptr_eq(taxonomy_find(all[i].code), &all[i]);
}
END_TEST

START_TEST(cidr_forms)
{
    struct cidr c;
    struct ipaddr a;
    char buf[64];
    ck_assert_int_eq(cidr_parse("198.51.100.77/24", &c), 0);
    ck_assert_str_eq(cidr_format(&c, buf, sizeof(buf)), "198.51.100.0/24");
    addr_parse("198.51.100.255", &a);
    ck_assert(cidr_contains(&c, &a));
    addr_parse("198.51.101.0", &a);
    ck_assert(!cidr_contains(&c, &a));
    ck_assert_int_eq(cidr_parse("2001:db8::/29", &c), 0);
    addr_parse("2001:dbf::1", &a);
    ck_assert(cidr_contains(&c, &a));
    addr_parse("2001:dc0::1", &a);
    ck_assert(!cidr_contains(&c, &a));
    ck_assert_int_eq(cidr_parse("1.2.3.4/", &c), -1);
    ck_assert_int_eq(cidr_parse("::1/129", &c), -1);
    ck_assert_int_eq(cidr_parse("example.org", &c), -1);
}
END_TEST

START_TEST(prefix_index_longest_wins)
{
    struct netset ns;
    char bad[64];
    ck_assert_int_eq(netset_parse("10.0.0.0/8, 10.1.0.0/16, 10.1.2.3, 2001:db8::/32, 10.1.0.0/16",
                                  &ns, bad, sizeof(bad)),
                     0);
    struct ipaddr a;
    addr_parse("10.1.2.3", &a);
    ck_assert_int_eq(prefix_index_lookup(&ns.index, &a), 2);
    addr_parse("10.1.9.9", &a);
    ck_assert_int_eq(prefix_index_lookup(&ns.index, &a), 1);
    addr_parse("10.200.0.1", &a);
    ck_assert_int_eq(prefix_index_lookup(&ns.index, &a), 0);
    addr_parse("11.0.0.1", &a);
    ck_assert_int_eq(prefix_index_lookup(&ns.index, &a), -1);
    ck_assert(!netset_contains(&ns, &a));
    addr_parse("2001:db8:ffff::1", &a);
    ck_assert_int_eq(prefix_index_lookup(&ns.index, &a), 3);
    /* An IPv4 /8 never matches an IPv6 address with the same leading bits. */
    addr_parse("a00::1", &a);
    ck_assert(!netset_contains(&ns, &a));
    /* Answers are cached; a prefix added later still wins over the cache. */
    addr_parse("10.1.9.9", &a);
    ck_assert_int_eq(prefix_index_lookup(&ns.index, &a), 1);
    ck_assert_int_eq(prefix_index_lookup(&ns.index, &a), 1);
    struct cidr more;
    ck_assert_int_eq(cidr_parse("10.1.9.0/24", &more), 0);
    prefix_index_add(&ns.index, &more, 7);
    ck_assert_int_eq(prefix_index_lookup(&ns.index, &a), 7);
    netset_free(&ns);
}
END_TEST

/* The index answers as a scan of its prefixes would: the longest one that
 * contains the address, the first added among equal ones.  Addresses are
 * drawn near the prefixes and at random, v4 and v6, each asked twice (the
 * second answer comes from the cache) and again after other addresses. */
static int32_t longest_by_scan(const struct netset *ns, const struct ipaddr *a)
{
    int32_t best = -1;
    for (size_t i = 0; i < ns->n; i++)
        if (cidr_contains(&ns->v[i], a) && (best < 0 || ns->v[i].bits > ns->v[best].bits))
            best = (int32_t)i;
    return best;
}

START_TEST(prefix_index_matches_scan)
{
    struct netset ns;
    char bad[64];
    ck_assert_int_eq(netset_parse("10.0.0.0/8, 10.1.0.0/16, 10.1.2.3, 198.51.100.0/24, "
                                  "198.51.100.10/32, 203.0.113.128/25, 0.0.0.0/1, "
                                  "2001:db8::/32, 2001:db8:1::10, ::/80, "
                                  "fe80::/10",
                                  &ns, bad, sizeof(bad)),
                     0);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    struct ipaddr seen[64] = {0};
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        struct ipaddr a;
        if (i % 3 == 2) {
            a = seen[x % 64]; /* asked before, maybe still cached */
        } else {
            const struct cidr *near = &ns.v[x % ns.n];
            a = near->net;
            /* keep a random number of the prefix's bits, change the rest */
            for (int b = 15; b >= 0 && (x >> 8) % 4 != 0; b--)
                a.b[b] ^= (uint8_t)(x >> (b % 8 * 8));
            if (x % 5 == 0)
                memcpy(a.b, &x, 8); /* v6 or v4 prefix lost */
        }
        seen[i % 64] = a;
        int32_t want = longest_by_scan(&ns, &a);
        ck_assert_int_eq(prefix_index_lookup(&ns.index, &a), want);
        ck_assert_int_eq(prefix_index_lookup(&ns.index, &a), want);
        ck_assert(netset_contains(&ns, &a) == (want >= 0));
    }
    netset_free(&ns);
}
END_TEST

/* addr_is_v4 compares words: the same answer as the 12-byte prefix. */
START_TEST(addr_is_v4_is_the_mapped_prefix)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    struct ipaddr a;
    addr_parse("192.0.2.1", &a);
    ck_assert(addr_is_v4(&a));
    for (int i = 0; i < 12; i++)
        for (int bit = 0; bit < 8; bit++) {
            struct ipaddr b = a;
            b.b[i] ^= (uint8_t)(1u << bit);
            ck_assert(!addr_is_v4(&b));
            ck_assert(memcmp(b.b, mapped, 12) != 0);
        }
    addr_parse("::ffff:0:1", &a); /* ::ffff:0.0.0.1 */
    ck_assert(addr_is_v4(&a));
    addr_parse("::1", &a);
    ck_assert(!addr_is_v4(&a));
}
END_TEST

#define RULE_HEAD "[syn]\ndetector = flood\ntaxonomy = attack.dos\n"

/* Issue 11: the collector had a copy of the reader and the copies drifted.
 * The same mistake must now read the same way in every file. */
/* The set-twice check indexes the keys read (common/ini.c): with hundreds
 * of sections, every key is still told apart from the others and a repeat
 * far down the file still names the first line. */
START_TEST(set_twice_found_among_many_keys)
{
    static char text[32768];
    size_t n = 0;
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n,
                              "[h%d]\naddress = 10.0.%d.%d\nlevel = 2\n", i, i / 200, i % 200);
    kind_loads(ASSETS_CONF, text);
    /* [h299]: its header at line 898, address 899, level 900. */
    snprintf(text + n, sizeof(text) - n, "level = 3\n");
    kind_fails(ASSETS_CONF, text, 901, "key 'level' is set twice in [h299] (first at line 900)");
}
END_TEST

START_TEST(one_grammar_everywhere)
{
    /* A key set twice is an error in every format, with both lines. */
    kind_fails(AGENT_CONF, "[capture]\nsnaplen = 100\nsnaplen = 200\n", 3,
               "key 'snaplen' is set twice in [capture] (first at line 2)");
    kind_fails(AGENT_CONF,
               "[capture]\nsnaplen = 100\n[output]\nmaxlen = 5\n[capture]\nsnaplen = 9\n", 6,
               "set twice");
    kind_fails(ASSETS_CONF, "[web]\naddress = 198.51.100.10\nlevel = 2\nlevel = 3\n", 4,
               "key 'level' is set twice in [web] (first at line 3)");
    kind_fails(RULES_FILE, RULE_HEAD "severity = low\nseverity = high\n", 5,
               "key 'severity' is set twice in [syn] (first at line 4)");
    kind_fails(COLLECTOR_CONF, "[collector]\nbatch = 10\n\nbatch = 20\n", 4,
               "key 'batch' is set twice in [collector] (first at line 2)");

    /* A ratio with anything after its % is refused, and so is one above
     * 1.  Assets and collector.conf have no ratio key; their numbers
     * refuse the same text. */
    kind_fails(AGENT_CONF, "[capture]\ndrop_alert_ratio = 1%garbage\n", 2,
               "drop_alert_ratio: '1%garbage' is not a ratio");
    kind_fails(AGENT_CONF, "[capture]\ndrop_alert_ratio = 150%\n", 2, "not a ratio from 0 to 1");
    kind_fails(RULES_FILE, RULE_HEAD "half_open = 1%garbage\n", 4,
               "half_open: '1%garbage' is not a ratio");
    kind_fails(RULES_FILE, RULE_HEAD "half_open = 1.5\n", 4, "not a ratio from 0 to 1");
    kind_fails(ASSETS_CONF, "[web]\naddress = 198.51.100.10\ncapacity_mbps = 1%garbage\n", 3,
               "not a whole number");
    kind_fails(COLLECTOR_CONF, "[collector]\nbatch = 1%garbage\n", 2, "not a whole number");
    kind_loads(AGENT_CONF, "[capture]\ndrop_alert_ratio = 0.5 %\n");
    kind_loads(RULES_FILE, RULE_HEAD "half_open = 80%\n");

    /* Keys outside any section, and the same wording for unknown keys. */
    kind_fails(AGENT_CONF, "snaplen = 5\n", 1, "outside any [section]");
    kind_fails(COLLECTOR_CONF, "batch = 5\n[collector]\n", 1, "outside any [section]");
    kind_fails(RULES_FILE, "; a rule\ndetector = flood\n", 2, "outside any [section]");
    kind_fails(AGENT_CONF, "[agent]\nname = a\n[capture]\nsnaplen = 1\ncolour = red\n", 5,
               "unknown key 'colour' in [capture]");
    kind_fails(COLLECTOR_CONF, "[status]\ncolour = red\n", 2, "unknown key 'colour' in [status]");
    /* Durations and levels read the same in agent.conf and collector.conf. */
    kind_fails(AGENT_CONF, "[output]\ntimeout = soon\n", 2, "timeout: 'soon' is not a duration");
    kind_fails(COLLECTOR_CONF, "[collector]\ntimeout = soon\n", 2,
               "timeout: 'soon' is not a duration");
    kind_fails(AGENT_CONF, "[agent]\nserious_level = 6\n", 2, "not a level from 1 to 5");
    kind_fails(COLLECTOR_CONF, "[incidents]\nserious_level = 6\n", 2, "not a level from 1 to 5");
    /* A line inih would cut in two is refused, not split. */
    char long_line[1200] = "[agent]\nagency = ";
    memset(long_line + strlen(long_line), 'x', 900);
    strcat(long_line, "\n");
    kind_fails(AGENT_CONF, long_line, 2, "line longer than");
    /* One that just fits inih's buffer (199 characters) is read whole and
     * the lines after it keep their numbers. */
    char fits[300] = "[capture]\nfilter = ";
    memset(fits + strlen(fits), 'x', 199 - strlen("filter = "));
    strcat(fits, "\nsnaplen = many\n");
    kind_fails(AGENT_CONF, fits, 3, "snaplen: 'many' is not a whole number");
}
END_TEST

/* An indented line continues the value in every format: list keys read
 * the parts as one list. */
START_TEST(continuation_lines_join)
{
    const char *path = write_temp_file("cont.conf", "[agent]\nhome_net = 10.0.0.0/8,\n"
                                                    "  192.0.2.0/24\n"
                                                    "serious_level = 4\n");
    struct agent_config c;
    struct cfg_err err;
    agent_config_defaults(&c);
    ck_assert_msg(agent_config_load(path, &c, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(c.home_net.n, 2);
    ck_assert_int_eq(c.serious_level, 4);
    agent_config_free(&c);

    path = write_temp_file("cont.rules", RULE_HEAD "allow = 10.0.0.5\n  10.0.0.6\n"
                                                   "top = 3\n");
    struct ruleset rs = {0};
    ck_assert_msg(ruleset_load_file(path, &rs, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(rs.v[0].allow.n, 2);
    ck_assert_int_eq(rule_key_line(&rs.v[0], "top"), 6);
    ruleset_free(&rs);
}
END_TEST

START_TEST(values_ranges)
{
    struct cfg_err err;
    struct cfg_at at = {&err, "x.conf", 7, "k"};
    double d;
    uint64_t u;
    ck_assert_int_eq(value_ratio(&at, "0.25", &d), 0);
    ck_assert_double_eq_tol(d, 0.25, 1e-12);
    ck_assert_int_eq(value_ratio(&at, "25%", &d), 0);
    ck_assert_double_eq_tol(d, 0.25, 1e-12);
    ck_assert_int_eq(value_ratio(&at, "1%garbage", &d), -1);
    ck_assert_str_eq(err.msg,
                     "x.conf:7: k: '1%garbage' is not a ratio from 0 to 1 (e.g. 0.8 or 80%)");
    ck_assert_int_eq(value_ratio(&at, "1.01", &d), -1);
    ck_assert_int_eq(value_ratio(&at, "nan", &d), -1);
    ck_assert_int_eq(value_multiple(&at, "10", &d), 0);
    ck_assert_double_eq_tol(d, 10, 1e-12);
    ck_assert_int_eq(value_multiple(&at, "4x", &d), -1);
    ck_assert_int_eq(value_count(&at, "5", 1, 4, &u), -1);
    ck_assert_str_eq(err.msg, "x.conf:7: k: 5 is out of range (1 to 4)");
    ck_assert_int_eq(value_duration(&at, "0s", 1, &u), -1);
    ck_assert_str_eq(err.msg, "x.conf:7: k: '0s' must be longer than 0");
}
END_TEST

int main(void)
{
    log_init("test_config", LOG_LEVEL_ERR);
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, agent_conf_good);
    tcase_add_test(tc, agent_conf_mistakes);
    tcase_add_test(tc, agent_conf_missing_file);
    tcase_add_test(tc, directory_is_not_a_file);
    tcase_add_test(tc, agent_conf_instance);
    tcase_add_test(tc, assets_good_and_lookup);
    tcase_add_test(tc, assets_mistakes);
    tcase_add_test(tc, assets_checks);
    tcase_add_test(tc, rules_good_and_getters);
    tcase_add_test(tc, rules_mistakes);
    tcase_add_test(tc, shipped_rules_load);
    tcase_add_test(tc, rules_local_overlay);
    tcase_add_test(tc, units_parse);
    tcase_add_test(tc, taxonomy_table);
    tcase_add_test(tc, format_time_as_strftime_in_every_zone);
    tcase_add_test(tc, cidr_forms);
    tcase_add_test(tc, prefix_index_longest_wins);
    tcase_add_test(tc, prefix_index_matches_scan);
    tcase_add_test(tc, addr_is_v4_is_the_mapped_prefix);
    tcase_add_test(tc, one_grammar_everywhere);
    tcase_add_test(tc, set_twice_found_among_many_keys);
    tcase_add_test(tc, continuation_lines_join);
    tcase_add_test(tc, values_ranges);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
