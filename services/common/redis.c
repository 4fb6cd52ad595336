/* redis — a Redis connection driven by the daemon's event loop.
 *
 * How hiredis 0.14 tears a connection down matters to everything below.
 * __redisAsyncFree, reached from redisAsyncFree() or from a read or write
 * error inside redisAsyncHandleRead/Write, does, in this order:
 *   1. calls every pending reply callback with a NULL reply;
 *   2. calls ev.cleanup (our adapter stops watching the descriptor);
 *   3. calls the disconnect callback, if the connection had been made;
 *   4. frees the context and closes the socket.
 * A context must therefore be freed once, by exactly one path, and never
 * by us while hiredis is inside one of its own callbacks (it would free it
 * again on the way out). So: when hiredis tears down, we only forget the
 * context (self->ac = NULL) in the first callback that tells us; when we
 * tear down, we forget it first and then call redisAsyncFree from a loop
 * handler (a timer), never from a hiredis callback — a decision taken
 * inside one (a failed handshake) is deferred through a zero-delay timer.
 */
#include "common/redis.h"

#include <hiredis/async.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <zmq.h>

#include "common/backoff.h"
#include "common/log.h"

static const redis_options_t redis_defaults = {
    .connect_timeout_ms = 1000,
    .command_timeout_ms = 1000,
    .ping_interval_ms = 1000,
    .backoff_min_ms = 100,
    .backoff_max_ms = 5000,
};

typedef enum {
    CMD_USER,
    CMD_PING,      /* idle health check */
    CMD_HANDSHAKE, /* AUTH, SELECT, CLIENT SETNAME */
    CMD_HELLO,     /* the handshake's last PING: ready when it answers */
} cmd_kind_t;

typedef struct redis_cmd_t {
    struct redis_cmd_t *prev, *next;
    redis_t *self;
    cmd_kind_t kind;
    redis_reply_fn *fn;
    void *arg;
    uint64_t deadline;
    bool delivered; /* the callback has run (a timeout comes first) */
} redis_cmd_t;

typedef enum {
    REDIS_WAITING,    /* no connection; a retry is scheduled */
    REDIS_CONNECTING, /* TCP connect in progress */
    REDIS_HANDSHAKE,  /* connected, handshake in flight */
    REDIS_READY,
    REDIS_CLOSED, /* being destroyed */
} redis_state_t;

struct redis_t {
    loop_t *loop;
    char *host;
    int port;
    redis_options_t opts; /* strings owned */

    redis_state_t state;
    redisAsyncContext *ac;
    int fd;       /* descriptor of ac, watched for `events` */
    short events; /* ZMQ_POLLIN | ZMQ_POLLOUT, as hiredis asks */
    unsigned attempt;
    uint64_t rng;
    char why[160]; /* why the connection ended: the error for NULL replies */

    /* Commands handed to hiredis, oldest first (replies come in this
     * order, so the head has the earliest deadline). */
    redis_cmd_t *head, *tail;
    size_t in_flight;
    uint64_t last_activity;

    bool ready;
    redis_state_fn *state_fn;
    void *state_arg;

    int connect_timer;
    int timeout_timer;
    int retry_timer;
    int tick_timer;
    int drop_timer;
    char drop_reason[160];

    int depth; /* loop handlers of ours on the stack; see pg.c */
    bool destroy_pending;

    redis_stats_t stats;
};

static void redis_start_connect(redis_t *self);
static void redis_really_destroy(redis_t *self);
static int redis_on_retry(loop_t *loop, int timer_id, void *arg);
static int redis_on_timeout(loop_t *loop, int timer_id, void *arg);
static int redis_on_connect_timeout(loop_t *loop, int timer_id, void *arg);
static int redis_on_drop(loop_t *loop, int timer_id, void *arg);

/* ---- small helpers -------------------------------------------------------- */

static void redis_cancel(redis_t *self, int *timer)
{
    if (*timer > 0)
        loop_cancel_timer(self->loop, *timer);
    *timer = 0;
}

static void redis_enter(redis_t *self)
{
    self->depth++;
}

static void redis_leave(redis_t *self)
{
    if (--self->depth == 0 && self->destroy_pending)
        redis_really_destroy(self);
}

static void redis_update_ready(redis_t *self)
{
    bool ready = self->state == REDIS_READY;
    if (ready == self->ready)
        return;
    self->ready = ready;
    if (ready)
        log_info("redis ready", "redis=%s", self->opts.name);
    else
        log_warn("redis not ready", "redis=%s", self->opts.name);
    if (self->state_fn && self->state != REDIS_CLOSED)
        self->state_fn(self, ready, self->state_arg);
}

/* ---- the adapter: hiredis asks, the loop watches -------------------------- */

static int redis_on_io(loop_t *loop, int fd, short revents, void *arg);

static void redis_watch(redis_t *self, short events)
{
    if (self->fd < 0)
        return;
    if (events == self->events)
        return;
    if (events == 0) {
        loop_remove_fd(self->loop, self->fd);
    } else if (loop_add_fd(self->loop, self->fd, events, redis_on_io, self) != 0) {
        /* Nothing to wait on: the command timers will notice. */
        log_error("redis cannot watch its socket", "redis=%s", self->opts.name);
        return;
    }
    self->events = events;
}

static void redis_ev_add_read(void *privdata)
{
    redis_t *self = privdata;
    redis_watch(self, self->events | ZMQ_POLLIN);
}

static void redis_ev_del_read(void *privdata)
{
    redis_t *self = privdata;
    redis_watch(self, self->events & ~ZMQ_POLLIN);
}

static void redis_ev_add_write(void *privdata)
{
    redis_t *self = privdata;
    redis_watch(self, self->events | ZMQ_POLLOUT);
}

static void redis_ev_del_write(void *privdata)
{
    redis_t *self = privdata;
    redis_watch(self, self->events & ~ZMQ_POLLOUT);
}

/* hiredis is freeing the context: stop watching its socket (still open). */
static void redis_ev_cleanup(void *privdata)
{
    redis_t *self = privdata;
    redis_watch(self, 0);
    self->fd = -1;
}

static int redis_on_io(loop_t *loop, int fd, short revents, void *arg)
{
    redis_t *self = arg;
    redisAsyncContext *ac = self->ac;
    redis_enter(self);
    if (ac && fd == self->fd) {
        /* An error or hang-up is found by reading (or, while connecting,
         * by hiredis checking SO_ERROR, which both handlers do). */
        if (revents & (ZMQ_POLLIN | ZMQ_POLLERR))
            redisAsyncHandleRead(ac);
        /* The read may have freed the context: look again. */
        if (self->ac == ac && (revents & ZMQ_POLLOUT))
            redisAsyncHandleWrite(ac);
    }
    redis_leave(self);
    return 0;
}

/* ---- the command list and its timeout ------------------------------------- */

static void redis_list_append(redis_t *self, redis_cmd_t *cmd)
{
    cmd->prev = self->tail;
    cmd->next = NULL;
    if (self->tail)
        self->tail->next = cmd;
    else
        self->head = cmd;
    self->tail = cmd;
    self->in_flight++;
}

static void redis_list_remove(redis_t *self, redis_cmd_t *cmd)
{
    if (cmd->prev)
        cmd->prev->next = cmd->next;
    else if (self->head == cmd)
        self->head = cmd->next;
    else
        return; /* not in the list */
    if (cmd->next)
        cmd->next->prev = cmd->prev;
    else
        self->tail = cmd->prev;
    cmd->prev = cmd->next = NULL;
    self->in_flight--;
}

/* One timer for the whole list, due when the head is. It is not moved when
 * the head answers: when it fires it looks at the head of the moment and
 * either times it out or sleeps until that head is due. */
static void redis_arm_timeout(redis_t *self)
{
    if (self->timeout_timer > 0 || !self->head)
        return;
    uint64_t now = loop_now_ms();
    uint64_t delay = self->head->deadline > now ? self->head->deadline - now : 0;
    int id = loop_add_timer(self->loop, delay, 1, redis_on_timeout, self);
    self->timeout_timer = id > 0 ? id : 0;
}

/* ---- ending a connection -------------------------------------------------- */

static void redis_schedule_retry(redis_t *self)
{
    if (self->state != REDIS_WAITING || self->retry_timer > 0)
        return;
    uint32_t delay = backoff_delay_ms(self->opts.backoff_min_ms, self->opts.backoff_max_ms,
                                      self->attempt, &self->rng);
    if (self->attempt < 64)
        self->attempt++;
    int id = loop_add_timer(self->loop, delay, 1, redis_on_retry, self);
    self->retry_timer = id > 0 ? id : 0; /* else the tick retries */
}

/* Forget the current context and move to WAITING (or stay CLOSED). The
 * caller frees the context, or hiredis is already doing it. */
static redisAsyncContext *redis_detach(redis_t *self, const char *why)
{
    redisAsyncContext *ac = self->ac;
    bool was_ready = self->state == REDIS_READY;
    bool was_connecting = self->state == REDIS_CONNECTING || self->state == REDIS_HANDSHAKE;
    self->ac = NULL;
    snprintf(self->why, sizeof self->why, "%s", why);
    redis_cancel(self, &self->connect_timer);
    redis_cancel(self, &self->drop_timer);
    if (self->state == REDIS_CLOSED)
        return ac;
    if (was_ready) {
        self->stats.disconnects++;
        self->attempt = 0;
        log_warn("redis connection lost", "redis=%s error=%s in_flight=%zu", self->opts.name, why,
                 self->in_flight);
    } else if (was_connecting) {
        self->stats.connect_failures++;
        if (self->attempt == 0)
            log_warn("redis connect failed", "redis=%s error=%s", self->opts.name, why);
        else
            log_debug("redis connect failed", "redis=%s error=%s attempt=%u", self->opts.name, why,
                      self->attempt);
    }
    self->state = REDIS_WAITING;
    redis_schedule_retry(self);
    redis_update_ready(self);
    return ac;
}

/* Drop the connection from a loop handler (never from inside hiredis). */
static void redis_drop(redis_t *self, const char *why)
{
    redisAsyncContext *ac = redis_detach(self, why);
    if (ac)
        redisAsyncFree(ac); /* commands in flight get `why` */
}

/* Drop it, but from inside a hiredis callback: later, from the loop. */
static void redis_drop_later(redis_t *self, const char *why)
{
    if (self->drop_timer > 0)
        return;
    snprintf(self->drop_reason, sizeof self->drop_reason, "%s", why);
    int id = loop_add_timer(self->loop, 0, 1, redis_on_drop, self);
    self->drop_timer = id > 0 ? id : 0;
}

static int redis_on_drop(loop_t *loop, int timer_id, void *arg)
{
    redis_t *self = arg;
    self->drop_timer = 0;
    redis_enter(self);
    if (self->ac) {
        char why[sizeof self->drop_reason];
        memcpy(why, self->drop_reason, sizeof why);
        redis_drop(self, why);
    }
    redis_leave(self);
    return 0;
}

/* hiredis callbacks telling us the context is going away. */
static void redis_on_disconnect(const redisAsyncContext *ac, int status)
{
    redis_t *self = ac->data;
    if (self && self->ac == ac)
        redis_detach(self, ac->c.errstr[0] ? ac->c.errstr : "connection closed by server");
}

/* ---- replies -------------------------------------------------------------- */

static void redis_become_ready(redis_t *self)
{
    redis_cancel(self, &self->connect_timer);
    self->state = REDIS_READY;
    self->attempt = 0;
    self->stats.connects++;
    log_info("redis connected", "redis=%s host=%s port=%d", self->opts.name, self->host,
             self->port);
    redis_update_ready(self);
}

static void redis_on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    redis_cmd_t *cmd = privdata;
    redis_t *self = cmd->self;
    const redisReply *reply = r;
    redis_list_remove(self, cmd);
    if (reply)
        self->last_activity = loop_now_ms();
    else if (self->ac == ac)
        /* hiredis is tearing the connection down: the first NULL reply
         * tells us before the disconnect callback does. Forget the
         * context now, so the callbacks below cannot queue on it. */
        redis_detach(self, ac->c.errstr[0] ? ac->c.errstr : "connection lost");

    if (!cmd->delivered) {
        cmd->delivered = true;
        const char *error = NULL;
        if (!reply)
            error = self->why[0] ? self->why : "connection lost";
        else if (reply->type == REDIS_REPLY_ERROR)
            error = reply->str ? reply->str : "error reply";
        switch (cmd->kind) {
        case CMD_USER:
            if (!reply)
                self->stats.command_failures++;
            else if (error)
                self->stats.command_errors++;
            cmd->fn(self, reply, error, cmd->arg);
            break;
        case CMD_PING:
            /* "-LOADING", "-BUSY"...: up but not serving. */
            if (reply && error && self->ac == ac)
                redis_drop_later(self, error);
            break;
        case CMD_HANDSHAKE:
        case CMD_HELLO:
            if (reply && error && self->ac == ac) {
                log_error("redis handshake refused", "redis=%s error=%s", self->opts.name, error);
                redis_drop_later(self, error);
            } else if (reply && cmd->kind == CMD_HELLO && self->ac == ac &&
                       self->state == REDIS_HANDSHAKE && self->drop_timer == 0) {
                redis_become_ready(self);
            }
            break;
        }
    }
    free(cmd);
}

static redis_cmd_t *redis_cmd_new(redis_t *self, cmd_kind_t kind, redis_reply_fn *fn, void *arg)
{
    redis_cmd_t *cmd = calloc(1, sizeof *cmd);
    if (!cmd)
        return NULL;
    cmd->self = self;
    cmd->kind = kind;
    cmd->fn = fn;
    cmd->arg = arg;
    cmd->deadline = loop_now_ms() + self->opts.command_timeout_ms;
    return cmd;
}

/* Hand a command to hiredis; it owns the callback from here on. */
static int redis_send_argv(redis_t *self, cmd_kind_t kind, redis_reply_fn *fn, void *arg, int argc,
                           const char **argv, const size_t *argvlen)
{
    redis_cmd_t *cmd = redis_cmd_new(self, kind, fn, arg);
    if (!cmd)
        return -1;
    if (redisAsyncCommandArgv(self->ac, redis_on_reply, cmd, argc, argv, argvlen) != REDIS_OK) {
        free(cmd);
        return -1;
    }
    redis_list_append(self, cmd);
    redis_arm_timeout(self);
    return 0;
}

static int redis_on_timeout(loop_t *loop, int timer_id, void *arg)
{
    redis_t *self = arg;
    self->timeout_timer = 0;
    redis_enter(self);
    redis_cmd_t *head = self->head;
    uint64_t now = loop_now_ms();
    if (head && now >= head->deadline && self->ac) {
        /* Detach first: the timed-out command's callback may send again,
         * and must not land on the connection we are about to drop. */
        bool user = head->kind == CMD_USER;
        const char *why = user                         ? "dropped after a command timed out"
                          : self->state == REDIS_READY ? "PING timed out"
                                                       : "timeout during the handshake";
        redisAsyncContext *ac = redis_detach(self, why);
        if (user) {
            head->delivered = true;
            self->stats.timeouts++;
            self->stats.command_failures++;
            head->fn(self, NULL, "timeout", head->arg);
        } else {
            log_debug("redis internal command timed out", "redis=%s", self->opts.name);
        }
        redisAsyncFree(ac); /* calls back the rest; frees `head` too */
    } else {
        redis_arm_timeout(self);
    }
    redis_leave(self);
    return 0;
}

/* ---- connecting ----------------------------------------------------------- */

static void redis_on_connect(const redisAsyncContext *cac, int status)
{
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    redis_t *self = ac->data;
    if (!self || self->ac != ac)
        return;
    if (status != REDIS_OK) {
        /* hiredis frees the context when we return. */
        redis_detach(self, ac->c.errstr[0] ? ac->c.errstr : "connect failed");
        return;
    }
    self->state = REDIS_HANDSHAKE;
    int rc = 0;
    if (self->opts.password) {
        const char *argv[] = {"AUTH", self->opts.password};
        rc |= redis_send_argv(self, CMD_HANDSHAKE, NULL, NULL, 2, argv, NULL);
    }
    if (self->opts.db > 0) {
        char db[16];
        snprintf(db, sizeof db, "%d", self->opts.db);
        const char *argv[] = {"SELECT", db};
        rc |= redis_send_argv(self, CMD_HANDSHAKE, NULL, NULL, 2, argv, NULL);
    }
    const char *setname[] = {"CLIENT", "SETNAME", self->opts.name};
    rc |= redis_send_argv(self, CMD_HANDSHAKE, NULL, NULL, 3, setname, NULL);
    const char *ping[] = {"PING"};
    rc |= redis_send_argv(self, CMD_HELLO, NULL, NULL, 1, ping, NULL);
    if (rc != 0)
        redis_drop_later(self, "cannot send the handshake");
}

static int redis_on_connect_timeout(loop_t *loop, int timer_id, void *arg)
{
    redis_t *self = arg;
    self->connect_timer = 0;
    redis_enter(self);
    if (self->ac && self->state == REDIS_CONNECTING)
        redis_drop(self, "timeout while connecting");
    redis_leave(self);
    return 0;
}

static void redis_start_connect(redis_t *self)
{
    redisAsyncContext *ac = redisAsyncConnect(self->host, self->port);
    self->state = REDIS_CONNECTING;
    if (!ac) {
        redis_detach(self, "out of memory");
        return;
    }
    if (ac->err) {
        char why[sizeof self->why];
        snprintf(why, sizeof why, "%s", ac->c.errstr);
        redisAsyncFree(ac); /* nothing attached yet */
        redis_detach(self, why);
        return;
    }
    self->ac = ac;
    self->fd = ac->c.fd;
    self->events = 0;
    ac->data = self;
    ac->ev.data = self;
    ac->ev.addRead = redis_ev_add_read;
    ac->ev.delRead = redis_ev_del_read;
    ac->ev.addWrite = redis_ev_add_write;
    ac->ev.delWrite = redis_ev_del_write;
    ac->ev.cleanup = redis_ev_cleanup;
    /* After the hooks: setting the connect callback asks for writability,
     * which is how a non-blocking connect reports completion. */
    redisAsyncSetConnectCallback(ac, redis_on_connect);
    redisAsyncSetDisconnectCallback(ac, redis_on_disconnect);
    /* TCP only: the handshake's commands have their own timeouts. */
    int id = loop_add_timer(self->loop, self->opts.connect_timeout_ms, 1, redis_on_connect_timeout,
                            self);
    self->connect_timer = id > 0 ? id : 0;
}

static int redis_on_retry(loop_t *loop, int timer_id, void *arg)
{
    redis_t *self = arg;
    self->retry_timer = 0;
    redis_enter(self);
    if (self->state == REDIS_WAITING)
        redis_start_connect(self);
    redis_leave(self);
    return 0;
}

/* Every ping_interval: PING an idle connection, and retry if a retry
 * timer could not be added. */
static int redis_on_tick(loop_t *loop, int timer_id, void *arg)
{
    redis_t *self = arg;
    redis_enter(self);
    uint64_t now = loop_now_ms();
    if (self->state == REDIS_WAITING && self->retry_timer == 0) {
        redis_start_connect(self);
    } else if (self->state == REDIS_READY && !self->head &&
               now - self->last_activity >= self->opts.ping_interval_ms) {
        const char *ping[] = {"PING"};
        if (redis_send_argv(self, CMD_PING, NULL, NULL, 1, ping, NULL) == 0)
            self->stats.pings++;
    }
    redis_leave(self);
    return 0;
}

/* ---- public API ----------------------------------------------------------- */

redis_t *redis_new(loop_t *loop, const char *host, int port, const redis_options_t *opts)
{
    if (!loop || !host || port <= 0 || port > 65535)
        return NULL;
    redis_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->loop = loop;
    self->port = port;
    self->fd = -1;
    self->state = REDIS_WAITING;
    self->opts = redis_defaults;
    if (opts) {
        if (opts->connect_timeout_ms)
            self->opts.connect_timeout_ms = opts->connect_timeout_ms;
        if (opts->command_timeout_ms)
            self->opts.command_timeout_ms = opts->command_timeout_ms;
        if (opts->ping_interval_ms)
            self->opts.ping_interval_ms = opts->ping_interval_ms;
        if (opts->backoff_min_ms)
            self->opts.backoff_min_ms = opts->backoff_min_ms;
        if (opts->backoff_max_ms)
            self->opts.backoff_max_ms = opts->backoff_max_ms;
        if (self->opts.backoff_max_ms < self->opts.backoff_min_ms)
            self->opts.backoff_max_ms = self->opts.backoff_min_ms;
        self->opts.db = opts->db;
    }
    self->opts.password = NULL;
    self->opts.name = NULL;
    self->host = strdup(host);
    if (opts && opts->password && *opts->password)
        self->opts.password = strdup(opts->password);
    self->opts.name = strdup(opts && opts->name && *opts->name ? opts->name : "redis");
    if (!self->host || !self->opts.name ||
        (opts && opts->password && *opts->password && !self->opts.password))
        goto fail;
    self->rng = (loop_now_ms() << 20) ^ (uint64_t)getpid() ^ (uint64_t)(uintptr_t)self;
    if (!self->rng)
        self->rng = 0x9E3779B97F4A7C15ULL;
    uint32_t tick = self->opts.ping_interval_ms < 250 ? self->opts.ping_interval_ms : 250;
    self->tick_timer = loop_add_timer(loop, tick, 0, redis_on_tick, self);
    if (self->tick_timer <= 0)
        goto fail;
    redis_start_connect(self);
    return self;
fail:
    free(self->host);
    free((char *)self->opts.password);
    free((char *)self->opts.name);
    free(self);
    return NULL;
}

static void redis_really_destroy(redis_t *self)
{
    self->state = REDIS_CLOSED;
    self->ready = false;
    self->depth++; /* callbacks below may call redis_destroy: ignored */
    redis_cancel(self, &self->tick_timer);
    redis_cancel(self, &self->retry_timer);
    redis_cancel(self, &self->timeout_timer);
    redis_cancel(self, &self->connect_timer);
    redis_cancel(self, &self->drop_timer);
    redisAsyncContext *ac = redis_detach(self, "connection closed");
    if (ac)
        redisAsyncFree(ac);
    free(self->host);
    if (self->opts.password) {
        explicit_bzero((char *)self->opts.password, strlen(self->opts.password));
        free((char *)self->opts.password);
    }
    free((char *)self->opts.name);
    free(self);
}

void redis_destroy(redis_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    redis_t *self = *self_p;
    *self_p = NULL;
    if (self->state == REDIS_CLOSED || self->destroy_pending)
        return;
    if (self->depth > 0) {
        self->destroy_pending = true;
        return;
    }
    redis_really_destroy(self);
}

bool redis_ready(redis_t *self)
{
    return self && self->ready && !self->destroy_pending && self->drop_timer == 0;
}

/* Their replies do not pair with commands: refused (see redis.h). */
static bool redis_is_subscription(const char *name, size_t len)
{
    static const char *const names[] = {"SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "MONITOR"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (len == strlen(names[i]) && strncasecmp(name, names[i], len) == 0)
            return true;
    return false;
}

int redis_command_argv(redis_t *self, redis_reply_fn *fn, void *arg, int argc, const char **argv,
                       const size_t *argvlen)
{
    if (!self || !fn || argc <= 0 || !argv || !argv[0] || !redis_ready(self))
        return -1;
    if (redis_is_subscription(argv[0], argvlen ? argvlen[0] : strlen(argv[0])))
        return -1;
    if (redis_send_argv(self, CMD_USER, fn, arg, argc, argv, argvlen) != 0)
        return -1;
    self->stats.commands++;
    return 0;
}

int redis_command(redis_t *self, redis_reply_fn *fn, void *arg, const char *fmt, ...)
{
    if (!self || !fn || !fmt || !redis_ready(self))
        return -1;
    size_t skip = strspn(fmt, " ");
    if (redis_is_subscription(fmt + skip, strcspn(fmt + skip, " ")))
        return -1;
    redis_cmd_t *cmd = redis_cmd_new(self, CMD_USER, fn, arg);
    if (!cmd)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    int rc = redisvAsyncCommand(self->ac, redis_on_reply, cmd, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK) {
        free(cmd);
        return -1;
    }
    redis_list_append(self, cmd);
    redis_arm_timeout(self);
    self->stats.commands++;
    return 0;
}

void redis_set_state_fn(redis_t *self, redis_state_fn *fn, void *arg)
{
    if (!self)
        return;
    self->state_fn = fn;
    self->state_arg = arg;
}

void redis_stats(redis_t *self, redis_stats_t *stats)
{
    if (!self || !stats)
        return;
    *stats = self->stats;
    size_t n = 0;
    for (redis_cmd_t *c = self->head; c; c = c->next)
        n += c->kind == CMD_USER;
    stats->in_flight = (uint32_t)n;
    stats->ready = redis_ready(self);
}

const char *redis_name(redis_t *self)
{
    return self ? self->opts.name : NULL;
}
