/* auth_reply.c — reading just enough of each login protocol to tell a
 * failed login: the server's own answer at the start of a segment (FTP and
 * SMTP reply codes, POP3 -ERR, IMAP tagged NO, Telnet's "Login incorrect",
 * the MySQL, PostgreSQL and MSSQL error codes for a bad password), and for
 * HTTP a POST to a login path and the status of its answer.  Encrypted
 * services (SSH, RDP, the TLS mail ports) show no answer: only their
 * connections count.  Every read is bounded by the captured length.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "agent/detect/auth/auth_internal.h"

static bool has_prefix(const uint8_t *p, size_t n, const char *s)
{
    size_t l = strlen(s);
    return n >= l && memcmp(p, s, l) == 0;
}

/* Case-insensitive search of s in the first n bytes of p. */
static bool contains_ci(const uint8_t *p, size_t n, const char *s)
{
    size_t l = strlen(s);
    for (size_t i = 0; l && i + l <= n; i++)
        if (strncasecmp((const char *)p + i, s, l) == 0)
            return true;
    return false;
}

static bool contains_bytes(const uint8_t *p, size_t n, const uint8_t *s, size_t l)
{
    for (size_t i = 0; i + l <= n; i++)
        if (memcmp(p + i, s, l) == 0)
            return true;
    return false;
}

/* IMAP: a tagged "NO" answer ("a1 NO [AUTHENTICATIONFAILED] ..."). */
static bool imap_no(const uint8_t *p, size_t n)
{
    if (n == 0 || p[0] == '*' || p[0] == '+')
        return false;
    size_t i = 0;
    while (i < n && p[i] != ' ' && p[i] != '\r' && i < 32)
        i++;
    return i + 3 < n && p[i] == ' ' && (p[i + 1] == 'N' || p[i + 1] == 'n') &&
           (p[i + 2] == 'O' || p[i + 2] == 'o') && p[i + 3] == ' ';
}

bool auth_reply_failed(enum auth_proto proto, const uint8_t *p, size_t n)
{
    if (n == 0)
        return false;
    switch (proto) {
    case AUTH_P_FTP:
        return has_prefix(p, n, "530");
    case AUTH_P_SMTP:
    case AUTH_P_SUBMISSION:
        return has_prefix(p, n, "535");
    case AUTH_P_POP3:
        return has_prefix(p, n, "-ERR");
    case AUTH_P_IMAP:
        return imap_no(p, n);
    case AUTH_P_TELNET:
        return contains_ci(p, n < 256 ? n : 256, "login incorrect");
    case AUTH_P_MYSQL:
        /* 3-byte length, sequence, 0xff, error 1045 (little endian). */
        return n >= 7 && p[4] == 0xff && p[5] == 0x15 && p[6] == 0x04;
    case AUTH_P_POSTGRESQL:
        /* ErrorResponse with SQLSTATE 28P01 (password) or 28000. */
        return p[0] == 'E' && (contains_bytes(p, n, (const uint8_t *)"C28P01", 6) ||
                               contains_bytes(p, n, (const uint8_t *)"C28000", 6));
    case AUTH_P_MSSQL: {
        /* TDS ERROR token (0xAA, length) then number 18456 little endian. */
        static const uint8_t err18456[] = {0x18, 0x48, 0x00, 0x00};
        for (size_t i = 8; i + 7 <= n; i++)
            if (p[i] == 0xaa && memcmp(p + i + 3, err18456, 4) == 0)
                return true;
        return false;
    }
    default:
        return false;
    }
}

/* The request target's path starts at p (after "POST "); true when a
 * login path occurs in it before the query. */
static bool path_is_login(const struct auth_params *ap, const uint8_t *p, size_t n)
{
    char path[256];
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < sizeof(path); i++) {
        if (p[i] == ' ' || p[i] == '?' || p[i] == '#' || p[i] == '\r' || p[i] == '\n')
            break;
        path[k++] = (char)tolower(p[i]);
    }
    path[k] = '\0';
    /* An absolute-form target: skip scheme and authority. */
    char *start = path;
    char *scheme = strstr(path, "://");
    if (scheme) {
        start = strchr(scheme + 3, '/');
        if (!start)
            return false;
    }
    for (size_t i = 0; i < ap->n_login_paths; i++)
        if (strstr(start, ap->login_path[i]))
            return true;
    return false;
}

bool auth_http_login_post(const struct auth_params *ap, const uint8_t *p, size_t n)
{
    return has_prefix(p, n, "POST ") && path_is_login(ap, p + 5, n - 5);
}

int auth_http_login_failed(const struct auth_params *ap, const uint8_t *p, size_t n)
{
    if (n < 12 || !has_prefix(p, n, "HTTP/1.") || p[8] != ' ' || !isdigit(p[9]) ||
        !isdigit(p[10]) || !isdigit(p[11]))
        return -1;
    int status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    if (status == 401 || status == 403)
        return 1;
    if (status != 302 && status != 303)
        return 0;
    /* A redirect back to the login page: its Location names a login path. */
    for (size_t i = 12; i + 10 < n; i++) {
        if ((p[i] == '\n') && strncasecmp((const char *)p + i + 1, "location:", 9) == 0) {
            size_t v = i + 10;
            while (v < n && (p[v] == ' ' || p[v] == '\t'))
                v++;
            size_t e = v;
            while (e < n && p[e] != '\r' && p[e] != '\n')
                e++;
            /* Location may be absolute: look for the path after the host. */
            const uint8_t *slash = v < e ? memchr(p + v, '/', e - v) : NULL;
            if (slash && slash + 1 < p + e && slash[1] == '/')
                slash = memchr(slash + 2, '/', (size_t)(p + e - (slash + 2)));
            return slash && path_is_login(ap, slash, (size_t)(p + e - slash)) ? 1 : 0;
        }
        if (p[i] == '\n' && i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n')
            break; /* end of the head */
    }
    return 0;
}
