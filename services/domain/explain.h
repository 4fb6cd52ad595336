/* domain_explain — why a due date is what it is.
 *
 * Every computed due date carries its reasoning (issue: "Explanation"): the
 * trigger, the rule and its article, the unit, the nominal last day, each rest
 * day rolled over or passed over and why (holiday name or weekend), and the
 * calendar version and notices it relied on. The deadline service stores the
 * rendered text with the deadline; `liaisonctl due --explain` prints it.
 *
 * Strings in the struct are borrowed: names from the calendar, rule texts from
 * the rules table (static), the court from the caller. Render or copy an
 * explanation before destroying the calendar it came from. */
#ifndef LIAISON_DOMAIN_EXPLAIN_H
#define LIAISON_DOMAIN_EXPLAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/calendar.h"
#include "domain/date.h"
#include "domain/period.h"

typedef enum {
    DOMAIN_DUE_OK = 0,
    DOMAIN_DUE_INVALID,      /* bad input: date, period, rule */
    DOMAIN_DUE_UNKNOWN_YEAR, /* needs a day of a year the calendar has no notice for */
    DOMAIN_DUE_OUT_OF_RANGE, /* would leave the supported dates */
    DOMAIN_DUE_NO_DATE,      /* the rule has no single due date (periodic) */
} domain_due_status_t;

/* Stable names: "ok", "invalid", "unknown-year", "out-of-range", "no-date". */
const char *domain_due_status_name(domain_due_status_t status);

#define DOMAIN_EXPLAIN_MAX_SKIPS 64
#define DOMAIN_EXPLAIN_MAX_YEARS 8

typedef struct {
    domain_date_t date;
    domain_day_kind_t kind; /* WEEKEND or HOLIDAY (or UNKNOWN when provisional) */
    const char *name;       /* "春节", "周六" … */
    bool court_override;
} domain_explain_skip_t;

typedef struct domain_explain {
    /* the question */
    const char *rule;         /* rule id ("transfer"), NULL for an ad-hoc period */
    const char *title;        /* the rule in the regulation's words */
    const char *article;      /* "Art. 15" */
    const char *trigger_name; /* "approval date (审批之日)" */
    const char *court;        /* NULL: national calendar */
    domain_date_t trigger;
    domain_period_t period;
    /* the answer */
    domain_due_status_t status;
    domain_date_t nominal; /* the last day by counting alone, before any roll */
    domain_date_t due;     /* the last day: acts up to 24:00 court-local are in time */
    bool has_instant;
    int64_t due_instant; /* 24:00 court-local of `due`, Unix seconds (with a zone) */
    domain_zone_t zone;
    bool provisional;          /* relied on a year without a notice */
    domain_date_t unknown_day; /* the first such day */
    /* rest days rolled over (after the nominal day) or, for working days,
     * passed over while counting; the first DOMAIN_EXPLAIN_MAX_SKIPS are kept */
    size_t nskips;
    size_t nskips_total;
    domain_explain_skip_t skips[DOMAIN_EXPLAIN_MAX_SKIPS];
    /* the calendar relied on */
    const char *calendar_version;
    size_t nyears;
    int years[DOMAIN_EXPLAIN_MAX_YEARS];
    const char *notices[DOMAIN_EXPLAIN_MAX_YEARS]; /* NULL for an unknown year */
    char error[200];
} domain_explain_t;

/* Clears an explanation for a new computation. */
void domain_explain_reset(domain_explain_t *self);

/* The reasoning as readable text, one fact a line (no trailing due line: the
 * caller prints the date first). NULL on allocation failure; the caller frees. */
char *domain_explain_text(const domain_explain_t *self);

#endif
