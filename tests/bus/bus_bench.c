/* The bus end to end: commit at the producer -> applied at the consumer.
 *
 *   bus_bench --producer DSN --consumer DSN --clients K --seconds T          (throughput)
 *   bus_bench --producer DSN --consumer DSN --rate 1000 --seconds T          (latency)
 *
 * One process: the producer's loop (sequencer + pull server) on a thread,
 * K writer threads each with its own connection publishing single-event
 * transactions (autocommit INSERT into the outbox, as pgbench's single-row
 * inserts) and waking the sequencer after each commit, as a daemon does,
 * and a bus_consumer applying into bench_applied in its own schema.
 *
 * Throughput: events committed in T seconds / time from the first commit to
 * the last event applied. Latency: one writer at a fixed rate; for each
 * event, the time from its COMMIT returning to the consumer's COMMIT of the
 * batch that applied it. Prints key=value lines. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "common/bus.h"
#include "common/bus_consumer.h"
#include "common/bus_sequencer.h"
#include "common/bus_server.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/pg.h"

#define MAX_EVENTS 2000000

static const char *s_pdsn, *s_cdsn;
static int s_seconds = 10;
static atomic_bool s_stop_writers, s_stop_loop;
static atomic_uint_fast64_t s_next_index; /* events handed out */
static atomic_uint_fast64_t s_committed;
static bus_sequencer_t *s_sequencer;
static uint64_t *s_commit_ns;  /* by event index, when its COMMIT returned */
static uint64_t *s_applied_ns; /* by event index, when the consumer committed it */
/* consumer thread only */
static uint64_t s_pending[BUS_EVENTS_MAX];
static size_t s_n_pending;

static uint64_t s_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int s_publish(PGconn *c, uint64_t index)
{
    char id[37], payload[128];
    bus_uuid4(id);
    /* ~100 bytes, like pgbench's row in bench.sh */
    snprintf(payload, sizeof payload, "%llu:%s", (unsigned long long)index,
             "................................................................................");
    Liaison__V1__Envelope env = LIAISON__V1__ENVELOPE__INIT;
    env.event_id = id;
    env.type = "liaison.test.Bench";
    env.stream = "bench";
    env.court_id = "bench";
    env.correlation_id = id;
    env.producer = "bus_bench";
    env.payload.data = (uint8_t *)payload;
    env.payload.len = strlen(payload);
    char *error = NULL;
    if (bus_publish(c, &env, &error) != 0) { /* autocommit: its own transaction */
        fprintf(stderr, "publish: %s\n", error);
        free(error);
        return -1;
    }
    s_commit_ns[index] = s_now_ns();
    atomic_fetch_add(&s_committed, 1);
    bus_sequencer_notify(s_sequencer);
    return 0;
}

typedef struct {
    double rate; /* 0 = as fast as possible */
} writer_arg_t;

static void *s_writer(void *arg)
{
    writer_arg_t *w = arg;
    char *error = NULL;
    PGconn *c = pg_connect_blocking(s_pdsn, &error);
    if (!c) {
        fprintf(stderr, "writer: %s\n", error);
        free(error);
        return NULL;
    }
    PQclear(PQexec(c, "SET synchronous_commit = on"));
    uint64_t start = s_now_ns(), sent = 0;
    while (!atomic_load(&s_stop_writers)) {
        if (w->rate > 0) {
            uint64_t due = start + (uint64_t)((double)sent * 1e9 / w->rate);
            uint64_t now = s_now_ns();
            if (due > now) {
                struct timespec ts = {(time_t)((due - now) / 1000000000u),
                                      (long)((due - now) % 1000000000u)};
                nanosleep(&ts, NULL);
            }
        }
        uint64_t index = atomic_fetch_add(&s_next_index, 1);
        if (index >= MAX_EVENTS || s_publish(c, index) != 0)
            break;
        sent++;
    }
    PQfinish(c);
    return NULL;
}

static bus_apply_t s_apply(PGconn *conn, const Liaison__V1__Envelope *env, char *reason,
                           size_t reason_size, void *arg)
{
    char payload[160];
    size_t l = env->payload.len < sizeof payload - 1 ? env->payload.len : sizeof payload - 1;
    memcpy(payload, env->payload.data, l);
    payload[l] = '\0';
    char seq[24];
    snprintf(seq, sizeof seq, "%llu", (unsigned long long)env->sequence);
    const char *p[2] = {seq, payload};
    PGresult *r = PQexecParams(conn, "INSERT INTO bench_applied (seq, payload) VALUES ($1, $2)", 2,
                               NULL, p, NULL, NULL, 0);
    bus_apply_t rc = PQresultStatus(r) == PGRES_COMMAND_OK ? BUS_APPLY_OK : BUS_APPLY_RETRY;
    PQclear(r);
    if (rc == BUS_APPLY_OK && s_n_pending < BUS_EVENTS_MAX)
        s_pending[s_n_pending++] = strtoull(payload, NULL, 10);
    return rc;
}

static void s_committed_fn(uint64_t position, size_t applied, size_t parked, void *arg)
{
    uint64_t now = s_now_ns();
    for (size_t i = 0; i < s_n_pending; i++)
        if (s_pending[i] < MAX_EVENTS)
            s_applied_ns[s_pending[i]] = now;
    s_n_pending = 0;
}

static int s_stop_check(loop_t *loop, int timer_id, void *arg)
{
    return atomic_load(&s_stop_loop) ? -1 : 0;
}

static void *s_loop_run(void *arg)
{
    loop_run(arg);
    return NULL;
}

static int s_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int clients = 8;
    double rate = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--producer") == 0)
            s_pdsn = argv[i + 1];
        else if (strcmp(argv[i], "--consumer") == 0)
            s_cdsn = argv[i + 1];
        else if (strcmp(argv[i], "--clients") == 0)
            clients = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--seconds") == 0)
            s_seconds = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--rate") == 0)
            rate = atof(argv[i + 1]);
    }
    if (!s_pdsn || !s_cdsn || clients < 1 || clients > 64) {
        fprintf(stderr, "usage: bus_bench --producer DSN --consumer DSN [--clients K] "
                        "[--seconds T] [--rate R]\n");
        return 2;
    }
    if (rate > 0)
        clients = 1;
    log_init("bus_bench", LOG_LEVEL_WARN);
    s_commit_ns = calloc(MAX_EVENTS, sizeof *s_commit_ns);
    s_applied_ns = calloc(MAX_EVENTS, sizeof *s_applied_ns);
    void *ctx = zmq_ctx_new();
    loop_t *loop = loop_new();
    s_sequencer = bus_sequencer_new(loop, s_pdsn, "bench");
    bus_server_t *server =
        s_sequencer ? bus_server_new(loop, ctx, "tcp://127.0.0.1:*", s_pdsn, s_sequencer) : NULL;
    if (!server || !s_commit_ns || !s_applied_ns)
        return 1;
    loop_add_timer(loop, 10, 0, s_stop_check, NULL);
    pthread_t loop_thread;
    pthread_create(&loop_thread, NULL, s_loop_run, loop);
    bus_consumer_config_t cfg = {.name = "bench",
                                 .stream = "bench",
                                 .endpoint = bus_server_endpoint(server),
                                 .conninfo = s_cdsn,
                                 .apply = s_apply,
                                 .committed = s_committed_fn,
                                 .max_events = 1000,
                                 .wait_ms = 1000};
    bus_consumer_t *consumer = bus_consumer_new(ctx, &cfg);
    while (!bus_sequencer_leader(s_sequencer))
        usleep(10000);
    usleep(200000); /* the consumer's first long-poll is in place */

    pthread_t writers[64];
    writer_arg_t warg = {rate};
    uint64_t t0 = s_now_ns();
    for (int i = 0; i < clients; i++)
        pthread_create(&writers[i], NULL, s_writer, &warg);
    sleep((unsigned)s_seconds);
    atomic_store(&s_stop_writers, true);
    for (int i = 0; i < clients; i++)
        pthread_join(writers[i], NULL);
    uint64_t total = atomic_load(&s_committed);
    uint64_t t_commits = s_now_ns();
    bus_consumer_stats_t st;
    for (int i = 0; i < 6000; i++) {
        bus_consumer_stats(consumer, &st);
        if (st.position >= total)
            break;
        usleep(5000);
    }
    uint64_t t_done = s_now_ns();
    bus_consumer_stats(consumer, &st);
    bus_consumer_destroy(&consumer);
    atomic_store(&s_stop_loop, true);
    pthread_join(loop_thread, NULL);

    uint64_t n = atomic_load(&s_next_index);
    if (n > MAX_EVENTS)
        n = MAX_EVENTS;
    uint64_t *lat = calloc(n ? n : 1, sizeof *lat);
    size_t k = 0;
    for (uint64_t i = 0; i < n; i++)
        if (s_commit_ns[i] && s_applied_ns[i])
            /* the consumer may apply an event before the producer's thread
             * has noted the time its COMMIT returned: that latency is ~0 */
            lat[k++] = s_applied_ns[i] > s_commit_ns[i] ? s_applied_ns[i] - s_commit_ns[i] : 0;
    qsort(lat, k, sizeof *lat, s_cmp);
    double secs = (double)(t_done - t0) / 1e9;
    printf("committed=%llu applied=%llu position=%llu commit_seconds=%.2f drain_ms=%.0f\n",
           (unsigned long long)total, (unsigned long long)st.applied,
           (unsigned long long)st.position, (double)(t_commits - t0) / 1e9,
           (double)(t_done - t_commits) / 1e6);
    printf("bus_events_per_s=%.0f\n", (double)st.applied / secs);
    if (k > 0)
        printf("latency_p50_ms=%.2f latency_p99_ms=%.2f latency_max_ms=%.2f samples=%zu\n",
               (double)lat[k / 2] / 1e6, (double)lat[(k * 99) / 100] / 1e6,
               (double)lat[k - 1] / 1e6, k);
    free(lat);
    bus_server_destroy(&server);
    bus_sequencer_destroy(&s_sequencer);
    loop_destroy(&loop);
    zmq_ctx_term(ctx);
    free(s_commit_ns);
    free(s_applied_ns);
    return st.position >= total ? 0 : 1;
}
