/* auth.c — access control of the status page.
 *
 * A bearer token (Authorization header or ?token=) and/or HTTP basic
 * auth, read from the files [status] names and compared in constant time.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "collector/collector.h"
#include "collector/status/status_internal.h"
#include "common/log.h"
#include "common/redis/secret.h"

int status_load_secrets(struct status *s, char *token, char *basic, size_t basic_len)
{
    const struct collector_config *cfg = s->c->cfg;
    token[0] = basic[0] = '\0';
    char why[512];
    if (cfg->status_token_file[0] &&
        secret_read_file(cfg->status_token_file, token, sizeof(s->token), why, sizeof(why)) < 0) {
        log_err("status page: token_file: %s", why);
        return -1;
    }
    if (cfg->status_user[0]) {
        char password[512], pair[600];
        if (secret_read_file(cfg->status_password_file, password, sizeof(password), why,
                             sizeof(why)) < 0) {
            log_err("status page: password_file: %s", why);
            return -1;
        }
        int n = snprintf(pair, sizeof(pair), "%s:%s", cfg->status_user, password);
        OPENSSL_cleanse(password, sizeof(password));
        if (n < 0 || (size_t)n >= sizeof(pair) || (size_t)(4 * ((n + 2) / 3) + 1) > basic_len)
            return -1;
        EVP_EncodeBlock((unsigned char *)basic, (const unsigned char *)pair, n);
        OPENSSL_cleanse(pair, sizeof(pair));
    }
    return 0;
}

/* Lengths may leak through timing, contents not. */
static bool secret_equal(const char *given, size_t given_len, const char *want)
{
    size_t want_len = strlen(want);
    return want_len && given_len == want_len && CRYPTO_memcmp(given, want, want_len) == 0;
}

bool status_authorized(struct status *s, struct evhttp_request *req, const struct evkeyvalq *query)
{
    if (!s->token[0] && !s->basic[0])
        return true;
    const char *auth = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    if (auth && s->token[0] && strncasecmp(auth, "Bearer ", 7) == 0 &&
        secret_equal(auth + 7, strlen(auth + 7), s->token))
        return true;
    if (auth && s->basic[0] && strncasecmp(auth, "Basic ", 6) == 0 &&
        secret_equal(auth + 6, strlen(auth + 6), s->basic))
        return true;
    const char *t = evhttp_find_header(query, "token");
    return t && s->token[0] && secret_equal(t, strlen(t), s->token);
}
