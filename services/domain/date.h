/* domain_date — civil (proleptic Gregorian) dates and court-local time zones.
 *
 * A date is a court-local calendar day (DOMAIN.md §4.1: "dates are court-local
 * dates: never shift a date by converting to UTC"). It is a plain value:
 * {year, month, day}. Arithmetic goes through a day number (days since
 * 1970-01-01), which is exact over the whole supported range.
 *
 * A zone is a court's time zone (every mainland court: Asia/Shanghai, fixed
 * UTC+8, no daylight saving since 1991). Zones come from a small built-in
 * table; an unknown zone name is refused rather than guessed. */
#ifndef LIAISON_DOMAIN_DATE_H
#define LIAISON_DOMAIN_DATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Years outside this range are refused everywhere (parse, arithmetic). */
#define DOMAIN_DATE_MIN_YEAR 1900
#define DOMAIN_DATE_MAX_YEAR 2399

/* "YYYY-MM-DD" plus the terminating NUL. */
#define DOMAIN_DATE_STRLEN 11

typedef struct {
    int year;  /* DOMAIN_DATE_MIN_YEAR..DOMAIN_DATE_MAX_YEAR */
    int month; /* 1..12 */
    int day;   /* 1..days in month */
} domain_date_t;

/* ISO weekday: 1 = Monday .. 7 = Sunday. */
typedef enum {
    DOMAIN_MONDAY = 1,
    DOMAIN_TUESDAY,
    DOMAIN_WEDNESDAY,
    DOMAIN_THURSDAY,
    DOMAIN_FRIDAY,
    DOMAIN_SATURDAY,
    DOMAIN_SUNDAY,
} domain_weekday_t;

/* Builds a date value without checking it (use domain_date_valid). */
domain_date_t domain_date(int year, int month, int day);

bool domain_date_is_leap_year(int year);
/* 0 for a month outside 1..12. */
int domain_date_days_in_month(int year, int month);
/* True when y-m-d is a real date inside the supported range. */
bool domain_date_valid(domain_date_t date);

/* Days since 1970-01-01 (negative before). The date must be valid. */
int32_t domain_date_to_days(domain_date_t date);
/* Inverse of domain_date_to_days. */
domain_date_t domain_date_from_days(int32_t days);
/* Day numbers of the first and last supported dates. */
int32_t domain_date_min_days(void);
int32_t domain_date_max_days(void);

domain_weekday_t domain_date_weekday(domain_date_t date);
/* 1-based day of the year (1..366). */
int domain_date_day_of_year(domain_date_t date);

/* -1, 0, 1 like strcmp. */
int domain_date_compare(domain_date_t a, domain_date_t b);
bool domain_date_equal(domain_date_t a, domain_date_t b);

/* date + n days. Returns -1 if the result leaves the supported range. */
int domain_date_add_days(domain_date_t date, int n, domain_date_t *out);
/* date + n months by the month-end rule (DOMAIN.md §4.1, Civil Code Art. 202):
 * the same day-number n months later, or that month's last day when it has no
 * such day (Jan 31 + 1 month = Feb 28/29). n may be negative.
 * Returns -1 if the result leaves the supported range. */
int domain_date_add_months(domain_date_t date, int n, domain_date_t *out);

/* Parses exactly "YYYY-MM-DD" (no spaces, no other form). -1 when malformed
 * or not a real date. */
int domain_date_parse(const char *text, domain_date_t *out);
/* Same, for a counted string (no NUL needed). */
int domain_date_parse_n(const char *text, size_t len, domain_date_t *out);
/* Writes "YYYY-MM-DD" into buf (at least DOMAIN_DATE_STRLEN bytes); returns buf. */
char *domain_date_format(domain_date_t date, char *buf);

/* Short English and Chinese weekday names ("Mon", "周一"). */
const char *domain_weekday_name(domain_weekday_t weekday);
const char *domain_weekday_name_zh(domain_weekday_t weekday);

/* ---- court time zones ----------------------------------------------------- */

typedef struct {
    char name[40];        /* canonical IANA name, e.g. "Asia/Shanghai" */
    int32_t utc_offset_s; /* seconds east of UTC */
    int64_t valid_from;   /* first instant (Unix seconds) the fixed offset holds */
} domain_zone_t;

/* Looks a zone up by its IANA name. -1 for a zone this table does not know
 * (or one whose offset is not fixed): the caller must refuse it. */
int domain_zone_find(const char *name, domain_zone_t *out);

/* The court-local date of an instant (Unix seconds). -1 when the instant is
 * outside the span where the zone's offset is known or the date range. */
int domain_zone_local_date(const domain_zone_t *zone, int64_t instant, domain_date_t *out);

/* The first instant of a court-local date (00:00 local). */
int domain_zone_start_of_day(const domain_zone_t *zone, domain_date_t date, int64_t *out);

/* The instant a last day ends: 24:00 court-local = 00:00 of the next day
 * (DOMAIN.md §4.1). An act at any instant before this is in time. */
int domain_zone_end_of_day(const domain_zone_t *zone, domain_date_t date, int64_t *out);

#endif
