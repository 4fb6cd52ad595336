/* domain_period — counting a period to its last day (期间计算).
 *
 * DOMAIN.md §4.1, after Civil Code Arts. 200–204 and Civil Procedure Law
 * Art. 85:
 *   - the trigger day is not counted (开始的当日不计入): counting starts the
 *     next day;
 *   - N days are calendar days unless the rule says working days (工作日);
 *   - N months end on the same day-number N months later, or on that month's
 *     last day (到期月的对应日; 没有对应日的, 月末日); never counted from the
 *     day after the trigger;
 *   - a last day that is a rest day moves to the next working day (期间的最后
 *     一日是法定休假日的, 以法定休假日结束的次日为期间的最后一日); rest days
 *     inside the period are not deducted;
 *   - the last day ends at 24:00 court-local time.
 *
 * A period that needs a day in a year the calendar does not know fails with
 * DOMAIN_DUE_UNKNOWN_YEAR, unless the caller allows a provisional answer
 * (DOMAIN_DUE_PROVISIONAL): then unknown days count as an ordinary week and
 * the result is marked provisional. */
#ifndef LIAISON_DOMAIN_PERIOD_H
#define LIAISON_DOMAIN_PERIOD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/calendar.h"
#include "domain/date.h"

typedef enum {
    DOMAIN_UNIT_SAME_DAY = 0, /* the trigger day itself (收到当日, Art. 13) */
    DOMAIN_UNIT_DAYS,         /* N calendar days (日) */
    DOMAIN_UNIT_WORKDAYS,     /* N working days (工作日) */
    DOMAIN_UNIT_MONTHS,       /* N months (个月) */
    DOMAIN_UNIT_YEAR_END,     /* December 31 of the trigger's year (十二月底前, Art. 9(5)) */
    DOMAIN_UNIT_PERIODIC,     /* no single due date: periodic urging (定期催办, Art. 8(5)) */
} domain_unit_t;

typedef enum {
    DOMAIN_DIRECTION_AFTER = 0, /* N after the trigger (…内) */
    DOMAIN_DIRECTION_BEFORE,    /* N before the trigger (提前N天, Art. 9(2)) */
} domain_direction_t;

/* What happens when the last day is a rest day. */
typedef enum {
    DOMAIN_ROLL_FORWARD = 0, /* to the next working day (Civil Code Art. 203) */
    DOMAIN_ROLL_BACKWARD,    /* to the previous working day: for "before" deadlines,
                              * where moving later would break the rule itself */
    DOMAIN_ROLL_NONE,        /* keep the day (a fixed date a policy keeps as is) */
} domain_roll_t;

typedef struct {
    domain_unit_t unit;
    int amount; /* N; 0 for SAME_DAY and YEAR_END */
    domain_direction_t direction;
    domain_roll_t roll;
} domain_period_t;

/* Limits on amount, per unit. */
#define DOMAIN_PERIOD_MAX_DAYS     3660
#define DOMAIN_PERIOD_MAX_WORKDAYS 2500
#define DOMAIN_PERIOD_MAX_MONTHS   120

/* Flags for domain_period_due. */
#define DOMAIN_DUE_PROVISIONAL 0x1u /* answer for unknown years, marked provisional */

/* Stable names: "same-day", "days", "workdays", "months", "year-end", "periodic";
 * "after", "before"; "forward", "backward", "none". */
const char *domain_unit_name(domain_unit_t unit);
int domain_unit_parse(const char *name, domain_unit_t *out);
const char *domain_direction_name(domain_direction_t direction);
int domain_direction_parse(const char *name, domain_direction_t *out);
const char *domain_roll_name(domain_roll_t roll);
int domain_roll_parse(const char *name, domain_roll_t *out);

/* Checks a period's fields (unit, amount within its limits, direction, roll).
 * -1 with a message in err when it is not a period this module can count. */
int domain_period_validate(const domain_period_t *period, char *err, size_t errsize);

struct domain_explain;

/* Counts `period` from `trigger` (not counted) for `court` (NULL: national
 * calendar). Fills `out` (required) with the due date and its reasoning;
 * returns 0, or -1 with out->status and out->error saying why. The rule fields
 * of `out` (rule, title, article, trigger name) are left for the caller. */
int domain_period_due(const domain_calendar_t *calendar, const char *court,
                      const domain_period_t *period, domain_date_t trigger, unsigned flags,
                      struct domain_explain *out);

/* Same, from a trigger instant (Unix seconds): the trigger day is the court-local
 * date of that instant in `zone` (an act at 23:59 local belongs to that day, one
 * at 00:00 to the next), and out->due_instant is set to 24:00 local of the due day. */
int domain_period_due_at(const domain_calendar_t *calendar, const char *court,
                         const domain_zone_t *zone, const domain_period_t *period,
                         int64_t trigger_instant, unsigned flags, struct domain_explain *out);

#endif
