/* daemon: command line, --check-config, systemd notification, a whole
 * start -> SIGHUP -> SIGTERM cycle in-process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/daemon.h"
#include "common/log.h"

static char s_dir[64];
static char s_ini[128];

static int setup(void **state)
{
    strcpy(s_dir, "/tmp/liaison-daemon-XXXXXX");
    if (!mkdtemp(s_dir))
        return -1;
    snprintf(s_ini, sizeof s_ini, "%s/liaison.ini", s_dir);
    FILE *f = fopen(s_ini, "w");
    fprintf(f,
            "[common]\nmode = test\nclock = test\nclock_file = %s/testclock\n"
            "[intake]\nhttp_port = 0\ndrain_timeout = 1s\n",
            s_dir);
    fclose(f);
    static FILE *devnull;
    devnull = fopen("/dev/null", "w");
    log_set_output(devnull);
    return 0;
}

static int teardown(void **state)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_command_line(void **state)
{
    int rc = -1;
    char *bad[] = {"liaison-intake", "--frobnicate", NULL};
    assert_null(daemon_new("intake", 2, bad, &rc));
    assert_int_equal(2, rc);

    char *missing[] = {"liaison-intake", "--config", "/nonexistent.ini", NULL};
    assert_null(daemon_new("intake", 3, missing, &rc));
    assert_int_equal(1, rc);

    char *check[] = {"liaison-intake", "--config", s_ini, "--check-config", NULL};
    FILE *saved = stdout;
    stdout = fopen("/dev/null", "w");
    assert_null(daemon_new("intake", 4, check, &rc));
    fclose(stdout);
    stdout = saved;
    assert_int_equal(0, rc);
}

static void test_refuses_test_clock_in_production(void **state)
{
    char ini[160];
    snprintf(ini, sizeof ini, "%s/prod.ini", s_dir);
    FILE *f = fopen(ini, "w");
    fputs("[common]\nmode = production\nclock = test\n", f);
    fclose(f);
    char *argv[] = {"liaison-intake", "--config", ini, NULL};
    int rc = -1;
    assert_null(daemon_new("intake", 3, argv, &rc));
    assert_int_equal(1, rc);
}

static void test_sd_notify(void **state)
{
    unsetenv("NOTIFY_SOCKET");
    assert_int_equal(0, daemon_sd_notify("READY=1")); /* unset: nothing to do */

    char path[128];
    snprintf(path, sizeof path, "%s/notify.sock", s_dir);
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, path);
    assert_int_equal(0, bind(fd, (struct sockaddr *)&sa, sizeof sa));
    setenv("NOTIFY_SOCKET", path, 1);
    assert_int_equal(0, daemon_sd_notify("READY=1"));
    char buf[64] = {0};
    assert_int_equal(7, recv(fd, buf, sizeof buf, MSG_DONTWAIT));
    assert_string_equal("READY=1", buf);
    setenv("NOTIFY_SOCKET", "relative/path", 1);
    assert_int_equal(-1, daemon_sd_notify("READY=1"));
    unsetenv("NOTIFY_SOCKET");
    close(fd);
}

static int s_reloads;
static void on_reload(daemon_t *d, const config_t *cfg, void *arg)
{
    s_reloads++;
}

static int raise_hup_then_term(loop_t *loop, int id, void *arg)
{
    static int step;
    if (step++ == 0)
        raise(SIGHUP);
    else
        raise(SIGTERM);
    return 0;
}

static void test_run_reload_and_drain(void **state)
{
    char *argv[] = {"liaison-intake", "--config", s_ini, NULL};
    int rc = -1;
    daemon_t *d = daemon_new("intake", 3, argv, &rc);
    assert_non_null(d);
    assert_int_equal(0, rc);
    assert_string_equal("intake", daemon_name(d));
    assert_true(clock_is_test(daemon_clock(d)));
    assert_true(http_server_port(daemon_http(d)) > 0);
    assert_non_null(daemon_metrics(d));
    assert_non_null(daemon_config(d));
    assert_int_equal(0, daemon_on_reload(d, on_reload, NULL));
    loop_add_timer(daemon_loop(d), 10, 2, raise_hup_then_term, NULL);
    assert_int_equal(0, daemon_run(d));
    assert_int_equal(1, s_reloads);
    daemon_destroy(&d);
    assert_null(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_command_line),
        cmocka_unit_test(test_refuses_test_clock_in_production),
        cmocka_unit_test(test_sd_notify),
        cmocka_unit_test(test_run_reload_and_drain),
    };
    return cmocka_run_group_tests_name("common_daemon", tests, setup, teardown);
}
