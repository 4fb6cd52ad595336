/* domain_calendar — the work calendar: which days are rest days, and why.
 *
 * Rest days (DOMAIN.md §4.1, §5) are Saturdays and Sundays that are not
 * make-up working days (调休上班), statutory holidays, and weekdays the State
 * Council's yearly notice turns into rest days. The calendar knows a year only
 * when it has that year's notice; a date in any other year is UNKNOWN and is
 * never treated as an ordinary week (DOMAIN.md §4.1 "Unknown years").
 *
 * The calendar is built from a text file (deploy/calendar/, format in its
 * README) that is treated as untrusted input: every error is reported with its
 * line number and nothing in it can crash the parser. Per-court overrides
 * (a court's own extra rest or working day) come from `[court ID]` sections or
 * from domain_calendar_court_day() for callers that read them from config.
 *
 * Lookups are O(1): at load time every known day gets its kind and name in a
 * flat per-day table (one per court with overrides). */
#ifndef LIAISON_DOMAIN_CALENDAR_H
#define LIAISON_DOMAIN_CALENDAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/date.h"

typedef struct domain_calendar domain_calendar_t;

typedef enum {
    DOMAIN_DAY_UNKNOWN = 0, /* a year without a notice: refused, never guessed */
    DOMAIN_DAY_WORK,        /* an ordinary working day 工作日 */
    DOMAIN_DAY_MAKEUP_WORK, /* a Saturday or Sunday made a working day 调休上班 */
    DOMAIN_DAY_WEEKEND,     /* an ordinary Saturday or Sunday 休息日 */
    DOMAIN_DAY_HOLIDAY,     /* a holiday or notice rest day 法定节假日/调休休息 */
} domain_day_kind_t;

typedef struct {
    domain_day_kind_t kind;
    /* The holiday or make-up day's name ("春节", "国庆节调休上班"), or the
     * weekday ("周六") for a weekend or ordinary day; "未知年份" when unknown.
     * Borrowed from the calendar: valid while it lives. */
    const char *name;
    bool court_override; /* the day's kind comes from a court's own override */
} domain_day_t;

/* Stable names: "unknown", "work", "makeup-work", "weekend", "holiday". */
const char *domain_day_kind_name(domain_day_kind_t kind);
/* Weekend and holiday are rest days; UNKNOWN is neither (check it first). */
bool domain_day_kind_is_rest(domain_day_kind_t kind);

/* Limits on the input file. */
#define DOMAIN_CALENDAR_MAX_LINE    1024
#define DOMAIN_CALENDAR_MAX_NAME    96  /* bytes of a holiday / make-up name */
#define DOMAIN_CALENDAR_MAX_NOTICE  256 /* bytes of a notice's title */
#define DOMAIN_CALENDAR_MAX_VERSION 64
#define DOMAIN_CALENDAR_MAX_COURT   64
#define DOMAIN_CALENDAR_MAX_RANGE   31 /* days in one rest = A..B line */

/* An empty calendar (knows no year). NULL on allocation failure. */
domain_calendar_t *domain_calendar_new(void);
/* Parses a calendar file's text (len bytes, need not be NUL-terminated).
 * NULL on any error; then err (if not NULL) holds "line N: what is wrong". */
domain_calendar_t *domain_calendar_parse(const char *text, size_t len, char *err, size_t errsize);
void domain_calendar_destroy(domain_calendar_t **self_p);

/* The file's `version =` line ("" when none): recorded with every due date. */
const char *domain_calendar_version(const domain_calendar_t *self);
bool domain_calendar_knows_year(const domain_calendar_t *self, int year);
/* The notice a known year's rest days come from; NULL for an unknown year. */
const char *domain_calendar_notice(const domain_calendar_t *self, int year);
/* The known years in ascending order: writes up to max, returns how many there are. */
size_t domain_calendar_years(const domain_calendar_t *self, int *years, size_t max);

/* Adds a court's own override: that court treats `date` as a rest day
 * (rest = true) or a working day (rest = false), named `name`.
 * -1 (with err) on an invalid court id, date or name, or a date the court
 * already overrides. */
int domain_calendar_court_day(domain_calendar_t *self, const char *court, domain_date_t date,
                              bool rest, const char *name, char *err, size_t errsize);
bool domain_calendar_has_court(const domain_calendar_t *self, const char *court);

/* A court's own days as text, as the directory keeps them (a court record's
 * calendar_overrides): the lines of a `[court ID]` section of the calendar
 * file without its header, "rest = DATE[..DATE] NAME" and "work = DATE NAME",
 * with comments and blank lines; nothing else. At most
 * DOMAIN_CALENDAR_MAX_COURT_TEXT bytes. */
#define DOMAIN_CALENDAR_MAX_COURT_TEXT (64 * 1024)

/* Adds such text's days to `court` in self, all or nothing: -1 (err
 * "line N: what is wrong", the line of the text) leaves self unchanged. A
 * day declared twice in the text is refused; a day the court already
 * overrides (from a [court ID] section of the file) takes the text's kind and
 * name: the directory is the court's later word. */
int domain_calendar_court_text(domain_calendar_t *self, const char *court, const char *text,
                               size_t len, char *err, size_t errsize);
/* Checks such text without a calendar (what the directory validates before
 * it stores one): 0, or -1 with err. */
int domain_calendar_court_text_check(const char *text, size_t len, char *err, size_t errsize);

/* A deep copy (national days, notices, every court's days); NULL on
 * allocation failure. The deadline service derives a court's calendar from
 * the shared one this way. */
domain_calendar_t *domain_calendar_copy(const domain_calendar_t *self);

/* Classifies a day for a court (court may be NULL: the national calendar).
 * 0 for a day in a known year; -1 for an invalid date or a year without a
 * notice (then out->kind = DOMAIN_DAY_UNKNOWN). */
int domain_calendar_day(const domain_calendar_t *self, const char *court, domain_date_t date,
                        domain_day_t *out);
/* Is it a rest day? Only meaningful when the year is known: for an UNKNOWN
 * day it answers false and sets *known = false (known may not be NULL). */
bool domain_calendar_is_rest_day(const domain_calendar_t *self, const char *court,
                                 domain_date_t date, bool *known);

/* The first date in [from, to] where the two calendars classify a court's day
 * differently (kind or name). True and *first set when they differ. The
 * deadline service uses it after loading a new notice to find the deadlines
 * it must recompute. */
bool domain_calendar_differs(const domain_calendar_t *a, const domain_calendar_t *b,
                             const char *court, domain_date_t from, domain_date_t to,
                             domain_date_t *first);

/* ---- fast path for period arithmetic ---------------------------------------
 * A view is a court's resolved per-day table; valid while the calendar lives
 * and is not modified. */
typedef struct {
    const domain_calendar_t *calendar;
    const uint8_t *kind;  /* domain_day_kind_t per day */
    const uint16_t *name; /* name index per day */
    int32_t first;        /* day number of kind[0] */
    int32_t count;        /* days in the table */
    bool court_override;  /* the court has its own table */
} domain_calendar_view_t;

void domain_calendar_view(const domain_calendar_t *self, const char *court,
                          domain_calendar_view_t *view);

static inline domain_day_kind_t domain_calendar_view_kind(const domain_calendar_view_t *view,
                                                          int32_t day)
{
    uint32_t i = (uint32_t)(day - view->first);
    return i < (uint32_t)view->count ? (domain_day_kind_t)view->kind[i] : DOMAIN_DAY_UNKNOWN;
}

/* The day's name as domain_calendar_day gives it. */
const char *domain_calendar_view_name(const domain_calendar_view_t *view, int32_t day);

#endif
