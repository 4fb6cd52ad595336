/* log: line format, quoting, level filtering, redaction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

static char *s_buf;
static size_t s_len;
static FILE *s_out;

static int setup(void **state)
{
    s_out = open_memstream(&s_buf, &s_len);
    log_set_output(s_out);
    log_init("intake", LOG_LEVEL_INFO);
    return s_out ? 0 : -1;
}

static int teardown(void **state)
{
    log_set_output(NULL);
    fclose(s_out);
    free(s_buf);
    s_buf = NULL;
    return 0;
}

/* Everything written so far, without the ts= field of the first line. */
static const char *written(void)
{
    fflush(s_out);
    const char *p = strstr(s_buf, " level=");
    return p ? p + 1 : s_buf;
}

static void test_line_format(void **state)
{
    log_info("http listening", "port=%d addr=%s", 7401, "127.0.0.1");
    fflush(s_out);
    assert_true(strncmp(s_buf, "ts=", 3) == 0);
    /* ts=2024-05-01T08:30:00.123456Z */
    assert_int_equal(strlen("ts=2024-05-01T08:30:00.123456Z"),
                     (size_t)(strchr(s_buf, ' ') - s_buf));
    assert_int_equal('Z', strchr(s_buf, ' ')[-1]);
    assert_string_equal(
        written(), "level=info daemon=intake msg=\"http listening\" port=7401 addr=127.0.0.1\n");
}

static void test_no_fields(void **state)
{
    log_warn("draining", NULL);
    assert_string_equal(written(), "level=warn daemon=intake msg=\"draining\"\n");
}

static void test_quoting(void **state)
{
    const char *volatile none = NULL;
    log_error("x", "a=%s b=%s c=%s d=%s e=%s f=%s g=%s", "plain", "two words", "say \"hi\"",
              "line\nbreak", "", none, "k=v");
    assert_string_equal(written(),
                        "level=error daemon=intake msg=\"x\" a=plain b=\"two words\" "
                        "c=\"say \\\"hi\\\"\" d=\"line\\nbreak\" e=\"\" f=\"\" g=\"k=v\"\n");
}

static void test_quoting_control_and_utf8(void **state)
{
    log_info("代表建议已登记", "court=%s tab=%s bell=%s slash=%s", "北京市第一中级人民法院", "a\tb",
             "\a", "c:\\x");
    assert_string_equal(
        written(), "level=info daemon=intake msg=\"代表建议已登记\" court=北京市第一中级人民法院 "
                   "tab=\"a\\tb\" bell=\"\\x07\" slash=\"c:\\\\x\"\n");
}

static void test_numeric_conversions(void **state)
{
    log_info("n", "i=%d l=%ld ll=%lld u=%u zu=%zu x=%x f=%.2f g=%g pct=%d%% w=%5d s=%.3s", -1,
             123456789L, -9000000000LL, 4000000000u, (size_t)42, 255, 3.14159, 0.5, 7, 12,
             "abcdef");
    assert_string_equal(written(), "level=info daemon=intake msg=\"n\" i=-1 l=123456789 "
                                   "ll=-9000000000 u=4000000000 zu=42 x=ff f=3.14 g=0.5 pct=7% "
                                   "w=   12 s=abc\n");
}

static int s_evaluated;
static int side_effect(void)
{
    s_evaluated++;
    return 1;
}

static void test_level_filtering(void **state)
{
    s_evaluated = 0;
    log_debug("hidden", "n=%d", side_effect());
    assert_int_equal(0, s_evaluated); /* checked before formatting, args unevaluated */
    fflush(s_out);
    assert_int_equal(0, s_len);

    log_set_level(LOG_LEVEL_DEBUG);
    log_debug("shown", "n=%d", side_effect());
    assert_int_equal(1, s_evaluated);
    assert_string_equal(written(), "level=debug daemon=intake msg=\"shown\" n=1\n");

    log_set_level(LOG_LEVEL_ERROR);
    assert_false(log_enabled(LOG_LEVEL_WARN));
    assert_true(log_enabled(LOG_LEVEL_ERROR));
    log_warn("hidden too", NULL);
    log_error("shown too", NULL);
    assert_non_null(strstr(s_buf, "msg=\"shown too\""));
    assert_null(strstr(s_buf, "hidden"));
}

static void test_level_names(void **state)
{
    log_level_t l;
    assert_int_equal(0, log_level_parse("debug", &l));
    assert_int_equal(LOG_LEVEL_DEBUG, l);
    assert_int_equal(0, log_level_parse("WARN", &l));
    assert_int_equal(LOG_LEVEL_WARN, l);
    assert_int_equal(0, log_level_parse("warning", &l));
    assert_int_equal(LOG_LEVEL_WARN, l);
    assert_int_equal(0, log_level_parse("error", &l));
    assert_int_equal(LOG_LEVEL_ERROR, l);
    assert_int_equal(-1, log_level_parse("verbose", &l));
    assert_int_equal(-1, log_level_parse(NULL, &l));
    assert_string_equal("info", log_level_name(LOG_LEVEL_INFO));
}

static void test_long_line(void **state)
{
    char big[5000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    log_info("big", "v=%s", big);
    const char *w = written();
    assert_int_equal(strlen("level=info daemon=intake msg=\"big\" v=") + 4999 + 1, strlen(w));
}

static void test_redact(void **state)
{
    assert_string_equal("[redacted]", log_redact("hunter2"));
    assert_string_equal("", log_redact(""));
    assert_string_equal("", log_redact(NULL));

    char *s = log_redact_conninfo("host=db port=5432 password=s3cr3t user=intake");
    assert_string_equal("host=db port=5432 password=[redacted] user=intake", s);
    free(s);
    s = log_redact_conninfo("host=db password = 'it\\'s a secret' dbname=x");
    assert_null(strstr(s, "secret"));
    assert_non_null(strstr(s, "password=[redacted]"));
    free(s);
    s = log_redact_conninfo(
        "postgresql://intake:s3cr3t@db:5432/liaison?sslmode=require&password=x2");
    assert_string_equal(
        "postgresql://intake:[redacted]@db:5432/liaison?sslmode=require&password=[redacted]", s);
    free(s);
    s = log_redact_conninfo("postgres://intake@db/liaison");
    assert_string_equal("postgres://intake@db/liaison", s);
    free(s);
}

static void test_quote_helper(void **state)
{
    char buf[8];
    assert_int_equal(5, log_quote(buf, sizeof buf, "a b"));
    assert_string_equal("\"a b\"", buf);
    assert_int_equal(10, log_quote(buf, sizeof buf, "abcdefghij"));
    assert_string_equal("abcdefg", buf); /* truncated, terminated */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_line_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quoting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quoting_control_and_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_numeric_conversions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_level_filtering, setup, teardown),
        cmocka_unit_test(test_level_names),
        cmocka_unit_test_setup_teardown(test_long_line, setup, teardown),
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_quote_helper),
    };
    return cmocka_run_group_tests_name("common_log", tests, NULL, NULL);
}
