/* deadline — the deadline daemon's parts (ARCHITECTURE.md §3).
 *
 *   deadline_store.c  the deadline rows: creating one from a rule (due date,
 *                     explanation, stage schedule), meeting and cancelling,
 *                     firing a batch of stages, recomputing after a calendar
 *                     change; each writes its events into the outbox in the
 *                     caller's transaction (blocking connection)
 *   deadline_apply.c  the consumers of the intake and routing streams
 *   deadline_timer.c  the timer thread: Redis index, claim, fire, sweep,
 *                     rebuild, calendar reload
 *   deadline_http.c   the HTTP views and the metrics
 *   deadline_court.c  each court's own rules and calendar: the regulation's
 *                     defaults and the shared calendar with the overrides
 *                     of the court's directory record, cached per court
 *
 * Threads: the loop (HTTP, metrics, signals, the bus sequencer and server),
 * two consumer threads (intake, routing) and the timer thread. They share
 * only this context: the calendar and rules behind a read-write lock, the
 * per-court cache behind its own mutex, a mutex-protected queue of new
 * timers, and atomic counters. Each thread has its own database connection.
 */
#ifndef LIAISON_DEADLINE_DEADLINE_H
#define LIAISON_DEADLINE_DEADLINE_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bus_consumer.h"
#include "common/bus_sequencer.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "domain/calendar.h"
#include "domain/rules.h"
#include "liaison/v1/directory.pb-c.h"
#include "liaison/v1/envelope.pb-c.h"

#define DEADLINE_PRODUCER "liaison-deadline"
#define DEADLINE_STREAM   "deadline"
/* Stage steps of one deadline: reminders, due, urgings, escalation. */
#define DEADLINE_MAX_STEPS (DOMAIN_RULE_MAX_REMINDERS + 2 + DOMAIN_RULE_MAX_URGINGS)

typedef struct {
    char id[37];
    int64_t at_us;
} deadline_timer_t;

typedef struct deadline_courts deadline_courts_t;

typedef struct deadline_ctx {
    liaison_clock_t *clock; /* borrowed from the daemon; thread-safe */
    bus_sequencer_t *sequencer;

    pthread_rwlock_t lock; /* guards calendar and rules */
    domain_calendar_t *calendar;
    domain_rules_t rules; /* the regulation's defaults: set at start, then only read */
    char calendar_file[1024];

    /* each court's rules and calendar (deadline_court.c; its own mutex) */
    deadline_courts_t *courts;

    /* local time of day at which date stages fire (reminders, urgings,
     * escalation), in seconds after midnight */
    int64_t notice_time_s;

    /* new or moved timers from the consumers, for the timer thread to add
     * to Redis when they fall inside its horizon */
    pthread_mutex_t qlock;
    deadline_timer_t *queue;
    size_t qlen, qcap;

    /* set from the loop (SIGHUP, HTTP) and taken by the timer thread */
    atomic_bool reload_calendar;

    /* metrics (series are thread-safe to update) */
    metrics_series_t *m_lateness; /* histogram: seconds late at firing */
    metrics_family_t *m_fired;    /* counter {stage, by} */
    metrics_family_t
        *m_unresolved;           /* counter {kind}: named recipients told via the liaison office */
    metrics_series_t *m_pending; /* gauges refreshed by the timer thread */
    metrics_series_t *m_due_soon;
    metrics_series_t *m_overdue;
    metrics_series_t *m_redis_timers;
    metrics_series_t *m_rebuilds;
    metrics_series_t *m_rebuild_seconds;
    metrics_series_t *m_recomputed;
    metrics_series_t *m_redis_up;
    int64_t due_soon_us;
} deadline_ctx_t;

/* ---- deadline_store.c ------------------------------------------------------ */

/* A change event cause, for history rows and events. */
typedef struct {
    const char *event_id; /* the consumed event ("" when none) */
    const char *correlation_id;
    const char *court;
} deadline_cause_t;

/* Opens (item, rule, round) unless it exists: computes the due date with
 * its explanation, freezes the stage schedule, inserts the row and its
 * history and publishes DeadlineCreated; queues the first timer. 1 when it
 * already existed (nothing done), 0 when created, -1 on a failure (reason). */
int deadline_open(PGconn *conn, deadline_ctx_t *ctx, const deadline_cause_t *cause,
                  const char *item_id, domain_rule_id_t rule, int round, domain_date_t trigger,
                  const char *department_id, char *reason, size_t reason_size);

/* Meets (met = true) or cancels the item's open deadlines of the given rules
 * (rules NULL: every rule), in rounds <= max_round (0: every round).
 * Publishes DeadlineMet / DeadlineCancelled for each. Returns how many, or -1. */
int deadline_close(PGconn *conn, deadline_ctx_t *ctx, const deadline_cause_t *cause,
                   const char *item_id, const char *const *rules, size_t nrules, int max_round,
                   bool met, domain_date_t when, int cancel_reason, const char *detail,
                   char *reason, size_t reason_size);

/* Fires the stages that are due among `ids` (n of them), or, with ids NULL,
 * up to `limit` rows overdue by more than sweep_grace_us found by the
 * sweep. In the caller's open
 * transaction: each row is locked, advanced only if still at the step read
 * (WHERE next_step = expected), its history written and its events (stage
 * event and NoticeRequested per recipient) published. *fired gets the
 * count; rows that stay in the future or got a next step are appended to
 * *later (the caller's to free, *nlater entries). `by` labels history and
 * metrics ("redis", "sweep"). -1 on a database failure (*error set). */
int deadline_fire(PGconn *conn, deadline_ctx_t *ctx, const char *const *ids, size_t n, size_t limit,
                  int64_t now_us, int64_t sweep_grace_us, const char *by, size_t *fired,
                  deadline_timer_t **later, size_t *nlater, char **error);

/* Recomputes the open deadlines not yet due with `calendar` and the current
 * rules; each changed one gets a new schedule and DeadlineRecomputed. In the
 * caller's transaction. Returns how many changed, or -1. */
int deadline_recompute(PGconn *conn, deadline_ctx_t *ctx, const domain_calendar_t *calendar,
                       int64_t now_us, char **error);

/* Batched outbox: envelopes packed and inserted with one statement. */
typedef struct deadline_outbox deadline_outbox_t;
deadline_outbox_t *deadline_outbox_new(void);
void deadline_outbox_destroy(deadline_outbox_t **self_p);
/* Packs env (event_id, type set by the caller). 0 or -1. */
int deadline_outbox_add(deadline_outbox_t *self, const Liaison__V1__Envelope *env);
size_t deadline_outbox_count(const deadline_outbox_t *self);
/* Inserts every added envelope in the caller's transaction and empties the
 * batch. 0 or -1 (*error set). */
int deadline_outbox_flush(deadline_outbox_t *self, PGconn *conn, char **error);

/* Queue a timer for Redis (any thread). */
void deadline_queue_timer(deadline_ctx_t *ctx, const char *id, int64_t at_us);
/* Take the queue (the caller frees *out). */
size_t deadline_take_timers(deadline_ctx_t *ctx, deadline_timer_t **out);

/* Stage names of the proto enum for a schedule kind ("urge:2" → URGED_2). */
int deadline_stage_enum(const char *stage, int urge_count);

/* ---- deadline_apply.c ----------------------------------------------------- */

bus_apply_t deadline_apply_intake(PGconn *conn, const Liaison__V1__Envelope *env, char *reason,
                                  size_t reason_size, void *arg);
bus_apply_t deadline_apply_routing(PGconn *conn, const Liaison__V1__Envelope *env, char *reason,
                                   size_t reason_size, void *arg);

/* ---- deadline_court.c ----------------------------------------------------- */

/* A court's rules and calendar as a deadline is computed with them. Valid
 * until deadline_court_release(): the entry behind them is reference counted,
 * so a court change or a calendar reload on another thread never frees what
 * a computation is still reading (explanations borrow the calendar's names). */
typedef struct deadline_court_entry deadline_court_entry_t;
typedef struct {
    const domain_rules_t *rules;       /* the defaults with the court's overrides */
    const domain_calendar_t *calendar; /* the shared calendar with the court's own days */
    deadline_courts_t *courts;
    deadline_court_entry_t *entry; /* the reference held; NULL: defaults and shared calendar */
} deadline_court_view_t;

deadline_courts_t *deadline_courts_new(void);
void deadline_courts_destroy(deadline_courts_t **self_p);

/* Checks the overrides a CourtUpserted carries, as intake did before it
 * published them (the bus is outside input too): 0 with *rules_json (the
 * caller frees) ready for the court table, or -1 with the reason. */
int deadline_court_check(const Liaison__V1__CourtUpserted *m, char **rules_json, char *reason,
                         size_t reason_size);

/* Reads the court's row of the projection in the caller's transaction and
 * brings its cache entry up to that revision; *zone gets the court's zone
 * (Asia/Shanghai for a court not projected yet). -1 with the reason on a
 * database failure or unusable stored overrides. */
int deadline_court_load(PGconn *conn, deadline_ctx_t *ctx, const char *court, domain_zone_t *zone,
                        char *reason, size_t reason_size);
/* The same for every projected court (before a recompute). 0 or -1 (*error). */
int deadline_court_load_all(PGconn *conn, deadline_ctx_t *ctx, char **error);
/* The same for the courts of `courts`, a text[] literal (NULL: every
 * court), in one read: the courts of a batch of stages about to fire. */
int deadline_court_load_list(PGconn *conn, deadline_ctx_t *ctx, const char *courts, char **error);

/* The court's rules, and its calendar derived from `base` (ctx->calendar, or
 * a new one a recompute is trying). A court the cache holds no overrides for
 * gets ctx->rules and base. -1 with the reason when the court's calendar
 * cannot be built (out of memory). */
int deadline_court_acquire(deadline_ctx_t *ctx, const domain_calendar_t *base, const char *court,
                           deadline_court_view_t *view, char *reason, size_t reason_size);
void deadline_court_release(deadline_court_view_t *view);

/* After a calendar reload, with `current` the calendar in use (the new one,
 * or the old one when the new one was refused): courts' calendars derived
 * from any other are rebuilt when next needed, since that one is about to
 * be freed and a later one may be allocated at its address. */
void deadline_court_calendar_changed(deadline_ctx_t *ctx, const domain_calendar_t *current);

/* ---- deadline_timer.c ----------------------------------------------------- */

typedef struct deadline_timer_thread deadline_timer_thread_t;

typedef struct {
    const char *conninfo;
    const char *redis_host;
    int redis_port;
    const char *redis_password;
    const char *redis_prefix; /* "liaison:deadline:" */
    int64_t sweep_interval_ms;
    int64_t horizon_ms;
    int64_t poll_ms;
    size_t batch;
    size_t workers; /* threads that claim and fire (the primary is one) */
} deadline_timer_config_t;

deadline_timer_thread_t *deadline_timer_start(deadline_ctx_t *ctx,
                                              const deadline_timer_config_t *config);
void deadline_timer_stop(deadline_timer_thread_t **self_p);
/* Nothing in flight (for the drain check). */
bool deadline_timer_idle(deadline_timer_thread_t *self);

/* ---- calendar ------------------------------------------------------------- */

/* Read and parse a calendar file. NULL with err on failure. */
domain_calendar_t *deadline_calendar_load(const char *path, char *err, size_t errsize);

#endif
