/* The item lifecycle (DOMAIN.md §3): every allowed transition, a refused
 * action from every state, kinds and roles, joint items, re-handling rounds. */
#include "test_domain_fixture.h"

#include "domain/lifecycle.h"

#define BS   DOMAIN_KIND_BETWEEN_SESSION
#define SP   DOMAIN_KIND_SESSION_PROPOSAL
#define RM   DOMAIN_KIND_REMARK
#define CL   DOMAIN_KIND_COMPLAINT_LETTER
#define DL   DOMAIN_KIND_DEPUTY_LETTER
#define LEAD DOMAIN_ROLE_LEAD
#define CO   DOMAIN_ROLE_CO

/* A path of actions (by name, space separated) that reaches a state. */
static void s_walk(domain_item_t *it, domain_kind_t kind, domain_role_t role, const char *path)
{
    assert_int_equal(domain_item_init(it, kind, role, 1), 0);
    char buf[512];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *save, *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        domain_action_t a;
        assert_int_equal(domain_action_parse(tok, &a), 0);
        char err[256];
        if (domain_item_apply(it, a, err, sizeof err) != 0)
            fail_msg("path \"%s\": %s", path, err);
    }
}

static const char *const P_HANDLING = "register propose approve transfer accept";
static const char *const P_REPLIED =
    "register propose approve transfer accept draft-reply approve-reply reply";

typedef struct {
    const char *name;
    domain_kind_t kind;
    domain_role_t role;
    const char *path; /* reaches the from-state */
    const char *action;
    const char *to;
} s_edge_row_t;

static const s_edge_row_t s_allowed[] = {
    {"received -register-> registered (Art. 13)", BS, LEAD, "", "register", "registered"},
    {"received -answer-on-spot-> answered-on-spot (remark, Art. 16)", RM, LEAD, "",
     "answer-on-spot", "answered-on-spot"},
    {"registered -answer-on-spot-> answered-on-spot (remark)", RM, LEAD, "register",
     "answer-on-spot", "answered-on-spot"},
    {"received -withdraw-> withdrawn", BS, LEAD, "", "withdraw", "withdrawn"},
    {"registered -propose-> awaiting-approval", BS, LEAD, "register", "propose",
     "awaiting-approval"},
    {"registered -propose-> awaiting-approval (session item)", SP, LEAD, "register", "propose",
     "awaiting-approval"},
    {"registered -forward-> forwarded (complaint letter, Art. 17)", CL, LEAD, "register", "forward",
     "forwarded"},
    {"registered -transfer-> transferred (remark straight to the department, Art. 16)", RM, LEAD,
     "register", "transfer", "transferred"},
    {"registered -withdraw-> withdrawn", BS, LEAD, "register", "withdraw", "withdrawn"},
    {"awaiting-approval -approve-> approved", BS, LEAD, "register propose", "approve", "approved"},
    {"awaiting-approval -reject-plan-> registered", BS, LEAD, "register propose", "reject-plan",
     "registered"},
    {"awaiting-approval -not-list-> not-listed (Art. 15)", BS, LEAD, "register propose", "not-list",
     "not-listed"},
    {"awaiting-approval -withdraw-> withdrawn", BS, LEAD, "register propose", "withdraw",
     "withdrawn"},
    {"approved -transfer-> transferred (Art. 15)", BS, LEAD, "register propose approve", "transfer",
     "transferred"},
    {"approved -withdraw-> withdrawn", BS, LEAD, "register propose approve", "withdraw",
     "withdrawn"},
    {"not-listed -reply-> replied (still answered)", BS, LEAD, "register propose not-list", "reply",
     "replied"},
    {"not-listed -withdraw-> withdrawn", BS, LEAD, "register propose not-list", "withdraw",
     "withdrawn"},
    {"transferred -accept-> in-handling", BS, LEAD, "register propose approve transfer", "accept",
     "in-handling"},
    {"transferred -return-> returned (退回)", BS, LEAD, "register propose approve transfer",
     "return", "returned"},
    {"transferred -withdraw-> withdrawn", BS, LEAD, "register propose approve transfer", "withdraw",
     "withdrawn"},
    {"in-handling -meet-> in-handling (面商, Art. 14)", SP, LEAD,
     "register propose approve transfer accept", "meet", "in-handling"},
    {"in-handling -draft-reply-> reply-drafted", BS, LEAD,
     "register propose approve transfer accept", "draft-reply", "reply-drafted"},
    {"in-handling -send-co-opinion-> co-opinion-sent (co-handler, Art. 14)", SP, CO,
     "register propose approve transfer accept", "send-co-opinion", "co-opinion-sent"},
    {"in-handling -return-> returned", BS, LEAD, "register propose approve transfer accept",
     "return", "returned"},
    {"in-handling -withdraw-> withdrawn", BS, LEAD, "register propose approve transfer accept",
     "withdraw", "withdrawn"},
    {"returned -transfer-> transferred (re-routed)", BS, LEAD,
     "register propose approve transfer return", "transfer", "transferred"},
    {"returned -propose-> awaiting-approval (new plan)", BS, LEAD,
     "register propose approve transfer return", "propose", "awaiting-approval"},
    {"returned -withdraw-> withdrawn", BS, LEAD, "register propose approve transfer return",
     "withdraw", "withdrawn"},
    {"reply-drafted -approve-reply-> reply-approved (Art. 14)", BS, LEAD,
     "register propose approve transfer accept draft-reply", "approve-reply", "reply-approved"},
    {"reply-drafted -reject-reply-> in-handling", BS, LEAD,
     "register propose approve transfer accept draft-reply", "reject-reply", "in-handling"},
    {"reply-drafted -withdraw-> withdrawn", BS, LEAD,
     "register propose approve transfer accept draft-reply", "withdraw", "withdrawn"},
    {"reply-approved -reply-> replied", BS, LEAD,
     "register propose approve transfer accept draft-reply approve-reply", "reply", "replied"},
    {"reply-approved -withdraw-> withdrawn", BS, LEAD,
     "register propose approve transfer accept draft-reply approve-reply", "withdraw", "withdrawn"},
    {"replied -evaluate-satisfied-> evaluated", BS, LEAD,
     "register propose approve transfer accept draft-reply approve-reply reply",
     "evaluate-satisfied", "evaluated"},
    {"replied -evaluate-basic-> evaluated", BS, LEAD,
     "register propose approve transfer accept draft-reply approve-reply reply", "evaluate-basic",
     "evaluated"},
    {"replied -evaluate-unsatisfied-> reopened", BS, LEAD,
     "register propose approve transfer accept draft-reply approve-reply reply",
     "evaluate-unsatisfied", "reopened"},
    {"replied -close-> closed (no evaluation)", BS, LEAD,
     "register propose approve transfer accept draft-reply approve-reply reply", "close", "closed"},
    {"evaluated -close-> closed", BS, LEAD,
     "register propose approve transfer accept draft-reply approve-reply reply evaluate-basic",
     "close", "closed"},
    {"evaluated -reopen-> reopened", BS, LEAD,
     "register propose approve transfer accept draft-reply approve-reply reply evaluate-basic",
     "reopen", "reopened"},
    {"closed -reopen-> reopened", BS, LEAD,
     "register propose approve transfer accept draft-reply approve-reply reply close", "reopen",
     "reopened"},
    {"reopened -transfer-> transferred (re-handling)", BS, LEAD,
     "register propose approve transfer accept draft-reply approve-reply reply "
     "evaluate-unsatisfied",
     "transfer", "transferred"},
    {"reopened -propose-> awaiting-approval", BS, LEAD,
     "register propose approve transfer accept draft-reply approve-reply reply "
     "evaluate-unsatisfied",
     "propose", "awaiting-approval"},
    {"reopened -withdraw-> withdrawn", BS, LEAD,
     "register propose approve transfer accept draft-reply approve-reply reply "
     "evaluate-unsatisfied",
     "withdraw", "withdrawn"},
    {"forwarded -report-result-> result-reported (Art. 17)", CL, LEAD, "register forward",
     "report-result", "result-reported"},
    {"forwarded -withdraw-> withdrawn", CL, LEAD, "register forward", "withdraw", "withdrawn"},
    {"result-reported -reply-> replied", CL, LEAD, "register forward report-result", "reply",
     "replied"},
    {"result-reported -withdraw-> withdrawn", CL, LEAD, "register forward report-result",
     "withdraw", "withdrawn"},
    {"co-opinion-sent -close-> closed", SP, CO,
     "register propose approve transfer accept send-co-opinion", "close", "closed"},
};

static void s_allowed_row(void **state)
{
    const s_edge_row_t *r = *state;
    domain_item_t it;
    s_walk(&it, r->kind, r->role, r->path);
    domain_action_t a;
    assert_int_equal(domain_action_parse(r->action, &a), 0);
    assert_true(domain_item_can(&it, a));
    char err[256];
    if (domain_item_apply(&it, a, err, sizeof err) != 0)
        fail_msg("%s: %s", r->name, err);
    assert_string_equal(domain_state_name(it.state), r->to);
}

/* One refused action from every state; the message names both. */
static const s_edge_row_t s_refused[] = {
    {"received refuses transfer", BS, LEAD, "", "transfer", "received"},
    {"registered refuses approve", BS, LEAD, "register", "approve", "registered"},
    {"awaiting-approval refuses transfer (approve first)", BS, LEAD, "register propose", "transfer",
     "awaiting-approval"},
    {"approved refuses draft-reply", BS, LEAD, "register propose approve", "draft-reply",
     "approved"},
    {"not-listed refuses transfer", BS, LEAD, "register propose not-list", "transfer",
     "not-listed"},
    {"transferred refuses draft-reply (accept first)", BS, LEAD,
     "register propose approve transfer", "draft-reply", "transferred"},
    {"in-handling refuses reply (approve the reply first)", BS, LEAD,
     "register propose approve transfer accept", "reply", "in-handling"},
    {"returned refuses accept", BS, LEAD, "register propose approve transfer return", "accept",
     "returned"},
    {"reply-drafted refuses reply", BS, LEAD,
     "register propose approve transfer accept draft-reply", "reply", "reply-drafted"},
    {"reply-approved refuses close", BS, LEAD,
     "register propose approve transfer accept draft-reply approve-reply", "close",
     "reply-approved"},
    {"replied refuses withdraw", BS, LEAD,
     "register propose approve transfer accept draft-reply approve-reply reply", "withdraw",
     "replied"},
    {"evaluated refuses evaluate-unsatisfied again", BS, LEAD,
     "register propose approve transfer accept draft-reply approve-reply reply evaluate-satisfied",
     "evaluate-unsatisfied", "evaluated"},
    {"closed refuses reply", BS, LEAD,
     "register propose approve transfer accept draft-reply approve-reply reply close", "reply",
     "closed"},
    {"reopened refuses close", BS, LEAD,
     "register propose approve transfer accept draft-reply approve-reply reply "
     "evaluate-unsatisfied",
     "close", "reopened"},
    {"answered-on-spot refuses reopen", RM, LEAD, "answer-on-spot", "reopen", "answered-on-spot"},
    {"forwarded refuses draft-reply", CL, LEAD, "register forward", "draft-reply", "forwarded"},
    {"result-reported refuses close (reply first)", CL, LEAD, "register forward report-result",
     "close", "result-reported"},
    {"co-opinion-sent refuses reply (the lead unit replies)", SP, CO,
     "register propose approve transfer accept send-co-opinion", "reply", "co-opinion-sent"},
    {"withdrawn refuses register", BS, LEAD, "withdraw", "register", "withdrawn"},
    /* the state fits but the kind or role does not */
    {"session item cannot be not-listed", SP, LEAD, "register propose", "not-list",
     "awaiting-approval"},
    {"between-session item is not answered on the spot", BS, LEAD, "register", "answer-on-spot",
     "registered"},
    {"only complaint letters are forwarded", BS, LEAD, "register", "forward", "registered"},
    {"complaint letter gets no handling plan", CL, LEAD, "register", "propose", "registered"},
    {"a co-handler does not draft a reply to the deputy", SP, CO,
     "register propose approve transfer accept", "draft-reply", "in-handling"},
    {"only the lead unit meets the deputy", SP, CO, "register propose approve transfer accept",
     "meet", "in-handling"},
    {"a lead unit sends no co-handler opinion", SP, LEAD,
     "register propose approve transfer accept", "send-co-opinion", "in-handling"},
    {"a between-session item needs approval before transfer", BS, LEAD, "register", "transfer",
     "registered"},
};

static void s_refused_row(void **state)
{
    const s_edge_row_t *r = *state;
    domain_item_t it;
    s_walk(&it, r->kind, r->role, r->path);
    domain_item_t before = it;
    domain_action_t a;
    assert_int_equal(domain_action_parse(r->action, &a), 0);
    assert_false(domain_item_can(&it, a));
    char err[256] = "";
    assert_int_equal(domain_item_apply(&it, a, err, sizeof err), -1);
    assert_memory_equal(&it, &before, sizeof it);
    assert_string_equal(domain_state_name(it.state), r->to);
    char want[96];
    snprintf(want, sizeof want, "cannot %s an item in state %s (", r->action, r->to);
    if (!strstr(err, want))
        fail_msg("%s: message \"%s\" lacks \"%s\"", r->name, err, want);
}

static void test_every_state_is_covered(void **state)
{
    bool reached[DOMAIN_STATE_COUNT] = {false};
    bool refused[DOMAIN_STATE_COUNT] = {false};
    for (size_t i = 0; i < sizeof s_allowed / sizeof s_allowed[0]; i++) {
        domain_state_t s;
        assert_int_equal(domain_state_parse(s_allowed[i].to, &s), 0);
        reached[s] = true;
    }
    for (size_t i = 0; i < sizeof s_refused / sizeof s_refused[0]; i++) {
        domain_state_t s;
        assert_int_equal(domain_state_parse(s_refused[i].to, &s), 0);
        refused[s] = true;
    }
    reached[DOMAIN_STATE_RECEIVED] = true; /* the initial state */
    for (int s = 0; s < DOMAIN_STATE_COUNT; s++) {
        if (!reached[s] || !refused[s])
            fail_msg("state %s: reached %d, refused %d", domain_state_name((domain_state_t)s),
                     reached[s], refused[s]);
    }
}

static void test_joint_item_replies_each_deputy(void **state)
{
    domain_item_t it;
    assert_int_equal(domain_item_init(&it, SP, LEAD, 3), 0);
    const char *path[] = {"register", "propose",     "approve",      "transfer",
                          "accept",   "draft-reply", "approve-reply"};
    for (size_t i = 0; i < 7; i++) {
        domain_action_t a;
        assert_int_equal(domain_action_parse(path[i], &a), 0);
        assert_int_equal(domain_item_apply(&it, a, NULL, 0), 0);
    }
    char err[256];
    assert_int_equal(domain_item_apply(&it, DOMAIN_ACTION_REPLY, err, sizeof err), 0);
    assert_int_equal(it.state, DOMAIN_STATE_REPLY_APPROVED);
    assert_int_equal(it.replies, 1);
    /* one deputy answered: no longer withdrawable */
    assert_false(domain_item_can(&it, DOMAIN_ACTION_WITHDRAW));
    assert_int_equal(domain_item_apply(&it, DOMAIN_ACTION_WITHDRAW, err, sizeof err), -1);
    assert_non_null(strstr(err, "already been answered"));
    assert_int_equal(domain_item_apply(&it, DOMAIN_ACTION_REPLY, err, sizeof err), 0);
    assert_int_equal(it.state, DOMAIN_STATE_REPLY_APPROVED);
    assert_int_equal(domain_item_apply(&it, DOMAIN_ACTION_REPLY, err, sizeof err), 0);
    assert_int_equal(it.state, DOMAIN_STATE_REPLIED);
    assert_int_equal(it.replies, 3);
    assert_int_equal(domain_item_apply(&it, DOMAIN_ACTION_REPLY, err, sizeof err), -1);
}

static void test_rehandling_rounds(void **state)
{
    domain_item_t it;
    s_walk(&it, BS, LEAD, P_REPLIED);
    assert_int_equal(it.round, 1);
    assert_int_equal(domain_item_apply(&it, DOMAIN_ACTION_EVALUATE_UNSATISFIED, NULL, 0), 0);
    assert_int_equal(it.state, DOMAIN_STATE_REOPENED);
    assert_int_equal(it.round, 2);
    assert_int_equal(it.replies, 0);
    assert_int_equal(it.evaluation, DOMAIN_EVALUATION_UNSATISFIED);
    const domain_action_t again[] = {DOMAIN_ACTION_TRANSFER,    DOMAIN_ACTION_ACCEPT,
                                     DOMAIN_ACTION_DRAFT_REPLY, DOMAIN_ACTION_APPROVE_REPLY,
                                     DOMAIN_ACTION_REPLY,       DOMAIN_ACTION_EVALUATE_SATISFIED,
                                     DOMAIN_ACTION_CLOSE,       DOMAIN_ACTION_REOPEN};
    for (size_t i = 0; i < sizeof again / sizeof again[0]; i++)
        assert_int_equal(domain_item_apply(&it, again[i], NULL, 0), 0);
    assert_int_equal(it.state, DOMAIN_STATE_REOPENED);
    assert_int_equal(it.round, 3);
}

static void test_meetings_counted(void **state)
{
    domain_item_t it;
    s_walk(&it, SP, LEAD, P_HANDLING);
    assert_int_equal(domain_item_apply(&it, DOMAIN_ACTION_MEET, NULL, 0), 0);
    assert_int_equal(domain_item_apply(&it, DOMAIN_ACTION_MEET, NULL, 0), 0);
    assert_int_equal(it.meetings, 2);
    assert_int_equal(it.state, DOMAIN_STATE_IN_HANDLING);
}

static void test_names_round_trip(void **state)
{
    for (int s = 0; s < DOMAIN_STATE_COUNT; s++) {
        domain_state_t back;
        assert_int_equal(domain_state_parse(domain_state_name((domain_state_t)s), &back), 0);
        assert_int_equal(back, s);
        assert_string_not_equal(domain_state_name_zh((domain_state_t)s), "?");
    }
    for (int a = 0; a < DOMAIN_ACTION_COUNT; a++) {
        domain_action_t back;
        assert_int_equal(domain_action_parse(domain_action_name((domain_action_t)a), &back), 0);
        assert_int_equal(back, a);
    }
    for (int k = 0; k < DOMAIN_KIND_COUNT; k++) {
        domain_kind_t back;
        assert_int_equal(domain_kind_parse(domain_kind_name((domain_kind_t)k), &back), 0);
        assert_int_equal(back, k);
    }
    domain_role_t r;
    assert_int_equal(domain_role_parse("co", &r), 0);
    assert_int_equal(r, CO);
    domain_state_t s;
    assert_int_equal(domain_state_parse("nonsense", &s), -1);
    assert_int_equal(domain_state_parse(NULL, &s), -1);
    assert_string_equal(domain_state_name((domain_state_t)99), "?");
    assert_string_equal(domain_state_name(DOMAIN_STATE_AWAITING_APPROVAL), "awaiting-approval");
    assert_string_equal(domain_action_name(DOMAIN_ACTION_EVALUATE_UNSATISFIED),
                        "evaluate-unsatisfied");
}

static void test_approver_by_kind(void **state)
{
    assert_int_equal(domain_kind_approver(SP), DOMAIN_APPROVER_PRESIDENT);    /* Art. 14 */
    assert_int_equal(domain_kind_approver(DL), DOMAIN_APPROVER_PRESIDENT);    /* Art. 8(5) */
    assert_int_equal(domain_kind_approver(BS), DOMAIN_APPROVER_COURT_LEADER); /* Art. 15 */
    assert_string_equal(domain_approver_name(DOMAIN_APPROVER_PRESIDENT), "president");
}

static void test_invalid_items_refused(void **state)
{
    domain_item_t it;
    assert_int_equal(domain_item_init(&it, (domain_kind_t)42, LEAD, 1), -1);
    assert_int_equal(domain_item_init(&it, BS, (domain_role_t)5, 1), -1);
    assert_int_equal(domain_item_init(&it, BS, LEAD, 0), -1);
    assert_int_equal(domain_item_init(&it, BS, LEAD, DOMAIN_ITEM_MAX_DEPUTIES + 1), -1);
    assert_int_equal(domain_item_init(&it, BS, LEAD, 1), 0);
    char err[128];
    assert_int_equal(domain_item_apply(&it, (domain_action_t)99, err, sizeof err), -1);
    it.state = (domain_state_t)77; /* corrupted from outside */
    assert_int_equal(domain_item_apply(&it, DOMAIN_ACTION_REGISTER, err, sizeof err), -1);
    assert_false(domain_item_can(&it, DOMAIN_ACTION_REGISTER));
    assert_false(domain_item_can(NULL, DOMAIN_ACTION_REGISTER));
    assert_true(domain_state_is_final(DOMAIN_STATE_WITHDRAWN));
    assert_false(domain_state_is_final(DOMAIN_STATE_REPLIED));
}

int main(void)
{
    int failed = 0;
    failed +=
        fixture_run_rows("allowed transitions", s_allowed, sizeof s_allowed / sizeof s_allowed[0],
                         sizeof s_allowed[0], s_allowed_row);
    failed += fixture_run_rows("refused actions", s_refused, sizeof s_refused / sizeof s_refused[0],
                               sizeof s_refused[0], s_refused_row);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_state_is_covered),
        cmocka_unit_test(test_joint_item_replies_each_deputy),
        cmocka_unit_test(test_rehandling_rounds),
        cmocka_unit_test(test_meetings_counted),
        cmocka_unit_test(test_names_round_trip),
        cmocka_unit_test(test_approver_by_kind),
        cmocka_unit_test(test_invalid_items_refused),
    };
    failed += cmocka_run_group_tests_name("lifecycle", tests, NULL, NULL);
    return failed ? 1 : 0;
}
