/* page.h — what a fetched page says, reduced to what the checks compare
 * (architecture §4.9).
 *
 * The body is first masked (the asset's check_mask regular expressions cut
 * out dates, counters and tokens), then hashed (SHA-256), and read for its
 * <title>, its visible text (tags, scripts and styles removed, blanks
 * collapsed), the hosts its <script src> and <iframe src> load from, and
 * the defacement markers it contains.  Everything is bounded: the text
 * and lists are truncated, never grown.
 */
#ifndef CANH_CHECK_PAGE_H
#define CANH_CHECK_PAGE_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/assets_conf.h"

#define PAGE_TEXT_MAX 4096
#define PAGE_TITLE_MAX 256
#define PAGE_MAX_DOMAINS 32
#define PAGE_DOMAIN_MAX 128
#define PAGE_MARKERS_MAX 512

struct page_masks {
    regex_t re[ASSET_MAX_MASKS];
    size_t n;
};

/* Defacement markers, lower case, one per entry (the shared markers file). */
struct page_markers {
    char **v;
    size_t n;
};

struct page_facts {
    uint8_t sha256[32];
    uint64_t size; /* of the masked body */
    char title[PAGE_TITLE_MAX];
    char text[PAGE_TEXT_MAX];
    char domains[PAGE_MAX_DOMAINS][PAGE_DOMAIN_MAX];
    size_t n_domains;
    /* Markers found, each followed by '\n'. */
    char markers[PAGE_MARKERS_MAX];
};

/* 0, or -1 when a mask does not compile (assets.conf validated them). */
int page_masks_compile(struct page_masks *m, const struct asset_check *c);
void page_masks_free(struct page_masks *m);

/* Markers from text, one a line ('#' comments and blank lines skipped). */
int page_markers_parse(struct page_markers *mk, const char *text);
void page_markers_free(struct page_markers *mk);

/* body need not be NUL-terminated; it is not modified. */
int page_analyse(const char *body, size_t len, const struct page_masks *m,
                 const struct page_markers *mk, struct page_facts *out);

/* True when domain is in facts' list. */
bool page_has_domain(const struct page_facts *f, const char *domain);
/* True when marker (with no '\n') is in facts' markers. */
bool page_has_marker(const struct page_facts *f, const char *marker);

/* Where the visible texts first differ, as two short excerpts (at most
 * size - 1 bytes each) around that point. */
void page_text_diff(const char *old_text, const char *new_text, char *old_out, char *new_out,
                    size_t size);

#endif
