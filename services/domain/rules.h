/* domain_rules — the deadline rules of DOMAIN.md §4.2 as data.
 *
 * A domain_rules_t is a plain value: the regulation's defaults
 * (domain_rules_defaults) that a caller then overrides per court from its
 * configuration (domain_rules_set, one key = value at a time, each checked).
 * Nothing here reads files: the daemons fill the table from their config, and
 * `liaisonctl due --court C` from an overrides file.
 *
 * Every rule says: what starts it (trigger), the period, the unit, reminders
 * before the due date, the urging interval after it is missed, how many
 * urgings before escalation (Art. 20: two), and who is told at each step. */
#ifndef LIAISON_DOMAIN_RULES_H
#define LIAISON_DOMAIN_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "domain/calendar.h"
#include "domain/date.h"
#include "domain/explain.h"
#include "domain/period.h"

typedef enum {
    DOMAIN_RULE_REGISTER = 0, /* "register"           收到当日登记, Art. 13 */
    DOMAIN_RULE_TRANSFER,     /* "transfer"           审批后二日内转交, Art. 15 */
    DOMAIN_RULE_ANSWER_LEAD, /* "answer-lead"        主办: 闭会之日起三个月内答复, Art. 14 */
    DOMAIN_RULE_ANSWER_CO, /* "answer-co"          协办: 闭会之日起一个月内答复, Art. 14 */
    DOMAIN_RULE_ANSWER_BETWEEN,     /* "answer-between"     交办起两个月内答复, Art. 15 */
    DOMAIN_RULE_ANSWER_BETWEEN_MAX, /* "answer-between-max" 至迟不超过四个月, Art. 15 */
    DOMAIN_RULE_ANSWER_QUICK, /* "answer-quick"       不能当场答复的, 三日内答复, Art. 16 */
    DOMAIN_RULE_REPORT_LETTERS, /* "report-letters"     来信定期催办、及时回复, Art. 8(5) */
    DOMAIN_RULE_REHANDLE, /* "rehandle"           不满意重新办理 (policy, not in the regulation) */
    DOMAIN_RULE_CASE_YEAR_END, /* "case-year-end"      年末未审结案件十二月底前作出解释, Art. 9(5)
                                */
    DOMAIN_RULE_ACTIVITY_NOTICE, /* "activity-notice"    提前五天告知联络办, Art. 9(2) */
    DOMAIN_RULE_COUNT
} domain_rule_id_t;

/* What starts a rule's period (the day not counted). */
typedef enum {
    DOMAIN_TRIGGER_RECEIVED = 0,   /* 收到之日 */
    DOMAIN_TRIGGER_APPROVED,       /* 审批之日 */
    DOMAIN_TRIGGER_SESSION_CLOSED, /* 闭会之日 */
    DOMAIN_TRIGGER_TRANSFERRED,    /* 交办之日 */
    DOMAIN_TRIGGER_EVALUATED,      /* 评价 (不满意) 之日 */
    DOMAIN_TRIGGER_YEAR,           /* any day of the year: the case is pending at year end */
    DOMAIN_TRIGGER_ACTIVITY,       /* 活动之日 (the period runs before it) */
    DOMAIN_TRIGGER_REGISTERED,     /* 登记之日 (periodic urging of letters) */
} domain_trigger_t;

/* Who is told (bits). */
typedef enum {
    DOMAIN_NOTIFY_LIAISON_OFFICE = 1u << 0,     /* 联络办 */
    DOMAIN_NOTIFY_DEPARTMENT = 1u << 1,         /* 承办部门 */
    DOMAIN_NOTIFY_DEPARTMENT_HEAD = 1u << 2,    /* 部门负责人 */
    DOMAIN_NOTIFY_SUPERVISING_LEADER = 1u << 3, /* 分管院领导 (Art. 20 督办) */
    DOMAIN_NOTIFY_PRESIDENT = 1u << 4,          /* 院长 */
    DOMAIN_NOTIFY_LIAISON_OFFICER = 1u << 5,    /* 挂点联络员 */
} domain_notify_t;

#define DOMAIN_RULE_MAX_REMINDERS 6
#define DOMAIN_RULE_MAX_URGINGS   10

typedef struct {
    domain_rule_id_t id;
    bool enabled; /* a court may switch a rule off */
    domain_trigger_t trigger;
    domain_period_t period;
    /* days before the due date a reminder goes out, largest first */
    int reminders[DOMAIN_RULE_MAX_REMINDERS];
    size_t nreminders;
    int urge_interval_days;        /* days between urgings (催办) once missed */
    int urgings_before_escalation; /* Art. 20: 经两次催办仍未报告的, 向分管领导通报 */
    unsigned notify_reminder;      /* domain_notify_t bits */
    unsigned notify_urge;
    unsigned notify_escalate;
} domain_rule_t;

typedef struct {
    domain_rule_t rule[DOMAIN_RULE_COUNT];
} domain_rules_t;

/* Stable rule ids as in DOMAIN.md §4.2 ("answer-quick"). */
const char *domain_rule_name(domain_rule_id_t id);
int domain_rule_parse(const char *name, domain_rule_id_t *out);
/* The rule in the regulation's words, and its article ("Art. 15"; NULL for a policy rule). */
const char *domain_rule_title(domain_rule_id_t id);
const char *domain_rule_article(domain_rule_id_t id);

/* Stable trigger names ("received", "approved", "session-closed", ...) and a label. */
const char *domain_trigger_name(domain_trigger_t trigger);
const char *domain_trigger_label(domain_trigger_t trigger);
/* Stable recipient names ("liaison-office", "department", ...). */
const char *domain_notify_name(domain_notify_t one);
/* Parses "department,department-head" into bits; -1 on an unknown name. */
int domain_notify_parse(const char *list, unsigned *out);

/* Whom one stage of a deadline tells (domain_notify_t bits), by the stage's
 * schedule kind: "remind:N" the rule's notify_reminder; "due" the liaison
 * office (Art. 20: it tracks progress and urges); "urge:N" notify_urge;
 * "escalate" notify_escalate and always the supervising leader (Art. 20:
 * 向该承办部门的分管领导通报). rule NULL (a rule no longer known): the
 * department for reminders and urgings. 0 for an unknown stage. */
unsigned domain_rule_stage_notify(const domain_rule_t *rule, const char *stage);

/* Of the recipients a stage names (`named`), those the directory could not
 * resolve to anyone (`resolved`: the ones it could) and that go to the
 * liaison office instead, so that no named recipient is dropped silently.
 * The liaison office itself is never among them: it is reached through the
 * court's OA even without a record. */
unsigned domain_notify_unresolved(unsigned named, unsigned resolved);
/* Why one recipient could not be resolved, for the liaison office's notice
 * ("no staff member has the president role (院长)"); "?" for several bits. */
const char *domain_notify_unresolved_reason(domain_notify_t one);

/* The regulation's defaults. */
void domain_rules_defaults(domain_rules_t *self);
const domain_rule_t *domain_rules_get(const domain_rules_t *self, domain_rule_id_t id);

/* Overrides one setting of one rule, as a court's configuration gives it:
 *   rule = "transfer", key = one of
 *     enabled        yes|no
 *     unit           same-day|days|workdays|months|year-end|periodic
 *     amount         N
 *     direction      after|before
 *     roll           forward|backward|none
 *     reminders      "7,1" (days before due; "" or "none" for none)
 *     urge-interval  N (days)
 *     urgings        N (urgings before escalation)
 *     notify-reminder / notify-urge / notify-escalate   "department,department-head"
 * Give unit before amount (a unit without an amount clears it).
 * The rule is left unchanged and -1 returned (with a message) when the value
 * is invalid or makes the rule invalid. */
int domain_rules_set(domain_rules_t *self, const char *rule, const char *key, const char *value,
                     char *err, size_t errsize);
/* One override as a court's directory record stores it: key "rule.setting"
 * ("transfer.unit"), value as for domain_rules_set. */
typedef struct {
    const char *key;
    const char *value;
} domain_rule_override_t;

#define DOMAIN_RULES_MAX_OVERRIDES 256

/* Overrides one setting from its "rule.setting" key (split at the first '.').
 * -1 (with a message) when the key has no '.', or as domain_rules_set. */
int domain_rules_set_key(domain_rules_t *self, const char *key, const char *value, char *err,
                         size_t errsize);

/* Applies a court's overrides, all or nothing. The order they come in does
 * not matter: they are applied in a fixed order of settings (enabled, unit,
 * amount, direction, roll, reminders, urge-interval, urgings, notify-*), so
 * "unit" always comes before "amount" and a set stored as a JSON object (whose
 * key order a database does not keep) gives the same rules everywhere. The
 * same key twice: the later one wins. On error self is unchanged, -1 is
 * returned with the message, and *bad (if not NULL) is the index of the
 * override that was refused. */
int domain_rules_apply(domain_rules_t *self, const domain_rule_override_t *overrides, size_t n,
                       size_t *bad, char *err, size_t errsize);

/* Checks one rule as a whole. */
int domain_rule_validate(const domain_rule_t *rule, char *err, size_t errsize);

/* The due date of a rule for a trigger date, with its explanation (out is
 * required). -1 with out->status/out->error when refused (a disabled rule, an
 * unknown year, a periodic rule without a due date). */
int domain_rules_due(const domain_rules_t *self, domain_rule_id_t id,
                     const domain_calendar_t *calendar, const char *court, domain_date_t trigger,
                     unsigned flags, domain_explain_t *out);
/* Same from a trigger instant, in the court's zone (sets out->due_instant). */
int domain_rules_due_at(const domain_rules_t *self, domain_rule_id_t id,
                        const domain_calendar_t *calendar, const char *court,
                        const domain_zone_t *zone, int64_t trigger_instant, unsigned flags,
                        domain_explain_t *out);

/* The schedule around a due date (calendar days; the notify service defers
 * deliveries in quiet hours itself):
 *   reminder i (0-based, i < nreminders): due - reminders[i] days;
 *   urging n (1-based): the day after due, then every urge_interval_days;
 *   escalation: one interval after urging number urgings_before_escalation,
 *   if no result was reported (Art. 20). Exactly one escalation per deadline. */
int domain_rule_reminder_date(const domain_rule_t *rule, domain_date_t due, size_t i,
                              domain_date_t *out);
int domain_rule_urge_date(const domain_rule_t *rule, domain_date_t due, int n, domain_date_t *out);
int domain_rule_escalation_date(const domain_rule_t *rule, domain_date_t due, domain_date_t *out);

#endif
