/* redis: the loop's Redis connection, against a real server.
 *
 * Needs LIAISON_REDIS_PORT (and LIAISON_REDIS_HOST, default 127.0.0.1);
 * without it the tests that need a server are skipped. Keys are prefixed
 * with the process id and expire, so runs do not collide. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "common/loop.h"
#include "common/redis.h"

#include "../lib/test_loop.h"

/* ---- helpers -------------------------------------------------------------- */

static bool is_ready(void *arg)
{
    return redis_ready(arg);
}

typedef struct {
    int calls;
    bool ok;
    bool had_reply;
    int type;
    long long integer;
    char str[256];
    size_t len;
    size_t elements;
    char error[256];
} outcome_t;

static bool outcome_done(void *arg)
{
    return ((outcome_t *)arg)->calls > 0;
}

static void on_reply(redis_t *redis, const redisReply *reply, const char *error, void *arg)
{
    outcome_t *o = arg;
    o->calls++;
    o->ok = error == NULL;
    o->had_reply = reply != NULL;
    snprintf(o->error, sizeof o->error, "%s", error ? error : "");
    if (reply) {
        o->type = reply->type;
        o->integer = reply->integer;
        o->elements = reply->elements;
        if (reply->str) {
            o->len = reply->len;
            memcpy(o->str, reply->str, reply->len < sizeof o->str ? reply->len : sizeof o->str);
        }
    }
}

typedef struct {
    loop_t *loop;
    redis_t *redis;
    const char *host;
    int port;
    char prefix[64];
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    const char *port = getenv("LIAISON_REDIS_PORT");
    f->port = port ? atoi(port) : 0;
    f->host = getenv("LIAISON_REDIS_HOST");
    if (!f->host || !*f->host)
        f->host = "127.0.0.1";
    snprintf(f->prefix, sizeof f->prefix, "test:common_redis:%d", (int)getpid());
    f->loop = loop_new();
    assert_non_null(f->loop);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    redis_destroy(&f->redis);
    loop_destroy(&f->loop);
    free(f);
    return 0;
}

static redis_t *connect_or_skip(fixture_t *f, const redis_options_t *opts)
{
    if (f->port <= 0)
        skip();
    f->redis = redis_new(f->loop, f->host, f->port, opts);
    assert_non_null(f->redis);
    assert_true(test_run_until(f->loop, is_ready, f->redis, 5000));
    return f->redis;
}

static void command_sync(fixture_t *f, outcome_t *o, int argc, const char **argv,
                         const size_t *argvlen)
{
    memset(o, 0, sizeof *o);
    assert_int_equal(redis_command_argv(f->redis, on_reply, o, argc, argv, argvlen), 0);
    assert_true(test_run_until(f->loop, outcome_done, o, 5000));
    assert_int_equal(o->calls, 1);
}

/* A second, blocking connection, for what the test does to the server. */
static redisReply *admin(fixture_t *f, const char *fmt, ...)
{
    redisContext *c = redisConnect(f->host, f->port);
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    redisFree(c);
    return r;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_connects_and_runs_commands(void **state)
{
    fixture_t *f = *state;
    redis_options_t opts = {.name = "test-redis"};
    connect_or_skip(f, &opts);
    assert_string_equal(redis_name(f->redis), "test-redis");
    redis_stats_t st;
    redis_stats(f->redis, &st);
    assert_int_equal(st.connects, 1);
    assert_true(st.ready);

    outcome_t o = {0};
    char key[128];
    snprintf(key, sizeof key, "%s:k", f->prefix);
    assert_int_equal(redis_command(f->redis, on_reply, &o, "SET %s %s EX 60", key, "代表建议"), 0);
    assert_true(test_run_until(f->loop, outcome_done, &o, 5000));
    assert_true(o.ok);
    assert_int_equal(o.type, REDIS_REPLY_STATUS);
    assert_string_equal(o.str, "OK");

    memset(&o, 0, sizeof o);
    assert_int_equal(redis_command(f->redis, on_reply, &o, "GET %s", key), 0);
    assert_true(test_run_until(f->loop, outcome_done, &o, 5000));
    assert_int_equal(o.type, REDIS_REPLY_STRING);
    assert_string_equal(o.str, "代表建议");

    /* Binary-safe arguments, with the argv form. */
    const char bin[] = {'a', '\0', 'b', ' ', '\n'};
    const char *set[] = {"SET", key, bin, "EX", "60"};
    size_t setlen[] = {3, strlen(key), sizeof bin, 2, 2};
    command_sync(f, &o, 5, set, setlen);
    assert_true(o.ok);
    const char *get[] = {"GET", key};
    command_sync(f, &o, 2, get, NULL);
    assert_int_equal(o.len, sizeof bin);
    assert_memory_equal(o.str, bin, sizeof bin);

    /* The name is visible to operators. */
    const char *getname[] = {"CLIENT", "GETNAME"};
    command_sync(f, &o, 2, getname, NULL);
    assert_string_equal(o.str, "test-redis");
}

static void test_error_reply_is_delivered(void **state)
{
    fixture_t *f = *state;
    connect_or_skip(f, NULL);
    char key[128];
    snprintf(key, sizeof key, "%s:str", f->prefix);
    outcome_t o;
    const char *set[] = {"SET", key, "not a number", "EX", "60"};
    command_sync(f, &o, 5, set, NULL);
    const char *incr[] = {"INCR", key};
    command_sync(f, &o, 2, incr, NULL);
    assert_false(o.ok);
    assert_true(o.had_reply);
    assert_int_equal(o.type, REDIS_REPLY_ERROR);
    assert_non_null(strstr(o.error, "not an integer"));
    const char *bogus[] = {"NO_SUCH_COMMAND"};
    command_sync(f, &o, 1, bogus, NULL);
    assert_false(o.ok);
    assert_true(redis_ready(f->redis));
    const char *ping[] = {"PING"};
    command_sync(f, &o, 1, ping, NULL);
    assert_string_equal(o.str, "PONG");
    redis_stats_t st;
    redis_stats(f->redis, &st);
    assert_int_equal(st.command_errors, 2);
    assert_int_equal(st.disconnects, 0);
}

typedef struct {
    long long seen[500];
    int n;
} order_t;

static void on_incr(redis_t *redis, const redisReply *reply, const char *error, void *arg)
{
    order_t *order = arg;
    assert_null(error);
    order->seen[order->n++] = reply->integer;
}

static bool order_done(void *arg)
{
    return ((order_t *)arg)->n == 500;
}

static void test_replies_come_in_order(void **state)
{
    fixture_t *f = *state;
    connect_or_skip(f, NULL);
    char key[128];
    snprintf(key, sizeof key, "%s:counter", f->prefix);
    static order_t order;
    memset(&order, 0, sizeof order);
    for (int i = 0; i < 500; i++)
        assert_int_equal(redis_command(f->redis, on_incr, &order, "INCR %s", key), 0);
    redis_stats_t st;
    redis_stats(f->redis, &st);
    assert_int_equal(st.in_flight, 500);
    assert_true(test_run_until(f->loop, order_done, &order, 5000));
    for (int i = 0; i < 500; i++)
        assert_int_equal(order.seen[i], i + 1);
    outcome_t o;
    const char *del[] = {"DEL", key};
    command_sync(f, &o, 2, del, NULL);
}

static void test_refused_when_not_ready_or_unsupported(void **state)
{
    fixture_t *f = *state;
    assert_null(redis_new(NULL, "127.0.0.1", 6379, NULL));
    assert_null(redis_new(f->loop, NULL, 6379, NULL));
    assert_null(redis_new(f->loop, "127.0.0.1", 0, NULL));
    redis_destroy(NULL);
    assert_false(redis_ready(NULL));

    /* Nothing listens on port 1. */
    f->redis = redis_new(f->loop, "127.0.0.1", 1, NULL);
    assert_non_null(f->redis);
    outcome_t o = {0};
    assert_int_equal(redis_command(f->redis, on_reply, &o, "PING"), -1);
    test_run_until(f->loop, NULL, NULL, 1200);
    assert_false(redis_ready(f->redis));
    assert_int_equal(o.calls, 0);
    redis_stats_t st;
    redis_stats(f->redis, &st);
    assert_true(st.connect_failures >= 3 && st.connect_failures <= 8);
    assert_int_equal(st.connects, 0);
    redis_destroy(&f->redis);

    if (f->port <= 0)
        return;
    connect_or_skip(f, NULL);
    assert_int_equal(redis_command(f->redis, on_reply, &o, "SUBSCRIBE %s", "x"), -1);
    assert_int_equal(redis_command(f->redis, on_reply, &o, "monitor"), -1);
    const char *psub[] = {"psubscribe", "x*"};
    assert_int_equal(redis_command_argv(f->redis, on_reply, &o, 2, psub, NULL), -1);
    assert_int_equal(redis_command(f->redis, NULL, &o, "PING"), -1);
    assert_int_equal(redis_command_argv(f->redis, on_reply, &o, 0, psub, NULL), -1);
    test_run_until(f->loop, NULL, NULL, 50);
    assert_int_equal(o.calls, 0);
}

typedef struct {
    int changes;
    bool seen_false, seen_true_after;
} states_t;

static void on_state(redis_t *redis, bool ready, void *arg)
{
    states_t *s = arg;
    s->changes++;
    if (!ready)
        s->seen_false = true;
    else if (s->seen_false)
        s->seen_true_after = true;
}

static bool states_back(void *arg)
{
    return ((states_t *)arg)->seen_true_after;
}

static void test_command_timeout_drops_and_reconnects(void **state)
{
    fixture_t *f = *state;
    redis_options_t opts = {.command_timeout_ms = 300};
    connect_or_skip(f, &opts);
    states_t states = {0};
    redis_set_state_fn(f->redis, on_state, &states);
    char key[128];
    snprintf(key, sizeof key, "%s:never", f->prefix);

    /* BLPOP on an empty list answers after 3 s: far too late. The PING
     * behind it is held up by it and goes down with the connection. */
    outcome_t slow = {0}, behind = {0};
    uint64_t start = loop_now_ms();
    assert_int_equal(redis_command(f->redis, on_reply, &slow, "BLPOP %s 3", key), 0);
    assert_int_equal(redis_command(f->redis, on_reply, &behind, "PING"), 0);
    assert_true(test_run_until(f->loop, outcome_done, &behind, 3000));
    uint64_t took = loop_now_ms() - start;
    assert_true(took >= 290 && took < 1000);
    assert_int_equal(slow.calls, 1);
    assert_false(slow.had_reply);
    assert_string_equal(slow.error, "timeout");
    assert_int_equal(behind.calls, 1);
    assert_false(behind.had_reply);
    assert_non_null(strstr(behind.error, "timed out"));
    assert_false(redis_ready(f->redis));

    assert_true(test_run_until(f->loop, states_back, &states, 5000));
    outcome_t o;
    const char *ping[] = {"PING"};
    command_sync(f, &o, 1, ping, NULL);
    assert_string_equal(o.str, "PONG");
    redis_stats_t st;
    redis_stats(f->redis, &st);
    assert_int_equal(st.timeouts, 1);
    assert_int_equal(st.command_failures, 2);
    assert_int_equal(st.disconnects, 1);
    assert_int_equal(st.connects, 2);
    /* Exactly once: nothing more arrives when BLPOP's 3 s are up. */
    test_run_until(f->loop, NULL, NULL, 100);
    assert_int_equal(slow.calls, 1);
}

static void test_killed_connection_reconnects(void **state)
{
    fixture_t *f = *state;
    connect_or_skip(f, NULL);
    states_t states = {0};
    redis_set_state_fn(f->redis, on_state, &states);
    outcome_t o;
    const char *id[] = {"CLIENT", "ID"};
    command_sync(f, &o, 2, id, NULL);
    long long client_id = o.integer;
    assert_true(client_id > 0);

    /* A command in flight when the server closes the connection. */
    char key[128];
    snprintf(key, sizeof key, "%s:never", f->prefix);
    outcome_t blocked = {0};
    assert_int_equal(redis_command(f->redis, on_reply, &blocked, "BLPOP %s 0.8", key), 0);
    test_run_until(f->loop, NULL, NULL, 50);
    redisReply *r = admin(f, "CLIENT KILL ID %lld", client_id);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    assert_int_equal(r->integer, 1);
    freeReplyObject(r);

    assert_true(test_run_until(f->loop, outcome_done, &blocked, 2000));
    assert_false(blocked.had_reply);
    assert_true(blocked.error[0] != '\0');
    assert_true(states.seen_false);
    assert_true(test_run_until(f->loop, states_back, &states, 5000));
    command_sync(f, &o, 2, id, NULL);
    assert_true(o.integer != client_id);
    redis_stats_t st;
    redis_stats(f->redis, &st);
    assert_int_equal(st.disconnects, 1);
    assert_int_equal(st.connects, 2);
}

static void test_idle_connection_is_pinged(void **state)
{
    fixture_t *f = *state;
    redis_options_t opts = {.ping_interval_ms = 100};
    connect_or_skip(f, &opts);
    test_run_until(f->loop, NULL, NULL, 700);
    redis_stats_t st;
    redis_stats(f->redis, &st);
    assert_true(st.pings >= 3);
    assert_int_equal(st.commands, 0);
    assert_true(redis_ready(f->redis));
}

/* A server that accepts connections (the kernel does, from the backlog)
 * and never says a word: the handshake times out, again and again. */
static void test_silent_server_is_never_ready(void **state)
{
    fixture_t *f = *state;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(lfd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(lfd, 16), 0);
    socklen_t len = sizeof sa;
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);

    redis_options_t opts = {.command_timeout_ms = 200, .backoff_max_ms = 200};
    f->redis = redis_new(f->loop, "127.0.0.1", ntohs(sa.sin_port), &opts);
    assert_non_null(f->redis);
    test_run_until(f->loop, NULL, NULL, 1000);
    assert_false(redis_ready(f->redis));
    redis_stats_t st;
    redis_stats(f->redis, &st);
    assert_true(st.connect_failures >= 2);
    assert_int_equal(st.connects, 0);
    redis_destroy(&f->redis);
    close(lfd);
}

static void test_destroy_fails_commands_in_flight(void **state)
{
    fixture_t *f = *state;
    connect_or_skip(f, NULL);
    char key[128];
    snprintf(key, sizeof key, "%s:never", f->prefix);
    outcome_t o[3];
    memset(o, 0, sizeof o);
    assert_int_equal(redis_command(f->redis, on_reply, &o[0], "BLPOP %s 1", key), 0);
    assert_int_equal(redis_command(f->redis, on_reply, &o[1], "PING"), 0);
    assert_int_equal(redis_command(f->redis, on_reply, &o[2], "PING"), 0);
    test_run_until(f->loop, NULL, NULL, 20);
    redis_destroy(&f->redis);
    assert_null(f->redis);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(o[i].calls, 1);
        assert_false(o[i].had_reply);
        assert_string_equal(o[i].error, "connection closed");
    }
}

typedef struct {
    redis_t **redis;
    int calls;
    outcome_t later[3];
} destroyer_t;

static void on_destroy_me(redis_t *redis, const redisReply *reply, const char *error, void *arg)
{
    destroyer_t *d = arg;
    d->calls++;
    redis_destroy(d->redis);
    redis_destroy(d->redis);
    assert_int_equal(redis_command(redis, on_reply, &d->later[0], "PING"), -1);
}

static bool destroyer_done(void *arg)
{
    destroyer_t *d = arg;
    return d->calls > 0 && d->later[2].calls > 0;
}

static void test_destroy_from_inside_a_callback(void **state)
{
    fixture_t *f = *state;
    connect_or_skip(f, NULL);
    destroyer_t d = {&f->redis, 0, {{0}}};
    char key[128];
    snprintf(key, sizeof key, "%s:never", f->prefix);
    assert_int_equal(redis_command(f->redis, on_destroy_me, &d, "PING"), 0);
    assert_int_equal(redis_command(f->redis, on_reply, &d.later[1], "PING"), 0);
    assert_int_equal(redis_command(f->redis, on_reply, &d.later[2], "BLPOP %s 1", key), 0);
    assert_true(test_run_until(f->loop, destroyer_done, &d, 3000));
    assert_null(f->redis);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.later[0].calls, 0);
    assert_int_equal(d.later[1].calls, 1); /* its reply came with the first */
    assert_int_equal(d.later[2].calls, 1);
    assert_string_equal(d.later[2].error, "connection closed");
}

int main(void)
{
    log_set_level(getenv("TEST_LOG_DEBUG") ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_connects_and_runs_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_reply_is_delivered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replies_come_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_when_not_ready_or_unsupported, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_command_timeout_drops_and_reconnects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_connection_reconnects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_connection_is_pinged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_silent_server_is_never_ready, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_fails_commands_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_from_inside_a_callback, setup, teardown),
    };
    return cmocka_run_group_tests_name("common_redis", tests, NULL, NULL);
}
