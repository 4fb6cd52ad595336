/* daemon — the skeleton every liaison daemon's main() stands on.
 *
 *   int main(int argc, char **argv)
 *   {
 *       int rc;
 *       daemon_t *d = daemon_new("intake", argc, argv, &rc);
 *       if (!d)
 *           return rc;                  // --help, --check-config, or a bad start
 *       if (!daemon_postgres(d) || !daemon_redis(d))
 *           rc = 1;
 *       else
 *           rc = daemon_run(d);         // until SIGTERM/SIGINT
 *       daemon_destroy(&d);
 *       return rc;
 *   }
 *
 * daemon_new: parses `--config FILE` (default $LIAISON_DAEMON_CONFIG, else
 * ./var/liaison.ini) and `--check-config` (validate, print the settings
 * with secrets hidden, exit 0 or 1); loads and validates the config (every
 * error printed with file, line and key); sets the log level and daemon
 * name; builds the clock ([common] clock/mode/clock_file), the loop with
 * SIGTERM/SIGINT/SIGHUP on its signalfd, the metrics registry and the HTTP
 * server on [<name>] http_address:http_port with /healthz, /readyz and
 * /metrics.
 *
 * Signals: SIGTERM or SIGINT drains — /readyz turns 503, systemd hears
 * STOPPING=1, and the loop stops once no HTTP request is pending and every
 * drain check says idle, or after [<name>] drain_timeout; a second SIGTERM
 * or SIGINT stops at once. SIGHUP re-reads the config: a valid file
 * replaces the running one (log level applied, reload hooks called), a bad
 * one is logged and the running config kept.
 *
 * systemd Type=notify: daemon_run sends READY=1 to $NOTIFY_SOCKET (a plain
 * AF_UNIX datagram; no libsystemd), RELOADING=1/READY=1 around a reload,
 * STOPPING=1 when draining. Nothing is sent when the variable is unset.
 *
 * Exit codes: 0 clean stop (drained or second signal), 1 failure to start
 * or run, 2 bad command line.
 */
#ifndef LIAISON_COMMON_DAEMON_H
#define LIAISON_COMMON_DAEMON_H

#include <stdbool.h>

#include "common/bus_consumer.h"
#include "common/bus_sequencer.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/http.h"
#include "common/loop.h"
#include "common/metrics.h"
#include "common/pg.h"
#include "common/redis.h"

typedef struct daemon_t daemon_t;

/* name: the daemon and its config section ("intake"). Returns NULL with
 * *exit_code set (0 after --help or a good --check-config, 1 on failure,
 * 2 on a bad command line). */
daemon_t *daemon_new(const char *name, int argc, char **argv, int *exit_code);
/* Destroys the Postgres and Redis connections, the HTTP server (answering
 * requests still parked), the loop and the rest, in that order. */
void daemon_destroy(daemon_t **self_p);

/* Announce readiness and run the loop until stopped. Returns the exit code. */
int daemon_run(daemon_t *self);

const char *daemon_name(daemon_t *self);
loop_t *daemon_loop(daemon_t *self);
liaison_clock_t *daemon_clock(daemon_t *self);
metrics_t *daemon_metrics(daemon_t *self);
http_server_t *daemon_http(daemon_t *self);
/* The running configuration. Replaced by a SIGHUP reload: strings read
 * from it are valid until the next reload, copy what you keep. */
const config_t *daemon_config(daemon_t *self);

/* Connect to Postgres with [<name>] postgres_dsn (+ postgres_password)
 * and register the "postgres" readiness check. The connection belongs to
 * the daemon; a second call returns the same one. NULL on failure. */
pg_t *daemon_postgres(daemon_t *self);
/* The same for Redis: [<name>] redis_host, redis_port, redis_password;
 * readiness check "redis". */
redis_t *daemon_redis(daemon_t *self);

/* ---- the event bus (ARCHITECTURE.md §2) -------------------------------------
 *
 * daemon_bus_serve: run the sequencer of this daemon's own stream (named
 * after the daemon) and its pull server at [common] bus_<name>. The outbox
 * is in the daemon's schema, reached through its postgres_dsn. After each
 * COMMIT that published events, call bus_sequencer_notify() on
 * daemon_bus_sequencer() so consumers hear of them at once.
 *
 * daemon_bus_consume: apply the stream of the daemon `producer` (found at
 * [common] bus_<producer>) with `apply`, on the consumer's own thread and
 * connection; see bus_consumer.h.
 *
 * Both put their state on /metrics: liaison_bus_stream_head{stream},
 * liaison_bus_consumer_position / _lag / _oldest_unapplied_seconds and
 * liaison_bus_consumer_dead_letters_total{stream,consumer}. */
int daemon_bus_serve(daemon_t *self);
bus_sequencer_t *daemon_bus_sequencer(daemon_t *self);
int daemon_bus_consume(daemon_t *self, const char *producer, bus_apply_fn *apply, void *arg);
/* The daemon's ZeroMQ context. */
void *daemon_zmq(daemon_t *self);
/* postgres_dsn with postgres_password added (the caller frees), for
 * connections of the daemon's own: worker threads, consumers. */
char *daemon_conninfo(daemon_t *self);

/* A readiness check of the daemon's own (shown under name in /readyz and
 * as liaison_dependency_up{dependency="name"}). */
int daemon_add_ready_check(daemon_t *self, const char *name, http_ready_fn *fn, void *arg);
/* The same for a dependency the daemon works without for a while: /readyz
 * shows it "degraded" and still answers 200 (see http.h). It is on
 * /metrics as liaison_dependency_up like the others. */
int daemon_add_degraded_check(daemon_t *self, const char *name, http_ready_fn *fn, void *arg);

/* Called after a successful SIGHUP reload, with the new configuration. */
typedef void(daemon_reload_fn)(daemon_t *self, const config_t *config, void *arg);
int daemon_on_reload(daemon_t *self, daemon_reload_fn *fn, void *arg);

/* While draining, the loop stops only when every idle check returns true
 * (e.g. "no transaction in flight"). */
typedef bool(daemon_idle_fn)(void *arg);
int daemon_add_drain_check(daemon_t *self, daemon_idle_fn *fn, void *arg);

/* Send one systemd notification ("READY=1") to $NOTIFY_SOCKET. 0 when sent
 * or when the variable is unset, -1 on a send error. */
int daemon_sd_notify(const char *state);

#endif
