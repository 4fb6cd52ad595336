/* ctl_table: Chinese text takes two cells a character, columns line up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctl/ctl_table.h"

static void test_width(void **state)
{
    assert_int_equal(ctl_display_width(""), 0);
    assert_int_equal(ctl_display_width(NULL), 0);
    assert_int_equal(ctl_display_width("d001"), 4);
    assert_int_equal(ctl_display_width("林淑芬"), 6);
    assert_int_equal(ctl_display_width("荔法联〔2026〕1号"), 17); /* 〔〕 are wide too */
    assert_int_equal(ctl_display_width("ＡＢ"), 4);               /* fullwidth */
    assert_int_equal(ctl_display_width("e\xcc\x81"), 1);          /* e + combining acute */
    assert_int_equal(ctl_display_width("\xff\xfe"), 2);           /* invalid bytes: one each */
    assert_int_equal(ctl_display_width("\xe6\x9e"), 2);           /* truncated sequence */
}

static void test_cell_pads_by_width(void **state)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    ctl_cell(out, "林淑芬", 10);
    ctl_cell(out, "npc", 6);
    fputc('\n', out);
    ctl_cell(out, "Lin", 10);
    ctl_cell(out, "npc", 6);
    fclose(out);
    /* both lines put "npc" at the same cell: 10 cells + 1 space */
    assert_string_equal(buf, "林淑芬     npc    \nLin        npc    ");
    free(buf);
}

static void test_cell_never_cuts(void **state)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    ctl_cell(out, "关于诉讼服务中心停车难的建议", 4);
    fclose(out);
    assert_string_equal(buf, "关于诉讼服务中心停车难的建议 ");
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_width),
        cmocka_unit_test(test_cell_pads_by_width),
        cmocka_unit_test(test_cell_never_cuts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
