/* test_metrics — read one series out of a /metrics page (Prometheus text). */
#ifndef LIAISON_TESTS_LIB_TEST_METRICS_H
#define LIAISON_TESTS_LIB_TEST_METRICS_H

/* The value of the line that starts with `series` (its name and labels as
 * rendered, e.g. `liaison_workpool_queued{pool="intake"}`); -1 when there
 * is none or text is NULL. */
double test_metric_value(const char *text, const char *series);

#endif
