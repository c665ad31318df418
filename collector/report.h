/* report.h — the three reports of Circular 20/2017/TT-BTTTT as drafts
 * (docs/reporting.md): the incident notification (Thông báo sự cố), the
 * initial report (Báo cáo ban đầu sự cố mạng) and the report at the end
 * of the response (Báo cáo kết thúc ứng phó sự cố).
 *
 * report.c builds one JSON object per draft with every field of the
 * form, in one fixed order (report_fields); report_md.c writes the same
 * object as Vietnamese Markdown, so the two never disagree.  Facts the
 * wire cannot tell come from the reporting registry (registry.h); what
 * nobody has told canh yet is a marked placeholder for the response
 * team.  Dates are written as Vietnamese documents write them,
 * dd/mm/yyyy hh:mm in the collector's local time.  Files are written to
 * a temporary name and renamed, so a reader never sees half a draft.
 *
 * Who asks for which draft: the notification is the escalation sink
 * report_sink_ops (an incident escalated as a serious candidate); the
 * initial and final reports follow the lifecycle (report_due.h).
 */
#ifndef CANH_COLLECTOR_REPORT_H
#define CANH_COLLECTOR_REPORT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/config.h"
#include "collector/incident.h"
#include "collector/registry.h"
#include "collector/sinks/sink.h"

#define REPORT_TO_FILL "[cần Đội ứng cứu sự cố bổ sung]"
/* A drill's drafts (docs/drills.md) carry it first, in the JSON ("drill")
 * and at the top and bottom of the Markdown. */
#define REPORT_DRILL_WATERMARK "DIỄN TẬP — KHÔNG GỬI"

enum report_kind { REPORT_NOTIFICATION, REPORT_INITIAL, REPORT_FINAL, REPORT_KIND_COUNT };

/* "notification", "initial", "final". */
const char *report_kind_name(enum report_kind k);
/* -1 for an unknown name. */
int report_kind_parse(const char *name, enum report_kind *out);

/* One entry of the incident's log (canh:log:<id>). */
struct report_log_entry {
    uint64_t at_us;
    char action[32];
    char operator_[64];
    char note[256];
};

struct report_input {
    enum report_kind kind;
    const struct collector_config *cfg;
    const struct registry *reg;
    const struct incident *inc;
    uint64_t now_us;             /* the draft's date */
    uint64_t detected_us;        /* when canh detected it (collector clock) */
    uint64_t due_us;             /* the deadline this draft answers */
    const char *confirmed_class; /* "serious", "normal" or NULL */
    const struct report_log_entry *log;
    size_t n_log;
    /* final: the initial report it cites (number "" when not recorded) */
    const char *initial_number;
    uint64_t initial_date_us;
};

/* The top-level keys of a draft of kind k, in order; NULL-terminated. */
const char *const *report_fields(enum report_kind k);
/* "dd/mm/yyyy hh:mm" local time; "" for 0. */
const char *report_date(uint64_t us, char *buf, size_t len);

json_t *report_build(const struct report_input *in);
/* Markdown text (malloc'd) of a draft from report_build; NULL on no memory. */
char *report_markdown_of(const json_t *draft);
/* <dir>/<id>.<kind>.json and .md; 0, or -1 with errno. */
int report_write_draft(const char *dir, const json_t *draft);

/* The notification of an escalated incident, the registry read from
 * cfg's [report] registry: 0, or -1 with errno. */
int report_write(const struct collector_config *cfg, const struct incident *inc, uint64_t now_us);

extern const struct sink_ops report_sink_ops;

#endif
