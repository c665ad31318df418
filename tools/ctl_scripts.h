/* ctl_scripts.h — the operator actions of canh-ctl, one Lua script each.
 *
 * Every action that changes an incident is one EVAL, which Redis runs
 * atomically, with every key it touches declared in KEYS (Redis Cluster's
 * rule): the incident hash, its log stream, canh:incidents, and what the
 * action needs of canh:ikeys, canh:open, the escalation queue,
 * canh:suppressions and canh:false_positives.  Each script checks the
 * transition against the state it reads in the same run, so two operators
 * (or an operator and a collector) cannot interleave: a collector's
 * guarded write fails on the bumped "ver" and re-reads.  Errors come back
 * as "NOINCIDENT ..." and "BADSTATE ..." replies; canh-ctl turns them into
 * exit codes.
 */
#ifndef CANH_TOOLS_CTL_SCRIPTS_H
#define CANH_TOOLS_CTL_SCRIPTS_H

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
    CTL_KEY_COUNT
    /* then canh:escalation:<id>/<route>/<action>-<now_ms> for each route of
     * the incident's sinks field, then canh:incidents:<agency key> for each
     * of its agencies (read by canh-ctl just before) */
};

/* ARGV of a transition: operator, now_ms, maxlen, id, note, extra
 * (confirm: class normal|serious), the number of job keys. */
extern const char ctl_ack_lua[];
extern const char ctl_confirm_lua[];
extern const char ctl_reject_lua[];
extern const char ctl_resolve_lua[];
extern const char ctl_note_lua[];
extern const char ctl_reopen_lua[];

/* KEYS: canh:incident:<new id>, canh:log:<new id>, canh:incidents,
 * canh:open.  ARGV: operator, now_ms, maxlen, id, summary, agency,
 * taxonomy code, vi, en, severity, target ("" none). */
extern const char ctl_open_lua[];

#endif
