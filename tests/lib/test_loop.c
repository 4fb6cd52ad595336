/* test_loop — see test_loop.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_loop.h"

typedef struct {
    test_cond_fn *cond;
    void *arg;
    uint64_t deadline;
} waiter_t;

static int waiter_tick(loop_t *loop, int timer_id, void *arg)
{
    waiter_t *w = arg;
    if ((w->cond && w->cond(w->arg)) || loop_now_ms() >= w->deadline)
        loop_stop(loop);
    return 0;
}

bool test_run_until(loop_t *loop, test_cond_fn *cond, void *arg, uint64_t timeout_ms)
{
    waiter_t w = {cond, arg, loop_now_ms() + timeout_ms};
    if (cond && cond(arg))
        return true;
    int id = loop_add_timer(loop, 5, 0, waiter_tick, &w);
    assert_true(id > 0);
    loop_run(loop);
    loop_cancel_timer(loop, id);
    return cond ? cond(arg) : true;
}
