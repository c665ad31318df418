/* slug.h — the key-safe name of an agency (architecture §8).
 *
 * Agencies are named as people write them ("Sở Y tế"); Redis keys that an
 * ACL file names must hold no spaces and no glob characters.  An agency's
 * incident stream is canh:incidents:<slug>: lower-case ASCII letters and
 * digits, Vietnamese letters folded to their base letter (đ → d, ế → e),
 * every other run of characters one '-' ("Sở Y tế" → "so-y-te").  The
 * collector writes it and canh-tail --agency reads it; both call this.
 */
#ifndef CANH_SLUG_H
#define CANH_SLUG_H

#include <stddef.h>

/* The slug of name into out (at least 2 bytes); "-" when nothing is left. */
void slug_agency(const char *name, char *out, size_t size);
/* "canh:incidents:<slug>". */
void slug_incident_stream(const char *agency, char *out, size_t size);

#endif
