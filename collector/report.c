/* report.c — see report.h. */
#include "collector/report.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/units.h"

#define TO_FILL "[cần Đội ứng cứu sự cố bổ sung]"

static const char *severity_vi(enum severity s)
{
    switch (s) {
    case SEV_CRITICAL:
        return "Nghiêm trọng (critical)";
    case SEV_HIGH:
        return "Cao (high)";
    case SEV_MEDIUM:
        return "Trung bình (medium)";
    default:
        return "Thấp (low)";
    }
}

static const char *or_fill(const char *s)
{
    return s && *s ? s : TO_FILL;
}

json_t *report_json(const struct collector_config *cfg, const struct incident *inc, uint64_t now_us)
{
    char detected[48], deadline[48], drafted[48];
    units_format_time(inc->first_seen_us, detected, sizeof(detected));
    units_format_time(inc->first_seen_us + cfg->report_deadline_us, deadline, sizeof(deadline));
    units_format_time(now_us, drafted, sizeof(drafted));
    json_t *r = json_object();
    json_object_set_new(r, "form",
                        json_string("Báo cáo ban đầu sự cố (Thông tư 20/2017/TT-BTTTT)"));
    json_object_set_new(r, "draft", json_true());
    json_object_set_new(r, "incident_id", json_string(inc->id));
    json_object_set_new(r, "drafted_at", json_string(drafted));
    json_object_set_new(r, "reporting_unit", json_string(cfg->reporting_unit));
    json_object_set_new(r, "contact", json_string(cfg->contact));
    json_t *sys = json_object();
    json_object_set_new(sys, "name", json_string(inc->asset));
    json_object_set_new(sys, "owner",
                        json_string(inc->asset_owner[0] ? inc->asset_owner : inc->agency));
    json_object_set_new(sys, "agency", json_string(inc->agency));
    json_object_set_new(sys, "level", json_integer(inc->level));
    json_object_set_new(r, "affected_system", sys);
    json_object_set_new(r, "detected_at", json_string(detected));
    json_object_set_new(r, "deadline", json_string(deadline));
    json_t *type = json_object();
    json_object_set_new(type, "code", json_string(inc->taxonomy->code));
    json_object_set_new(type, "vi", json_string(inc->taxonomy->vi));
    json_object_set_new(type, "en", json_string(inc->taxonomy->en));
    json_object_set_new(r, "incident_type", type);
    json_object_set_new(r, "severity", json_string(severity_name(inc->severity)));
    json_object_set_new(r, "class", json_string(inc->serious ? "serious_candidate" : "normal"));
    json_object_set_new(r, "description", json_string(inc->summary));
    json_object_set_new(r, "incident", incident_to_json(inc));
    json_object_set_new(r, "measures_taken", json_string(""));
    json_object_set_new(r, "support_requested", json_string(""));
    return r;
}

char *report_markdown(const struct collector_config *cfg, const struct incident *inc,
                      uint64_t now_us)
{
    char detected[48], deadline[48], drafted[48], last[48];
    units_format_time(inc->first_seen_us, detected, sizeof(detected));
    units_format_time(inc->last_seen_us, last, sizeof(last));
    units_format_time(inc->first_seen_us + cfg->report_deadline_us, deadline, sizeof(deadline));
    units_format_time(now_us, drafted, sizeof(drafted));
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        return NULL;
    fprintf(f, "# BÁO CÁO BAN ĐẦU SỰ CỐ AN TOÀN THÔNG TIN MẠNG — DỰ THẢO\n\n");
    fprintf(f, "_Theo mẫu báo cáo ban đầu của Thông tư 20/2017/TT-BTTTT. Bản dự thảo do canh "
               "tạo tự động từ dấu hiệu trên đường truyền; Đội ứng cứu sự cố xác nhận, bổ sung "
               "trước khi gửi._\n\n");
    fprintf(f, "- **Mã sự cố:** %s\n", inc->id);
    fprintf(f, "- **Thời hạn báo cáo:** %s (%" PRIu64 " ngày kể từ khi phát hiện)\n", deadline,
            cfg->report_deadline_us / ((uint64_t)86400 * 1000000));
    fprintf(f, "- **Ngày lập dự thảo:** %s\n\n", drafted);
    fprintf(f, "## 1. Đơn vị báo cáo\n\n- Tên đơn vị: %s\n- Người liên hệ: %s\n\n",
            or_fill(cfg->reporting_unit), or_fill(cfg->contact));
    fprintf(f,
            "## 2. Hệ thống bị sự cố\n\n- Tên hệ thống: %s\n- Đơn vị chủ quản: %s\n"
            "- Cơ quan: %s\n- Cấp độ an toàn hệ thống thông tin: %s\n\n",
            or_fill(inc->asset), or_fill(inc->asset_owner[0] ? inc->asset_owner : inc->agency),
            inc->agency, inc->level ? (char[]){(char)('0' + inc->level), '\0'} : TO_FILL);
    fprintf(f, "## 3. Thời điểm phát hiện\n\n%s (lần cuối ghi nhận: %s)\n\n", detected, last);
    fprintf(f, "## 4. Loại sự cố\n\n%s (`%s`)\n\n", inc->taxonomy->vi, inc->taxonomy->code);
    fprintf(f,
            "## 5. Mô tả sơ bộ\n\n- Mức độ: %s\n- Phân loại: %s\n- Dạng tấn công ghi nhận: %s\n"
            "- Số sự kiện: %" PRIu64 "\n- Tóm tắt: %s\n",
            severity_vi(inc->severity),
            inc->serious ? "có dấu hiệu sự cố nghiêm trọng (cần xác nhận)" : "sự cố thông thường",
            inc->kinds, inc->events, inc->summary);
    if (inc->children[0])
        fprintf(f, "- Các sự cố liên quan: %s\n", inc->children);
    fprintf(f,
            "\n## 6. Nguồn tấn công và đối tượng bị tấn công\n\n- Nguồn: %s\n- Đối tượng: %s\n\n",
            or_fill(inc->sources), or_fill(inc->targets));
    fprintf(f, "## 7. Bằng chứng\n\n```json\n%s\n```\n\n- Mã sự kiện: %s\n",
            inc->evidence[0] ? inc->evidence : "{}", inc->event_ids);
    /* The files stay on the gateways; their size and SHA-256 are in each
     * finding's end event (canh.pcap). */
    if (inc->pcaps[0])
        fprintf(f, "- Tệp gói tin (pcap, trong thư mục trạng thái của agent %s): %s\n", inc->agents,
                inc->pcaps);
    fputc('\n', f);
    fprintf(f, "## 8. Biện pháp đã thực hiện\n\n%s\n\n", TO_FILL);
    fprintf(f, "## 9. Đề nghị hỗ trợ\n\n%s\n", TO_FILL);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
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

int report_write(const struct collector_config *cfg, const struct incident *inc, uint64_t now_us)
{
    char name[INCIDENT_ID_LEN + 8];
    char *md = report_markdown(cfg, inc, now_us);
    json_t *j = report_json(cfg, inc, now_us);
    char *js = json_dumps(j, JSON_INDENT(2));
    json_decref(j);
    int rc = -1;
    if (md && js) {
        snprintf(name, sizeof(name), "%s.json", inc->id);
        rc = write_atomic(cfg->report_dir, name, js);
        snprintf(name, sizeof(name), "%s.md", inc->id);
        if (rc == 0)
            rc = write_atomic(cfg->report_dir, name, md);
    }
    free(md);
    free(js);
    return rc;
}

/* ---- the escalation sink -------------------------------------------- */

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
