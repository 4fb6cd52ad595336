/* clock: real time, the shared test clock, and its refusal in production. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"

#define SEC 1000000LL
#define DAY (86400 * SEC)

static char s_dir[64];
static char s_file[128];

static int setup(void **state)
{
    strcpy(s_dir, "/tmp/liaison-clock-XXXXXX");
    if (!mkdtemp(s_dir))
        return -1;
    snprintf(s_file, sizeof s_file, "%s/testclock", s_dir);
    return 0;
}

static int teardown(void **state)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int64_t real_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * SEC + ts.tv_nsec / 1000;
}

static void test_real_clock(void **state)
{
    char *error = NULL;
    liaison_clock_t *c = clock_new("real", "production", NULL, &error);
    assert_non_null(c);
    assert_null(error);
    assert_false(clock_is_test(c));
    int64_t now = clock_now_us(c);
    assert_true(llabs(now - real_now_us()) < SEC);
    assert_true(llabs(clock_now_s(c) - now / SEC) <= 1);
    assert_int_equal(0, clock_offset_us(c));
    /* the real clock cannot be moved */
    errno = 0;
    assert_int_equal(-1, clock_advance(c, DAY));
    assert_int_equal(EPERM, errno);
    assert_int_equal(-1, clock_set(c, 0));
    clock_destroy(&c);
    assert_null(c);
}

static void test_refused_in_production(void **state)
{
    char *error = NULL;
    assert_null(clock_new("test", "production", s_file, &error));
    assert_string_equal("clock: the test clock is refused in production mode (set [common] mode "
                        "to development or test, or clock = real)",
                        error);
    free(error);
    error = NULL;
    assert_null(clock_new("fast", "development", s_file, &error));
    assert_string_equal("clock: unknown clock mode (expected real or test)", error);
    free(error);
    error = NULL;
    assert_null(clock_new("test", "development", NULL, &error));
    assert_string_equal("clock: the test clock needs a clock file ([common] clock_file)", error);
    free(error);
}

static void test_shared_offset(void **state)
{
    char *error = NULL;
    liaison_clock_t *cli = clock_new("test", "test", s_file, &error);
    liaison_clock_t *daemon = clock_new("test", "development", s_file, &error);
    assert_non_null(cli);
    assert_non_null(daemon);
    assert_true(clock_is_test(daemon));

    /* no file yet: real time */
    assert_int_equal(0, clock_offset_us(daemon));
    assert_true(llabs(clock_now_us(daemon) - real_now_us()) < SEC);

    /* `liaisonctl clock advance 30d` seen at once by another clock */
    assert_int_equal(0, clock_advance(cli, 30 * DAY));
    assert_int_equal(30 * DAY, clock_offset_us(daemon));
    assert_true(llabs(clock_now_us(daemon) - (real_now_us() + 30 * DAY)) < SEC);

    /* advances add up, even in the same timestamp tick */
    assert_int_equal(0, clock_advance(cli, DAY));
    assert_int_equal(0, clock_advance(daemon, 2 * SEC));
    assert_int_equal(31 * DAY + 2 * SEC, clock_offset_us(daemon));
    assert_int_equal(31 * DAY + 2 * SEC, clock_offset_us(cli));

    /* set to an absolute instant: 2030-01-01T00:00:00Z */
    int64_t target = 1893456000LL * SEC;
    assert_int_equal(0, clock_set(cli, target));
    assert_true(llabs(clock_now_us(daemon) - target) < SEC);
    assert_true(llabs(clock_now_s(daemon) - 1893456000LL) <= 1);

    errno = 0;
    assert_int_equal(-1, clock_advance(cli, -1));
    assert_int_equal(EINVAL, errno);

    assert_int_equal(0, clock_reset(cli));
    assert_int_equal(0, clock_offset_us(daemon));

    clock_destroy(&cli);
    clock_destroy(&daemon);
}

static void test_file_format_and_atomic_write(void **state)
{
    assert_int_equal(0, clock_file_write(s_file, 123456789));
    FILE *f = fopen(s_file, "r");
    assert_non_null(f);
    char buf[64] = {0};
    assert_true(fread(buf, 1, sizeof buf - 1, f) > 0);
    fclose(f);
    assert_string_equal("123456789\n", buf);
    int64_t offset = 0;
    assert_int_equal(0, clock_file_read(s_file, &offset));
    assert_int_equal(123456789, offset);

    /* no temporary file is left behind */
    DIR *d = opendir(s_dir);
    struct dirent *e;
    while ((e = readdir(d)))
        assert_null(strstr(e->d_name, ".tmp"));
    closedir(d);
}

static void test_garbage_keeps_last_offset(void **state)
{
    char *error = NULL;
    liaison_clock_t *c = clock_new("test", "test", s_file, &error);
    assert_non_null(c);
    assert_int_equal(0, clock_file_write(s_file, 5 * SEC));
    assert_int_equal(5 * SEC, clock_offset_us(c));
    FILE *f = fopen(s_file, "w");
    fputs("not a number\n", f);
    fclose(f);
    assert_int_equal(5 * SEC, clock_offset_us(c));
    int64_t offset;
    assert_int_equal(-1, clock_file_read(s_file, &offset));
    /* a missing file is real time again */
    unlink(s_file);
    assert_int_equal(0, clock_offset_us(c));
    clock_destroy(&c);
}

static void test_monotonic(void **state)
{
    int64_t a = clock_mono_us();
    usleep(2000);
    int64_t b = clock_mono_us();
    assert_true(b - a >= 2000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_clock),
        cmocka_unit_test(test_refused_in_production),
        cmocka_unit_test_setup_teardown(test_shared_offset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_format_and_atomic_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_keeps_last_offset, setup, teardown),
        cmocka_unit_test(test_monotonic),
    };
    return cmocka_run_group_tests_name("common_clock", tests, NULL, NULL);
}
