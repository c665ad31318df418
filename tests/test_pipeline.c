/* test_pipeline.c — which detectors the pipeline hands a packet
 * (detector_ops.tcp_ports): a detector with a port interest (auth) still
 * sees every segment that matters to it on its ports, with and without
 * payload as it declared, in the middle of a SYN flood on the same port
 * that it is spared; and its ports follow the rules across a reload. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/pipeline.h"
#include "common/log.h"
#include "testutil.h"

#define HARNESS_NAME "pipeline"
#include "pipeline_harness.h"

#define SERVER "198.51.100.10"

/* The shipped rules, auth's ssh service on port ssh_port. */
static void write_rules(int ssh_port)
{
    char cmd[512];
    copy_shipped_rules();
    snprintf(cmd, sizeof(cmd), "sed -i 's/ssh:22,/ssh:%d,/' %s/auth.rules", ssh_port, rules_dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void segment(struct pipeline *pl, const char *src, const char *dst, uint16_t sport,
                    uint16_t dport, uint8_t flags, const char *payload)
{
    struct pkt p = {0};
    clock_us += 10000;
    p.ts_us = clock_us;
    p.ip_version = 4;
    addr_parse(src, &p.src);
    addr_parse(dst, &p.dst);
    p.proto = PROTO_TCP;
    p.ttl = 52;
    p.sport = sport;
    p.dport = dport;
    p.tcp_flags = flags;
    p.tcp_window = 1024;
    p.payload = (const uint8_t *)payload;
    p.payload_len = p.payload_wire_len = payload ? (uint32_t)strlen(payload) : 0;
    p.ip_len = 40 + p.payload_len;
    pipeline_packet(pl, &p);
}

/* One login attempt of client on port: its SYN, the server's SYN|ACK and
 * the client's first data segment (what auth counts). */
static void attempt(struct pipeline *pl, const char *client, uint16_t sport, uint16_t port,
                    const char *data)
{
    segment(pl, client, SERVER, sport, port, TCP_SYN, NULL);
    segment(pl, SERVER, client, port, sport, TCP_SYN | TCP_ACK, NULL);
    segment(pl, client, SERVER, sport, port, TCP_ACK | TCP_PSH, data);
}

/* brute_force findings ("new") from src for service. */
static int brute_force_from(const char *src, const char *service)
{
    int n = 0;
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        json_t *c = json_object_get(ev, "canh");
        const char *s =
            json_string_value(json_object_get(json_object_get(c, "evidence"), "service"));
        if (strcmp(json_string_value(json_object_get(c, "kind")), "brute_force") == 0 &&
            strcmp(json_string_value(json_object_get(c, "state")), "new") == 0 &&
            strcmp(json_string_value(json_object_get(ev, "src_ip")), src) == 0 && s &&
            strcmp(s, service) == 0)
            n++;
    }
    return n;
}

static const char SSH_HELLO[] = "SSH-2.0-libssh_0.10.4\r\n";
static const char LOGIN_POST[] = "POST /wp-login.php HTTP/1.1\r\nHost: portal\r\n\r\nlog=a&pwd=x";

START_TEST(login_attempts_found_inside_a_syn_flood)
{
    struct agent_config cfg;
    write_rules(22);
    struct pipeline *pl = start(&cfg);
    char spoofed[32];
    for (int i = 0; i < 12; i++) {
        /* A SYN flood on the web port: no payload, nothing for auth. */
        for (int k = 0; k < 50; k++) {
            snprintf(spoofed, sizeof(spoofed), "192.0.2.%d", (i * 50 + k) % 250 + 1);
            segment(pl, spoofed, SERVER, (uint16_t)(1024 + i * 50 + k), 80, TCP_SYN, NULL);
        }
        attempt(pl, "203.0.113.7", (uint16_t)(40000 + i), 22, SSH_HELLO);
        /* An HTTP login POST: only segments with payload matter on 80. */
        attempt(pl, "203.0.113.8", (uint16_t)(41000 + i), 80, LOGIN_POST);
    }
    ck_assert_int_eq(brute_force_from("203.0.113.7", "ssh"), 1);
    ck_assert_int_eq(brute_force_from("203.0.113.8", "http"), 1);
    pipeline_free(pl);
    agent_config_free(&cfg);
}
END_TEST

START_TEST(reload_moves_the_login_ports)
{
    struct agent_config cfg;
    struct cfg_err err;
    write_rules(22);
    struct pipeline *pl = start(&cfg);
    write_rules(2222);
    ck_assert_msg(pipeline_reload(pl, &err) == 0, "%s", err.msg);
    for (int i = 0; i < 12; i++) {
        attempt(pl, "203.0.113.7", (uint16_t)(40000 + i), 2222, SSH_HELLO);
        attempt(pl, "203.0.113.9", (uint16_t)(42000 + i), 22, SSH_HELLO);
    }
    ck_assert_int_eq(brute_force_from("203.0.113.7", "ssh"), 1);
    /* Port 22 is no login port any more. */
    ck_assert_int_eq(brute_force_from("203.0.113.9", "ssh"), 0);
    pipeline_free(pl);
    agent_config_free(&cfg);
}
END_TEST

int main(void)
{
    log_init("test_pipeline", LOG_LEVEL_ERR);
    Suite *s = suite_create("pipeline");
    TCase *tc = tcase_create("interest");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, login_attempts_found_inside_a_syn_flood);
    tcase_add_test(tc, reload_moves_the_login_ports);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
