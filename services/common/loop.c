/* loop — see loop.h.
 *
 * Watched sockets and descriptors live in one array; each iteration copies
 * it into a zmq_pollitem_t array, polls, then dispatches. A handler may
 * remove or replace any item (its own included) while the loop runs, so
 * dispatch never trusts the copy: it looks each item up again by its serial
 * number (given at add time, kept on replace) and skips it if it is gone,
 * and masks revents with the events the item watches now.
 *
 * Timers are a binary min-heap ordered by (deadline, sequence). A due timer
 * is popped before its handler runs; afterwards it is pushed back (repeat)
 * or freed. Cancelling the running timer from its own handler only marks
 * it. Only timers that were due when the timer phase started fire in it,
 * and a re-armed timer gets a fresh sequence number, so a handler that adds
 * a zero-delay timer cannot starve the poll.
 */
#include "common/loop.h"

#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "common/log.h"

typedef struct {
    void *socket; /* NULL for a descriptor */
    int fd;
    short events;
    loop_socket_fn *socket_fn;
    loop_fd_fn *fd_fn;
    void *arg;
    uint64_t serial;
} item_t;

typedef struct {
    int id;
    uint64_t deadline; /* loop_now_ms */
    uint64_t interval;
    size_t times; /* remaining; 0 = forever */
    uint64_t seq;
    loop_timer_fn *fn;
    void *arg;
    bool cancelled;
} tmr_t;

struct loop_t {
    item_t *items;
    size_t n_items, cap_items;
    uint64_t next_serial;

    tmr_t **heap;
    size_t n_timers, cap_timers;
    int next_timer_id;
    uint64_t next_seq;
    tmr_t *running; /* the timer whose handler runs now */

    zmq_pollitem_t *poll;
    uint64_t *poll_serials;
    size_t cap_poll;

    int signal_fd;
    sigset_t old_mask;
    loop_signal_fn *signal_fn;
    void *signal_arg;

    bool stop;
};

uint64_t loop_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

loop_t *loop_new(void)
{
    loop_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->signal_fd = -1;
    self->next_timer_id = 1;
    return self;
}

void loop_destroy(loop_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    loop_t *self = *self_p;
    if (self->signal_fd >= 0) {
        close(self->signal_fd);
        /* Drop what is pending, then give the thread its old mask back: a
         * second SIGTERM that came during shutdown would otherwise be
         * delivered the moment it is unblocked and kill the process with
         * the default action instead of letting it exit cleanly. */
        sigset_t ours;
        sigemptyset(&ours);
        sigaddset(&ours, SIGTERM);
        sigaddset(&ours, SIGINT);
        sigaddset(&ours, SIGHUP);
        const struct timespec now = {0, 0};
        while (sigtimedwait(&ours, NULL, &now) > 0)
            ;
        pthread_sigmask(SIG_SETMASK, &self->old_mask, NULL);
    }
    for (size_t i = 0; i < self->n_timers; i++)
        free(self->heap[i]);
    free(self->heap);
    free(self->items);
    free(self->poll);
    free(self->poll_serials);
    free(self);
    *self_p = NULL;
}

/* ---- sockets and descriptors -------------------------------------------- */

static item_t *item_find(loop_t *self, void *socket, int fd)
{
    for (size_t i = 0; i < self->n_items; i++) {
        item_t *it = &self->items[i];
        if (socket ? it->socket == socket : (!it->socket && it->fd == fd))
            return it;
    }
    return NULL;
}

static item_t *item_add(loop_t *self, void *socket, int fd)
{
    item_t *it = item_find(self, socket, fd);
    if (it)
        return it;
    if (self->n_items == self->cap_items) {
        size_t cap = self->cap_items ? self->cap_items * 2 : 8;
        item_t *items = realloc(self->items, cap * sizeof *items);
        if (!items)
            return NULL;
        self->items = items;
        self->cap_items = cap;
    }
    it = &self->items[self->n_items++];
    memset(it, 0, sizeof *it);
    it->socket = socket;
    it->fd = socket ? -1 : fd;
    it->serial = ++self->next_serial;
    return it;
}

static void item_remove(loop_t *self, item_t *it)
{
    size_t i = (size_t)(it - self->items);
    memmove(&self->items[i], &self->items[i + 1], (self->n_items - i - 1) * sizeof *it);
    self->n_items--;
}

int loop_add_socket(loop_t *self, void *socket, short events, loop_socket_fn *fn, void *arg)
{
    assert(self && socket && fn);
    item_t *it = item_add(self, socket, -1);
    if (!it)
        return -1;
    it->events = events;
    it->socket_fn = fn;
    it->arg = arg;
    return 0;
}

void loop_remove_socket(loop_t *self, void *socket)
{
    item_t *it = item_find(self, socket, -1);
    if (it)
        item_remove(self, it);
}

int loop_add_fd(loop_t *self, int fd, short events, loop_fd_fn *fn, void *arg)
{
    assert(self && fn);
    if (fd < 0)
        return -1;
    item_t *it = item_add(self, NULL, fd);
    if (!it)
        return -1;
    it->events = events;
    it->fd_fn = fn;
    it->arg = arg;
    return 0;
}

void loop_remove_fd(loop_t *self, int fd)
{
    item_t *it = item_find(self, NULL, fd);
    if (it)
        item_remove(self, it);
}

/* ---- timers -------------------------------------------------------------- */

static bool timer_before(const tmr_t *a, const tmr_t *b)
{
    return a->deadline != b->deadline ? a->deadline < b->deadline : a->seq < b->seq;
}

static void heap_swap(loop_t *self, size_t i, size_t j)
{
    tmr_t *t = self->heap[i];
    self->heap[i] = self->heap[j];
    self->heap[j] = t;
}

static void heap_up(loop_t *self, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!timer_before(self->heap[i], self->heap[parent]))
            break;
        heap_swap(self, i, parent);
        i = parent;
    }
}

static void heap_down(loop_t *self, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < self->n_timers && timer_before(self->heap[l], self->heap[m]))
            m = l;
        if (r < self->n_timers && timer_before(self->heap[r], self->heap[m]))
            m = r;
        if (m == i)
            break;
        heap_swap(self, i, m);
        i = m;
    }
}

static int heap_push(loop_t *self, tmr_t *t)
{
    if (self->n_timers == self->cap_timers) {
        size_t cap = self->cap_timers ? self->cap_timers * 2 : 16;
        tmr_t **heap = realloc(self->heap, cap * sizeof *heap);
        if (!heap)
            return -1;
        self->heap = heap;
        self->cap_timers = cap;
    }
    t->seq = self->next_seq++;
    self->heap[self->n_timers++] = t;
    heap_up(self, self->n_timers - 1);
    return 0;
}

static tmr_t *heap_remove_at(loop_t *self, size_t i)
{
    tmr_t *t = self->heap[i];
    self->n_timers--;
    if (i != self->n_timers) {
        self->heap[i] = self->heap[self->n_timers];
        heap_up(self, i);
        heap_down(self, i);
    }
    return t;
}

int loop_add_timer(loop_t *self, uint64_t delay_ms, size_t times, loop_timer_fn *fn, void *arg)
{
    assert(self && fn);
    tmr_t *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    /* ids wrap after 2^31 timers; skip ids still in use */
    for (;;) {
        if (self->next_timer_id <= 0)
            self->next_timer_id = 1;
        int id = self->next_timer_id++;
        bool used = self->running && self->running->id == id;
        for (size_t i = 0; !used && i < self->n_timers; i++)
            used = self->heap[i]->id == id;
        if (!used) {
            t->id = id;
            break;
        }
    }
    t->deadline = loop_now_ms() + delay_ms;
    t->interval = delay_ms;
    t->times = times;
    t->fn = fn;
    t->arg = arg;
    if (heap_push(self, t) < 0) {
        free(t);
        return -1;
    }
    return t->id;
}

/* Linear in the number of timers: daemons hold tens, not thousands (the
 * deadlines of the domain live in Postgres and Redis, not here). */
void loop_cancel_timer(loop_t *self, int timer_id)
{
    if (self->running && self->running->id == timer_id) {
        self->running->cancelled = true;
        return;
    }
    for (size_t i = 0; i < self->n_timers; i++) {
        if (self->heap[i]->id == timer_id) {
            free(heap_remove_at(self, i));
            return;
        }
    }
}

/* Fire the timers due now. Returns -1 if a handler asked to stop. */
static int run_timers(loop_t *self)
{
    uint64_t now = loop_now_ms();
    uint64_t seq_limit = self->next_seq;
    int rc = 0;
    while (self->n_timers > 0 && !self->stop) {
        tmr_t *t = self->heap[0];
        if (t->deadline > now || t->seq >= seq_limit)
            break;
        heap_remove_at(self, 0);
        self->running = t;
        int r = t->fn(self, t->id, t->arg);
        self->running = NULL;
        bool again = !t->cancelled && (t->times == 0 || --t->times > 0);
        if (again) {
            /* keep the cadence, but never schedule into the past after a
             * stall (a late timer fires once, not once per missed period) */
            t->deadline += t->interval;
            uint64_t after = loop_now_ms();
            if (t->deadline < after)
                t->deadline = after;
            if (heap_push(self, t) < 0)
                free(t);
        } else {
            free(t);
        }
        if (r < 0) {
            rc = -1;
            break;
        }
    }
    return rc;
}

/* ---- signals ------------------------------------------------------------- */

static int on_signalfd(loop_t *self, int fd, short revents, void *arg)
{
    struct signalfd_siginfo info[8];
    for (;;) {
        ssize_t n = read(fd, info, sizeof info);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return 0; /* EAGAIN: all read */
        }
        size_t count = (size_t)n / sizeof info[0];
        for (size_t i = 0; i < count; i++) {
            if (self->signal_fn &&
                self->signal_fn(self, (int)info[i].ssi_signo, self->signal_arg) < 0)
                return -1;
        }
        if (count < sizeof info / sizeof info[0])
            return 0;
    }
}

int loop_handle_signals(loop_t *self, loop_signal_fn *fn, void *arg)
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    if (self->signal_fd < 0) {
        if (pthread_sigmask(SIG_BLOCK, &mask, &self->old_mask) != 0)
            return -1;
        self->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        if (self->signal_fd < 0) {
            pthread_sigmask(SIG_SETMASK, &self->old_mask, NULL);
            return -1;
        }
        if (loop_add_fd(self, self->signal_fd, ZMQ_POLLIN, on_signalfd, NULL) < 0) {
            close(self->signal_fd);
            self->signal_fd = -1;
            pthread_sigmask(SIG_SETMASK, &self->old_mask, NULL);
            return -1;
        }
    }
    self->signal_fn = fn;
    self->signal_arg = arg;
    return 0;
}

/* ---- running --------------------------------------------------------------- */

void loop_stop(loop_t *self)
{
    self->stop = true;
}

static long poll_timeout(loop_t *self)
{
    if (self->n_timers == 0)
        return -1;
    uint64_t now = loop_now_ms();
    uint64_t deadline = self->heap[0]->deadline;
    if (deadline <= now)
        return 0;
    uint64_t wait = deadline - now;
    return wait > 3600 * 1000 ? 3600 * 1000 : (long)wait;
}

static int poll_once(loop_t *self)
{
    size_t n = self->n_items;
    if (n > self->cap_poll) {
        zmq_pollitem_t *poll = realloc(self->poll, n * sizeof *poll);
        if (!poll)
            return -1;
        self->poll = poll;
        uint64_t *serials = realloc(self->poll_serials, n * sizeof *serials);
        if (!serials)
            return -1;
        self->poll_serials = serials;
        self->cap_poll = n;
    }
    for (size_t i = 0; i < n; i++) {
        self->poll[i] = (zmq_pollitem_t){.socket = self->items[i].socket,
                                         .fd = self->items[i].fd,
                                         .events = self->items[i].events,
                                         .revents = 0};
        self->poll_serials[i] = self->items[i].serial;
    }
    long timeout = poll_timeout(self);
    int rc;
    if (n == 0) {
        /* zmq_poll with no items cannot wait forever; poll(2) can */
        rc = poll(NULL, 0, timeout > INT32_MAX ? -1 : (int)timeout);
    } else {
        rc = zmq_poll(self->poll, (int)n, timeout);
    }
    if (rc < 0) {
        if (errno == EINTR)
            return 0;
        log_error("loop poll failed", "error=%s", zmq_strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < n && rc > 0 && !self->stop; i++) {
        if (!self->poll[i].revents)
            continue;
        item_t *it = NULL;
        for (size_t j = 0; j < self->n_items; j++) {
            if (self->items[j].serial == self->poll_serials[i]) {
                it = &self->items[j];
                break;
            }
        }
        if (!it)
            continue; /* removed by an earlier handler of this round */
        short revents = (short)(self->poll[i].revents & (it->events | ZMQ_POLLERR));
        if (!revents)
            continue;
        /* copy: the handler may add items and move the array */
        item_t copy = *it;
        int r = copy.socket ? copy.socket_fn(self, copy.socket, revents, copy.arg)
                            : copy.fd_fn(self, copy.fd, revents, copy.arg);
        if (r < 0)
            return -1;
    }
    return 0;
}

int loop_run(loop_t *self)
{
    self->stop = false;
    while (!self->stop) {
        if (poll_once(self) < 0)
            return -1;
        if (self->stop)
            break;
        if (run_timers(self) < 0)
            return -1;
    }
    self->stop = false;
    return 0;
}
