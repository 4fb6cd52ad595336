/* domain_period — counting periods. See period.h. */
#include "domain/period.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "domain/explain.h"

static const char *s_unit_names[] = {"same-day", "days",     "workdays",
                                     "months",   "year-end", "periodic"};
static const char *s_direction_names[] = {"after", "before"};
static const char *s_roll_names[] = {"forward", "backward", "none"};

#define S_COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int s_lookup(const char *const *names, size_t n, const char *name)
{
    if (!name)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return (int)i;
    return -1;
}

const char *domain_unit_name(domain_unit_t unit)
{
    return (unsigned)unit < S_COUNT(s_unit_names) ? s_unit_names[unit] : "?";
}

int domain_unit_parse(const char *name, domain_unit_t *out)
{
    int i = s_lookup(s_unit_names, S_COUNT(s_unit_names), name);
    if (i < 0)
        return -1;
    *out = (domain_unit_t)i;
    return 0;
}

const char *domain_direction_name(domain_direction_t direction)
{
    return (unsigned)direction < S_COUNT(s_direction_names) ? s_direction_names[direction] : "?";
}

int domain_direction_parse(const char *name, domain_direction_t *out)
{
    int i = s_lookup(s_direction_names, S_COUNT(s_direction_names), name);
    if (i < 0)
        return -1;
    *out = (domain_direction_t)i;
    return 0;
}

const char *domain_roll_name(domain_roll_t roll)
{
    return (unsigned)roll < S_COUNT(s_roll_names) ? s_roll_names[roll] : "?";
}

int domain_roll_parse(const char *name, domain_roll_t *out)
{
    int i = s_lookup(s_roll_names, S_COUNT(s_roll_names), name);
    if (i < 0)
        return -1;
    *out = (domain_roll_t)i;
    return 0;
}

static void s_msg(char *err, size_t errsize, const char *fmt, ...)
{
    if (!err || errsize == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsize, fmt, ap);
    va_end(ap);
}

int domain_period_validate(const domain_period_t *period, char *err, size_t errsize)
{
    if (!period) {
        s_msg(err, errsize, "no period");
        return -1;
    }
    if ((unsigned)period->direction >= S_COUNT(s_direction_names)) {
        s_msg(err, errsize, "unknown direction %d", (int)period->direction);
        return -1;
    }
    if ((unsigned)period->roll >= S_COUNT(s_roll_names)) {
        s_msg(err, errsize, "unknown roll %d", (int)period->roll);
        return -1;
    }
    int max = 0;
    switch (period->unit) {
    case DOMAIN_UNIT_SAME_DAY:
    case DOMAIN_UNIT_YEAR_END:
    case DOMAIN_UNIT_PERIODIC:
        if (period->unit == DOMAIN_UNIT_PERIODIC
                ? period->amount < 1 || period->amount > DOMAIN_PERIOD_MAX_DAYS
                : period->amount != 0) {
            s_msg(err, errsize, "a %s period takes %s", domain_unit_name(period->unit),
                  period->unit == DOMAIN_UNIT_PERIODIC ? "an interval of 1 or more days"
                                                       : "no amount");
            return -1;
        }
        return 0;
    case DOMAIN_UNIT_DAYS:
        max = DOMAIN_PERIOD_MAX_DAYS;
        break;
    case DOMAIN_UNIT_WORKDAYS:
        max = DOMAIN_PERIOD_MAX_WORKDAYS;
        break;
    case DOMAIN_UNIT_MONTHS:
        max = DOMAIN_PERIOD_MAX_MONTHS;
        break;
    default:
        s_msg(err, errsize, "unknown unit %d", (int)period->unit);
        return -1;
    }
    if (period->amount < 1 || period->amount > max) {
        s_msg(err, errsize, "%s must be from 1 to %d, not %d", domain_unit_name(period->unit), max,
              period->amount);
        return -1;
    }
    return 0;
}

/* ---- the counting --------------------------------------------------------- */

typedef struct {
    domain_calendar_view_t view;
    bool provisional_ok;
    domain_explain_t *out;
} s_ctx_t;

static void s_fail(domain_explain_t *out, domain_due_status_t status, const char *fmt, ...)
{
    out->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->error, sizeof out->error, fmt, ap);
    va_end(ap);
}

static void s_note_year(domain_explain_t *out, const domain_calendar_t *cal, int year)
{
    for (size_t i = 0; i < out->nyears; i++)
        if (out->years[i] == year)
            return;
    if (out->nyears < DOMAIN_EXPLAIN_MAX_YEARS) {
        out->years[out->nyears] = year;
        out->notices[out->nyears] = domain_calendar_notice(cal, year);
        out->nyears++;
    }
}

/* The kind of day d, resolving an unknown year: an error, or (provisional)
 * the ordinary week. Returns -1 after recording the failure. */
static int s_kind(s_ctx_t *c, int32_t d, domain_day_kind_t *kind)
{
    domain_day_kind_t k = domain_calendar_view_kind(&c->view, d);
    if (k == DOMAIN_DAY_UNKNOWN) {
        domain_date_t date = domain_date_from_days(d);
        if (!c->provisional_ok) {
            char buf[DOMAIN_DATE_STRLEN];
            c->out->unknown_day = date;
            s_fail(c->out, DOMAIN_DUE_UNKNOWN_YEAR,
                   "the work calendar has no holiday notice for %d (needed for %s); add the State "
                   "Council's "
                   "notice for %d to the calendar file",
                   date.year, domain_date_format(date, buf), date.year);
            return -1;
        }
        if (!c->out->provisional) {
            c->out->provisional = true;
            c->out->unknown_day = date;
        }
        k = domain_date_weekday(date) >= DOMAIN_SATURDAY ? DOMAIN_DAY_WEEKEND : DOMAIN_DAY_WORK;
        *kind = k;
        return 0;
    }
    *kind = k;
    return 0;
}

static void s_skip(s_ctx_t *c, int32_t d, domain_day_kind_t kind)
{
    domain_explain_t *out = c->out;
    out->nskips_total++;
    if (out->nskips < DOMAIN_EXPLAIN_MAX_SKIPS) {
        domain_explain_skip_t *s = &out->skips[out->nskips++];
        s->date = domain_date_from_days(d);
        bool unknown = domain_calendar_view_kind(&c->view, d) == DOMAIN_DAY_UNKNOWN;
        s->kind = unknown ? DOMAIN_DAY_UNKNOWN : kind;
        s->name = unknown ? domain_weekday_name_zh(domain_date_weekday(s->date))
                          : domain_calendar_view_name(&c->view, d);
        s->court_override = false;
        if (c->view.court_override && !unknown) {
            domain_day_t national;
            domain_calendar_day(c->view.calendar, NULL, s->date, &national);
            s->court_override = national.kind != kind || strcmp(national.name, s->name) != 0;
        }
    }
}

static bool s_in_range(int64_t d)
{
    return d >= domain_date_min_days() && d <= domain_date_max_days();
}

/* Moves a rest last day to the next (or previous) working day. */
static int s_roll(s_ctx_t *c, int32_t *day, domain_roll_t roll)
{
    domain_day_kind_t k;
    if (s_kind(c, *day, &k) < 0)
        return -1;
    if (roll == DOMAIN_ROLL_NONE)
        return 0;
    int step = roll == DOMAIN_ROLL_BACKWARD ? -1 : 1;
    /* The longest run of rest days is bounded by the calendar (a holiday
     * range is at most 31 days), so this loop ends; the range check keeps an
     * unbounded provisional run from leaving the supported dates. */
    while (domain_day_kind_is_rest(k)) {
        s_skip(c, *day, k);
        if (!s_in_range((int64_t)*day + step)) {
            s_fail(c->out, DOMAIN_DUE_OUT_OF_RANGE, "the due date would leave the supported dates");
            return -1;
        }
        *day += step;
        if (s_kind(c, *day, &k) < 0)
            return -1;
    }
    return 0;
}

int domain_period_due(const domain_calendar_t *calendar, const char *court,
                      const domain_period_t *period, domain_date_t trigger, unsigned flags,
                      domain_explain_t *out)
{
    out->status = DOMAIN_DUE_OK;
    out->error[0] = '\0';
    out->court = court;
    out->trigger = trigger;
    out->nskips = out->nskips_total = 0;
    out->nyears = 0;
    out->provisional = false;
    out->has_instant = false;
    if (period)
        out->period = *period;
    if (!calendar) {
        s_fail(out, DOMAIN_DUE_INVALID, "no work calendar");
        return -1;
    }
    out->calendar_version = domain_calendar_version(calendar);
    if (!domain_date_valid(trigger)) {
        s_fail(out, DOMAIN_DUE_INVALID, "the trigger is not a valid date");
        return -1;
    }
    if (domain_period_validate(period, out->error, sizeof out->error) < 0) {
        out->status = DOMAIN_DUE_INVALID;
        return -1;
    }
    if (period->unit == DOMAIN_UNIT_PERIODIC) {
        s_fail(out, DOMAIN_DUE_NO_DATE, "a periodic rule (every %d days) has no single due date",
               period->amount);
        return -1;
    }
    s_ctx_t c = {.provisional_ok = (flags & DOMAIN_DUE_PROVISIONAL) != 0, .out = out};
    domain_calendar_view(calendar, court, &c.view);

    int32_t t = domain_date_to_days(trigger);
    int sign = period->direction == DOMAIN_DIRECTION_BEFORE ? -1 : 1;
    int64_t nominal = t;
    domain_date_t nd;
    switch (period->unit) {
    case DOMAIN_UNIT_SAME_DAY:
        break;
    case DOMAIN_UNIT_DAYS:
        nominal = (int64_t)t + sign * period->amount;
        break;
    case DOMAIN_UNIT_MONTHS:
        /* Counted from the trigger day itself, never from the day after:
         * Jan 31 + 1 month is Feb 28/29, not Mar 1 (DOMAIN.md §4.1). */
        if (domain_date_add_months(trigger, sign * period->amount, &nd) < 0) {
            s_fail(out, DOMAIN_DUE_OUT_OF_RANGE, "the due date would leave the supported dates");
            return -1;
        }
        nominal = domain_date_to_days(nd);
        break;
    case DOMAIN_UNIT_YEAR_END:
        nominal = domain_date_to_days(domain_date(trigger.year, 12, 31));
        break;
    case DOMAIN_UNIT_WORKDAYS: {
        /* Count working days one by one from the day after the trigger; rest
         * days are passed over and recorded. The N-th working day is the
         * last day, so no roll applies. */
        int32_t d = t;
        int counted = 0;
        while (counted < period->amount) {
            if (!s_in_range((int64_t)d + sign)) {
                s_fail(out, DOMAIN_DUE_OUT_OF_RANGE,
                       "the due date would leave the supported dates");
                return -1;
            }
            d += sign;
            domain_day_kind_t k;
            if (s_kind(&c, d, &k) < 0)
                return -1;
            if (domain_day_kind_is_rest(k))
                s_skip(&c, d, k);
            else
                counted++;
        }
        out->nominal = out->due = domain_date_from_days(d);
        goto done;
    }
    default:
        s_fail(out, DOMAIN_DUE_INVALID, "unknown unit");
        return -1;
    }
    if (!s_in_range(nominal)) {
        s_fail(out, DOMAIN_DUE_OUT_OF_RANGE, "the due date would leave the supported dates");
        return -1;
    }
    out->nominal = domain_date_from_days((int32_t)nominal);
    int32_t due = (int32_t)nominal;
    if (s_roll(&c, &due, period->roll) < 0)
        return -1;
    out->due = domain_date_from_days(due);
done:
    /* The notices relied on: every year from the nominal day to the due day. */
    {
        int y0 = out->nominal.year < out->due.year ? out->nominal.year : out->due.year;
        int y1 = out->nominal.year < out->due.year ? out->due.year : out->nominal.year;
        if (period->unit == DOMAIN_UNIT_WORKDAYS) {
            /* every day from the one after the trigger was looked at */
            int first = domain_date_from_days(t + sign).year;
            y0 = first < y0 ? first : y0;
            y1 = first > y1 ? first : y1;
        }
        for (int y = y0; y <= y1; y++)
            s_note_year(out, calendar, y);
    }
    return 0;
}

int domain_period_due_at(const domain_calendar_t *calendar, const char *court,
                         const domain_zone_t *zone, const domain_period_t *period,
                         int64_t trigger_instant, unsigned flags, domain_explain_t *out)
{
    domain_date_t trigger;
    if (!zone || domain_zone_local_date(zone, trigger_instant, &trigger) < 0) {
        out->status = DOMAIN_DUE_INVALID;
        snprintf(out->error, sizeof out->error,
                 "the trigger instant has no court-local date in zone %s",
                 zone ? zone->name : "(none)");
        return -1;
    }
    if (domain_period_due(calendar, court, period, trigger, flags, out) < 0)
        return -1;
    out->zone = *zone;
    if (domain_zone_end_of_day(zone, out->due, &out->due_instant) < 0) {
        s_fail(out, DOMAIN_DUE_OUT_OF_RANGE, "the due day's end is outside zone %s's known offsets",
               zone->name);
        return -1;
    }
    out->has_instant = true;
    return 0;
}
