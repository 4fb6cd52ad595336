/* Reconnection under a running loop: the servers go away and come back.
 *
 * The test starts its own PostgreSQL 15 cluster and Redis server in a fresh
 * temporary directory on free loopback ports (never the shared ones under
 * ./var, which other tests are using), then stops, restarts, and freezes
 * (SIGSTOP) them while pg_t and redis_t run in a loop, and checks that:
 *   - work in flight gets an error, not silence;
 *   - *_ready() turns false within seconds and stays false while the
 *     server is away;
 *   - the connection comes back by itself once the server does.
 * Skipped when the server binaries are not installed. */
#include <errno.h>
#include <netinet/in.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "common/loop.h"
#include "common/pg.h"
#include "common/redis.h"

#include "../lib/test_loop.h"

#define PG_BIN       "/usr/lib/postgresql/15/bin"
#define REDIS_SERVER "/usr/bin/redis-server"

typedef struct {
    char dir[64];
    char as[64]; /* "runuser -u postgres --" when root */
    int pg_port;
    int redis_port;
    char dsn[256];
    bool pg_up, redis_up;
    loop_t *loop;
    pg_t *pg;
    redis_t *redis;
} env_t;

static env_t env;

/* ---- servers -------------------------------------------------------------- */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(sa.sin_port);
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    if (rc != 0)
        fprintf(stderr, "# command failed (%d): %s\n", rc, cmd);
    return rc;
}

static int pg_start_server(void)
{
    int rc = sh("%s " PG_BIN "/pg_ctl -D %s/pg -w -t 30 -l %s/pg.log -o '-p %d -k %s "
                "-c listen_addresses=127.0.0.1 -c fsync=off' start >/dev/null",
                env.as, env.dir, env.dir, env.pg_port, env.dir);
    env.pg_up = rc == 0;
    return rc;
}

static int pg_stop_server(void)
{
    int rc = sh("%s " PG_BIN "/pg_ctl -D %s/pg -w -t 30 -m fast stop >/dev/null", env.as, env.dir);
    env.pg_up = rc != 0;
    return rc;
}

static int redis_start_server(void)
{
    int rc =
        sh(REDIS_SERVER " --port %d --bind 127.0.0.1 --save '' --appendonly no "
                        "--daemonize yes --dir %s --pidfile %s/redis.pid --logfile %s/redis.log",
           env.redis_port, env.dir, env.dir, env.dir);
    if (rc != 0)
        return rc;
    /* daemonize returns before the port is open: wait for it */
    for (int i = 0; i < 100; i++) {
        if (sh("redis-cli -p %d ping >/dev/null 2>&1", env.redis_port) == 0) {
            env.redis_up = true;
            return 0;
        }
        usleep(50 * 1000);
    }
    return -1;
}

static pid_t redis_pid(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/redis.pid", env.dir);
    FILE *f = fopen(path, "r");
    int pid = 0;
    if (f) {
        if (fscanf(f, "%d", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    return (pid_t)pid;
}

static int redis_stop_server(void)
{
    pid_t pid = redis_pid();
    if (pid <= 0)
        return -1;
    kill(pid, SIGCONT);
    kill(pid, SIGTERM);
    for (int i = 0; i < 200 && kill(pid, 0) == 0; i++)
        usleep(25 * 1000);
    env.redis_up = kill(pid, 0) == 0;
    return env.redis_up ? -1 : 0;
}

static int group_setup(void **state)
{
    memset(&env, 0, sizeof env);
    if (access(PG_BIN "/initdb", X_OK) != 0 || access(REDIS_SERVER, X_OK) != 0)
        return 0; /* the tests skip */
    snprintf(env.dir, sizeof env.dir, "/tmp/liaison-reconnect-XXXXXX");
    if (!mkdtemp(env.dir))
        return -1;
    if (geteuid() == 0) {
        /* PostgreSQL refuses to run as root. */
        struct passwd *pw = getpwnam("postgres");
        if (!pw || chown(env.dir, pw->pw_uid, pw->pw_gid) != 0)
            return -1;
        snprintf(env.as, sizeof env.as, "runuser -u postgres --");
    }
    env.pg_port = free_port();
    env.redis_port = free_port();
    if (env.pg_port <= 0 || env.redis_port <= 0)
        return -1;
    if (sh("%s " PG_BIN "/initdb -D %s/pg -A trust -U postgres -E UTF8 --no-sync >/dev/null",
           env.as, env.dir) != 0)
        return -1;
    if (pg_start_server() != 0 || redis_start_server() != 0)
        return -1;
    snprintf(env.dsn, sizeof env.dsn, "host=127.0.0.1 port=%d dbname=postgres user=postgres",
             env.pg_port);
    return 0;
}

static int group_teardown(void **state)
{
    if (!env.dir[0])
        return 0;
    if (env.redis_up)
        redis_stop_server();
    if (env.pg_up)
        pg_stop_server();
    sh("rm -rf %s", env.dir);
    return 0;
}

/* ---- the loop ------------------------------------------------------------- */

static bool run_until(test_cond_fn *cond, void *arg, uint64_t timeout_ms)
{
    return test_run_until(env.loop, cond, arg, timeout_ms);
}

static bool pg_is_ready(void *arg)
{
    return pg_ready(arg);
}
static bool pg_is_not_ready(void *arg)
{
    return !pg_ready(arg);
}
static bool redis_is_ready(void *arg)
{
    return redis_ready(arg);
}
static bool redis_is_not_ready(void *arg)
{
    return !redis_ready(arg);
}

static int setup(void **state)
{
    env.loop = loop_new();
    return env.loop ? 0 : -1;
}

static int teardown(void **state)
{
    pg_destroy(&env.pg);
    redis_destroy(&env.redis);
    loop_destroy(&env.loop);
    return 0;
}

typedef struct {
    int calls;
    bool ok;
    char error[256];
    char value[64];
} outcome_t;

static bool outcome_done(void *arg)
{
    return ((outcome_t *)arg)->calls > 0;
}

static void on_pg(pg_t *pg, const PGresult *res, const char *error, void *arg)
{
    outcome_t *o = arg;
    o->calls++;
    o->ok = !error;
    snprintf(o->error, sizeof o->error, "%s", error ? error : "");
    if (!error && PQntuples(res) > 0)
        snprintf(o->value, sizeof o->value, "%s", PQgetvalue(res, 0, 0));
}

static void on_redis(redis_t *r, const redisReply *reply, const char *error, void *arg)
{
    outcome_t *o = arg;
    o->calls++;
    o->ok = !error;
    snprintf(o->error, sizeof o->error, "%s", error ? error : "");
    if (reply && reply->str)
        snprintf(o->value, sizeof o->value, "%s", reply->str);
    else if (reply && reply->type == REDIS_REPLY_INTEGER)
        snprintf(o->value, sizeof o->value, "%lld", reply->integer);
}

static void need_servers(void)
{
    if (!env.dir[0])
        skip();
}

static void pg_check_query(const char *expect_value)
{
    outcome_t o = {0};
    assert_int_equal(pg_query(env.pg, "SELECT 'back'", 0, NULL, on_pg, &o), 0);
    assert_true(run_until(outcome_done, &o, 5000));
    assert_true(o.ok);
    assert_string_equal(o.value, expect_value);
}

/* ---- tests ---------------------------------------------------------------- */

static int stop_pg_now(loop_t *loop, int timer_id, void *arg)
{
    pg_stop_server(); /* blocks the loop for a moment: this is a test */
    return 0;
}

static void test_postgres_restart(void **state)
{
    need_servers();
    env.pg = pg_new(env.loop, env.dsn, "restart");
    assert_non_null(env.pg);
    assert_true(run_until(pg_is_ready, env.pg, 5000));

    /* A query in flight when the server goes down. */
    outcome_t slow = {0};
    assert_int_equal(pg_query(env.pg, "SELECT pg_sleep(20)", 0, NULL, on_pg, &slow), 0);
    assert_true(loop_add_timer(env.loop, 100, 1, stop_pg_now, NULL) > 0);
    assert_true(run_until(outcome_done, &slow, 10000));
    assert_false(slow.ok);
    assert_false(env.pg_up);
    assert_false(pg_ready(env.pg));

    /* Down it stays not ready, trying now and then. */
    run_until(NULL, NULL, 1500);
    assert_false(pg_ready(env.pg));
    pg_stats_t st;
    pg_stats(env.pg, &st);
    assert_true(st.connect_failures >= 2);
    outcome_t refused = {0};
    assert_int_equal(pg_query(env.pg, "SELECT 1", 0, NULL, on_pg, &refused), -1);

    /* Back up: within the back-off cap (5 s) plus a margin. */
    assert_int_equal(pg_start_server(), 0);
    uint64_t start = loop_now_ms();
    assert_true(run_until(pg_is_ready, env.pg, 8000));
    assert_true(loop_now_ms() - start < 6000);
    pg_check_query("back");
    pg_stats(env.pg, &st);
    assert_int_equal(st.connects, 2);
    assert_int_equal(st.disconnects, 1);
}

static void test_postgres_frozen_backend(void **state)
{
    need_servers();
    env.pg = pg_new(env.loop, env.dsn, "frozen");
    assert_non_null(env.pg);
    assert_true(run_until(pg_is_ready, env.pg, 5000));
    outcome_t o = {0};
    assert_int_equal(pg_query(env.pg, "SELECT pg_backend_pid()", 0, NULL, on_pg, &o), 0);
    assert_true(run_until(outcome_done, &o, 5000));
    pid_t backend = (pid_t)atoi(o.value);
    assert_true(backend > 0);

    /* A backend that answers nothing (a hung server, a lost network): the
     * idle probe stalls and readiness goes within probe + stall time. */
    assert_int_equal(kill(backend, SIGSTOP), 0);
    uint64_t start = loop_now_ms();
    bool gone = run_until(pg_is_not_ready, env.pg, 5000);
    uint64_t took = loop_now_ms() - start;
    kill(backend, SIGCONT);
    assert_true(gone);
    assert_true(took <= 3500);
    /* Thawed, the probe answers and it is ready again. */
    assert_true(run_until(pg_is_ready, env.pg, 5000));
    pg_check_query("back");
}

static int stop_redis_now(loop_t *loop, int timer_id, void *arg)
{
    redis_stop_server();
    return 0;
}

static void test_redis_restart(void **state)
{
    need_servers();
    env.redis = redis_new(env.loop, "127.0.0.1", env.redis_port, NULL);
    assert_non_null(env.redis);
    assert_true(run_until(redis_is_ready, env.redis, 5000));

    outcome_t blocked = {0};
    assert_int_equal(redis_command(env.redis, on_redis, &blocked, "BLPOP nothing 0.9"), 0);
    assert_true(loop_add_timer(env.loop, 100, 1, stop_redis_now, NULL) > 0);
    assert_true(run_until(outcome_done, &blocked, 5000));
    assert_false(blocked.ok);
    assert_false(env.redis_up);
    assert_false(redis_ready(env.redis));

    run_until(NULL, NULL, 1500);
    assert_false(redis_ready(env.redis));
    redis_stats_t st;
    redis_stats(env.redis, &st);
    assert_true(st.connect_failures >= 2);

    assert_int_equal(redis_start_server(), 0);
    uint64_t start = loop_now_ms();
    assert_true(run_until(redis_is_ready, env.redis, 8000));
    assert_true(loop_now_ms() - start < 6000);
    outcome_t o = {0};
    assert_int_equal(redis_command(env.redis, on_redis, &o, "PING"), 0);
    assert_true(run_until(outcome_done, &o, 2000));
    assert_string_equal(o.value, "PONG");
    redis_stats(env.redis, &st);
    assert_int_equal(st.connects, 2);
    assert_int_equal(st.disconnects, 1);
}

static void test_redis_frozen_server(void **state)
{
    need_servers();
    env.redis = redis_new(env.loop, "127.0.0.1", env.redis_port, NULL);
    assert_non_null(env.redis);
    assert_true(run_until(redis_is_ready, env.redis, 5000));
    pid_t pid = redis_pid();
    assert_true(pid > 0);

    /* Frozen: TCP still accepts (the kernel does), nothing answers. The
     * idle PING times out; reconnections fail in their handshake. */
    assert_int_equal(kill(pid, SIGSTOP), 0);
    uint64_t start = loop_now_ms();
    bool gone = run_until(redis_is_not_ready, env.redis, 5000);
    uint64_t took = loop_now_ms() - start;
    if (gone)
        run_until(NULL, NULL, 1500);
    bool stayed_down = !redis_ready(env.redis);
    kill(pid, SIGCONT);
    assert_true(gone);
    assert_true(took <= 2600); /* ping interval + command timeout + a tick */
    assert_true(stayed_down);
    assert_true(run_until(redis_is_ready, env.redis, 8000));
    redis_stats_t st;
    redis_stats(env.redis, &st);
    assert_true(st.disconnects >= 1);
}

int main(void)
{
    log_set_level(getenv("TEST_LOG_DEBUG") ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_postgres_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_postgres_frozen_backend, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_frozen_server, setup, teardown),
    };
    return cmocka_run_group_tests_name("reconnect_services", tests, group_setup, group_teardown);
}
