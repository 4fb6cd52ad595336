/* domain_rules — DOMAIN.md §4.2 as data. See rules.h. */
#include "domain/rules.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    const char *title;
    const char *article;
} s_rule_info_t;

static const s_rule_info_t s_info[DOMAIN_RULE_COUNT] = {
    [DOMAIN_RULE_REGISTER] = {"register", "收到当日进行登记", "Art. 13"},
    [DOMAIN_RULE_TRANSFER] = {"transfer", "审批后二日内转交承办部门", "Art. 15"},
    [DOMAIN_RULE_ANSWER_LEAD] = {"answer-lead", "属本院主办的，自人大会议闭会之日起三个月内答复",
                                 "Art. 14"},
    [DOMAIN_RULE_ANSWER_CO] =
        {"answer-co", "属本院协办的，自人大会议闭会之日起一个月内答复（可直接答复主办单位）",
         "Art. 14"},
    [DOMAIN_RULE_ANSWER_BETWEEN] = {"answer-between",
                                    "闭会期间的建议、批评和意见，在交办起两个月内答复", "Art. 15"},
    [DOMAIN_RULE_ANSWER_BETWEEN_MAX] = {"answer-between-max", "至迟不超过四个月答复人大代表",
                                        "Art. 15"},
    [DOMAIN_RULE_ANSWER_QUICK] = {"answer-quick",
                                  "不能当场答复且不需要列入院长督办件办理的，应在三日内答复",
                                  "Art. 16"},
    [DOMAIN_RULE_REPORT_LETTERS] = {"report-letters", "人大代表来信定期催办并及时回复",
                                    "Art. 8(5)"},
    [DOMAIN_RULE_REHANDLE] = {"rehandle", "代表不满意的，重新办理（本院办理规范，非规定条文）",
                              NULL},
    [DOMAIN_RULE_CASE_YEAR_END] = {"case-year-end",
                                   "对年末仍未审结的案件，在十二月底前向结对人大代表作出解释",
                                   "Art. 9(5)"},
    [DOMAIN_RULE_ACTIVITY_NOTICE] =
        {"activity-notice", "邀请人大代表参加活动，须提前五天将活动方案、代表名单告知联络办",
         "Art. 9(2)"},
};

static const char *s_trigger_names[] = {"received",  "approved", "session-closed", "transferred",
                                        "evaluated", "year",     "activity",       "registered"};
static const char *s_trigger_labels[] = {
    "received date (收到之日)", "approval date (审批之日)",     "session closing date (闭会之日)",
    "transfer date (交办之日)", "evaluation date (评价之日)",   "a day of the year (年内)",
    "activity date (活动之日)", "registration date (登记之日)",
};

static const char *s_notify_names[] = {"liaison-office",     "department", "department-head",
                                       "supervising-leader", "president",  "liaison-officer"};

#define S_COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void s_msg(char *err, size_t errsize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void s_msg(char *err, size_t errsize, const char *fmt, ...)
{
    if (!err || errsize == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsize, fmt, ap);
    va_end(ap);
}

const char *domain_rule_name(domain_rule_id_t id)
{
    return (unsigned)id < DOMAIN_RULE_COUNT ? s_info[id].name : "?";
}

int domain_rule_parse(const char *name, domain_rule_id_t *out)
{
    if (!name)
        return -1;
    for (int i = 0; i < DOMAIN_RULE_COUNT; i++)
        if (strcmp(name, s_info[i].name) == 0) {
            *out = (domain_rule_id_t)i;
            return 0;
        }
    return -1;
}

const char *domain_rule_title(domain_rule_id_t id)
{
    return (unsigned)id < DOMAIN_RULE_COUNT ? s_info[id].title : NULL;
}

const char *domain_rule_article(domain_rule_id_t id)
{
    return (unsigned)id < DOMAIN_RULE_COUNT ? s_info[id].article : NULL;
}

const char *domain_trigger_name(domain_trigger_t trigger)
{
    return (unsigned)trigger < S_COUNT(s_trigger_names) ? s_trigger_names[trigger] : "?";
}

const char *domain_trigger_label(domain_trigger_t trigger)
{
    return (unsigned)trigger < S_COUNT(s_trigger_labels) ? s_trigger_labels[trigger] : "?";
}

const char *domain_notify_name(domain_notify_t one)
{
    for (size_t i = 0; i < S_COUNT(s_notify_names); i++)
        if ((unsigned)one == 1u << i)
            return s_notify_names[i];
    return "?";
}

int domain_notify_parse(const char *list, unsigned *out)
{
    if (!list)
        return -1;
    unsigned bits = 0;
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        size_t n = strcspn(p, ", ");
        size_t i;
        for (i = 0; i < S_COUNT(s_notify_names); i++)
            if (strlen(s_notify_names[i]) == n && memcmp(p, s_notify_names[i], n) == 0)
                break;
        if (i == S_COUNT(s_notify_names))
            return -1;
        bits |= 1u << i;
        p += n;
    }
    *out = bits;
    return 0;
}

unsigned domain_rule_stage_notify(const domain_rule_t *rule, const char *stage)
{
    if (!stage)
        return 0;
    if (strncmp(stage, "remind:", 7) == 0)
        return rule ? rule->notify_reminder : DOMAIN_NOTIFY_DEPARTMENT;
    if (strcmp(stage, "due") == 0)
        return DOMAIN_NOTIFY_LIAISON_OFFICE; /* Art. 20: the liaison office tracks and urges */
    if (strncmp(stage, "urge:", 5) == 0)
        return rule ? rule->notify_urge : DOMAIN_NOTIFY_DEPARTMENT;
    if (strcmp(stage, "escalate") == 0) /* Art. 20: 向该承办部门的分管领导通报 */
        return (rule ? rule->notify_escalate : 0) | DOMAIN_NOTIFY_SUPERVISING_LEADER;
    return 0;
}

unsigned domain_notify_unresolved(unsigned named, unsigned resolved)
{
    unsigned all = (1u << S_COUNT(s_notify_names)) - 1;
    return named & ~resolved & all & ~(unsigned)DOMAIN_NOTIFY_LIAISON_OFFICE;
}

const char *domain_notify_unresolved_reason(domain_notify_t one)
{
    switch (one) {
    case DOMAIN_NOTIFY_LIAISON_OFFICE:
        return "the court has no liaison office (联络办) on record";
    case DOMAIN_NOTIFY_DEPARTMENT:
        return "no handling department (承办部门) yet: the item is not transferred";
    case DOMAIN_NOTIFY_DEPARTMENT_HEAD:
        return "the handling department has no head (部门负责人) on record";
    case DOMAIN_NOTIFY_SUPERVISING_LEADER:
        return "the handling department has no supervising court leader (分管院领导) on record";
    case DOMAIN_NOTIFY_PRESIDENT:
        return "no active staff member has the president role (院长)";
    case DOMAIN_NOTIFY_LIAISON_OFFICER:
        return "no paired liaison officer (挂点联络员) on record for the item's deputies";
    }
    return "?";
}

/* ---- defaults ------------------------------------------------------------- */

static void s_set(domain_rule_t *r, domain_rule_id_t id, domain_trigger_t trigger,
                  domain_unit_t unit, int amount, domain_direction_t dir, domain_roll_t roll,
                  const int *reminders, size_t nreminders, int urge, unsigned who_remind,
                  unsigned who_urge, unsigned who_escalate)
{
    memset(r, 0, sizeof *r);
    r->id = id;
    r->enabled = true;
    r->trigger = trigger;
    r->period.unit = unit;
    r->period.amount = amount;
    r->period.direction = dir;
    r->period.roll = roll;
    for (size_t i = 0; i < nreminders && i < DOMAIN_RULE_MAX_REMINDERS; i++)
        r->reminders[r->nreminders++] = reminders[i];
    r->urge_interval_days = urge;
    r->urgings_before_escalation = 2; /* Art. 20: 经两次催办仍未报告办理结果的 */
    r->notify_reminder = who_remind;
    r->notify_urge = who_urge;
    r->notify_escalate = who_escalate;
}

void domain_rules_defaults(domain_rules_t *self)
{
    const unsigned LO = DOMAIN_NOTIFY_LIAISON_OFFICE, DEP = DOMAIN_NOTIFY_DEPARTMENT,
                   HEAD = DOMAIN_NOTIFY_DEPARTMENT_HEAD, LEAD = DOMAIN_NOTIFY_SUPERVISING_LEADER,
                   OFFICER = DOMAIN_NOTIFY_LIAISON_OFFICER;
    const domain_direction_t AFTER = DOMAIN_DIRECTION_AFTER, BEFORE = DOMAIN_DIRECTION_BEFORE;
    const domain_roll_t FWD = DOMAIN_ROLL_FORWARD, BACK = DOMAIN_ROLL_BACKWARD;
    static const int r_none[] = {0}, r_1[] = {1}, r_7_1[] = {7, 1}, r_30_7_1[] = {30, 7, 1},
                     r_14_7_1[] = {14, 7, 1}, r_30_7[] = {30, 7}, r_2_1[] = {2, 1};
    /* domain_rules_defaults writes the whole table; it reads nothing of it */
    // cppcheck-suppress ctuuninitvar
    domain_rule_t *r = self->rule;
    /* Art. 13: registered on the day of receipt; received on a rest day → the
     * next working day (DOMAIN.md §4.1 policy, roll "none" keeps the day). */
    s_set(&r[DOMAIN_RULE_REGISTER], DOMAIN_RULE_REGISTER, DOMAIN_TRIGGER_RECEIVED,
          DOMAIN_UNIT_SAME_DAY, 0, AFTER, FWD, r_none, 0, 1, LO, LO, LO | LEAD);
    /* Art. 15: 审批后二日内转交承办部门 — the liaison office transfers. */
    s_set(&r[DOMAIN_RULE_TRANSFER], DOMAIN_RULE_TRANSFER, DOMAIN_TRIGGER_APPROVED, DOMAIN_UNIT_DAYS,
          2, AFTER, FWD, r_1, 1, 1, LO, LO, LO | LEAD);
    /* Art. 14: session items, lead 3 months, co-handler 1 month from closing. */
    s_set(&r[DOMAIN_RULE_ANSWER_LEAD], DOMAIN_RULE_ANSWER_LEAD, DOMAIN_TRIGGER_SESSION_CLOSED,
          DOMAIN_UNIT_MONTHS, 3, AFTER, FWD, r_30_7_1, 3, 7, DEP, DEP | HEAD | LO,
          LEAD | HEAD | LO);
    s_set(&r[DOMAIN_RULE_ANSWER_CO], DOMAIN_RULE_ANSWER_CO, DOMAIN_TRIGGER_SESSION_CLOSED,
          DOMAIN_UNIT_MONTHS, 1, AFTER, FWD, r_7_1, 2, 3, DEP, DEP | HEAD | LO, LEAD | HEAD | LO);
    /* Art. 15: 交办起两个月内, 至迟不超过四个月. */
    s_set(&r[DOMAIN_RULE_ANSWER_BETWEEN], DOMAIN_RULE_ANSWER_BETWEEN, DOMAIN_TRIGGER_TRANSFERRED,
          DOMAIN_UNIT_MONTHS, 2, AFTER, FWD, r_14_7_1, 3, 7, DEP, DEP | HEAD | LO,
          LEAD | HEAD | LO);
    s_set(&r[DOMAIN_RULE_ANSWER_BETWEEN_MAX], DOMAIN_RULE_ANSWER_BETWEEN_MAX,
          DOMAIN_TRIGGER_TRANSFERRED, DOMAIN_UNIT_MONTHS, 4, AFTER, FWD, r_14_7_1, 3, 3, DEP | HEAD,
          DEP | HEAD | LO, LEAD | HEAD | LO);
    /* Art. 16: 不能当场答复的, 应在三日内答复. */
    s_set(&r[DOMAIN_RULE_ANSWER_QUICK], DOMAIN_RULE_ANSWER_QUICK, DOMAIN_TRIGGER_RECEIVED,
          DOMAIN_UNIT_DAYS, 3, AFTER, FWD, r_1, 1, 1, DEP, DEP | HEAD | LO, LEAD | HEAD | LO);
    /* Art. 8(5): letters are urged periodically (定期催办); 30 days by default. */
    s_set(&r[DOMAIN_RULE_REPORT_LETTERS], DOMAIN_RULE_REPORT_LETTERS, DOMAIN_TRIGGER_REGISTERED,
          DOMAIN_UNIT_PERIODIC, 30, AFTER, FWD, r_none, 0, 30, DEP, DEP | HEAD | LO,
          LEAD | HEAD | LO);
    /* Not in the regulation: a dissatisfied deputy's item is handled again
     * within a month (common practice; configurable). */
    s_set(&r[DOMAIN_RULE_REHANDLE], DOMAIN_RULE_REHANDLE, DOMAIN_TRIGGER_EVALUATED,
          DOMAIN_UNIT_MONTHS, 1, AFTER, FWD, r_7_1, 2, 7, DEP, DEP | HEAD | LO, LEAD | HEAD | LO);
    /* Art. 9(5): 在十二月底前作出解释. A fixed date, not a counted period:
     * moving a rest-day Dec 31 into January would break "before the end of
     * December", so it moves back to the last working day of the year. */
    s_set(&r[DOMAIN_RULE_CASE_YEAR_END], DOMAIN_RULE_CASE_YEAR_END, DOMAIN_TRIGGER_YEAR,
          DOMAIN_UNIT_YEAR_END, 0, AFTER, BACK, r_30_7, 2, 1, OFFICER, OFFICER | LO, LEAD | LO);
    /* Art. 9(2): 提前五天告知联络办. The period runs back from the activity;
     * a rest last day moves earlier, or the notice would come too late. */
    s_set(&r[DOMAIN_RULE_ACTIVITY_NOTICE], DOMAIN_RULE_ACTIVITY_NOTICE, DOMAIN_TRIGGER_ACTIVITY,
          DOMAIN_UNIT_DAYS, 5, BEFORE, BACK, r_2_1, 2, 1, OFFICER, OFFICER | LO, LEAD | LO);
}

const domain_rule_t *domain_rules_get(const domain_rules_t *self, domain_rule_id_t id)
{
    return self && (unsigned)id < DOMAIN_RULE_COUNT ? &self->rule[id] : NULL;
}

/* ---- validation and overrides -------------------------------------------- */

int domain_rule_validate(const domain_rule_t *rule, char *err, size_t errsize)
{
    if (!rule || (unsigned)rule->id >= DOMAIN_RULE_COUNT) {
        s_msg(err, errsize, "unknown rule");
        return -1;
    }
    const char *name = s_info[rule->id].name;
    char perr[160];
    if (domain_period_validate(&rule->period, perr, sizeof perr) < 0) {
        s_msg(err, errsize, "rule %s: %s", name, perr);
        return -1;
    }
    if ((unsigned)rule->trigger >= S_COUNT(s_trigger_names)) {
        s_msg(err, errsize, "rule %s: unknown trigger", name);
        return -1;
    }
    if (rule->nreminders > DOMAIN_RULE_MAX_REMINDERS) {
        s_msg(err, errsize, "rule %s: at most %d reminders", name, DOMAIN_RULE_MAX_REMINDERS);
        return -1;
    }
    for (size_t i = 0; i < rule->nreminders; i++) {
        if (rule->reminders[i] < 1 || rule->reminders[i] > 366) {
            s_msg(err, errsize, "rule %s: a reminder must be 1 to 366 days before the due date",
                  name);
            return -1;
        }
        if (i > 0 && rule->reminders[i] >= rule->reminders[i - 1]) {
            s_msg(err, errsize, "rule %s: reminders must be distinct and largest first (e.g. 7,1)",
                  name);
            return -1;
        }
    }
    if (rule->urge_interval_days < 1 || rule->urge_interval_days > 366) {
        s_msg(err, errsize, "rule %s: the urging interval must be 1 to 366 days", name);
        return -1;
    }
    if (rule->urgings_before_escalation < 1 ||
        rule->urgings_before_escalation > DOMAIN_RULE_MAX_URGINGS) {
        s_msg(err, errsize, "rule %s: urgings before escalation must be 1 to %d (Art. 20 says 2)",
              name, DOMAIN_RULE_MAX_URGINGS);
        return -1;
    }
    unsigned all = (1u << S_COUNT(s_notify_names)) - 1;
    if ((rule->notify_reminder | rule->notify_urge | rule->notify_escalate) & ~all) {
        s_msg(err, errsize, "rule %s: unknown recipient", name);
        return -1;
    }
    if (rule->notify_escalate == 0) {
        s_msg(err, errsize,
              "rule %s: an escalation must tell someone (Art. 20: the supervising leader)", name);
        return -1;
    }
    return 0;
}

static int s_int(const char *v, int lo, int hi, int *out)
{
    if (!v || !*v)
        return -1;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end || end == v || n < lo || n > hi)
        return -1;
    *out = (int)n;
    return 0;
}

static int s_reminders(const char *v, domain_rule_t *r)
{
    r->nreminders = 0;
    if (!*v || strcmp(v, "none") == 0)
        return 0;
    const char *p = v;
    while (*p) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, ",");
        char num[16];
        if (n == 0 || n >= sizeof num || r->nreminders == DOMAIN_RULE_MAX_REMINDERS)
            return -1;
        memcpy(num, p, n);
        num[n] = '\0';
        while (n && num[n - 1] == ' ')
            num[--n] = '\0';
        if (s_int(num, 1, 366, &r->reminders[r->nreminders]) < 0)
            return -1;
        r->nreminders++;
        p += strcspn(p, ",");
        if (*p == ',') {
            p++;
            if (!*p)
                return -1;
        }
    }
    return 0;
}

int domain_rules_set(domain_rules_t *self, const char *rule, const char *key, const char *value,
                     char *err, size_t errsize)
{
    domain_rule_id_t id;
    if (!self || domain_rule_parse(rule, &id) < 0) {
        s_msg(err, errsize, "unknown rule \"%.40s\"", rule ? rule : "");
        return -1;
    }
    if (!key || !value) {
        s_msg(err, errsize, "rule %s: a key and a value are needed", rule);
        return -1;
    }
    domain_rule_t r = self->rule[id];
    int bad = 0;
    if (strcmp(key, "enabled") == 0) {
        if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0 || strcmp(value, "1") == 0)
            r.enabled = true;
        else if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0 || strcmp(value, "0") == 0)
            r.enabled = false;
        else
            bad = 1;
    } else if (strcmp(key, "unit") == 0) {
        bad = domain_unit_parse(value, &r.period.unit) < 0;
        /* Switching to a unit without an amount clears it; switching to one
         * with an amount from one without starts at 1 (set amount next). */
        if (!bad &&
            (r.period.unit == DOMAIN_UNIT_SAME_DAY || r.period.unit == DOMAIN_UNIT_YEAR_END))
            r.period.amount = 0;
        else if (!bad && r.period.amount == 0)
            r.period.amount = 1;
    } else if (strcmp(key, "amount") == 0) {
        bad = s_int(value, 0, 100000, &r.period.amount) < 0;
    } else if (strcmp(key, "direction") == 0) {
        bad = domain_direction_parse(value, &r.period.direction) < 0;
    } else if (strcmp(key, "roll") == 0) {
        bad = domain_roll_parse(value, &r.period.roll) < 0;
    } else if (strcmp(key, "reminders") == 0) {
        bad = s_reminders(value, &r) < 0;
    } else if (strcmp(key, "urge-interval") == 0) {
        bad = s_int(value, 1, 366, &r.urge_interval_days) < 0;
    } else if (strcmp(key, "urgings") == 0) {
        bad = s_int(value, 1, DOMAIN_RULE_MAX_URGINGS, &r.urgings_before_escalation) < 0;
    } else if (strcmp(key, "notify-reminder") == 0) {
        bad = domain_notify_parse(value, &r.notify_reminder) < 0;
    } else if (strcmp(key, "notify-urge") == 0) {
        bad = domain_notify_parse(value, &r.notify_urge) < 0;
    } else if (strcmp(key, "notify-escalate") == 0) {
        bad = domain_notify_parse(value, &r.notify_escalate) < 0;
    } else {
        s_msg(err, errsize, "rule %s: unknown key \"%.40s\"", rule, key);
        return -1;
    }
    if (bad) {
        s_msg(err, errsize, "rule %s: invalid value \"%.60s\" for %s", rule, value, key);
        return -1;
    }
    if (domain_rule_validate(&r, err, errsize) < 0)
        return -1;
    self->rule[id] = r;
    return 0;
}

int domain_rules_set_key(domain_rules_t *self, const char *key, const char *value, char *err,
                         size_t errsize)
{
    const char *dot = key ? strchr(key, '.') : NULL;
    char rule[64];
    if (!dot || dot == key || (size_t)(dot - key) >= sizeof rule) {
        s_msg(err, errsize, "\"%.60s\": expected \"rule.setting\" (e.g. \"transfer.unit\")",
              key ? key : "");
        return -1;
    }
    memcpy(rule, key, (size_t)(dot - key));
    rule[dot - key] = '\0';
    return domain_rules_set(self, rule, dot + 1, value, err, errsize);
}

/* The order settings are applied in: a unit before its amount (a unit
 * without an amount clears it), the period before the schedule. */
static int s_setting_rank(const char *key)
{
    static const char *const order[] = {
        "enabled",       "unit",    "amount",          "direction",   "roll",           "reminders",
        "urge-interval", "urgings", "notify-reminder", "notify-urge", "notify-escalate"};
    const char *dot = key ? strchr(key, '.') : NULL;
    if (dot)
        for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
            if (strcmp(dot + 1, order[i]) == 0)
                return (int)i;
    return (int)(sizeof order / sizeof order[0]); /* refused when applied */
}

int domain_rules_apply(domain_rules_t *self, const domain_rule_override_t *overrides, size_t n,
                       size_t *bad, char *err, size_t errsize)
{
    if (bad)
        *bad = 0;
    if (!self || (n && !overrides)) {
        s_msg(err, errsize, "no rules or overrides");
        return -1;
    }
    if (n > DOMAIN_RULES_MAX_OVERRIDES) {
        s_msg(err, errsize, "too many overrides (at most %d)", DOMAIN_RULES_MAX_OVERRIDES);
        return -1;
    }
    /* A stable insertion sort by rank (n is small): equal ranks keep their
     * order, so the later of two equal keys wins. */
    size_t idx[DOMAIN_RULES_MAX_OVERRIDES];
    int rank[DOMAIN_RULES_MAX_OVERRIDES];
    for (size_t i = 0; i < n; i++) {
        int r = s_setting_rank(overrides[i].key);
        size_t j = i;
        while (j > 0 && rank[j - 1] > r) {
            idx[j] = idx[j - 1];
            rank[j] = rank[j - 1];
            j--;
        }
        idx[j] = i;
        rank[j] = r;
    }
    domain_rules_t work = *self;
    for (size_t k = 0; k < n; k++) {
        const domain_rule_override_t *o = &overrides[idx[k]];
        if (domain_rules_set_key(&work, o->key, o->value, err, errsize) < 0) {
            if (bad)
                *bad = idx[k];
            return -1;
        }
    }
    *self = work;
    return 0;
}

/* ---- computing ------------------------------------------------------------ */

static int s_prepare(const domain_rules_t *self, domain_rule_id_t id, domain_explain_t *out)
{
    out->rule = NULL;
    out->title = out->article = out->trigger_name = NULL;
    out->status = DOMAIN_DUE_OK;
    out->error[0] = '\0';
    if (!self || (unsigned)id >= DOMAIN_RULE_COUNT) {
        out->status = DOMAIN_DUE_INVALID;
        snprintf(out->error, sizeof out->error, "unknown rule");
        return -1;
    }
    const domain_rule_t *r = &self->rule[id];
    out->rule = s_info[id].name;
    out->title = s_info[id].title;
    out->article = s_info[id].article;
    out->trigger_name = domain_trigger_label(r->trigger);
    out->period = r->period;
    if (!r->enabled) {
        out->status = DOMAIN_DUE_NO_DATE;
        snprintf(out->error, sizeof out->error, "rule %s is switched off for this court",
                 s_info[id].name);
        return -1;
    }
    return 0;
}

int domain_rules_due(const domain_rules_t *self, domain_rule_id_t id,
                     const domain_calendar_t *calendar, const char *court, domain_date_t trigger,
                     unsigned flags, domain_explain_t *out)
{
    if (s_prepare(self, id, out) < 0)
        return -1;
    return domain_period_due(calendar, court, &self->rule[id].period, trigger, flags, out);
}

int domain_rules_due_at(const domain_rules_t *self, domain_rule_id_t id,
                        const domain_calendar_t *calendar, const char *court,
                        const domain_zone_t *zone, int64_t trigger_instant, unsigned flags,
                        domain_explain_t *out)
{
    if (s_prepare(self, id, out) < 0)
        return -1;
    return domain_period_due_at(calendar, court, zone, &self->rule[id].period, trigger_instant,
                                flags, out);
}

int domain_rule_reminder_date(const domain_rule_t *rule, domain_date_t due, size_t i,
                              domain_date_t *out)
{
    if (!rule || i >= rule->nreminders)
        return -1;
    return domain_date_add_days(due, -rule->reminders[i], out);
}

int domain_rule_urge_date(const domain_rule_t *rule, domain_date_t due, int n, domain_date_t *out)
{
    if (!rule || n < 1 || n > rule->urgings_before_escalation || rule->urge_interval_days < 1)
        return -1;
    return domain_date_add_days(due, 1 + (n - 1) * rule->urge_interval_days, out);
}

int domain_rule_escalation_date(const domain_rule_t *rule, domain_date_t due, domain_date_t *out)
{
    if (!rule || rule->urgings_before_escalation < 1 || rule->urge_interval_days < 1)
        return -1;
    return domain_date_add_days(due, 1 + rule->urgings_before_escalation * rule->urge_interval_days,
                                out);
}
