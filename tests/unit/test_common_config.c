/* config: the file grammar, types, defaults, environment overrides, secrets
 * and the exact error messages of config.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"

static char s_dir[64];
static char s_path[128];

static int setup(void **state)
{
    strcpy(s_dir, "/tmp/liaison-config-XXXXXX");
    if (!mkdtemp(s_dir))
        return -1;
    snprintf(s_path, sizeof s_path, "%s/liaison.ini", s_dir);
    return 0;
}

static int teardown(void **state)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Load text; expect failure with exactly `expected` (%s = the file path). */
static void expect_error(const char *text, const char *expected)
{
    write_file(s_path, text);
    char *error = NULL;
    config_t *cfg = config_new(s_path, &error);
    assert_null(cfg);
    assert_non_null(error);
    char want[1024];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    /* `expected` names the file up to three times. */
    // cppcheck-suppress wrongPrintfScanfArgNum
    snprintf(want, sizeof want, expected, s_path, s_path, s_path);
#pragma GCC diagnostic pop
    assert_string_equal(want, error);
    free(error);
}

static config_t *load(const char *text)
{
    write_file(s_path, text);
    char *error = NULL;
    config_t *cfg = config_new(s_path, &error);
    if (!cfg)
        fail_msg("unexpected error: %s", error);
    assert_null(error);
    return cfg;
}

static void test_defaults(void **state)
{
    config_t *cfg = load("# nothing set\n");
    assert_int_equal(7401, config_port(cfg, "intake", "http_port"));
    assert_int_equal(7402, config_port(cfg, "routing", "http_port"));
    assert_int_equal(7403, config_port(cfg, "deadline", "http_port"));
    assert_int_equal(7404, config_port(cfg, "notify", "http_port"));
    assert_int_equal(7405, config_port(cfg, "report", "http_port"));
    assert_string_equal("127.0.0.1", config_str(cfg, "intake", "http_address"));
    assert_int_equal(1048576, config_int(cfg, "intake", "http_body_limit"));
    assert_string_equal("production", config_str(cfg, "common", "mode"));
    assert_string_equal("info", config_str(cfg, "common", "log_level"));
    assert_string_equal("real", config_str(cfg, "common", "clock"));
    assert_int_equal(10000, config_duration_ms(cfg, "notify", "drain_timeout"));
    assert_string_equal("default", config_origin(cfg, "intake", "http_port"));
    assert_string_equal(s_path, config_path(cfg));
    config_destroy(&cfg);
    assert_null(cfg);
}

static void test_values(void **state)
{
    config_t *cfg = load("\xEF\xBB\xBF[common]\r\n"
                         "mode = development\n"
                         "log_level=debug\n"
                         "; comment\n"
                         "clock = test\n"
                         "clock_file = var/testclock\n"
                         "\n"
                         "[intake]\n"
                         "  http_port   =   7411  \n"
                         "http_body_limit = 2048\n"
                         "drain_timeout = 1m30s\n"
                         "postgres_dsn = \"host=db dbname=liaison # not a comment\"\n"
                         "redis_password = \" padded \"\n");
    assert_string_equal("development", config_str(cfg, "common", "mode"));
    assert_string_equal("debug", config_str(cfg, "common", "log_level"));
    assert_int_equal(7411, config_port(cfg, "intake", "http_port"));
    assert_int_equal(2048, config_int(cfg, "intake", "http_body_limit"));
    assert_int_equal(90000, config_duration_ms(cfg, "intake", "drain_timeout"));
    assert_string_equal("host=db dbname=liaison # not a comment",
                        config_str(cfg, "intake", "postgres_dsn"));
    assert_string_equal(" padded ", config_str(cfg, "intake", "redis_password"));
    char origin[160];
    snprintf(origin, sizeof origin, "%s:9", s_path);
    assert_string_equal(origin, config_origin(cfg, "intake", "http_port"));
    config_destroy(&cfg);
}

static void test_missing_file(void **state)
{
    char *error = NULL;
    assert_null(config_new("/nonexistent/liaison.ini", &error));
    assert_string_equal("/nonexistent/liaison.ini: cannot open: No such file or directory", error);
    free(error);
    /* error may be NULL */
    assert_null(config_new("/nonexistent/liaison.ini", NULL));
}

static void test_syntax_error(void **state)
{
    expect_error("[intake]\nhttp_port 7401\n",
                 "%s:2: syntax error: expected \"[section]\" or \"key = value\"");
    expect_error("[intake\n", "%s:1: syntax error: expected \"[section]\" or \"key = value\"");
    expect_error("[intake]\nHTTP-PORT = 1\n",
                 "%s:2: syntax error: expected \"[section]\" or \"key = value\"");
    expect_error("[intake]\npostgres_dsn = \"unterminated\n",
                 "%s:2: syntax error: expected \"[section]\" or \"key = value\"");
}

static void test_unknown_section(void **state)
{
    expect_error("[intake]\nhttp_port = 7401\n[inatke]\nhttp_port = 1\n",
                 "%s:3: unknown section [inatke]");
}

static void test_unknown_key(void **state)
{
    expect_error("[routing]\nhttp_prot = 7402\n", "%s:2: [routing] unknown key \"http_prot\"");
    /* _file only exists for secrets */
    expect_error("[routing]\nhttp_port_file = /x\n",
                 "%s:2: [routing] unknown key \"http_port_file\"");
}

static void test_key_outside_section(void **state)
{
    expect_error("http_port = 7401\n", "%s:1: key \"http_port\" outside of any section");
}

static void test_duplicate_key(void **state)
{
    expect_error("[notify]\nhttp_port = 1\n\nhttp_port = 2\n",
                 "%s:4: [notify] duplicate key \"http_port\" (first set on line 2)");
    /* a section may be reopened, its keys are still unique */
    expect_error("[notify]\nhttp_port = 1\n[common]\n[notify]\nhttp_port = 2\n",
                 "%s:5: [notify] duplicate key \"http_port\" (first set on line 2)");
}

static void test_bad_values(void **state)
{
    expect_error(
        "[intake]\nhttp_port = 70000\n",
        "%s:2: [intake] http_port: bad value \"70000\": expected a port number from 0 to 65535");
    expect_error(
        "[intake]\nhttp_port = 80a\n",
        "%s:2: [intake] http_port: bad value \"80a\": expected a port number from 0 to 65535");
    expect_error("[intake]\nhttp_body_limit = 10\n",
                 "%s:2: [intake] http_body_limit: bad value \"10\": expected an integer from 1024 "
                 "to 67108864");
    expect_error("[deadline]\ndrain_timeout = 5 seconds\n",
                 "%s:2: [deadline] drain_timeout: bad value \"5 seconds\": expected a duration "
                 "such as 200ms, 5s, 2m, 1h or 30d");
    expect_error(
        "[deadline]\ndrain_timeout = 11m\n",
        "%s:2: [deadline] drain_timeout: bad value \"11m\": expected a duration from 0s to 10m");
    expect_error(
        "[common]\nmode = prod\n",
        "%s:2: [common] mode: bad value \"prod\": expected one of: production, development, test");
    expect_error("[common]\nclock_file =\n",
                 "%s:2: [common] clock_file: bad value \"\": expected a non-empty path");
    /* a secret is never echoed */
    expect_error("[intake]\nredis_password = \"bad\x01\"\n",
                 "%s:2: [intake] redis_password: bad value \"[redacted]\": expected text without "
                 "control characters");
}

static void test_all_errors_reported(void **state)
{
    expect_error(
        "[intake]\nhttp_port = x\nnope = 1\n[nowhere]\n",
        "%s:2: [intake] http_port: bad value \"x\": expected a port number from 0 to 65535\n"
        "%s:3: [intake] unknown key \"nope\"\n"
        "%s:4: unknown section [nowhere]");
}

static void test_env_override(void **state)
{
    setenv("LIAISON_INTAKE_HTTP_PORT", "7499", 1);
    setenv("LIAISON_COMMON_LOG_LEVEL", "warn", 1);
    config_t *cfg = load("[intake]\nhttp_port = 7411\n");
    assert_int_equal(7499, config_port(cfg, "intake", "http_port"));
    assert_string_equal("warn", config_str(cfg, "common", "log_level"));
    assert_string_equal("environment LIAISON_INTAKE_HTTP_PORT",
                        config_origin(cfg, "intake", "http_port"));
    config_destroy(&cfg);

    setenv("LIAISON_INTAKE_HTTP_PORT", "huge", 1);
    expect_error("",
                 "environment LIAISON_INTAKE_HTTP_PORT: [intake] http_port: bad value \"huge\": "
                 "expected a port number from 0 to 65535");
    unsetenv("LIAISON_INTAKE_HTTP_PORT");
    unsetenv("LIAISON_COMMON_LOG_LEVEL");

    setenv("LIAISON_ROUTING_HTTP_PROT", "1", 1);
    expect_error("", "environment LIAISON_ROUTING_HTTP_PROT: [routing] unknown key \"http_prot\"");
    unsetenv("LIAISON_ROUTING_HTTP_PROT");

    /* variables outside the known sections are not ours to judge */
    setenv("LIAISON_CONFIG", "elsewhere", 1);
    setenv("LIAISON_CTL_ENDPOINT", "x", 1);
    cfg = load("");
    config_destroy(&cfg);
    unsetenv("LIAISON_CONFIG");
    unsetenv("LIAISON_CTL_ENDPOINT");
}

static void test_secret_from_file(void **state)
{
    char secret_path[160], text[512];
    snprintf(secret_path, sizeof secret_path, "%s/pg.secret", s_dir);
    write_file(secret_path, "s3cr3t\n");
    snprintf(text, sizeof text, "[report]\npostgres_password_file = %s\n", secret_path);
    config_t *cfg = load(text);
    assert_string_equal("s3cr3t", config_str(cfg, "report", "postgres_password"));

    /* the dump never shows it */
    char *dump = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&dump, &len);
    config_dump(cfg, out);
    fclose(out);
    assert_null(strstr(dump, "s3cr3t"));
    assert_non_null(strstr(dump, "report.postgres_password = [redacted]"));
    free(dump);
    config_destroy(&cfg);

    snprintf(text, sizeof text, "[report]\npostgres_password_file = %s/none\n", s_dir);
    char want[512];
    snprintf(want, sizeof want,
             "%%s:2: [report] postgres_password: cannot read key file \"%s/none\": No such file or "
             "directory",
             s_dir);
    expect_error(text, want);

    snprintf(text, sizeof text, "[report]\npostgres_password = x\npostgres_password_file = %s\n",
             secret_path);
    expect_error(text, "%s:3: [report] postgres_password: set both as postgres_password and as "
                       "postgres_password_file");
}

static void test_secret_from_env(void **state)
{
    char secret_path[160];
    snprintf(secret_path, sizeof secret_path, "%s/redis.secret", s_dir);
    write_file(secret_path, "r3dis");
    setenv("LIAISON_NOTIFY_REDIS_PASSWORD_FILE", secret_path, 1);
    setenv("LIAISON_NOTIFY_POSTGRES_PASSWORD", "pgpass", 1);
    config_t *cfg = load("[notify]\nredis_password = fromfile\n");
    assert_string_equal("r3dis", config_str(cfg, "notify", "redis_password"));
    assert_string_equal("pgpass", config_str(cfg, "notify", "postgres_password"));
    config_destroy(&cfg);
    unsetenv("LIAISON_NOTIFY_REDIS_PASSWORD_FILE");
    unsetenv("LIAISON_NOTIFY_POSTGRES_PASSWORD");
}

static void test_dump_redacts_conninfo(void **state)
{
    config_t *cfg = load("[intake]\npostgres_dsn = host=db password=hunter2 user=intake\n");
    char *dump = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&dump, &len);
    config_dump(cfg, out);
    fclose(out);
    assert_null(strstr(dump, "hunter2"));
    assert_non_null(strstr(dump, "intake.postgres_dsn = host=db password=[redacted] user=intake"));
    free(dump);
    config_destroy(&cfg);
}

static void test_durations(void **state)
{
    int64_t ms;
    assert_int_equal(0, config_parse_duration_ms("200ms", &ms));
    assert_int_equal(200, ms);
    assert_int_equal(0, config_parse_duration_ms("5s", &ms));
    assert_int_equal(5000, ms);
    assert_int_equal(0, config_parse_duration_ms("2m", &ms));
    assert_int_equal(120000, ms);
    assert_int_equal(0, config_parse_duration_ms("1h30m", &ms));
    assert_int_equal(5400000, ms);
    assert_int_equal(0, config_parse_duration_ms("30d", &ms));
    assert_int_equal(2592000000LL, ms);
    assert_int_equal(0, config_parse_duration_ms("0", &ms));
    assert_int_equal(0, ms);
    assert_int_equal(-1, config_parse_duration_ms("5", &ms));
    assert_int_equal(-1, config_parse_duration_ms("", &ms));
    assert_int_equal(-1, config_parse_duration_ms("-5s", &ms));
    assert_int_equal(-1, config_parse_duration_ms("5x", &ms));
    assert_int_equal(-1, config_parse_duration_ms("99999999999999999999d", &ms));
    char buf[32];
    config_format_duration(600000, buf, sizeof buf);
    assert_string_equal("10m", buf);
    config_format_duration(1500, buf, sizeof buf);
    assert_string_equal("1500ms", buf);
}

static void test_sections(void **state)
{
    assert_true(config_section_known("common"));
    assert_true(config_section_known("report"));
    assert_false(config_section_known("ctl"));
    assert_false(config_section_known(NULL));
}

static void test_example_file_is_valid(void **state)
{
    const char *root = getenv("LIAISON_ROOT");
    char path[512];
    snprintf(path, sizeof path, "%s/deploy/liaison.ini.example", root ? root : ".");
    char *error = NULL;
    config_t *cfg = config_new(path, &error);
    if (!cfg)
        fail_msg("%s", error);
    assert_int_equal(7401, config_port(cfg, "intake", "http_port"));
    config_destroy(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_syntax_error),
        cmocka_unit_test(test_unknown_section),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_key_outside_section),
        cmocka_unit_test(test_duplicate_key),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_all_errors_reported),
        cmocka_unit_test(test_env_override),
        cmocka_unit_test(test_secret_from_file),
        cmocka_unit_test(test_secret_from_env),
        cmocka_unit_test(test_dump_redacts_conninfo),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_sections),
        cmocka_unit_test(test_example_file_is_valid),
    };
    return cmocka_run_group_tests_name("common_config", tests, setup, teardown);
}
