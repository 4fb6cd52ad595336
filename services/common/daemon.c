/* daemon — see daemon.h. */
#include "common/daemon.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "common/bus_server.h"
#include "common/log.h"

#define MAX_HOOKS     16
#define DRAIN_POLL_MS 50

typedef struct {
    char *name;
    http_ready_fn *fn;
    void *arg;
} check_t;

struct daemon_t {
    char *name;
    char *config_path;
    config_t *config;
    liaison_clock_t *clock;
    loop_t *loop;
    metrics_t *metrics;
    http_server_t *http;
    pg_t *pg;
    redis_t *redis;

    void *zmq;
    bus_sequencer_t *sequencer;
    bus_server_t *bus_server;
    struct {
        char *producer;
        bus_consumer_t *consumer;
    } consumers[MAX_HOOKS];
    size_t n_consumers;
    metrics_family_t *bus_head, *bus_position, *bus_lag, *bus_oldest, *bus_dead;

    check_t checks[MAX_HOOKS];
    size_t n_checks;
    struct {
        daemon_reload_fn *fn;
        void *arg;
    } reloads[MAX_HOOKS];
    size_t n_reloads;
    struct {
        daemon_idle_fn *fn;
        void *arg;
    } idles[MAX_HOOKS];
    size_t n_idles;

    bool draining;
    int drain_timer;
    uint64_t drain_deadline;
    int exit_code;

    metrics_family_t *dependency_up;
    metrics_family_t *reloads_total;
    metrics_family_t *conn_events; /* connects, failures, disconnects, by dependency */
    metrics_family_t *requests;    /* queries/commands sent, by dependency and outcome */
    metrics_family_t *in_flight;
    uint64_t seen[2][6]; /* [pg, redis] counters already added */
};

/* ---- systemd ------------------------------------------------------------ */

int daemon_sd_notify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !*path)
        return 0;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || len >= sizeof sa.sun_path) {
        errno = EINVAL;
        return -1;
    }
    memcpy(sa.sun_path, path, len);
    if (path[0] == '@')
        sa.sun_path[0] = '\0'; /* abstract namespace */
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    ssize_t n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
                       (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
    int e = errno;
    close(fd);
    errno = e;
    return n < 0 ? -1 : 0;
}

/* ---- command line ----------------------------------------------------------- */

static void usage(FILE *out, const char *name)
{
    fprintf(out,
            "usage: liaison-%s [--config FILE] [--check-config]\n"
            "  --config FILE    configuration file (default: $LIAISON_DAEMON_CONFIG, else "
            "./var/liaison.ini)\n"
            "  --check-config   validate the configuration, print it (secrets hidden), exit\n",
            name);
}

/* Print config errors: one line each, plainly for a person at a terminal
 * (--check-config) or as log lines for a supervisor. */
static void report_errors(const char *errors, bool plain)
{
    const char *p = errors;
    while (*p) {
        size_t n = strcspn(p, "\n");
        if (plain)
            fprintf(stderr, "%.*s\n", (int)n, p);
        else
            log_error("configuration error", "error=%.*s", (int)n, p);
        p += n;
        if (*p == '\n')
            p++;
    }
}

/* ---- dependencies ------------------------------------------------------------ */

static void collect_dependencies(metrics_t *m, void *arg)
{
    daemon_t *self = arg;
    for (size_t i = 0; i < self->n_checks; i++)
        metrics_set(metrics_series(self->dependency_up, self->checks[i].name),
                    self->checks[i].fn(self->checks[i].arg) ? 1 : 0);
}

/* pg_t and redis_t keep their own counters; the registry gets the growth
 * since the last scrape, so the families stay Prometheus counters. */
static void add_growth(metrics_series_t *series, uint64_t now, uint64_t *seen)
{
    if (now > *seen)
        metrics_add(series, (double)(now - *seen));
    *seen = now;
}

static void collect_connections(metrics_t *m, void *arg)
{
    daemon_t *self = arg;
    if (self->pg) {
        pg_stats_t st;
        pg_stats(self->pg, &st);
        uint64_t *seen = self->seen[0];
        add_growth(metrics_series(self->conn_events, "postgres", "connect"), st.connects, &seen[0]);
        add_growth(metrics_series(self->conn_events, "postgres", "connect_failure"),
                   st.connect_failures, &seen[1]);
        add_growth(metrics_series(self->conn_events, "postgres", "disconnect"), st.disconnects,
                   &seen[2]);
        add_growth(metrics_series(self->requests, "postgres", "sent"), st.queries, &seen[3]);
        add_growth(metrics_series(self->requests, "postgres", "error"), st.query_errors, &seen[4]);
        add_growth(metrics_series(self->requests, "postgres", "no_answer"), st.query_failures,
                   &seen[5]);
        metrics_set(metrics_series(self->in_flight, "postgres"), st.queued);
    }
    if (self->redis) {
        redis_stats_t st;
        redis_stats(self->redis, &st);
        uint64_t *seen = self->seen[1];
        add_growth(metrics_series(self->conn_events, "redis", "connect"), st.connects, &seen[0]);
        add_growth(metrics_series(self->conn_events, "redis", "connect_failure"),
                   st.connect_failures, &seen[1]);
        add_growth(metrics_series(self->conn_events, "redis", "disconnect"), st.disconnects,
                   &seen[2]);
        add_growth(metrics_series(self->requests, "redis", "sent"), st.commands, &seen[3]);
        add_growth(metrics_series(self->requests, "redis", "error"), st.command_errors, &seen[4]);
        add_growth(metrics_series(self->requests, "redis", "no_answer"), st.command_failures,
                   &seen[5]);
        metrics_set(metrics_series(self->in_flight, "redis"), st.in_flight);
    }
}

/* ---- the event bus -------------------------------------------------------------- */

void *daemon_zmq(daemon_t *self)
{
    if (!self->zmq)
        self->zmq = zmq_ctx_new();
    return self->zmq;
}

static const char *bus_endpoint(daemon_t *self, const char *daemon)
{
    char key[64];
    snprintf(key, sizeof key, "bus_%s", daemon);
    return config_str(self->config, "common", key);
}

static void bus_families(daemon_t *self)
{
    if (self->bus_head)
        return;
    self->bus_head = metrics_add_gauge(self->metrics, "liaison_bus_stream_head",
                                       "Last sequenced position of the stream.", "stream");
    self->bus_position =
        metrics_add_gauge(self->metrics, "liaison_bus_consumer_position",
                          "Last position the consumer applied and committed.", "stream,consumer");
    self->bus_lag = metrics_add_gauge(self->metrics, "liaison_bus_consumer_lag",
                                      "Events sequenced but not yet applied (head - position).",
                                      "stream,consumer");
    self->bus_oldest = metrics_add_gauge(
        self->metrics, "liaison_bus_consumer_oldest_unapplied_seconds",
        "Age of the oldest event past the consumer's position (0 when caught up).",
        "stream,consumer");
    self->bus_dead =
        metrics_add_counter(self->metrics, "liaison_bus_consumer_dead_letters_total",
                            "Events parked as dead letters by this process.", "stream,consumer");
}

static void collect_bus(metrics_t *m, void *arg)
{
    daemon_t *self = arg;
    if (self->sequencer)
        metrics_set(metrics_series(self->bus_head, self->name),
                    (double)bus_sequencer_head(self->sequencer));
    int64_t now_us = clock_now_us(self->clock);
    for (size_t i = 0; i < self->n_consumers; i++) {
        bus_consumer_stats_t st;
        bus_consumer_stats(self->consumers[i].consumer, &st);
        const char *stream = self->consumers[i].producer;
        metrics_set(metrics_series(self->bus_position, stream, self->name), (double)st.position);
        metrics_set(metrics_series(self->bus_lag, stream, self->name),
                    st.head > st.position ? (double)(st.head - st.position) : 0);
        double age = st.oldest_unapplied_us > 0 && now_us > st.oldest_unapplied_us
                         ? (double)(now_us - st.oldest_unapplied_us) / 1e6
                         : 0;
        metrics_set(metrics_series(self->bus_oldest, stream, self->name), age);
        metrics_series_t *dead = metrics_series(self->bus_dead, stream, self->name);
        double seen = metrics_value(dead);
        if ((double)st.parked > seen)
            metrics_add(dead, (double)st.parked - seen);
    }
}

int daemon_bus_serve(daemon_t *self)
{
    if (self->bus_server)
        return 0;
    char *conninfo = daemon_conninfo(self);
    if (!conninfo || !daemon_zmq(self)) {
        free(conninfo);
        return -1;
    }
    const char *endpoint = bus_endpoint(self, self->name);
    self->sequencer = bus_sequencer_new(self->loop, conninfo, self->name);
    if (self->sequencer)
        self->bus_server =
            bus_server_new(self->loop, self->zmq, endpoint, conninfo, self->sequencer);
    free(conninfo);
    if (!self->bus_server) {
        log_error("bus: cannot serve the stream", "stream=%s endpoint=%s", self->name, endpoint);
        bus_sequencer_destroy(&self->sequencer);
        return -1;
    }
    bus_families(self);
    log_info("bus: serving", "stream=%s endpoint=%s", self->name, endpoint);
    return 0;
}

bus_sequencer_t *daemon_bus_sequencer(daemon_t *self)
{
    return self->sequencer;
}

int daemon_bus_consume(daemon_t *self, const char *producer, bus_apply_fn *apply, void *arg)
{
    if (self->n_consumers == MAX_HOOKS || !daemon_zmq(self))
        return -1;
    char *conninfo = daemon_conninfo(self);
    char *copy = strdup(producer);
    if (!conninfo || !copy) {
        free(conninfo);
        free(copy);
        return -1;
    }
    bus_consumer_config_t cfg = {
        .name = self->name,
        .stream = producer,
        .endpoint = bus_endpoint(self, producer),
        .conninfo = conninfo,
        .apply = apply,
        .apply_arg = arg,
    };
    bus_consumer_t *c = bus_consumer_new(self->zmq, &cfg);
    free(conninfo);
    if (!c) {
        log_error("bus: cannot consume", "stream=%s endpoint=%s", producer, cfg.endpoint);
        free(copy);
        return -1;
    }
    self->consumers[self->n_consumers].producer = copy;
    self->consumers[self->n_consumers].consumer = c;
    self->n_consumers++;
    bus_families(self);
    log_info("bus: consuming", "stream=%s endpoint=%s", producer, cfg.endpoint);
    return 0;
}

static int add_check(daemon_t *self, const char *name, http_ready_fn *fn, void *arg,
                     bool degraded_only)
{
    if (self->n_checks == MAX_HOOKS)
        return -1;
    char *copy = strdup(name);
    int rc = !copy           ? -1
             : degraded_only ? http_server_add_degraded_check(self->http, name, fn, arg)
                             : http_server_add_ready_check(self->http, name, fn, arg);
    if (rc < 0) {
        free(copy);
        return -1;
    }
    check_t *c = &self->checks[self->n_checks++];
    c->name = copy;
    c->fn = fn;
    c->arg = arg;
    return 0;
}

int daemon_add_ready_check(daemon_t *self, const char *name, http_ready_fn *fn, void *arg)
{
    return add_check(self, name, fn, arg, false);
}

int daemon_add_degraded_check(daemon_t *self, const char *name, http_ready_fn *fn, void *arg)
{
    return add_check(self, name, fn, arg, true);
}

static bool pg_is_ready(void *arg)
{
    return pg_ready(arg);
}

static bool redis_is_ready(void *arg)
{
    return redis_ready(arg);
}

/* conninfo with the password added: keyword form gets password='...'
 * (quotes and backslashes escaped), a URI gets a percent-encoded
 * password query parameter. */
static char *conninfo_with_password(const char *dsn, const char *password)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    fputs(dsn, f);
    if (strstr(dsn, "://")) {
        fputs(strchr(dsn, '?') ? "&password=" : "?password=", f);
        for (const unsigned char *p = (const unsigned char *)password; *p; p++) {
            if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                strchr("-._~", *p))
                fputc(*p, f);
            else
                fprintf(f, "%%%02X", *p);
        }
    } else {
        fputs(*dsn ? " password='" : "password='", f);
        for (const char *p = password; *p; p++) {
            if (*p == '\'' || *p == '\\')
                fputc('\\', f);
            fputc(*p, f);
        }
        fputc('\'', f);
    }
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

char *daemon_conninfo(daemon_t *self)
{
    const char *dsn = config_str(self->config, self->name, "postgres_dsn");
    const char *password = config_str(self->config, self->name, "postgres_password");
    return *password ? conninfo_with_password(dsn, password) : strdup(dsn);
}

pg_t *daemon_postgres(daemon_t *self)
{
    if (self->pg)
        return self->pg;
    char *conninfo = daemon_conninfo(self);
    if (!conninfo)
        return NULL;
    self->pg = pg_new(self->loop, conninfo, "main");
    char *shown = log_redact_conninfo(conninfo);
    free(conninfo);
    if (!self->pg) {
        log_error("postgres: cannot start", "dsn=%s", shown ? shown : "");
        free(shown);
        return NULL;
    }
    log_info("postgres: connecting", "dsn=%s", shown ? shown : "");
    free(shown);
    if (daemon_add_ready_check(self, "postgres", pg_is_ready, self->pg) < 0) {
        pg_destroy(&self->pg);
        return NULL;
    }
    return self->pg;
}

redis_t *daemon_redis(daemon_t *self)
{
    if (self->redis)
        return self->redis;
    const char *host = config_str(self->config, self->name, "redis_host");
    int port = config_port(self->config, self->name, "redis_port");
    const char *password = config_str(self->config, self->name, "redis_password");
    redis_options_t opts = {.password = *password ? password : NULL, .name = self->name};
    self->redis = redis_new(self->loop, host, port, &opts);
    if (!self->redis) {
        log_error("redis: cannot start", "host=%s port=%d", host, port);
        return NULL;
    }
    log_info("redis: connecting", "host=%s port=%d password=%s", host, port, log_redact(password));
    if (daemon_add_ready_check(self, "redis", redis_is_ready, self->redis) < 0) {
        redis_destroy(&self->redis);
        return NULL;
    }
    return self->redis;
}

int daemon_on_reload(daemon_t *self, daemon_reload_fn *fn, void *arg)
{
    if (self->n_reloads == MAX_HOOKS)
        return -1;
    self->reloads[self->n_reloads].fn = fn;
    self->reloads[self->n_reloads].arg = arg;
    self->n_reloads++;
    return 0;
}

int daemon_add_drain_check(daemon_t *self, daemon_idle_fn *fn, void *arg)
{
    if (self->n_idles == MAX_HOOKS)
        return -1;
    self->idles[self->n_idles].fn = fn;
    self->idles[self->n_idles].arg = arg;
    self->n_idles++;
    return 0;
}

/* ---- signals: drain, fast exit, reload ------------------------------------------ */

static void apply_log_level(const config_t *config)
{
    log_level_t level = LOG_LEVEL_INFO;
    log_level_parse(config_str(config, "common", "log_level"), &level);
    log_set_level(level);
}

static void reload(daemon_t *self)
{
    daemon_sd_notify("RELOADING=1");
    char *errors = NULL;
    config_t *fresh = config_new(self->config_path, &errors);
    if (!fresh) {
        log_error("reload refused, keeping the running configuration", "path=%s",
                  self->config_path);
        report_errors(errors ? errors : "", false);
        free(errors);
        metrics_inc(metrics_series(self->reloads_total, "failure"));
        daemon_sd_notify("READY=1");
        return;
    }
    /* what cannot change without a restart is kept, and said so */
    static const char *const fixed[] = {"http_address", "http_port", "postgres_dsn", "redis_host",
                                        "redis_port"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        const char *a = config_str(self->config, self->name, fixed[i]);
        const char *b = config_str(fresh, self->name, fixed[i]);
        if (strcmp(a, b) != 0)
            log_warn("reload: change takes effect at the next start", "key=%s", fixed[i]);
    }
    config_destroy(&self->config);
    self->config = fresh;
    apply_log_level(fresh);
    for (size_t i = 0; i < self->n_reloads; i++)
        self->reloads[i].fn(self, fresh, self->reloads[i].arg);
    metrics_inc(metrics_series(self->reloads_total, "success"));
    log_info("configuration reloaded", "path=%s log_level=%s", self->config_path,
             log_level_name(log_get_level()));
    daemon_sd_notify("READY=1");
}

static bool idle(daemon_t *self)
{
    if (http_server_pending(self->http) > 0)
        return false;
    for (size_t i = 0; i < self->n_idles; i++)
        if (!self->idles[i].fn(self->idles[i].arg))
            return false;
    return true;
}

static int on_drain_tick(loop_t *loop, int id, void *arg)
{
    daemon_t *self = arg;
    if (idle(self)) {
        log_info("drained, stopping", NULL);
        loop_stop(loop);
    } else if (loop_now_ms() >= self->drain_deadline) {
        log_warn("drain timeout, stopping with work in flight", "pending_http=%zu",
                 http_server_pending(self->http));
        loop_stop(loop);
    }
    return 0;
}

static int on_signal(loop_t *loop, int signo, void *arg)
{
    daemon_t *self = arg;
    if (signo == SIGHUP) {
        log_info("SIGHUP: reloading configuration", NULL);
        reload(self);
        return 0;
    }
    const char *name = signo == SIGINT ? "SIGINT" : "SIGTERM";
    if (self->draining) {
        log_warn("second stop signal: stopping now", "signal=%s", name);
        loop_stop(loop);
        return 0;
    }
    self->draining = true;
    int64_t timeout = config_duration_ms(self->config, self->name, "drain_timeout");
    log_info("draining", "signal=%s timeout_ms=%lld", name, (long long)timeout);
    daemon_sd_notify("STOPPING=1");
    http_server_set_draining(self->http, true);
    self->drain_deadline = loop_now_ms() + (uint64_t)timeout;
    self->drain_timer = loop_add_timer(loop, DRAIN_POLL_MS, 0, on_drain_tick, self);
    if (self->drain_timer < 0 || idle(self))
        loop_stop(loop); /* nothing to wait for */
    return 0;
}

/* ---- life cycle --------------------------------------------------------------------- */

daemon_t *daemon_new(const char *name, int argc, char **argv, int *exit_code)
{
    const char *path = NULL;
    bool check = false;
    char *errors = NULL;
    *exit_code = 1;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            path = argv[i] + 9;
        } else if (strcmp(argv[i], "--check-config") == 0) {
            check = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout, name);
            *exit_code = 0;
            return NULL;
        } else {
            fprintf(stderr, "liaison-%s: unknown argument: %s\n", name, argv[i]);
            usage(stderr, name);
            *exit_code = 2;
            return NULL;
        }
    }
    if (!path)
        path = getenv("LIAISON_DAEMON_CONFIG");
    if (!path || !*path)
        path = "var/liaison.ini";

    log_init(name, LOG_LEVEL_INFO);
    daemon_t *self = calloc(1, sizeof *self);
    if (!self || !(self->name = strdup(name)) || !(self->config_path = strdup(path)))
        goto fail;
    if (!config_section_known(name)) {
        log_error("no such daemon section in the configuration table", "name=%s", name);
        goto fail;
    }
    self->config = config_new(path, &errors);
    if (!self->config) {
        report_errors(errors ? errors : "", check);
        goto fail;
    }
    apply_log_level(self->config);

    self->clock = clock_new(config_str(self->config, "common", "clock"),
                            config_str(self->config, "common", "mode"),
                            config_str(self->config, "common", "clock_file"), &errors);
    if (!self->clock) {
        if (check)
            fprintf(stderr, "%s\n", errors ? errors : "clock: cannot start");
        else
            log_error("clock refused", "error=%s", errors ? errors : "");
        goto fail;
    }
    if (check) {
        printf("configuration ok: %s\n", path);
        config_dump(self->config, stdout);
        daemon_destroy(&self);
        *exit_code = 0;
        return NULL;
    }
    if (clock_is_test(self->clock))
        log_warn("test clock in use", "file=%s offset_us=%lld",
                 config_str(self->config, "common", "clock_file"),
                 (long long)clock_offset_us(self->clock));

    self->loop = loop_new();
    self->metrics = metrics_new();
    if (!self->loop || !self->metrics)
        goto fail;
    if (loop_handle_signals(self->loop, on_signal, self) < 0) {
        log_error("cannot take signals", "error=%s", strerror(errno));
        goto fail;
    }
    self->dependency_up =
        metrics_add_gauge(self->metrics, "liaison_dependency_up",
                          "1 when the dependency's readiness check passes, else 0.", "dependency");
    self->reloads_total = metrics_add_counter(self->metrics, "liaison_config_reloads_total",
                                              "SIGHUP reloads, by result.", "result");
    metrics_family_t *start = metrics_add_gauge(self->metrics, "liaison_process_start_time_seconds",
                                                "Start time of the process, Unix seconds.", NULL);
    metrics_set(metrics_series(start), (double)time(NULL));
    self->conn_events = metrics_add_counter(
        self->metrics, "liaison_dependency_connection_events_total",
        "Connections opened, failed to open, and lost, by dependency.", "dependency,event");
    self->requests = metrics_add_counter(
        self->metrics, "liaison_dependency_requests_total",
        "Queries (postgres) and commands (redis) sent, answered with an error, or never answered.",
        "dependency,outcome");
    self->in_flight =
        metrics_add_gauge(self->metrics, "liaison_dependency_in_flight",
                          "Queries or commands waiting for their answer.", "dependency");
    if (metrics_on_collect(self->metrics, collect_dependencies, self) < 0 ||
        metrics_on_collect(self->metrics, collect_connections, self) < 0 ||
        metrics_on_collect(self->metrics, collect_bus, self) < 0)
        goto fail;

    const char *address = config_str(self->config, name, "http_address");
    int port = config_port(self->config, name, "http_port");
    self->http = http_server_new(self->loop, self->metrics, address, port,
                                 (size_t)config_int(self->config, name, "http_body_limit"));
    if (!self->http)
        goto fail; /* logged by http */
    log_info("http listening", "address=%s port=%d", address, http_server_port(self->http));
    free(errors);
    *exit_code = 0;
    return self;

fail:
    free(errors);
    daemon_destroy(&self);
    *exit_code = 1;
    return NULL;
}

void daemon_destroy(daemon_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    daemon_t *self = *self_p;
    /* the bus first (consumer threads stop, sockets close, so the ZeroMQ
     * context can end without waiting), then connections: their pending
     * callbacks may still answer HTTP requests; then the server (answers
     * what is left), then the loop */
    for (size_t i = 0; i < self->n_consumers; i++) {
        bus_consumer_destroy(&self->consumers[i].consumer);
        free(self->consumers[i].producer);
    }
    bus_server_destroy(&self->bus_server);
    bus_sequencer_destroy(&self->sequencer);
    if (self->zmq)
        zmq_ctx_term(self->zmq);
    pg_destroy(&self->pg);
    redis_destroy(&self->redis);
    http_server_destroy(&self->http);
    metrics_destroy(&self->metrics);
    loop_destroy(&self->loop);
    clock_destroy(&self->clock);
    config_destroy(&self->config);
    for (size_t i = 0; i < self->n_checks; i++)
        free(self->checks[i].name);
    free(self->config_path);
    free(self->name);
    free(self);
    *self_p = NULL;
}

int daemon_run(daemon_t *self)
{
    if (daemon_sd_notify("READY=1") < 0)
        log_warn("systemd notify failed", "error=%s", strerror(errno));
    log_info("ready", "pid=%ld", (long)getpid());
    int rc = loop_run(self->loop);
    if (self->drain_timer > 0)
        loop_cancel_timer(self->loop, self->drain_timer);
    if (rc < 0) {
        log_error("loop failed, stopping", NULL);
        return 1;
    }
    log_info("stopped", NULL);
    return 0;
}

const char *daemon_name(daemon_t *self)
{
    return self->name;
}

loop_t *daemon_loop(daemon_t *self)
{
    return self->loop;
}

liaison_clock_t *daemon_clock(daemon_t *self)
{
    return self->clock;
}

metrics_t *daemon_metrics(daemon_t *self)
{
    return self->metrics;
}

http_server_t *daemon_http(daemon_t *self)
{
    return self->http;
}

const config_t *daemon_config(daemon_t *self)
{
    return self->config;
}
