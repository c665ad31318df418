/* url.h — where a Redis is and who we are to it: the one URL grammar of
 * the agent, the collector and canh-tail.
 *
 *   redis://[user[:password]@]host[:port][/0]
 *   unix:/path   (also unix:///path)
 *   sentinel://[user[:password]@]host[:port][,host[:port]...]/mastername
 *
 * host is a name, an IPv4 address or an IPv6 address in brackets
 * ("redis://[::1]:6380"); the port defaults to 6379.  Only database 0
 * exists for canh (streams are per agent already).  TLS is stunnel's job
 * (architecture §8), so rediss:// is refused with that hint.  Credentials may
 * also come from configuration keys (user, password_file):
 * redis_url_credentials() merges them, the URL winning.
 *
 * A sentinel:// URL names up to REDIS_URL_MAX_SENTINELS Redis Sentinels
 * (port 26379 by default) and the master they watch; the credentials are
 * those of the master (the sentinels are asked without AUTH).  host and
 * port are then empty until the link or redis_sentinel_resolve() fills
 * them in with the master the sentinels name (sentinel.h).
 */
#ifndef CANH_REDIS_URL_H
#define CANH_REDIS_URL_H

#include <stdbool.h>
#include <stddef.h>

#define REDIS_URL_DEFAULT_PORT 6379
#define REDIS_URL_SENTINEL_PORT 26379
#define REDIS_URL_MAX_SENTINELS 8

struct redis_url_sentinel {
    char host[256];
    int port;
};

struct redis_url {
    bool unix_socket;
    char host[256]; /* without the brackets of an IPv6 address */
    int port;
    char path[256]; /* unix socket */
    char user[64];  /* "" : the default user */
    char password[512];
    bool has_password;
    char where[300]; /* for messages, never with the password */
    /* sentinel:// only: the sentinels to ask and the master's name. */
    struct redis_url_sentinel sentinels[REDIS_URL_MAX_SENTINELS];
    unsigned n_sentinels;
    char master_name[128];
};

/* Parses text into out; -1 with a message in err ("redis_url X: what is
 * wrong; what is expected") on anything else. */
int redis_url_parse(const char *text, struct redis_url *out, char *err, size_t err_len);

/* Takes user when the URL names none and reads the password from
 * password_file (secret.h) when the URL carries none; either may be NULL
 * or "".  A user without a password is an error (Redis would refuse the
 * AUTH anyway).  -1 with a message in err. */
int redis_url_credentials(struct redis_url *u, const char *user, const char *password_file,
                          char *err, size_t err_len);

/* The AUTH command for u: argc 2 (password) or 3 (user, password), 0 when
 * there is no password.  argv points into u. */
int redis_url_auth_argv(const struct redis_url *u, const char *argv[3], size_t lens[3]);

/* Records the master the sentinels named (host, port and where). */
void redis_url_set_master(struct redis_url *u, const char *host, int port);

/* Forgets the password (explicit_bzero). */
void redis_url_wipe(struct redis_url *u);

#endif
