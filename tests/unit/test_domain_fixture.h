/* Shared by the tests of services/domain: the work calendar of DOMAIN.md §5
 * written out from the notices, an oracle that knows the same facts without
 * the calendar module, and a way to run a table's rows as separate cmocka
 * tests (each row is named and counted on its own). */
#ifndef LIAISON_TESTS_TEST_DOMAIN_FIXTURE_H
#define LIAISON_TESTS_TEST_DOMAIN_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "domain/calendar.h"
#include "domain/date.h"

/* DOMAIN.md §5, one line per fact of the table. */
static const char k_fixture_calendar[] = "version = test-1\n"
                                         "[year 2024]\n"
                                         "notice = 国办发明电〔2023〕7号\n"
                                         "rest = 2024-01-01 元旦\n"
                                         "rest = 2024-02-10..2024-02-17 春节\n"
                                         "rest = 2024-04-04..2024-04-06 清明节\n"
                                         "rest = 2024-05-01..2024-05-05 劳动节\n"
                                         "rest = 2024-06-10 端午节\n"
                                         "rest = 2024-09-15..2024-09-17 中秋节\n"
                                         "rest = 2024-10-01..2024-10-07 国庆节\n"
                                         "work = 2024-02-04 春节调休上班\n"
                                         "work = 2024-02-18 春节调休上班\n"
                                         "work = 2024-04-07 清明节调休上班\n"
                                         "work = 2024-04-28 劳动节调休上班\n"
                                         "work = 2024-05-11 劳动节调休上班\n"
                                         "work = 2024-09-14 中秋节调休上班\n"
                                         "work = 2024-09-29 国庆节调休上班\n"
                                         "work = 2024-10-12 国庆节调休上班\n"
                                         "[year 2025]\n"
                                         "notice = 国办发明电〔2024〕12号\n"
                                         "rest = 2025-01-01 元旦\n"
                                         "rest = 2025-01-28..2025-02-04 春节\n"
                                         "rest = 2025-04-04..2025-04-06 清明节\n"
                                         "rest = 2025-05-01..2025-05-05 劳动节\n"
                                         "rest = 2025-05-31..2025-06-02 端午节\n"
                                         "rest = 2025-10-01..2025-10-08 国庆节、中秋节\n"
                                         "work = 2025-01-26 春节调休上班\n"
                                         "work = 2025-02-08 春节调休上班\n"
                                         "work = 2025-04-27 劳动节调休上班\n"
                                         "work = 2025-09-28 国庆节调休上班\n"
                                         "work = 2025-10-11 国庆节调休上班\n"
                                         "[year 2026]\n"
                                         "notice = 国务院办公厅关于2026年部分节假日安排的通知\n"
                                         "rest = 2026-01-01..2026-01-03 元旦\n"
                                         "rest = 2026-02-15..2026-02-23 春节\n"
                                         "rest = 2026-04-04..2026-04-06 清明节\n"
                                         "rest = 2026-05-01..2026-05-05 劳动节\n"
                                         "rest = 2026-06-19..2026-06-21 端午节\n"
                                         "rest = 2026-09-25..2026-09-27 中秋节\n"
                                         "rest = 2026-10-01..2026-10-07 国庆节\n"
                                         "work = 2026-01-04 元旦调休上班\n"
                                         "work = 2026-02-14 春节调休上班\n"
                                         "work = 2026-02-28 春节调休上班\n"
                                         "work = 2026-05-09 劳动节调休上班\n"
                                         "work = 2026-09-20 中秋节调休上班\n"
                                         "work = 2026-10-10 国庆节调休上班\n";

static inline domain_calendar_t *fixture_calendar(void)
{
    char err[256] = "";
    domain_calendar_t *cal =
        domain_calendar_parse(k_fixture_calendar, strlen(k_fixture_calendar), err, sizeof err);
    if (!cal)
        fprintf(stderr, "fixture calendar: %s\n", err);
    return cal;
}

/* ---- the oracle: §5 as plain data, with no calendar code ----------------- */

typedef struct {
    int y, m0, d0, m1, d1;
    const char *name;
} fixture_block_t;

/* The holiday blocks of 2024–2026 (inclusive). */
static const fixture_block_t k_fixture_blocks[] = {
    {2024, 1, 1, 1, 1, "元旦"},
    {2024, 2, 10, 2, 17, "春节"},
    {2024, 4, 4, 4, 6, "清明节"},
    {2024, 5, 1, 5, 5, "劳动节"},
    {2024, 6, 10, 6, 10, "端午节"},
    {2024, 9, 15, 9, 17, "中秋节"},
    {2024, 10, 1, 10, 7, "国庆节"},
    {2025, 1, 1, 1, 1, "元旦"},
    {2025, 1, 28, 2, 4, "春节"},
    {2025, 4, 4, 4, 6, "清明节"},
    {2025, 5, 1, 5, 5, "劳动节"},
    {2025, 5, 31, 6, 2, "端午节"},
    {2025, 10, 1, 10, 8, "国庆节、中秋节"},
    {2026, 1, 1, 1, 3, "元旦"},
    {2026, 2, 15, 2, 23, "春节"},
    {2026, 4, 4, 4, 6, "清明节"},
    {2026, 5, 1, 5, 5, "劳动节"},
    {2026, 6, 19, 6, 21, "端午节"},
    {2026, 9, 25, 9, 27, "中秋节"},
    {2026, 10, 1, 10, 7, "国庆节"},
};
#define FIXTURE_NBLOCKS (sizeof k_fixture_blocks / sizeof k_fixture_blocks[0])

/* Make-up working days, with the weekday the notice gives (6 Sat, 7 Sun). */
typedef struct {
    int y, m, d, weekday;
} fixture_makeup_t;

static const fixture_makeup_t k_fixture_makeups[] = {
    {2024, 2, 4, 7},  {2024, 2, 18, 7}, {2024, 4, 7, 7},   {2024, 4, 28, 7},  {2024, 5, 11, 6},
    {2024, 9, 14, 6}, {2024, 9, 29, 7}, {2024, 10, 12, 6}, {2025, 1, 26, 7},  {2025, 2, 8, 6},
    {2025, 4, 27, 7}, {2025, 9, 28, 7}, {2025, 10, 11, 6}, {2026, 1, 4, 7},   {2026, 2, 14, 6},
    {2026, 2, 28, 6}, {2026, 5, 9, 6},  {2026, 9, 20, 7},  {2026, 10, 10, 6},
};
#define FIXTURE_NMAKEUPS (sizeof k_fixture_makeups / sizeof k_fixture_makeups[0])

static inline int fixture_ymd(int y, int m, int d)
{
    return y * 10000 + m * 100 + d;
}

static inline bool fixture_in_block(domain_date_t date, const fixture_block_t **block)
{
    int k = fixture_ymd(date.year, date.month, date.day);
    for (size_t i = 0; i < FIXTURE_NBLOCKS; i++) {
        const fixture_block_t *b = &k_fixture_blocks[i];
        if (k >= fixture_ymd(b->y, b->m0, b->d0) && k <= fixture_ymd(b->y, b->m1, b->d1)) {
            if (block)
                *block = b;
            return true;
        }
    }
    return false;
}

static inline bool fixture_is_makeup(domain_date_t date)
{
    for (size_t i = 0; i < FIXTURE_NMAKEUPS; i++)
        if (k_fixture_makeups[i].y == date.year && k_fixture_makeups[i].m == date.month &&
            k_fixture_makeups[i].d == date.day)
            return true;
    return false;
}

/* Weekday by Sakamoto's method, independent of domain_date (1 = Mon .. 7 = Sun). */
static inline int fixture_weekday(int y, int m, int d)
{
    static const int t[] = {0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4};
    if (m < 3)
        y -= 1;
    int w = (y + y / 4 - y / 100 + y / 400 + t[m - 1] + d) % 7; /* 0 = Sunday */
    return w == 0 ? 7 : w;
}

/* Is a day of 2024–2026 a rest day, by §5 alone? */
static inline bool fixture_is_rest(domain_date_t date)
{
    if (fixture_in_block(date, NULL))
        return true;
    if (fixture_is_makeup(date))
        return false;
    return fixture_weekday(date.year, date.month, date.day) >= 6;
}

/* ---- running table rows as separate tests --------------------------------- */

/* Each row type starts with `const char *name`. Runs fn once per row, as a
 * named cmocka test, so a failing row is reported by its name. */
static inline int fixture_run_rows(const char *group, const void *rows, size_t nrows,
                                   size_t rowsize, CMUnitTestFunction fn)
{
    struct CMUnitTest *tests = calloc(nrows ? nrows : 1, sizeof *tests);
    if (!tests)
        return 1;
    for (size_t i = 0; i < nrows; i++) {
        const void *row = (const char *)rows + i * rowsize;
        tests[i].name = *(const char *const *)row;
        tests[i].test_func = fn;
        tests[i].initial_state = (void *)(uintptr_t)row;
    }
    int failed = _cmocka_run_group_tests(group, tests, nrows, NULL, NULL);
    free(tests);
    return failed;
}

static inline domain_date_t D(const char *s)
{
    domain_date_t d = {0, 0, 0};
    if (domain_date_parse(s, &d) < 0)
        fprintf(stderr, "bad date in test: %s\n", s);
    return d;
}

#define assert_date_equal(a, b)                                                                    \
    do {                                                                                           \
        char _x[DOMAIN_DATE_STRLEN], _y[DOMAIN_DATE_STRLEN];                                       \
        domain_date_format((a), _x);                                                               \
        domain_date_format((b), _y);                                                               \
        assert_string_equal(_x, _y);                                                               \
    } while (0)

#endif
