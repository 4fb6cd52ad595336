/* Event, item, deadline and notice ids: version 4 and version 7 UUIDs in
 * canonical text, the version and variant bits right, version 7 ordered by
 * the millisecond it was made in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/bus.h"

static unsigned s_nibble(char c)
{
    return c <= '9' ? (unsigned)(c - '0') : (unsigned)(c - 'a' + 10);
}

static uint64_t s_ms_of(const char *u)
{
    /* the first 12 hex digits, around the dash at 8 */
    uint64_t ms = 0;
    for (int i = 0; i < 13; i++)
        if (i != 8)
            ms = ms << 4 | s_nibble(u[i]);
    return ms;
}

static void s_check_shape(const char *u, char version)
{
    assert_int_equal(strlen(u), 36);
    assert_true(bus_uuid_valid(u));
    assert_int_equal(u[14], version);
    assert_true(strchr("89ab", u[19]) != NULL); /* RFC 9562 variant 10xx */
    for (const char *p = u; *p; p++)
        assert_true(*p == '-' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'));
}

static void test_uuid4_shape_and_uniqueness(void **state)
{
    (void)state;
    char a[37], b[37];
    bus_uuid4(a);
    bus_uuid4(b);
    s_check_shape(a, '4');
    s_check_shape(b, '4');
    assert_string_not_equal(a, b);
}

static void test_uuid7_carries_the_wall_clock_millisecond(void **state)
{
    (void)state;
    struct timespec t0, t1;
    char u[37];
    clock_gettime(CLOCK_REALTIME, &t0);
    bus_uuid7(u);
    clock_gettime(CLOCK_REALTIME, &t1);
    s_check_shape(u, '7');
    uint64_t lo = (uint64_t)t0.tv_sec * 1000u + (uint64_t)t0.tv_nsec / 1000000u;
    uint64_t hi = (uint64_t)t1.tv_sec * 1000u + (uint64_t)t1.tv_nsec / 1000000u;
    uint64_t ms = s_ms_of(u);
    assert_true(ms >= lo && ms <= hi);
}

static void test_uuid7_sorts_by_creation_across_milliseconds(void **state)
{
    (void)state;
    char prev[37], next[37];
    bus_uuid7(prev);
    for (int i = 0; i < 50; i++) {
        struct timespec pause = {0, 1100000}; /* > 1 ms */
        nanosleep(&pause, NULL);
        bus_uuid7(next);
        s_check_shape(next, '7');
        assert_true(strcmp(prev, next) < 0);
        memcpy(prev, next, sizeof prev);
    }
}

static void test_uuid7_unique_within_a_millisecond(void **state)
{
    (void)state;
    enum { N = 20000 };
    char(*ids)[37] = malloc(N * sizeof *ids);
    assert_non_null(ids);
    for (int i = 0; i < N; i++)
        bus_uuid7(ids[i]);
    qsort(ids, N, sizeof *ids, (int (*)(const void *, const void *))strcmp);
    for (int i = 1; i < N; i++)
        assert_string_not_equal(ids[i - 1], ids[i]);
    free(ids);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uuid4_shape_and_uniqueness),
        cmocka_unit_test(test_uuid7_carries_the_wall_clock_millisecond),
        cmocka_unit_test(test_uuid7_sorts_by_creation_across_milliseconds),
        cmocka_unit_test(test_uuid7_unique_within_a_millisecond),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
