/* loop: timers (ordering, repeat, cancel from handlers), descriptors,
 * ZeroMQ sockets, signals through the signalfd. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "common/loop.h"

typedef struct {
    int fired[32];
    int n;
    int other_timer;
    int count;
    loop_t *loop;
} rec_t;

static int on_record(loop_t *loop, int id, void *arg)
{
    rec_t *r = arg;
    r->fired[r->n++] = id;
    return 0;
}

static int on_stop(loop_t *loop, int id, void *arg)
{
    loop_stop(loop);
    return 0;
}

static void test_timer_ordering(void **state)
{
    loop_t *loop = loop_new();
    assert_non_null(loop);
    rec_t r = {0};
    int t30 = loop_add_timer(loop, 30, 1, on_record, &r);
    int t10 = loop_add_timer(loop, 10, 1, on_record, &r);
    int t20 = loop_add_timer(loop, 20, 1, on_record, &r);
    assert_true(t30 > 0 && t10 > 0 && t20 > 0);
    loop_add_timer(loop, 50, 1, on_stop, NULL);
    uint64_t start = loop_now_ms();
    assert_int_equal(0, loop_run(loop));
    assert_true(loop_now_ms() - start >= 50);
    assert_int_equal(3, r.n);
    assert_int_equal(t10, r.fired[0]);
    assert_int_equal(t20, r.fired[1]);
    assert_int_equal(t30, r.fired[2]);
    loop_destroy(&loop);
    assert_null(loop);
}

static void test_equal_deadlines_fire_in_order_added(void **state)
{
    loop_t *loop = loop_new();
    rec_t r = {0};
    int ids[5];
    for (int i = 0; i < 5; i++)
        ids[i] = loop_add_timer(loop, 0, 1, on_record, &r);
    loop_add_timer(loop, 5, 1, on_stop, NULL);
    assert_int_equal(0, loop_run(loop));
    assert_int_equal(5, r.n);
    for (int i = 0; i < 5; i++)
        assert_int_equal(ids[i], r.fired[i]);
    loop_destroy(&loop);
}

static void test_timer_repeat(void **state)
{
    loop_t *loop = loop_new();
    rec_t r = {0};
    int id = loop_add_timer(loop, 5, 3, on_record, &r);
    loop_add_timer(loop, 60, 1, on_stop, NULL);
    assert_int_equal(0, loop_run(loop));
    assert_int_equal(3, r.n);
    for (int i = 0; i < 3; i++)
        assert_int_equal(id, r.fired[i]);
    loop_destroy(&loop);
}

static int on_cancel_self_after_4(loop_t *loop, int id, void *arg)
{
    rec_t *r = arg;
    if (++r->count == 4) {
        loop_cancel_timer(loop, id);
        loop_add_timer(loop, 20, 1, on_stop, NULL);
    }
    return 0;
}

static void test_cancel_self_inside_handler(void **state)
{
    loop_t *loop = loop_new();
    rec_t r = {0};
    loop_add_timer(loop, 1, 0, on_cancel_self_after_4, &r); /* forever */
    assert_int_equal(0, loop_run(loop));
    assert_int_equal(4, r.count);
    loop_destroy(&loop);
}

static int on_cancel_other(loop_t *loop, int id, void *arg)
{
    rec_t *r = arg;
    loop_cancel_timer(loop, r->other_timer);
    r->fired[r->n++] = id;
    return 0;
}

static void test_cancel_other_inside_handler(void **state)
{
    loop_t *loop = loop_new();
    rec_t r = {0};
    /* both due in the same round: the first cancels the second */
    int first = loop_add_timer(loop, 10, 1, on_cancel_other, &r);
    r.other_timer = loop_add_timer(loop, 10, 1, on_record, &r);
    loop_add_timer(loop, 40, 1, on_stop, NULL);
    assert_int_equal(0, loop_run(loop));
    assert_int_equal(1, r.n);
    assert_int_equal(first, r.fired[0]);
    /* cancelling an unknown id is harmless */
    loop_cancel_timer(loop, 12345);
    loop_destroy(&loop);
}

static int on_add_zero_delay(loop_t *loop, int id, void *arg)
{
    rec_t *r = arg;
    r->fired[r->n++] = id;
    if (r->n < 10)
        loop_add_timer(loop, 0, 1, on_add_zero_delay, r);
    else
        loop_stop(loop);
    return 0;
}

static void test_add_inside_handler(void **state)
{
    loop_t *loop = loop_new();
    rec_t r = {0};
    loop_add_timer(loop, 0, 1, on_add_zero_delay, &r);
    assert_int_equal(0, loop_run(loop));
    assert_int_equal(10, r.n);
    loop_destroy(&loop);
}

static int on_fail(loop_t *loop, int id, void *arg)
{
    return -1;
}

static void test_handler_stops_loop(void **state)
{
    loop_t *loop = loop_new();
    loop_add_timer(loop, 1, 1, on_fail, NULL);
    assert_int_equal(-1, loop_run(loop));
    loop_destroy(&loop);
}

typedef struct {
    int calls[2];
    int fds[2];
    int stop_after;
} fdrec_t;

static int on_fd(loop_t *loop, int fd, short revents, void *arg)
{
    fdrec_t *r = arg;
    char buf[16];
    assert_true(revents & ZMQ_POLLIN);
    assert_true(read(fd, buf, sizeof buf) > 0);
    int which = fd == r->fds[0] ? 0 : 1;
    r->calls[which]++;
    /* the first one to run removes the other, readable in this same round */
    loop_remove_fd(loop, r->fds[1 - which]);
    loop_remove_fd(loop, fd);
    loop_add_timer(loop, 5, 1, on_stop, NULL);
    return 0;
}

static void test_fd_remove_inside_handler(void **state)
{
    loop_t *loop = loop_new();
    int a[2], b[2];
    assert_int_equal(0, pipe(a));
    assert_int_equal(0, pipe(b));
    fdrec_t r = {.fds = {a[0], b[0]}};
    assert_int_equal(0, loop_add_fd(loop, a[0], ZMQ_POLLIN, on_fd, &r));
    assert_int_equal(0, loop_add_fd(loop, b[0], ZMQ_POLLIN, on_fd, &r));
    assert_int_equal(-1, loop_add_fd(loop, -1, ZMQ_POLLIN, on_fd, &r));
    assert_int_equal(1, write(a[1], "x", 1));
    assert_int_equal(1, write(b[1], "y", 1));
    assert_int_equal(0, loop_run(loop));
    assert_int_equal(1, r.calls[0] + r.calls[1]);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
    loop_destroy(&loop);
}

static int on_socket(loop_t *loop, void *socket, short revents, void *arg)
{
    char buf[16];
    int n = zmq_recv(socket, buf, sizeof buf, ZMQ_DONTWAIT);
    assert_int_equal(5, n);
    assert_memory_equal("hello", buf, 5);
    (*(int *)arg)++;
    loop_stop(loop);
    return 0;
}

static void test_zmq_socket(void **state)
{
    void *ctx = zmq_ctx_new();
    void *a = zmq_socket(ctx, ZMQ_PAIR);
    void *b = zmq_socket(ctx, ZMQ_PAIR);
    int linger = 0;
    zmq_setsockopt(a, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(b, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal(0, zmq_bind(a, "inproc://loop-test"));
    assert_int_equal(0, zmq_connect(b, "inproc://loop-test"));

    loop_t *loop = loop_new();
    int got = 0;
    assert_int_equal(0, loop_add_socket(loop, a, ZMQ_POLLIN, on_socket, &got));
    assert_int_equal(5, zmq_send(b, "hello", 5, 0));
    assert_int_equal(0, loop_run(loop));
    assert_int_equal(1, got);
    loop_remove_socket(loop, a);
    loop_destroy(&loop);
    zmq_close(a);
    zmq_close(b);
    assert_int_equal(0, zmq_ctx_term(ctx));
}

typedef struct {
    int signals[8];
    int n;
} sigrec_t;

static int on_signal(loop_t *loop, int signo, void *arg)
{
    sigrec_t *r = arg;
    r->signals[r->n++] = signo;
    if (signo == SIGTERM)
        loop_stop(loop);
    return 0;
}

static int raise_signals(loop_t *loop, int id, void *arg)
{
    raise(SIGHUP);
    raise(SIGTERM);
    return 0;
}

static void test_signals(void **state)
{
    loop_t *loop = loop_new();
    sigrec_t r = {0};
    assert_int_equal(0, loop_handle_signals(loop, on_signal, &r));
    loop_add_timer(loop, 1, 1, raise_signals, NULL);
    assert_int_equal(0, loop_run(loop));
    /* signalfd reports pending signals by number: SIGHUP (1) before SIGTERM (15) */
    assert_int_equal(2, r.n);
    assert_int_equal(SIGHUP, r.signals[0]);
    assert_int_equal(SIGTERM, r.signals[1]);

    /* SIGINT too */
    r.n = 0;
    raise(SIGINT);
    loop_add_timer(loop, 20, 1, on_stop, NULL);
    assert_int_equal(0, loop_run(loop));
    assert_int_equal(1, r.n);
    assert_int_equal(SIGINT, r.signals[0]);
    loop_destroy(&loop);

    /* the old mask is back: SIGHUP is no longer blocked */
    sigset_t now;
    sigprocmask(SIG_BLOCK, NULL, &now);
    assert_false(sigismember(&now, SIGHUP));
}

/* A SIGTERM still pending when the loop is destroyed (a second one sent
 * during shutdown) is dropped, not delivered with its default action. */
static void test_pending_signal_dropped_at_destroy(void **state)
{
    loop_t *loop = loop_new();
    sigrec_t r = {0};
    assert_int_equal(0, loop_handle_signals(loop, on_signal, &r));
    raise(SIGTERM);
    loop_destroy(&loop);
    /* still alive here: the process was not terminated */
    sigset_t pending;
    sigpending(&pending);
    assert_false(sigismember(&pending, SIGTERM));
    assert_int_equal(0, r.n);
}

static void test_now_is_monotonic(void **state)
{
    uint64_t a = loop_now_ms();
    usleep(3000);
    assert_true(loop_now_ms() >= a + 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timer_ordering),
        cmocka_unit_test(test_equal_deadlines_fire_in_order_added),
        cmocka_unit_test(test_timer_repeat),
        cmocka_unit_test(test_cancel_self_inside_handler),
        cmocka_unit_test(test_cancel_other_inside_handler),
        cmocka_unit_test(test_add_inside_handler),
        cmocka_unit_test(test_handler_stops_loop),
        cmocka_unit_test(test_fd_remove_inside_handler),
        cmocka_unit_test(test_zmq_socket),
        cmocka_unit_test(test_signals),
        cmocka_unit_test(test_pending_signal_dropped_at_destroy),
        cmocka_unit_test(test_now_is_monotonic),
    };
    return cmocka_run_group_tests_name("common_loop", tests, NULL, NULL);
}
