/* test_report.c — the three report drafts of Circular 20/2017
 * (collector/report.c, report_md.c, registry.c) against the golden files
 * in tests/golden/report/: the form's field list (fields.txt) and the
 * whole Markdown and JSON of each draft for one fixed incident.  Run
 * with CANH_UPDATE_GOLDEN=1 to rewrite the drafts' golden files after a
 * deliberate change (and review the diff). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/config.h"
#include "collector/registry.h"
#include "collector/report.h"
#include "testutil.h"

#define GOLDEN SOURCE_DIR "/tests/golden/report/"
#define US(s) ((uint64_t)(s)*1000000)

/* 23/11/2026 08:16:14 +07 */
static const uint64_t T0 = US(1795396574);

static struct incident *sample(void)
{
    struct incident *inc = calloc(1, sizeof(*inc));
    snprintf(inc->id, sizeof(inc->id), "20261123-011700-0000abcd");
    inc->type = INCIDENT_FINDING;
    inc->taxonomy = taxonomy_find("attack.defacement");
    snprintf(inc->agency, sizeof(inc->agency), "Sở Y tế");
    snprintf(inc->agents, sizeof(inc->agents), "gw-soyte");
    snprintf(inc->asset, sizeof(inc->asset), "portal");
    snprintf(inc->asset_owner, sizeof(inc->asset_owner), "Sở Y tế");
    inc->level = 4;
    inc->serious = true;
    snprintf(inc->consequences, sizeof(inc->consequences), "loss_of_integrity");
    inc->severity = SEV_CRITICAL;
    snprintf(inc->sources, sizeof(inc->sources), "203.0.113.7");
    snprintf(inc->targets, sizeof(inc->targets), "198.51.100.10");
    snprintf(inc->kinds, sizeof(inc->kinds), "defacement");
    snprintf(inc->summary, sizeof(inc->summary), "defacement: marker=hacked by");
    snprintf(inc->evidence, sizeof(inc->evidence),
             "{\"marker\":\"hacked by\",\"status\":200,\"consequence\":\"loss_of_integrity\"}");
    snprintf(inc->event_ids, sizeof(inc->event_ids), "gw-soyte:0011223344556677:000001");
    snprintf(inc->pcaps, sizeof(inc->pcaps), "evidence/gw-soyte:0011223344556677:f1.pcap");
    inc->events = 2;
    /* The capture is a week old; canh saw it at T0 + 1 min. */
    inc->first_seen_us = T0 - US(7 * 86400);
    inc->last_seen_us = T0 - US(7 * 86400 - 2);
    inc->opened_us = T0 + US(60);
    inc->state = STATE_CONFIRMED;
    inc->status = INCIDENT_ESCALATED;
    return inc;
}

static const struct report_log_entry log_entries[] = {
    {T0 + US(61), "delivered", "collector", "webhook (escalated)"},
    {T0 + US(600), "acknowledged", "an", ""},
    {T0 + US(900), "noted", "an",
     "chặn 203.0.113.7 trên tường lửa, khôi phục trang từ bản sao lưu"},
    {T0 + US(960), "confirmed", "an", ""},
    {T0 + US(961), "report_drafted", "collector", "initial report drafted"},
    {T0 + US(3600), "report_sent", "an", "Báo cáo ban đầu sự cố mạng số 12/BC-STTTT đã gửi"},
    {T0 + US(86400), "resolved", "an", "trang đã khôi phục, lỗ hổng WebDAV đã vá"},
};

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *text = NULL;
    size_t size = 0;
    FILE *m = open_memstream(&text, &size);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        fwrite(buf, 1, n, m);
    fclose(f);
    fclose(m);
    return text;
}

static void spill(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void compare_golden(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), GOLDEN "%s", name);
    if (getenv("CANH_UPDATE_GOLDEN"))
        spill(path, text);
    char *want = slurp(path);
    ck_assert_msg(want, "no golden file %s (CANH_UPDATE_GOLDEN=1 writes it)", path);
    if (strcmp(want, text) != 0) {
        snprintf(path, sizeof(path), "/tmp/canh-%s", name);
        spill(path, text);
        ck_abort_msg("%s differs from the golden file; this run's text is in %s", name, path);
    }
    free(want);
}

/* fields.txt's fields for kind, in order. */
static size_t golden_fields(enum report_kind kind, char fields[][48], size_t max)
{
    char *text = slurp(GOLDEN "fields.txt");
    ck_assert_ptr_nonnull(text);
    size_t n = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char k[16], f[48];
        if (line[0] == '#' || sscanf(line, "%15s %47s", k, f) != 2)
            continue;
        if ((strcmp(k, "all") == 0 || strcmp(k, report_kind_name(kind)) == 0) && n < max)
            snprintf(fields[n++], 48, "%s", f);
    }
    free(text);
    return n;
}

static json_t *draft(enum report_kind kind, const struct registry *reg,
                     struct collector_config *cfg, struct incident *inc)
{
    size_t n_log = kind == REPORT_FINAL ? 7 : kind == REPORT_INITIAL ? 5 : 1;
    if (kind == REPORT_FINAL) {
        inc->state = STATE_RESOLVED;
        inc->closed_us = T0 + US(86400);
    }
    uint64_t due = kind == REPORT_FINAL ? inc->closed_us + reg->final_deadline_us
                                        : inc->opened_us + cfg->report_deadline_us;
    struct report_input in = {.kind = kind,
                              .cfg = cfg,
                              .reg = reg,
                              .inc = inc,
                              .now_us = kind == REPORT_FINAL ? T0 + US(90000) : T0 + US(970),
                              .detected_us = inc->opened_us,
                              .due_us = due,
                              .confirmed_class = kind == REPORT_NOTIFICATION ? NULL : "serious",
                              .log = log_entries,
                              .n_log = n_log,
                              .initial_number = "12/BC-STTTT",
                              .initial_date_us = T0 + US(3600)};
    return report_build(&in);
}

START_TEST(drafts_match_the_form_and_the_golden_files)
{
    struct collector_config *cfg = malloc(sizeof(*cfg));
    collector_config_defaults(cfg);
    struct registry reg;
    struct cfg_err err;
    ck_assert_msg(registry_load(GOLDEN "registry.conf", &reg, &err) == 0, "%s", err.msg);
    for (int k = 0; k < REPORT_KIND_COUNT; k++) {
        enum report_kind kind = (enum report_kind)k;
        struct incident *inc = sample();
        json_t *j = draft(kind, &reg, cfg, inc);
        /* Every field of the form, in its order, and nothing else. */
        char want[64][48];
        size_t n_want = golden_fields(kind, want, 64), i = 0;
        const char *key;
        json_t *value;
        const char *const *fields = report_fields(kind);
        json_object_foreach(j, key, value)
        {
            ck_assert_msg(i < n_want, "%s: extra field %s", report_kind_name(kind), key);
            ck_assert_str_eq(key, want[i]);
            ck_assert_str_eq(fields[i], want[i]);
            i++;
        }
        ck_assert_uint_eq(i, n_want);
        ck_assert_ptr_null(fields[i]);
        char name[64];
        char *js = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        snprintf(name, sizeof(name), "%s.json", report_kind_name(kind));
        compare_golden(name, js);
        char *md = report_markdown_of(j);
        snprintf(name, sizeof(name), "%s.md", report_kind_name(kind));
        compare_golden(name, md);
        free(js);
        free(md);
        json_decref(j);
        free(inc);
    }
    registry_free(&reg);
    free(cfg);
}
END_TEST

START_TEST(deadlines_count_from_detection_not_packet_time)
{
    struct collector_config *cfg = malloc(sizeof(*cfg));
    collector_config_defaults(cfg);
    struct registry reg;
    registry_defaults(&reg);
    struct incident *inc = sample();
    json_t *j = draft(REPORT_INITIAL, &reg, cfg, inc);
    /* Detected 23/11 08:17 (packets from 16/11): due 28/11 08:17, after
     * the draft's date and not overdue. */
    ck_assert_str_eq(json_string_value(json_object_get(j, "detected_at")), "23/11/2026 08:17");
    ck_assert_str_eq(json_string_value(json_object_get(j, "first_activity_at")),
                     "16/11/2026 08:16");
    json_t *d = json_object_get(j, "deadline");
    ck_assert_str_eq(json_string_value(json_object_get(d, "date")), "28/11/2026 08:17");
    ck_assert(json_is_false(json_object_get(d, "overdue")));
    /* No registry: the unknowns are marked for the team, not invented. */
    json_t *org = json_object_get(j, "reporting_organisation");
    ck_assert_str_eq(json_string_value(json_object_get(org, "address")), REPORT_TO_FILL);
    json_decref(j);
    free(inc);
    free(cfg);
}
END_TEST

START_TEST(registry_mistakes_name_file_and_line)
{
    struct registry reg;
    struct cfg_err err;
    const char *p = write_temp_file("r1.conf", "[reporting]\ninitial_for = sometimes\n");
    ck_assert_int_eq(registry_load(p, &reg, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "r1.conf:2: "));
    ck_assert_ptr_nonnull(strstr(err.msg, "not serious or confirmed"));
    p = write_temp_file("r2.conf", "[agency A]\nunit = x\n[agency A]\nphone = 1\n");
    ck_assert_int_eq(registry_load(p, &reg, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "r2.conf:3: [agency A] twice"));
    p = write_temp_file("r3.conf", "[system portal]\nlevel = 4\n");
    ck_assert_int_eq(registry_load(p, &reg, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "r3.conf:2: unknown key 'level'"));
    p = write_temp_file("r4.conf", "[reporting]\ninitial_for = confirmed\nfinal_deadline = 3d\n");
    ck_assert_int_eq(registry_load(p, &reg, &err), 0);
    ck_assert_int_eq(reg.initial_for, INITIAL_FOR_CONFIRMED);
    ck_assert_uint_eq(reg.final_deadline_us, US(3 * 86400));
    registry_free(&reg);
}
END_TEST

int main(void)
{
    setenv("TZ", "Asia/Ho_Chi_Minh", 1);
    tzset();
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, drafts_match_the_form_and_the_golden_files);
    tcase_add_test(tc, deadlines_count_from_detection_not_packet_time);
    tcase_add_test(tc, registry_mistakes_name_file_and_line);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
