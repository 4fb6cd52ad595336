/* pg — a PostgreSQL connection driven by the daemon's event loop.
 *
 * Non-blocking libpq: the connection is opened with PQconnectStart and
 * PQconnectPoll from loop events, queries are sent with PQsendQueryParams
 * (parameters travel apart from the SQL text, never interpolated), and
 * results are read as the socket becomes readable. Nothing here blocks the
 * loop, except the name lookup of a `host=` that is not an address (libpq
 * resolves it synchronously: configure `hostaddr=` or an IP literal).
 *
 * Queries are queued in order and run one after another on the connection.
 * Every query accepted by pg_query() gets its callback exactly once: with
 * its result, or with an error when the connection is lost, the query hangs
 * past the hang limit, or the object is destroyed. A lost connection is
 * re-opened by itself with exponential back-off and jitter (100 ms doubling
 * to 5 s); a periodic probe (`SELECT 1` when idle) and a watch on the
 * oldest query make pg_ready() false within a couple of seconds of an
 * outage, and true again as soon as a new connection is open.
 *
 * Transactions: queries queued back to back in one turn of the loop run back
 * to back on the connection, with nothing of anyone else's in between. So a
 * transaction is queued whole — BEGIN, the statements, COMMIT — from one
 * handler. If a statement fails, the later ones fail with "current
 * transaction is aborted" and the COMMIT's command status is "ROLLBACK"
 * (check PQcmdStatus), which is PostgreSQL's own guarantee. A transaction
 * whose next statement depends on a previous result does not belong on the
 * loop's connection: run it on a worker thread with the blocking helpers.
 *
 * Not thread-safe: one pg_t belongs to one loop and its thread.
 */
#ifndef LIAISON_COMMON_PG_H
#define LIAISON_COMMON_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/loop.h"

typedef struct pg_t pg_t;

/* The result of one query. `res` is borrowed: it is freed when the callback
 * returns (copy what you keep). Exactly one of these holds:
 *   - res != NULL, error == NULL: the query succeeded (PGRES_COMMAND_OK or
 *     PGRES_TUPLES_OK);
 *   - res != NULL, error != NULL: the server answered with an error (read the
 *     SQLSTATE with PQresultErrorField(res, PG_DIAG_SQLSTATE));
 *   - res == NULL, error != NULL: no answer (connection lost, hang, destroy).
 * The callback may queue new queries and may destroy the pg_t. */
typedef void(pg_result_fn)(pg_t *pg, const PGresult *res, const char *error, void *arg);

/* Called when pg_ready() changes, after the change. */
typedef void(pg_state_fn)(pg_t *pg, bool ready, void *arg);

typedef struct {
    uint64_t connects;         /* connections opened */
    uint64_t connect_failures; /* attempts that failed or timed out */
    uint64_t disconnects;      /* open connections lost (or dropped as hung) */
    uint64_t queries;          /* queries sent, probes not counted */
    uint64_t query_errors;     /* queries answered with an error result */
    uint64_t query_failures;   /* queries that got no answer */
    uint64_t probes;           /* health probes sent */
    uint32_t queued;           /* queries waiting or in flight, now */
    bool ready;
} pg_stats_t;

/* Start connecting to `conninfo` (a libpq keyword/value string or URI);
 * `name` labels log lines and metrics ("main", "outbox"). Returns at once:
 * the connection opens in the loop, and is retried until it does. NULL only
 * when arguments are missing or memory runs out. */
pg_t *pg_new(loop_t *loop, const char *conninfo, const char *name);

/* Close the connection; every query still queued gets its callback with an
 * error before this returns. Clears *self_p. Safe from inside a pg
 * callback (the work is finished when the callback returns). */
void pg_destroy(pg_t **self_p);

/* true while a connection is open and answering. */
bool pg_ready(pg_t *self);

/* Queue a query with text parameters $1..$nparams (NULL for SQL NULL).
 * `sql` and `params` are copied. Returns 0 if accepted (fn will be called
 * exactly once), -1 if refused (not ready, bad arguments, out of memory:
 * fn will not be called). One statement per query. */
int pg_query(pg_t *self, const char *sql, int nparams, const char *const *params, pg_result_fn *fn,
             void *arg);

/* The same as a prepared statement named `stmt` (a static string, one
 * name per SQL text): prepared on the connection the first time it runs
 * there (again after a reconnect), then only bound and executed, so the
 * server parses and plans it once per connection instead of at every call.
 * For the statements a daemon runs all the time (the bus sequencer's
 * round). At most 16 names a connection; more run as plain queries. */
int pg_query_prepared(pg_t *self, const char *stmt, const char *sql, int nparams,
                      const char *const *params, pg_result_fn *fn, void *arg);

/* Number of queries waiting or in flight. */
size_t pg_queued(pg_t *self);

void pg_set_state_fn(pg_t *self, pg_state_fn *fn, void *arg);
void pg_stats(pg_t *self, pg_stats_t *stats);
const char *pg_name(pg_t *self);

/* Timing, for tests and tuning (milliseconds; 0 keeps the current value).
 *   connect_timeout  an attempt that is not open by then is abandoned (3000)
 *   probe_interval   idle time before a `SELECT 1` probe (1000)
 *   stall            the oldest query unanswered this long: not ready (2000)
 *   hang             ... this long: the connection is dropped (30000)
 *   backoff_min/max  reconnect delays, doubling with jitter (100, 5000) */
typedef struct {
    uint32_t connect_timeout_ms;
    uint32_t probe_interval_ms;
    uint32_t stall_ms;
    uint32_t hang_ms;
    uint32_t backoff_min_ms;
    uint32_t backoff_max_ms;
} pg_timing_t;
void pg_set_timing(pg_t *self, const pg_timing_t *timing);

/* ---- blocking helpers, for liaisonctl and worker threads (never the loop) ----
 *
 * pg_connect_blocking opens a connection (NULL on failure, with the reason
 * in *error, the caller's to free). pg_exec_blocking runs one parameterised
 * statement and returns its result when it succeeded (the caller's to
 * PQclear), NULL otherwise with the message in *error (caller frees).
 * pg_exec_ok is the same for statements whose result nobody reads. */
PGconn *pg_connect_blocking(const char *conninfo, char **error);
PGresult *pg_exec_blocking(PGconn *conn, const char *sql, int nparams, const char *const *params,
                           char **error);
int pg_exec_ok(PGconn *conn, const char *sql, int nparams, const char *const *params, char **error);

/* ---- a worker's transactions (blocking; intake and routing) ----------------
 *
 * pg_sql runs one statement and returns its result when it succeeded (the
 * caller's to PQclear), NULL otherwise with the SQLSTATE in sqlstate[6]
 * (may be NULL; "08000" when there was no answer). Failures are logged as
 * "<who>: statement failed", except 40xxx (serialization, deadlock: the
 * caller retries) and 23xxx (a constraint: the caller answers a refusal).
 * pg_sql_begin opens a transaction bound to a court for row-level security
 * (set_config('liaison.court'); "*": all courts). pg_sql_commit is -1 also
 * when COMMIT answered ROLLBACK (the transaction had failed).
 * pg_sql_rollback ends the open transaction, if any. */
PGresult *pg_sql(PGconn *conn, const char *who, const char *sql, int n, const char *const *params,
                 char sqlstate[6]);
int pg_sql_begin(PGconn *conn, const char *who, const char *court);
int pg_sql_commit(PGconn *conn, const char *who, char sqlstate[6]);
void pg_sql_rollback(PGconn *conn);

#endif
