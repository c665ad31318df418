/* prom.c — see prom.h. */
#include "common/prom.h"

#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

void prom_label(FILE *f, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            fprintf(f, "\\%c", *v);
        else if (*v == '\n')
            fputs("\\n", f);
        else
            fputc(*v, f);
    }
}

void prom_head(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void prom_one(FILE *f, const char *name, const char *type, const char *help, uint64_t value)
{
    prom_head(f, name, type, help);
    fprintf(f, "%s %" PRIu64 "\n", name, value);
}

/* ---- agent families from heartbeats ----------------------------------- */

enum fam_kind {
    FAM_VALUE,        /* canh.a[.b] */
    FAM_BY_KEY,       /* each member of the object canh.a, labelled by its key */
    FAM_PER_DETECTOR, /* canh.detectors.<detector>.a */
};

struct family {
    const char *name, *type, *help;
    enum fam_kind kind;
    const char *a, *b;
    const char *label; /* FAM_BY_KEY, FAM_PER_DETECTOR */
};

static const struct family families[] = {
    {"canh_agent_packets_total", "counter", "Packets the agent has seen since it started.",
     FAM_VALUE, "packets", NULL, NULL},
    {"canh_agent_bytes_total", "counter", "Bytes the agent has seen since it started.", FAM_VALUE,
     "bytes", NULL, NULL},
    {"canh_agent_capture_dropped_total", "counter",
     "Packets the kernel dropped before the agent read them (live capture).", FAM_VALUE, "capture",
     "dropped", NULL},
    {"canh_agent_interface_dropped_total", "counter",
     "Packets the interface dropped (live capture, when the driver reports it).", FAM_VALUE,
     "capture", "if_dropped", NULL},
    {"canh_agent_decode_errors_total", "counter",
     "Frames the decoder refused, by reason (truncated or invalid headers).", FAM_BY_KEY,
     "decode_errors_by_reason", NULL, "reason"},
    {"canh_agent_events_total", "counter", "Events (new, update, end) the agent emitted.",
     FAM_VALUE, "events", NULL, NULL},
    {"canh_agent_findings_total", "counter", "Findings opened, per detector.", FAM_PER_DETECTOR,
     "findings", NULL, "detector"},
    {"canh_agent_suppressed_findings_total", "counter",
     "Findings not opened because the detector's open-finding cap was reached.", FAM_PER_DETECTOR,
     "suppressed_findings", NULL, "detector"},
    {"canh_agent_table_evictions_total", "counter",
     "Entries evicted from a detector's full state table.", FAM_PER_DETECTOR, "evictions", NULL,
     "detector"},
    {"canh_agent_table_emergency", "gauge",
     "1 while a detector's state table runs in emergency mode (shorter timeouts under pressure).",
     FAM_PER_DETECTOR, "emergency", NULL, "detector"},
    {"canh_agent_table_emergency_entered_total", "counter",
     "Times a detector's state table entered emergency mode.", FAM_PER_DETECTOR,
     "emergency_entered", NULL, "detector"},
    {"canh_agent_spool_records", "gauge", "Events waiting in the agent's spool for Redis.",
     FAM_VALUE, "spool", "records", NULL},
    {"canh_agent_spool_bytes", "gauge", "Bytes the spool's waiting events take on disk.", FAM_VALUE,
     "spool", "bytes", NULL},
    {"canh_agent_spool_lost_records_total", "counter",
     "Events the full spool had to drop (oldest first).", FAM_VALUE, "spool", "lost_records", NULL},
    {"canh_agent_spool_lost_bytes_total", "counter", "Bytes of the events the full spool dropped.",
     FAM_VALUE, "spool", "lost_bytes", NULL},
    {"canh_agent_evidence_files_total", "counter",
     "Packet evidence files started (one per finding while [evidence] is on).", FAM_VALUE,
     "evidence", "files", NULL},
    {"canh_agent_evidence_disk_bytes", "gauge",
     "Bytes the evidence directory holds (at most [evidence] disk_mb).", FAM_VALUE, "evidence",
     "disk_bytes", NULL},
    {"canh_agent_evidence_removed_files_total", "counter",
     "Oldest evidence files removed to stay within disk_mb.", FAM_VALUE, "evidence",
     "removed_files", NULL},
    {"canh_agent_evidence_write_errors_total", "counter",
     "Evidence writes that failed (a full disk, permissions); the file ends there.", FAM_VALUE,
     "evidence", "write_errors", NULL},
    {"canh_agent_evidence_ring_dropped_total", "counter",
     "Frames the evidence ring overwrote to make room (its memory is fixed).", FAM_VALUE,
     "evidence", "ring_dropped", NULL},
    {"canh_agent_checks_total", "counter", "Active page checks done (assets.conf check =).",
     FAM_VALUE, "checks", "done", NULL},
    {"canh_agent_checks_failed_total", "counter",
     "Active page checks that failed (DNS, TLS, HTTP, timeout).", FAM_VALUE, "checks", "failed",
     NULL},
    {"canh_agent_uptime_seconds", "gauge", "Seconds since the agent started.", FAM_VALUE,
     "uptime_s", NULL, NULL},
    {"canh_agent_resident_memory_bytes", "gauge", "Resident memory of the agent process.",
     FAM_VALUE, "rss_bytes", NULL, NULL},
};

/* An integer or a boolean as a sample value; false when v is neither. */
static bool sample_value(json_t *v, json_int_t *out)
{
    if (json_is_integer(v))
        *out = json_integer_value(v);
    else if (json_is_boolean(v))
        *out = json_is_true(v);
    else
        return false;
    return *out >= 0;
}

struct writer {
    FILE *f;
    const struct family *fam;
    bool headed;
};

static void sample(struct writer *w, const struct prom_agent *a, const char *label,
                   const char *label_value, json_int_t value)
{
    if (!w->headed) {
        prom_head(w->f, w->fam->name, w->fam->type, w->fam->help);
        w->headed = true;
    }
    fprintf(w->f, "%s{agent=\"", w->fam->name);
    prom_label(w->f, a->name);
    fputs("\",agency=\"", w->f);
    prom_label(w->f, a->agency ? a->agency : "");
    if (label) {
        fprintf(w->f, "\",%s=\"", label);
        prom_label(w->f, label_value);
    }
    fprintf(w->f, "\"} %" PRId64 "\n", (int64_t)value);
}

static void family_of(struct writer *w, const struct prom_agent *a)
{
    const struct family *fam = w->fam;
    json_t *v = json_object_get(a->canh, fam->a);
    json_int_t n;
    const char *key;
    json_t *member;
    switch (fam->kind) {
    case FAM_VALUE:
        if (fam->b)
            v = json_object_get(v, fam->b);
        if (sample_value(v, &n))
            sample(w, a, NULL, NULL, n);
        break;
    case FAM_BY_KEY:
        json_object_foreach(v, key, member) if (sample_value(member, &n))
            sample(w, a, fam->label, key, n);
        break;
    case FAM_PER_DETECTOR:
        json_object_foreach(json_object_get(a->canh, "detectors"), key, member)
        {
            if (sample_value(json_object_get(member, fam->a), &n))
                sample(w, a, fam->label, key, n);
        }
        break;
    }
}

void prom_agents(FILE *f, const struct prom_agent *agents, size_t n)
{
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        struct writer w = {f, &families[i], false};
        for (size_t k = 0; k < n; k++)
            if (agents[k].canh)
                family_of(&w, &agents[k]);
    }
}

bool prom_detector_field(const char *field)
{
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
        if (families[i].kind == FAM_PER_DETECTOR && strcmp(families[i].a, field) == 0)
            return true;
    return false;
}
