/* report.c — see report.h: the drafts' fields, writing them, and the
 * notification sink. */
#include "collector/report.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/units.h"

static const char *const kind_names[REPORT_KIND_COUNT] = {"notification", "initial", "final"};

static const char *const kind_titles[REPORT_KIND_COUNT] = {
    "THÔNG BÁO SỰ CỐ AN TOÀN THÔNG TIN MẠNG",
    "BÁO CÁO BAN ĐẦU SỰ CỐ MẠNG",
    "BÁO CÁO KẾT THÚC ỨNG PHÓ SỰ CỐ",
};

/* Every draft has these, in this order; the final report adds the
 * initial report it cites and the outcome. */
#define COMMON_FIELDS                                                                              \
    "form", "title", "legal_basis", "draft", "number", "report_date", "incident_id", "deadline",   \
        "reporting_organisation", "contact", "recipients", "system", "detected_at",                \
        "first_activity_at", "how_detected", "status", "incident_type", "classification",          \
        "severity", "description", "sources", "targets", "evidence", "measures_taken", "notified", \
        "support_requested", "confidentiality"

static const char *const notification_fields[] = {COMMON_FIELDS, NULL};
static const char *const initial_fields[] = {COMMON_FIELDS, NULL};
static const char *const final_fields[] = {COMMON_FIELDS, "initial_report", "outcome", NULL};

const char *report_kind_name(enum report_kind k)
{
    return k < REPORT_KIND_COUNT ? kind_names[k] : "?";
}

int report_kind_parse(const char *name, enum report_kind *out)
{
    for (int k = 0; k < REPORT_KIND_COUNT; k++)
        if (strcmp(name, kind_names[k]) == 0) {
            *out = (enum report_kind)k;
            return 0;
        }
    return -1;
}

const char *const *report_fields(enum report_kind k)
{
    return k == REPORT_FINAL     ? final_fields
           : k == REPORT_INITIAL ? initial_fields
                                 : notification_fields;
}

const char *report_date(uint64_t us, char *buf, size_t len)
{
    if (!us) {
        snprintf(buf, len, "%s", "");
        return buf;
    }
    time_t secs = (time_t)(us / 1000000);
    struct tm tm;
    localtime_r(&secs, &tm);
    strftime(buf, len, "%d/%m/%Y %H:%M", &tm);
    return buf;
}

static json_t *text_or_fill(const char *s)
{
    return json_string(s && *s ? s : REPORT_TO_FILL);
}

static json_t *date_json(uint64_t us)
{
    char buf[32];
    return us ? json_string(report_date(us, buf, sizeof(buf))) : json_string(REPORT_TO_FILL);
}

/* A comma list as a JSON array (trimmed items). */
static json_t *list_json(const char *list)
{
    json_t *a = json_array();
    char item[256];
    for (const char *p = list ? list : ""; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ",");
        if (n) {
            snprintf(item, sizeof(item), "%.*s", (int)n, p);
            size_t end = strlen(item);
            while (end && item[end - 1] == ' ')
                item[--end] = '\0';
            json_array_append_new(a, json_string(item));
        }
        p += n;
    }
    return a;
}

static const char *state_vi(enum incident_state s)
{
    switch (s) {
    case STATE_OPEN:
        return "Đang theo dõi, chưa xử lý";
    case STATE_ACKNOWLEDGED:
        return "Đã tiếp nhận, đang xử lý";
    case STATE_CONFIRMED:
        return "Đã xác nhận, đang ứng cứu";
    case STATE_REJECTED:
        return "Đã xác định là cảnh báo sai";
    case STATE_RESOLVED:
        return "Đã xử lý xong";
    default:
        return "Đã đóng (hết dấu hiệu tấn công)";
    }
}

static const char *severity_vi(enum severity s)
{
    switch (s) {
    case SEV_CRITICAL:
        return "Nghiêm trọng";
    case SEV_HIGH:
        return "Cao";
    case SEV_MEDIUM:
        return "Trung bình";
    default:
        return "Thấp";
    }
}

static json_t *organisation(const struct report_input *in)
{
    const struct registry_unit *u = registry_unit_for(in->reg, in->inc->agency);
    /* [report] reporting_unit/contact of collector.conf stand in for a
     * registry that does not name the unit. */
    json_t *o = json_object();
    json_object_set_new(o, "name", text_or_fill(u->unit[0] ? u->unit : in->cfg->reporting_unit));
    json_object_set_new(o, "address", text_or_fill(u->address));
    json_object_set_new(o, "phone", text_or_fill(u->phone));
    json_object_set_new(o, "email", text_or_fill(u->email));
    return o;
}

static json_t *contact(const struct report_input *in)
{
    const struct registry_unit *u = registry_unit_for(in->reg, in->inc->agency);
    json_t *o = json_object();
    json_object_set_new(o, "name",
                        text_or_fill(u->contact_name[0] ? u->contact_name : in->cfg->contact));
    json_object_set_new(o, "title", text_or_fill(u->contact_title));
    json_object_set_new(o, "phone", text_or_fill(u->contact_phone));
    json_object_set_new(o, "email", text_or_fill(u->contact_email));
    return o;
}

static json_t *system_json(const struct report_input *in)
{
    const struct incident *inc = in->inc;
    const struct registry_unit *u = registry_unit_for(in->reg, inc->agency);
    const struct registry_system *s = registry_system_for(in->reg, inc->agency, inc->asset);
    json_t *o = json_object();
    json_object_set_new(o, "name", text_or_fill(inc->asset));
    json_object_set_new(o, "title", text_or_fill(s ? s->title : NULL));
    const char *owner = s && s->owner[0] ? s->owner : inc->asset_owner;
    json_object_set_new(o, "owner", text_or_fill(owner[0] ? owner : inc->agency));
    json_object_set_new(o, "operator", text_or_fill(inc->agency));
    json_object_set_new(o, "level", inc->level ? json_integer(inc->level) : json_null());
    json_object_set_new(o, "national_critical", json_boolean(inc->national_critical));
    /* Empty lists are the team's to fill (the Markdown says so). */
    json_t *addresses = list_json(s ? s->addresses : NULL);
    if (!json_array_size(addresses)) {
        json_decref(addresses);
        addresses = list_json(inc->targets);
    }
    json_object_set_new(o, "addresses", addresses);
    json_object_set_new(o, "domains", list_json(s ? s->domains : NULL));
    json_object_set_new(o, "isp", text_or_fill(s && s->isp[0] ? s->isp : u->isp));
    json_object_set_new(
        o, "security_provider",
        text_or_fill(s && s->security_provider[0] ? s->security_provider : u->security_provider));
    return o;
}

static json_t *classification(const struct report_input *in)
{
    const struct incident *inc = in->inc;
    json_t *o = json_object();
    json_object_set_new(o, "class", json_string(inc->serious ? "serious_candidate" : "normal"));
    json_object_set_new(o, "confirmed_class",
                        in->confirmed_class ? json_string(in->confirmed_class) : json_null());
    json_t *cs = json_array();
    json_t *names = list_json(inc->consequences);
    size_t i;
    json_t *name;
    json_array_foreach(names, i, name)
    {
        enum consequence c = consequence_parse(json_string_value(name));
        json_array_append_new(
            cs, json_pack("{s:s,s:s}", "code", consequence_name(c), "vi", consequence_vi(c)));
    }
    json_decref(names);
    json_object_set_new(o, "consequences", cs);
    json_object_set_new(o, "sensor_fault", json_boolean(inc->sensor));
    const char *criteria;
    if (in->confirmed_class && strcmp(in->confirmed_class, "serious") == 0)
        criteria = "Sự cố nghiêm trọng theo Quyết định 05/2017/QĐ-TTg: hệ thống quan trọng chịu "
                   "hậu quả được liệt kê (tiêu chí 1) và Đội ứng cứu xác nhận chủ quản không tự "
                   "xử lý được (tiêu chí 2)";
    else if (inc->serious)
        criteria = "Có dấu hiệu sự cố nghiêm trọng (tiêu chí 1 của Quyết định 05/2017/QĐ-TTg "
                   "thấy trên đường truyền); tiêu chí 2 chờ Đội ứng cứu xác nhận";
    else
        criteria = "Sự cố thông thường";
    json_object_set_new(o, "serious_criteria", json_string(criteria));
    return o;
}

static json_t *how_detected(const struct incident *inc)
{
    char buf[1024];
    if (inc->type == INCIDENT_MANUAL)
        return json_string("Cán bộ báo sự cố, Đội ứng cứu ghi nhận (canh-ctl open)");
    if (inc->type == INCIDENT_FAULT)
        snprintf(buf, sizeof(buf),
                 "Hệ thống giám sát canh: cảm biến %s ngừng gửi tín hiệu (heartbeat)", inc->agents);
    else
        snprintf(buf, sizeof(buf),
                 "Hệ thống giám sát an toàn thông tin mạng canh, cảm biến %s, phát hiện trên lưu "
                 "lượng mạng (dạng: %s)",
                 inc->agents[0] ? inc->agents : "?", inc->kinds);
    return json_string(buf);
}

static json_t *evidence_json(const struct incident *inc)
{
    json_t *o = json_object();
    json_t *summary = json_loads(inc->evidence[0] ? inc->evidence : "{}", 0, NULL);
    json_object_set_new(o, "summary", summary ? summary : json_object());
    json_object_set_new(o, "events", json_integer((json_int_t)inc->events));
    json_object_set_new(o, "event_ids", list_json(inc->event_ids));
    /* The files stay on the gateways (evidence/<finding id>.pcap in the
     * agent's state directory); each finding's end event carries their
     * size and SHA-256 (canh.pcap). */
    json_object_set_new(o, "pcaps", list_json(inc->pcaps));
    json_object_set_new(o, "agents", list_json(inc->agents));
    return o;
}

static bool is_delivery(const struct report_log_entry *e)
{
    return strcmp(e->action, "delivered") == 0 || strcmp(e->action, "report_sent") == 0;
}

static const char *action_vi(const char *action)
{
    static const char *const names[][2] = {
        {"opened", "Mở sự cố"},
        {"acknowledged", "Tiếp nhận xử lý"},
        {"confirmed", "Xác nhận sự cố"},
        {"noted", "Ghi nhận biện pháp"},
        {"resolved", "Kết thúc ứng phó"},
        {"reopened", "Mở lại"},
        {"rejected", "Xác định là cảnh báo sai"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(action, names[i][0]) == 0)
            return names[i][1];
    return action;
}

/* What people did about it, from the log: the operators' entries (the
 * collector's own are bookkeeping, deliveries go to "notified"). */
static json_t *measures(const struct report_input *in)
{
    json_t *a = json_array();
    char when[32];
    for (size_t i = 0; i < in->n_log; i++) {
        const struct report_log_entry *e = &in->log[i];
        if (is_delivery(e) || strcmp(e->operator_, "collector") == 0)
            continue;
        json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s,s:s}", "at",
                                           report_date(e->at_us, when, sizeof(when)), "action",
                                           e->action, "what", action_vi(e->action), "by",
                                           e->operator_, "note", e->note));
    }
    return a;
}

/* Who already heard of it: deliveries the sinks confirmed, and reports
 * marked sent. */
static json_t *notified(const struct report_input *in)
{
    json_t *a = json_array();
    char when[32];
    for (size_t i = 0; i < in->n_log; i++) {
        const struct report_log_entry *e = &in->log[i];
        /* A draft written is nobody notified. */
        if (!is_delivery(e) || strncmp(e->note, "report ", 7) == 0)
            continue;
        json_array_append_new(a,
                              json_pack("{s:s,s:s}", "at",
                                        report_date(e->at_us, when, sizeof(when)), "via", e->note));
    }
    return a;
}

static json_t *deadline(const struct report_input *in)
{
    json_t *o = json_object();
    json_object_set_new(o, "date", date_json(in->due_us));
    const char *basis = in->kind == REPORT_FINAL
                            ? "05 ngày sau khi kết thúc ứng phó (khi sự cố được xử lý xong)"
                            : "05 ngày kể từ khi phát hiện sự cố (thời điểm canh phát hiện)";
    json_object_set_new(o, "basis", json_string(basis));
    json_object_set_new(o, "overdue", json_boolean(in->due_us && in->now_us > in->due_us));
    return o;
}

json_t *report_build(const struct report_input *in)
{
    const struct incident *inc = in->inc;
    char buf[64];
    json_t *r = json_object();
    if (inc->exercise[0])
        json_object_set_new(
            r, "drill",
            json_pack("{s:s,s:s}", "watermark", REPORT_DRILL_WATERMARK, "exercise", inc->exercise));
    json_object_set_new(r, "form", json_string(kind_names[in->kind]));
    json_object_set_new(r, "title", json_string(kind_titles[in->kind]));
    json_object_set_new(r, "legal_basis",
                        json_string("Thông tư 20/2017/TT-BTTTT, Điều 9; Quyết định "
                                    "05/2017/QĐ-TTg, Điều 11"));
    json_object_set_new(r, "draft", json_true());
    json_object_set_new(r, "number", json_string(REPORT_TO_FILL));
    json_object_set_new(r, "report_date", json_string(report_date(in->now_us, buf, sizeof(buf))));
    json_object_set_new(r, "incident_id", json_string(inc->id));
    json_object_set_new(r, "deadline", deadline(in));
    json_object_set_new(r, "reporting_organisation", organisation(in));
    json_object_set_new(r, "contact", contact(in));
    json_object_set_new(r, "recipients", json_string(in->reg->recipients));
    json_object_set_new(r, "system", system_json(in));
    json_object_set_new(r, "detected_at", date_json(in->detected_us));
    json_object_set_new(r, "first_activity_at", date_json(inc->first_seen_us));
    json_object_set_new(r, "how_detected", how_detected(inc));
    json_object_set_new(r, "status", json_string(state_vi(inc->state)));
    json_object_set_new(r, "incident_type",
                        json_pack("{s:s,s:s,s:s}", "code", inc->taxonomy->code, "vi",
                                  inc->taxonomy->vi, "en", inc->taxonomy->en));
    json_object_set_new(r, "classification", classification(in));
    json_object_set_new(r, "severity",
                        json_pack("{s:s,s:s}", "code", severity_name(inc->severity), "vi",
                                  severity_vi(inc->severity)));
    json_object_set_new(r, "description", text_or_fill(inc->summary));
    json_object_set_new(r, "sources", list_json(inc->sources));
    json_object_set_new(r, "targets", list_json(inc->targets));
    json_object_set_new(r, "evidence", evidence_json(inc));
    json_object_set_new(r, "measures_taken", measures(in));
    json_object_set_new(r, "notified", notified(in));
    json_object_set_new(r, "support_requested", json_string(REPORT_TO_FILL));
    json_object_set_new(r, "confidentiality", json_string(in->reg->confidentiality));
    if (in->kind == REPORT_FINAL) {
        json_t *cite = json_object();
        json_object_set_new(cite, "number", text_or_fill(in->initial_number));
        json_object_set_new(cite, "date", date_json(in->initial_date_us));
        json_object_set_new(r, "initial_report", cite);
        json_t *out = json_object();
        json_object_set_new(out, "resolved_at", date_json(inc->closed_us));
        const char *result = REPORT_TO_FILL;
        for (size_t i = 0; i < in->n_log; i++)
            if (strcmp(in->log[i].action, "resolved") == 0 && in->log[i].note[0])
                result = in->log[i].note;
        json_object_set_new(out, "result", json_string(result));
        json_object_set_new(out, "cause", json_string(REPORT_TO_FILL));
        json_object_set_new(out, "recommendations", json_string(REPORT_TO_FILL));
        json_object_set_new(r, "outcome", out);
    }
    return r;
}

static int write_atomic(const char *dir, const char *name, const char *text)
{
    char path[512], tmp[520];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return -1;
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0) {
            int saved = errno;
            close(fd);
            unlink(tmp);
            errno = saved;
            return -1;
        }
        off += (size_t)n;
    }
    if (fsync(fd) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int report_write_draft(const char *dir, const json_t *draft)
{
    const char *id = json_string_value(json_object_get(draft, "incident_id"));
    const char *kind = json_string_value(json_object_get(draft, "form"));
    char *md = report_markdown_of(draft);
    char *js = json_dumps(draft, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    int rc = -1;
    char name[INCIDENT_ID_LEN + 32];
    if (md && js && id && kind) {
        snprintf(name, sizeof(name), "%s.%s.json", id, kind);
        rc = write_atomic(dir, name, js);
        snprintf(name, sizeof(name), "%s.%s.md", id, kind);
        if (rc == 0)
            rc = write_atomic(dir, name, md);
    } else {
        errno = ENOMEM;
    }
    free(md);
    free(js);
    return rc;
}

int report_write(const struct collector_config *cfg, const struct incident *inc, uint64_t now_us)
{
    struct registry reg;
    struct cfg_err err;
    if (registry_load(cfg->report_registry, &reg, &err) < 0) {
        /* Changed since the start: the draft still goes out, the
         * registry's details marked to fill. */
        log_warn("%s; the notification of %s is drafted without it", err.msg, inc->id);
        registry_defaults(&reg);
    }
    uint64_t detected = inc->opened_us ? inc->opened_us : now_us;
    struct report_input in = {.kind = REPORT_NOTIFICATION,
                              .cfg = cfg,
                              .reg = &reg,
                              .inc = inc,
                              .now_us = now_us,
                              .detected_us = detected,
                              .due_us = detected + cfg->report_deadline_us};
    json_t *draft = report_build(&in);
    int rc = report_write_draft(cfg->report_dir, draft);
    json_decref(draft);
    registry_free(&reg);
    return rc;
}

/* ---- the escalation sink: notifications ------------------------------ */

static int sink_open(void **state, const struct collector_config *cfg, const struct route *route,
                     struct event_base *base)
{
    (void)cfg;
    (void)route;
    (void)base;
    *state = NULL; /* each draft reads the running [report] settings */
    return 0;
}

static void sink_send(void *state, const struct collector_config *cfg,
                      const struct sink_delivery *d, sink_done_fn done, void *priv)
{
    (void)state;
    if (report_write(cfg, d->inc, units_now_us()) < 0) {
        char error[320];
        snprintf(error, sizeof(error), "cannot write the report in %s", cfg->report_dir);
        done(priv, error);
        return;
    }
    done(priv, NULL);
}

static void sink_close(void *state)
{
    (void)state;
}

const struct sink_ops report_sink_ops = {
    .name = "report", .open = sink_open, .send = sink_send, .close = sink_close};
