/* loop — the one event loop of a daemon.
 *
 * zmq_poll over ZeroMQ sockets and raw file descriptors, one-shot and
 * repeating timers, and a signalfd for SIGTERM/SIGINT/SIGHUP. Signals never
 * run code in signal context: they are read from the signalfd like any other
 * readable descriptor (the Redis ae.c model, without the self-pipe).
 *
 * A handler returns 0 to keep the loop going, or -1 to stop it (loop_run then
 * returns -1). Handlers may add and remove sockets, descriptors and timers,
 * including their own, while the loop runs.
 */
#ifndef LIAISON_COMMON_LOOP_H
#define LIAISON_COMMON_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct loop_t loop_t;

/* events: ZMQ_POLLIN / ZMQ_POLLOUT (ZMQ_POLLERR may come back in revents).
 * These are not the bits of poll(2): ZMQ_POLLOUT is 2, POLLOUT is 4. */
typedef int(loop_socket_fn)(loop_t *loop, void *socket, short revents, void *arg);
typedef int(loop_fd_fn)(loop_t *loop, int fd, short revents, void *arg);
typedef int(loop_timer_fn)(loop_t *loop, int timer_id, void *arg);
/* signo is SIGTERM, SIGINT or SIGHUP. */
typedef int(loop_signal_fn)(loop_t *loop, int signo, void *arg);

loop_t *loop_new(void);
void loop_destroy(loop_t **self_p);

/* Watch a ZeroMQ socket / a descriptor. Adding one already watched replaces
 * its events, handler and argument. */
int loop_add_socket(loop_t *self, void *socket, short events, loop_socket_fn *fn, void *arg);
void loop_remove_socket(loop_t *self, void *socket);
int loop_add_fd(loop_t *self, int fd, short events, loop_fd_fn *fn, void *arg);
void loop_remove_fd(loop_t *self, int fd);

/* A timer that fires after delay_ms, `times` times (0 = forever) every
 * delay_ms. Returns a positive timer id, or -1. */
int loop_add_timer(loop_t *self, uint64_t delay_ms, size_t times, loop_timer_fn *fn, void *arg);
void loop_cancel_timer(loop_t *self, int timer_id);

/* Block SIGTERM, SIGINT and SIGHUP in the calling thread (call before any
 * other thread is started so they inherit the mask) and deliver them through
 * a signalfd to fn. */
int loop_handle_signals(loop_t *self, loop_signal_fn *fn, void *arg);

/* Run until a handler returns -1 or loop_stop is called. Returns 0 after
 * loop_stop, -1 after a handler asked to stop or on a poll error. */
int loop_run(loop_t *self);
/* Make loop_run return after the current iteration. */
void loop_stop(loop_t *self);

/* Milliseconds of a monotonic clock, as the loop sees it. */
uint64_t loop_now_ms(void);

#endif
