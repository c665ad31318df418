/* registry.h — who reports what (docs/reporting.md): the reporting
 * registry file that collector.conf's [report] registry names.
 *
 * The reports of Circular 20/2017/TT-BTTTT name the reporting
 * organisation (address, phone, email), its contact person, and the
 * affected system with its owner, level, public addresses and domains,
 * ISP and security provider.  None of that is on the wire, so it comes
 * from this file: [reporting] (the policy and the provincial SOC's own
 * details, used for agencies without a section), one [agency NAME]
 * section per agency, one [system NAME] section per asset.  Read through
 * common/ini.h; mistakes are "file:line: message".
 */
#ifndef CANH_COLLECTOR_REGISTRY_H
#define CANH_COLLECTOR_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/values.h"

#define REGISTRY_TEXT 256

/* A reporting organisation and its contact person. */
struct registry_unit {
    char name[REGISTRY_TEXT]; /* [agency NAME]: the agency's name as events carry it */
    char unit[REGISTRY_TEXT]; /* the organisation's full name on the report */
    char address[REGISTRY_TEXT];
    char phone[64];
    char email[128];
    char contact_name[128];
    char contact_title[128];
    char contact_phone[64];
    char contact_email[128];
    char isp[REGISTRY_TEXT];               /* defaults for its systems */
    char security_provider[REGISTRY_TEXT]; /* defaults for its systems */
    int line;
};

/* An information system (an asset of assets.conf, by name). */
struct registry_system {
    char asset[64];             /* the asset's name in assets.conf */
    char agency[REGISTRY_TEXT]; /* "" any agency with such an asset */
    char title[REGISTRY_TEXT];  /* the system's full name */
    char owner[REGISTRY_TEXT];  /* cơ quan chủ quản */
    char addresses[REGISTRY_TEXT];
    char domains[REGISTRY_TEXT];
    char isp[REGISTRY_TEXT];
    char security_provider[REGISTRY_TEXT];
    int line;
};

/* When the initial report is due: confirmed serious (Decision 05/2017),
 * or every confirmed incident (a province that wants them all). */
enum registry_initial_for { INITIAL_FOR_SERIOUS, INITIAL_FOR_CONFIRMED };

struct registry {
    enum registry_initial_for initial_for;
    uint64_t final_deadline_us; /* after the response ends (resolve) */
    uint64_t due_soon_us;       /* "due soon" on the status page */
    char confidentiality[REGISTRY_TEXT];
    char recipients[REGISTRY_TEXT]; /* to whom the reports go */
    struct registry_unit soc;       /* [reporting] */
    struct registry_unit *agencies;
    size_t n_agencies;
    struct registry_system *systems;
    size_t n_systems;
};

void registry_defaults(struct registry *r);
/* path NULL or "": defaults only.  0, or -1 with err filled. */
int registry_load(const char *path, struct registry *r, struct cfg_err *err);
void registry_free(struct registry *r);

/* The agency's section, else [reporting]'s details. */
const struct registry_unit *registry_unit_for(const struct registry *r, const char *agency);
/* The system section of asset (of agency when the section names one);
 * NULL when none. */
const struct registry_system *registry_system_for(const struct registry *r, const char *agency,
                                                  const char *asset);

#endif
