/* syslog.c — see syslog.h. */
#include "collector/sinks/syslog.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/units.h"

/* RFC 5424 §6.3.3: inside PARAM-VALUE, '"', '\' and ']' are escaped. */
static size_t put_param(char *buf, size_t len, size_t used, const char *name, const char *value)
{
    if (used + strlen(name) + 4 >= len)
        return used;
    used += (size_t)snprintf(buf + used, len - used, " %s=\"", name);
    for (const char *p = value; *p && used + 3 < len; p++) {
        if (*p == '"' || *p == '\\' || *p == ']')
            buf[used++] = '\\';
        buf[used++] = *p;
    }
    if (used + 1 < len)
        buf[used++] = '"';
    buf[used] = '\0';
    return used;
}

static int syslog_severity(const struct incident *inc, const char *action)
{
    if (strcmp(action, "closed") == 0)
        return 6; /* informational */
    switch (inc->severity) {
    case SEV_CRITICAL:
        return 2;
    case SEV_HIGH:
        return 3;
    case SEV_MEDIUM:
        return 4;
    default:
        return 5;
    }
}

/* RFC 3339 in UTC with microseconds (RFC 5424 §6.2.3). */
static const char *rfc3339_utc(uint64_t ts_us, char *buf, size_t len)
{
    time_t secs = (time_t)(ts_us / 1000000);
    struct tm tm;
    char stamp[32];
    gmtime_r(&secs, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%06uZ", stamp, (unsigned)(ts_us % 1000000));
    return buf;
}

size_t syslog_format(char *buf, size_t len, const struct incident *inc, const char *action,
                     const char *job_id, const char *hostname, const char *app, const char *sd_id,
                     uint64_t now_us)
{
    char stamp[48];
    int pri = SYSLOG_FACILITY * 8 + syslog_severity(inc, action);
    size_t used = (size_t)snprintf(
        buf, len, "<%d>1 %s %s %s %ld INCIDENT [%s", pri, rfc3339_utc(now_us, stamp, sizeof(stamp)),
        *hostname ? hostname : "-", *app ? app : "-", (long)getpid(), sd_id);
    if (used >= len)
        return len - 1;
    used = put_param(buf, len, used, "id", inc->id);
    used = put_param(buf, len, used, "action", action);
    used = put_param(buf, len, used, "delivery", job_id);
    used = put_param(buf, len, used, "type", incident_type_name(inc->type));
    used = put_param(buf, len, used, "taxonomy", inc->taxonomy->code);
    used = put_param(buf, len, used, "severity", severity_name(inc->severity));
    used = put_param(buf, len, used, "class", inc->serious ? "serious_candidate" : "normal");
    used = put_param(buf, len, used, "status", incident_status_name(inc->status));
    used = put_param(buf, len, used, "agency", inc->agency);
    used = put_param(buf, len, used, "asset", inc->asset);
    used = put_param(buf, len, used, "sources", inc->sources);
    used = put_param(buf, len, used, "targets", inc->targets);
    used = put_param(buf, len, used, "kinds", inc->kinds);
    /* The header's TIMESTAMP is when this message was made; the SIEM
     * places the attack by the event time the agents saw. */
    if (inc->first_seen_us)
        used = put_param(buf, len, used, "first_seen",
                         rfc3339_utc(inc->first_seen_us, stamp, sizeof(stamp)));
    if (inc->last_seen_us)
        used = put_param(buf, len, used, "last_seen",
                         rfc3339_utc(inc->last_seen_us, stamp, sizeof(stamp)));
    if (used + 2 < len) {
        /* MSG is UTF-8 (Vietnamese): RFC 5424 §6.4 marks it with a BOM. */
        used += (size_t)snprintf(
            buf + used, len - used, "] \xEF\xBB\xBF%s: %s - %s - %s → %s - %s", action,
            inc->taxonomy->vi, inc->agency, *inc->sources ? inc->sources : "?",
            *inc->asset ? inc->asset : (*inc->targets ? inc->targets : "?"), inc->summary);
    }
    return used < len ? used : len - 1;
}

struct pending {
    size_t end; /* output bytes queued up to and including this message */
    syslog_done_fn done;
    void *priv;
};

struct syslog_sink {
    struct event_base *base;
    bool tcp;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int udp_fd;
    struct bufferevent *bev;
    bool connected;
    struct pending q[64];
    size_t nq;
    size_t queued_bytes;
};

struct syslog_sink *syslog_sink_new(struct event_base *base, const char *host, uint16_t port,
                                    bool tcp)
{
    struct addrinfo hints = {.ai_socktype = tcp ? SOCK_STREAM : SOCK_DGRAM}, *res = NULL;
    char portbuf[8];
    snprintf(portbuf, sizeof(portbuf), "%u", port);
    int rc = getaddrinfo(host, portbuf, &hints, &res);
    if (rc != 0 || !res) {
        log_err("syslog host %s: %s", host, gai_strerror(rc));
        return NULL;
    }
    struct syslog_sink *s = calloc(1, sizeof(*s));
    if (!s) {
        freeaddrinfo(res);
        return NULL;
    }
    s->base = base;
    s->tcp = tcp;
    memcpy(&s->addr, res->ai_addr, res->ai_addrlen);
    s->addrlen = res->ai_addrlen;
    s->udp_fd = -1;
    if (!tcp) {
        s->udp_fd = socket(res->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s->udp_fd < 0) {
            log_err("syslog socket: %s", strerror(errno));
            freeaddrinfo(res);
            free(s);
            return NULL;
        }
    }
    freeaddrinfo(res);
    return s;
}

static void fail_all(struct syslog_sink *s, const char *error)
{
    size_t n = s->nq;
    struct pending q[64];
    memcpy(q, s->q, n * sizeof(q[0]));
    s->nq = 0;
    s->queued_bytes = 0;
    if (s->bev)
        bufferevent_free(s->bev);
    s->bev = NULL;
    s->connected = false;
    for (size_t i = 0; i < n; i++)
        q[i].done(q[i].priv, error);
}

static void on_written(struct bufferevent *bev, void *arg)
{
    struct syslog_sink *s = arg;
    /* The output buffer is empty: everything queued reached the kernel. */
    size_t n = s->nq;
    struct pending q[64];
    memcpy(q, s->q, n * sizeof(q[0]));
    s->nq = 0;
    s->queued_bytes = 0;
    for (size_t i = 0; i < n; i++)
        q[i].done(q[i].priv, NULL);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct syslog_sink *s = arg;
    if (what & BEV_EVENT_CONNECTED) {
        s->connected = true;
        return;
    }
    fail_all(s,
             (what & BEV_EVENT_TIMEOUT) ? "syslog TCP timed out" : "syslog TCP connection failed");
}

void syslog_sink_send(struct syslog_sink *s, const char *msg, size_t len, syslog_done_fn done,
                      void *priv)
{
    if (!s->tcp) {
        ssize_t n = sendto(s->udp_fd, msg, len, 0, (struct sockaddr *)&s->addr, s->addrlen);
        done(priv, n == (ssize_t)len ? NULL : "syslog UDP send failed");
        return;
    }
    if (s->nq == 64) {
        done(priv, "syslog TCP queue full");
        return;
    }
    if (!s->bev) {
        s->bev = bufferevent_socket_new(s->base, -1, BEV_OPT_CLOSE_ON_FREE);
        if (!s->bev) {
            done(priv, "out of memory");
            return;
        }
        bufferevent_setcb(s->bev, NULL, on_written, on_event, s);
        struct timeval tv = {10, 0};
        bufferevent_set_timeouts(s->bev, NULL, &tv);
        bufferevent_enable(s->bev, EV_READ | EV_WRITE);
        if (bufferevent_socket_connect(s->bev, (struct sockaddr *)&s->addr, (int)s->addrlen) < 0) {
            bufferevent_free(s->bev);
            s->bev = NULL;
            done(priv, "syslog TCP connect failed");
            return;
        }
    }
    /* RFC 6587 octet counting: "<length> <message>". */
    char prefix[24];
    int plen = snprintf(prefix, sizeof(prefix), "%zu ", len);
    struct evbuffer *out = bufferevent_get_output(s->bev);
    evbuffer_add(out, prefix, (size_t)plen);
    evbuffer_add(out, msg, len);
    s->queued_bytes += (size_t)plen + len;
    s->q[s->nq++] = (struct pending){s->queued_bytes, done, priv};
}

void syslog_sink_free(struct syslog_sink *s)
{
    if (!s)
        return;
    fail_all(s, "shutting down");
    if (s->udp_fd >= 0)
        close(s->udp_fd);
    free(s);
}

/* ---- the escalation sink -------------------------------------------- */

struct syslog_escalation {
    struct event_base *base;
    char host[256];
    uint16_t port;
    bool tcp;
    char app[48];
    char sd_id[33];
    char hostname[128];
    struct syslog_sink *link; /* NULL until the host resolves */
};

static int escalation_open(void **state, const struct collector_config *cfg,
                           const struct route *route, struct event_base *base)
{
    (void)cfg;
    struct syslog_escalation *e = calloc(1, sizeof(*e));
    if (!e)
        return -1;
    e->base = base;
    snprintf(e->host, sizeof(e->host), "%s", route->host);
    e->port = route->port;
    e->tcp = route->tcp;
    snprintf(e->app, sizeof(e->app), "%s", route->app);
    snprintf(e->sd_id, sizeof(e->sd_id), "%s", route->sd_id);
    gethostname(e->hostname, sizeof(e->hostname) - 1);
    *state = e;
    return 0;
}

static void escalation_send(void *state, const struct collector_config *cfg,
                            const struct sink_delivery *d, sink_done_fn done, void *priv)
{
    (void)cfg;
    struct syslog_escalation *e = state;
    char msg[2048];
    size_t len = syslog_format(msg, sizeof(msg), d->inc, d->action, d->id, e->hostname, e->app,
                               e->sd_id, units_now_us());
    if (!e->link) {
        e->link = syslog_sink_new(e->base, e->host, e->port, e->tcp);
        if (!e->link) {
            done(priv, "syslog host cannot be resolved");
            return;
        }
    }
    syslog_sink_send(e->link, msg, len, done, priv);
}

static void escalation_close(void *state)
{
    struct syslog_escalation *e = state;
    if (!e)
        return;
    syslog_sink_free(e->link);
    free(e);
}

const struct sink_ops syslog_sink_ops = {
    .name = "syslog", .open = escalation_open, .send = escalation_send, .close = escalation_close};
