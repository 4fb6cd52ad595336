/* metrics — see metrics.h. */
#include "common/metrics.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { M_COUNTER, M_GAUGE, M_HISTOGRAM } mtype_t;

/* A double kept in an atomic 64-bit word: C17 has no atomic add on
 * floating types, so add is a compare-and-swap loop on the bits. */
typedef _Atomic uint64_t adouble_t;

static double ad_load(adouble_t *a)
{
    uint64_t bits = atomic_load_explicit(a, memory_order_relaxed);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static void ad_store(adouble_t *a, double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    atomic_store_explicit(a, bits, memory_order_relaxed);
}

static void ad_add(adouble_t *a, double d)
{
    uint64_t old = atomic_load_explicit(a, memory_order_relaxed), new_bits;
    do {
        double v;
        memcpy(&v, &old, sizeof v);
        v += d;
        memcpy(&new_bits, &v, sizeof new_bits);
    } while (!atomic_compare_exchange_weak_explicit(a, &old, new_bits, memory_order_relaxed,
                                                    memory_order_relaxed));
}

struct metrics_series_t {
    metrics_family_t *family;
    char **values;
    adouble_t value;           /* counter, gauge; histogram: sum */
    _Atomic uint64_t count;    /* histogram */
    _Atomic uint64_t *buckets; /* histogram: non-cumulative counts, n_buckets + 1 (+Inf) */
    metrics_series_t *next;
};

struct metrics_family_t {
    mtype_t type;
    char *name;
    char *help;
    char *labels[METRICS_MAX_LABELS];
    size_t n_labels;
    double *bounds;
    size_t n_bounds;
    pthread_mutex_t lock;
    metrics_series_t *series, *last;
    size_t n_series;
    metrics_family_t *next;
};

struct metrics_t {
    pthread_mutex_t lock;
    metrics_family_t *families, *last;
    struct {
        metrics_collect_fn *fn;
        void *arg;
    } hooks[16];
    size_t n_hooks;
};

static const double s_default_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

metrics_t *metrics_new(void)
{
    metrics_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init(&self->lock, NULL);
    return self;
}

static void series_free(metrics_series_t *s, size_t n_labels)
{
    if (!s)
        return;
    for (size_t i = 0; i < n_labels && s->values; i++)
        free(s->values[i]);
    free(s->values);
    free((void *)s->buckets);
    free(s);
}

static void family_free(metrics_family_t *f)
{
    if (!f)
        return;
    metrics_series_t *s = f->series;
    while (s) {
        metrics_series_t *next = s->next;
        series_free(s, f->n_labels);
        s = next;
    }
    for (size_t i = 0; i < f->n_labels; i++)
        free(f->labels[i]);
    pthread_mutex_destroy(&f->lock);
    free(f->bounds);
    free(f->name);
    free(f->help);
    free(f);
}

void metrics_destroy(metrics_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    metrics_t *self = *self_p;
    metrics_family_t *f = self->families;
    while (f) {
        metrics_family_t *next = f->next;
        family_free(f);
        f = next;
    }
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

static bool name_ok(const char *s, bool colon)
{
    if (!s || !*s || isdigit((unsigned char)*s))
        return false;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_' || (colon && *s == ':')))
            return false;
    return true;
}

static metrics_series_t *series_new(metrics_family_t *f, const char *const *values)
{
    metrics_series_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->family = f;
    if (f->n_labels) {
        s->values = calloc(f->n_labels, sizeof *s->values);
        if (!s->values)
            goto fail;
        for (size_t i = 0; i < f->n_labels; i++)
            if (!(s->values[i] = strdup(values[i] ? values[i] : "")))
                goto fail;
    }
    if (f->type == M_HISTOGRAM) {
        s->buckets = calloc(f->n_bounds + 1, sizeof *s->buckets);
        if (!s->buckets)
            goto fail;
    }
    return s;
fail:
    series_free(s, f->n_labels);
    return NULL;
}

static metrics_family_t *add_family(metrics_t *self, mtype_t type, const char *name,
                                    const char *help, const char *labels, const double *bounds,
                                    size_t n_bounds)
{
    if (!self || !name_ok(name, true))
        return NULL;
    metrics_family_t *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    pthread_mutex_init(&f->lock, NULL);
    f->type = type;
    if (!(f->name = strdup(name)) || !(f->help = strdup(help ? help : "")))
        goto fail;
    if (labels && *labels) {
        const char *p = labels;
        while (*p) {
            size_t len = strcspn(p, ",");
            if (f->n_labels == METRICS_MAX_LABELS)
                goto fail;
            char *label = strndup(p, len);
            if (!label)
                goto fail;
            f->labels[f->n_labels++] = label;
            if (!name_ok(label, false) || strncmp(label, "__", 2) == 0 ||
                (type == M_HISTOGRAM && strcmp(label, "le") == 0))
                goto fail;
            p += len;
            if (*p == ',')
                p++;
        }
    }
    if (type == M_HISTOGRAM) {
        if (!bounds) {
            bounds = s_default_buckets;
            n_bounds = sizeof s_default_buckets / sizeof s_default_buckets[0];
        }
        if (n_bounds == 0 || n_bounds > METRICS_MAX_BUCKETS)
            goto fail;
        for (size_t i = 0; i < n_bounds; i++)
            if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
                goto fail;
        if (!(f->bounds = malloc(n_bounds * sizeof *f->bounds)))
            goto fail;
        memcpy(f->bounds, bounds, n_bounds * sizeof *f->bounds);
        f->n_bounds = n_bounds;
    }

    pthread_mutex_lock(&self->lock);
    for (metrics_family_t *g = self->families; g; g = g->next) {
        if (strcmp(g->name, name) != 0)
            continue;
        bool same = g->type == type && g->n_labels == f->n_labels && g->n_bounds == f->n_bounds;
        for (size_t i = 0; same && i < f->n_labels; i++)
            same = strcmp(g->labels[i], f->labels[i]) == 0;
        pthread_mutex_unlock(&self->lock);
        family_free(f);
        return same ? g : NULL;
    }
    /* a family without labels has its one series from the start, so it
     * renders as 0 before the first event */
    if (f->n_labels == 0) {
        f->series = f->last = series_new(f, NULL);
        if (!f->series) {
            pthread_mutex_unlock(&self->lock);
            goto fail;
        }
        f->n_series = 1;
    }
    if (self->last)
        self->last->next = f;
    else
        self->families = f;
    self->last = f;
    pthread_mutex_unlock(&self->lock);
    return f;

fail:
    family_free(f);
    return NULL;
}

metrics_family_t *metrics_add_counter(metrics_t *self, const char *name, const char *help,
                                      const char *labels)
{
    return add_family(self, M_COUNTER, name, help, labels, NULL, 0);
}

metrics_family_t *metrics_add_gauge(metrics_t *self, const char *name, const char *help,
                                    const char *labels)
{
    return add_family(self, M_GAUGE, name, help, labels, NULL, 0);
}

metrics_family_t *metrics_add_histogram(metrics_t *self, const char *name, const char *help,
                                        const char *labels, const double *buckets, size_t n_buckets)
{
    return add_family(self, M_HISTOGRAM, name, help, labels, buckets, n_buckets);
}

metrics_series_t *metrics_series(metrics_family_t *f, ...)
{
    if (!f)
        return NULL;
    const char *values[METRICS_MAX_LABELS] = {0};
    va_list ap;
    va_start(ap, f);
    for (size_t i = 0; i < f->n_labels; i++) {
        values[i] = va_arg(ap, const char *);
        if (!values[i])
            values[i] = "";
    }
    va_end(ap);

    pthread_mutex_lock(&f->lock);
    metrics_series_t *s;
    for (s = f->series; s; s = s->next) {
        size_t i = 0;
        while (i < f->n_labels && strcmp(s->values[i], values[i]) == 0)
            i++;
        if (i == f->n_labels)
            break;
    }
    if (!s && f->n_series < METRICS_MAX_SERIES && (s = series_new(f, values))) {
        if (f->last)
            f->last->next = s;
        else
            f->series = s;
        f->last = s;
        f->n_series++;
    }
    pthread_mutex_unlock(&f->lock);
    return s;
}

void metrics_inc(metrics_series_t *s)
{
    metrics_add(s, 1);
}

void metrics_dec(metrics_series_t *s)
{
    if (s && s->family->type == M_GAUGE)
        ad_add(&s->value, -1);
}

void metrics_add(metrics_series_t *s, double amount)
{
    if (!s || s->family->type == M_HISTOGRAM || isnan(amount))
        return;
    if (s->family->type == M_COUNTER && amount < 0)
        return; /* a counter only goes up */
    ad_add(&s->value, amount);
}

void metrics_set(metrics_series_t *s, double value)
{
    if (s && s->family->type == M_GAUGE)
        ad_store(&s->value, value);
}

void metrics_observe(metrics_series_t *s, double value)
{
    if (!s || s->family->type != M_HISTOGRAM || isnan(value))
        return;
    metrics_family_t *f = s->family;
    size_t i = 0;
    while (i < f->n_bounds && value > f->bounds[i])
        i++;
    atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
    ad_add(&s->value, value);
    atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
}

double metrics_value(metrics_series_t *s)
{
    if (!s)
        return 0;
    if (s->family->type == M_HISTOGRAM)
        return (double)atomic_load_explicit(&s->count, memory_order_relaxed);
    return ad_load(&s->value);
}

int metrics_on_collect(metrics_t *self, metrics_collect_fn *fn, void *arg)
{
    pthread_mutex_lock(&self->lock);
    int rc = -1;
    if (self->n_hooks < sizeof self->hooks / sizeof self->hooks[0]) {
        self->hooks[self->n_hooks].fn = fn;
        self->hooks[self->n_hooks].arg = arg;
        self->n_hooks++;
        rc = 0;
    }
    pthread_mutex_unlock(&self->lock);
    return rc;
}

void metrics_off_collect(metrics_t *self, metrics_collect_fn *fn, void *arg)
{
    if (!self)
        return;
    pthread_mutex_lock(&self->lock);
    for (size_t i = 0; i < self->n_hooks; i++)
        if (self->hooks[i].fn == fn && self->hooks[i].arg == arg) {
            memmove(&self->hooks[i], &self->hooks[i + 1],
                    (self->n_hooks - i - 1) * sizeof self->hooks[0]);
            self->n_hooks--;
            break;
        }
    pthread_mutex_unlock(&self->lock);
}

/* ---- rendering ---------------------------------------------------------- */

/* Shortest text that reads back as the same double; Prometheus spellings
 * for the infinities and NaN. */
static void fmt_double(char *buf, size_t size, double v)
{
    if (isnan(v)) {
        snprintf(buf, size, "NaN");
    } else if (isinf(v)) {
        snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
    } else if (v == (double)(int64_t)v && fabs(v) < 1e15) {
        snprintf(buf, size, "%lld", (long long)v);
    } else {
        for (int prec = 6; prec <= 17; prec++) {
            snprintf(buf, size, "%.*g", prec, v);
            if (strtod(buf, NULL) == v)
                return;
        }
    }
}

/* HELP text escapes \ and newline; label values also escape ". */
static void put_escaped(FILE *out, const char *s, bool quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\\\", out);
        else if (*s == '\n')
            fputs("\\n", out);
        else if (quote && *s == '"')
            fputs("\\\"", out);
        else
            fputc(*s, out);
    }
}

static void put_labels(FILE *out, const metrics_family_t *f, const metrics_series_t *s,
                       const char *le)
{
    if (f->n_labels == 0 && !le)
        return;
    fputc('{', out);
    for (size_t i = 0; i < f->n_labels; i++) {
        if (i)
            fputc(',', out);
        fprintf(out, "%s=\"", f->labels[i]);
        put_escaped(out, s->values[i], true);
        fputc('"', out);
    }
    if (le)
        fprintf(out, "%sle=\"%s\"", f->n_labels ? "," : "", le);
    fputc('}', out);
}

static void render_family(FILE *out, metrics_family_t *f)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    fprintf(out, "# HELP %s ", f->name);
    put_escaped(out, f->help, false);
    fprintf(out, "\n# TYPE %s %s\n", f->name, types[f->type]);
    char num[64];
    pthread_mutex_lock(&f->lock);
    for (metrics_series_t *s = f->series; s; s = s->next) {
        if (f->type != M_HISTOGRAM) {
            fputs(f->name, out);
            put_labels(out, f, s, NULL);
            fmt_double(num, sizeof num, ad_load(&s->value));
            fprintf(out, " %s\n", num);
            continue;
        }
        uint64_t cumulative = 0;
        for (size_t i = 0; i <= f->n_bounds; i++) {
            cumulative += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
            char le[64];
            if (i < f->n_bounds)
                fmt_double(le, sizeof le, f->bounds[i]);
            else
                snprintf(le, sizeof le, "+Inf");
            fprintf(out, "%s_bucket", f->name);
            put_labels(out, f, s, le);
            fprintf(out, " %llu\n", (unsigned long long)cumulative);
        }
        fprintf(out, "%s_sum", f->name);
        put_labels(out, f, s, NULL);
        fmt_double(num, sizeof num, ad_load(&s->value));
        fprintf(out, " %s\n", num);
        fprintf(out, "%s_count", f->name);
        put_labels(out, f, s, NULL);
        /* the +Inf bucket and _count must agree: use the bucket total */
        fprintf(out, " %llu\n", (unsigned long long)cumulative);
    }
    pthread_mutex_unlock(&f->lock);
}

char *metrics_render(metrics_t *self)
{
    pthread_mutex_lock(&self->lock);
    size_t n_hooks = self->n_hooks;
    pthread_mutex_unlock(&self->lock);
    for (size_t i = 0; i < n_hooks; i++)
        self->hooks[i].fn(self, self->hooks[i].arg);

    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out)
        return NULL;
    pthread_mutex_lock(&self->lock);
    for (metrics_family_t *f = self->families; f; f = f->next)
        render_family(out, f);
    pthread_mutex_unlock(&self->lock);
    if (fclose(out) != 0) {
        free(text);
        return NULL;
    }
    return text;
}
