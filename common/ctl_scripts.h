/* ctl_scripts.h — the operator actions on incidents, one Lua script each,
 * shared by canh-ctl and the collector's status page (collector/status/
 * action.c), so both change, log and announce an incident the same way.
 *
 * Every action that changes an incident is one EVAL, which Redis runs
 * atomically, with every key it touches declared in KEYS (Redis Cluster's
 * rule): the incident hash, its log stream, canh:incidents, and what the
 * action needs of canh:ikeys, canh:open, the escalation queue,
 * canh:suppressions, canh:false_positives and the report queues: confirm
 * and resolve ask the collector for the initial and final report drafts
 * (collector/report_due.h), report sent takes one off canh:reports.  Each script checks the
 * transition against the state it reads in the same run, so two operators
 * (or an operator and a collector) cannot interleave: a collector's
 * guarded write fails on the bumped "ver" and re-reads.  Errors come back
 * as "NOINCIDENT ..." and "BADSTATE ..." replies; canh-ctl turns them into
 * exit codes, the page into 404 and 409.
 */
#ifndef CANH_COMMON_CTL_SCRIPTS_H
#define CANH_COMMON_CTL_SCRIPTS_H

#include <stdint.h>

#define CTL_MAX_TEXT 2000 /* bytes of a note, a reason or a summary */

/* KEYS of a transition script, in this order (ctl_transition_keys). */
enum ctl_key {
    CTL_KEY_INCIDENT,     /* canh:incident:<id> */
    CTL_KEY_LOG,          /* canh:log:<id> */
    CTL_KEY_INCIDENTS,    /* canh:incidents */
    CTL_KEY_IKEYS,        /* canh:ikeys */
    CTL_KEY_OPEN,         /* canh:open */
    CTL_KEY_ESCALATIONS,  /* canh:escalations */
    CTL_KEY_SUPPRESSIONS, /* canh:suppressions */
    CTL_KEY_FALSE_POS,    /* canh:false_positives */
    CTL_KEY_REPORT_QUEUE, /* canh:report_queue: reports the collector is to draft */
    CTL_KEY_REPORTS,      /* canh:reports: drafted reports not yet sent, by due time */
    CTL_KEY_COUNT
    /* then canh:escalation:<id>/<route>/<action>-<now_ms> for each route of
     * the incident's sinks field, then canh:incidents:<agency key> for each
     * of its agencies (read by the caller just before) */
};

/* ARGV of a transition: operator, now_ms, maxlen, id, note, extra
 * (confirm: class normal|serious), the number of job keys. */
extern const char ctl_ack_lua[];
extern const char ctl_confirm_lua[];
extern const char ctl_reject_lua[];
extern const char ctl_resolve_lua[];
extern const char ctl_note_lua[];
extern const char ctl_reopen_lua[];
/* report sent: note is the report's number ("" none), extra its kind
 * (initial|final). */
extern const char ctl_report_sent_lua[];

/* KEYS: canh:incident:<new id>, canh:log:<new id>, canh:incidents,
 * canh:open.  ARGV: operator, now_ms, maxlen, id, summary, agency,
 * taxonomy code, vi, en, severity, target ("" none). */
extern const char ctl_open_lua[];

/* The transitions: the verb an operator gives (canh-ctl's command, the
 * page's button), the action announced, the script. */
struct ctl_action {
    const char *verb;
    const char *name;
    const char *script;
};
/* The collector's reminders of a report's due date (docs/reporting.md):
 * extra is the kind (initial|final), note the report and its deadline;
 * the flag report_<kind>_reminded_due_soon|overdue in the incident makes
 * each announced once; returns 1 when announced, 0 when done before. */
extern const struct ctl_action ctl_remind_due_soon;
extern const struct ctl_action ctl_remind_overdue;
/* ack, confirm, reject, resolve, note, reopen; NULL for anything else. */
const struct ctl_action *ctl_action_find(const char *verb);

/* The arguments of one transition's EVAL: keys in the order of enum
 * ctl_key, then ARGV.  argv points into the struct. */
#define CTL_MAX_EXTRA_KEYS 96 /* 32 routes, 64 agencies of a province-wide incident */
struct ctl_call {
    char keys[CTL_KEY_COUNT + CTL_MAX_EXTRA_KEYS][300];
    char nkeys[8], njobs[8], now_text[24], maxlen_text[24];
    const char *argv[3 + CTL_KEY_COUNT + CTL_MAX_EXTRA_KEYS + 7];
    int argc;
};
/* Fills call for action a on incident id (a valid id: letters, digits,
 * '-'), by operator_name, with note and extra ("" or NULL for none);
 * maxlen is canh:incidents' (the collector's [collector] maxlen).
 * routes and agencies are the incident's `sinks` (comma list) and
 * `agency` ('|' list) fields, read just before: the script declares the
 * routes' job keys and the agencies' streams it writes.  A route added in
 * between hears of the next action, not this one. */
void ctl_transition_call(struct ctl_call *call, const struct ctl_action *a, const char *id,
                         const char *operator_name, const char *note, const char *extra,
                         const char *routes, const char *agencies, uint64_t now_ms,
                         uint64_t maxlen);

#endif
