/* The work calendar: every fact of DOMAIN.md §5, unknown years, the parser's
 * refusals (with line numbers), court overrides, and the shipped data file. */
#include "test_domain_fixture.h"

#include "domain/calendar.h"

static domain_calendar_t *s_cal;

/* ---- every holiday block: each day a named holiday, the days around not ---- */

static void s_block_test(void **state)
{
    const fixture_block_t *b = *state;
    domain_date_t d = domain_date(b->y, b->m0, b->d0), end = domain_date(b->y, b->m1, b->d1);
    for (; domain_date_compare(d, end) <= 0; domain_date_add_days(d, 1, &d)) {
        domain_day_t day;
        assert_int_equal(domain_calendar_day(s_cal, NULL, d, &day), 0);
        assert_int_equal(day.kind, DOMAIN_DAY_HOLIDAY);
        assert_string_equal(day.name, b->name);
        bool known;
        assert_true(domain_calendar_is_rest_day(s_cal, NULL, d, &known));
        assert_true(known);
    }
}

typedef struct {
    const char *name;
    const fixture_block_t *block;
} s_block_row_t;

static void s_block_row(void **state)
{
    const s_block_row_t *r = *state;
    void *b = (void *)(uintptr_t)r->block;
    s_block_test(&b);
}

/* ---- every make-up working day ------------------------------------------- */

typedef struct {
    const char *name;
    const fixture_makeup_t *m;
} s_makeup_row_t;

static void s_makeup_row(void **state)
{
    const s_makeup_row_t *r = *state;
    domain_date_t d = domain_date(r->m->y, r->m->m, r->m->d);
    /* the notice says which weekend day it is */
    assert_int_equal((int)domain_date_weekday(d), r->m->weekday);
    domain_day_t day;
    assert_int_equal(domain_calendar_day(s_cal, NULL, d, &day), 0);
    assert_int_equal(day.kind, DOMAIN_DAY_MAKEUP_WORK);
    assert_non_null(strstr(day.name, "调休上班"));
    bool known;
    assert_false(domain_calendar_is_rest_day(s_cal, NULL, d, &known));
    assert_true(known);
}

/* ---- single facts ---------------------------------------------------------- */

static void test_every_day_matches_the_notices(void **state)
{
    /* 2024-01-01..2026-12-31 against the oracle built from §5 alone */
    domain_date_t d = D("2024-01-01");
    int rest = 0, work = 0;
    for (; d.year <= 2026; domain_date_add_days(d, 1, &d)) {
        bool known;
        bool r = domain_calendar_is_rest_day(s_cal, NULL, d, &known);
        assert_true(known);
        if (r != fixture_is_rest(d)) {
            char b[DOMAIN_DATE_STRLEN];
            fail_msg("%s: calendar says %s", domain_date_format(d, b), r ? "rest" : "work");
        }
        r ? rest++ : work++;
    }
    assert_int_equal(rest + work, 366 + 365 + 365);
    /* Working days by hand from §5 (days - weekend days - weekday holidays
     * + make-up days): 2024 366-104-19+8 = 251; 2025 365-104-18+5 = 248;
     * 2026 365-104-19+6 = 248. */
    assert_int_equal(work, 251 + 248 + 248);
}

static void test_chuxi_2024_is_a_working_day(void **state)
{
    domain_day_t day;
    assert_int_equal(domain_calendar_day(s_cal, NULL, D("2024-02-09"), &day), 0);
    assert_int_equal(day.kind, DOMAIN_DAY_WORK);
    assert_string_equal(day.name, "周五");
}

static void test_ordinary_weekend_and_weekday(void **state)
{
    domain_day_t day;
    assert_int_equal(domain_calendar_day(s_cal, NULL, D("2025-03-08"), &day), 0);
    assert_int_equal(day.kind, DOMAIN_DAY_WEEKEND);
    assert_string_equal(day.name, "周六");
    assert_int_equal(domain_calendar_day(s_cal, NULL, D("2025-03-09"), &day), 0);
    assert_int_equal(day.kind, DOMAIN_DAY_WEEKEND);
    assert_string_equal(day.name, "周日");
    assert_int_equal(domain_calendar_day(s_cal, NULL, D("2025-03-10"), &day), 0);
    assert_int_equal(day.kind, DOMAIN_DAY_WORK);
    assert_false(day.court_override);
}

static void test_holiday_on_a_weekend_is_named(void **state)
{
    /* 2026-02-15 is a Sunday inside 春节: the holiday name wins */
    domain_day_t day;
    assert_int_equal(domain_calendar_day(s_cal, NULL, D("2026-02-15"), &day), 0);
    assert_int_equal(day.kind, DOMAIN_DAY_HOLIDAY);
    assert_string_equal(day.name, "春节");
}

static void test_unknown_years_refused(void **state)
{
    const char *dates[] = {"2023-12-31", "2027-01-01", "2027-06-15", "1999-10-01", "2100-01-04"};
    for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++) {
        domain_day_t day;
        assert_int_equal(domain_calendar_day(s_cal, NULL, D(dates[i]), &day), -1);
        assert_int_equal(day.kind, DOMAIN_DAY_UNKNOWN);
        bool known = true;
        assert_false(domain_calendar_is_rest_day(s_cal, NULL, D(dates[i]), &known));
        assert_false(known);
    }
    assert_false(domain_calendar_knows_year(s_cal, 2023));
    assert_false(domain_calendar_knows_year(s_cal, 2027));
    assert_null(domain_calendar_notice(s_cal, 2027));
}

static void test_known_years_and_notices(void **state)
{
    int years[8];
    assert_int_equal(domain_calendar_years(s_cal, years, 8), 3);
    assert_int_equal(years[0], 2024);
    assert_int_equal(years[2], 2026);
    assert_string_equal(domain_calendar_notice(s_cal, 2025), "国办发明电〔2024〕12号");
    assert_string_equal(domain_calendar_version(s_cal), "test-1");
    assert_true(domain_calendar_knows_year(s_cal, 2024));
}

static void test_invalid_date_refused(void **state)
{
    domain_day_t day;
    assert_int_equal(domain_calendar_day(s_cal, NULL, domain_date(2025, 2, 29), &day), -1);
    assert_int_equal(day.kind, DOMAIN_DAY_UNKNOWN);
    assert_int_equal(domain_calendar_day(NULL, NULL, D("2025-03-03"), &day), -1);
}

static void test_kind_names(void **state)
{
    assert_string_equal(domain_day_kind_name(DOMAIN_DAY_WORK), "work");
    assert_string_equal(domain_day_kind_name(DOMAIN_DAY_MAKEUP_WORK), "makeup-work");
    assert_string_equal(domain_day_kind_name(DOMAIN_DAY_WEEKEND), "weekend");
    assert_string_equal(domain_day_kind_name(DOMAIN_DAY_HOLIDAY), "holiday");
    assert_string_equal(domain_day_kind_name(DOMAIN_DAY_UNKNOWN), "unknown");
    assert_false(domain_day_kind_is_rest(DOMAIN_DAY_UNKNOWN));
    assert_false(domain_day_kind_is_rest(DOMAIN_DAY_MAKEUP_WORK));
    assert_true(domain_day_kind_is_rest(DOMAIN_DAY_HOLIDAY));
}

/* ---- the shipped data file ------------------------------------------------ */

static char *s_read(const char *path, size_t *len)
{
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char buf[1 << 20];
    *len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[*len] = '\0';
    return buf;
}

static void test_shipped_file_matches_the_notices(void **state)
{
    size_t len;
    const char *env = getenv("LIAISON_CALENDAR");
    char *text = s_read(env && *env ? env : "deploy/calendar/work-calendar.txt", &len);
    if (!text)
        text = s_read("../../deploy/calendar/work-calendar.txt", &len);
    assert_non_null(text);
    char err[256];
    domain_calendar_t *shipped = domain_calendar_parse(text, len, err, sizeof err);
    if (!shipped)
        fail_msg("shipped calendar: %s", err);
    domain_date_t first;
    /* same kinds every day; names differ only in wording, so compare kinds */
    for (domain_date_t d = D("2024-01-01"); d.year <= 2026; domain_date_add_days(d, 1, &d)) {
        domain_day_t a, b;
        assert_int_equal(domain_calendar_day(shipped, NULL, d, &a), 0);
        assert_int_equal(domain_calendar_day(s_cal, NULL, d, &b), 0);
        if (a.kind != b.kind) {
            char buf[DOMAIN_DATE_STRLEN];
            fail_msg("%s: shipped %s, notices %s", domain_date_format(d, buf),
                     domain_day_kind_name(a.kind), domain_day_kind_name(b.kind));
        }
    }
    assert_false(domain_calendar_knows_year(shipped, 2027));
    for (int y = 2024; y <= 2026; y++)
        assert_non_null(strstr(domain_calendar_notice(shipped, y), "国务院办公厅"));
    (void)first;
    domain_calendar_destroy(&shipped);
}

/* ---- the parser refuses bad input with a line number ------------------------ */

typedef struct {
    const char *name;
    const char *text;
    int line; /* 0: no line number in the message */
    const char *says;
} s_bad_row_t;

static const s_bad_row_t s_bad[] = {
    {"empty file", "", 0, "no [year N]"},
    {"comments only", "# nothing\n\n", 0, "no [year N]"},
    {"year without notice", "[year 2024]\nrest = 2024-01-01 元旦\n", 1, "no \"notice"},
    {"year without notice before the next", "[year 2024]\n[year 2025]\nnotice = x\n", 1,
     "no \"notice"},
    {"duplicate year", "[year 2024]\nnotice = a\n[year 2024]\nnotice = b\n", 3, "declared twice"},
    {"two notices", "[year 2024]\nnotice = a\nnotice = b\n", 3, "two notices"},
    {"bad year", "[year 24]\n", 1, "four-digit year"},
    {"year out of range", "[year 1800]\n", 1, "four-digit year"},
    {"unknown section", "[holidays]\n", 1, "unknown section"},
    {"unterminated section", "[year 2024\n", 1, "end with ']'"},
    {"unknown key", "[year 2024]\nnotice = a\nholiday = 2024-01-01 x\n", 3, "unknown key"},
    {"no equals", "[year 2024]\nnotice = a\nrest 2024-01-01 x\n", 3, "key = value"},
    {"rest outside a section", "rest = 2024-01-01 元旦\n", 1, "belongs in a"},
    {"notice outside a year", "notice = x\n", 1, "belongs in a [year N]"},
    {"version after a section", "[year 2024]\nnotice = a\nversion = 2\n", 3,
     "before the first section"},
    {"version twice", "version = 1\nversion = 2\n", 2, "twice"},
    {"invalid date", "[year 2024]\nnotice = a\nrest = 2024-02-30 x\n", 3, "expected a date"},
    {"date with slashes", "[year 2024]\nnotice = a\nrest = 2024/02/03 x\n", 3, "expected a date"},
    {"missing name", "[year 2024]\nnotice = a\nrest = 2024-02-03\n", 3, "needs a name"},
    {"reversed range", "[year 2024]\nnotice = a\nrest = 2024-02-05..2024-02-03 x\n", 3,
     "ends before"},
    {"range too long", "[year 2024]\nnotice = a\nrest = 2024-01-01..2024-03-01 x\n", 3,
     "at most 31"},
    {"date far outside its year", "[year 2024]\nnotice = a\nrest = 2025-06-01 x\n", 3,
     "outside year 2024"},
    {"make-up day on a weekday", "[year 2024]\nnotice = a\nwork = 2024-02-05 x\n", 3,
     "not a Saturday or Sunday"},
    {"same day twice", "[year 2024]\nnotice = a\nrest = 2024-01-01 a\nrest = 2024-01-01 b\n", 4,
     "line 3"},
    {"rest and work on one day",
     "[year 2024]\nnotice = a\nrest = 2024-02-03..2024-02-04 a\nwork = 2024-02-04 b\n", 4,
     "already declared"},
    {"invalid UTF-8", "[year 2024]\nnotice = \xff\xfe\n", 2, "UTF-8"},
    {"overlong UTF-8", "[year 2024]\nnotice = \xc0\xaf\n", 2, "UTF-8"},
    {"control character", "[year 2024]\nnotice = a\x01\n", 2, "control character"},
    {"bad court id", "[court a b]\n", 1, "[court ID]"},
    {"court duplicate day",
     "[court lw]\nrest = 2024-07-01 a\nrest = 2024-07-01 b\n[year 2024]\nnotice = x\n", 3,
     "for court lw"},
    {"name too long",
     "[year 2024]\nnotice = a\nrest = 2024-01-01 "
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxx\n",
     3, "1 to 95 bytes"},
};

static void s_bad_row(void **state)
{
    const s_bad_row_t *r = *state;
    char err[256] = "";
    domain_calendar_t *cal = domain_calendar_parse(r->text, strlen(r->text), err, sizeof err);
    assert_null(cal);
    if (r->line > 0) {
        char want[32];
        snprintf(want, sizeof want, "line %d: ", r->line);
        if (strncmp(err, want, strlen(want)) != 0)
            fail_msg("%s: message \"%s\" does not start with \"%s\"", r->name, err, want);
    }
    if (!strstr(err, r->says))
        fail_msg("%s: message \"%s\" does not say \"%s\"", r->name, err, r->says);
}

static void test_nul_byte_refused(void **state)
{
    static const char text[] = "[year 2024]\nnotice = a\0b\n";
    char err[256];
    assert_null(domain_calendar_parse(text, sizeof text - 1, err, sizeof err));
    assert_non_null(strstr(err, "line 2: NUL"));
    assert_null(domain_calendar_parse(NULL, 0, err, sizeof err));
}

static void test_accepted_forms(void **state)
{
    /* BOM, CRLF, comments after values, a range across the new year */
    static const char text[] =
        "\xEF\xBB\xBF# c\r\nversion = v9 # trailing\r\n[year 2019]\r\nnotice = n\r\n"
        "[ year 2018 ]\nnotice = m\nrest = 2018-12-30..2019-01-01 元旦  # new year\n"
        "work = 2018-12-29 元旦调休上班\n";
    char err[256];
    domain_calendar_t *cal = domain_calendar_parse(text, sizeof text - 1, err, sizeof err);
    if (!cal)
        fail_msg("%s", err);
    assert_string_equal(domain_calendar_version(cal), "v9");
    domain_day_t day;
    assert_int_equal(domain_calendar_day(cal, NULL, D("2018-12-31"), &day), 0);
    assert_int_equal(day.kind, DOMAIN_DAY_HOLIDAY);
    assert_string_equal(day.name, "元旦");
    assert_int_equal(domain_calendar_day(cal, NULL, D("2019-01-01"), &day), 0);
    assert_int_equal(day.kind, DOMAIN_DAY_HOLIDAY);
    assert_int_equal(domain_calendar_day(cal, NULL, D("2018-12-29"), &day), 0);
    assert_int_equal(day.kind, DOMAIN_DAY_MAKEUP_WORK);
    domain_calendar_destroy(&cal);
    assert_null(cal);
    domain_calendar_destroy(&cal); /* twice is harmless */
    domain_calendar_destroy(NULL);
}

static void test_day_in_unknown_neighbour_year_stays_unknown(void **state)
{
    static const char text[] = "[year 2024]\nnotice = a\nrest = 2023-12-30..2024-01-01 元旦\n";
    char err[256];
    domain_calendar_t *cal = domain_calendar_parse(text, sizeof text - 1, err, sizeof err);
    assert_non_null(cal);
    domain_day_t day;
    assert_int_equal(domain_calendar_day(cal, NULL, D("2023-12-31"), &day), -1);
    assert_int_equal(day.kind, DOMAIN_DAY_UNKNOWN);
    assert_int_equal(domain_calendar_day(cal, NULL, D("2024-01-01"), &day), 0);
    domain_calendar_destroy(&cal);
}

/* ---- court overrides -------------------------------------------------------- */

static void test_court_sections(void **state)
{
    char *text;
    assert_true(asprintf(&text, "%s[court lw]\nrest = 2025-07-01 院庆\nwork = 2025-10-08 值班\n",
                         k_fixture_calendar) > 0);
    char err[256];
    domain_calendar_t *cal = domain_calendar_parse(text, strlen(text), err, sizeof err);
    free(text);
    if (!cal)
        fail_msg("%s", err);
    assert_true(domain_calendar_has_court(cal, "lw"));
    assert_false(domain_calendar_has_court(cal, "other"));
    domain_day_t day;
    assert_int_equal(domain_calendar_day(cal, "lw", D("2025-07-01"), &day), 0);
    assert_int_equal(day.kind, DOMAIN_DAY_HOLIDAY);
    assert_string_equal(day.name, "院庆");
    assert_true(day.court_override);
    /* 10/8 is in 国庆 nationally; the court works (a Wednesday) */
    assert_int_equal(domain_calendar_day(cal, "lw", D("2025-10-08"), &day), 0);
    assert_int_equal(day.kind, DOMAIN_DAY_WORK);
    /* other courts and the national calendar are unaffected */
    assert_int_equal(domain_calendar_day(cal, "other", D("2025-07-01"), &day), 0);
    assert_int_equal(day.kind, DOMAIN_DAY_WORK);
    assert_int_equal(domain_calendar_day(cal, NULL, D("2025-10-08"), &day), 0);
    assert_int_equal(day.kind, DOMAIN_DAY_HOLIDAY);
    /* and the rest of the court's days are national */
    assert_int_equal(domain_calendar_day(cal, "lw", D("2025-10-07"), &day), 0);
    assert_int_equal(day.kind, DOMAIN_DAY_HOLIDAY);
    assert_false(day.court_override);
    domain_calendar_destroy(&cal);
}

static void test_court_api(void **state)
{
    domain_calendar_t *cal = fixture_calendar();
    char err[200];
    assert_int_equal(
        domain_calendar_court_day(cal, "gz-1", D("2026-03-02"), true, "停电", err, sizeof err), 0);
    assert_int_equal(
        domain_calendar_court_day(cal, "gz-1", D("2026-03-07"), false, "加班", err, sizeof err), 0);
    assert_int_equal(
        domain_calendar_court_day(cal, "gz-1", D("2026-03-02"), false, "x", err, sizeof err), -1);
    assert_non_null(strstr(err, "already overrides"));
    assert_int_equal(
        domain_calendar_court_day(cal, "bad id", D("2026-03-02"), true, "x", err, sizeof err), -1);
    assert_int_equal(domain_calendar_court_day(cal, "gz-1", domain_date(2026, 2, 30), true, "x",
                                               err, sizeof err),
                     -1);
    assert_int_equal(
        domain_calendar_court_day(cal, "gz-1", D("2026-03-03"), true, "", err, sizeof err), -1);
    assert_int_equal(
        domain_calendar_court_day(cal, "gz-1", D("2026-03-03"), true, "a\nb", err, sizeof err), -1);
    domain_day_t day;
    assert_int_equal(domain_calendar_day(cal, "gz-1", D("2026-03-02"), &day), 0);
    assert_int_equal(day.kind, DOMAIN_DAY_HOLIDAY);
    assert_int_equal(domain_calendar_day(cal, "gz-1", D("2026-03-07"), &day), 0);
    assert_int_equal(day.kind, DOMAIN_DAY_MAKEUP_WORK);
    assert_true(day.court_override);
    domain_calendar_destroy(&cal);
}

/* A court's own days as the directory keeps them (calendar_overrides). */
static void test_court_text(void **state)
{
    domain_calendar_t *cal = fixture_calendar();
    char err[256];
    const char *text = "# 本院自定\n"
                       "rest = 2026-03-02 停电\r\n"
                       "\n"
                       "rest = 2026-07-01..2026-07-02 院庆 # two days\n"
                       "work = 2026-03-07 加班\n";
    assert_int_equal(domain_calendar_court_text(cal, "gz-1", text, strlen(text), err, sizeof err),
                     0);
    domain_day_t day;
    assert_int_equal(domain_calendar_day(cal, "gz-1", D("2026-03-02"), &day), 0);
    assert_int_equal(day.kind, DOMAIN_DAY_HOLIDAY);
    assert_string_equal(day.name, "停电");
    assert_true(day.court_override);
    assert_int_equal(domain_calendar_day(cal, "gz-1", D("2026-07-02"), &day), 0);
    assert_int_equal(day.kind, DOMAIN_DAY_HOLIDAY);
    assert_string_equal(day.name, "院庆");
    assert_int_equal(domain_calendar_day(cal, "gz-1", D("2026-03-07"), &day), 0);
    assert_int_equal(day.kind, DOMAIN_DAY_MAKEUP_WORK);
    /* nobody else's days change */
    assert_int_equal(domain_calendar_day(cal, "gz-2", D("2026-03-02"), &day), 0);
    assert_int_equal(day.kind, DOMAIN_DAY_WORK);
    assert_int_equal(domain_calendar_day(cal, NULL, D("2026-03-07"), &day), 0);
    assert_int_equal(day.kind, DOMAIN_DAY_WEEKEND);
    /* empty text: nothing to add, no court table */
    assert_int_equal(domain_calendar_court_text(cal, "gz-3", "", 0, err, sizeof err), 0);
    assert_int_equal(domain_calendar_court_text(cal, "gz-3", NULL, 0, err, sizeof err), 0);
    assert_int_equal(domain_calendar_court_text(cal, "gz-3", "# none\n", 7, err, sizeof err), 0);
    assert_false(domain_calendar_has_court(cal, "gz-3"));
    domain_calendar_destroy(&cal);
}

static void test_court_text_refusals(void **state)
{
    static const struct {
        const char *text;
        const char *says;
    } bad[] = {
        {"[court gz-1]\nrest = 2026-03-02 x\n", "line 1: a court's own days have no [section]"},
        {"version = 1\n", "line 1: unknown key \"version\""},
        {"rest = 2026-03-02 x\nnotice = y\n", "line 2: unknown key \"notice\""},
        {"rest = 2026-02-30 x\n", "line 1: expected a date"},
        {"rest = 2026-03-02\n", "needs a name"},
        {"rest = 2026-03-02 a\nwork = 2026-03-02 b\n", "line 2: 2026-03-02 is already declared"},
        {"rest = 2026-03-01..2026-04-15 x\n", "at most 31 days"},
        {"rest 2026-03-02 x\n", "expected \"key = value\""},
        {"rest = 2026-03-02 \x01\n", "control character"},
        {"rest = 2026-03-02 \xff\n", "invalid UTF-8"},
    };
    domain_calendar_t *cal = fixture_calendar();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        /* a good line first: refused text adds none of its days */
        char *text;
        assert_true(asprintf(&text, "rest = 2026-03-03 ok\n%s", bad[i].text) > 0);
        assert_int_equal(
            domain_calendar_court_text_check(bad[i].text, strlen(bad[i].text), err, sizeof err),
            -1);
        if (!strstr(err, bad[i].says))
            fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err, bad[i].says);
        assert_int_equal(
            domain_calendar_court_text(cal, "gz-1", text, strlen(text), err, sizeof err), -1);
        free(text);
        domain_day_t day;
        assert_int_equal(domain_calendar_day(cal, "gz-1", D("2026-03-03"), &day), 0);
        assert_int_equal(day.kind, DOMAIN_DAY_WORK);
    }
    char err[64];
    assert_int_equal(domain_calendar_court_text(cal, "bad id", "", 0, err, sizeof err), -1);
    size_t big = DOMAIN_CALENDAR_MAX_COURT_TEXT + 1;
    char *huge = malloc(big);
    memset(huge, '#', big);
    assert_int_equal(domain_calendar_court_text_check(huge, big, err, sizeof err), -1);
    free(huge);
    assert_int_equal(
        domain_calendar_court_text_check("rest = 2026-03-02 停电\n", 25, err, sizeof err), 0);
    domain_calendar_destroy(&cal);
}

/* The directory's days replace the file's [court ID] declaration of a day,
 * and a copy is independent of its original. */
static void test_court_text_over_file_and_copy(void **state)
{
    char *text;
    assert_true(asprintf(&text, "%s[court lw]\nrest = 2025-07-01 院庆\nwork = 2025-10-08 值班\n",
                         k_fixture_calendar) > 0);
    char err[256];
    domain_calendar_t *base = domain_calendar_parse(text, strlen(text), err, sizeof err);
    free(text);
    assert_non_null(base);
    domain_calendar_t *cal = domain_calendar_copy(base);
    assert_non_null(cal);
    assert_string_equal(domain_calendar_version(cal), "test-1");
    assert_string_equal(domain_calendar_notice(cal, 2024), "国办发明电〔2023〕7号");
    const char *days = "work = 2025-07-01 补班\nrest = 2025-07-02 搬迁\n";
    assert_int_equal(domain_calendar_court_text(cal, "lw", days, strlen(days), err, sizeof err), 0);
    domain_day_t day;
    assert_int_equal(domain_calendar_day(cal, "lw", D("2025-07-01"), &day), 0);
    assert_int_equal(day.kind, DOMAIN_DAY_WORK);
    assert_string_equal(day.name, "补班");
    assert_int_equal(domain_calendar_day(cal, "lw", D("2025-07-02"), &day), 0);
    assert_int_equal(day.kind, DOMAIN_DAY_HOLIDAY);
    assert_int_equal(domain_calendar_day(cal, "lw", D("2025-10-08"), &day), 0);
    assert_int_equal(day.kind, DOMAIN_DAY_WORK); /* the file's other day stays */
    /* the original keeps the file's days only */
    assert_int_equal(domain_calendar_day(base, "lw", D("2025-07-01"), &day), 0);
    assert_int_equal(day.kind, DOMAIN_DAY_HOLIDAY);
    assert_int_equal(domain_calendar_day(base, "lw", D("2025-07-02"), &day), 0);
    assert_int_equal(day.kind, DOMAIN_DAY_WORK);
    /* a copy answers like its original everywhere it knows */
    domain_calendar_t *again = domain_calendar_copy(base);
    assert_non_null(again);
    assert_false(
        domain_calendar_differs(base, again, NULL, D("2024-01-01"), D("2026-12-31"), NULL));
    assert_false(
        domain_calendar_differs(base, again, "lw", D("2024-01-01"), D("2026-12-31"), NULL));
    assert_false(domain_calendar_knows_year(again, 2027));
    domain_calendar_destroy(&base);
    /* and outlives it */
    assert_int_equal(domain_calendar_day(again, NULL, D("2025-10-08"), &day), 0);
    assert_string_equal(day.name, "国庆节、中秋节");
    domain_calendar_destroy(&again);
    domain_calendar_destroy(&cal);
    assert_null(domain_calendar_copy(NULL));
}

static void test_differs_finds_the_first_change(void **state)
{
    domain_calendar_t *a = fixture_calendar();
    char *text;
    assert_true(asprintf(&text, "%s[year 2027]\nnotice = 2027\nrest = 2027-01-01 元旦\n",
                         k_fixture_calendar) > 0);
    char err[256];
    domain_calendar_t *b = domain_calendar_parse(text, strlen(text), err, sizeof err);
    free(text);
    assert_non_null(b);
    domain_date_t first;
    assert_false(domain_calendar_differs(a, b, NULL, D("2024-01-01"), D("2026-12-31"), &first));
    assert_true(domain_calendar_differs(a, b, NULL, D("2026-12-01"), D("2027-02-01"), &first));
    assert_date_equal(first, D("2027-01-01"));
    assert_true(domain_calendar_differs(a, NULL, NULL, D("2025-01-01"), D("2025-01-02"), &first));
    domain_calendar_destroy(&a);
    domain_calendar_destroy(&b);
}

int main(void)
{
    s_cal = fixture_calendar();
    if (!s_cal)
        return 1;
    int failed = 0;
    s_block_row_t blocks[FIXTURE_NBLOCKS];
    char names[FIXTURE_NBLOCKS][96];
    for (size_t i = 0; i < FIXTURE_NBLOCKS; i++) {
        const fixture_block_t *b = &k_fixture_blocks[i];
        snprintf(names[i], sizeof names[i], "%d %s %02d-%02d..%02d-%02d: every day a holiday", b->y,
                 b->name, b->m0, b->d0, b->m1, b->d1);
        blocks[i] = (s_block_row_t){names[i], b};
    }
    failed +=
        fixture_run_rows("holiday blocks", blocks, FIXTURE_NBLOCKS, sizeof blocks[0], s_block_row);
    s_makeup_row_t makeups[FIXTURE_NMAKEUPS];
    char mnames[FIXTURE_NMAKEUPS][64];
    for (size_t i = 0; i < FIXTURE_NMAKEUPS; i++) {
        const fixture_makeup_t *m = &k_fixture_makeups[i];
        snprintf(mnames[i], sizeof mnames[i], "make-up working day %d-%02d-%02d (%s)", m->y, m->m,
                 m->d, m->weekday == 6 ? "Sat" : "Sun");
        makeups[i] = (s_makeup_row_t){mnames[i], m};
    }
    failed += fixture_run_rows("make-up working days", makeups, FIXTURE_NMAKEUPS, sizeof makeups[0],
                               s_makeup_row);
    failed += fixture_run_rows("parser refusals", s_bad, sizeof s_bad / sizeof s_bad[0],
                               sizeof s_bad[0], s_bad_row);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_day_matches_the_notices),
        cmocka_unit_test(test_chuxi_2024_is_a_working_day),
        cmocka_unit_test(test_ordinary_weekend_and_weekday),
        cmocka_unit_test(test_holiday_on_a_weekend_is_named),
        cmocka_unit_test(test_unknown_years_refused),
        cmocka_unit_test(test_known_years_and_notices),
        cmocka_unit_test(test_invalid_date_refused),
        cmocka_unit_test(test_kind_names),
        cmocka_unit_test(test_shipped_file_matches_the_notices),
        cmocka_unit_test(test_nul_byte_refused),
        cmocka_unit_test(test_accepted_forms),
        cmocka_unit_test(test_day_in_unknown_neighbour_year_stays_unknown),
        cmocka_unit_test(test_court_sections),
        cmocka_unit_test(test_court_api),
        cmocka_unit_test(test_court_text),
        cmocka_unit_test(test_court_text_refusals),
        cmocka_unit_test(test_court_text_over_file_and_copy),
        cmocka_unit_test(test_differs_finds_the_first_change),
    };
    failed += cmocka_run_group_tests_name("calendar", tests, NULL, NULL);
    domain_calendar_destroy(&s_cal);
    return failed ? 1 : 0;
}
