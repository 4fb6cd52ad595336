/* domain_lifecycle — an item's workflow (DOMAIN.md §3, Arts. 13–21).
 *
 * The main path:
 *   received → registered → awaiting-approval → approved → transferred
 *   → in-handling → reply-drafted → reply-approved → replied → evaluated → closed
 * and the side paths: answered on the spot (Art. 16), not listed (Art. 15),
 * forwarded to the petition or supervision office (Art. 17), returned to the
 * liaison office for re-routing (退回), withdrawn by the deputy, the
 * co-handler's opinion to the lead unit (Art. 14), and reopening for
 * re-handling (重新办理) in round n+1.
 *
 * An item's lifecycle is a small value (domain_item_t) the routing service
 * keeps with the item; domain_item_apply moves it or refuses with a message
 * naming the current state and the action. Urging and escalation are not
 * states: they are flags of the item's deadlines (DOMAIN.md §3).
 * States, actions and kinds have stable string names: other services and
 * the database use them. */
#ifndef LIAISON_DOMAIN_LIFECYCLE_H
#define LIAISON_DOMAIN_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    DOMAIN_STATE_RECEIVED = 0,      /* "received"          已收到 */
    DOMAIN_STATE_REGISTERED,        /* "registered"        已登记 (Art. 13) */
    DOMAIN_STATE_AWAITING_APPROVAL, /* "awaiting-approval" 待审批 (拟办意见已提出) */
    DOMAIN_STATE_APPROVED,          /* "approved"          已审批 */
    DOMAIN_STATE_NOT_LISTED,        /* "not-listed"        不列入办理事项 (仍须答复) */
    DOMAIN_STATE_TRANSFERRED,       /* "transferred"       已转交承办部门 (Art. 15) */
    DOMAIN_STATE_IN_HANDLING,       /* "in-handling"       办理中 */
    DOMAIN_STATE_RETURNED,          /* "returned"          已退回 (待重新分办) */
    DOMAIN_STATE_REPLY_DRAFTED,     /* "reply-drafted"     答复文稿已拟 */
    DOMAIN_STATE_REPLY_APPROVED,    /* "reply-approved"    答复已审批 (Art. 14) */
    DOMAIN_STATE_REPLIED,           /* "replied"           已答复 */
    DOMAIN_STATE_EVALUATED,         /* "evaluated"         已评价 (满意/基本满意) */
    DOMAIN_STATE_CLOSED,            /* "closed"            已办结 */
    DOMAIN_STATE_REOPENED,          /* "reopened"          重新办理 (round n+1) */
    DOMAIN_STATE_ANSWERED_ON_SPOT,  /* "answered-on-spot"  当场答复 (Art. 16) */
    DOMAIN_STATE_FORWARDED,         /* "forwarded"         已转信访部门/监察室 (Art. 17) */
    DOMAIN_STATE_RESULT_REPORTED, /* "result-reported"   办理结果已报送联络办 (Art. 17) */
    DOMAIN_STATE_CO_OPINION_SENT, /* "co-opinion-sent"   协办意见已送主办单位 (Art. 14) */
    DOMAIN_STATE_WITHDRAWN,       /* "withdrawn"         代表书面撤回 */
    DOMAIN_STATE_COUNT
} domain_state_t;

typedef enum {
    DOMAIN_ACTION_REGISTER = 0,   /* "register"             登记 (Art. 13) */
    DOMAIN_ACTION_ANSWER_ON_SPOT, /* "answer-on-spot"       当场答复 (Art. 16) */
    DOMAIN_ACTION_PROPOSE,        /* "propose"              提出拟办意见 (Arts. 14, 15) */
    DOMAIN_ACTION_APPROVE,        /* "approve"              审批 */
    DOMAIN_ACTION_REJECT_PLAN,    /* "reject-plan"          退回拟办意见 */
    DOMAIN_ACTION_NOT_LIST,       /* "not-list"             不列入办理事项 (Art. 15) */
    DOMAIN_ACTION_TRANSFER,       /* "transfer"             转交承办部门 (Art. 15) */
    DOMAIN_ACTION_ACCEPT,         /* "accept"               承办部门接收 */
    DOMAIN_ACTION_RETURN,         /* "return"               退回 (分办错误) */
    DOMAIN_ACTION_MEET, /* "meet"                 约见面商 (Art. 14), recorded, no move */
    DOMAIN_ACTION_DRAFT_REPLY,   /* "draft-reply"          拟写答复文稿 */
    DOMAIN_ACTION_REJECT_REPLY,  /* "reject-reply"         答复文稿退回修改 */
    DOMAIN_ACTION_APPROVE_REPLY, /* "approve-reply"        分管院领导审批答复 (Art. 14) */
    DOMAIN_ACTION_SEND_CO_OPINION, /* "send-co-opinion"      协办意见送主办单位 (Art. 14) */
    DOMAIN_ACTION_FORWARD,       /* "forward"              转信访部门或监察室 (Art. 17) */
    DOMAIN_ACTION_REPORT_RESULT, /* "report-result"        信访部门/监察室报送结果 (Art. 17) */
    DOMAIN_ACTION_REPLY, /* "reply"                联络办答复一位代表 (统一答复) */
    DOMAIN_ACTION_EVALUATE_SATISFIED,   /* "evaluate-satisfied"   满意 */
    DOMAIN_ACTION_EVALUATE_BASIC,       /* "evaluate-basic"       基本满意 */
    DOMAIN_ACTION_EVALUATE_UNSATISFIED, /* "evaluate-unsatisfied" 不满意 → 重新办理 */
    DOMAIN_ACTION_CLOSE,                /* "close"                办结 */
    DOMAIN_ACTION_REOPEN,               /* "reopen"               重新办理 */
    DOMAIN_ACTION_WITHDRAW,             /* "withdraw"             代表撤回 */
    DOMAIN_ACTION_COUNT
} domain_action_t;

typedef enum {
    DOMAIN_KIND_SESSION_PROPOSAL = 0, /* "session-proposal" 会议期间议案、建议 (Art. 14) */
    DOMAIN_KIND_BETWEEN_SESSION, /* "between-session"  闭会期间建议、批评和意见 (Art. 15) */
    DOMAIN_KIND_REMARK, /* "remark"           电话、来访、走访、座谈时所提 (Art. 16) */
    DOMAIN_KIND_COMPLAINT_LETTER, /* "complaint-letter" 转交的群众举报、控告信件 (Art. 17) */
    DOMAIN_KIND_SUPERVISED_CASE, /* "supervised-case"  人大机关督办案件 (Art. 8(4)) */
    DOMAIN_KIND_FOLLOWED_CASE,   /* "followed-case"    人大代表关注案件 (Arts. 23–24) */
    DOMAIN_KIND_DEPUTY_LETTER,   /* "deputy-letter"    人大代表来信、来访 (Art. 8(5)) */
    DOMAIN_KIND_COUNT
} domain_kind_t;

typedef enum {
    DOMAIN_ROLE_LEAD = 0, /* "lead" 主办 */
    DOMAIN_ROLE_CO,       /* "co"   协办 */
} domain_role_t;

/* Who approves the handling plan (Arts. 14, 15, 8(5)). */
typedef enum {
    DOMAIN_APPROVER_PRESIDENT = 0, /* "president"    院长 */
    DOMAIN_APPROVER_COURT_LEADER,  /* "court-leader" 院领导 */
} domain_approver_t;

typedef enum {
    DOMAIN_EVALUATION_NONE = 0,    /* "none" */
    DOMAIN_EVALUATION_SATISFIED,   /* "satisfied"   满意 */
    DOMAIN_EVALUATION_BASIC,       /* "basic"       基本满意 */
    DOMAIN_EVALUATION_UNSATISFIED, /* "unsatisfied" 不满意 */
} domain_evaluation_t;

#define DOMAIN_ITEM_MAX_DEPUTIES 1000

typedef struct {
    domain_state_t state;
    domain_kind_t kind;
    domain_role_t role;
    uint32_t round;                 /* handling round: 1, then n+1 after each reopening */
    uint32_t deputies;              /* deputies to answer (a joint item names several) */
    uint32_t replies;               /* deputies answered this round (each separately) */
    uint32_t meetings;              /* 面商 recorded this round */
    domain_evaluation_t evaluation; /* the last evaluation */
} domain_item_t;

const char *domain_state_name(domain_state_t state);
const char *domain_state_name_zh(domain_state_t state);
int domain_state_parse(const char *name, domain_state_t *out);
const char *domain_action_name(domain_action_t action);
int domain_action_parse(const char *name, domain_action_t *out);
const char *domain_kind_name(domain_kind_t kind);
int domain_kind_parse(const char *name, domain_kind_t *out);
const char *domain_role_name(domain_role_t role);
int domain_role_parse(const char *name, domain_role_t *out);
const char *domain_approver_name(domain_approver_t approver);
const char *domain_evaluation_name(domain_evaluation_t evaluation);

/* Session items and deputy letters go to the president; other items to a
 * court leader (Arts. 14, 15, 8(5)). */
domain_approver_t domain_kind_approver(domain_kind_t kind);

/* A new item in state "received", round 1. -1 for an unknown kind or role, or
 * a deputy count outside 1..DOMAIN_ITEM_MAX_DEPUTIES. */
int domain_item_init(domain_item_t *self, domain_kind_t kind, domain_role_t role,
                     uint32_t deputies);

/* Would the action be allowed now? */
bool domain_item_can(const domain_item_t *self, domain_action_t action);
/* Applies an action. 0 when done; -1 when refused, with err holding a message
 * that names the action and the current state, and the item unchanged. */
int domain_item_apply(domain_item_t *self, domain_action_t action, char *err, size_t errsize);

/* No action but reopening (closed) or none at all leaves these states. */
bool domain_state_is_final(domain_state_t state);

#endif
