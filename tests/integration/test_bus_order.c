/* bus: order and gap-freedom under concurrent producers, and replay from 0.
 *
 * Eight writer threads, each with its own connection, open transactions
 * that publish one to three events, hold them open for a random while and
 * commit them in shuffled order (one in ten rolls back), so ids are
 * allocated in one order and committed in another. The stream must come out
 * gapless (positions 1..N), hold exactly the committed events, never a
 * rolled-back one, and reach the consumer in position order exactly once.
 * Half the writers position their own events in their transaction (they
 * move the stream's head row themselves, as intake's registrations do);
 * the sequencer positions the others' after commit: one stream all the
 * same. A second consumer then replays the whole stream from position 0;
 * an idle sequencer writes nothing.
 *
 * Needs LIAISON_PG_ADMIN_DSN (source var/services.env); skipped without. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_bus_common.h"

#define WRITERS 8
#define ROUNDS  150

static void *s_ctx;
static tb_producer_t s_producer;
static bool s_ready;

typedef struct {
    int index;
    unsigned seed;
    int committed, rolled_back;
    pthread_barrier_t *barrier;
} writer_t;

static void *s_writer(void *arg)
{
    writer_t *w = arg;
    PGconn *c = tb_connect();
    if (!c)
        return NULL;
    for (int round = 0; round < ROUNDS; round++) {
        /* Everyone allocates ids at about the same time... */
        pthread_barrier_wait(w->barrier);
        tb_exec(c, "BEGIN");
        int n = 1 + (int)(rand_r(&w->seed) % 3);
        char payload[64];
        for (int i = 0; i < n; i++) {
            snprintf(payload, sizeof payload, "w%d-r%d-e%d", w->index, round, i);
            /* the odd writers position their own events in their
             * transaction; the even ones leave it to the sequencer */
            tb_publish_as(c, "orders", "liaison.test.Ok", payload, NULL, w->index % 2 == 1);
        }
        /* ...and commits after a random delay, in a shuffled order. */
        usleep((useconds_t)(rand_r(&w->seed) % 4000));
        if (rand_r(&w->seed) % 10 == 0) {
            tb_exec(c, "ROLLBACK");
            w->rolled_back += n;
        } else if (tb_exec(c, "COMMIT") == 0) {
            w->committed += n;
        }
    }
    PQfinish(c);
    return NULL;
}

static bus_apply_t s_apply(PGconn *conn, const Liaison__V1__Envelope *env, char *reason,
                           size_t reason_size, void *arg)
{
    return tb_apply_record(conn, env, arg);
}

static bus_consumer_t *s_consumer(const char *name)
{
    bus_consumer_config_t cfg = {
        .name = name,
        .stream = "orders",
        .endpoint = s_producer.endpoint,
        .conninfo = tb_conninfo,
        .apply = s_apply,
        .apply_arg = (void *)name,
        .max_events = 200,
        .wait_ms = 1000,
    };
    return bus_consumer_new(s_ctx, &cfg);
}

static int s_setup(void **state)
{
    log_init("test_bus_order", LOG_LEVEL_WARN);
    if (tb_setup("order", TB_EFFECT_SQL) != 0)
        return 0;
    s_ctx = zmq_ctx_new();
    s_ready = tb_producer_start(&s_producer, s_ctx, "orders") == 0;
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

static int s_total_committed;

static void test_concurrent_producers_give_a_gapless_ordered_stream(void **state)
{
    if (!s_ready)
        skip();
    bus_consumer_t *consumer = s_consumer("live");
    assert_non_null(consumer);

    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, WRITERS);
    pthread_t threads[WRITERS];
    writer_t writers[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        writers[i] = (writer_t){.index = i, .seed = (unsigned)(i * 7919 + 17), .barrier = &barrier};
        pthread_create(&threads[i], NULL, s_writer, &writers[i]);
    }
    int committed = 0;
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(threads[i], NULL);
        committed += writers[i].committed;
    }
    pthread_barrier_destroy(&barrier);
    s_total_committed = committed;
    assert_true(committed > WRITERS * ROUNDS);

    assert_true(tb_wait_position(consumer, (uint64_t)committed, 30000));
    bus_consumer_stats_t st;
    bus_consumer_stats(consumer, &st);
    assert_int_equal(st.position, committed);
    assert_int_equal(st.applied, committed);
    assert_int_equal(st.parked, 0);

    PGconn *c = tb_connect();
    assert_non_null(c);
    /* The outbox: every committed row sequenced, positions exactly 1..N. */
    assert_int_equal(tb_scalar(c, "SELECT count(*) FROM bus_outbox"), committed);
    assert_int_equal(tb_scalar(c, "SELECT count(*) FROM bus_outbox WHERE seq IS NULL"), 0);
    assert_int_equal(tb_scalar(c, "SELECT min(seq) FROM bus_outbox"), 1);
    assert_int_equal(tb_scalar(c, "SELECT max(seq) FROM bus_outbox"), committed);
    assert_int_equal(tb_scalar(c, "SELECT count(DISTINCT seq) FROM bus_outbox"), committed);
    assert_int_equal(tb_scalar(c, "SELECT head FROM bus_stream_head WHERE stream = 'orders'"),
                     committed);
    /* Both ways were used: rows positioned by their own transaction carry
     * its start as both times; the sequencer's came later. */
    assert_true(tb_scalar(c, "SELECT count(*) FROM bus_outbox WHERE sequenced_at = created_at") >
                0);
    assert_true(tb_scalar(c, "SELECT count(*) FROM bus_outbox WHERE sequenced_at > created_at") >
                0);
    /* Commits did overtake allocations: some row with a smaller id got a
     * larger position (else the test proved nothing). */
    long long inversions =
        tb_scalar(c, "SELECT count(*) FROM (SELECT seq, lag(seq) OVER "
                     "(ORDER BY id) AS prev FROM bus_outbox) s WHERE seq < prev");
    assert_true(inversions > 0);
    /* The consumer: each event once, in position order, same events. */
    assert_int_equal(tb_scalar(c, "SELECT count(*) FROM applied WHERE consumer = 'live'"),
                     committed);
    assert_int_equal(
        tb_scalar(c, "SELECT count(DISTINCT event_id) FROM applied WHERE consumer = 'live'"),
        committed);
    assert_int_equal(tb_scalar(c, "SELECT count(*) FROM (SELECT seq, row_number() OVER "
                                  "(ORDER BY n) AS k FROM applied WHERE consumer = 'live') s "
                                  "WHERE seq <> k"),
                     0);
    assert_int_equal(tb_scalar(c, "SELECT count(*) FROM applied a JOIN bus_outbox o "
                                  "ON o.seq = a.seq WHERE a.consumer = 'live' "
                                  "AND o.event_id::text <> a.event_id"),
                     0);
    assert_int_equal(tb_scalar(c, "SELECT position FROM bus_consumer_position "
                                  "WHERE consumer = 'live'"),
                     committed);
    PQfinish(c);
    bus_consumer_destroy(&consumer);
    assert_null(consumer);
}

static void test_a_new_consumer_replays_the_stream_from_zero(void **state)
{
    if (!s_ready || s_total_committed == 0)
        skip();
    bus_consumer_t *consumer = s_consumer("replay");
    assert_non_null(consumer);
    assert_true(tb_wait_position(consumer, (uint64_t)s_total_committed, 30000));
    bus_consumer_destroy(&consumer);
    PGconn *c = tb_connect();
    assert_non_null(c);
    assert_int_equal(tb_scalar(c, "SELECT count(*) FROM applied WHERE consumer = 'replay'"),
                     s_total_committed);
    /* Same events at the same positions in the same order as the live one. */
    assert_int_equal(tb_scalar(c, "SELECT count(*) FROM applied a JOIN applied b "
                                  "ON a.seq = b.seq AND a.event_id = b.event_id "
                                  "WHERE a.consumer = 'live' AND b.consumer = 'replay'"),
                     s_total_committed);
    assert_int_equal(tb_scalar(c, "SELECT count(*) FROM (SELECT seq, row_number() OVER "
                                  "(ORDER BY n) AS k FROM applied WHERE consumer = 'replay') s "
                                  "WHERE seq <> k"),
                     0);
    PQfinish(c);
}

static void test_a_restarted_consumer_resumes_without_duplicates(void **state)
{
    if (!s_ready || s_total_committed == 0)
        skip();
    /* More events, then the live consumer comes back from its position. */
    PGconn *c = tb_connect();
    assert_non_null(c);
    for (int i = 0; i < 100; i++)
        assert_int_equal(tb_publish(c, "orders", "liaison.test.Ok", "late", NULL), 0);
    bus_consumer_t *consumer = s_consumer("live");
    assert_true(tb_wait_position(consumer, (uint64_t)s_total_committed + 100, 30000));
    bus_consumer_destroy(&consumer);
    assert_int_equal(tb_scalar(c, "SELECT count(*) FROM applied WHERE consumer = 'live'"),
                     s_total_committed + 100);
    assert_int_equal(tb_scalar(c, "SELECT count(*) - count(DISTINCT seq) FROM applied "
                                  "WHERE consumer = 'live'"),
                     0);
    PQfinish(c);
}

static void test_an_idle_sequencer_writes_nothing(void **state)
{
    if (!s_ready || s_total_committed == 0)
        skip();
    PGconn *c = tb_connect();
    assert_non_null(c);
    /* it goes on polling (up to every 50 ms) and reads the head each time,
     * but with nothing to position it neither locks nor updates the row */
    const char *sql = "SELECT xmin::text::bigint FROM bus_stream_head WHERE stream = 'orders'";
    long long before = tb_scalar(c, sql);
    usleep(600 * 1000);
    assert_int_equal(tb_scalar(c, sql), before);
    /* and a positioned event is still seen: the head it reads moves */
    assert_int_equal(tb_exec(c, "BEGIN"), 0);
    assert_int_equal(tb_publish_as(c, "orders", "liaison.test.Ok", "idle", NULL, true), 0);
    assert_int_equal(tb_exec(c, "COMMIT"), 0);
    long long head = tb_scalar(c, "SELECT head FROM bus_stream_head WHERE stream = 'orders'");
    bool seen = false;
    for (int i = 0; i < 100 && !seen; i++) {
        seen = bus_sequencer_head(s_producer.sequencer) == (uint64_t)head;
        usleep(20 * 1000);
    }
    assert_true(seen);
    PQfinish(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_producers_give_a_gapless_ordered_stream),
        cmocka_unit_test(test_a_new_consumer_replays_the_stream_from_zero),
        cmocka_unit_test(test_a_restarted_consumer_resumes_without_duplicates),
        cmocka_unit_test(test_an_idle_sequencer_writes_nothing),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
