/* deadline_timer — the timer thread: Redis index, claim, fire, sweep.
 *
 * ARCHITECTURE.md §3. PostgreSQL holds the truth (deadline.next_fire_at);
 * Redis holds an index of the near horizon:
 *
 *   <prefix>timers    sorted set, member = deadline id, score = fire time (µs)
 *   <prefix>inflight  sorted set of ids claimed and not yet acknowledged,
 *                     score = claim time
 *   <prefix>gen       the index's generation: written after a rebuild, so
 *                     its absence means "this Redis lost or never had the
 *                     index" (a flush, a restart without persistence)
 *
 * One round of the thread:
 *   1. claim: a Lua script moves up to `batch` ids with score <= now from
 *      timers to inflight, atomically (or answers NOGEN: rebuild first);
 *   2. fire: one PostgreSQL transaction advances each claimed row only if
 *      it is still at the step read (deadline_fire), and writes its events;
 *   3. acknowledge: ZREM the ids from inflight, ZADD the next stage of each.
 * A crash between 1 and 3 leaves the ids in inflight: they are fired again
 * at start and by every sweep (older than a few seconds); the conditional
 * advance makes the second attempt a no-op when the first committed.
 *
 * The sweep, every sweep_interval, fires overdue rows from PostgreSQL
 * alone, so a lost Redis (flush, restart, outage) delays a stage by at most
 * the sweep interval and never loses it; it also refills the horizon.
 *
 * Why in-flight is a sorted set and not a list: acknowledging a batch is one
 * ZREM of its ids (O(M log N)) where LREM would scan the list once per id,
 * and the claim time as score lets the sweep find stale claims.
 *
 * Why "now" is passed to the script and not taken from Redis TIME: in test
 * mode the whole stack runs on the shifted clock of clock.h; the daemon's
 * clock is the one clock every comparison uses (the database's too).
 *
 * Why a thread with blocking hiredis and libpq, not the loop's async
 * clients: a round is a chain whose every step depends on the previous
 * one's answer (claimed ids → the transaction → the acknowledgement). On
 * the loop it would be a state machine over two connections for no gain;
 * here it is straight-line code with its own connections (STYLE.md 4: a
 * worker with its own connection, talking to the loop through nothing but
 * the sequencer's thread-safe notify and the metrics' atomics). By default
 * two threads (the primary and one worker) each fire up to 2,000 stages per
 * transaction: while one waits on PostgreSQL the other builds its events.
 * They claim disjoint ids from the same index, and the conditional advance
 * fences them as it fences everything else. A second daemon instance would
 * need the shard leases of §7.
 */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/bus.h"
#include "common/log.h"
#include "common/pg.h"
#include "deadline/deadline.h"

struct deadline_timer_thread {
    deadline_ctx_t *ctx;
    deadline_timer_config_t cfg;
    char *conninfo, *host, *password, *prefix;
    char k_timers[256], k_inflight[256], k_gen[256];
    pthread_t thread;
    atomic_bool stop;
    atomic_bool busy;
    PGconn *pg;
    redisContext *redis;
    /* the index holds every timer up to here (the primary's; workers read it) */
    _Atomic int64_t loaded_until_us;
    /* The sweep leaves to Redis what is less overdue than this: one sweep
     * interval while Redis answers (only timers missing from the index are
     * its business then), 0 without Redis. */
    int64_t sweep_grace_us;
    bool sweep_more;                  /* the last sweep batch was full: go on next round */
    deadline_timer_thread_t *primary; /* NULL for the primary itself */
    deadline_timer_thread_t **workers;
    size_t nworkers;
    pthread_t gauge_thread;
    bool gauge_started;
    int64_t next_redis_try_ms;
    int64_t next_sweep_ms;
    int64_t next_gauges_ms;
    bool started;
};

static const char s_claim_lua[] =
    "if redis.call('EXISTS', KEYS[3]) == 0 then return redis.error_reply('NOGEN') end\n"
    "local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])\n"
    "if #ids == 0 then return ids end\n"
    "local args = {}\n"
    "for i, id in ipairs(ids) do args[2 * i - 1] = ARGV[1]; args[2 * i] = id end\n"
    "redis.call('ZADD', KEYS[2], unpack(args))\n"
    "redis.call('ZREM', KEYS[1], unpack(ids))\n"
    "return ids\n";

static int64_t s_mono_ms(void)
{
    return clock_mono_us() / 1000;
}

static void s_sleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* ---- connections ----------------------------------------------------------------- */

static bool s_pg(deadline_timer_thread_t *self)
{
    if (self->pg && PQstatus(self->pg) == CONNECTION_OK)
        return true;
    if (self->pg) {
        PQfinish(self->pg);
        self->pg = NULL;
    }
    char *err = NULL;
    self->pg = pg_connect_blocking(self->conninfo, &err);
    if (!self->pg) {
        log_warn("deadline: timer database connection failed", "error=%s", err);
        free(err);
        return false;
    }
    return true;
}

static void s_redis_drop(deadline_timer_thread_t *self, const char *why)
{
    if (self->redis) {
        log_warn("deadline: redis lost, the sweep fires alone", "error=%s", why);
        redisFree(self->redis);
        self->redis = NULL;
        metrics_set(self->ctx->m_redis_up, 0);
    }
    self->next_redis_try_ms = s_mono_ms() + 1000;
}

static bool s_redis(deadline_timer_thread_t *self)
{
    if (self->redis)
        return true;
    if (s_mono_ms() < self->next_redis_try_ms)
        return false;
    struct timeval tv = {0, 300000};
    redisContext *c = redisConnectWithTimeout(self->host, self->cfg.redis_port, tv);
    if (!c || c->err) {
        if (c)
            redisFree(c);
        self->next_redis_try_ms = s_mono_ms() + 1000;
        return false;
    }
    struct timeval cmd = {5, 0};
    redisSetTimeout(c, cmd);
    if (self->password && *self->password) {
        redisReply *r = redisCommand(c, "AUTH %s", self->password);
        bool ok = r && r->type != REDIS_REPLY_ERROR;
        if (r)
            freeReplyObject(r);
        if (!ok) {
            redisFree(c);
            self->next_redis_try_ms = s_mono_ms() + 5000;
            log_error("deadline: redis refused the password", NULL);
            return false;
        }
    }
    self->redis = c;
    metrics_set(self->ctx->m_redis_up, 1);
    log_info("deadline: redis connected", "host=%s port=%d", self->host, self->cfg.redis_port);
    return true;
}

/* Run a pipelined set of commands (argv form); replies checked for errors.
 * 0, or -1 with the connection dropped. */
static int s_redis_pipeline(deadline_timer_thread_t *self, int ncmd, int *argc, const char ***argv,
                            size_t **argvlen)
{
    for (int i = 0; i < ncmd; i++)
        if (redisAppendCommandArgv(self->redis, argc[i], argv[i], argvlen[i]) != REDIS_OK) {
            s_redis_drop(self, self->redis->errstr);
            return -1;
        }
    int rc = 0;
    for (int i = 0; i < ncmd; i++) {
        redisReply *r = NULL;
        if (redisGetReply(self->redis, (void **)&r) != REDIS_OK) {
            s_redis_drop(self, self->redis->errstr);
            return -1;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            log_warn("deadline: redis error", "error=%s", r->str);
            rc = -1;
        }
        freeReplyObject(r);
    }
    return rc;
}

/* ZADD key (score id)... or ZREM key id..., in chunks of 1000 members. */
static int s_redis_members(deadline_timer_thread_t *self, const char *cmd, const char *key,
                           const deadline_timer_t *t, const char *const *ids, size_t n)
{
    if (n == 0)
        return 0;
    const size_t chunk = 1000;
    bool zadd = strcmp(cmd, "ZADD") == 0;
    size_t per = zadd ? 2 : 1;
    const char **argv = malloc((2 + chunk * per) * sizeof *argv);
    size_t *lens = malloc((2 + chunk * per) * sizeof *lens);
    char(*scores)[24] = zadd ? malloc(chunk * sizeof *scores) : NULL;
    if (!argv || !lens || (zadd && !scores)) {
        free(argv);
        free(lens);
        free(scores);
        return -1;
    }
    int rc = 0;
    for (size_t off = 0; off < n && rc == 0; off += chunk) {
        size_t m = n - off < chunk ? n - off : chunk;
        int argc = 0;
        argv[argc] = cmd;
        lens[argc++] = strlen(cmd);
        argv[argc] = key;
        lens[argc++] = strlen(key);
        for (size_t i = 0; i < m; i++) {
            const char *id = t ? t[off + i].id : ids[off + i];
            if (zadd) {
                snprintf(scores[i], sizeof scores[i], "%lld", (long long)t[off + i].at_us);
                argv[argc] = scores[i];
                lens[argc++] = strlen(scores[i]);
            }
            argv[argc] = id;
            lens[argc++] = strlen(id);
        }
        const char **pv = argv;
        size_t *pl = lens;
        rc = s_redis_pipeline(self, 1, &argc, &pv, &pl);
    }
    free(argv);
    free(lens);
    free(scores);
    return rc;
}

/* ---- rebuilding the index ---------------------------------------------------------- */

/* Load every timer up to now + horizon from PostgreSQL into a fresh index,
 * then write the generation. Timers that move meanwhile are corrected by
 * the claim (a stale score fires nothing and re-adds the real time) and
 * by the sweep. */
static int s_rebuild(deadline_timer_thread_t *self, int64_t now_us)
{
    int64_t t0 = clock_mono_us();
    int64_t until = now_us + self->cfg.horizon_ms * 1000;
    const char *del[3] = {"DEL", self->k_timers, self->k_gen};
    size_t dl[3] = {3, strlen(self->k_timers), strlen(self->k_gen)};
    int dargc = 3;
    const char **dv = del;
    size_t *dlp = dl;
    if (s_redis_pipeline(self, 1, &dargc, &dv, &dlp) != 0)
        return -1;
    char *err = NULL;
    if (pg_exec_ok(self->pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, &err) != 0)
        goto fail;
    char until_s[24];
    snprintf(until_s, sizeof until_s, "%lld", (long long)until);
    const char *p[1] = {until_s};
    if (pg_exec_ok(self->pg,
                   "DECLARE timers NO SCROLL CURSOR FOR SELECT id, next_fire_at FROM deadline "
                   "WHERE next_fire_at IS NOT NULL AND next_fire_at <= $1::bigint",
                   1, p, &err) != 0)
        goto fail;
    size_t total = 0;
    deadline_timer_t *buf = malloc(20000 * sizeof *buf);
    if (!buf)
        goto fail;
    for (;;) {
        PGresult *r = pg_exec_blocking(self->pg, "FETCH 20000 FROM timers", 0, NULL, &err);
        if (!r) {
            free(buf);
            goto fail;
        }
        int n = PQntuples(r);
        for (int i = 0; i < n; i++) {
            snprintf(buf[i].id, sizeof buf[i].id, "%s", PQgetvalue(r, i, 0));
            buf[i].at_us = atoll(PQgetvalue(r, i, 1));
        }
        PQclear(r);
        if (n == 0)
            break;
        /* Pipelined in 1000-member ZADDs. */
        int rc = 0;
        for (int off = 0; off < n && rc == 0; off += 1000) {
            size_t m = (size_t)(n - off) < 1000 ? (size_t)(n - off) : 1000;
            rc = s_redis_members(self, "ZADD", self->k_timers, buf + off, NULL, m);
        }
        if (rc != 0) {
            free(buf);
            pg_exec_ok(self->pg, "ROLLBACK", 0, NULL, &err);
            free(err);
            return -1;
        }
        total += (size_t)n;
    }
    free(buf);
    pg_exec_ok(self->pg, "COMMIT", 0, NULL, &err);
    free(err);
    err = NULL;
    char gen[37];
    bus_uuid4(gen);
    const char *set[3] = {"SET", self->k_gen, gen};
    size_t sl[3] = {3, strlen(self->k_gen), strlen(gen)};
    int sargc = 3;
    const char **sv = set;
    size_t *slp = sl;
    if (s_redis_pipeline(self, 1, &sargc, &sv, &slp) != 0)
        return -1;
    atomic_store(&self->loaded_until_us, until);
    double secs = (double)(clock_mono_us() - t0) / 1e6;
    metrics_inc(self->ctx->m_rebuilds);
    metrics_set(self->ctx->m_rebuild_seconds, secs);
    log_info("deadline: redis index rebuilt from PostgreSQL", "timers=%zu seconds=%.3f rate=%.0f/s",
             total, secs, secs > 0 ? (double)total / secs : 0.0);
    return 0;
fail:
    log_warn("deadline: rebuild failed", "error=%s", err ? err : "out of memory");
    free(err);
    err = NULL;
    pg_exec_ok(self->pg, "ROLLBACK", 0, NULL, &err);
    free(err);
    return -1;
}

/* Extend the index to now + horizon with the timers not loaded yet. */
static int s_refill(deadline_timer_thread_t *self, int64_t now_us)
{
    int64_t until = now_us + self->cfg.horizon_ms * 1000;
    if (until <= atomic_load(&self->loaded_until_us))
        return 0;
    char from_s[24], until_s[24];
    snprintf(from_s, sizeof from_s, "%lld", (long long)atomic_load(&self->loaded_until_us));
    snprintf(until_s, sizeof until_s, "%lld", (long long)until);
    const char *p[2] = {from_s, until_s};
    char *err = NULL;
    PGresult *r = pg_exec_blocking(self->pg,
                                   "SELECT id, next_fire_at FROM deadline WHERE next_fire_at > "
                                   "$1::bigint AND next_fire_at <= $2::bigint",
                                   2, p, &err);
    if (!r) {
        free(err);
        return -1;
    }
    int n = PQntuples(r);
    deadline_timer_t *t = malloc(((size_t)n + 1) * sizeof *t);
    int rc = -1;
    if (t) {
        for (int i = 0; i < n; i++) {
            snprintf(t[i].id, sizeof t[i].id, "%s", PQgetvalue(r, i, 0));
            t[i].at_us = atoll(PQgetvalue(r, i, 1));
        }
        rc = s_redis_members(self, "ZADD", self->k_timers, t, NULL, (size_t)n);
        free(t);
    }
    PQclear(r);
    if (rc == 0)
        atomic_store(&self->loaded_until_us, until);
    return rc;
}

/* Add timers that fall inside the loaded horizon (the rest come with a
 * refill). */
static void s_add_timers(deadline_timer_thread_t *self, deadline_timer_t *t, size_t n)
{
    deadline_timer_thread_t *p = self->primary ? self->primary : self;
    int64_t until = atomic_load(&p->loaded_until_us);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (t[i].at_us <= until)
            t[k++] = t[i];
    if (k && self->redis)
        s_redis_members(self, "ZADD", self->k_timers, t, NULL, k);
}

/* ---- firing ------------------------------------------------------------------------- */

/* One transaction: fire ids (or sweep up to batch). Returns stages fired, -1. */
static long s_fire_tx(deadline_timer_thread_t *self, const char *const *ids, size_t n,
                      const char *by)
{
    if (!s_pg(self))
        return -1;
    char *err = NULL;
    deadline_timer_t *later = NULL;
    size_t nlater = 0, fired = 0;
    int64_t now_us = clock_now_us(self->ctx->clock);
    if (pg_exec_ok(self->pg, "BEGIN", 0, NULL, &err) != 0 ||
        deadline_fire(self->pg, self->ctx, ids, n, self->cfg.batch, now_us, self->sweep_grace_us,
                      by, &fired, &later, &nlater, &err) != 0 ||
        pg_exec_ok(self->pg, "COMMIT", 0, NULL, &err) != 0) {
        log_warn("deadline: firing failed, retried", "by=%s error=%s", by, err ? err : "");
        free(err);
        err = NULL;
        if (PQstatus(self->pg) == CONNECTION_OK)
            pg_exec_ok(self->pg, "ROLLBACK", 0, NULL, &err);
        free(err);
        free(later);
        return -1;
    }
    if (fired && self->ctx->sequencer)
        bus_sequencer_notify(self->ctx->sequencer);
    s_add_timers(self, later, nlater);
    free(later);
    return (long)fired;
}

/* Claim due ids from Redis and fire them. Returns ids claimed, -1. */
static long s_claim_round(deadline_timer_thread_t *self)
{
    int64_t now_us = clock_now_us(self->ctx->clock);
    char now_s[24], batch_s[24];
    snprintf(now_s, sizeof now_s, "%lld", (long long)now_us);
    snprintf(batch_s, sizeof batch_s, "%zu", self->cfg.batch);
    const char *argv[8] = {"EVAL",           s_claim_lua, "3",   self->k_timers,
                           self->k_inflight, self->k_gen, now_s, batch_s};
    redisReply *r = redisCommandArgv(self->redis, 8, argv, NULL);
    if (!r) {
        s_redis_drop(self, self->redis->errstr);
        return -1;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        bool nogen = strstr(r->str, "NOGEN") != NULL;
        if (!nogen)
            log_warn("deadline: claim failed", "error=%s", r->str);
        freeReplyObject(r);
        if (nogen && self->primary) {
            /* The primary rebuilds; a worker waits for the generation. */
            s_sleep_ms(100);
        } else if (nogen) {
            log_info("deadline: redis index missing, rebuilding", NULL);
            if (s_rebuild(self, now_us) != 0)
                s_redis_drop(self, "rebuild failed");
        }
        return -1;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
        freeReplyObject(r);
        return 0;
    }
    size_t n = r->elements;
    const char **ids = malloc(n * sizeof *ids);
    if (!ids) {
        freeReplyObject(r);
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING && bus_uuid_valid(r->element[i]->str))
            ids[k++] = r->element[i]->str;
    long fired = s_fire_tx(self, ids, k, "redis");
    /* Acknowledge only after the commit: a failed transaction leaves the
     * ids in flight, for the next sweep to retry. */
    if (fired >= 0 && self->redis) {
        const char **all = malloc(n * sizeof *all);
        if (all) {
            for (size_t i = 0; i < n; i++)
                all[i] = r->element[i]->str;
            s_redis_members(self, "ZREM", self->k_inflight, NULL, all, n);
            free(all);
        }
    }
    free(ids);
    freeReplyObject(r);
    return (long)n;
}

/* Claims older than a few seconds whose firer died or failed. */
static void s_retry_inflight(deadline_timer_thread_t *self, int64_t older_than_us)
{
    char max_s[24], batch_s[24];
    snprintf(max_s, sizeof max_s, "%lld", (long long)older_than_us);
    snprintf(batch_s, sizeof batch_s, "%zu", self->cfg.batch);
    const char *argv[7] = {"ZRANGEBYSCORE", self->k_inflight, "-inf", max_s, "LIMIT", "0", batch_s};
    redisReply *r = redisCommandArgv(self->redis, 7, argv, NULL);
    if (!r) {
        s_redis_drop(self, self->redis->errstr);
        return;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
        size_t n = r->elements;
        const char **ids = malloc(n * sizeof *ids);
        if (ids) {
            size_t k = 0;
            for (size_t i = 0; i < n; i++)
                if (r->element[i]->type == REDIS_REPLY_STRING && bus_uuid_valid(r->element[i]->str))
                    ids[k++] = r->element[i]->str;
            log_info("deadline: retrying claims left in flight", "count=%zu", n);
            if (s_fire_tx(self, ids, k, "inflight") >= 0 && self->redis) {
                for (size_t i = 0; i < n; i++)
                    ids[i] = r->element[i]->str;
                s_redis_members(self, "ZREM", self->k_inflight, NULL, ids, n);
            }
            free(ids);
        }
    }
    freeReplyObject(r);
}

/* The counts behind the pending / due soon / overdue gauges scan the open
 * deadlines, which at a million rows takes long enough to hold up timers:
 * they run on a thread and connection of their own, every 30 s. */
static void *s_run_gauges(void *arg)
{
    deadline_timer_thread_t *self = arg;
    PGconn *conn = NULL;
    int64_t next_ms = 0;
    while (!atomic_load(&self->stop)) {
        if (s_mono_ms() < next_ms) {
            s_sleep_ms(100);
            continue;
        }
        next_ms = s_mono_ms() + 30000;
        char *err = NULL;
        if (!conn || PQstatus(conn) != CONNECTION_OK) {
            if (conn)
                PQfinish(conn);
            conn = pg_connect_blocking(self->conninfo, &err);
            free(err);
            err = NULL;
            if (!conn) {
                next_ms = s_mono_ms() + 1000;
                continue;
            }
        }
        int64_t now_us = clock_now_us(self->ctx->clock);
        char now_s[24], soon_s[24];
        snprintf(now_s, sizeof now_s, "%lld", (long long)now_us);
        snprintf(soon_s, sizeof soon_s, "%lld", (long long)(now_us + self->ctx->due_soon_us));
        const char *p[2] = {now_s, soon_s};
        PGresult *r = pg_exec_blocking(
            conn,
            "SELECT count(*) FILTER (WHERE stage IN ('pending', 'reminded')), "
            "  count(*) FILTER (WHERE stage IN ('pending', 'reminded') AND due_at_us > $1::bigint "
            "                   AND due_at_us <= $2::bigint), "
            "  count(*) FILTER (WHERE stage IN ('due', 'urged', 'escalated') OR "
            "                   (stage IN ('pending', 'reminded') AND due_at_us <= $1::bigint)) "
            "FROM deadline WHERE stage NOT IN ('met', 'cancelled')",
            2, p, &err);
        if (r) {
            metrics_set(self->ctx->m_pending, atof(PQgetvalue(r, 0, 0)));
            metrics_set(self->ctx->m_due_soon, atof(PQgetvalue(r, 0, 1)));
            metrics_set(self->ctx->m_overdue, atof(PQgetvalue(r, 0, 2)));
            PQclear(r);
        }
        free(err);
    }
    if (conn)
        PQfinish(conn);
    return NULL;
}

/* Timers in the Redis index. */
static void s_gauges(deadline_timer_thread_t *self)
{
    if (!self->redis)
        return;
    redisReply *z = redisCommand(self->redis, "ZCARD %s", self->k_timers);
    if (!z) {
        s_redis_drop(self, self->redis->errstr);
        return;
    }
    if (z->type == REDIS_REPLY_INTEGER)
        metrics_set(self->ctx->m_redis_timers, (double)z->integer);
    freeReplyObject(z);
}

static void s_reload_calendar(deadline_timer_thread_t *self)
{
    deadline_ctx_t *ctx = self->ctx;
    char err[512];
    domain_calendar_t *cal = deadline_calendar_load(ctx->calendar_file, err, sizeof err);
    if (!cal) {
        log_error("deadline: calendar not reloaded, the running one is kept", "error=%s", err);
        return;
    }
    char *e = NULL;
    int64_t now_us = clock_now_us(ctx->clock);
    int changed = -1;
    if (pg_exec_ok(self->pg, "BEGIN", 0, NULL, &e) == 0) {
        changed = deadline_recompute(self->pg, ctx, cal, now_us, &e);
        if (changed >= 0 && pg_exec_ok(self->pg, "COMMIT", 0, NULL, &e) != 0)
            changed = -1;
    }
    if (changed < 0) {
        log_error("deadline: recompute failed, the running calendar is kept", "error=%s",
                  e ? e : "");
        free(e);
        e = NULL;
        pg_exec_ok(self->pg, "ROLLBACK", 0, NULL, &e);
        free(e);
        /* Courts' calendars derived from the refused one go with it (only
         * this thread swaps ctx->calendar, so it reads it unlocked). */
        deadline_court_calendar_changed(ctx, ctx->calendar);
        domain_calendar_destroy(&cal);
        return;
    }
    pthread_rwlock_wrlock(&ctx->lock);
    domain_calendar_t *old = ctx->calendar;
    ctx->calendar = cal;
    deadline_court_calendar_changed(ctx, cal);
    pthread_rwlock_unlock(&ctx->lock);
    domain_calendar_destroy(&old);
    if (changed && ctx->sequencer)
        bus_sequencer_notify(ctx->sequencer);
    log_info("deadline: calendar loaded", "version=%s recomputed=%d", domain_calendar_version(cal),
             changed);
}

/* A thread's own connections, closed as it ends. */
static void s_disconnect(deadline_timer_thread_t *self)
{
    if (self->redis)
        redisFree(self->redis);
    self->redis = NULL;
    if (self->pg)
        PQfinish(self->pg);
    self->pg = NULL;
}

/* A worker: claims and fires only; the primary does everything else. Two
 * workers keep PostgreSQL busy on both cores of a small machine while the
 * other builds its next batch (make bench-deadline). */
static void *s_run_worker(void *arg)
{
    deadline_timer_thread_t *self = arg;
    while (!atomic_load(&self->stop)) {
        long claimed = 0;
        if (s_pg(self) && s_redis(self)) {
            atomic_store(&self->busy, true);
            claimed = s_claim_round(self);
            atomic_store(&self->busy, false);
        } else {
            s_sleep_ms(200);
        }
        if (claimed < (long)self->cfg.batch)
            s_sleep_ms(self->cfg.poll_ms);
    }
    s_disconnect(self);
    return NULL;
}

static void *s_run(void *arg)
{
    deadline_timer_thread_t *self = arg;
    deadline_ctx_t *ctx = self->ctx;
    bool inflight_checked = false;
    while (!atomic_load(&self->stop)) {
        if (!s_pg(self)) {
            s_sleep_ms(500);
            continue;
        }
        atomic_store(&self->busy, true);
        int64_t now_us = clock_now_us(ctx->clock);
        /* The calendar is recomputed before the queue it fills is drained,
         * and with the new calendar swapped in only after its commit. */
        if (atomic_exchange(&ctx->reload_calendar, false)) {
            /* recompute uses the current calendar under the read lock: a
             * new one is loaded and compared here */
            s_reload_calendar(self);
        }
        long claimed = 0;
        if (s_redis(self)) {
            deadline_timer_t *q = NULL;
            size_t nq = deadline_take_timers(ctx, &q);
            if (nq)
                s_add_timers(self, q, nq);
            free(q);
            if (self->redis && !inflight_checked) {
                /* Claims a killed process left behind are fired first. */
                s_retry_inflight(self, INT64_MAX);
                inflight_checked = self->redis != NULL;
            }
            if (self->redis)
                claimed = s_claim_round(self);
        } else {
            /* Without Redis the queue is dropped: the sweep has them all. */
            deadline_timer_t *q = NULL;
            deadline_take_timers(ctx, &q);
            free(q);
        }
        int64_t mono = s_mono_ms();
        if (mono >= self->next_sweep_ms) {
            self->next_sweep_ms = mono + self->cfg.sweep_interval_ms;
            self->sweep_grace_us = self->redis ? self->cfg.sweep_interval_ms * 1000 : 0;
            self->sweep_more = true;
            if (self->redis) {
                s_retry_inflight(self, now_us - 5000000);
                if (self->redis && s_refill(self, now_us) != 0)
                    log_warn("deadline: horizon refill failed", NULL);
            }
        }
        /* One sweep batch per round, between Redis claims, until no row is
         * overdue past the grace: a long backlog must not keep the thread
         * in the sweep while new timers fall due. While Redis hands out full
         * batches it is working through that backlog in order, and sweeping
         * the same rows would only make the two wait on each other's locks. */
        long swept = 0;
        if (self->sweep_more && !(self->redis && claimed >= (long)self->cfg.batch)) {
            swept = s_fire_tx(self, NULL, 0, "sweep");
            self->sweep_more = swept >= (long)self->cfg.batch;
        }
        if (mono >= self->next_gauges_ms) {
            self->next_gauges_ms = mono + 5000;
            s_gauges(self);
        }
        atomic_store(&self->busy, false);
        if (claimed < (long)self->cfg.batch && swept < (long)self->cfg.batch)
            s_sleep_ms(self->cfg.poll_ms);
    }
    s_disconnect(self);
    return NULL;
}

static deadline_timer_thread_t *s_new(deadline_ctx_t *ctx, const deadline_timer_config_t *config,
                                      deadline_timer_thread_t *primary)
{
    deadline_timer_thread_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->ctx = ctx;
    self->cfg = *config;
    self->primary = primary;
    if (self->cfg.batch == 0)
        self->cfg.batch = 1000;
    if (self->cfg.poll_ms <= 0)
        self->cfg.poll_ms = 10;
    self->conninfo = strdup(config->conninfo);
    self->host = strdup(config->redis_host);
    self->password = strdup(config->redis_password ? config->redis_password : "");
    self->prefix = strdup(config->redis_prefix);
    snprintf(self->k_timers, sizeof self->k_timers, "%stimers", config->redis_prefix);
    snprintf(self->k_inflight, sizeof self->k_inflight, "%sinflight", config->redis_prefix);
    snprintf(self->k_gen, sizeof self->k_gen, "%sgen", config->redis_prefix);
    if (!self->conninfo || !self->host || !self->password || !self->prefix ||
        pthread_create(&self->thread, NULL, primary ? s_run_worker : s_run, self) != 0) {
        free(self->conninfo);
        free(self->host);
        free(self->password);
        free(self->prefix);
        free(self);
        return NULL;
    }
    self->started = true;
    return self;
}

static void s_free(deadline_timer_thread_t *self)
{
    atomic_store(&self->stop, true);
    if (self->started)
        pthread_join(self->thread, NULL);
    free(self->conninfo);
    free(self->host);
    free(self->password);
    free(self->prefix);
    free(self);
}

deadline_timer_thread_t *deadline_timer_start(deadline_ctx_t *ctx,
                                              const deadline_timer_config_t *config)
{
    deadline_timer_thread_t *self = s_new(ctx, config, NULL);
    if (!self)
        return NULL;
    size_t extra = config->workers > 1 ? config->workers - 1 : 0;
    self->workers = calloc(extra + 1, sizeof *self->workers);
    for (size_t i = 0; self->workers && i < extra; i++) {
        self->workers[i] = s_new(ctx, config, self);
        if (!self->workers[i])
            break;
        self->nworkers++;
    }
    if (self->nworkers != extra) {
        deadline_timer_stop(&self);
        return NULL;
    }
    self->gauge_started = pthread_create(&self->gauge_thread, NULL, s_run_gauges, self) == 0;
    return self;
}

void deadline_timer_stop(deadline_timer_thread_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    deadline_timer_thread_t *self = *self_p;
    for (size_t i = 0; i < self->nworkers; i++)
        atomic_store(&self->workers[i]->stop, true);
    for (size_t i = 0; i < self->nworkers; i++)
        s_free(self->workers[i]);
    free(self->workers);
    atomic_store(&self->stop, true);
    if (self->gauge_started)
        pthread_join(self->gauge_thread, NULL);
    s_free(self);
    *self_p = NULL;
}

bool deadline_timer_idle(deadline_timer_thread_t *self)
{
    if (!self)
        return true;
    for (size_t i = 0; i < self->nworkers; i++)
        if (atomic_load(&self->workers[i]->busy))
            return false;
    return !atomic_load(&self->busy);
}
