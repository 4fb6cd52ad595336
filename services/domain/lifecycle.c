/* domain_lifecycle — the item state machine. See lifecycle.h. */
#include "domain/lifecycle.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define S_COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *s_state_names[DOMAIN_STATE_COUNT] = {
    "received",        "registered",      "awaiting-approval", "approved",
    "not-listed",      "transferred",     "in-handling",       "returned",
    "reply-drafted",   "reply-approved",  "replied",           "evaluated",
    "closed",          "reopened",        "answered-on-spot",  "forwarded",
    "result-reported", "co-opinion-sent", "withdrawn",
};
static const char *s_state_zh[DOMAIN_STATE_COUNT] = {
    "已收到",         "已登记",
    "待审批",         "已审批",
    "不列入办理事项", "已转交承办部门",
    "办理中",         "已退回",
    "答复文稿已拟",   "答复已审批",
    "已答复",         "已评价",
    "已办结",         "重新办理",
    "当场答复",       "已转信访部门或监察室",
    "办理结果已报送", "协办意见已送主办单位",
    "已撤回",
};
static const char *s_action_names[DOMAIN_ACTION_COUNT] = {
    "register",       "answer-on-spot",
    "propose",        "approve",
    "reject-plan",    "not-list",
    "transfer",       "accept",
    "return",         "meet",
    "draft-reply",    "reject-reply",
    "approve-reply",  "send-co-opinion",
    "forward",        "report-result",
    "reply",          "evaluate-satisfied",
    "evaluate-basic", "evaluate-unsatisfied",
    "close",          "reopen",
    "withdraw",
};
static const char *s_kind_names[DOMAIN_KIND_COUNT] = {
    "session-proposal", "between-session", "remark",        "complaint-letter",
    "supervised-case",  "followed-case",   "deputy-letter",
};
static const char *s_role_names[] = {"lead", "co"};
static const char *s_approver_names[] = {"president", "court-leader"};
static const char *s_evaluation_names[] = {"none", "satisfied", "basic", "unsatisfied"};

static int s_parse(const char *const *names, size_t n, const char *name)
{
    if (!name)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return (int)i;
    return -1;
}

#define S_NAME(table, v) ((unsigned)(v) < S_COUNT(table) ? (table)[v] : "?")

const char *domain_state_name(domain_state_t state)
{
    return S_NAME(s_state_names, state);
}

const char *domain_state_name_zh(domain_state_t state)
{
    return S_NAME(s_state_zh, state);
}

int domain_state_parse(const char *name, domain_state_t *out)
{
    int i = s_parse(s_state_names, S_COUNT(s_state_names), name);
    if (i < 0)
        return -1;
    *out = (domain_state_t)i;
    return 0;
}

const char *domain_action_name(domain_action_t action)
{
    return S_NAME(s_action_names, action);
}

int domain_action_parse(const char *name, domain_action_t *out)
{
    int i = s_parse(s_action_names, S_COUNT(s_action_names), name);
    if (i < 0)
        return -1;
    *out = (domain_action_t)i;
    return 0;
}

const char *domain_kind_name(domain_kind_t kind)
{
    return S_NAME(s_kind_names, kind);
}

int domain_kind_parse(const char *name, domain_kind_t *out)
{
    int i = s_parse(s_kind_names, S_COUNT(s_kind_names), name);
    if (i < 0)
        return -1;
    *out = (domain_kind_t)i;
    return 0;
}

const char *domain_role_name(domain_role_t role)
{
    return S_NAME(s_role_names, role);
}

int domain_role_parse(const char *name, domain_role_t *out)
{
    int i = s_parse(s_role_names, S_COUNT(s_role_names), name);
    if (i < 0)
        return -1;
    *out = (domain_role_t)i;
    return 0;
}

const char *domain_approver_name(domain_approver_t approver)
{
    return S_NAME(s_approver_names, approver);
}

const char *domain_evaluation_name(domain_evaluation_t evaluation)
{
    return S_NAME(s_evaluation_names, evaluation);
}

domain_approver_t domain_kind_approver(domain_kind_t kind)
{
    /* Art. 14: session items 报请院长审批; Art. 8(5): deputy letters 报院长阅批;
     * Art. 15: between-session items 报院领导审批. */
    return kind == DOMAIN_KIND_SESSION_PROPOSAL || kind == DOMAIN_KIND_DEPUTY_LETTER
               ? DOMAIN_APPROVER_PRESIDENT
               : DOMAIN_APPROVER_COURT_LEADER;
}

bool domain_state_is_final(domain_state_t state)
{
    return state == DOMAIN_STATE_CLOSED || state == DOMAIN_STATE_ANSWERED_ON_SPOT ||
           state == DOMAIN_STATE_WITHDRAWN;
}

int domain_item_init(domain_item_t *self, domain_kind_t kind, domain_role_t role, uint32_t deputies)
{
    if (!self || (unsigned)kind >= DOMAIN_KIND_COUNT || (unsigned)role >= S_COUNT(s_role_names) ||
        deputies < 1 || deputies > DOMAIN_ITEM_MAX_DEPUTIES)
        return -1;
    memset(self, 0, sizeof *self);
    self->state = DOMAIN_STATE_RECEIVED;
    self->kind = kind;
    self->role = role;
    self->round = 1;
    self->deputies = deputies;
    return 0;
}

/* ---- the transition table -------------------------------------------------- */

#define K(k)          (1u << (k))
#define ANY_KIND      0x7Fu
#define NOT_COMPLAINT (ANY_KIND & ~K(DOMAIN_KIND_COMPLAINT_LETTER))

enum { ROLE_ANY = 0, ROLE_LEAD_ONLY, ROLE_CO_ONLY };

typedef struct {
    domain_state_t from;
    domain_action_t action;
    domain_state_t to;
    unsigned kinds; /* the kinds it applies to */
    int role;
    const char *why_not; /* said when the state fits but the kind or role does not */
} s_edge_t;

static const s_edge_t s_edges[] = {
    /* Art. 13: registered on the day it is received. */
    {DOMAIN_STATE_RECEIVED, DOMAIN_ACTION_REGISTER, DOMAIN_STATE_REGISTERED, ANY_KIND, ROLE_ANY,
     NULL},
    /* Art. 16: 能够当场答复的, 应当场答复 — remarks made by phone, visit, walk-about or forum. */
    {DOMAIN_STATE_RECEIVED, DOMAIN_ACTION_ANSWER_ON_SPOT, DOMAIN_STATE_ANSWERED_ON_SPOT,
     K(DOMAIN_KIND_REMARK), ROLE_ANY,
     "only a remark made by phone, visit, walk-about or forum is answered on the spot (Art. 16)"},
    {DOMAIN_STATE_REGISTERED, DOMAIN_ACTION_ANSWER_ON_SPOT, DOMAIN_STATE_ANSWERED_ON_SPOT,
     K(DOMAIN_KIND_REMARK), ROLE_ANY,
     "only a remark made by phone, visit, walk-about or forum is answered on the spot (Art. 16)"},
    /* Arts. 14, 15: the liaison office proposes a handling opinion (拟办意见). */
    {DOMAIN_STATE_REGISTERED, DOMAIN_ACTION_PROPOSE, DOMAIN_STATE_AWAITING_APPROVAL, NOT_COMPLAINT,
     ROLE_ANY,
     "complaint letters are forwarded to the petition or supervision office, not handled here "
     "(Art. 17)"},
    {DOMAIN_STATE_RETURNED, DOMAIN_ACTION_PROPOSE, DOMAIN_STATE_AWAITING_APPROVAL, NOT_COMPLAINT,
     ROLE_ANY, NULL},
    {DOMAIN_STATE_REOPENED, DOMAIN_ACTION_PROPOSE, DOMAIN_STATE_AWAITING_APPROVAL, NOT_COMPLAINT,
     ROLE_ANY, NULL},
    {DOMAIN_STATE_AWAITING_APPROVAL, DOMAIN_ACTION_APPROVE, DOMAIN_STATE_APPROVED, ANY_KIND,
     ROLE_ANY, NULL},
    {DOMAIN_STATE_AWAITING_APPROVAL, DOMAIN_ACTION_REJECT_PLAN, DOMAIN_STATE_REGISTERED, ANY_KIND,
     ROLE_ANY, NULL},
    /* Art. 15: 联络办认为需要列入办理事项的 — between-session items may be
     * judged not to be listed; they are still answered. */
    {DOMAIN_STATE_AWAITING_APPROVAL, DOMAIN_ACTION_NOT_LIST, DOMAIN_STATE_NOT_LISTED,
     K(DOMAIN_KIND_BETWEEN_SESSION), ROLE_ANY,
     "only a between-session suggestion, criticism or opinion may be judged not to be listed (Art. "
     "15)"},
    /* Art. 15: 审批后二日内转交承办部门. Art. 16: a remark goes straight to the
     * department that answers it. Returned and reopened items are re-routed. */
    {DOMAIN_STATE_APPROVED, DOMAIN_ACTION_TRANSFER, DOMAIN_STATE_TRANSFERRED, ANY_KIND, ROLE_ANY,
     NULL},
    {DOMAIN_STATE_REGISTERED, DOMAIN_ACTION_TRANSFER, DOMAIN_STATE_TRANSFERRED,
     K(DOMAIN_KIND_REMARK), ROLE_ANY,
     "this item needs an approved handling plan before transfer (Arts. 14, 15)"},
    {DOMAIN_STATE_RETURNED, DOMAIN_ACTION_TRANSFER, DOMAIN_STATE_TRANSFERRED, NOT_COMPLAINT,
     ROLE_ANY, NULL},
    {DOMAIN_STATE_REOPENED, DOMAIN_ACTION_TRANSFER, DOMAIN_STATE_TRANSFERRED, NOT_COMPLAINT,
     ROLE_ANY, NULL},
    {DOMAIN_STATE_TRANSFERRED, DOMAIN_ACTION_ACCEPT, DOMAIN_STATE_IN_HANDLING, ANY_KIND, ROLE_ANY,
     NULL},
    /* 退回: sent to the wrong department, back to the liaison office. */
    {DOMAIN_STATE_TRANSFERRED, DOMAIN_ACTION_RETURN, DOMAIN_STATE_RETURNED, ANY_KIND, ROLE_ANY,
     NULL},
    {DOMAIN_STATE_IN_HANDLING, DOMAIN_ACTION_RETURN, DOMAIN_STATE_RETURNED, ANY_KIND, ROLE_ANY,
     NULL},
    /* Art. 14: 属本院主办的建议, 在答复前可先约见人大代表 (recorded, no move). */
    {DOMAIN_STATE_IN_HANDLING, DOMAIN_ACTION_MEET, DOMAIN_STATE_IN_HANDLING, ANY_KIND,
     ROLE_LEAD_ONLY, "only the lead unit meets the deputy before replying (Art. 14)"},
    {DOMAIN_STATE_IN_HANDLING, DOMAIN_ACTION_DRAFT_REPLY, DOMAIN_STATE_REPLY_DRAFTED, ANY_KIND,
     ROLE_LEAD_ONLY,
     "a co-handler sends its opinion to the lead unit, not a reply to the deputy (Art. 14)"},
    {DOMAIN_STATE_IN_HANDLING, DOMAIN_ACTION_SEND_CO_OPINION, DOMAIN_STATE_CO_OPINION_SENT,
     ANY_KIND, ROLE_CO_ONLY, "only a co-handler sends an opinion to the lead unit (Art. 14)"},
    {DOMAIN_STATE_REPLY_DRAFTED, DOMAIN_ACTION_REJECT_REPLY, DOMAIN_STATE_IN_HANDLING, ANY_KIND,
     ROLE_ANY, NULL},
    /* Art. 14: 报分管院领导审批后, 交由联络办统一答复. */
    {DOMAIN_STATE_REPLY_DRAFTED, DOMAIN_ACTION_APPROVE_REPLY, DOMAIN_STATE_REPLY_APPROVED, ANY_KIND,
     ROLE_ANY, NULL},
    /* Art. 17: 转信访部门或监察室办理, 办理结果报送联络办. */
    {DOMAIN_STATE_REGISTERED, DOMAIN_ACTION_FORWARD, DOMAIN_STATE_FORWARDED,
     K(DOMAIN_KIND_COMPLAINT_LETTER), ROLE_ANY,
     "only a complaint or accusation letter passed on by a deputy is forwarded (Art. 17)"},
    {DOMAIN_STATE_FORWARDED, DOMAIN_ACTION_REPORT_RESULT, DOMAIN_STATE_RESULT_REPORTED, ANY_KIND,
     ROLE_ANY, NULL},
    /* Art. 12(2): 件件有答复 — each deputy of a joint item is answered; the
     * item is replied when the last one is. */
    {DOMAIN_STATE_REPLY_APPROVED, DOMAIN_ACTION_REPLY, DOMAIN_STATE_REPLIED, ANY_KIND, ROLE_ANY,
     NULL},
    {DOMAIN_STATE_NOT_LISTED, DOMAIN_ACTION_REPLY, DOMAIN_STATE_REPLIED, ANY_KIND, ROLE_ANY, NULL},
    {DOMAIN_STATE_RESULT_REPORTED, DOMAIN_ACTION_REPLY, DOMAIN_STATE_REPLIED, ANY_KIND, ROLE_ANY,
     NULL},
    {DOMAIN_STATE_REPLIED, DOMAIN_ACTION_EVALUATE_SATISFIED, DOMAIN_STATE_EVALUATED, ANY_KIND,
     ROLE_ANY, NULL},
    {DOMAIN_STATE_REPLIED, DOMAIN_ACTION_EVALUATE_BASIC, DOMAIN_STATE_EVALUATED, ANY_KIND, ROLE_ANY,
     NULL},
    /* 不满意 → 重新办理, round n+1. */
    {DOMAIN_STATE_REPLIED, DOMAIN_ACTION_EVALUATE_UNSATISFIED, DOMAIN_STATE_REOPENED, ANY_KIND,
     ROLE_ANY, NULL},
    {DOMAIN_STATE_REPLIED, DOMAIN_ACTION_CLOSE, DOMAIN_STATE_CLOSED, ANY_KIND, ROLE_ANY, NULL},
    {DOMAIN_STATE_EVALUATED, DOMAIN_ACTION_CLOSE, DOMAIN_STATE_CLOSED, ANY_KIND, ROLE_ANY, NULL},
    {DOMAIN_STATE_CO_OPINION_SENT, DOMAIN_ACTION_CLOSE, DOMAIN_STATE_CLOSED, ANY_KIND, ROLE_ANY,
     NULL},
    {DOMAIN_STATE_EVALUATED, DOMAIN_ACTION_REOPEN, DOMAIN_STATE_REOPENED, ANY_KIND, ROLE_ANY, NULL},
    {DOMAIN_STATE_CLOSED, DOMAIN_ACTION_REOPEN, DOMAIN_STATE_REOPENED, NOT_COMPLAINT, ROLE_ANY,
     "a forwarded complaint letter is reopened by the petition office, not here (Art. 17)"},
};

/* A deputy may withdraw an item in writing until it has been answered. */
static bool s_withdrawable(const domain_item_t *self)
{
    switch (self->state) {
    case DOMAIN_STATE_RECEIVED:
    case DOMAIN_STATE_REGISTERED:
    case DOMAIN_STATE_AWAITING_APPROVAL:
    case DOMAIN_STATE_APPROVED:
    case DOMAIN_STATE_NOT_LISTED:
    case DOMAIN_STATE_TRANSFERRED:
    case DOMAIN_STATE_IN_HANDLING:
    case DOMAIN_STATE_RETURNED:
    case DOMAIN_STATE_REPLY_DRAFTED:
    case DOMAIN_STATE_REPLY_APPROVED:
    case DOMAIN_STATE_FORWARDED:
    case DOMAIN_STATE_RESULT_REPORTED:
    case DOMAIN_STATE_REOPENED:
        return self->replies == 0;
    default:
        return false;
    }
}

static bool s_role_fits(int role, domain_role_t r)
{
    return role == ROLE_ANY || (role == ROLE_LEAD_ONLY && r == DOMAIN_ROLE_LEAD) ||
           (role == ROLE_CO_ONLY && r == DOMAIN_ROLE_CO);
}

/* The edge an action takes from the item's state, or NULL; *why names the
 * reason when the state fits but the item's kind or role does not. */
static const s_edge_t *s_find(const domain_item_t *self, domain_action_t action, const char **why)
{
    *why = NULL;
    for (size_t i = 0; i < S_COUNT(s_edges); i++) {
        const s_edge_t *e = &s_edges[i];
        if (e->from != self->state || e->action != action)
            continue;
        if ((e->kinds & K(self->kind)) && s_role_fits(e->role, self->role))
            return e;
        if (!*why)
            *why = e->why_not;
    }
    return NULL;
}

static bool s_valid(const domain_item_t *self)
{
    return self && (unsigned)self->state < DOMAIN_STATE_COUNT &&
           (unsigned)self->kind < DOMAIN_KIND_COUNT &&
           (unsigned)self->role < S_COUNT(s_role_names) && self->deputies >= 1 &&
           self->deputies <= DOMAIN_ITEM_MAX_DEPUTIES && self->replies <= self->deputies;
}

bool domain_item_can(const domain_item_t *self, domain_action_t action)
{
    if (!s_valid(self) || (unsigned)action >= DOMAIN_ACTION_COUNT)
        return false;
    if (action == DOMAIN_ACTION_WITHDRAW)
        return s_withdrawable(self);
    const char *why;
    return s_find(self, action, &why) != NULL;
}

static int s_refuse(const domain_item_t *self, domain_action_t action, const char *why, char *err,
                    size_t errsize)
{
    if (err && errsize) {
        if (!s_valid(self) || (unsigned)action >= DOMAIN_ACTION_COUNT)
            snprintf(err, errsize, "refused: invalid item or action");
        else
            snprintf(err, errsize, "refused: cannot %s an item in state %s (%s)%s%s",
                     domain_action_name(action), domain_state_name(self->state),
                     domain_state_name_zh(self->state), why ? ": " : "", why ? why : "");
    }
    return -1;
}

int domain_item_apply(domain_item_t *self, domain_action_t action, char *err, size_t errsize)
{
    if (!s_valid(self) || (unsigned)action >= DOMAIN_ACTION_COUNT)
        return s_refuse(self, action, NULL, err, errsize);
    if (action == DOMAIN_ACTION_WITHDRAW) {
        if (!s_withdrawable(self))
            return s_refuse(self, action,
                            self->replies ? "a deputy has already been answered"
                                          : "the item is already answered or ended",
                            err, errsize);
        self->state = DOMAIN_STATE_WITHDRAWN;
        return 0;
    }
    const char *why;
    const s_edge_t *e = s_find(self, action, &why);
    if (!e)
        return s_refuse(self, action, why, err, errsize);
    switch (action) {
    case DOMAIN_ACTION_REPLY:
        /* One reply per deputy; the item moves on with the last one. */
        self->replies++;
        if (self->replies >= self->deputies)
            self->state = e->to;
        return 0;
    case DOMAIN_ACTION_MEET:
        self->meetings++;
        return 0;
    case DOMAIN_ACTION_EVALUATE_SATISFIED:
        self->evaluation = DOMAIN_EVALUATION_SATISFIED;
        break;
    case DOMAIN_ACTION_EVALUATE_BASIC:
        self->evaluation = DOMAIN_EVALUATION_BASIC;
        break;
    case DOMAIN_ACTION_EVALUATE_UNSATISFIED:
        self->evaluation = DOMAIN_EVALUATION_UNSATISFIED;
        break;
    default:
        break;
    }
    if (e->to == DOMAIN_STATE_REOPENED) {
        /* 重新办理: a new round with its own replies; history is the caller's. */
        self->round++;
        self->replies = 0;
        self->meetings = 0;
    }
    self->state = e->to;
    return 0;
}
