/* email.c — see email.h. */
#include "collector/sinks/email.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "collector/route.h"
#include "common/log.h"
#include "common/units.h"

#define EMAIL_MAX_ARGS 16
#define EMAIL_MAX_BYTES (48 * 1024) /* below a pipe's buffer: one write never waits */

extern char **environ;

struct email {
    struct event_base *base;
    char *argv[EMAIL_MAX_ARGS + 3];
    char command[512]; /* argv points into it */
    char hostname[128];
    uint64_t timeout_us;
    struct mail *running; /* the messages whose sendmail has not exited */
};

/* One sendmail run: its pidfd tells the loop when it exits. */
struct mail {
    struct email *owner;
    pid_t pid;
    int pidfd;
    struct event *exited, *deadline;
    sink_done_fn done;
    void *priv;
    struct mail *next;
};

/* =?UTF-8?B?...?= of text (RFC 2047), for a subject that holds Vietnamese. */
static void encoded_word(const char *text, char *out, size_t size)
{
    unsigned char b64[400]; /* 4/3 of the 280 bytes kept */
    size_t len = strlen(text);
    if (len > 280)
        len = 280; /* a long subject is cut; the body has it all */
    while (len && ((unsigned char)text[len] & 0xC0) == 0x80)
        len--; /* not in the middle of a UTF-8 sequence */
    EVP_EncodeBlock(b64, (const unsigned char *)text, (int)len);
    snprintf(out, size, "=?UTF-8?B?%s?=", b64);
}

char *email_message(const struct sink_delivery *d, const char *hostname)
{
    const struct incident *inc = d->inc;
    const struct route *r = d->route;
    char subject[1400], encoded[2000], first[64], last[64], now[64];
    snprintf(subject, sizeof(subject), "[canh] %s: %s %s — %s (%s)", d->action,
             severity_name(inc->severity), inc->taxonomy ? inc->taxonomy->vi : "?",
             inc->agency[0] ? inc->agency : "-", inc->id);
    encoded_word(subject, encoded, sizeof(encoded));
    units_format_time(inc->first_seen_us, first, sizeof(first));
    units_format_time(inc->last_seen_us, last, sizeof(last));
    units_format_time(units_now_us(), now, sizeof(now));
    json_t *j = incident_to_json(inc);
    char *js = json_dumps(j, JSON_INDENT(2));
    json_decref(j);
    char *msg = malloc(EMAIL_MAX_BYTES);
    if (!msg || !js) {
        free(msg);
        free(js);
        return NULL;
    }
    char from[300];
    if (r->mail_from[0])
        snprintf(from, sizeof(from), "%s", r->mail_from);
    else
        snprintf(from, sizeof(from), "canh-collector@%s", hostname);
    int n =
        snprintf(msg, EMAIL_MAX_BYTES,
                 "From: %s\r\nTo: %s\r\nSubject: %s\r\nMIME-Version: 1.0\r\n"
                 "Content-Type: text/plain; charset=utf-8\r\n"
                 "Content-Transfer-Encoding: 8bit\r\nX-Canh-Delivery: %s\r\n"
                 "X-Canh-Action: %s\r\nX-Canh-Route: %s\r\n\r\n"
                 "Sự cố / Incident: %s\r\n"
                 "Hành động / Action: %s\r\n"
                 "Loại / Type: %s — %s (%s)\r\n"
                 "Mức độ / Severity: %s, %s\r\n"
                 "Cơ quan / Agency: %s\r\n"
                 "Hệ thống / System: %s (cấp độ / level %d)\r\n"
                 "Nguồn / Sources: %s\r\n"
                 "Đích / Targets: %s\r\n"
                 "Phát hiện / Seen: %s .. %s\r\n"
                 "Tóm tắt / Summary: %s\r\n"
                 "Ghi chú / Note: %s\r\n\r\n"
                 "Gửi lúc / Sent: %s\r\n\r\n",
                 from, r->mail_to, encoded, d->id, d->action, r->name, inc->id, d->action,
                 inc->taxonomy ? inc->taxonomy->vi : "?", inc->taxonomy ? inc->taxonomy->en : "?",
                 inc->taxonomy ? inc->taxonomy->code : "?", severity_name(inc->severity),
                 route_class_name(route_incident_class(inc)), inc->agency,
                 inc->asset[0] ? inc->asset : "-", inc->level, inc->sources, inc->targets, first,
                 last, inc->summary, d->note && d->note[0] ? d->note : "-", now);
    if (n < 0 || n >= EMAIL_MAX_BYTES) {
        free(js);
        free(msg);
        return NULL;
    }
    /* The JSON last, cut to what fits; lines end in CRLF as RFC 5322 asks. */
    size_t used = (size_t)n;
    for (const char *p = js; *p && used + 4 < EMAIL_MAX_BYTES; p++) {
        if (*p == '\n')
            msg[used++] = '\r';
        msg[used++] = *p;
    }
    memcpy(msg + used, "\r\n", 3);
    free(js);
    return msg;
}

static void mail_free(struct mail *m)
{
    struct mail **p = &m->owner->running;
    while (*p && *p != m)
        p = &(*p)->next;
    if (*p)
        *p = m->next;
    if (m->exited)
        event_free(m->exited);
    if (m->deadline)
        event_free(m->deadline);
    if (m->pidfd >= 0)
        close(m->pidfd);
    free(m);
}

/* sendmail exited: its status is the delivery's outcome. */
static void on_exit_fd(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct mail *m = arg;
    int status = 0;
    char error[96];
    const char *why = NULL;
    if (waitpid(m->pid, &status, 0) < 0) {
        why = "sendmail: lost its exit status";
    } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
        snprintf(error, sizeof(error), "sendmail exited with status %d", WEXITSTATUS(status));
        why = error;
    } else if (WIFSIGNALED(status)) {
        snprintf(error, sizeof(error), "sendmail killed by signal %d (timeout?)", WTERMSIG(status));
        why = error;
    }
    sink_done_fn done = m->done;
    void *priv = m->priv;
    mail_free(m);
    done(priv, why);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct mail *m = arg;
    kill(m->pid, SIGKILL); /* its exit then finishes the delivery */
}

static void email_send(void *state, const struct collector_config *cfg,
                       const struct sink_delivery *d, sink_done_fn done, void *priv)
{
    (void)cfg;
    struct email *e = state;
    char *msg = email_message(d, e->hostname);
    struct mail *m = calloc(1, sizeof(*m));
    int in[2] = {-1, -1};
    const char *why = "out of memory";
    if (!msg || !m)
        goto fail;
    m->owner = e;
    m->pidfd = -1;
    why = "cannot start sendmail";
    if (pipe2(in, O_CLOEXEC) < 0)
        goto fail;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
    int rc = posix_spawn(&m->pid, e->argv[0], &fa, NULL, e->argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    in[0] = -1;
    if (rc != 0) {
        log_err("email: cannot run %s: %s", e->argv[0], strerror(rc));
        goto fail;
    }
    /* The message is smaller than the pipe's buffer: this never waits. */
    size_t len = strlen(msg);
    ssize_t w = write(in[1], msg, len);
    close(in[1]);
    in[1] = -1;
    if (w != (ssize_t)len)
        log_warn("email: sendmail took %zd of %zu bytes", w, len);
    m->pidfd = (int)syscall(SYS_pidfd_open, m->pid, 0);
    m->exited = m->pidfd >= 0 ? event_new(e->base, m->pidfd, EV_READ, on_exit_fd, m) : NULL;
    m->deadline = evtimer_new(e->base, on_deadline, m);
    if (!m->exited || !m->deadline) {
        /* No way to hear of its exit on the loop: wait for it here. */
        int status;
        kill(m->pid, SIGKILL);
        waitpid(m->pid, &status, 0);
        goto fail;
    }
    struct timeval tv = {(time_t)(e->timeout_us / 1000000), (suseconds_t)(e->timeout_us % 1000000)};
    event_add(m->exited, NULL);
    event_add(m->deadline, &tv);
    m->done = done;
    m->priv = priv;
    m->next = e->running;
    e->running = m;
    free(msg);
    return;
fail:
    if (in[0] >= 0)
        close(in[0]);
    if (in[1] >= 0)
        close(in[1]);
    if (m) {
        m->owner = e;
        mail_free(m);
    }
    free(msg);
    done(priv, why);
}

static void email_close(void *state)
{
    struct email *e = state;
    if (!e)
        return;
    /* Messages still with sendmail are its to deliver; the queue will try
     * again (a receiver drops the repeat by X-Canh-Delivery). */
    while (e->running) {
        struct mail *m = e->running;
        sink_done_fn done = m->done;
        void *priv = m->priv;
        int status;
        if (waitpid(m->pid, &status, WNOHANG) == 0)
            kill(m->pid, SIGKILL), waitpid(m->pid, &status, 0);
        mail_free(m);
        done(priv, "the route closed before sendmail finished");
    }
    free(e);
}

static int email_open(void **state, const struct collector_config *cfg, const struct route *route,
                      struct event_base *base)
{
    (void)cfg;
    struct email *e = calloc(1, sizeof(*e));
    if (!e)
        return -1;
    e->base = base;
    e->timeout_us = route->timeout_us;
    gethostname(e->hostname, sizeof(e->hostname) - 1);
    snprintf(e->command, sizeof(e->command), "%s", route->sendmail);
    size_t n = 0;
    for (char *save = NULL, *tok = strtok_r(e->command, " \t", &save); tok;
         tok = strtok_r(NULL, " \t", &save)) {
        if (n == EMAIL_MAX_ARGS) {
            log_err("route %s: sendmail has more than %d words", route->name, EMAIL_MAX_ARGS);
            free(e);
            return -1;
        }
        e->argv[n++] = tok;
    }
    e->argv[n++] = "-oi";
    e->argv[n++] = "-t";
    e->argv[n] = NULL;
    *state = e;
    return 0;
}

const struct sink_ops email_sink_ops = {
    .name = "email", .open = email_open, .send = email_send, .close = email_close};
