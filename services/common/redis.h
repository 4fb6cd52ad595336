/* redis — a Redis connection driven by the daemon's event loop.
 *
 * hiredis 0.14 (Debian 12) does the protocol; this module is the rest of a
 * client: the adapter that lets hiredis watch its socket in our loop, a
 * connect timeout and a per-command timeout (loop timers: hiredis 0.14 has
 * neither), a handshake (AUTH, SELECT, CLIENT SETNAME, PING) before the
 * connection counts as ready, an idle PING, and reconnection with
 * exponential back-off and jitter (100 ms doubling to 5 s).
 *
 * Replies come back in the order commands were sent, so a command whose
 * reply is late holds up every command behind it: when one times out, it
 * gets a timeout error, the connection is dropped (every other command in
 * flight gets an error too) and a new one is opened.
 *
 * Every command accepted by redis_command() gets its callback exactly once:
 * with its reply, or with an error (timeout, connection lost, destroy).
 * Commands are accepted only while redis_ready(); during an outage they are
 * refused at once, so callers decide what to do (Redis holds nothing here
 * that PostgreSQL cannot rebuild).
 *
 * Not for SUBSCRIBE / PSUBSCRIBE / MONITOR (their replies do not pair with
 * commands; use a connection of their own). `host` should be an address:
 * hiredis resolves names synchronously. Not thread-safe: one redis_t
 * belongs to one loop and its thread.
 */
#ifndef LIAISON_COMMON_REDIS_H
#define LIAISON_COMMON_REDIS_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/loop.h"

typedef struct redis_t redis_t;

/* Zero fields take the default. */
typedef struct {
    uint32_t connect_timeout_ms; /* TCP connect and handshake (1000) */
    uint32_t command_timeout_ms; /* from sending to the reply (1000) */
    uint32_t ping_interval_ms;   /* PING after this long idle (1000) */
    uint32_t backoff_min_ms;     /* first reconnect delay (100) */
    uint32_t backoff_max_ms;     /* cap on the delay (5000) */
    const char *password;        /* AUTH on connect; NULL = none (copied) */
    int db;                      /* SELECT on connect when > 0 */
    const char *name;            /* log label and CLIENT SETNAME (no spaces); NULL = "redis" */
} redis_options_t;

/* The outcome of one command. `reply` is borrowed: hiredis frees it when
 * the callback returns (copy what you keep; never free it).
 *   - reply != NULL, error == NULL: the reply (any type but an error);
 *   - reply != NULL, error != NULL: an error reply (error == reply->str);
 *   - reply == NULL, error != NULL: no reply ("timeout", connection lost,
 *     "connection closed").
 * The callback may send new commands and may destroy the redis_t. */
typedef void(redis_reply_fn)(redis_t *redis, const redisReply *reply, const char *error, void *arg);

/* Called when redis_ready() changes, after the change. */
typedef void(redis_state_fn)(redis_t *redis, bool ready, void *arg);

typedef struct {
    uint64_t connects;         /* connections that became ready */
    uint64_t connect_failures; /* attempts that failed or timed out */
    uint64_t disconnects;      /* ready connections lost or dropped */
    uint64_t commands;         /* commands accepted, pings not counted */
    uint64_t command_errors;   /* error replies */
    uint64_t command_failures; /* commands that got no reply (timeouts included) */
    uint64_t timeouts;         /* commands that timed out */
    uint64_t pings;            /* idle PINGs sent */
    uint32_t in_flight;        /* commands waiting for their reply, now */
    bool ready;
} redis_stats_t;

/* Start connecting to host:port. Returns at once; the connection opens in
 * the loop and is retried until it does. NULL only when arguments are
 * missing or memory runs out. */
redis_t *redis_new(loop_t *loop, const char *host, int port, const redis_options_t *opts);

/* Close the connection; every command in flight gets its callback with an
 * error before this returns. Clears *self_p. Safe from inside a redis
 * callback (the work is finished when the callback returns). */
void redis_destroy(redis_t **self_p);

/* true once the handshake has succeeded, until the connection is lost. */
bool redis_ready(redis_t *self);

/* Send a command, hiredis format ("SET %s %b", key, value, len). Returns 0
 * if accepted (fn is called exactly once), -1 if refused (not ready, bad
 * format, subscribe commands, out of memory: fn is not called). */
int redis_command(redis_t *self, redis_reply_fn *fn, void *arg, const char *fmt, ...);
int redis_command_argv(redis_t *self, redis_reply_fn *fn, void *arg, int argc, const char **argv,
                       const size_t *argvlen);

void redis_set_state_fn(redis_t *self, redis_state_fn *fn, void *arg);
void redis_stats(redis_t *self, redis_stats_t *stats);
const char *redis_name(redis_t *self);

#endif
