/* domain_explain — rendering a due date's reasoning. See explain.h. */
#include "domain/explain.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *domain_due_status_name(domain_due_status_t status)
{
    switch (status) {
    case DOMAIN_DUE_OK:
        return "ok";
    case DOMAIN_DUE_INVALID:
        return "invalid";
    case DOMAIN_DUE_UNKNOWN_YEAR:
        return "unknown-year";
    case DOMAIN_DUE_OUT_OF_RANGE:
        return "out-of-range";
    case DOMAIN_DUE_NO_DATE:
        return "no-date";
    }
    return "?";
}

void domain_explain_reset(domain_explain_t *self)
{
    memset(self, 0, sizeof *self);
}

/* A growable string; on allocation failure it remembers and stops. */
typedef struct {
    char *buf;
    size_t len, cap;
    bool failed;
} s_buf_t;

static void s_add(s_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void s_add(s_buf_t *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = true;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap + (size_t)n + 1) * 2;
        char *p = realloc(b->buf, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->buf = p;
        b->cap = cap;
    }
}

static const char *s_kind_text(domain_day_kind_t kind)
{
    switch (kind) {
    case DOMAIN_DAY_WEEKEND:
        return "weekend";
    case DOMAIN_DAY_HOLIDAY:
        return "holiday";
    case DOMAIN_DAY_MAKEUP_WORK:
        return "make-up working day";
    case DOMAIN_DAY_WORK:
        return "working day";
    case DOMAIN_DAY_UNKNOWN:
        break;
    }
    return "unknown year, counted as an ordinary week";
}

static void s_unit(s_buf_t *b, const domain_period_t *p)
{
    const char *dir = p->direction == DOMAIN_DIRECTION_BEFORE ? "before" : "after";
    switch (p->unit) {
    case DOMAIN_UNIT_SAME_DAY:
        s_add(b, "unit: the same day (当日)");
        break;
    case DOMAIN_UNIT_DAYS:
        s_add(b, "unit: %d calendar day%s %s the trigger (日, rest days inside are not deducted)",
              p->amount, p->amount == 1 ? "" : "s", dir);
        break;
    case DOMAIN_UNIT_WORKDAYS:
        s_add(b, "unit: %d working day%s %s the trigger (工作日, rest days are not counted)",
              p->amount, p->amount == 1 ? "" : "s", dir);
        break;
    case DOMAIN_UNIT_MONTHS:
        s_add(
            b,
            "unit: %d month%s %s the trigger (个月: the same day-number, or the month's last day)",
            p->amount, p->amount == 1 ? "" : "s", dir);
        break;
    case DOMAIN_UNIT_YEAR_END:
        s_add(b, "unit: the end of the trigger's year (十二月底前)");
        break;
    case DOMAIN_UNIT_PERIODIC:
        s_add(b, "unit: every %d days (定期)", p->amount);
        break;
    }
    if (p->unit != DOMAIN_UNIT_WORKDAYS && p->unit != DOMAIN_UNIT_PERIODIC) {
        switch (p->roll) {
        case DOMAIN_ROLL_FORWARD:
            s_add(b, "; a rest last day moves to the next working day");
            break;
        case DOMAIN_ROLL_BACKWARD:
            s_add(b, "; a rest last day moves back to the previous working day");
            break;
        case DOMAIN_ROLL_NONE:
            s_add(b, "; a rest last day is kept");
            break;
        }
    }
    s_add(b, "\n");
}

char *domain_explain_text(const domain_explain_t *self)
{
    s_buf_t b = {0};
    char d1[DOMAIN_DATE_STRLEN], d2[DOMAIN_DATE_STRLEN];
    if (!self)
        return NULL;
    s_add(&b, "trigger: %s (%s)", domain_date_format(self->trigger, d1),
          domain_weekday_name(domain_date_valid(self->trigger) ? domain_date_weekday(self->trigger)
                                                               : 0));
    if (self->trigger_name)
        s_add(&b, " %s", self->trigger_name);
    s_add(&b, ", not counted (开始的当日不计入)\n");
    if (self->rule)
        s_add(&b, "rule: %s — %s (%s)\n", self->rule, self->title ? self->title : "",
              self->article ? self->article : "no article");
    else
        s_add(&b, "rule: (a period given directly)\n");
    s_add(&b, "court: %s\n", self->court ? self->court : "(national calendar)");
    s_unit(&b, &self->period);
    if (self->status != DOMAIN_DUE_OK) {
        s_add(&b, "refused (%s): %s\n", domain_due_status_name(self->status), self->error);
    } else {
        bool wd = self->period.unit == DOMAIN_UNIT_WORKDAYS;
        if (!wd)
            s_add(&b, "nominal last day: %s (%s)\n", domain_date_format(self->nominal, d1),
                  domain_weekday_name(domain_date_weekday(self->nominal)));
        for (size_t i = 0; i < self->nskips; i++) {
            const domain_explain_skip_t *s = &self->skips[i];
            s_add(&b, "%s: %s (%s) %s, %s%s\n", wd ? "passed over" : "rolled over",
                  domain_date_format(s->date, d1),
                  domain_weekday_name(domain_date_weekday(s->date)), s->name ? s->name : "",
                  s_kind_text(s->kind), s->court_override ? " (the court's own rest day)" : "");
        }
        if (self->nskips_total > self->nskips)
            s_add(&b, "… and %zu more rest day%s\n", self->nskips_total - self->nskips,
                  self->nskips_total - self->nskips == 1 ? "" : "s");
        if (!wd && self->nskips_total == 0)
            s_add(&b, "no roll: the nominal last day is a working day\n");
        s_add(&b, "due: %s (%s), ends 24:00 court-local", domain_date_format(self->due, d2),
              domain_weekday_name(domain_date_weekday(self->due)));
        if (self->has_instant) {
            int64_t t = self->due_instant;
            int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
            int64_t sod = t - days * 86400;
            if (days >= domain_date_min_days() && days <= domain_date_max_days())
                s_add(&b, " = %sT%02d:%02d:00Z (%s)",
                      domain_date_format(domain_date_from_days((int32_t)days), d1),
                      (int)(sod / 3600), (int)(sod % 3600 / 60), self->zone.name);
        }
        s_add(&b, "\n");
        if (self->provisional)
            s_add(&b,
                  "PROVISIONAL: the calendar has no holiday notice for %d; from %s days were "
                  "counted as an "
                  "ordinary week and may change when the notice is added\n",
                  self->unknown_day.year, domain_date_format(self->unknown_day, d1));
    }
    s_add(&b, "calendar: version %s\n",
          self->calendar_version && *self->calendar_version ? self->calendar_version : "(none)");
    for (size_t i = 0; i < self->nyears; i++)
        s_add(&b, "  %d: %s\n", self->years[i],
              self->notices[i] ? self->notices[i] : "no notice (unknown year)");
    if (b.failed || !b.buf) {
        free(b.buf);
        return NULL;
    }
    return b.buf;
}
