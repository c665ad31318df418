/* privdrop.h — become the unprivileged [agent] user once the capture is
 * open (architecture §4.7).
 *
 * Live capture needs CAP_NET_RAW only to open the packet socket; the open
 * socket keeps working after every capability is gone, so the agent
 * keeps none: supplementary groups are set to the user's, then the gid,
 * then the uid, and PR_SET_NO_NEW_PRIVS forbids getting any back.  Files
 * opened afterwards (spool, JSONL, password file) must be accessible to
 * that user; the state directory is created for it beforehand.
 */
#ifndef CANH_PRIVDROP_H
#define CANH_PRIVDROP_H

#include <stddef.h>

/* No-op (0) when user is empty or the process is not root.  Creates
 * state_dir (if missing) owned by the user, then drops.  -1 with err
 * filled on any failure: the caller must exit rather than run as root. */
int privdrop_to_user(const char *user, const char *state_dir, char *err, size_t err_len);

#endif
