/* pipeline_harness.h — a whole pipeline on the shipped rules, copied into
 * a temp dir the suite may edit, for the pipeline and reload suites.
 * Define HARNESS_NAME (the suite's name: its temp dir, its agent's name
 * gw-NAME) before including.  Every event the pipeline writes is kept in
 * events; clock_us is the packet clock the suite's packets advance. */
#ifndef CANH_PIPELINE_HARNESS_H
#define CANH_PIPELINE_HARNESS_H

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/pipeline.h"
#include "testutil.h"

#ifndef HARNESS_NAME
#error "define HARNESS_NAME before including pipeline_harness.h"
#endif

#define SEC 1000000ull
#define T0 (1763856000ull * SEC)

static char rules_dir[64];
static json_t *events;
static uint64_t clock_us;

static void collect(void *ctx, const struct evt *ev, json_t *json)
{
    (void)ctx;
    (void)ev;
    json_array_append(events, json);
}

/* rules_dir holds the shipped rules and nothing else. */
static void copy_shipped_rules(void)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -f %s/* && cp %s/rules/* %s/", rules_dir, SOURCE_DIR, rules_dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* A pipeline on rules_dir's rules, its events into events. */
static struct pipeline *start(struct agent_config *cfg)
{
    struct cfg_err err;
    agent_config_defaults(cfg);
    snprintf(cfg->name, sizeof(cfg->name), "gw-%s", HARNESS_NAME);
    snprintf(cfg->rules_dir, sizeof(cfg->rules_dir), "%s", rules_dir);
    cfg->local_rules_dir[0] = '\0';
    struct pipeline *pl = pipeline_new(cfg, &err);
    ck_assert_msg(pl != NULL, "%s", err.msg);
    pipeline_set_event_hook(pl, collect, NULL);
    return pl;
}

static void setup(void)
{
    ck_assert_ptr_nonnull(test_temp_dir(rules_dir, sizeof(rules_dir), HARNESS_NAME));
    events = json_array();
    clock_us = T0;
}

static void teardown(void)
{
    if (test_temp_dir_remove(rules_dir) != 0)
        fprintf(stderr, "could not remove %s: %s\n", rules_dir, strerror(errno));
    json_decref(events);
}

#endif
