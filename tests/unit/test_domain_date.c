/* Civil dates and court zones. */
#include "test_domain_fixture.h"

#include "domain/date.h"

typedef struct {
    const char *name;
    const char *from;
    int months;
    const char *expect;
} s_month_row_t;

/* The month-end rule (DOMAIN.md §4.1), by hand. */
static const s_month_row_t s_month_rows[] = {
    {"Jan 31 + 1 in 2024 (leap) -> Feb 29", "2024-01-31", 1, "2024-02-29"},
    {"Jan 31 + 1 in 2025 -> Feb 28", "2025-01-31", 1, "2025-02-28"},
    {"Jan 31 + 1 in 2100 (not leap) -> Feb 28", "2100-01-31", 1, "2100-02-28"},
    {"Jan 31 + 1 in 2000 (leap) -> Feb 29", "2000-01-31", 1, "2000-02-29"},
    {"Mar 31 + 1 -> Apr 30", "2025-03-31", 1, "2025-04-30"},
    {"Aug 31 + 1 -> Sep 30", "2025-08-31", 1, "2025-09-30"},
    {"Dec 31 + 2 -> Feb 29 2024", "2023-12-31", 2, "2024-02-29"},
    {"Oct 31 + 4 -> Feb 28 2026", "2025-10-31", 4, "2026-02-28"},
    {"Feb 29 + 12 -> Feb 28", "2024-02-29", 12, "2025-02-28"},
    {"Feb 29 + 48 -> Feb 29 2028", "2024-02-29", 48, "2028-02-29"},
    {"Feb 28 + 1 -> Mar 28, not Mar 31", "2025-02-28", 1, "2025-03-28"},
    {"Nov 30 + 3 -> Feb 29 2024", "2023-11-30", 3, "2024-02-29"},
    {"May 31 - 1 -> Apr 30", "2025-05-31", -1, "2025-04-30"},
    {"Mar 31 - 1 -> Feb 29 2024", "2024-03-31", -1, "2024-02-29"},
    {"Jan 15 - 1 -> Dec 15", "2025-01-15", -1, "2024-12-15"},
    {"Jul 31 + 120 -> Jul 31 2035", "2025-07-31", 120, "2035-07-31"},
};

static void s_month_row(void **state)
{
    const s_month_row_t *r = *state;
    domain_date_t out;
    assert_int_equal(domain_date_add_months(D(r->from), r->months, &out), 0);
    assert_date_equal(out, D(r->expect));
}

static void test_leap_years(void **state)
{
    assert_true(domain_date_is_leap_year(2024));
    assert_true(domain_date_is_leap_year(2000));
    assert_false(domain_date_is_leap_year(1900));
    assert_false(domain_date_is_leap_year(2100));
    assert_false(domain_date_is_leap_year(2025));
    assert_int_equal(domain_date_days_in_month(2024, 2), 29);
    assert_int_equal(domain_date_days_in_month(2025, 2), 28);
    assert_int_equal(domain_date_days_in_month(2025, 4), 30);
    assert_int_equal(domain_date_days_in_month(2025, 13), 0);
}

static void test_days_round_trip_and_weekday(void **state)
{
    assert_int_equal(domain_date_to_days(D("1970-01-01")), 0);
    assert_int_equal(domain_date_to_days(D("2000-03-01")), 11017);
    for (int32_t n = domain_date_min_days(); n <= domain_date_max_days(); n++) {
        domain_date_t d = domain_date_from_days(n);
        if (!domain_date_valid(d) || domain_date_to_days(d) != n)
            fail_msg("day %d does not round-trip", n);
        if ((int)domain_date_weekday(d) != fixture_weekday(d.year, d.month, d.day))
            fail_msg("weekday of day %d", n);
    }
    assert_int_equal(domain_date_weekday(D("2024-02-09")), DOMAIN_FRIDAY);
    assert_int_equal(domain_date_weekday(D("2025-01-26")), DOMAIN_SUNDAY);
    assert_int_equal(domain_date_day_of_year(D("2024-12-31")), 366);
    assert_string_equal(domain_weekday_name_zh(DOMAIN_SATURDAY), "周六");
}

static void test_parse_and_format(void **state)
{
    domain_date_t d;
    const char *bad[] = {"",
                         "2025-1-01",
                         "2025-01-1",
                         "2025/01/01",
                         "2025-02-29",
                         "2025-13-01",
                         "2025-00-10",
                         "2025-01-00",
                         "1899-12-31",
                         "2400-01-01",
                         " 2025-01-01",
                         "2025-01-01 ",
                         "２０２５-01-01",
                         "2025-01-01x",
                         "abcd-ef-gh"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (domain_date_parse(bad[i], &d) == 0)
            fail_msg("accepted \"%s\"", bad[i]);
    assert_int_equal(domain_date_parse(NULL, &d), -1);
    assert_int_equal(domain_date_parse("2024-02-29", &d), 0);
    char buf[DOMAIN_DATE_STRLEN];
    assert_string_equal(domain_date_format(d, buf), "2024-02-29");
    /* an invalid value never overflows the buffer */
    assert_int_equal(strlen(domain_date_format(domain_date(-5, 99, 123), buf)), 10);
}

static void test_add_days_limits(void **state)
{
    domain_date_t out;
    assert_int_equal(domain_date_add_days(D("2399-12-31"), 1, &out), -1);
    assert_int_equal(domain_date_add_days(D("1900-01-01"), -1, &out), -1);
    assert_int_equal(domain_date_add_days(domain_date(2025, 2, 30), 1, &out), -1);
    assert_int_equal(domain_date_add_months(D("2399-12-31"), 1, &out), -1);
    assert_int_equal(domain_date_add_days(D("2024-02-28"), 1, &out), 0);
    assert_date_equal(out, D("2024-02-29"));
    assert_true(domain_date_compare(D("2024-01-01"), D("2023-12-31")) > 0);
    assert_true(domain_date_equal(D("2024-01-01"), domain_date(2024, 1, 1)));
}

static int64_t s_utc(int y, int mo, int d, int h, int mi, int s)
{
    return (int64_t)domain_date_to_days(domain_date(y, mo, d)) * 86400 + h * 3600 + mi * 60 + s;
}

static void test_zones(void **state)
{
    domain_zone_t z;
    assert_int_equal(domain_zone_find("Asia/Shanghai", &z), 0);
    assert_int_equal(z.utc_offset_s, 8 * 3600);
    assert_int_equal(domain_zone_find("PRC", &z), 0);
    assert_string_equal(z.name, "Asia/Shanghai");
    const char *unknown[] = {"America/New_York", "Asia/Urumqi",    "",
                             "asia/shanghai",    "Asia/Shanghai ", "+08:00"};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
        assert_int_equal(domain_zone_find(unknown[i], &z), -1);
    assert_int_equal(domain_zone_find(NULL, &z), -1);
}

static void test_local_date_at_2359_and_0000(void **state)
{
    domain_zone_t z;
    assert_int_equal(domain_zone_find("Asia/Shanghai", &z), 0);
    domain_date_t d;
    /* 2025-12-31 23:59:59 Beijing = 15:59:59Z */
    assert_int_equal(domain_zone_local_date(&z, s_utc(2025, 12, 31, 15, 59, 59), &d), 0);
    assert_date_equal(d, D("2025-12-31"));
    /* 2026-01-01 00:00:00 Beijing = 2025-12-31 16:00:00Z: already the new year */
    assert_int_equal(domain_zone_local_date(&z, s_utc(2025, 12, 31, 16, 0, 0), &d), 0);
    assert_date_equal(d, D("2026-01-01"));
    /* 00:00Z is 08:00 Beijing the same day */
    assert_int_equal(domain_zone_local_date(&z, s_utc(2024, 2, 29, 0, 0, 0), &d), 0);
    assert_date_equal(d, D("2024-02-29"));
    int64_t t;
    assert_int_equal(domain_zone_end_of_day(&z, D("2024-02-29"), &t), 0);
    assert_int_equal(t, s_utc(2024, 2, 29, 16, 0, 0));
    assert_int_equal(domain_zone_start_of_day(&z, D("2024-02-29"), &t), 0);
    assert_int_equal(t, s_utc(2024, 2, 28, 16, 0, 0));
    /* the last second of the due day is still that day; 24:00 is the next */
    assert_int_equal(domain_zone_local_date(&z, s_utc(2024, 2, 29, 15, 59, 59), &d), 0);
    assert_date_equal(d, D("2024-02-29"));
    /* before 1991-09-15 China's offset was not fixed: refused */
    assert_int_equal(domain_zone_local_date(&z, s_utc(1990, 7, 1, 0, 0, 0), &d), -1);
    assert_int_equal(domain_zone_end_of_day(&z, D("1990-07-01"), &t), -1);
    assert_int_equal(domain_zone_local_date(NULL, 0, &d), -1);
    assert_int_equal(domain_zone_local_date(&z, INT64_MAX, &d), -1);
}

int main(void)
{
    int failed = fixture_run_rows("month-end rule", s_month_rows,
                                  sizeof s_month_rows / sizeof s_month_rows[0],
                                  sizeof s_month_rows[0], s_month_row);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leap_years),
        cmocka_unit_test(test_days_round_trip_and_weekday),
        cmocka_unit_test(test_parse_and_format),
        cmocka_unit_test(test_add_days_limits),
        cmocka_unit_test(test_zones),
        cmocka_unit_test(test_local_date_at_2359_and_0000),
    };
    failed += cmocka_run_group_tests_name("date", tests, NULL, NULL);
    return failed ? 1 : 0;
}
