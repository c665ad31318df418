/* taxonomy.h — the incident taxonomy of the provincial response plans.
 *
 * Codes, Vietnamese and English names of architecture §6 (Decision 05/2017,
 * Circular 20/2017).  Rules name a code; events carry all three names.
 */
#ifndef CANH_TAXONOMY_H
#define CANH_TAXONOMY_H

#include <stddef.h>

struct taxonomy {
    const char *code; /* "attack.dos" */
    const char *vi;   /* "Tấn công từ chối dịch vụ" */
    const char *en;   /* "Denial of service" */
};

/* NULL when the code is not in the table. */
const struct taxonomy *taxonomy_find(const char *code);
const struct taxonomy *taxonomy_all(size_t *count);

#endif
