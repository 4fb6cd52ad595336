/* Period arithmetic and the rules' due dates: DOMAIN.md §6 exactly, every
 * holiday block of 2024–2026 from both sides, both units of every day rule,
 * month ends, leap years, unknown years, court-local 23:59/00:00, and
 * exhaustive properties over 2024–2026. Expected dates are reasoned from the
 * calendar facts of DOMAIN.md §5 (see the comment on each row). */
#include "test_domain_fixture.h"

#include "domain/explain.h"
#include "domain/period.h"
#include "domain/rules.h"

static domain_calendar_t *s_cal;

typedef struct {
    const char *name;
    const char *rule; /* rule id, or NULL for an ad-hoc period */
    const char *unit; /* rule: unit override; ad hoc: "days", "workdays", "months", "same-day" */
    int amount;       /* ad hoc only */
    bool before;      /* ad hoc only: counted back from the trigger (roll backward) */
    const char *trigger;
    const char *expect; /* NULL: refused */
    domain_due_status_t status;
    bool provisional; /* computed with DOMAIN_DUE_PROVISIONAL */
} s_row_t;

static int s_compute(const s_row_t *r, domain_explain_t *ex)
{
    domain_explain_reset(ex);
    unsigned flags = r->provisional ? DOMAIN_DUE_PROVISIONAL : 0;
    if (r->rule) {
        domain_rules_t rules;
        domain_rules_defaults(&rules);
        domain_rule_id_t id;
        assert_int_equal(domain_rule_parse(r->rule, &id), 0);
        if (r->unit) {
            char err[200];
            int rc = domain_rules_set(&rules, r->rule, "unit", r->unit, err, sizeof err);
            if (rc != 0)
                fail_msg("%s: %s", r->name, err);
        }
        return domain_rules_due(&rules, id, s_cal, NULL, D(r->trigger), flags, ex);
    }
    domain_period_t p = {DOMAIN_UNIT_DAYS, r->amount, DOMAIN_DIRECTION_AFTER, DOMAIN_ROLL_FORWARD};
    assert_int_equal(domain_unit_parse(r->unit, &p.unit), 0);
    if (r->before) {
        p.direction = DOMAIN_DIRECTION_BEFORE;
        p.roll = DOMAIN_ROLL_BACKWARD;
    }
    return domain_period_due(s_cal, NULL, &p, D(r->trigger), flags, ex);
}

static void s_row_test(void **state)
{
    const s_row_t *r = *state;
    domain_explain_t ex;
    int rc = s_compute(r, &ex);
    if (r->expect) {
        if (rc != 0)
            fail_msg("%s: refused: %s", r->name, ex.error);
        assert_int_equal(ex.status, DOMAIN_DUE_OK);
        assert_date_equal(ex.due, D(r->expect));
        assert_int_equal(ex.provisional, r->provisional && r->status == DOMAIN_DUE_UNKNOWN_YEAR);
    } else {
        assert_int_equal(rc, -1);
        assert_int_equal(ex.status, r->status);
        assert_true(ex.error[0] != '\0');
    }
}

#define OK(n, rule, unit, trig, exp)                                                               \
    {                                                                                              \
        n, rule, unit, 0, false, trig, exp, DOMAIN_DUE_OK, false                                   \
    }
#define ADHOC(n, unit, amt, trig, exp)                                                             \
    {                                                                                              \
        n, NULL, unit, amt, false, trig, exp, DOMAIN_DUE_OK, false                                 \
    }
#define BACK(n, unit, amt, trig, exp)                                                              \
    {                                                                                              \
        n, NULL, unit, amt, true, trig, exp, DOMAIN_DUE_OK, false                                  \
    }
#define REFUSED(n, rule, unit, amt, trig, st)                                                      \
    {                                                                                              \
        n, rule, unit, amt, false, trig, NULL, st, false                                           \
    }
#define PROVISIONAL(n, rule, unit, amt, trig, exp)                                                 \
    {                                                                                              \
        n, rule, unit, amt, false, trig, exp, DOMAIN_DUE_UNKNOWN_YEAR, true                        \
    }

/* DOMAIN.md §6, every row exactly. */
static const s_row_t s_examples[] = {
    OK("§6 register 2025-05-03 (Sat, 劳动节) -> 2025-05-06", "register", NULL, "2025-05-03",
       "2025-05-06"),
    OK("§6 register 2025-05-06 -> same day", "register", NULL, "2025-05-06", "2025-05-06"),
    OK("§6 transfer 2025-01-24 -> 2025-01-26 (make-up Sunday, no roll)", "transfer", NULL,
       "2025-01-24", "2025-01-26"),
    OK("§6 transfer 2025-01-27 -> 2025-02-05 (春节 1/28-2/4)", "transfer", NULL, "2025-01-27",
       "2025-02-05"),
    OK("§6 transfer workdays 2025-01-24 -> 2025-01-27", "transfer", "workdays", "2025-01-24",
       "2025-01-27"),
    OK("§6 answer-quick 2024-09-30 -> 2024-10-08 (国庆)", "answer-quick", NULL, "2024-09-30",
       "2024-10-08"),
    OK("§6 answer-quick 2024-02-06 -> 2024-02-09 (除夕 a working day)", "answer-quick", NULL,
       "2024-02-06", "2024-02-09"),
    OK("§6 answer-quick 2025-12-29 -> 2026-01-04 (make-up Sunday)", "answer-quick", NULL,
       "2025-12-29", "2026-01-04"),
    OK("§6 answer-lead 2025-01-10 -> 2025-04-10", "answer-lead", NULL, "2025-01-10", "2025-04-10"),
    OK("§6 answer-co 2025-01-10 -> 2025-02-10", "answer-co", NULL, "2025-01-10", "2025-02-10"),
    OK("§6 answer-co 2026-01-20 -> 2026-02-24 (春节 2/15-2/23)", "answer-co", NULL, "2026-01-20",
       "2026-02-24"),
    OK("§6 answer-between 2025-08-01 -> 2025-10-09", "answer-between", NULL, "2025-08-01",
       "2025-10-09"),
    OK("§6 answer-between-max 2025-08-01 -> 2025-12-01", "answer-between-max", NULL, "2025-08-01",
       "2025-12-01"),
    ADHOC("§6 1 month 2025-01-31 -> 2025-02-28", "months", 1, "2025-01-31", "2025-02-28"),
    ADHOC("§6 3 months 2023-11-30 -> 2024-02-29", "months", 3, "2023-11-30", "2024-02-29"),
};

/* Both units of every day rule; the reasoning is in each name. */
static const s_row_t s_day_rules[] = {
    /* transfer: 2 days after approval (Art. 15) */
    OK("transfer days 2024-09-27 -> 9/29 make-up Sun", "transfer", "days", "2024-09-27",
       "2024-09-29"),
    OK("transfer workdays 2024-09-27: 9/28 Sat rest, 9/29(1), 9/30(2)", "transfer", "workdays",
       "2024-09-27", "2024-09-30"),
    OK("transfer days 2026-02-12 -> 2/14 make-up Sat", "transfer", "days", "2026-02-12",
       "2026-02-14"),
    OK("transfer workdays 2026-02-12: 2/13(1), 2/14 make-up Sat(2)", "transfer", "workdays",
       "2026-02-12", "2026-02-14"),
    OK("transfer days 2024-05-09 -> 5/11 make-up Sat", "transfer", "days", "2024-05-09",
       "2024-05-11"),
    OK("transfer workdays 2024-05-09 -> 5/11", "transfer", "workdays", "2024-05-09", "2024-05-11"),
    OK("transfer days 2025-09-30 -> 10/2 国庆 -> 10/9", "transfer", "days", "2025-09-30",
       "2025-10-09"),
    OK("transfer workdays 2025-09-30: 10/1-10/8 rest, 10/9(1), 10/10(2)", "transfer", "workdays",
       "2025-09-30", "2025-10-10"),
    OK("transfer days 2026-06-18 -> 6/20 端午 -> 6/22", "transfer", "days", "2026-06-18",
       "2026-06-22"),
    OK("transfer workdays 2026-06-18: 6/22(1), 6/23(2)", "transfer", "workdays", "2026-06-18",
       "2026-06-23"),
    OK("transfer days 2025-02-06 (Thu) -> 2/8 make-up Sat", "transfer", "days", "2025-02-06",
       "2025-02-08"),
    OK("transfer workdays 2025-02-06: 2/7(1), 2/8 make-up Sat(2)", "transfer", "workdays",
       "2025-02-06", "2025-02-08"),
    OK("transfer days 2024-12-30 -> 2025-01-01 元旦 -> 1/2", "transfer", "days", "2024-12-30",
       "2025-01-02"),
    OK("transfer workdays 2024-12-30: 12/31(1), 1/1 rest, 1/2(2)", "transfer", "workdays",
       "2024-12-30", "2025-01-02"),
    /* answer-quick: 3 days after receipt (Art. 16) */
    OK("answer-quick workdays 2024-09-30: 10/8(1), 10/9(2), 10/10(3)", "answer-quick", "workdays",
       "2024-09-30", "2024-10-10"),
    OK("answer-quick workdays 2024-02-06: 2/7, 2/8, 2/9 (除夕 works)", "answer-quick", "workdays",
       "2024-02-06", "2024-02-09"),
    OK("answer-quick workdays 2025-12-29: 12/30, 12/31, 1/4 make-up Sun", "answer-quick",
       "workdays", "2025-12-29", "2026-01-04"),
    OK("answer-quick days 2026-09-23 -> 9/26 中秋 -> 9/28", "answer-quick", "days", "2026-09-23",
       "2026-09-28"),
    OK("answer-quick workdays 2026-09-23: 9/24(1), 9/28(2), 9/29(3)", "answer-quick", "workdays",
       "2026-09-23", "2026-09-29"),
    OK("answer-quick days 2025-04-25 -> 4/28 Mon", "answer-quick", "days", "2025-04-25",
       "2025-04-28"),
    OK("answer-quick workdays 2025-04-25: 4/27 make-up Sun(1), 4/28, 4/29", "answer-quick",
       "workdays", "2025-04-25", "2025-04-29"),
    OK("answer-quick days 2024-04-25 (Thu) -> 4/28 make-up Sun", "answer-quick", "days",
       "2024-04-25", "2024-04-28"),
    OK("answer-quick workdays 2024-04-25: 4/26, 4/28 make-up Sun, 4/29", "answer-quick", "workdays",
       "2024-04-25", "2024-04-29"),
    OK("answer-quick days 2024-10-09 -> 10/12 make-up Sat", "answer-quick", "days", "2024-10-09",
       "2024-10-12"),
    OK("answer-quick workdays 2024-10-09: 10/10, 10/11, 10/12 make-up Sat", "answer-quick",
       "workdays", "2024-10-09", "2024-10-12"),
    OK("answer-quick days 2026-10-07 -> 10/10 make-up Sat", "answer-quick", "days", "2026-10-07",
       "2026-10-10"),
    OK("answer-quick workdays 2026-10-07: 10/8, 10/9, 10/10 make-up Sat", "answer-quick",
       "workdays", "2026-10-07", "2026-10-10"),
    /* activity-notice: 5 days before the activity (Art. 9(2)), rolling back */
    OK("activity-notice days 2025-10-10 -> 10/5 国庆 -> back to 9/30", "activity-notice", "days",
       "2025-10-10", "2025-09-30"),
    OK("activity-notice workdays 2025-10-10: 10/9, 9/30, 9/29, 9/28 make-up Sun, 9/26",
       "activity-notice", "workdays", "2025-10-10", "2025-09-26"),
    OK("activity-notice days 2024-06-14 -> 6/9 Sun -> back to 6/7", "activity-notice", "days",
       "2024-06-14", "2024-06-07"),
    OK("activity-notice workdays 2024-06-14: 6/13, 6/12, 6/11, 6/7, 6/6", "activity-notice",
       "workdays", "2024-06-14", "2024-06-06"),
    OK("activity-notice days 2026-03-02 -> 2/25 Wed", "activity-notice", "days", "2026-03-02",
       "2026-02-25"),
    OK("activity-notice workdays 2026-03-02: 2/28 make-up Sat, 2/27, 2/26, 2/25, 2/24",
       "activity-notice", "workdays", "2026-03-02", "2026-02-24"),
    OK("activity-notice days 2024-02-23 -> 2/18 make-up Sun", "activity-notice", "days",
       "2024-02-23", "2024-02-18"),
    OK("activity-notice workdays 2024-02-23: 2/22, 2/21, 2/20, 2/19, 2/18 make-up Sun",
       "activity-notice", "workdays", "2024-02-23", "2024-02-18"),
    /* register: the same day; a rest day rolls to the next working day (Art. 13) */
    OK("register 2024-02-04 make-up Sun -> same day", "register", NULL, "2024-02-04", "2024-02-04"),
    OK("register 2024-02-03 Sat -> 2/4 make-up Sun", "register", NULL, "2024-02-03", "2024-02-04"),
    OK("register 2026-10-06 国庆 -> 10/8", "register", NULL, "2026-10-06", "2026-10-08"),
    OK("register 2025-06-01 端午 -> 6/3", "register", NULL, "2025-06-01", "2025-06-03"),
    OK("register 2026-02-14 make-up Sat -> same day", "register", NULL, "2026-02-14", "2026-02-14"),
    OK("register 2026-02-15 春节 -> 2/24", "register", NULL, "2026-02-15", "2026-02-24"),
    OK("register 2024-09-14 make-up Sat -> same day", "register", NULL, "2024-09-14", "2024-09-14"),
    OK("register 2024-02-09 除夕 (working) -> same day", "register", NULL, "2024-02-09",
       "2024-02-09"),
    /* case-year-end: December 31 (Art. 9(5)) */
    OK("case-year-end 2024-03-01 -> 2024-12-31 Tue", "case-year-end", NULL, "2024-03-01",
       "2024-12-31"),
    OK("case-year-end 2025-07-01 -> 2025-12-31 Wed", "case-year-end", NULL, "2025-07-01",
       "2025-12-31"),
    OK("case-year-end 2026-01-01 -> 2026-12-31 Thu", "case-year-end", NULL, "2026-01-01",
       "2026-12-31"),
    OK("case-year-end 2026-12-31 -> same day", "case-year-end", NULL, "2026-12-31", "2026-12-31"),
};

/* Months: the month-end rule, leap years, and rest last days. */
static const s_row_t s_months[] = {
    OK("answer-lead 2024-11-30 -> 2025-02-28 Fri", "answer-lead", NULL, "2024-11-30", "2025-02-28"),
    OK("answer-lead 2025-07-04 -> 10/4 国庆 -> 10/9", "answer-lead", NULL, "2025-07-04",
       "2025-10-09"),
    OK("answer-lead 2025-11-30 -> 2026-02-28 make-up Sat, no roll", "answer-lead", NULL,
       "2025-11-30", "2026-02-28"),
    OK("answer-lead 2026-03-31 -> 6/30 (no Jun 31)", "answer-lead", NULL, "2026-03-31",
       "2026-06-30"),
    OK("answer-lead 2024-07-07 -> 10/7 国庆 -> 10/8", "answer-lead", NULL, "2024-07-07",
       "2024-10-08"),
    OK("answer-co 2024-01-31 -> 2024-02-29 (leap)", "answer-co", NULL, "2024-01-31", "2024-02-29"),
    OK("answer-co 2025-03-31 -> 4/30", "answer-co", NULL, "2025-03-31", "2025-04-30"),
    OK("answer-co 2026-01-15 -> 2/15 春节 -> 2/24", "answer-co", NULL, "2026-01-15", "2026-02-24"),
    OK("answer-co 2025-12-31 -> 2026-01-31 Sat -> 2/2 Mon", "answer-co", NULL, "2025-12-31",
       "2026-02-02"),
    OK("answer-co 2024-12-29 -> 2025-01-29 春节 -> 2/5", "answer-co", NULL, "2024-12-29",
       "2025-02-05"),
    OK("answer-between 2024-12-31 -> 2025-02-28", "answer-between", NULL, "2024-12-31",
       "2025-02-28"),
    OK("answer-between 2023-12-31 -> 2024-02-29 (leap)", "answer-between", NULL, "2023-12-31",
       "2024-02-29"),
    OK("answer-between 2024-08-04 -> 10/4 国庆 -> 10/8", "answer-between", NULL, "2024-08-04",
       "2024-10-08"),
    OK("answer-between 2026-02-22 -> 4/22 Wed", "answer-between", NULL, "2026-02-22", "2026-04-22"),
    OK("answer-between-max 2025-10-31 -> 2026-02-28 make-up Sat", "answer-between-max", NULL,
       "2025-10-31", "2026-02-28"),
    OK("answer-between-max 2024-10-31 -> 2025-02-28", "answer-between-max", NULL, "2024-10-31",
       "2025-02-28"),
    OK("answer-between-max 2025-06-01 -> 10/1 国庆 -> 10/9", "answer-between-max", NULL,
       "2025-06-01", "2025-10-09"),
    OK("rehandle 2025-04-30 -> 5/30 Fri", "rehandle", NULL, "2025-04-30", "2025-05-30"),
    OK("rehandle 2025-05-01 -> 6/1 端午 -> 6/3", "rehandle", NULL, "2025-05-01", "2025-06-03"),
    OK("rehandle 2024-01-30 -> 2/29 (leap, not from the day after)", "rehandle", NULL, "2024-01-30",
       "2024-02-29"),
    ADHOC("1 month 2024-02-29 -> 3/29 Fri", "months", 1, "2024-02-29", "2024-03-29"),
    ADHOC("1 month 2025-02-28 -> 3/28 (not the month end)", "months", 1, "2025-02-28",
          "2025-03-28"),
    ADHOC("12 months 2024-02-29 -> 2025-02-28", "months", 12, "2024-02-29", "2025-02-28"),
    ADHOC("24 months 2024-02-29 -> 2026-02-28 make-up Sat", "months", 24, "2024-02-29",
          "2026-02-28"),
    ADHOC("2 months 2024-12-31 -> 2025-02-28", "months", 2, "2024-12-31", "2025-02-28"),
    ADHOC("1 month 2024-08-31 -> 9/30 Mon", "months", 1, "2024-08-31", "2024-09-30"),
    ADHOC("1 month 2025-05-31 -> 6/30 Mon", "months", 1, "2025-05-31", "2025-06-30"),
    ADHOC("1 month 2026-01-31 -> 2/28 make-up Sat", "months", 1, "2026-01-31", "2026-02-28"),
    ADHOC("1 month 2026-03-31 -> 4/30 Thu", "months", 1, "2026-03-31", "2026-04-30"),
    ADHOC("6 months 2025-08-31 -> 2026-02-28 make-up Sat", "months", 6, "2025-08-31", "2026-02-28"),
    BACK("1 month before 2024-03-31 -> 2/29 (leap)", "months", 1, "2024-03-31", "2024-02-29"),
    BACK("1 month before 2025-03-31 -> 2/28", "months", 1, "2025-03-31", "2025-02-28"),
};

/* Ad-hoc day counts, backwards counting and edges. */
static const s_row_t s_adhoc[] = {
    ADHOC("1 day 2024-02-08 -> 2/9 除夕 works", "days", 1, "2024-02-08", "2024-02-09"),
    ADHOC("7 days 2024-02-03 -> 2/10 春节 -> 2/18 make-up Sun", "days", 7, "2024-02-03",
          "2024-02-18"),
    ADHOC("30 days 2025-09-01 -> 10/1 国庆 -> 10/9", "days", 30, "2025-09-01", "2025-10-09"),
    ADHOC("10 days 2025-01-20 -> 1/30 春节 -> 2/5 (rest days inside not deducted)", "days", 10,
          "2025-01-20", "2025-02-05"),
    ADHOC("365 days 2024-01-01 -> 2024-12-31 Tue", "days", 365, "2024-01-01", "2024-12-31"),
    ADHOC("1 day 2025-12-31 -> 2026-01-01 元旦 -> 1/4 make-up Sun", "days", 1, "2025-12-31",
          "2026-01-04"),
    ADHOC("10 workdays 2026-02-10: 2/11,12,13,14(Sat),24,25,26,27,28(Sat),3/2", "workdays", 10,
          "2026-02-10", "2026-03-02"),
    ADHOC("5 workdays 2024-09-26: 9/27, 9/29 Sun, 9/30, 10/8, 10/9", "workdays", 5, "2024-09-26",
          "2024-10-09"),
    ADHOC("1 workday 2024-10-11 (Fri) -> 10/12 make-up Sat", "workdays", 1, "2024-10-11",
          "2024-10-12"),
    ADHOC("1 workday 2026-05-08 (Fri) -> 5/9 make-up Sat", "workdays", 1, "2026-05-08",
          "2026-05-09"),
    ADHOC("1 workday 2026-09-19 (Sat) -> 9/20 make-up Sun", "workdays", 1, "2026-09-19",
          "2026-09-20"),
    ADHOC("same day 2026-01-02 元旦 -> 1/4 make-up Sun", "same-day", 0, "2026-01-02", "2026-01-04"),
    BACK("5 days before 2025-02-10 -> 2/5 Wed", "days", 5, "2025-02-10", "2025-02-05"),
    BACK("3 days before 2026-02-26 -> 2/23 春节 -> back to 2/14 make-up Sat", "days", 3,
         "2026-02-26", "2026-02-14"),
    BACK("2 workdays before 2024-10-08: 9/30, 9/29 make-up Sun", "workdays", 2, "2024-10-08",
         "2024-09-29"),
};

/* Years without a notice: refused, or answered and marked provisional. */
static const s_row_t s_unknown[] = {
    REFUSED("days 1 from 2023-12-30 needs 2023-12-31", NULL, "days", 1, "2023-12-30",
            DOMAIN_DUE_UNKNOWN_YEAR),
    REFUSED("workdays 1 from 2023-12-29 needs 2023", NULL, "workdays", 1, "2023-12-29",
            DOMAIN_DUE_UNKNOWN_YEAR),
    REFUSED("days 3 from 2026-12-30 needs 2027-01-02", NULL, "days", 3, "2026-12-30",
            DOMAIN_DUE_UNKNOWN_YEAR),
    REFUSED("answer-lead from 2026-10-15 needs 2027-01-15", "answer-lead", NULL, 0, "2026-10-15",
            DOMAIN_DUE_UNKNOWN_YEAR),
    REFUSED("register 2027-03-01", "register", NULL, 0, "2027-03-01", DOMAIN_DUE_UNKNOWN_YEAR),
    REFUSED("register 2023-06-01", "register", NULL, 0, "2023-06-01", DOMAIN_DUE_UNKNOWN_YEAR),
    REFUSED("workdays 5 from 2026-12-28: three days, then 2027", NULL, "workdays", 5, "2026-12-28",
            DOMAIN_DUE_UNKNOWN_YEAR),
    REFUSED("activity-notice 2024-01-03 needs 2023-12-29", "activity-notice", NULL, 0, "2024-01-03",
            DOMAIN_DUE_UNKNOWN_YEAR),
    REFUSED("case-year-end 2027-05-01", "case-year-end", NULL, 0, "2027-05-01",
            DOMAIN_DUE_UNKNOWN_YEAR),
    REFUSED("transfer 2026-12-30 -> 2027-01-01", "transfer", NULL, 0, "2026-12-30",
            DOMAIN_DUE_UNKNOWN_YEAR),
    REFUSED("report-letters has no single due date", "report-letters", NULL, 0, "2025-03-03",
            DOMAIN_DUE_NO_DATE),
    PROVISIONAL("provisional days 3 from 2026-12-30 -> 2027-01-02 Sat -> 1/4 Mon", NULL, "days", 3,
                "2026-12-30", "2027-01-04"),
    PROVISIONAL("provisional register 2027-03-01 Mon -> same day", "register", NULL, 0,
                "2027-03-01", "2027-03-01"),
    PROVISIONAL("provisional workdays 5 from 2026-12-28 -> 12/29,30,31, 2027-01-01, 01-04", NULL,
                "workdays", 5, "2026-12-28", "2027-01-04"),
    PROVISIONAL("provisional answer-lead from 2026-10-15 -> 2027-01-15 Fri", "answer-lead", NULL, 0,
                "2026-10-15", "2027-01-15"),
    {"provisional flag with a known year stays unmarked", NULL, "days", 3, false, "2025-03-03",
     "2025-03-06", DOMAIN_DUE_OK, true},
    ADHOC("trigger in 2023, counted days all in 2024: 3 months from 2023-11-30", "months", 3,
          "2023-11-30", "2024-02-29"),
};

/* ---- holiday blocks from both sides --------------------------------------- */

typedef struct {
    const char *start, *end;
    const char *before_work; /* the last working day before the block (NULL: in 2023) */
    const char *after_work;  /* the first working day after it */
} s_block_t;

/* From DOMAIN.md §5 with the weekends and make-up days around each block. */
static const s_block_t s_blocks[] = {
    {"2024-01-01", "2024-01-01", NULL, "2024-01-02"},
    {"2024-02-10", "2024-02-17", "2024-02-09", "2024-02-18"}, /* 除夕 works; 2/18 make-up Sun */
    {"2024-04-04", "2024-04-06", "2024-04-03", "2024-04-07"}, /* 4/7 make-up Sun */
    {"2024-05-01", "2024-05-05", "2024-04-30", "2024-05-06"},
    {"2024-06-10", "2024-06-10", "2024-06-07", "2024-06-11"}, /* weekend 6/8-9 before */
    {"2024-09-15", "2024-09-17", "2024-09-14", "2024-09-18"}, /* 9/14 make-up Sat */
    {"2024-10-01", "2024-10-07", "2024-09-30", "2024-10-08"},
    {"2025-01-01", "2025-01-01", "2024-12-31", "2025-01-02"},
    {"2025-01-28", "2025-02-04", "2025-01-27", "2025-02-05"},
    {"2025-04-04", "2025-04-06", "2025-04-03", "2025-04-07"},
    {"2025-05-01", "2025-05-05", "2025-04-30", "2025-05-06"},
    {"2025-05-31", "2025-06-02", "2025-05-30", "2025-06-03"},
    {"2025-10-01", "2025-10-08", "2025-09-30", "2025-10-09"},
    {"2026-01-01", "2026-01-03", "2025-12-31", "2026-01-04"}, /* 1/4 make-up Sun */
    {"2026-02-15", "2026-02-23", "2026-02-14", "2026-02-24"}, /* 2/14 make-up Sat */
    {"2026-04-04", "2026-04-06", "2026-04-03", "2026-04-07"},
    {"2026-05-01", "2026-05-05", "2026-04-30", "2026-05-06"},
    {"2026-06-19", "2026-06-21", "2026-06-18", "2026-06-22"},
    {"2026-09-25", "2026-09-27", "2026-09-24", "2026-09-28"},
    {"2026-10-01", "2026-10-07", "2026-09-30", "2026-10-08"},
};
#define S_NBLOCKS (sizeof s_blocks / sizeof s_blocks[0])

static char *s_shift(const char *date, int n)
{
    domain_date_t d;
    assert_int_equal(domain_date_add_days(D(date), n, &d), 0);
    char *s = malloc(DOMAIN_DATE_STRLEN);
    assert_non_null(s);
    return domain_date_format(d, s);
}

static s_row_t *s_block_rows(size_t *n)
{
    s_row_t *rows = calloc(S_NBLOCKS * 5, sizeof *rows);
    size_t k = 0;
    for (size_t i = 0; i < S_NBLOCKS; i++) {
        const s_block_t *b = &s_blocks[i];
        char *name;
        /* A: 1 day from the eve lands on the first day: rolls over the whole block. */
        assert_true(asprintf(&name, "block %s..%s from before: 1 day lands on its first day -> %s",
                             b->start, b->end, b->after_work) > 0);
        rows[k++] = (s_row_t){name,          NULL,          "days", 1, false, s_shift(b->start, -1),
                              b->after_work, DOMAIN_DUE_OK, false};
        /* B: from its last day: the next day is already a working day. */
        assert_true(asprintf(&name, "block %s..%s from its last day: 1 day -> %s", b->start, b->end,
                             b->after_work) > 0);
        rows[k++] = (s_row_t){name,          NULL,          "days", 1, false, s_shift(b->end, 0),
                              b->after_work, DOMAIN_DUE_OK, false};
        /* C: 1 working day from the last working day before it: no block day counts. */
        assert_true(asprintf(&name,
                             "block %s..%s: 1 workday from the last working day before -> %s",
                             b->start, b->end, b->after_work) > 0);
        if (b->before_work)
            rows[k++] = (s_row_t){
                name,          NULL,          "workdays", 1, false, s_shift(b->before_work, 0),
                b->after_work, DOMAIN_DUE_OK, false};
        else
            rows[k++] = (s_row_t){
                name,         NULL,          "workdays", 1, false, s_shift(b->after_work, 0),
                "2024-01-03", DOMAIN_DUE_OK, false};
        /* D: from the other side, counting back from the first working day after. */
        assert_true(asprintf(&name, "block %s..%s from after: 1 workday back -> %s", b->start,
                             b->end, b->before_work ? b->before_work : "refused (2023)") > 0);
        if (b->before_work)
            rows[k++] = (s_row_t){
                name,           NULL,          "workdays", 1, true, s_shift(b->after_work, 0),
                b->before_work, DOMAIN_DUE_OK, false};
        else
            rows[k++] = (s_row_t){name,       NULL,
                                  "workdays", 1,
                                  true,       s_shift(b->after_work, 0),
                                  NULL,       DOMAIN_DUE_UNKNOWN_YEAR,
                                  false};
        /* E: days back onto the block's last day roll back over all of it. */
        assert_true(asprintf(&name, "block %s..%s from after: days back onto its last day -> %s",
                             b->start, b->end,
                             b->before_work ? b->before_work : "refused (2023)") > 0);
        /* amount = days from the block's last day to after_work + 0: trigger
         * is the day after the block's last day, 1 day back lands on it. */
        rows[k++] =
            (s_row_t){name,           NULL,
                      "days",         1,
                      true,           s_shift(b->end, 1),
                      b->before_work, b->before_work ? DOMAIN_DUE_OK : DOMAIN_DUE_UNKNOWN_YEAR,
                      false};
    }
    *n = k;
    return rows;
}

/* ---- court-local instants --------------------------------------------------- */

static int64_t s_utc(int y, int mo, int d, int h, int mi, int s)
{
    return (int64_t)domain_date_to_days(domain_date(y, mo, d)) * 86400 + h * 3600 + mi * 60 + s;
}

static void test_instant_2359_belongs_to_the_day(void **state)
{
    domain_zone_t z;
    assert_int_equal(domain_zone_find("Asia/Shanghai", &z), 0);
    domain_rules_t rules;
    domain_rules_defaults(&rules);
    domain_explain_t ex;
    /* 2025-01-24 23:59:59 Beijing = 15:59:59Z: approved on the 24th -> 1/26. */
    assert_int_equal(domain_rules_due_at(&rules, DOMAIN_RULE_TRANSFER, s_cal, NULL, &z,
                                         s_utc(2025, 1, 24, 15, 59, 59), 0, &ex),
                     0);
    assert_date_equal(ex.trigger, D("2025-01-24"));
    assert_date_equal(ex.due, D("2025-01-26"));
    assert_true(ex.has_instant);
    /* due 1/26 ends at 24:00 Beijing = 1/26 16:00Z */
    assert_int_equal(ex.due_instant, s_utc(2025, 1, 26, 16, 0, 0));
}

static void test_instant_0000_belongs_to_the_next_day(void **state)
{
    domain_zone_t z;
    assert_int_equal(domain_zone_find("Asia/Shanghai", &z), 0);
    domain_rules_t rules;
    domain_rules_defaults(&rules);
    domain_explain_t ex;
    /* 2025-01-25 00:00 Beijing = 1/24 16:00Z (still the 24th in UTC): the
     * trigger is the court-local 25th, so 1/27, never the UTC date's 1/26. */
    assert_int_equal(domain_rules_due_at(&rules, DOMAIN_RULE_TRANSFER, s_cal, NULL, &z,
                                         s_utc(2025, 1, 24, 16, 0, 0), 0, &ex),
                     0);
    assert_date_equal(ex.trigger, D("2025-01-25"));
    assert_date_equal(ex.due, D("2025-01-27"));
    assert_int_equal(ex.due_instant, s_utc(2025, 1, 27, 16, 0, 0));
}

static void test_instant_register_at_midnight(void **state)
{
    domain_zone_t z;
    assert_int_equal(domain_zone_find("Asia/Shanghai", &z), 0);
    domain_rules_t rules;
    domain_rules_defaults(&rules);
    domain_explain_t ex;
    /* received Fri 2025-05-30 23:59 Beijing: registered that day */
    assert_int_equal(domain_rules_due_at(&rules, DOMAIN_RULE_REGISTER, s_cal, NULL, &z,
                                         s_utc(2025, 5, 30, 15, 59, 0), 0, &ex),
                     0);
    assert_date_equal(ex.due, D("2025-05-30"));
    /* one minute later it is Sat 5/31 (端午 5/31-6/2): next working day 6/3 */
    assert_int_equal(domain_rules_due_at(&rules, DOMAIN_RULE_REGISTER, s_cal, NULL, &z,
                                         s_utc(2025, 5, 30, 16, 0, 0), 0, &ex),
                     0);
    assert_date_equal(ex.due, D("2025-06-03"));
    assert_int_equal(ex.due_instant, s_utc(2025, 6, 3, 16, 0, 0));
}

static void test_instant_in_utc_zone(void **state)
{
    domain_zone_t z;
    assert_int_equal(domain_zone_find("UTC", &z), 0);
    domain_rules_t rules;
    domain_rules_defaults(&rules);
    domain_explain_t ex;
    /* the same instant as above is still 1/24 in a UTC court */
    assert_int_equal(domain_rules_due_at(&rules, DOMAIN_RULE_TRANSFER, s_cal, NULL, &z,
                                         s_utc(2025, 1, 24, 16, 0, 0), 0, &ex),
                     0);
    assert_date_equal(ex.due, D("2025-01-26"));
    assert_int_equal(ex.due_instant, s_utc(2025, 1, 27, 0, 0, 0));
}

static void test_instant_before_zone_is_known_refused(void **state)
{
    domain_zone_t z;
    assert_int_equal(domain_zone_find("Asia/Shanghai", &z), 0);
    domain_period_t p = {DOMAIN_UNIT_DAYS, 1, DOMAIN_DIRECTION_AFTER, DOMAIN_ROLL_FORWARD};
    domain_explain_t ex;
    /* 1988: China kept summer time; the fixed offset does not apply */
    assert_int_equal(domain_period_due_at(s_cal, NULL, &z, &p, s_utc(1988, 6, 1, 0, 0, 0), 0, &ex),
                     -1);
    assert_int_equal(ex.status, DOMAIN_DUE_INVALID);
}

/* ---- invalid input ------------------------------------------------------------ */

static void test_invalid_periods_refused(void **state)
{
    domain_explain_t ex;
    domain_period_t bad[] = {
        {DOMAIN_UNIT_DAYS, 0, DOMAIN_DIRECTION_AFTER, DOMAIN_ROLL_FORWARD},
        {DOMAIN_UNIT_DAYS, -3, DOMAIN_DIRECTION_AFTER, DOMAIN_ROLL_FORWARD},
        {DOMAIN_UNIT_DAYS, DOMAIN_PERIOD_MAX_DAYS + 1, DOMAIN_DIRECTION_AFTER, DOMAIN_ROLL_FORWARD},
        {DOMAIN_UNIT_MONTHS, 121, DOMAIN_DIRECTION_AFTER, DOMAIN_ROLL_FORWARD},
        {DOMAIN_UNIT_WORKDAYS, 0, DOMAIN_DIRECTION_AFTER, DOMAIN_ROLL_FORWARD},
        {DOMAIN_UNIT_SAME_DAY, 2, DOMAIN_DIRECTION_AFTER, DOMAIN_ROLL_FORWARD},
        {(domain_unit_t)99, 1, DOMAIN_DIRECTION_AFTER, DOMAIN_ROLL_FORWARD},
        {DOMAIN_UNIT_DAYS, 1, (domain_direction_t)7, DOMAIN_ROLL_FORWARD},
        {DOMAIN_UNIT_DAYS, 1, DOMAIN_DIRECTION_AFTER, (domain_roll_t)9},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (domain_period_due(s_cal, NULL, &bad[i], D("2025-03-03"), 0, &ex) != -1)
            fail_msg("bad period %zu accepted", i);
        assert_int_equal(ex.status, DOMAIN_DUE_INVALID);
    }
    domain_period_t ok = {DOMAIN_UNIT_DAYS, 1, DOMAIN_DIRECTION_AFTER, DOMAIN_ROLL_FORWARD};
    assert_int_equal(domain_period_due(s_cal, NULL, &ok, domain_date(2025, 2, 29), 0, &ex), -1);
    assert_int_equal(ex.status, DOMAIN_DUE_INVALID);
    assert_int_equal(domain_period_due(NULL, NULL, &ok, D("2025-03-03"), 0, &ex), -1);
    assert_int_equal(domain_period_due(s_cal, NULL, NULL, D("2025-03-03"), 0, &ex), -1);
}

static void test_provisional_long_run_stays_in_range(void **state)
{
    /* provisional counting far past the calendar still ends */
    domain_period_t p = {DOMAIN_UNIT_WORKDAYS, DOMAIN_PERIOD_MAX_WORKDAYS, DOMAIN_DIRECTION_AFTER,
                         DOMAIN_ROLL_FORWARD};
    domain_explain_t ex;
    assert_int_equal(
        domain_period_due(s_cal, NULL, &p, D("2025-01-01"), DOMAIN_DUE_PROVISIONAL, &ex), 0);
    assert_true(ex.provisional);
    assert_date_equal(ex.unknown_day, D("2027-01-01"));
    p.direction = DOMAIN_DIRECTION_BEFORE;
    assert_int_equal(
        domain_period_due(s_cal, NULL, &p, domain_date(1905, 1, 1), DOMAIN_DUE_PROVISIONAL, &ex),
        -1);
    assert_int_equal(ex.status, DOMAIN_DUE_OUT_OF_RANGE);
}

/* ---- properties, exhaustive over 2024-01-01..2026-12-31 ---------------------- */

static void test_property_calendar_days_never_rest(void **state)
{
    int32_t first = domain_date_to_days(D("2024-01-01")),
            last = domain_date_to_days(D("2026-12-31"));
    long checked = 0, refused = 0;
    for (int n = 1; n <= 120; n++) {
        domain_period_t p = {DOMAIN_UNIT_DAYS, n, DOMAIN_DIRECTION_AFTER, DOMAIN_ROLL_FORWARD};
        domain_date_t prev = {0, 0, 0};
        bool have_prev = false;
        for (int32_t t = first; t <= last; t++) {
            domain_explain_t ex;
            domain_date_t trig = domain_date_from_days(t);
            int rc = domain_period_due(s_cal, NULL, &p, trig, 0, &ex);
            char b1[DOMAIN_DATE_STRLEN];
            if (rc != 0) {
                /* refused only when it needs 2027 */
                if (ex.status != DOMAIN_DUE_UNKNOWN_YEAR || ex.unknown_day.year != 2027)
                    fail_msg("n=%d from %s: refused: %s", n, domain_date_format(trig, b1),
                             ex.error);
                refused++;
                continue;
            }
            if (fixture_is_rest(ex.due))
                fail_msg("n=%d from %s: due %s is a rest day", n, domain_date_format(trig, b1),
                         domain_date_format(ex.due, b1));
            /* nominal = trigger + n, and every day from it to the due day is rest */
            assert_int_equal(domain_date_to_days(ex.nominal), t + n);
            for (int32_t d = t + n; d < domain_date_to_days(ex.due); d++)
                if (!fixture_is_rest(domain_date_from_days(d)))
                    fail_msg("n=%d from %s: rolled over a working day", n,
                             domain_date_format(trig, b1));
            if (have_prev && domain_date_compare(ex.due, prev) < 0)
                fail_msg("n=%d: a later trigger %s gives an earlier due date", n,
                         domain_date_format(trig, b1));
            prev = ex.due;
            have_prev = true;
            checked++;
        }
    }
    assert_true(checked > 120000);
    assert_true(refused > 0);
}

static void test_property_workdays_never_count_rest(void **state)
{
    int32_t first = domain_date_to_days(D("2024-01-01")),
            last = domain_date_to_days(D("2026-12-31"));
    long checked = 0;
    for (int n = 1; n <= 120; n++) {
        domain_period_t p = {DOMAIN_UNIT_WORKDAYS, n, DOMAIN_DIRECTION_AFTER, DOMAIN_ROLL_FORWARD};
        domain_date_t prev = {0, 0, 0};
        bool have_prev = false;
        for (int32_t t = first; t <= last; t++) {
            domain_explain_t ex;
            domain_date_t trig = domain_date_from_days(t);
            char b1[DOMAIN_DATE_STRLEN];
            if (domain_period_due(s_cal, NULL, &p, trig, 0, &ex) != 0) {
                if (ex.status != DOMAIN_DUE_UNKNOWN_YEAR)
                    fail_msg("n=%d from %s: %s", n, domain_date_format(trig, b1), ex.error);
                continue;
            }
            /* exactly n working days in (t, due], the due day one of them */
            int count = 0;
            int32_t due = domain_date_to_days(ex.due);
            for (int32_t d = t + 1; d <= due; d++)
                count += !fixture_is_rest(domain_date_from_days(d));
            if (count != n || fixture_is_rest(ex.due))
                fail_msg("n=%d from %s: %d working days up to %s", n, domain_date_format(trig, b1),
                         count, domain_date_format(ex.due, b1));
            /* every rest day passed over was recorded */
            assert_int_equal(ex.nskips_total, (size_t)(due - t - n));
            if (have_prev && domain_date_compare(ex.due, prev) < 0)
                fail_msg("n=%d: later trigger %s, earlier due", n, domain_date_format(trig, b1));
            prev = ex.due;
            have_prev = true;
            checked++;
        }
    }
    assert_true(checked > 100000);
}

static void test_property_months_never_rest(void **state)
{
    int32_t first = domain_date_to_days(D("2024-01-01")),
            last = domain_date_to_days(D("2026-12-31"));
    for (int n = 1; n <= 36; n++) {
        domain_period_t p = {DOMAIN_UNIT_MONTHS, n, DOMAIN_DIRECTION_AFTER, DOMAIN_ROLL_FORWARD};
        domain_date_t prev = {0, 0, 0};
        bool have_prev = false;
        for (int32_t t = first; t <= last; t++) {
            domain_explain_t ex;
            domain_date_t trig = domain_date_from_days(t);
            if (domain_period_due(s_cal, NULL, &p, trig, 0, &ex) != 0)
                continue;
            /* the nominal day is the same day-number or the month end */
            int want_m = (trig.month - 1 + n) % 12 + 1;
            assert_int_equal(ex.nominal.month, want_m);
            int dim = domain_date_days_in_month(ex.nominal.year, ex.nominal.month);
            assert_int_equal(ex.nominal.day, trig.day < dim ? trig.day : dim);
            assert_false(fixture_is_rest(ex.due));
            if (have_prev)
                assert_true(domain_date_compare(ex.due, prev) >= 0);
            prev = ex.due;
            have_prev = true;
        }
    }
}

static void test_property_before_never_rest(void **state)
{
    int32_t first = domain_date_to_days(D("2024-01-01")),
            last = domain_date_to_days(D("2026-12-31"));
    for (int n = 1; n <= 30; n++) {
        domain_period_t p = {DOMAIN_UNIT_DAYS, n, DOMAIN_DIRECTION_BEFORE, DOMAIN_ROLL_BACKWARD};
        for (int32_t t = first; t <= last; t++) {
            domain_explain_t ex;
            if (domain_period_due(s_cal, NULL, &p, domain_date_from_days(t), 0, &ex) != 0)
                continue;
            assert_false(fixture_is_rest(ex.due));
            /* never later than n days before the activity */
            assert_true(domain_date_to_days(ex.due) <= t - n);
        }
    }
}

int main(void)
{
    s_cal = fixture_calendar();
    if (!s_cal)
        return 1;
    int failed = 0;
    failed += fixture_run_rows("DOMAIN.md §6 examples", s_examples,
                               sizeof s_examples / sizeof s_examples[0], sizeof s_examples[0],
                               s_row_test);
    failed += fixture_run_rows("day rules, both units", s_day_rules,
                               sizeof s_day_rules / sizeof s_day_rules[0], sizeof s_day_rules[0],
                               s_row_test);
    failed += fixture_run_rows("months", s_months, sizeof s_months / sizeof s_months[0],
                               sizeof s_months[0], s_row_test);
    failed += fixture_run_rows("ad-hoc periods", s_adhoc, sizeof s_adhoc / sizeof s_adhoc[0],
                               sizeof s_adhoc[0], s_row_test);
    failed += fixture_run_rows("unknown years", s_unknown, sizeof s_unknown / sizeof s_unknown[0],
                               sizeof s_unknown[0], s_row_test);
    size_t nblock;
    s_row_t *blocks = s_block_rows(&nblock);
    failed += fixture_run_rows("holiday blocks from both sides", blocks, nblock, sizeof blocks[0],
                               s_row_test);
    for (size_t i = 0; i < nblock; i++) {
        free((char *)blocks[i].name);
        free((char *)blocks[i].trigger);
    }
    free(blocks);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_instant_2359_belongs_to_the_day),
        cmocka_unit_test(test_instant_0000_belongs_to_the_next_day),
        cmocka_unit_test(test_instant_register_at_midnight),
        cmocka_unit_test(test_instant_in_utc_zone),
        cmocka_unit_test(test_instant_before_zone_is_known_refused),
        cmocka_unit_test(test_invalid_periods_refused),
        cmocka_unit_test(test_provisional_long_run_stays_in_range),
        cmocka_unit_test(test_property_calendar_days_never_rest),
        cmocka_unit_test(test_property_workdays_never_count_rest),
        cmocka_unit_test(test_property_months_never_rest),
        cmocka_unit_test(test_property_before_never_rest),
    };
    failed += cmocka_run_group_tests_name("instants, input, properties", tests, NULL, NULL);
    domain_calendar_destroy(&s_cal);
    return failed ? 1 : 0;
}
