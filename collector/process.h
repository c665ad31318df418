/* process.h — deciding what one stream entry changes.
 *
 * apply.c reads an entry and the state it touches (store_load_lua);
 * these functions turn entry + state into the guarded writes of one
 * store_apply_lua call: the incident it joins or opens, the correlation
 * table of its source and the attack.combined / province-wide incidents
 * that follow, escalation jobs for the sinks whose rules the incidents now
 * meet, the canh:incidents entries, the dedup marker and the XACK.  No I/O
 * here: the Check suite drives these with hand-made state.
 */
#ifndef CANH_COLLECTOR_PROCESS_H
#define CANH_COLLECTOR_PROCESS_H

#include <stdbool.h>
#include <stdint.h>

#include "collector/config.h"
#include "collector/correlate.h"
#include "collector/incident.h"
#include "collector/ingest.h"
#include "collector/store.h"

struct process_env {
    const struct collector_config *cfg;
    uint64_t now_us;
    uint32_t (*random)(void *user); /* for new incident ids */
    void *random_user;
};

/* The incident keys an event needs loaded, in this order. */
enum { LOAD_PRIMARY, LOAD_COMBINED, LOAD_PROVINCE, LOAD_MAX };

struct process_load {
    bool seen;
    struct corr_state src;
    size_t n; /* keys asked for */
    char keys[LOAD_MAX][INCIDENT_KEY_LEN];
    char ids[LOAD_MAX][INCIDENT_ID_LEN]; /* canh:ikeys value, "" when none */
    struct incident *inc[LOAD_MAX];      /* NULL when the hash is missing */
    char suppression[160];               /* canh:suppressions value of the event, "" none */
    /* process_plan_event_after: slots the write leaves as they were
     * loaded (inc[slot] then NULL; the loaded one stands). */
    bool as_loaded[LOAD_MAX];
};

/* Fills ld->keys/n for ev and returns the source hash key in src_key
 * ("" when the event has no single source). */
void process_event_keys(const struct in_event *ev, struct process_load *ld, char *src_key,
                        size_t len);
void process_load_free(struct process_load *ld);

struct process_outcome {
    int opened, escalated, extended, updated;
    int suppressed;             /* matched a rejected incident's suppression */
    struct process_load *after; /* process_plan_event_after's */
    bool linked_others;         /* back links were set on incidents not loaded */
};

/* The field of canh:suppressions an event would match:
 * "<kind>|<source or *>|<asset, else destination, else *>". */
void process_suppression_field(const struct in_event *ev, char *buf, size_t len);

/* Everything event ev (entry id of stream) does, given what was loaded. */
int process_plan_event(const struct process_env *env, const char *stream, const char *entry_id,
                       const struct in_event *ev, const struct process_load *ld,
                       struct store_ops *o, struct process_outcome *out);

/* The same, and after is filled with the state the write leaves if it
 * answers OK (keys, ids, incidents, source table, suppression), so the
 * next event of the same keys can be decided without reading it back
 * (apply.c's cache); free it with process_load_free. */
int process_plan_event_after(const struct process_env *env, const char *stream,
                             const char *entry_id, const struct in_event *ev,
                             const struct process_load *ld, struct store_ops *o,
                             struct process_outcome *out, struct process_load *after);

/* An incident quiet for the window (guarded by its version): closed when
 * nobody took it; kept listed in canh:open for another window when it is
 * in an operator's hands; dropped from canh:open when already done. */
void process_plan_close(const struct process_env *env, struct incident *inc, struct store_ops *o);

/* A heartbeat: canh:agents, canh:agent_seen, and close the agent's open
 * fault.link incident (fault may be NULL). */
void process_plan_heartbeat(const struct process_env *env, const char *stream, const char *entry_id,
                            const struct in_heartbeat *hb, const char *raw, uint64_t entry_ms,
                            struct incident *fault, struct store_ops *o);

/* A silent agent: open fault.link unless one is open (loaded_id is the
 * canh:ikeys value, fault its hash).  Returns false when nothing to do. */
bool process_plan_silent(const struct process_env *env, const char *agent, const char *agency,
                         uint64_t last_heartbeat_us, const char *loaded_id,
                         const struct incident *fault, struct store_ops *o);

/* Garbage: to canh:deadletter with the reason, and acknowledged. */
void process_plan_deadletter(const struct process_env *env, const char *stream,
                             const char *entry_id, const char *reason, const char *raw,
                             struct store_ops *o);

#endif
