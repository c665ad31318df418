/* test_testutil.c — the temporary-directory pair every suite cleans up
 * with (tests/testutil.c): test_temp_dir honours TMPDIR and never reuses a
 * directory; test_temp_dir_remove deletes a whole tree without a shell,
 * leaves what symbolic links in it point at alone, and refuses "". */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

static void make_file(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    ck_assert_msg(fp != NULL, "%s: %s", path, strerror(errno));
    fputs("x\n", fp);
    fclose(fp);
}

START_TEST(temp_dir_is_fresh_private_and_under_tmpdir)
{
    char base[64], a[128], b[128], saved[512] = "";
    const char *env = getenv("TMPDIR");
    if (env)
        snprintf(saved, sizeof(saved), "%s", env);
    ck_assert_ptr_nonnull(test_temp_dir(base, sizeof(base), "base"));
    ck_assert_int_eq(setenv("TMPDIR", base, 1), 0);
    ck_assert_ptr_eq(test_temp_dir(a, sizeof(a), "unit"), a);
    ck_assert_ptr_nonnull(test_temp_dir(b, sizeof(b), "unit"));
    ck_assert_str_ne(a, b);
    char prefix[128];
    snprintf(prefix, sizeof(prefix), "%s/canh-unit-", base);
    ck_assert_msg(strncmp(a, prefix, strlen(prefix)) == 0, "%s not under %s", a, base);
    struct stat st;
    ck_assert_int_eq(stat(a, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    ck_assert_int_eq(st.st_mode & 0777, 0700);
    /* Unset or empty TMPDIR: /tmp. */
    ck_assert_int_eq(setenv("TMPDIR", "", 1), 0);
    char c[128];
    ck_assert_ptr_nonnull(test_temp_dir(c, sizeof(c), "unit"));
    ck_assert_msg(strncmp(c, "/tmp/canh-unit-", 15) == 0, "%s", c);
    ck_assert_int_eq(test_temp_dir_remove(c), 0);
    ck_assert_int_eq(test_temp_dir_remove(base), 0);
    if (env)
        setenv("TMPDIR", saved, 1);
    else
        unsetenv("TMPDIR");
}
END_TEST

START_TEST(temp_dir_too_long_for_buffer_is_an_error)
{
    char small[16];
    errno = 0;
    ck_assert_ptr_null(test_temp_dir(small, sizeof(small), "a-name-too-long"));
    ck_assert_int_eq(errno, ENAMETOOLONG);
}
END_TEST

START_TEST(remove_deletes_tree_but_not_link_targets)
{
    char outside[64], dir[64], path[256], target[256];
    ck_assert_ptr_nonnull(test_temp_dir(outside, sizeof(outside), "outside"));
    make_file(outside, "keep");
    ck_assert_ptr_nonnull(test_temp_dir(dir, sizeof(dir), "tree"));
    make_file(dir, "top");
    snprintf(path, sizeof(path), "%s/sub", dir);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    make_file(path, "inner");
    snprintf(path, sizeof(path), "%s/sub/deeper", dir);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    make_file(path, "innermost");
    /* Links to a directory and a file outside, and a dangling one. */
    snprintf(path, sizeof(path), "%s/to-dir", dir);
    ck_assert_int_eq(symlink(outside, path), 0);
    snprintf(path, sizeof(path), "%s/sub/to-file", dir);
    snprintf(target, sizeof(target), "%s/keep", outside);
    ck_assert_int_eq(symlink(target, path), 0);
    snprintf(path, sizeof(path), "%s/dangling", dir);
    ck_assert_int_eq(symlink("/nonexistent/canh", path), 0);

    ck_assert_int_eq(test_temp_dir_remove(dir), 0);
    ck_assert_int_eq(access(dir, F_OK), -1);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_eq(access(target, F_OK), 0);
    /* Gone already: said, not hidden. */
    ck_assert_int_eq(test_temp_dir_remove(dir), -1);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_eq(test_temp_dir_remove(outside), 0);
}
END_TEST

/* Only "" and NULL are exercised: were the guard ever to break, "/" here
 * would hand the whole file system to the walk. */
START_TEST(remove_refuses_empty_path)
{
    errno = 0;
    ck_assert_int_eq(test_temp_dir_remove(""), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(test_temp_dir_remove(NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
}
END_TEST

/* A directory test_temp_dir did not make (not canh-*), or one reached
 * through "..", is refused and left whole. */
START_TEST(remove_refuses_other_dirs)
{
    char other[] = "/tmp/other-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(other));
    errno = 0;
    ck_assert_int_eq(test_temp_dir_remove(other), -1);
    ck_assert_int_eq(errno, EINVAL);
    struct stat st;
    ck_assert_int_eq(stat(other, &st), 0);
    char dir[256], up[300];
    ck_assert_ptr_nonnull(test_temp_dir(dir, sizeof(dir), "dots"));
    snprintf(up, sizeof(up), "%s/../%s", dir, strrchr(dir, '/') + 1);
    errno = 0;
    ck_assert_int_eq(test_temp_dir_remove(up), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(stat(dir, &st), 0);
    ck_assert_int_eq(test_temp_dir_remove(dir), 0);
    ck_assert_int_eq(rmdir(other), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("testutil");
    TCase *tc = tcase_create("temp_dir");
    tcase_add_test(tc, temp_dir_is_fresh_private_and_under_tmpdir);
    tcase_add_test(tc, temp_dir_too_long_for_buffer_is_an_error);
    tcase_add_test(tc, remove_deletes_tree_but_not_link_targets);
    tcase_add_test(tc, remove_refuses_empty_path);
    tcase_add_test(tc, remove_refuses_other_dirs);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
