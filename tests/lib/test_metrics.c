/* test_metrics — see test_metrics.h. */
#include "test_metrics.h"

#include <stdlib.h>
#include <string.h>

double test_metric_value(const char *text, const char *series)
{
    size_t len = strlen(series);
    for (const char *p = text; p && *p;) {
        if (strncmp(p, series, len) == 0 && p[len] == ' ')
            return strtod(p + len + 1, NULL);
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return -1;
}
