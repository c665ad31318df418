/* fuzz_check_page.c — the active checks' page reader (agent/check/page.c)
 * on arbitrary bodies: masking with regular expressions that match
 * empty, short and long spans, the HTML walk (title, text, script and
 * frame hosts), markers, and the text excerpt of a change.  Any body a
 * checked site serves must be read within bounds.
 *   build-fuzz/bin/fuzz_check_page -max_total_time=120 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agent/check/page.h"

static struct page_masks masks;
static struct page_markers markers;
static struct page_facts first, second;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!markers.n) {
        static struct asset_check cfg;
        strcpy(cfg.mask[0], "[0-9]{2}:[0-9]{2}");
        strcpy(cfg.mask[1], "x*");
        strcpy(cfg.mask[2], "<!--nocache-->.*<!--/nocache-->");
        cfg.n_mask = 3;
        if (page_masks_compile(&masks, &cfg) < 0 ||
            page_markers_parse(&markers, "hacked by\nbị hack bởi\n<script\n") < 0)
            return 0;
    }
    size_t half = size / 2;
    if (page_analyse((const char *)data, half, &masks, &markers, &first) < 0 ||
        page_analyse((const char *)data + half, size - half, NULL, &markers, &second) < 0)
        return 0;
    char old_x[161], new_x[161];
    page_text_diff(first.text, second.text, old_x, new_x, sizeof(old_x));
    for (size_t i = 0; i < second.n_domains; i++)
        (void)page_has_domain(&first, second.domains[i]);
    (void)page_has_marker(&first, "hacked by");
    return 0;
}
