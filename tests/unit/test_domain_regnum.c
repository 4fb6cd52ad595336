/* Registration numbers (Art. 13): templates, rendering, reading back. */
#include "test_domain_fixture.h"

#include "domain/regnum.h"

typedef struct {
    const char *name;
    const char *tmpl;
    int year;
    unsigned seq;
    const char *expect; /* NULL: refused */
} s_row_t;

static const s_row_t s_rows[] = {
    {"default template", DOMAIN_REGNUM_DEFAULT_TEMPLATE, 2026, 12, "荔法联〔2026〕12号"},
    {"first of the year", DOMAIN_REGNUM_DEFAULT_TEMPLATE, 2025, 1, "荔法联〔2025〕1号"},
    {"padded seq", "LW-{year}-{seq:4}", 2026, 12, "LW-2026-0012"},
    {"padding outgrown", "LW-{year}-{seq:2}", 2026, 123, "LW-2026-123"},
    {"seq first", "第{seq}号（{year}）", 2024, 7, "第7号（2024）"},
    {"seq zero refused", DOMAIN_REGNUM_DEFAULT_TEMPLATE, 2026, 0, NULL},
    {"year out of range refused", DOMAIN_REGNUM_DEFAULT_TEMPLATE, 1800, 1, NULL},
    {"no year refused", "荔法联{seq}号", 2026, 1, NULL},
    {"two seqs refused", "{year}-{seq}-{seq}", 2026, 1, NULL},
    {"unknown placeholder refused", "{year}-{court}-{seq}", 2026, 1, NULL},
    {"unmatched brace refused", "{year-{seq}", 2026, 1, NULL},
    {"adjacent placeholders refused", "{year}{seq}", 2026, 1, NULL},
    {"digit after seq refused", "{year}-{seq}1", 2026, 1, NULL},
    {"control character refused", "{year}\n{seq}", 2026, 1, NULL},
    {"invalid UTF-8 refused", "{year}\xff{seq}", 2026, 1, NULL},
    {"empty refused", "", 2026, 1, NULL},
};

static void s_row(void **state)
{
    const s_row_t *r = *state;
    char buf[DOMAIN_REGNUM_MAX];
    int rc = domain_regnum_render(r->tmpl, r->year, r->seq, buf, sizeof buf);
    if (!r->expect) {
        assert_int_equal(rc, -1);
        return;
    }
    assert_int_equal(rc, 0);
    assert_string_equal(buf, r->expect);
    int y;
    uint32_t q;
    assert_int_equal(domain_regnum_parse(r->tmpl, buf, &y, &q), 0);
    assert_int_equal(y, r->year);
    assert_int_equal(q, r->seq);
    char err[128];
    assert_int_equal(domain_regnum_validate(r->tmpl, err, sizeof err), 0);
}

static void test_parse_refuses_near_misses(void **state)
{
    const char *t = DOMAIN_REGNUM_DEFAULT_TEMPLATE;
    const char *bad[] = {
        "荔法联〔2026〕号",    "荔法联〔2026〕012号", "荔法联〔26〕12号",  "荔法联〔2026〕12",
        "荔法联〔2026〕12号x", "荔法联(2026)12号",    "荔法联〔2026〕0号", ""};
    int y;
    uint32_t q;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (domain_regnum_parse(t, bad[i], &y, &q) == 0)
            fail_msg("accepted \"%s\"", bad[i]);
    assert_int_equal(domain_regnum_parse("LW-{year}-{seq:4}", "LW-2026-12", &y, &q), -1);
    assert_int_equal(domain_regnum_parse("LW-{year}-{seq:4}", "LW-2026-00012", &y, &q), -1);
    assert_int_equal(domain_regnum_parse(t, NULL, &y, &q), -1);
}

static void test_small_buffer_refused(void **state)
{
    char buf[8];
    assert_int_equal(
        domain_regnum_render(DOMAIN_REGNUM_DEFAULT_TEMPLATE, 2026, 12, buf, sizeof buf), -1);
    char err[128];
    assert_int_equal(domain_regnum_validate("{year}", err, sizeof err), -1);
    assert_non_null(strstr(err, "exactly one {year} and one {seq}"));
}

int main(void)
{
    int failed = fixture_run_rows("registration numbers", s_rows, sizeof s_rows / sizeof s_rows[0],
                                  sizeof s_rows[0], s_row);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_refuses_near_misses),
        cmocka_unit_test(test_small_buffer_refused),
    };
    failed += cmocka_run_group_tests_name("regnum", tests, NULL, NULL);
    return failed ? 1 : 0;
}
