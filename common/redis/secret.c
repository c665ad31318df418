/* secret.c — see secret.h. */
#include "common/redis/secret.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int secret_read_file(const char *path, char *buf, size_t len, char *err, size_t err_len)
{
    if (len)
        buf[0] = '\0';
    FILE *fp = fopen(path, "r");
    if (!fp) {
        int e = errno;
        snprintf(err, err_len, "cannot read %s: %s (it must be readable by the service's user)",
                 path, strerror(e));
        return -e;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, fp);
    int e = n < 0 && ferror(fp) ? errno : 0;
    fclose(fp);
    int rc = 0;
    if (e) {
        snprintf(err, err_len, "cannot read %s: %s", path, strerror(e));
        rc = -e;
    } else {
        size_t used = n > 0 ? strcspn(line, "\r\n") : 0;
        if (used == 0) {
            snprintf(err, err_len, "%s: the first line is empty; put the secret there", path);
            rc = -ENODATA;
        } else if (used >= len) {
            snprintf(err, err_len, "%s: the secret is longer than %zu bytes", path,
                     len ? len - 1 : 0);
            rc = -ENAMETOOLONG;
        } else {
            memcpy(buf, line, used);
            buf[used] = '\0';
        }
    }
    if (line) {
        explicit_bzero(line, cap);
        free(line);
    }
    return rc;
}
