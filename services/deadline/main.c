/* liaison-deadline — deadlines, their timers, urging and escalation.
 *
 * ARCHITECTURE.md §3, DOMAIN.md §4, Art. 13-16 and 20. The daemon:
 *   - consumes intake's and routing's streams, opening, meeting, cancelling
 *     and reopening deadlines in the consumer's transaction
 *     (deadline_apply.c);
 *   - fires each deadline's stages exactly once from Redis timers and a
 *     PostgreSQL sweep (deadline_timer.c), publishing the stage events and
 *     notice requests on its own stream "deadline";
 *   - recomputes pending deadlines when the calendar file changes (SIGHUP
 *     or POST /v1/calendar/reload);
 *   - answers the views of deadline_http.c and puts its counts on /metrics.
 *
 * Redis: the timer thread keeps its own connection (deadline_timer.c says
 * why), and losing Redis only delays stages by up to the sweep interval,
 * so Redis is not a readiness condition: /readyz shows it "degraded" while
 * it is down (the daemon stays ready) and /metrics has
 * liaison_deadline_redis_up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/daemon.h"
#include "common/log.h"
#include "deadline/deadline.h"
#include "deadline/deadline_http.h"

static void s_reload(daemon_t *d, const config_t *config, void *arg)
{
    deadline_ctx_t *ctx = arg;
    /* The calendar file may hold a new year's notice or a correction: the
     * timer thread reads it, recomputes what changes, then swaps it in. */
    atomic_store(&ctx->reload_calendar, true);
}

static bool s_timer_idle(void *arg)
{
    return deadline_timer_idle(arg);
}

static int s_metrics(deadline_ctx_t *ctx, metrics_t *m)
{
    static const double late[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600};
    ctx->m_lateness = metrics_series(
        metrics_add_histogram(m, "liaison_deadline_lateness_seconds",
                              "How late each stage fired after its scheduled instant.", NULL, late,
                              sizeof late / sizeof late[0]));
    ctx->m_fired =
        metrics_add_counter(m, "liaison_deadline_stages_fired_total",
                            "Stages fired, by stage and by what fired them.", "stage,by");
    ctx->m_unresolved = metrics_add_counter(
        m, "liaison_deadline_recipient_unresolved_total",
        "Recipients a rule named but the directory did not resolve (no president on record, no "
        "paired liaison officer, ...); the liaison office was told on their behalf.",
        "kind");
    ctx->m_pending = metrics_series(metrics_add_gauge(
        m, "liaison_deadline_pending", "Open deadlines not yet due (pending or reminded).", NULL));
    ctx->m_due_soon = metrics_series(
        metrics_add_gauge(m, "liaison_deadline_due_soon",
                          "Open deadlines falling due within [deadline] due_soon.", NULL));
    ctx->m_overdue = metrics_series(metrics_add_gauge(
        m, "liaison_deadline_overdue", "Open deadlines past their due instant.", NULL));
    ctx->m_redis_timers = metrics_series(metrics_add_gauge(
        m, "liaison_deadline_redis_timers", "Timers in the Redis index (the near horizon).", NULL));
    ctx->m_rebuilds =
        metrics_series(metrics_add_counter(m, "liaison_deadline_redis_rebuilds_total",
                                           "Rebuilds of the Redis index from PostgreSQL.", NULL));
    ctx->m_rebuild_seconds = metrics_series(metrics_add_gauge(
        m, "liaison_deadline_redis_rebuild_seconds", "Duration of the last rebuild.", NULL));
    ctx->m_recomputed =
        metrics_series(metrics_add_counter(m, "liaison_deadline_recomputed_total",
                                           "Deadlines recomputed after a calendar change.", NULL));
    ctx->m_redis_up = metrics_series(
        metrics_add_gauge(m, "liaison_deadline_redis_up",
                          "1 while the timer thread holds a Redis connection.", NULL));
    return ctx->m_lateness && ctx->m_fired && ctx->m_pending ? 0 : -1;
}

static bool s_redis_up(void *arg)
{
    deadline_ctx_t *ctx = arg;
    return metrics_value(ctx->m_redis_up) > 0;
}

int main(int argc, char **argv)
{
    int rc;
    daemon_t *d = daemon_new("deadline", argc, argv, &rc);
    if (!d)
        return rc;
    const config_t *cfg = daemon_config(d);
    deadline_ctx_t ctx = {0};
    deadline_timer_thread_t *timer = NULL;
    deadline_http_t *http = NULL;
    char *conninfo = NULL;
    rc = 1;
    pthread_rwlock_init(&ctx.lock, NULL);
    pthread_mutex_init(&ctx.qlock, NULL);
    ctx.clock = daemon_clock(d);
    domain_rules_defaults(&ctx.rules);
    ctx.courts = deadline_courts_new();
    if (!ctx.courts)
        goto out;
    ctx.notice_time_s = config_duration_ms(cfg, "deadline", "notice_time") / 1000 % 86400;
    ctx.due_soon_us = config_duration_ms(cfg, "deadline", "due_soon") * 1000;
    snprintf(ctx.calendar_file, sizeof ctx.calendar_file, "%s",
             config_str(cfg, "deadline", "calendar_file"));
    char err[512];
    ctx.calendar = deadline_calendar_load(ctx.calendar_file, err, sizeof err);
    if (!ctx.calendar) {
        log_error("deadline: cannot load the work calendar", "error=%s", err);
        goto out;
    }
    if (s_metrics(&ctx, daemon_metrics(d)) != 0 ||
        daemon_add_degraded_check(d, "redis", s_redis_up, &ctx) != 0)
        goto out;
    pg_t *pg = daemon_postgres(d);
    conninfo = daemon_conninfo(d);
    if (!pg || !conninfo)
        goto out;
    if (daemon_bus_serve(d) != 0)
        goto out;
    ctx.sequencer = daemon_bus_sequencer(d);
    http = deadline_http_new(daemon_http(d), pg, &ctx);
    if (!http)
        goto out;
    int64_t sweep = config_duration_ms(cfg, "deadline", "sweep_interval");
    deadline_timer_config_t tc = {
        .conninfo = conninfo,
        .redis_host = config_str(cfg, "deadline", "redis_host"),
        .redis_port = config_port(cfg, "deadline", "redis_port"),
        .redis_password = config_str(cfg, "deadline", "redis_password"),
        .redis_prefix = config_str(cfg, "deadline", "redis_prefix"),
        .sweep_interval_ms = sweep < 100 ? 100 : sweep,
        .horizon_ms = config_duration_ms(cfg, "deadline", "horizon"),
        .poll_ms = config_duration_ms(cfg, "deadline", "poll_interval"),
        .batch = (size_t)config_int(cfg, "deadline", "fire_batch"),
        .workers = (size_t)config_int(cfg, "deadline", "fire_workers"),
    };
    timer = deadline_timer_start(&ctx, &tc);
    if (!timer)
        goto out;
    if (daemon_bus_consume(d, "intake", deadline_apply_intake, &ctx) != 0 ||
        daemon_bus_consume(d, "routing", deadline_apply_routing, &ctx) != 0)
        goto out;
    daemon_on_reload(d, s_reload, &ctx);
    daemon_add_drain_check(d, s_timer_idle, timer);
    log_info("deadline: started", "calendar=%s version=%s sweep_ms=%lld horizon_ms=%lld",
             ctx.calendar_file, domain_calendar_version(ctx.calendar),
             (long long)tc.sweep_interval_ms, (long long)tc.horizon_ms);
    rc = daemon_run(d);
out:
    deadline_timer_stop(&timer);
    daemon_destroy(&d);
    deadline_http_destroy(&http);
    free(conninfo);
    deadline_courts_destroy(&ctx.courts);
    domain_calendar_destroy(&ctx.calendar);
    free(ctx.queue);
    pthread_rwlock_destroy(&ctx.lock);
    pthread_mutex_destroy(&ctx.qlock);
    return rc;
}
