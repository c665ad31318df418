/* secret.h — reading a secret from a file, the one way canh does it:
 * Redis passwords, webhook HMAC keys, status page tokens and passwords.
 *
 * The secret is the file's first line without its line ending; an empty
 * first line, a missing file and a secret longer than the buffer are
 * errors with a message that names the file and what to do.
 */
#ifndef CANH_REDIS_SECRET_H
#define CANH_REDIS_SECRET_H

#include <stddef.h>

/* Reads path's first line into buf (NUL-terminated); 0, or -errno
 * (-ENOENT, -EACCES ..., -ENODATA when empty, -ENAMETOOLONG when it does
 * not fit) with a message in err.  buf is wiped on error. */
int secret_read_file(const char *path, char *buf, size_t len, char *err, size_t err_len);

#endif
