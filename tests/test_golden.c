/* test_golden.c — real captures against the findings they must raise.
 *
 * Reads every tests/golden/NAME.list (format in tests/golden/README.md),
 * replays each capture once through the whole pipeline (decode, every
 * detector, enrich, shipped rules) and checks each line as one loop
 * iteration, so a failure names the list file and line. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define MAX_LINES 512
#define MAX_WORDS 24

struct golden_line {
    char where[160]; /* "scan.list:12" */
    char pcap[128];
    char assets[128];
    char *words[MAX_WORDS];
    int n_words;
};

static struct golden_line lines[MAX_LINES];
static int n_lines;

/* One replay per (pcap, assets), shared by the lines that ask about it. */
struct replay {
    char key[260];
    json_t *events;
    char err[800];
};
static struct replay replays[MAX_LINES];
static int n_replays;

/* What went wrong reading the lists; a list that cannot be read whole is a
 * failure, not fewer cases. */
static char load_errors[2048];

static void load_error(const char *fmt, const char *where, const char *what)
{
    size_t used = strlen(load_errors);
    snprintf(load_errors + used, sizeof(load_errors) - used, fmt, where, what);
}

static void load_list(const char *dir, const char *name)
{
    char path[1100], buf[2048];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "r");
    if (!fp) {
        load_error(" %s: cannot read (%s);", name, strerror(errno));
        return;
    }
    for (int lineno = 1; fgets(buf, sizeof(buf), fp); lineno++) {
        char *save = NULL, *tok[MAX_WORDS + 2];
        int n = 0;
        char where[160];
        snprintf(where, sizeof(where), "%s:%d", name, lineno);
        if (!strchr(buf, '\n') && !feof(fp)) {
            load_error(" %s: %s;", where, "line longer than the test reads");
            break;
        }
        char *hash = strchr(buf, '#');
        if (hash)
            *hash = '\0';
        for (char *t = strtok_r(buf, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save)) {
            if (n == MAX_WORDS + 2) {
                load_error(" %s: %s;", where, "more words than the test reads");
                break;
            }
            tok[n++] = t;
        }
        if (n == 0)
            continue;
        if (n_lines == MAX_LINES) {
            load_error(" %s: %s;", where, "more lines than the test reads (MAX_LINES)");
            break;
        }
        struct golden_line *g = &lines[n_lines++];
        snprintf(g->where, sizeof(g->where), "%s", where);
        snprintf(g->pcap, sizeof(g->pcap), "%s", tok[0]);
        snprintf(g->assets, sizeof(g->assets), "%s", n > 1 ? tok[1] : "-");
        for (int i = 2; i < n; i++)
            g->words[g->n_words++] = strdup(tok[i]);
    }
    if (ferror(fp))
        load_error(" %s: read error (%s);", name, strerror(errno));
    fclose(fp);
}

static void load_lists(void)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/tests/golden", SOURCE_DIR);
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0)
        load_error(" %s: cannot list (%s);", dir, strerror(errno));
    for (int i = 0; i < n; i++) {
        size_t len = strlen(names[i]->d_name);
        if (len > 5 && strcmp(names[i]->d_name + len - 5, ".list") == 0)
            load_list(dir, names[i]->d_name);
        free(names[i]);
    }
    if (n >= 0)
        free(names);
}

static struct replay *replay_for(const struct golden_line *g)
{
    char key[260];
    snprintf(key, sizeof(key), "%s|%s", g->pcap, g->assets);
    for (int i = 0; i < n_replays; i++)
        if (strcmp(replays[i].key, key) == 0)
            return &replays[i];
    struct replay *r = &replays[n_replays++];
    snprintf(r->key, sizeof(r->key), "%s", key);
    char pcap[512], assets[512];
    snprintf(pcap, sizeof(pcap), "%s", fixture_path(g->pcap));
    snprintf(assets, sizeof(assets), "%s", fixture_path(g->assets));
    r->events =
        run_pcap(pcap, NULL, strcmp(g->assets, "-") == 0 ? NULL : assets, r->err, sizeof(r->err));
    return r;
}

/* The text of a dotted path into an event ("canh.evidence.scan_type"). */
static int event_path_text(json_t *ev, const char *path, char *out, size_t outlen)
{
    char copy[256], *save = NULL;
    snprintf(copy, sizeof(copy), "%s", path);
    json_t *node = ev;
    for (char *part = strtok_r(copy, ".", &save); part && node; part = strtok_r(NULL, ".", &save))
        node = json_object_get(node, part);
    if (!node)
        return -1;
    if (json_is_string(node)) {
        snprintf(out, outlen, "%s", json_string_value(node));
    } else {
        char *text = json_dumps(node, JSON_COMPACT | JSON_ENCODE_ANY);
        snprintf(out, outlen, "%s", text ? text : "");
        free(text);
    }
    return 0;
}

static const char *ev_str(json_t *ev, const char *key)
{
    return json_string_value(json_object_get(json_object_get(ev, "canh"), key));
}

/* Every finding has exactly one "new" and at most one "end". */
static void check_no_storm(const struct golden_line *g, json_t *events)
{
    size_t i, j;
    json_t *ev, *other;
    json_array_foreach(events, i, ev)
    {
        const char *fid = ev_str(ev, "finding_id");
        int news = 0, ends = 0;
        json_array_foreach(events, j, other)
        {
            const char *ofid = ev_str(other, "finding_id");
            if (!ofid || strcmp(ofid, fid) != 0)
                continue;
            news += strcmp(ev_str(other, "state"), "new") == 0;
            ends += strcmp(ev_str(other, "state"), "end") == 0;
        }
        ck_assert_msg(news == 1 && ends <= 1, "%s: finding %s has %d new and %d end events",
                      g->where, fid, news, ends);
    }
}

static void describe(json_t *events, char *out, size_t len)
{
    size_t i, used = 0;
    json_t *ev;
    out[0] = '\0';
    json_array_foreach(events, i, ev)
    {
        if (strcmp(ev_str(ev, "state"), "new") != 0)
            continue;
        used += (size_t)snprintf(out + used, used < len ? len - used : 0, " [%s %s->%s]",
                                 ev_str(ev, "kind"),
                                 json_string_value(json_object_get(ev, "src_ip")) ?: "-",
                                 json_string_value(json_object_get(ev, "dest_ip")) ?: "-");
        if (used >= len)
            break;
    }
}

START_TEST(golden_line)
{
    const struct golden_line *g = &lines[_i];
    struct replay *r = replay_for(g);
    ck_assert_msg(r->events != NULL, "%s: %s: %s", g->where, g->pcap, r->err);
    ck_assert_msg(g->n_words > 0, "%s: no assertion", g->where);
    check_no_storm(g, r->events);
    char seen[1024];
    describe(r->events, seen, sizeof(seen));
    const char *what = g->words[0];
    if (strcmp(what, "none") == 0) {
        ck_assert_msg(json_array_size(r->events) == 0, "%s: %s should raise nothing, raised:%s",
                      g->where, g->pcap, seen);
        return;
    }
    if (strcmp(what, "only") == 0) {
        ck_assert_msg(g->n_words == 2, "%s: 'only' takes one comma-separated list", g->where);
        size_t i;
        json_t *ev;
        char allowed[512];
        snprintf(allowed, sizeof(allowed), ",%s,", g->words[1]);
        json_array_foreach(r->events, i, ev)
        {
            char kind[80];
            snprintf(kind, sizeof(kind), ",%s,", ev_str(ev, "kind"));
            ck_assert_msg(strstr(allowed, kind) != NULL, "%s: %s raised %s, not in %s", g->where,
                          g->pcap, ev_str(ev, "kind"), g->words[1]);
        }
        return;
    }
    long want = 1, at_least = -1;
    size_t matched = 0, i;
    json_t *ev;
    json_array_foreach(r->events, i, ev)
    {
        if (strcmp(ev_str(ev, "kind"), what) != 0 || strcmp(ev_str(ev, "state"), "new") != 0)
            continue;
        int ok = 1;
        for (int w = 1; w < g->n_words && ok; w++) {
            const char *eq = strchr(g->words[w], '=');
            ck_assert_msg(eq != NULL, "%s: '%s' is not path=value", g->where, g->words[w]);
            /* path>=N: a number at least N (estimates, such as a count of
             * distinct sources from a sketch with a per-run seed). */
            bool at_least_n = eq > g->words[w] && eq[-1] == '>';
            char path[128], text[512];
            snprintf(path, sizeof(path), "%.*s", (int)(eq - g->words[w] - at_least_n), g->words[w]);
            if (at_least_n) {
                char *end;
                ok = event_path_text(ev, path, text, sizeof(text)) == 0 &&
                     strtod(text, &end) >= strtod(eq + 1, NULL) && end != text;
                continue;
            }
            if (strcmp(path, "count") == 0) {
                want = atol(eq + 1);
                continue;
            }
            if (strcmp(path, "min") == 0) {
                at_least = atol(eq + 1);
                continue;
            }
            ok = event_path_text(ev, path, text, sizeof(text)) == 0 && strcmp(text, eq + 1) == 0;
        }
        matched += ok;
    }
    /* count=/min= may come after the first non-matching event: rescan. */
    for (int w = 1; w < g->n_words; w++) {
        if (strncmp(g->words[w], "count=", 6) == 0)
            want = atol(g->words[w] + 6);
        if (strncmp(g->words[w], "min=", 4) == 0)
            at_least = atol(g->words[w] + 4);
    }
    if (at_least >= 0)
        ck_assert_msg((long)matched >= at_least,
                      "%s: %s: wanted at least %ld %s, got %zu; raised:%s", g->where, g->pcap,
                      at_least, what, matched, seen);
    else
        ck_assert_msg((long)matched == want,
                      "%s: %s: wanted %ld %s finding(s) matching, got %zu; raised:%s", g->where,
                      g->pcap, want, what, matched, seen);
}
END_TEST

START_TEST(golden_lists_present)
{
    ck_assert_msg(load_errors[0] == '\0', "tests/golden/ lists not read whole:%s", load_errors);
    ck_assert_msg(n_lines > 0, "no lines in tests/golden/ lists");
}
END_TEST

int main(void)
{
    load_lists();
    Suite *s = suite_create("golden");
    TCase *tc = tcase_create("captures");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, golden_lists_present);
    if (n_lines > 0)
        tcase_add_loop_test(tc, golden_line, 0, n_lines);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    /* One process: the replays are cached between lines. */
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
