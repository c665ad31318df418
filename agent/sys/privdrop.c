/* privdrop.c — see privdrop.h. */
#include "agent/sys/privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

int privdrop_to_user(const char *user, const char *state_dir, char *err, size_t err_len)
{
    if (!user || !user[0])
        return 0;
    if (geteuid() != 0) {
        log_debug("not root: [agent] user %s is not needed", user);
        return 0;
    }
    errno = 0;
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        snprintf(err, err_len, "[agent] user %s: %s", user,
                 errno ? strerror(errno) : "no such user (create it, e.g. with systemd-sysusers)");
        return -1;
    }
    if (state_dir && state_dir[0]) {
        if (mkdir(state_dir, 0750) < 0 && errno != EEXIST) {
            snprintf(err, err_len, "%s: cannot create the state directory: %s", state_dir,
                     strerror(errno));
            return -1;
        }
        struct stat st;
        if (stat(state_dir, &st) == 0 && st.st_uid == 0 &&
            chown(state_dir, pw->pw_uid, pw->pw_gid) < 0) {
            snprintf(err, err_len, "%s: cannot give the state directory to %s: %s", state_dir, user,
                     strerror(errno));
            return -1;
        }
    }
    if (initgroups(user, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
        snprintf(err, err_len, "cannot become %s: %s", user, strerror(errno));
        return -1;
    }
    /* Paranoia: the drop must not be reversible. */
    if (setuid(0) == 0 || geteuid() == 0) {
        snprintf(err, err_len, "still able to become root after dropping to %s", user);
        return -1;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        log_warn("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
    log_info("running as %s (uid %u), no capabilities kept", user, (unsigned)pw->pw_uid);
    return 0;
}
