/* The rules table (DOMAIN.md §4.2), per-court overrides, the urging schedule,
 * and the explanation text. */
#include "test_domain_fixture.h"

#include "domain/explain.h"
#include "domain/rules.h"

typedef struct {
    const char *name;
    const char *rule;
    const char *trigger;
    const char *unit;
    int amount;
    const char *direction;
    const char *article;
} s_default_row_t;

/* §4.2, row by row. */
static const s_default_row_t s_defaults[] = {
    {"register: received, same day, Art. 13", "register", "received", "same-day", 0, "after",
     "Art. 13"},
    {"transfer: approved, 2 days, Art. 15", "transfer", "approved", "days", 2, "after", "Art. 15"},
    {"answer-lead: session closed, 3 months, Art. 14", "answer-lead", "session-closed", "months", 3,
     "after", "Art. 14"},
    {"answer-co: session closed, 1 month, Art. 14", "answer-co", "session-closed", "months", 1,
     "after", "Art. 14"},
    {"answer-between: transferred, 2 months, Art. 15", "answer-between", "transferred", "months", 2,
     "after", "Art. 15"},
    {"answer-between-max: transferred, 4 months, Art. 15", "answer-between-max", "transferred",
     "months", 4, "after", "Art. 15"},
    {"answer-quick: received, 3 days, Art. 16", "answer-quick", "received", "days", 3, "after",
     "Art. 16"},
    {"report-letters: periodic, Art. 8(5)", "report-letters", "registered", "periodic", 30, "after",
     "Art. 8(5)"},
    {"rehandle: evaluated, 1 month, no article", "rehandle", "evaluated", "months", 1, "after",
     NULL},
    {"case-year-end: fixed Dec 31, Art. 9(5)", "case-year-end", "year", "year-end", 0, "after",
     "Art. 9(5)"},
    {"activity-notice: 5 days before, Art. 9(2)", "activity-notice", "activity", "days", 5,
     "before", "Art. 9(2)"},
};

static void s_default_row(void **state)
{
    const s_default_row_t *r = *state;
    domain_rules_t rules;
    domain_rules_defaults(&rules);
    domain_rule_id_t id;
    assert_int_equal(domain_rule_parse(r->rule, &id), 0);
    assert_string_equal(domain_rule_name(id), r->rule);
    const domain_rule_t *rule = domain_rules_get(&rules, id);
    assert_true(rule->enabled);
    assert_string_equal(domain_trigger_name(rule->trigger), r->trigger);
    assert_string_equal(domain_unit_name(rule->period.unit), r->unit);
    assert_int_equal(rule->period.amount, r->amount);
    assert_string_equal(domain_direction_name(rule->period.direction), r->direction);
    if (r->article)
        assert_string_equal(domain_rule_article(id), r->article);
    else
        assert_null(domain_rule_article(id));
    /* Art. 20: escalation after two urgings, to the supervising leader */
    assert_int_equal(rule->urgings_before_escalation, 2);
    assert_true(rule->notify_escalate &
                (DOMAIN_NOTIFY_SUPERVISING_LEADER | DOMAIN_NOTIFY_LIAISON_OFFICE));
    char err[200];
    assert_int_equal(domain_rule_validate(rule, err, sizeof err), 0);
}

typedef struct {
    const char *name;
    const char *rule, *key, *value;
    bool ok;
} s_set_row_t;

static const s_set_row_t s_sets[] = {
    {"unit workdays", "transfer", "unit", "workdays", true},
    {"amount 5", "answer-quick", "amount", "5", true},
    {"reminders 7,1", "answer-lead", "reminders", "7,1", true},
    {"reminders none", "answer-lead", "reminders", "none", true},
    {"reminders empty", "answer-lead", "reminders", "", true},
    {"urgings 3 (a court may differ from Art. 20)", "answer-co", "urgings", "3", true},
    {"urge-interval 14", "answer-between", "urge-interval", "14", true},
    {"roll none", "register", "roll", "none", true},
    {"direction before", "transfer", "direction", "before", true},
    {"enabled no", "rehandle", "enabled", "no", true},
    {"notify-escalate list", "transfer", "notify-escalate", "supervising-leader,liaison-office",
     true},
    {"unknown rule", "answer-slow", "amount", "3", false},
    {"unknown key", "transfer", "color", "red", false},
    {"unit nonsense", "transfer", "unit", "weeks", false},
    {"amount zero", "transfer", "amount", "0", false},
    {"amount negative", "transfer", "amount", "-2", false},
    {"amount not a number", "transfer", "amount", "2x", false},
    {"amount too large", "answer-lead", "amount", "121", false},
    {"amount on a same-day rule", "register", "amount", "2", false},
    {"reminders ascending", "answer-lead", "reminders", "1,7", false},
    {"reminders zero", "answer-lead", "reminders", "0", false},
    {"reminders trailing comma", "answer-lead", "reminders", "7,", false},
    {"reminders too many", "answer-lead", "reminders", "9,8,7,6,5,4,3", false},
    {"urgings zero", "answer-co", "urgings", "0", false},
    {"urgings eleven", "answer-co", "urgings", "11", false},
    {"urge-interval zero", "answer-co", "urge-interval", "0", false},
    {"notify unknown", "transfer", "notify-urge", "everyone", false},
    {"notify-escalate empty", "transfer", "notify-escalate", "", false},
    {"enabled maybe", "transfer", "enabled", "maybe", false},
    {"roll sideways", "transfer", "roll", "sideways", false},
};

static void s_set_row(void **state)
{
    const s_set_row_t *r = *state;
    domain_rules_t rules, before;
    domain_rules_defaults(&rules);
    before = rules;
    char err[200] = "";
    int rc = domain_rules_set(&rules, r->rule, r->key, r->value, err, sizeof err);
    if (r->ok) {
        if (rc != 0)
            fail_msg("%s: %s", r->name, err);
    } else {
        assert_int_equal(rc, -1);
        assert_true(err[0] != '\0');
        /* a refused override leaves the table as it was */
        assert_memory_equal(&rules, &before, sizeof rules);
    }
}

static void test_override_changes_due_date(void **state)
{
    domain_calendar_t *cal = fixture_calendar();
    domain_rules_t rules;
    domain_rules_defaults(&rules);
    domain_explain_t ex;
    /* §6: transfer 2025-01-24 is 1/26 in days, 1/27 in working days */
    assert_int_equal(
        domain_rules_due(&rules, DOMAIN_RULE_TRANSFER, cal, NULL, D("2025-01-24"), 0, &ex), 0);
    assert_date_equal(ex.due, D("2025-01-26"));
    assert_int_equal(domain_rules_set(&rules, "transfer", "unit", "workdays", NULL, 0), 0);
    assert_int_equal(
        domain_rules_due(&rules, DOMAIN_RULE_TRANSFER, cal, NULL, D("2025-01-24"), 0, &ex), 0);
    assert_date_equal(ex.due, D("2025-01-27"));
    /* same-day registration kept on the rest day when the court says so */
    assert_int_equal(domain_rules_set(&rules, "register", "roll", "none", NULL, 0), 0);
    assert_int_equal(
        domain_rules_due(&rules, DOMAIN_RULE_REGISTER, cal, NULL, D("2025-05-03"), 0, &ex), 0);
    assert_date_equal(ex.due, D("2025-05-03"));
    /* a switched-off rule gives no date */
    assert_int_equal(domain_rules_set(&rules, "rehandle", "enabled", "no", NULL, 0), 0);
    assert_int_equal(
        domain_rules_due(&rules, DOMAIN_RULE_REHANDLE, cal, NULL, D("2025-05-03"), 0, &ex), -1);
    assert_int_equal(ex.status, DOMAIN_DUE_NO_DATE);
    /* unit switches: same-day -> days starts at 1 */
    assert_int_equal(domain_rules_set(&rules, "register", "unit", "days", NULL, 0), 0);
    assert_int_equal(domain_rules_get(&rules, DOMAIN_RULE_REGISTER)->period.amount, 1);
    assert_int_equal(
        domain_rules_due(&rules, (domain_rule_id_t)99, cal, NULL, D("2025-05-03"), 0, &ex), -1);
    domain_calendar_destroy(&cal);
}

static void test_case_year_end_rolls_back(void **state)
{
    /* 2022-12-31 was a Saturday: "before the end of December" means Fri 12/30 */
    static const char text[] = "[year 2022]\nnotice = test\n";
    domain_calendar_t *cal = domain_calendar_parse(text, sizeof text - 1, NULL, 0);
    assert_non_null(cal);
    domain_rules_t rules;
    domain_rules_defaults(&rules);
    domain_explain_t ex;
    assert_int_equal(
        domain_rules_due(&rules, DOMAIN_RULE_CASE_YEAR_END, cal, NULL, D("2022-04-01"), 0, &ex), 0);
    assert_date_equal(ex.nominal, D("2022-12-31"));
    assert_date_equal(ex.due, D("2022-12-30"));
    domain_calendar_destroy(&cal);
}

static void test_schedule(void **state)
{
    domain_rules_t rules;
    domain_rules_defaults(&rules);
    const domain_rule_t *r = domain_rules_get(&rules, DOMAIN_RULE_ANSWER_LEAD);
    domain_date_t d;
    /* reminders 30, 7, 1 days before a due date of 2025-04-10 */
    assert_int_equal(r->nreminders, 3);
    assert_int_equal(domain_rule_reminder_date(r, D("2025-04-10"), 0, &d), 0);
    assert_date_equal(d, D("2025-03-11"));
    assert_int_equal(domain_rule_reminder_date(r, D("2025-04-10"), 2, &d), 0);
    assert_date_equal(d, D("2025-04-09"));
    assert_int_equal(domain_rule_reminder_date(r, D("2025-04-10"), 3, &d), -1);
    /* urging 1 the day after, 2 a week later, escalation a week after that */
    assert_int_equal(domain_rule_urge_date(r, D("2025-04-10"), 1, &d), 0);
    assert_date_equal(d, D("2025-04-11"));
    assert_int_equal(domain_rule_urge_date(r, D("2025-04-10"), 2, &d), 0);
    assert_date_equal(d, D("2025-04-18"));
    assert_int_equal(domain_rule_urge_date(r, D("2025-04-10"), 3, &d),
                     -1); /* only two before escalation */
    assert_int_equal(domain_rule_escalation_date(r, D("2025-04-10"), &d), 0);
    assert_date_equal(d, D("2025-04-25"));
}

static void test_names(void **state)
{
    for (int i = 0; i < DOMAIN_RULE_COUNT; i++) {
        domain_rule_id_t id;
        assert_int_equal(domain_rule_parse(domain_rule_name((domain_rule_id_t)i), &id), 0);
        assert_int_equal(id, i);
        assert_non_null(domain_rule_title((domain_rule_id_t)i));
    }
    domain_rule_id_t id;
    assert_int_equal(domain_rule_parse("nope", &id), -1);
    assert_int_equal(domain_rule_parse(NULL, &id), -1);
    unsigned bits;
    assert_int_equal(domain_notify_parse("department, department-head", &bits), 0);
    assert_int_equal(bits, DOMAIN_NOTIFY_DEPARTMENT | DOMAIN_NOTIFY_DEPARTMENT_HEAD);
    assert_string_equal(domain_notify_name(DOMAIN_NOTIFY_SUPERVISING_LEADER), "supervising-leader");
    assert_string_equal(domain_trigger_label(DOMAIN_TRIGGER_APPROVED), "approval date (审批之日)");
}

/* Whom each stage tells: the rule's own lists, the liaison office at the due
 * instant, and the supervising leader at every escalation (Art. 20). */
static void test_stage_notify(void **state)
{
    (void)state;
    domain_rules_t rules;
    domain_rules_defaults(&rules);
    const domain_rule_t *yend = domain_rules_get(&rules, DOMAIN_RULE_CASE_YEAR_END);
    assert_int_equal(domain_rule_stage_notify(yend, "remind:30"), DOMAIN_NOTIFY_LIAISON_OFFICER);
    assert_int_equal(domain_rule_stage_notify(yend, "urge:1"),
                     DOMAIN_NOTIFY_LIAISON_OFFICER | DOMAIN_NOTIFY_LIAISON_OFFICE);
    assert_int_equal(domain_rule_stage_notify(yend, "due"), DOMAIN_NOTIFY_LIAISON_OFFICE);
    assert_int_equal(domain_rule_stage_notify(yend, "escalate"),
                     DOMAIN_NOTIFY_SUPERVISING_LEADER | DOMAIN_NOTIFY_LIAISON_OFFICE);

    /* A court that escalates to the president only still tells the
     * supervising leader (Art. 20). */
    char err[160];
    assert_int_equal(
        domain_rules_set(&rules, "transfer", "notify-escalate", "president", err, sizeof err), 0);
    const domain_rule_t *tr = domain_rules_get(&rules, DOMAIN_RULE_TRANSFER);
    assert_int_equal(domain_rule_stage_notify(tr, "escalate"),
                     DOMAIN_NOTIFY_PRESIDENT | DOMAIN_NOTIFY_SUPERVISING_LEADER);

    assert_int_equal(domain_rule_stage_notify(NULL, "remind:7"), DOMAIN_NOTIFY_DEPARTMENT);
    assert_int_equal(domain_rule_stage_notify(NULL, "urge:2"), DOMAIN_NOTIFY_DEPARTMENT);
    assert_int_equal(domain_rule_stage_notify(NULL, "escalate"), DOMAIN_NOTIFY_SUPERVISING_LEADER);
    assert_int_equal(domain_rule_stage_notify(tr, "created"), 0);
    assert_int_equal(domain_rule_stage_notify(tr, NULL), 0);
}

/* A named recipient nobody answers to goes to the liaison office, with a
 * reason; the liaison office itself never falls back. */
static void test_notify_unresolved(void **state)
{
    (void)state;
    const unsigned LO = DOMAIN_NOTIFY_LIAISON_OFFICE, PRES = DOMAIN_NOTIFY_PRESIDENT,
                   OFF = DOMAIN_NOTIFY_LIAISON_OFFICER, LEAD = DOMAIN_NOTIFY_SUPERVISING_LEADER;
    assert_int_equal(domain_notify_unresolved(PRES | LEAD, LEAD), PRES);
    assert_int_equal(domain_notify_unresolved(PRES | OFF | LO, 0), PRES | OFF);
    assert_int_equal(domain_notify_unresolved(OFF, OFF), 0);
    assert_int_equal(domain_notify_unresolved(0, PRES), 0);
    assert_int_equal(domain_notify_unresolved(1u << 20, 0), 0);
    for (unsigned b = 1; b <= OFF; b <<= 1) {
        const char *why = domain_notify_unresolved_reason((domain_notify_t)b);
        assert_string_not_equal(why, "?");
    }
    assert_non_null(strstr(domain_notify_unresolved_reason(DOMAIN_NOTIFY_PRESIDENT), "院长"));
    assert_non_null(
        strstr(domain_notify_unresolved_reason(DOMAIN_NOTIFY_LIAISON_OFFICER), "挂点联络员"));
    assert_string_equal(domain_notify_unresolved_reason((domain_notify_t)(PRES | OFF)), "?");
}

/* ---- explanation text ---------------------------------------------------------- */

static void test_explain_rolled_over_days(void **state)
{
    domain_calendar_t *cal = fixture_calendar();
    domain_rules_t rules;
    domain_rules_defaults(&rules);
    domain_explain_t ex;
    domain_zone_t z;
    assert_int_equal(domain_zone_find("Asia/Shanghai", &z), 0);
    int64_t start;
    assert_int_equal(domain_zone_start_of_day(&z, D("2025-01-27"), &start), 0);
    assert_int_equal(
        domain_rules_due_at(&rules, DOMAIN_RULE_TRANSFER, cal, NULL, &z, start, 0, &ex), 0);
    assert_int_equal(ex.nskips, 7); /* 1/29 .. 2/4 */
    assert_string_equal(ex.skips[0].name, "春节");
    char *text = domain_explain_text(&ex);
    assert_non_null(text);
    const char *want[] = {
        "trigger: 2025-01-27 (Mon) approval date",
        "rule: transfer — 审批后二日内转交承办部门 (Art. 15)",
        "unit: 2 calendar days after the trigger",
        "nominal last day: 2025-01-29 (Wed)",
        "rolled over: 2025-01-29 (Wed) 春节, holiday",
        "rolled over: 2025-02-04 (Tue) 春节, holiday",
        "due: 2025-02-05 (Wed), ends 24:00 court-local = 2025-02-05T16:00:00Z (Asia/Shanghai)",
        "calendar: version test-1",
        "2025: 国办发明电〔2024〕12号"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(text, want[i]))
            fail_msg("explanation lacks \"%s\":\n%s", want[i], text);
    free(text);
    domain_calendar_destroy(&cal);
}

static void test_explain_weekend_and_workdays(void **state)
{
    domain_calendar_t *cal = fixture_calendar();
    domain_period_t p = {DOMAIN_UNIT_WORKDAYS, 2, DOMAIN_DIRECTION_AFTER, DOMAIN_ROLL_FORWARD};
    domain_explain_t ex;
    domain_explain_reset(&ex);
    assert_int_equal(domain_period_due(cal, NULL, &p, D("2025-01-24"), 0, &ex), 0);
    char *text = domain_explain_text(&ex);
    assert_non_null(strstr(text, "passed over: 2025-01-25 (Sat) 周六, weekend"));
    assert_non_null(strstr(text, "rule: (a period given directly)"));
    assert_null(strstr(text, "nominal last day"));
    free(text);
    /* a working nominal day says so */
    p.unit = DOMAIN_UNIT_DAYS;
    assert_int_equal(domain_period_due(cal, NULL, &p, D("2025-03-03"), 0, &ex), 0);
    text = domain_explain_text(&ex);
    assert_non_null(strstr(text, "no roll: the nominal last day is a working day"));
    free(text);
    domain_calendar_destroy(&cal);
}

static void test_explain_provisional_and_refused(void **state)
{
    domain_calendar_t *cal = fixture_calendar();
    domain_period_t p = {DOMAIN_UNIT_DAYS, 3, DOMAIN_DIRECTION_AFTER, DOMAIN_ROLL_FORWARD};
    domain_explain_t ex;
    domain_explain_reset(&ex);
    assert_int_equal(domain_period_due(cal, NULL, &p, D("2026-12-30"), DOMAIN_DUE_PROVISIONAL, &ex),
                     0);
    char *text = domain_explain_text(&ex);
    assert_non_null(strstr(text, "PROVISIONAL: the calendar has no holiday notice for 2027"));
    assert_non_null(strstr(text, "2027: no notice (unknown year)"));
    free(text);
    assert_int_equal(domain_period_due(cal, NULL, &p, D("2026-12-30"), 0, &ex), -1);
    text = domain_explain_text(&ex);
    assert_non_null(
        strstr(text, "refused (unknown-year): the work calendar has no holiday notice for 2027"));
    free(text);
    assert_string_equal(domain_due_status_name(DOMAIN_DUE_UNKNOWN_YEAR), "unknown-year");
    assert_null(domain_explain_text(NULL));
    domain_calendar_destroy(&cal);
}

/* A court's overrides as its directory record keeps them: "rule.setting"
 * keys, applied all or nothing, in an order that does not depend on theirs. */
static void test_apply_overrides(void **state)
{
    domain_rules_t a, b, defaults;
    domain_rules_defaults(&defaults);
    char err[200];
    size_t bad = 99;
    /* an amount before its unit: the register rule has none until it counts days */
    const domain_rule_override_t one[] = {{"register.amount", "3"},
                                          {"answer-between.reminders", "10,3"},
                                          {"register.unit", "days"},
                                          {"answer-between.urge-interval", "3"}};
    const domain_rule_override_t two[] = {{"answer-between.urge-interval", "3"},
                                          {"register.unit", "days"},
                                          {"answer-between.reminders", "10,3"},
                                          {"register.amount", "3"}};
    a = defaults;
    b = defaults;
    assert_int_equal(domain_rules_apply(&a, one, 4, &bad, err, sizeof err), 0);
    assert_int_equal(domain_rules_apply(&b, two, 4, &bad, err, sizeof err), 0);
    assert_memory_equal(&a, &b, sizeof a);
    const domain_rule_t *r = domain_rules_get(&a, DOMAIN_RULE_REGISTER);
    assert_int_equal(r->period.unit, DOMAIN_UNIT_DAYS);
    assert_int_equal(r->period.amount, 3);
    r = domain_rules_get(&a, DOMAIN_RULE_ANSWER_BETWEEN);
    assert_int_equal(r->nreminders, 2);
    assert_int_equal(r->reminders[0], 10);
    assert_int_equal(r->reminders[1], 3);
    assert_int_equal(r->urge_interval_days, 3);
    /* untouched rules keep the regulation's defaults */
    assert_memory_equal(domain_rules_get(&a, DOMAIN_RULE_TRANSFER),
                        domain_rules_get(&defaults, DOMAIN_RULE_TRANSFER), sizeof(domain_rule_t));
    /* the same key twice: the later wins */
    const domain_rule_override_t twice[] = {{"transfer.amount", "5"}, {"transfer.amount", "4"}};
    assert_int_equal(domain_rules_apply(&a, twice, 2, NULL, err, sizeof err), 0);
    assert_int_equal(domain_rules_get(&a, DOMAIN_RULE_TRANSFER)->period.amount, 4);
    /* nothing to apply */
    assert_int_equal(domain_rules_apply(&a, NULL, 0, &bad, err, sizeof err), 0);

    /* refusals: the offending override is named and nothing changes */
    const domain_rule_override_t refused[][2] = {
        {{"transfer.amount", "7"}, {"transfer.unit", "fortnights"}},
        {{"transfer.amount", "7"}, {"transfer", "days"}},
        {{"transfer.amount", "7"}, {"nosuch.amount", "1"}},
        {{"transfer.amount", "7"}, {"transfer.colour", "red"}},
        {{"transfer.amount", "7"}, {".amount", "1"}},
        {{"transfer.amount", "7"}, {"transfer.urge-interval", "0"}},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        b = a;
        bad = 99;
        err[0] = '\0';
        assert_int_equal(domain_rules_apply(&b, refused[i], 2, &bad, err, sizeof err), -1);
        assert_int_equal(bad, 1);
        assert_true(err[0] != '\0');
        assert_memory_equal(&a, &b, sizeof a);
    }
    assert_int_equal(domain_rules_set_key(&b, "transfer", "1", err, sizeof err), -1);
    assert_non_null(strstr(err, "rule.setting"));
    assert_int_equal(domain_rules_set_key(&b, "transfer.amount", "6", err, sizeof err), 0);
    assert_int_equal(domain_rules_get(&b, DOMAIN_RULE_TRANSFER)->period.amount, 6);
    domain_rule_override_t many[DOMAIN_RULES_MAX_OVERRIDES + 1];
    for (size_t i = 0; i < DOMAIN_RULES_MAX_OVERRIDES + 1; i++)
        many[i] = (domain_rule_override_t){"transfer.amount", "2"};
    assert_int_equal(
        domain_rules_apply(&b, many, DOMAIN_RULES_MAX_OVERRIDES, NULL, err, sizeof err), 0);
    assert_int_equal(
        domain_rules_apply(&b, many, DOMAIN_RULES_MAX_OVERRIDES + 1, NULL, err, sizeof err), -1);
}

static void test_explain_court_override(void **state)
{
    domain_calendar_t *cal = fixture_calendar();
    assert_int_equal(domain_calendar_court_day(cal, "lw", D("2025-03-05"), true, "院庆", NULL, 0),
                     0);
    domain_period_t p = {DOMAIN_UNIT_DAYS, 2, DOMAIN_DIRECTION_AFTER, DOMAIN_ROLL_FORWARD};
    domain_explain_t ex;
    domain_explain_reset(&ex);
    /* Mon 3/3 + 2 = Wed 3/5, the court's own rest day -> Thu 3/6 */
    assert_int_equal(domain_period_due(cal, "lw", &p, D("2025-03-03"), 0, &ex), 0);
    assert_date_equal(ex.due, D("2025-03-06"));
    assert_true(ex.skips[0].court_override);
    char *text = domain_explain_text(&ex);
    assert_non_null(strstr(text, "院庆, holiday (the court's own rest day)"));
    assert_non_null(strstr(text, "court: lw"));
    free(text);
    /* nationally it is a working day */
    assert_int_equal(domain_period_due(cal, NULL, &p, D("2025-03-03"), 0, &ex), 0);
    assert_date_equal(ex.due, D("2025-03-05"));
    domain_calendar_destroy(&cal);
}

int main(void)
{
    int failed = 0;
    failed +=
        fixture_run_rows("§4.2 defaults", s_defaults, sizeof s_defaults / sizeof s_defaults[0],
                         sizeof s_defaults[0], s_default_row);
    failed += fixture_run_rows("per-court overrides", s_sets, sizeof s_sets / sizeof s_sets[0],
                               sizeof s_sets[0], s_set_row);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_override_changes_due_date),
        cmocka_unit_test(test_case_year_end_rolls_back),
        cmocka_unit_test(test_schedule),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_stage_notify),
        cmocka_unit_test(test_notify_unresolved),
        cmocka_unit_test(test_explain_rolled_over_days),
        cmocka_unit_test(test_explain_weekend_and_workdays),
        cmocka_unit_test(test_explain_provisional_and_refused),
        cmocka_unit_test(test_explain_court_override),
        cmocka_unit_test(test_apply_overrides),
    };
    failed += cmocka_run_group_tests_name("rules and explanations", tests, NULL, NULL);
    return failed ? 1 : 0;
}
