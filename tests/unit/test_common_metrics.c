/* metrics: the Prometheus text format, label bounds, threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/metrics.h"

static void test_counter_and_gauge(void **state)
{
    metrics_t *m = metrics_new();
    metrics_family_t *c = metrics_add_counter(m, "liaison_items_total", "Items registered.", NULL);
    metrics_family_t *g = metrics_add_gauge(m, "liaison_lag", "Consumer lag.", "stream");
    assert_non_null(c);
    assert_non_null(g);
    metrics_series_t *s = metrics_series(c);
    metrics_inc(s);
    metrics_add(s, 2.5);
    metrics_add(s, -10); /* ignored: counters only go up */
    assert_true(metrics_value(s) == 3.5);
    metrics_set(metrics_series(g, "intake"), 42);
    metrics_series_t *r = metrics_series(g, "routing");
    metrics_inc(r);
    metrics_inc(r);
    metrics_dec(r);
    char *text = metrics_render(m);
    assert_string_equal("# HELP liaison_items_total Items registered.\n"
                        "# TYPE liaison_items_total counter\n"
                        "liaison_items_total 3.5\n"
                        "# HELP liaison_lag Consumer lag.\n"
                        "# TYPE liaison_lag gauge\n"
                        "liaison_lag{stream=\"intake\"} 42\n"
                        "liaison_lag{stream=\"routing\"} 1\n",
                        text);
    free(text);
    metrics_destroy(&m);
    assert_null(m);
}

static void test_unlabelled_counter_renders_zero(void **state)
{
    metrics_t *m = metrics_new();
    metrics_add_counter(m, "liaison_restarts_total", "Restarts.", NULL);
    char *text = metrics_render(m);
    assert_non_null(strstr(text, "\nliaison_restarts_total 0\n"));
    free(text);
    metrics_destroy(&m);
}

static void test_histogram(void **state)
{
    metrics_t *m = metrics_new();
    const double b[] = {0.1, 0.5, 1};
    metrics_family_t *h =
        metrics_add_histogram(m, "liaison_http_seconds", "Latency.", "route", b, 3);
    metrics_series_t *s = metrics_series(h, "/healthz");
    metrics_observe(s, 0.05);
    metrics_observe(s, 0.1); /* le is inclusive */
    metrics_observe(s, 0.7);
    metrics_observe(s, 3);
    char *text = metrics_render(m);
    assert_string_equal("# HELP liaison_http_seconds Latency.\n"
                        "# TYPE liaison_http_seconds histogram\n"
                        "liaison_http_seconds_bucket{route=\"/healthz\",le=\"0.1\"} 2\n"
                        "liaison_http_seconds_bucket{route=\"/healthz\",le=\"0.5\"} 2\n"
                        "liaison_http_seconds_bucket{route=\"/healthz\",le=\"1\"} 3\n"
                        "liaison_http_seconds_bucket{route=\"/healthz\",le=\"+Inf\"} 4\n"
                        "liaison_http_seconds_sum{route=\"/healthz\"} 3.85\n"
                        "liaison_http_seconds_count{route=\"/healthz\"} 4\n",
                        text);
    free(text);
    assert_true(metrics_value(s) == 4);

    /* default buckets, no labels */
    metrics_family_t *d = metrics_add_histogram(m, "liaison_tx_seconds", "Tx.", NULL, NULL, 0);
    metrics_observe(metrics_series(d), 0.002);
    text = metrics_render(m);
    assert_non_null(strstr(text, "liaison_tx_seconds_bucket{le=\"0.005\"} 1\n"));
    assert_non_null(strstr(text, "liaison_tx_seconds_bucket{le=\"10\"} 1\n"));
    assert_non_null(strstr(text, "liaison_tx_seconds_bucket{le=\"+Inf\"} 1\n"));
    assert_non_null(strstr(text, "liaison_tx_seconds_count 1\n"));
    free(text);
    metrics_destroy(&m);
}

static void test_escaping(void **state)
{
    metrics_t *m = metrics_new();
    metrics_family_t *c =
        metrics_add_counter(m, "liaison_errors_total", "Errors \\ by\nkind \"x\".", "kind");
    metrics_inc(metrics_series(c, "quote\" slash\\ nl\n 法院"));
    char *text = metrics_render(m);
    assert_string_equal("# HELP liaison_errors_total Errors \\\\ by\\nkind \"x\".\n"
                        "# TYPE liaison_errors_total counter\n"
                        "liaison_errors_total{kind=\"quote\\\" slash\\\\ nl\\n 法院\"} 1\n",
                        text);
    free(text);
    metrics_destroy(&m);
}

static void test_bad_names_and_reregistration(void **state)
{
    metrics_t *m = metrics_new();
    assert_null(metrics_add_counter(m, "9lives", "", NULL));
    assert_null(metrics_add_counter(m, "has-dash", "", NULL));
    assert_null(metrics_add_counter(m, "ok", "", "bad-label"));
    assert_null(metrics_add_counter(m, "ok2", "", "__reserved"));
    assert_null(metrics_add_histogram(m, "h", "", "le", NULL, 0));
    const double unsorted[] = {1, 0.5};
    assert_null(metrics_add_histogram(m, "h2", "", NULL, unsorted, 2));
    metrics_family_t *a = metrics_add_counter(m, "x_total", "X.", "a,b");
    assert_non_null(a);
    assert_ptr_equal(a, metrics_add_counter(m, "x_total", "X.", "a,b"));
    assert_null(metrics_add_gauge(m, "x_total", "X.", "a,b"));
    assert_null(metrics_add_counter(m, "x_total", "X.", "a"));
    /* NULL everywhere is harmless */
    metrics_inc(metrics_series(NULL));
    metrics_observe(NULL, 1);
    /* wrong type: ignored */
    metrics_observe(metrics_series(a, "1", "2"), 5);
    metrics_set(metrics_series(a, "1", "2"), 5);
    assert_true(metrics_value(metrics_series(a, "1", "2")) == 0);
    metrics_destroy(&m);
}

static void test_series_are_bounded(void **state)
{
    metrics_t *m = metrics_new();
    metrics_family_t *c = metrics_add_counter(m, "per_path_total", "", "path");
    char label[32];
    for (int i = 0; i < METRICS_MAX_SERIES; i++) {
        snprintf(label, sizeof label, "/p%d", i);
        assert_non_null(metrics_series(c, label));
    }
    assert_null(metrics_series(c, "/one-too-many"));
    /* existing ones are still found */
    assert_non_null(metrics_series(c, "/p0"));
    metrics_destroy(&m);
}

static metrics_series_t *s_shared;

static void *bump(void *arg)
{
    for (int i = 0; i < 100000; i++)
        metrics_inc(s_shared);
    return NULL;
}

static void test_threads(void **state)
{
    metrics_t *m = metrics_new();
    s_shared = metrics_series(metrics_add_counter(m, "bumps_total", "", NULL));
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, bump, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_true(metrics_value(s_shared) == 400000);
    metrics_destroy(&m);
}

static int s_collects;
static void collect(metrics_t *m, void *arg)
{
    s_collects++;
    metrics_set(arg, 7);
}

static void test_collect_hook(void **state)
{
    metrics_t *m = metrics_new();
    metrics_series_t *g = metrics_series(metrics_add_gauge(m, "timers_pending", "", NULL));
    assert_int_equal(0, metrics_on_collect(m, collect, g));
    char *text = metrics_render(m);
    assert_int_equal(1, s_collects);
    assert_non_null(strstr(text, "timers_pending 7\n"));
    free(text);
    metrics_destroy(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_and_gauge),
        cmocka_unit_test(test_unlabelled_counter_renders_zero),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_bad_names_and_reregistration),
        cmocka_unit_test(test_series_are_bounded),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_collect_hook),
    };
    return cmocka_run_group_tests_name("common_metrics", tests, NULL, NULL);
}
