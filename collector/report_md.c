/* report_md.c — a draft (report.h) as Vietnamese Markdown: the same
 * JSON object, field by field, in the form's order, so the two files of
 * one draft never disagree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/report.h"

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : REPORT_TO_FILL;
}

static void line(FILE *f, const char *label, const char *value)
{
    fprintf(f, "- **%s:** %s\n", label, value && *value ? value : REPORT_TO_FILL);
}

/* An array of strings as "a, b"; the placeholder when empty. */
static void list_line(FILE *f, const char *label, const json_t *a)
{
    fprintf(f, "- **%s:** ", label);
    if (!json_array_size(a))
        fputs(REPORT_TO_FILL, f);
    for (size_t i = 0; i < json_array_size(a); i++)
        fprintf(f, "%s%s", i ? ", " : "", json_string_value(json_array_get(a, i)));
    fputc('\n', f);
}

static void organisation(FILE *f, const json_t *r)
{
    const json_t *o = json_object_get(r, "reporting_organisation");
    fprintf(f, "## 1. Đơn vị báo cáo\n\n");
    line(f, "Tên đơn vị", str(o, "name"));
    line(f, "Địa chỉ", str(o, "address"));
    line(f, "Điện thoại", str(o, "phone"));
    line(f, "Thư điện tử", str(o, "email"));
    const json_t *c = json_object_get(r, "contact");
    fprintf(f, "\n## 2. Người liên hệ\n\n");
    line(f, "Họ và tên", str(c, "name"));
    line(f, "Chức vụ", str(c, "title"));
    line(f, "Điện thoại", str(c, "phone"));
    line(f, "Thư điện tử", str(c, "email"));
}

static void system_section(FILE *f, const json_t *r)
{
    const json_t *s = json_object_get(r, "system");
    char level[16];
    json_t *lv = json_object_get(s, "level");
    snprintf(level, sizeof(level), "%s", "");
    if (json_is_integer(lv))
        snprintf(level, sizeof(level), "Cấp độ %d", (int)json_integer_value(lv));
    fprintf(f, "\n## 3. Hệ thống thông tin bị sự cố\n\n");
    line(f, "Tên hệ thống (tài sản trong assets.conf)", str(s, "name"));
    line(f, "Tên đầy đủ của hệ thống", str(s, "title"));
    line(f, "Cơ quan chủ quản", str(s, "owner"));
    line(f, "Đơn vị vận hành", str(s, "operator"));
    line(f, "Cấp độ an toàn hệ thống thông tin (Nghị định 85/2016/NĐ-CP)", level);
    line(f, "Thuộc danh mục hệ thống thông tin quan trọng quốc gia",
         json_is_true(json_object_get(s, "national_critical")) ? "Có" : "Không");
    list_line(f, "Địa chỉ IP công khai", json_object_get(s, "addresses"));
    list_line(f, "Tên miền", json_object_get(s, "domains"));
    line(f, "Nhà cung cấp dịch vụ kết nối Internet (ISP)", str(s, "isp"));
    line(f, "Đơn vị cung cấp dịch vụ an toàn thông tin", str(s, "security_provider"));
}

static void incident_section(FILE *f, const json_t *r)
{
    const json_t *t = json_object_get(r, "incident_type");
    const json_t *cl = json_object_get(r, "classification");
    char type[400];
    snprintf(type, sizeof(type), "%s (`%s`)", str(t, "vi"), str(t, "code"));
    fprintf(f, "\n## 4. Thông tin sự cố\n\n");
    line(f, "Thời điểm phát hiện", str(r, "detected_at"));
    line(f, "Thời điểm bắt đầu ghi nhận (theo gói tin)", str(r, "first_activity_at"));
    line(f, "Cách thức phát hiện", str(r, "how_detected"));
    line(f, "Tình trạng hiện tại", str(r, "status"));
    line(f, "Loại sự cố", type);
    line(f, "Phân loại", str(cl, "serious_criteria"));
    const json_t *cs = json_object_get(cl, "consequences");
    fprintf(f, "- **Hậu quả ghi nhận trên đường truyền:** ");
    if (!json_array_size(cs))
        fputs("Chưa ghi nhận", f);
    for (size_t i = 0; i < json_array_size(cs); i++)
        fprintf(f, "%s%s", i ? "; " : "", str(json_array_get(cs, i), "vi"));
    fputc('\n', f);
    if (json_is_true(json_object_get(cl, "sensor_fault")))
        line(f, "Ghi chú",
             "Sự cố của chính cảm biến giám sát, không tính vào thống kê sự cố "
             "của cơ quan");
    line(f, "Mức độ", str(json_object_get(r, "severity"), "vi"));
    line(f, "Mô tả sơ bộ", str(r, "description"));
    fprintf(f, "\n## 5. Nguồn tấn công và đối tượng bị tấn công\n\n");
    list_line(f, "Nguồn", json_object_get(r, "sources"));
    list_line(f, "Đối tượng", json_object_get(r, "targets"));
}

static void evidence_section(FILE *f, const json_t *r)
{
    const json_t *e = json_object_get(r, "evidence");
    char *summary = json_dumps(json_object_get(e, "summary"), JSON_COMPACT | JSON_SORT_KEYS);
    fprintf(f, "\n## 6. Tóm tắt bằng chứng\n\n```json\n%s\n```\n\n", summary ? summary : "{}");
    free(summary);
    char events[32];
    snprintf(events, sizeof(events), "%lld",
             (long long)json_integer_value(json_object_get(e, "events")));
    line(f, "Số sự kiện", events);
    list_line(f, "Mã sự kiện", json_object_get(e, "event_ids"));
    list_line(f, "Tệp gói tin (pcap, trong thư mục trạng thái của cảm biến)",
              json_object_get(e, "pcaps"));
    list_line(f, "Cảm biến", json_object_get(e, "agents"));
}

static void lifecycle_section(FILE *f, const json_t *r)
{
    const json_t *m = json_object_get(r, "measures_taken");
    fprintf(f, "\n## 7. Biện pháp đã thực hiện\n\n");
    if (!json_array_size(m))
        fprintf(f, "%s\n", REPORT_TO_FILL);
    for (size_t i = 0; i < json_array_size(m); i++) {
        const json_t *e = json_array_get(m, i);
        const char *note = str(e, "note");
        fprintf(f, "- %s — %s (%s)%s%s\n", str(e, "at"), str(e, "what"), str(e, "by"),
                *json_string_value(json_object_get(e, "note")) ? ": " : "",
                *json_string_value(json_object_get(e, "note")) ? note : "");
    }
    const json_t *n = json_object_get(r, "notified");
    fprintf(f, "\n## 8. Đã thông báo cho\n\n");
    if (!json_array_size(n))
        fprintf(f, "Chưa có\n");
    for (size_t i = 0; i < json_array_size(n); i++) {
        const json_t *e = json_array_get(n, i);
        fprintf(f, "- %s — %s\n", str(e, "at"), str(e, "via"));
    }
    fprintf(f, "\n## 9. Đề nghị hỗ trợ\n\n%s\n", str(r, "support_requested"));
    fprintf(f, "\n## 10. Mức độ mật\n\n%s\n", str(r, "confidentiality"));
}

static void final_section(FILE *f, const json_t *r)
{
    const json_t *c = json_object_get(r, "initial_report");
    const json_t *o = json_object_get(r, "outcome");
    if (!c || !o)
        return;
    fprintf(f, "\n## 11. Báo cáo ban đầu\n\n");
    line(f, "Số", str(c, "number"));
    line(f, "Ngày gửi", str(c, "date"));
    fprintf(f, "\n## 12. Kết quả ứng phó\n\n");
    line(f, "Thời điểm kết thúc ứng phó", str(o, "resolved_at"));
    line(f, "Kết quả xử lý", str(o, "result"));
    line(f, "Nguyên nhân", str(o, "cause"));
    line(f, "Kiến nghị, đề xuất", str(o, "recommendations"));
}

char *report_markdown_of(const json_t *r)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        return NULL;
    const json_t *d = json_object_get(r, "deadline");
    const json_t *drill = json_object_get(r, "drill");
    if (drill)
        fprintf(f, "> **%s** — diễn tập %s (drill: not to be sent)\n\n", str(drill, "watermark"),
                str(drill, "exercise"));
    fprintf(f, "# %s — DỰ THẢO\n\n", str(r, "title"));
    fprintf(f,
            "_Căn cứ %s. Bản dự thảo do canh lập từ dữ liệu giám sát và nhật ký xử lý; Đội "
            "ứng cứu sự cố kiểm tra, bổ sung, ký trước khi gửi._\n\n",
            str(r, "legal_basis"));
    line(f, "Số", str(r, "number"));
    line(f, "Ngày lập", str(r, "report_date"));
    line(f, "Mã sự cố", str(r, "incident_id"));
    char due[400];
    snprintf(due, sizeof(due), "%s (%s)%s", str(d, "date"), str(d, "basis"),
             json_is_true(json_object_get(d, "overdue")) ? " — **ĐÃ QUÁ HẠN**" : "");
    line(f, "Thời hạn gửi", due);
    line(f, "Kính gửi", str(r, "recipients"));
    fputc('\n', f);
    organisation(f, r);
    system_section(f, r);
    incident_section(f, r);
    evidence_section(f, r);
    lifecycle_section(f, r);
    final_section(f, r);
    if (drill)
        fprintf(f, "\n> **%s** — diễn tập %s\n", str(drill, "watermark"), str(drill, "exercise"));
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}
