/* metrics — a registry of counters, gauges and histograms, rendered in the
 * Prometheus text exposition format (version 0.0.4).
 *
 *   metrics_t *m = metrics_new();
 *   metrics_family_t *req = metrics_add_counter(m, "liaison_http_requests_total",
 *                                               "HTTP requests served.", "route,code");
 *   metrics_inc(metrics_series(req, "/healthz", "200"));
 *   char *text = metrics_render(m);
 *
 * A family has a fixed list of label names (comma-separated, may be NULL
 * for none); a series is one set of label values. Label sets are bounded:
 * a family holds at most METRICS_MAX_SERIES series, and asking for one more
 * returns NULL (every update function accepts NULL and does nothing), so a
 * label fed from outside input can never grow memory without bound. Label
 * values should come from fixed sets (route patterns, status codes), never
 * raw request data.
 *
 * Threads: families and series are created under a mutex; updates are
 * lock-free atomics, so worker threads may bump a series the loop thread
 * created (series pointers stay valid until metrics_destroy). Rendering
 * reads the atomics: a scrape may see a histogram's count one observation
 * ahead of a bucket, which Prometheus tolerates.
 */
#ifndef LIAISON_COMMON_METRICS_H
#define LIAISON_COMMON_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#define METRICS_MAX_SERIES  1000
#define METRICS_MAX_LABELS  8
#define METRICS_MAX_BUCKETS 32

typedef struct metrics_t metrics_t;
typedef struct metrics_family_t metrics_family_t;
typedef struct metrics_series_t metrics_series_t;

metrics_t *metrics_new(void);
void metrics_destroy(metrics_t **self_p);

/* Register a family. Names follow [a-zA-Z_:][a-zA-Z0-9_:]*, label names
 * [a-zA-Z_][a-zA-Z0-9_]* (not "le" for a histogram). Registering a name
 * again returns the existing family if type and labels match, else NULL.
 * Returns NULL on a bad name or allocation failure. */
metrics_family_t *metrics_add_counter(metrics_t *self, const char *name, const char *help,
                                      const char *labels);
metrics_family_t *metrics_add_gauge(metrics_t *self, const char *name, const char *help,
                                    const char *labels);
/* buckets: strictly increasing upper bounds, without +Inf (added). NULL =
 * the default latency buckets 5ms .. 10s. */
metrics_family_t *metrics_add_histogram(metrics_t *self, const char *name, const char *help,
                                        const char *labels, const double *buckets,
                                        size_t n_buckets);

/* The series for these label values: exactly as many `const char *` as
 * the family has label names. Created on first use; NULL when the family
 * is NULL, the bound is reached or memory is short. */
metrics_series_t *metrics_series(metrics_family_t *family, ...);

/* Counters: inc / add (a negative amount is ignored). Gauges: set / add /
 * inc / dec. Histograms: observe. Each does nothing on NULL or on a series
 * of the wrong type. */
void metrics_inc(metrics_series_t *series);
void metrics_dec(metrics_series_t *series);
void metrics_add(metrics_series_t *series, double amount);
void metrics_set(metrics_series_t *series, double value);
void metrics_observe(metrics_series_t *series, double value);
/* The current value of a counter or gauge (tests, readiness logic). */
double metrics_value(metrics_series_t *series);

/* Called at the start of every render, so a daemon can refresh gauges it
 * computes on demand (stream lag, timers pending). Up to 16 hooks. */
typedef void(metrics_collect_fn)(metrics_t *self, void *arg);
int metrics_on_collect(metrics_t *self, metrics_collect_fn *fn, void *arg);
/* Remove a hook (its arg is about to go). */
void metrics_off_collect(metrics_t *self, metrics_collect_fn *fn, void *arg);

/* The whole registry in the text format, families in registration order.
 * Caller frees; NULL on allocation failure. */
char *metrics_render(metrics_t *self);

#endif
