/* report_format.c — see report_format.h. */
#include "tools/report_format.h"

#include <stdio.h>

/* A string member, "" when missing. */
static const char *str(const json_t *o, const char *name)
{
    const char *v = json_string_value(json_object_get(o, name));
    return v ? v : "";
}

static void duration_text(const json_t *v, char *buf, size_t len)
{
    if (!json_is_number(v)) {
        snprintf(buf, len, "—");
        return;
    }
    double s = json_number_value(v);
    if (s < 3600)
        snprintf(buf, len, "%.0f phút / min", s / 60);
    else
        snprintf(buf, len, "%.1f giờ / h", s / 3600);
}

void report_write_md(FILE *out, const json_t *r)
{
    const json_t *p = json_object_get(r, "period"), *t = json_object_get(r, "totals");
    fprintf(out, "# Báo cáo tình hình sự cố an toàn thông tin mạng / Incident report\n\n");
    fprintf(out, "- Kỳ báo cáo / Period: %s (%s – %s)\n", str(p, "name"), str(p, "from"),
            str(p, "to"));
    fprintf(out, "- Phạm vi / Scope: %s\n", str(r, "scope"));
    fprintf(out, "- Tổng số sự cố / Incidents: %lld\n",
            (long long)json_integer_value(json_object_get(t, "incidents")));
    fprintf(out, "- Cảnh báo sai / False positives: %lld\n",
            (long long)json_integer_value(json_object_get(t, "false_positives")));
    fprintf(out, "- Sự cố của cảm biến (không tính) / Sensor faults (not counted): %lld\n",
            (long long)json_integer_value(json_object_get(t, "sensor_faults")));
    const json_t *drills = json_object_get(r, "drills");
    fprintf(out,
            "- Diễn tập đã tổ chức (sự cố diễn tập không tính) / Drills held (their incidents not "
            "counted): %lld (%lld sự cố / incidents)\n\n",
            (long long)json_integer_value(json_object_get(drills, "held")),
            (long long)json_integer_value(json_object_get(drills, "incidents")));
    size_t i;
    json_t *row;
    fprintf(out,
            "## Theo loại sự cố / By incident type\n\n| Mã / Code | Loại | Type | Số / Count |\n"
            "| --- | --- | --- | ---: |\n");
    json_array_foreach(json_object_get(r, "by_taxonomy"), i, row)
        fprintf(out, "| %s | %s | %s | %lld |\n", str(row, "code"), str(row, "vi"), str(row, "en"),
                (long long)json_integer_value(json_object_get(row, "count")));
    const char *key;
    json_t *v;
    fprintf(
        out,
        "\n## Theo mức độ / By severity\n\n| Mức độ / Severity | Số / Count |\n| --- | ---: |\n");
    json_object_foreach(json_object_get(r, "by_severity"), key, v)
        fprintf(out, "| %s | %lld |\n", key, (long long)json_integer_value(v));
    fprintf(
        out,
        "\n## Theo phân loại / By class\n\n| Phân loại / Class | Số / Count |\n| --- | ---: |\n");
    json_object_foreach(json_object_get(r, "by_class"), key, v)
        fprintf(out, "| %s | %lld |\n", key, (long long)json_integer_value(v));
    fprintf(out,
            "\n## Theo cơ quan / By agency\n\n| Cơ quan / Agency | Số / Count |\n| --- | ---: |\n");
    json_array_foreach(json_object_get(r, "by_agency"), i, row)
        fprintf(out, "| %s | %lld |\n", str(row, "agency"),
                (long long)json_integer_value(json_object_get(row, "count")));
    fprintf(out, "\n## Theo cấp độ hệ thống / By system level\n\n| Cấp độ / Level | Số / Count |\n"
                 "| --- | ---: |\n");
    json_object_foreach(json_object_get(r, "by_level"), key, v)
        fprintf(out, "| %s | %lld |\n", key, (long long)json_integer_value(v));
    fprintf(out, "\n## Sự cố nghiêm trọng / Serious incidents\n\n");
    if (!json_array_size(json_object_get(r, "serious")))
        fprintf(out, "Không có / None.\n");
    else
        fprintf(out, "| Sự cố / Incident | Cơ quan / Agency | Loại / Type | Phát hiện / Detected | "
                     "Báo cáo ban đầu / Initial report | Báo cáo kết thúc / Final report |\n"
                     "| --- | --- | --- | --- | --- | --- |\n");
    json_array_foreach(json_object_get(r, "serious"), i, row)
        fprintf(out, "| %s | %s | %s | %s | %s | %s |\n", str(row, "id"), str(row, "agency"),
                str(row, "taxonomy"), str(row, "first_seen"), str(row, "initial_report"),
                str(row, "final_report"));
    const json_t *times = json_object_get(r, "times");
    char ack[48], res[48];
    duration_text(json_object_get(json_object_get(times, "acknowledge"), "mean_seconds"), ack,
                  sizeof(ack));
    duration_text(json_object_get(json_object_get(times, "resolve"), "mean_seconds"), res,
                  sizeof(res));
    fprintf(
        out,
        "\n## Thời gian xử lý / Response times\n\n"
        "- Trung bình đến khi tiếp nhận / Mean time to acknowledge: %s (%lld sự cố)\n"
        "- Trung bình đến khi khắc phục / Mean time to resolve: %s (%lld sự cố)\n",
        ack,
        (long long)json_integer_value(json_object_get(json_object_get(times, "acknowledge"), "n")),
        res,
        (long long)json_integer_value(json_object_get(json_object_get(times, "resolve"), "n")));
    fprintf(
        out,
        "\n## Cảnh báo sai theo luật / False positives by rule\n\n| Luật / Rule | Số / Count |\n"
        "| --- | ---: |\n");
    json_array_foreach(json_object_get(r, "false_positives_by_rule"), i, row)
        fprintf(out, "| %s | %lld |\n", str(row, "rule"),
                (long long)json_integer_value(json_object_get(row, "count")));
    fprintf(out, "\n## Nguồn tấn công nhiều nhất / Top sources\n\n| Nguồn / Source | Số sự cố / "
                 "Incidents |\n"
                 "| --- | ---: |\n");
    json_array_foreach(json_object_get(r, "top_sources"), i, row)
        fprintf(out, "| %s | %lld |\n", str(row, "source"),
                (long long)json_integer_value(json_object_get(row, "count")));
    fprintf(out,
            "\n## Quốc gia / Countries\n\n| Quốc gia / Country | Số / Count |\n| --- | ---: |\n");
    json_array_foreach(json_object_get(r, "countries"), i, row)
        fprintf(out, "| %s | %lld |\n", str(row, "country"),
                (long long)json_integer_value(json_object_get(row, "count")));
    fprintf(
        out,
        "\n## Độ phủ của cảm biến (tách riêng) / Sensor coverage (kept apart)\n\n"
        "| Cảm biến / Agent | Lần mất tín hiệu / Silent periods | Thời gian / Silent time | "
        "Hoạt động / Uptime | Mất gói / Capture drops |\n| --- | ---: | ---: | ---: | ---: |\n");
    json_array_foreach(json_object_get(r, "sensors"), i, row)
        fprintf(out, "| %s | %lld | %.0f s | %.2f %% | %lld |\n", str(row, "agent"),
                (long long)json_integer_value(json_object_get(row, "silent_periods")),
                json_number_value(json_object_get(row, "silent_seconds")),
                100.0 * json_number_value(json_object_get(row, "uptime")),
                (long long)json_integer_value(json_object_get(row, "capture_drops")));
}

/* CSV: one row a figure, section,key,count (RFC 4180 quoting). */
static void csv_cell(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

static void csv_row(FILE *out, const char *section, const char *key, long long count)
{
    csv_cell(out, section);
    fputc(',', out);
    csv_cell(out, key);
    fprintf(out, ",%lld\r\n", count);
}

void report_write_csv(FILE *out, const json_t *r)
{
    fprintf(out, "section,key,count\r\n");
    const char *key;
    json_t *v, *row;
    size_t i;
    json_object_foreach(json_object_get(r, "totals"), key, v)
        csv_row(out, "total", key, (long long)json_integer_value(v));
    const json_t *drills = json_object_get(r, "drills");
    csv_row(out, "drills", "held", (long long)json_integer_value(json_object_get(drills, "held")));
    csv_row(out, "drills", "incidents",
            (long long)json_integer_value(json_object_get(drills, "incidents")));
    json_array_foreach(json_object_get(r, "by_taxonomy"), i, row)
        csv_row(out, "taxonomy", str(row, "code"),
                (long long)json_integer_value(json_object_get(row, "count")));
    json_object_foreach(json_object_get(r, "by_severity"), key, v)
        csv_row(out, "severity", key, (long long)json_integer_value(v));
    json_object_foreach(json_object_get(r, "by_class"), key, v)
        csv_row(out, "class", key, (long long)json_integer_value(v));
    json_array_foreach(json_object_get(r, "by_agency"), i, row)
        csv_row(out, "agency", str(row, "agency"),
                (long long)json_integer_value(json_object_get(row, "count")));
    json_object_foreach(json_object_get(r, "by_level"), key, v)
        csv_row(out, "level", key, (long long)json_integer_value(v));
    json_array_foreach(json_object_get(r, "false_positives_by_rule"), i, row)
        csv_row(out, "false_positive_rule", str(row, "rule"),
                (long long)json_integer_value(json_object_get(row, "count")));
    json_array_foreach(json_object_get(r, "top_sources"), i, row)
        csv_row(out, "source", str(row, "source"),
                (long long)json_integer_value(json_object_get(row, "count")));
    json_array_foreach(json_object_get(r, "countries"), i, row)
        csv_row(out, "country", str(row, "country"),
                (long long)json_integer_value(json_object_get(row, "count")));
    json_array_foreach(json_object_get(r, "sensors"), i, row)
    {
        csv_row(out, "sensor_silent_periods", str(row, "agent"),
                (long long)json_integer_value(json_object_get(row, "silent_periods")));
        csv_row(out, "sensor_capture_drops", str(row, "agent"),
                (long long)json_integer_value(json_object_get(row, "capture_drops")));
    }
}
