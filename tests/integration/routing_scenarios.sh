#!/usr/bin/env bash
# The regulation's paths through liaison-routing's HTTP API, with a private
# liaison-intake registering the items (Arts. 13-21): for each, the states,
# routing's events in stream order, and every refused action (wrong state,
# role, department, court) answered problem+json with nothing changed. TAP.
source "$(dirname "$0")/routing_lib.bash"
routing_setup scen || { echo "not ok 1 - start intake and routing"; exit 1; }
ok "routing is ready" is_code 200 "$R_URL/readyz"

SESSION='"court_role":"lead","session":{"congress":"荔湾区第十七届人民代表大会","term_number":17,"meeting_number":5,"closing_date":"2026-01-20"}'

# ---- Art. 14, lead: a session suggestion led by the court ----------------------
register session-suggestion "关于优化涉企案件审理的建议" "d001" "$SESSION"
A=$ITEM
ok "Art. 14 lead: registered in routing" test "$(item_state $A)" = registered
refused "approve before any plan (wrong state)" 409 invalid_state "$T_PRESIDENT" $A approve
ok "... the problem names the state" jq -e '.state == "registered" and (.detail | test("registered"))' <<<"$REFUSED_BODY"
refused "a department proposes (wrong role)" 403 forbidden_role "$T_M1" $A propose '{"opinion":"x","assignments":[{"department":"m1","role":"lead"}]}'
refused "another court's token (wrong court)" 403 wrong_court "$T_OTHER" $A propose '{"opinion":"x","assignments":[{"department":"m1","role":"lead"}]}'
refused "a plan with two leads" 422 invalid_value "$T_OFFICE" $A propose '{"opinion":"x","assignments":[{"department":"m1","role":"lead"},{"department":"m2","role":"lead"}]}'
step "the liaison office proposes the handling opinion" "$T_OFFICE" $A propose '{"opinion":"建议民一庭主办","assignments":[{"department":"m1","role":"lead","instructions":"约见代表"}]}' awaiting-approval
ok "... approver by rule: the president (Art. 14)" jq -e '.approver_kind == "president"' <<<"$BODY"
refused "a court leader who is not the approver approves" 403 not_approver "$T_LEADER2" $A approve
refused "a department approves" 403 not_approver "$T_M1" $A approve
refused "session items are not declined (Art. 15 only)" 409 invalid_state "$T_PRESIDENT" $A decline '{"reason":"x"}'
step "the president approves" "$T_PRESIDENT" $A approve '{"comment":"同意"}' approved
ok "... approved today" jq -e '.approved_date | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}$")' <<<"$BODY"
refused "a department transfers (wrong role)" 403 forbidden_role "$T_M1" $A transfer
step "the liaison office transfers (Art. 15)" "$T_OFFICE" $A transfer '' transferred
refused "another department drafts (wrong department)" 403 wrong_department "$T_M2" $A draft-reply '{"category":"A","text":"x"}'
step "the lead department meets the deputy (面商, Art. 14)" "$T_M1" $A consult '{"mode":"face-to-face","summary":"代表同意办理方向","participants":["王海涛","林淑芬"]}' in-handling
ok "... one meeting recorded" jq -e '.meetings == 1' <<<"$BODY"
refused "reply before approval of the draft (wrong state)" 409 invalid_state "$T_OFFICE" $A reply '{"category":"A"}'
step "the department drafts the reply" "$T_M1" $A draft-reply '{"category":"A","text":"经研究，已采纳。"}' reply-drafted
refused "a leader who does not supervise m1 signs off" 403 not_supervising_leader "$T_LEADER3" $A approve-reply
refused "the department approves its own reply" 403 not_supervising_leader "$T_M1" $A approve-reply
step "the supervising leader (s02) approves the reply (Art. 14)" "$T_LEADER2" $A approve-reply '{"comment":"同意答复"}' reply-approved
refused "a department replies to the deputy (wrong role)" 403 forbidden_role "$T_M1" $A reply '{}'
step "the liaison office replies (统一答复)" "$T_OFFICE" $A reply '{"method":"letter"}' replied
refused "a second reply to the same deputy" 409 invalid_state "$T_OFFICE" $A reply '{}'
step "the deputy is satisfied" "$T_OFFICE" $A evaluate '{"satisfaction":"satisfied"}' evaluated
step "closed (办结)" "$T_OFFICE" $A close '' closed
refused "close again (wrong state)" 409 invalid_state "$T_OFFICE" $A close
ok "Art. 14 lead: events in order" test "$(outbox_types $A)" = "HandlingPlanProposed ItemApproved ItemTransferred HandlingStarted DeputyConsulted ReplyDrafted ReplyApproved ReplySent ReplyEvaluated ItemClosed"
ok "Art. 14 lead: history in order" test "$(history_actions $A)" = "register propose approve transfer accept consult draft-reply approve-reply reply evaluate close"

tap_done
