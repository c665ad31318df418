/* url.c — see url.h. */
#include "common/redis/url.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/redis/secret.h"

#define EXPECTED                                                                                   \
    "expected redis://[user[:password]@]host[:port], unix:/path or "                               \
    "sentinel://[user[:password]@]host[:port][,host[:port]...]/mastername"

static int copy_part(char *dst, size_t size, const char *src, size_t len)
{
    if (len >= size)
        return -1;
    memcpy(dst, src, len);
    dst[len] = '\0';
    return 0;
}

static int parse_unix(const char *text, struct redis_url *u, char *err, size_t err_len)
{
    const char *path = text + 5;
    if (strncmp(path, "//", 2) == 0)
        path += 2;
    if (path[0] != '/') {
        snprintf(err, err_len, "redis_url %s: the socket path must be absolute (unix:/path)", text);
        return -1;
    }
    if (copy_part(u->path, sizeof(u->path), path, strlen(path)) < 0) {
        snprintf(err, err_len, "redis_url %s: the socket path is longer than %zu bytes", text,
                 sizeof(u->path) - 1);
        return -1;
    }
    u->unix_socket = true;
    snprintf(u->where, sizeof(u->where), "redis unix:%s", u->path);
    return 0;
}

/* "user[:password]" between "redis://" and the last '@'. */
static int parse_userinfo(const char *p, const char *at, struct redis_url *u, char *err,
                          size_t err_len)
{
    const char *colon = memchr(p, ':', (size_t)(at - p));
    const char *user_end = colon ? colon : at;
    if (copy_part(u->user, sizeof(u->user), p, (size_t)(user_end - p)) < 0) {
        snprintf(err, err_len, "redis_url: the user name is longer than %zu bytes",
                 sizeof(u->user) - 1);
        return -1;
    }
    if (colon) {
        if (copy_part(u->password, sizeof(u->password), colon + 1, (size_t)(at - colon - 1)) < 0) {
            snprintf(err, err_len, "redis_url: the password is longer than %zu bytes",
                     sizeof(u->password) - 1);
            return -1;
        }
        u->has_password = true;
    }
    return 0;
}

/* An IPv6 address, with an optional %zone for link-local ones. */
static bool is_ipv6(const char *host)
{
    char addr[INET6_ADDRSTRLEN];
    size_t n = strcspn(host, "%");
    struct in6_addr bin;
    if (n >= sizeof(addr) || (host[n] && !host[n + 1]))
        return false;
    memcpy(addr, host, n);
    addr[n] = '\0';
    return inet_pton(AF_INET6, addr, &bin) == 1;
}

/* host, [v6], host:port or [v6]:port at p, into host/port; *endp is where
 * it stopped (at '\0', '/' or ','). */
static int parse_one_host(const char *text, const char *p, char *host, size_t host_size,
                          int *port_out, int default_port, const char **endp, char *err,
                          size_t err_len)
{
    const char *end;
    if (*p == '[') {
        end = strchr(p, ']');
        if (!end) {
            snprintf(err, err_len, "redis_url %s: unterminated [IPv6 address]", text);
            return -1;
        }
        if (copy_part(host, host_size, p + 1, (size_t)(end - p - 1)) < 0 || !is_ipv6(host)) {
            snprintf(err, err_len, "redis_url %s: [%.*s] is not an IPv6 address", text,
                     (int)(end - p - 1), p + 1);
            return -1;
        }
        end++;
    } else {
        end = p + strcspn(p, ":/[],");
        size_t hostport_len = strcspn(p, "/,");
        const char *colon = memchr(p, ':', hostport_len);
        if (colon && memchr(colon + 1, ':', hostport_len - (size_t)(colon + 1 - p))) {
            snprintf(err, err_len,
                     "redis_url %s: an IPv6 address goes in brackets, as in redis://[::1]:6379",
                     text);
            return -1;
        }
        if (end == p) {
            snprintf(err, err_len, "redis_url %s: no host; " EXPECTED, text);
            return -1;
        }
        if (copy_part(host, host_size, p, (size_t)(end - p)) < 0) {
            snprintf(err, err_len, "redis_url %s: the host name is too long", text);
            return -1;
        }
    }
    *port_out = default_port;
    if (*end == ':') {
        char *port_end;
        long port = strtol(end + 1, &port_end, 10);
        if (port_end == end + 1 || port < 1 || port > 65535 || end[1] == '+' || end[1] == '-') {
            snprintf(err, err_len, "redis_url %s: the port must be a number from 1 to 65535", text);
            return -1;
        }
        *port_out = (int)port;
        end = port_end;
    }
    *endp = end;
    return 0;
}

static void format_where(char *dst, size_t size, const char *prefix, const char *host, int port)
{
    if (strchr(host, ':'))
        snprintf(dst, size, "%s[%s]:%d", prefix, host, port);
    else
        snprintf(dst, size, "%s%s:%d", prefix, host, port);
}

/* host[:port], then nothing, "/" or "/0". */
static int parse_hostport(const char *text, const char *p, struct redis_url *u, char *err,
                          size_t err_len)
{
    const char *end;
    if (parse_one_host(text, p, u->host, sizeof(u->host), &u->port, REDIS_URL_DEFAULT_PORT, &end,
                       err, err_len) < 0)
        return -1;
    if (*end && strcmp(end, "/") != 0 && strcmp(end, "/0") != 0) {
        if (*end == '/')
            snprintf(err, err_len,
                     "redis_url %s: only database 0 is supported (streams are per agent already)",
                     text);
        else
            snprintf(err, err_len, "redis_url %s: unexpected \"%s\" after the host; " EXPECTED,
                     text, end);
        return -1;
    }
    format_where(u->where, sizeof(u->where), "redis ", u->host, u->port);
    return 0;
}

/* host[:port][,host[:port]...]/mastername */
static int parse_sentinels(const char *text, const char *p, struct redis_url *u, char *err,
                           size_t err_len)
{
    for (;;) {
        if (u->n_sentinels == REDIS_URL_MAX_SENTINELS) {
            snprintf(err, err_len, "redis_url %s: more than %d sentinels", text,
                     REDIS_URL_MAX_SENTINELS);
            return -1;
        }
        struct redis_url_sentinel *s = &u->sentinels[u->n_sentinels++];
        const char *end;
        if (parse_one_host(text, p, s->host, sizeof(s->host), &s->port, REDIS_URL_SENTINEL_PORT,
                           &end, err, err_len) < 0)
            return -1;
        if (*end == ',') {
            p = end + 1;
            continue;
        }
        if (*end != '/' || !end[1]) {
            snprintf(err, err_len, "redis_url %s: the master's name is missing; " EXPECTED, text);
            return -1;
        }
        const char *name = end + 1;
        if (strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
                strlen(name) ||
            copy_part(u->master_name, sizeof(u->master_name), name, strlen(name)) < 0) {
            snprintf(err, err_len,
                     "redis_url %s: the master's name must be up to %zu letters, digits, '.', "
                     "'_' or '-'",
                     text, sizeof(u->master_name) - 1);
            return -1;
        }
        break;
    }
    snprintf(u->where, sizeof(u->where), "redis sentinel %s (%u sentinels)", u->master_name,
             u->n_sentinels);
    return 0;
}

void redis_url_set_master(struct redis_url *u, const char *host, int port)
{
    snprintf(u->host, sizeof(u->host), "%s", host);
    u->port = port;
    char prefix[160];
    snprintf(prefix, sizeof(prefix), "redis sentinel %s master ", u->master_name);
    format_where(u->where, sizeof(u->where), prefix, host, port);
}

int redis_url_parse(const char *text, struct redis_url *u, char *err, size_t err_len)
{
    memset(u, 0, sizeof(*u));
    if (strncmp(text, "unix:", 5) == 0)
        return parse_unix(text, u, err, err_len);
    if (strncmp(text, "rediss://", 9) == 0) {
        snprintf(
            err, err_len,
            "redis_url %s: TLS goes through stunnel (docs/deployment.md); point redis_url at its "
            "local end, redis://127.0.0.1:PORT",
            text);
        return -1;
    }
    bool sentinel = strncmp(text, "sentinel://", 11) == 0;
    if (!sentinel && strncmp(text, "redis://", 8) != 0) {
        snprintf(err, err_len, "redis_url %s: " EXPECTED, text);
        return -1;
    }
    const char *p = text + (sentinel ? 11 : 8), *at = strrchr(p, '@');
    int rc = 0;
    if (at) {
        rc = parse_userinfo(p, at, u, err, err_len);
        p = at + 1;
    }
    if (rc == 0)
        rc = sentinel ? parse_sentinels(text, p, u, err, err_len)
                      : parse_hostport(text, p, u, err, err_len);
    if (rc < 0)
        redis_url_wipe(u);
    return rc;
}

int redis_url_credentials(struct redis_url *u, const char *user, const char *password_file,
                          char *err, size_t err_len)
{
    if (user && user[0] && !u->user[0] &&
        copy_part(u->user, sizeof(u->user), user, strlen(user)) < 0) {
        snprintf(err, err_len, "user %s: longer than %zu bytes", user, sizeof(u->user) - 1);
        return -1;
    }
    if (password_file && password_file[0] && !u->has_password) {
        if (secret_read_file(password_file, u->password, sizeof(u->password), err, err_len) < 0)
            return -1;
        u->has_password = true;
    }
    if (u->user[0] && !u->has_password) {
        snprintf(err, err_len, "Redis user %s needs a password (password_file or user:password@)",
                 u->user);
        return -1;
    }
    return 0;
}

int redis_url_auth_argv(const struct redis_url *u, const char *argv[3], size_t lens[3])
{
    if (!u->has_password)
        return 0;
    int argc = 0;
    argv[argc] = "AUTH";
    lens[argc++] = 4;
    if (u->user[0]) {
        argv[argc] = u->user;
        lens[argc++] = strlen(u->user);
    }
    argv[argc] = u->password;
    lens[argc++] = strlen(u->password);
    return argc;
}

void redis_url_wipe(struct redis_url *u)
{
    explicit_bzero(u->password, sizeof(u->password));
}
