/* libFuzzer target: the work calendar parser is fed untrusted text. It must
 * never crash, and a calendar it accepts must answer every question. The
 * same text is also tried as a court's own days (a directory record's
 * calendar_overrides, from HTTP), alone and on a copy of the calendar. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "domain/calendar.h"
#include "domain/explain.h"
#include "domain/period.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    if (domain_calendar_court_text_check((const char *)data, size, err, sizeof err) != 0 &&
        strnlen(err, sizeof err) == sizeof err)
        __builtin_trap();
    domain_calendar_t *cal = domain_calendar_parse((const char *)data, size, err, sizeof err);
    if (!cal) {
        /* the message is a terminated string */
        if (strnlen(err, sizeof err) == sizeof err)
            __builtin_trap();
        return 0;
    }
    int years[8];
    size_t n = domain_calendar_years(cal, years, 8);
    for (size_t i = 0; i < n && i < 8; i++) {
        if (!domain_calendar_knows_year(cal, years[i]) || !domain_calendar_notice(cal, years[i]))
            __builtin_trap();
        domain_date_t d = domain_date(years[i], 1, 1);
        for (int k = 0; k < 370; k += 7) {
            domain_day_t day;
            domain_date_t x;
            if (domain_date_add_days(d, k, &x) == 0)
                domain_calendar_day(cal, "c1", x, &day);
        }
        domain_explain_t ex;
        domain_period_t p = {DOMAIN_UNIT_WORKDAYS, 30, DOMAIN_DIRECTION_AFTER, DOMAIN_ROLL_FORWARD};
        if (domain_period_due(cal, NULL, &p, d, 0, &ex) == 0) {
            /* a due date is never a rest day */
            domain_day_t day;
            if (domain_calendar_day(cal, NULL, ex.due, &day) != 0 ||
                domain_day_kind_is_rest(day.kind))
                __builtin_trap();
        }
        p.unit = DOMAIN_UNIT_DAYS;
        domain_period_due(cal, "c1", &p, d, DOMAIN_DUE_PROVISIONAL, &ex);
    }
    domain_calendar_t *copy = domain_calendar_copy(cal);
    if (copy &&
        domain_calendar_court_text(copy, "c1", (const char *)data, size, err, sizeof err) == 0 &&
        n > 0) {
        domain_day_t day;
        domain_calendar_day(copy, "c1", domain_date(years[0], 6, 1), &day);
    }
    domain_calendar_destroy(&copy);
    domain_calendar_destroy(&cal);
    return 0;
}
