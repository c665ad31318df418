/* prom.h — the Prometheus text format (version 0.0.4) as canh writes it,
 * and the agent families read from heartbeats.
 *
 * A heartbeat (agent/output/heartbeat.c, docs/redis.md) carries the agent's
 * cumulative counters; the collector's /metrics (collector/status/metrics.c)
 * exposes every agent's last heartbeat and the agent's own /metrics
 * (agent/sys/metrics_http.c) its current one, through the same
 * prom_agents(), so both name and type each figure alike.
 */
#ifndef CANH_PROM_H
#define CANH_PROM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A label value with backslash, double quote and newline escaped. */
void prom_label(FILE *f, const char *value);
/* "# HELP" and "# TYPE" lines. */
void prom_head(FILE *f, const char *name, const char *type, const char *help);
/* A family of one unlabelled sample. */
void prom_one(FILE *f, const char *name, const char *type, const char *help, uint64_t value);

/* One agent's figures: its name, agency and the "canh" object of a
 * heartbeat (NULL when none was recorded). */
struct prom_agent {
    const char *name;
    const char *agency;
    json_t *canh;
};

/* The heartbeat families (canh_agent_packets_total, ..._decode_errors_total
 * by reason, spool depth and losses, table emergency mode per detector, ...)
 * of n agents, each family once with one sample per agent that reports
 * it; figures a heartbeat does not carry are left out, never written 0. */
void prom_agents(FILE *f, const struct prom_agent *agents, size_t n);
/* Whether a family reads canh.detectors.<detector>.<field>: what a
 * summary of a heartbeat must keep for prom_agents() to label it. */
bool prom_detector_field(const char *field);

#endif
