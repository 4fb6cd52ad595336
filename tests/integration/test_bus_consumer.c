/* bus: poison events are parked and replayable; a consumer that was down
 * for 50,000 events catches up.
 *
 * Needs LIAISON_PG_ADMIN_DSN (source var/services.env); skipped without. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_bus_common.h"

static void *s_ctx;
static tb_producer_t s_producer;
static bool s_ready;
static atomic_bool s_accept_bad; /* the "fix" that makes a replay succeed */

/* Known types: liaison.test.Ok (applied) and liaison.test.Checked (applied
 * only if its payload is "valid"; otherwise it writes its effect first and
 * then refuses, so the consumer must roll that half-effect back). */
static bus_apply_t s_apply(PGconn *conn, const Liaison__V1__Envelope *env, char *reason,
                           size_t reason_size, void *arg)
{
    if (strcmp(env->type, "liaison.test.Ok") == 0)
        return tb_apply_record(conn, env, arg);
    if (strcmp(env->type, "liaison.test.Checked") == 0) {
        bus_apply_t r = tb_apply_record(conn, env, arg);
        if (r != BUS_APPLY_OK)
            return r;
        if (env->payload.len == 5 && memcmp(env->payload.data, "valid", 5) == 0)
            return BUS_APPLY_OK;
        if (atomic_load(&s_accept_bad))
            return BUS_APPLY_OK;
        snprintf(reason, reason_size, "validation failed: payload is not valid");
        return BUS_APPLY_POISON;
    }
    snprintf(reason, reason_size, "unknown type %s", env->type);
    return BUS_APPLY_POISON;
}

static bus_consumer_t *s_consumer(const char *name)
{
    bus_consumer_config_t cfg = {
        .name = name,
        .stream = "events",
        .endpoint = s_producer.endpoint,
        .conninfo = tb_conninfo,
        .apply = s_apply,
        .apply_arg = (void *)name,
        .max_events = 1000,
        .wait_ms = 500,
    };
    return bus_consumer_new(s_ctx, &cfg);
}

static int s_setup(void **state)
{
    log_init("test_bus_consumer", LOG_LEVEL_ERROR);
    if (tb_setup("consumer", TB_EFFECT_SQL) != 0)
        return 0;
    s_ctx = zmq_ctx_new();
    s_ready = tb_producer_start(&s_producer, s_ctx, "events") == 0;
    return 0;
}

static int s_teardown(void **state)
{
    if (s_ready)
        tb_producer_stop(&s_producer);
    if (s_ctx)
        zmq_ctx_term(s_ctx);
    tb_teardown();
    return 0;
}

static void test_poison_events_are_parked_and_skipped(void **state)
{
    if (!s_ready)
        skip();
    PGconn *c = tb_connect();
    assert_non_null(c);
    assert_int_equal(tb_exec(c, "BEGIN"), 0);
    assert_int_equal(tb_publish(c, "events", "liaison.test.Ok", "one", NULL), 0);        /* 1 */
    assert_int_equal(tb_publish(c, "events", "liaison.test.Future", "x", NULL), 0);      /* 2 */
    assert_int_equal(tb_publish(c, "events", "liaison.test.Checked", "bad", NULL), 0);   /* 3 */
    assert_int_equal(tb_publish(c, "events", "liaison.test.Checked", "valid", NULL), 0); /* 4 */
    assert_int_equal(tb_exec(c, "COMMIT"), 0);
    /* 5: bytes that are no envelope at all (a producer bug, a bad restore). */
    assert_int_equal(tb_exec(c, "INSERT INTO bus_outbox (stream, event_id, type, envelope) "
                                "VALUES ('events', gen_random_uuid(), 'garbage', "
                                "'\\xffffffff0102')"),
                     0);
    assert_int_equal(tb_publish(c, "events", "liaison.test.Ok", "six", NULL), 0); /* 6 */

    bus_consumer_t *consumer = s_consumer("poison");
    assert_non_null(consumer);
    assert_true(tb_wait_position(consumer, 6, 20000));
    bus_consumer_stats_t st;
    bus_consumer_stats(consumer, &st);
    assert_int_equal(st.applied, 3);
    assert_int_equal(st.parked, 3);

    /* The stream moved on past all three; effects of the parked ones (even
     * the half-written one of seq 3) are absent. */
    assert_int_equal(tb_scalar(c, "SELECT string_agg(seq::text, ',' ORDER BY n) FROM applied "
                                  "WHERE consumer = 'poison'") > 0
                         ? 1
                         : 0,
                     1);
    PGresult *r = PQexec(c, "SELECT string_agg(seq::text, ',' ORDER BY n) FROM applied "
                            "WHERE consumer = 'poison'");
    assert_string_equal(PQgetvalue(r, 0, 0), "1,4,6");
    PQclear(r);
    r = PQexec(c, "SELECT seq, type, reason, status FROM bus_dead_letter "
                  "WHERE consumer = 'poison' ORDER BY seq");
    assert_int_equal(PQntuples(r), 3);
    assert_string_equal(PQgetvalue(r, 0, 0), "2");
    assert_string_equal(PQgetvalue(r, 0, 1), "liaison.test.Future");
    assert_string_equal(PQgetvalue(r, 0, 2), "unknown type liaison.test.Future");
    assert_string_equal(PQgetvalue(r, 1, 0), "3");
    assert_string_equal(PQgetvalue(r, 1, 2), "validation failed: payload is not valid");
    assert_string_equal(PQgetvalue(r, 2, 0), "5");
    assert_non_null(strstr(PQgetvalue(r, 2, 2), "undecodable"));
    assert_string_equal(PQgetvalue(r, 2, 3), "parked");
    PQclear(r);
    assert_int_equal(tb_scalar(c, "SELECT dead_lettered FROM bus_consumer_position "
                                  "WHERE consumer = 'poison'"),
                     3);

    /* Replay: refused while still invalid (stays parked, attempt counted)... */
    long long id =
        tb_scalar(c, "SELECT id FROM bus_dead_letter WHERE consumer = 'poison' AND seq = 3");
    char *error = NULL;
    assert_int_equal(bus_dead_letter_request_replay(c, id, &error), 0);
    for (int i = 0; i < 100 && tb_scalar(c, "SELECT attempts FROM bus_dead_letter "
                                            "WHERE consumer = 'poison' AND seq = 3") < 1;
         i++)
        usleep(50000);
    assert_int_equal(tb_scalar(c, "SELECT attempts FROM bus_dead_letter WHERE consumer = 'poison' "
                                  "AND seq = 3 AND status = 'parked'"),
                     1);
    /* ...and applied once the consumer accepts it. */
    atomic_store(&s_accept_bad, true);
    assert_int_equal(bus_dead_letter_request_replay(c, id, &error), 0);
    assert_int_equal(bus_dead_letter_request_replay(c, id, &error), -1); /* not parked now */
    free(error);
    for (int i = 0; i < 100 && tb_scalar(c, "SELECT count(*) FROM bus_dead_letter "
                                            "WHERE status = 'replayed'") < 1;
         i++)
        usleep(50000);
    assert_int_equal(tb_scalar(c, "SELECT count(*) FROM applied WHERE consumer = 'poison' "
                                  "AND seq = 3"),
                     1);
    bus_consumer_stats(consumer, &st);
    assert_int_equal(st.replayed, 1);
    bus_consumer_destroy(&consumer);
    PQfinish(c);
}

static void test_a_consumer_down_for_50k_events_catches_up(void **state)
{
    if (!s_ready)
        skip();
    PGconn *c = tb_connect();
    assert_non_null(c);
    long long start = tb_scalar(c, "SELECT head FROM bus_stream_head WHERE stream = 'events'");
    assert_true(start >= 0);
    /* The consumer is down (not started) while 50,000 events commit, in
     * transactions of 500. */
    char payload[32];
    for (int t = 0; t < 100; t++) {
        assert_int_equal(tb_exec(c, "BEGIN"), 0);
        for (int i = 0; i < 500; i++) {
            snprintf(payload, sizeof payload, "bulk-%d", t * 500 + i);
            assert_int_equal(tb_publish(c, "events", "liaison.test.Ok", payload, NULL), 0);
        }
        assert_int_equal(tb_exec(c, "COMMIT"), 0);
    }
    uint64_t target = (uint64_t)start + 50000;
    for (int i = 0; i < 300; i++) {
        if (tb_scalar(c, "SELECT head FROM bus_stream_head WHERE stream = 'events'") ==
            (long long)target)
            break;
        usleep(20000);
    }
    bus_consumer_t *consumer = s_consumer("late");
    assert_non_null(consumer);
    assert_true(tb_wait_position(consumer, target, 120000));
    bus_consumer_stats_t st;
    bus_consumer_stats(consumer, &st);
    bus_consumer_destroy(&consumer);
    assert_int_equal(st.position, target);
    assert_int_equal(tb_scalar(c, "SELECT count(*) FROM applied WHERE consumer = 'late' "
                                  "AND payload LIKE 'bulk-%'"),
                     50000);
    assert_int_equal(tb_scalar(c, "SELECT count(DISTINCT payload) FROM applied "
                                  "WHERE consumer = 'late' AND payload LIKE 'bulk-%'"),
                     50000);
    assert_int_equal(
        tb_scalar(c, "SELECT count(*) FROM (SELECT seq, lag(seq) OVER (ORDER BY n) "
                     "AS prev FROM applied WHERE consumer = 'late' AND payload LIKE 'bulk-%') s "
                     "WHERE prev IS NOT NULL AND seq <> prev + 1"),
        0);
    PQfinish(c);
}

static void test_a_malformed_request_is_answered_not_fatal(void **state)
{
    if (!s_ready)
        skip();
    void *d = zmq_socket(s_ctx, ZMQ_DEALER);
    int linger = 0, timeout = 3000;
    zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(d, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    assert_int_equal(zmq_connect(d, s_producer.endpoint), 0);
    assert_int_equal(zmq_send(d, "\xff\xff\xff", 3, 0), 3);
    uint8_t buf[4096];
    int n = zmq_recv(d, buf, sizeof buf, 0);
    assert_true(n > 0);
    Liaison__V1__PullResponse *resp = liaison__v1__pull_response__unpack(NULL, (size_t)n, buf);
    assert_non_null(resp);
    assert_int_equal(resp->status, LIAISON__V1__PULL_STATUS__PULL_STATUS_BAD_REQUEST);
    liaison__v1__pull_response__free_unpacked(resp, NULL);
    /* A request for another stream. */
    Liaison__V1__PullRequest req = LIAISON__V1__PULL_REQUEST__INIT;
    req.protocol_version = 1;
    req.request_id = 9;
    req.stream = "nope";
    size_t len = liaison__v1__pull_request__pack(&req, buf);
    assert_int_equal(zmq_send(d, buf, len, 0), (int)len);
    n = zmq_recv(d, buf, sizeof buf, 0);
    assert_true(n > 0);
    resp = liaison__v1__pull_response__unpack(NULL, (size_t)n, buf);
    assert_non_null(resp);
    assert_int_equal(resp->request_id, 9);
    assert_int_equal(resp->status, LIAISON__V1__PULL_STATUS__PULL_STATUS_UNKNOWN_STREAM);
    liaison__v1__pull_response__free_unpacked(resp, NULL);
    zmq_close(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_poison_events_are_parked_and_skipped),
        cmocka_unit_test(test_a_consumer_down_for_50k_events_catches_up),
        cmocka_unit_test(test_a_malformed_request_is_answered_not_fatal),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
