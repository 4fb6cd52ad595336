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

# ---- Art. 14, co: the court co-handles; the opinion goes to the lead unit ---------
register session-suggestion "关于完善多元解纷机制的建议" "d002" '"court_role":"co","session":{"congress":"荔湾区第十七届人民代表大会","term_number":17,"meeting_number":5,"closing_date":"2026-01-20"}'
C=$ITEM
step "co: the office proposes m1 (lead in court) with m2 co-handling" "$T_OFFICE" $C propose '{"opinion":"本院协办","assignments":[{"department":"m1","role":"lead"},{"department":"m2","role":"co"}]}' awaiting-approval
step "co: the president approves" "$T_PRESIDENT" $C approve '' approved
step "co: transferred" "$T_OFFICE" $C transfer '' transferred
refused "co: a department outside the plan sends an opinion" 403 wrong_department "$T_XZ" $C co-opinion '{"opinion":"x"}'
step "co: m2 sends its opinion to the court's lead department (recorded)" "$T_M2" $C co-opinion '{"opinion":"民二庭意见：同意"}' transferred
refused "co: the court drafts a reply to the deputy (Art. 14: co answers the lead unit)" 409 invalid_state "$T_M1" $C draft-reply '{"category":"A","text":"x"}'
ok "... the refusal says why" jq -e '.detail | test("co-handler")' <<<"$REFUSED_BODY"
step "co: m1 sends the court's opinion to the lead unit" "$T_M1" $C co-opinion '{"opinion":"本院协办意见"}' co-opinion-sent
refused "co: no reply to the deputy after the opinion" 409 invalid_state "$T_OFFICE" $C reply '{"category":"A"}'
step "co: closed" "$T_OFFICE" $C close '' closed
ok "co: events in order" test "$(outbox_types $C)" = "HandlingPlanProposed ItemApproved ItemTransferred CoHandlerOpinionSubmitted HandlingStarted CoHandlerOpinionSubmitted ItemClosed"
ok "co: the first opinion went to m1, the second to the lead unit" test "$(sql "SELECT string_agg(detail->>'to', ' ' ORDER BY n) FROM $R_SCHEMA.history WHERE item_id = '$C' AND action = 'co-opinion'")" = "$(sql "SELECT md5('department/$COURT/m1')::uuid") lead-unit"

# ---- Art. 15: a between-session letter, returned and transferred again ----------
register between-sessions "关于规范执行程序的意见" "d003"
L=$ITEM
step "Art. 15: the office proposes xz" "$T_OFFICE" $L propose '{"opinion":"拟交行政庭办理","assignments":[{"department":"xz","role":"lead"}]}' awaiting-approval
ok "... approver by rule: a court leader, xz's supervising leader s03" jq -e --arg s "$(sql "SELECT md5('staff/$COURT/s03')::uuid")" '.approver_kind == "court-leader" and .approver == $s' <<<"$BODY"
refused "Art. 15: the president is not this plan's approver" 403 not_approver "$T_PRESIDENT" $L approve
step "Art. 15: the court leader approves" "$T_LEADER3" $L approve '' approved
refused "Art. 15: the approver cannot transfer" 403 forbidden_role "$T_LEADER3" $L transfer
step "Art. 15: transferred within two days of approval" "$T_OFFICE" $L transfer '' transferred
ok "... transferred_date set" jq -e '.transferred_date == .approved_date' <<<"$BODY"
refused "Art. 15: a department not assigned returns it" 403 wrong_department "$T_M1" $L return '{"reason":"x"}'
refused "Art. 15: a return needs a reason" 422 missing_field "$T_XZ" $L return '{}'
step "Art. 15: xz returns it: not its matter (退回)" "$T_XZ" $L return '{"reason":"属执行事项，非本庭职责"}' returned
refused "Art. 15: xz can no longer draft" 403 wrong_department "$T_XZ" $L draft-reply '{"category":"A","text":"x"}'
refused "Art. 15: re-transfer needs departments" 422 missing_field "$T_OFFICE" $L transfer ''
step "Art. 15: the office transfers it again, to zx" "$T_OFFICE" $L transfer '{"assignments":[{"department":"zx","role":"lead"}]}' transferred
step "Art. 15: zx takes it in hand" "$T_ZX" $L accept '' in-handling
refused "Art. 20: progress from a department not assigned" 403 wrong_department "$T_M1" $L progress '{"progress":"x"}'
step "Art. 20: zx reports progress with its result" "$T_ZX" $L progress '{"progress":"已完成调研，正在起草答复","result_reported":true}' in-handling
step "Art. 15: zx drafts" "$T_ZX" $L draft-reply '{"category":"B","text":"正在规范执行程序。"}' reply-drafted
step "Art. 15: zx's supervising leader (s02) sends the draft back" "$T_LEADER2" $L reject-reply '{"reason":"请补充时间表"}' in-handling
step "Art. 15: zx drafts again (revision 2)" "$T_ZX" $L draft-reply '{"category":"B","text":"正在规范执行程序，年底完成。"}' reply-drafted
ok "... revision 2" jq -e '.reply.revision == 2' <<<"$BODY"
step "Art. 15: s02 approves" "$T_LEADER2" $L approve-reply '' reply-approved
step "Art. 15: replied" "$T_OFFICE" $L reply '{"method":"letter"}' replied
step "Art. 15: basically satisfied" "$T_OFFICE" $L evaluate '{"satisfaction":"basic"}' evaluated
step "Art. 15: closed" "$T_OFFICE" $L close '' closed
ok "Art. 15: events in order" test "$(outbox_types $L)" = "HandlingPlanProposed ItemApproved ItemTransferred ItemReturned ItemTransferred HandlingStarted HandlingProgressReported ReplyDrafted ReplyRejected ReplyDrafted ReplyApproved ReplySent ReplyEvaluated ItemClosed"

# ---- Art. 15: not listed (不列入办理事项), still answered ---------------------------
register between-sessions "关于法院食堂的意见" "d004"
N=$ITEM
step "not listed: proposed" "$T_OFFICE" $N propose '{"opinion":"拟不列入办理事项","assignments":[{"department":"m1","role":"lead"}]}' awaiting-approval
refused "not listed: a reason is required" 422 missing_field "$T_LEADER2" $N decline '{}'
step "not listed: the approver declines to list it" "$T_LEADER2" $N decline '{"reason":"不属于审判工作范围"}' not-listed
refused "not listed: the reply needs a category" 422 missing_field "$T_OFFICE" $N reply '{}'
step "not listed: still answered (Art. 12(2))" "$T_OFFICE" $N reply '{"category":"C","text":"已向代表解释"}' replied
step "not listed: closed" "$T_OFFICE" $N close '' closed
ok "not listed: closed as answered" test "$(sql "SELECT detail->>'reason' FROM $R_SCHEMA.history WHERE item_id = '$N' AND action = 'close'")" = not-listed-answered
ok "not listed: events in order" test "$(outbox_types $N)" = "HandlingPlanProposed ItemNotListed ReplySent ItemClosed"

# ---- Art. 16: a phone remark answered on the spot --------------------------------
register remark "关于立案窗口排队的意见" "d005" '"receiving_department":"m1"'
S=$ITEM
refused "on the spot: a leader records it (wrong role)" 403 forbidden_role "$T_LEADER2" $S answer-on-spot '{"answer":"x"}'
refused "on the spot: an answer is required" 422 missing_field "$T_M1" $S answer-on-spot '{}'
step "on the spot: m1 answers at once (Art. 16)" "$T_M1" $S answer-on-spot '{"answer":"已当场说明立案窗口的预约办法。"}' answered-on-spot
ok "... final" jq -e '.final == true and (.allowed | length == 0)' <<<"$BODY"
refused "on the spot: nothing more after it" 409 invalid_state "$T_OFFICE" $S transfer '{"assignments":[{"department":"m1"}]}'
ok "on the spot: events" test "$(outbox_types $S)" = "ItemAnsweredOnTheSpot"

# ---- Art. 16: a remark answered later (within three days) -------------------------
register remark "关于执行款发放的意见" "d006" '"receiving_department":"zx"'
R=$ITEM
refused "later: a remark is not proposed for approval by a department" 403 forbidden_role "$T_ZX" $R transfer ''
step "later: the office passes it straight to its department (zx)" "$T_OFFICE" $R transfer '' transferred
refused "later: no answer on the spot once transferred" 409 invalid_state "$T_ZX" $R answer-on-spot '{"answer":"x"}'
step "later: zx drafts" "$T_ZX" $R draft-reply '{"category":"A","text":"执行款已发放。"}' reply-drafted
step "later: s02 approves" "$T_LEADER2" $R approve-reply '' reply-approved
step "later: replied" "$T_OFFICE" $R reply '{"method":"phone"}' replied
step "later: closed without an evaluation" "$T_OFFICE" $R close '' closed
ok "later: events in order" test "$(outbox_types $R)" = "ItemTransferred HandlingStarted ReplyDrafted ReplyApproved ReplySent ItemClosed"

# ---- Art. 17: a complaint letter forwarded to the petition office -----------------
register forwarded-complaint "转交群众来信：反映某案件执行问题" "d007"
F=$ITEM
refused "Art. 17: a complaint letter is not handled here" 409 invalid_state "$T_OFFICE" $F propose '{"opinion":"x","assignments":[{"department":"m1"}]}'
refused "Art. 17: forwarded only to the petition or supervision office" 422 invalid_value "$T_OFFICE" $F forward '{"target":"m1"}'
step "Art. 17: forwarded to the petition office" "$T_OFFICE" $F forward '{"target":"petition-office","note":"请依法处理"}' forwarded
ok "... to xf" jq -e --arg d "$(sql "SELECT md5('department/$COURT/xf')::uuid")" '.forward.department == $d' <<<"$BODY"
refused "Art. 17: another department reports the result" 403 wrong_department "$T_M1" $F forward-result '{"result":"x"}'
step "Art. 17: the petition office reports its result" "$T_XF" $F forward-result '{"result":"已立案复查"}' result-reported
step "Art. 17: the deputy is answered" "$T_OFFICE" $F reply '{"category":"C"}' replied
step "Art. 17: closed" "$T_OFFICE" $F close '' closed
ok "Art. 17: events in order" test "$(outbox_types $F)" = "ItemForwarded ForwardResultReported ReplySent ItemClosed"

# ---- a joint item of three deputies: one reply each --------------------------------
register session-bill "关于加强少年审判工作的议案" "d001 d002 d003" "$SESSION"
J=$ITEM
step "joint: proposed" "$T_OFFICE" $J propose '{"opinion":"拟交民一庭","assignments":[{"department":"m1","role":"lead"}]}' awaiting-approval
step "joint: approved" "$T_PRESIDENT" $J approve '' approved
step "joint: transferred" "$T_OFFICE" $J transfer '' transferred
step "joint: drafted" "$T_M1" $J draft-reply '{"category":"A","text":"已采纳。"}' reply-drafted
step "joint: reply approved" "$T_LEADER2" $J approve-reply '' reply-approved
refused "joint: a reply must name the deputy" 422 missing_field "$T_OFFICE" $J reply '{}'
refused "joint: a deputy not on the item" 422 unknown_deputy "$T_OFFICE" $J reply '{"deputy":"d009"}'
step "joint: reply to the lead deputy d001" "$T_OFFICE" $J reply '{"deputy":"d001"}' reply-approved
refused "joint: d001 again" 409 already_replied "$T_OFFICE" $J reply '{"deputy":"d001"}'
refused "joint: no withdrawal once a deputy is answered" 409 invalid_state "$T_OFFICE" $J withdraw '{"reason":"x"}'
step "joint: reply to d002" "$T_OFFICE" $J reply '{"deputy":"d002","method":"email"}' reply-approved
step "joint: reply to d003: the item is replied" "$T_OFFICE" $J reply '{"deputy":"d003"}' replied
ok "... every deputy replied" jq -e '[.deputies[].replied] == [true, true, true] and .replies == 3' <<<"$BODY"
step "joint: d001 satisfied" "$T_OFFICE" $J evaluate '{"deputy":"d001","satisfaction":"satisfied"}' replied
refused "joint: d001 evaluated twice" 409 already_evaluated "$T_OFFICE" $J evaluate '{"deputy":"d001","satisfaction":"basic"}'
step "joint: d002 basically satisfied" "$T_OFFICE" $J evaluate '{"deputy":"d002","satisfaction":"basic"}' replied
step "joint: d003 satisfied: evaluated" "$T_OFFICE" $J evaluate '{"deputy":"d003","satisfaction":"satisfied"}' evaluated
ok "... evaluation basic (any 基本满意)" jq -e '.evaluation == "basic"' <<<"$BODY"
step "joint: closed" "$T_OFFICE" $J close '' closed
ok "joint: events in order" test "$(outbox_types $J)" = "HandlingPlanProposed ItemApproved ItemTransferred HandlingStarted ReplyDrafted ReplyApproved ReplySent ReplySent ReplySent ReplyEvaluated ReplyEvaluated ReplyEvaluated ItemClosed"
ok "joint: one ReplySent per deputy" test "$(sql "SELECT count(DISTINCT deputy_id) FROM $R_SCHEMA.reply_sent WHERE item_id = '$J'")" = 3

# ---- unsatisfied: reopened for re-handling, round 2 --------------------------------
register between-sessions "关于诉讼服务中心开放时间的建议" "d008"
U=$ITEM
step "reopen: proposed" "$T_OFFICE" $U propose '{"opinion":"拟交民二庭","assignments":[{"department":"m2","role":"lead"}]}' awaiting-approval
step "reopen: approved (m2's supervising leader s03)" "$T_LEADER3" $U approve '' approved
step "reopen: transferred" "$T_OFFICE" $U transfer '' transferred
step "reopen: drafted" "$T_M2" $U draft-reply '{"category":"C","text":"暂无法延长。"}' reply-drafted
step "reopen: approved reply" "$T_LEADER3" $U approve-reply '' reply-approved
step "reopen: replied" "$T_OFFICE" $U reply '' replied
step "reopen: the deputy is not satisfied (不满意)" "$T_OFFICE" $U evaluate '{"satisfaction":"unsatisfied","comment":"答复未解决问题"}' reopened
ok "... round 2, no reply yet in it" jq -e '.round == 2 and .replies == 0 and .deputies[0].replied == false' <<<"$BODY"
refused "reopen: no close in re-handling" 409 invalid_state "$T_OFFICE" $U close
step "reopen: transferred again to m2" "$T_OFFICE" $U transfer '' transferred
step "reopen: m2 drafts again (round 2)" "$T_M2" $U draft-reply '{"category":"B","text":"将于下月起延长开放时间。"}' reply-drafted
ok "... revision 1 of round 2" jq -e '.reply.revision == 1 and .round == 2' <<<"$BODY"
step "reopen: approved" "$T_LEADER3" $U approve-reply '' reply-approved
step "reopen: replied in round 2" "$T_OFFICE" $U reply '' replied
step "reopen: satisfied" "$T_OFFICE" $U evaluate '{"satisfaction":"satisfied"}' evaluated
step "reopen: closed" "$T_OFFICE" $U close '' closed
ok "reopen: events in order" test "$(outbox_types $U)" = "HandlingPlanProposed ItemApproved ItemTransferred HandlingStarted ReplyDrafted ReplyApproved ReplySent ReplyEvaluated ItemReopened ItemTransferred HandlingStarted ReplyDrafted ReplyApproved ReplySent ReplyEvaluated ItemClosed"
ok "reopen: the history keeps both rounds" test "$(sql "SELECT string_agg(DISTINCT round::text, ',') FROM $R_SCHEMA.history WHERE item_id = '$U'")" = "1,2"

# ---- withdrawn in writing by the deputy --------------------------------------------
register deputy-letter "关于某案件审理进度的来信" "d010"
W=$ITEM
step "withdraw: proposed" "$T_OFFICE" $W propose '{"opinion":"拟交刑庭","assignments":[{"department":"xs","role":"lead"}]}' awaiting-approval
ok "... deputy letters go to the president (Art. 8(5))" jq -e '.approver_kind == "president"' <<<"$BODY"
step "withdraw: approved" "$T_PRESIDENT" $W approve '' approved
step "withdraw: transferred" "$T_OFFICE" $W transfer '' transferred
refused "withdraw: a department cannot record it" 403 forbidden_role "$T_ZX" $W withdraw '{"reason":"x"}'
step "withdraw: the deputy withdraws in writing" "$T_OFFICE" $W withdraw '{"reason":"代表书面撤回"}' withdrawn
refused "withdraw: nothing after it" 409 invalid_state "$T_OFFICE" $W reply '{"category":"C"}'
ok "withdraw: events in order" test "$(outbox_types $W)" = "HandlingPlanProposed ItemApproved ItemTransferred ItemWithdrawn"

# ---- per-court rules: suggested departments, approvers, reply categories ------------
api PUT "/v1/courts/$COURT/rules" "$T_M1" '{"suggestions":[]}'
ok "rules: a department may not change them" test "$CODE" = 403
api PUT "/v1/courts/$COURT/rules" "$T_OFFICE" '{"suggestions":[{"keyword":"执行","department":"zx","role":"lead","priority":10},{"keyword":"执行","department":"xz","role":"co"},{"sector":"医疗卫生","department":"m1","role":"lead"},{"kind":"between-session","department":"m2","role":"lead","priority":-1}],"approvers":[{"kind":"between-session","approver":"president"}],"reply_categories":[{"code":"A","label":"已解决或采纳"},{"code":"B","label":"正在解决或列入计划"},{"code":"C","label":"因条件限制暂不能解决，予以解释"},{"code":"D","label":"其他"}]}'
ok "rules: the liaison office sets them" jq -e '(.suggestions | length) == 4 and (.approvers | length) == 1 and (.reply_categories | length) == 4' <<<"$BODY"
register between-sessions "关于执行案款发放的建议" "d002"
G=$ITEM
api GET "/v1/courts/$COURT/items/$G/suggestions" "$T_OFFICE"
ok "suggestions: the keyword rule first, then the sector's" jq -e --arg zx "$(sql "SELECT md5('department/$COURT/zx')::uuid")" --arg m1 "$(sql "SELECT md5('department/$COURT/m1')::uuid")" '.suggestions[0].department == $zx and any(.suggestions[]; .department == $m1)' <<<"$BODY"
step "suggestions: proposed without assignments takes the suggested plan" "$T_OFFICE" $G propose '{"opinion":"按规则分办"}' awaiting-approval
ok "... zx leads, xz co-handles" jq -e --arg zx "$(sql "SELECT md5('department/$COURT/zx')::uuid")" '.lead_department == $zx and ([.assignments[] | select(.role == "co")] | length) >= 1' <<<"$BODY"
ok "... the court's approver rule: the president for between-session items" jq -e '.approver_kind == "president"' <<<"$BODY"
step "rules: the president approves" "$T_PRESIDENT" $G approve '' approved
step "rules: transferred" "$T_OFFICE" $G transfer '' transferred
refused "rules: a category the court does not have" 422 invalid_value "$T_ZX" $G draft-reply '{"category":"Z","text":"x"}'
step "rules: the court's own category D" "$T_ZX" $G draft-reply '{"category":"D","text":"其他说明"}' reply-drafted
api PUT "/v1/courts/$COURT/rules" "$T_OFFICE" '{"suggestions":[],"approvers":[],"reply_categories":[]}'
ok "rules: cleared again" jq -e '(.suggestions | length) == 0 and (.approvers | length) == 0' <<<"$BODY"

# ---- idempotency, reads, queues -------------------------------------------------------
register between-sessions "关于幂等的测试" "d011"
I=$ITEM
act "$T_OFFICE" $I propose '{"opinion":"拟交民一庭","assignments":[{"department":"m1"}]}' key-1
first=$BODY
act "$T_OFFICE" $I propose '{"opinion":"拟交民一庭","assignments":[{"department":"m1"}]}' key-1
ok "Idempotency-Key: a retry gets the first answer" test "$CODE" = 200 -a "$(jq -cS . <<<"$BODY")" = "$(jq -cS . <<<"$first")"
ok "... and nothing happened twice" test "$(outbox_types $I)" = "HandlingPlanProposed"
act "$T_OFFICE" $I propose '{"opinion":"另一个"}' key-1
ok "Idempotency-Key with another body: 409" test "$CODE" = 409 -a "$(jq -r .code <<<"$BODY")" = idempotency_conflict
api GET "/v1/courts/$COURT/items/$I" "$T_OTHER"
ok "another court's token cannot read the item" test "$CODE" = 403
api GET "/v1/courts/gz-other/items/$I" "$T_OTHER"
ok "... nor through its own court (404)" test "$CODE" = 404
api GET "/v1/courts/$COURT/items/$I" nope
ok "an unknown token: 401 problem" test "$CODE" = 401 -a "$(jq -r .code <<<"$BODY")" = unauthorized
api GET "/v1/courts/$COURT/items/$A/history" "$T_AUDITOR"
ok "history of the first item: 11 steps with their events" jq -e '(.history | length) == 11 and all(.history[1:][]; .event_id != null)' <<<"$BODY"
api GET "/v1/courts/$COURT/queues" "$T_LEADER2"
ok "queues of a leader: approval and sign-off" jq -e '[.queues[].queue] == ["awaiting-approval", "reply-signoff"]' <<<"$BODY"
ok "... s02 approves the idempotency item (m1's leader)" jq -e '.queues[0].count == 1' <<<"$BODY"
api GET "/v1/courts/$COURT/queues/awaiting-approval" "$T_LEADER2"
ok "queue list: the item, its age" jq -e --arg i "$I" '.count == 1 and .items[0].item_id == $i and .items[0].age_seconds >= 0 and .next_cursor == null' <<<"$BODY"
api GET "/v1/courts/$COURT/queues/awaiting-approval" "$T_M1"
ok "a department has no approval queue (403)" test "$CODE" = 403
# paging: every closed item once, two at a time
api GET "/v1/courts/$COURT/items?state=closed&limit=2" "$T_AUDITOR"
total=$(jq .count <<<"$BODY"); seen=$(jq -r '.items[].item_id' <<<"$BODY"); cur=$(jq -r .next_cursor <<<"$BODY")
while [ "$cur" != null ]; do
  api GET "/v1/courts/$COURT/items?state=closed&limit=2&cursor=$cur" "$T_AUDITOR"
  seen+=$'\n'$(jq -r '.items[].item_id' <<<"$BODY"); cur=$(jq -r .next_cursor <<<"$BODY")
done
ok "paging: $total closed items, each once over pages of 2" test "$total" -ge 7 -a "$(sort -u <<<"$seen" | grep -c .)" = "$total" -a "$(grep -c . <<<"$seen")" = "$total"
api GET "/v1/courts/$COURT/queues/department" "$T_M1"
ok "the department queue of m1: its open items only (co-handling the rules' item)" jq -e --arg g "$G" '.count == 1 and .items[0].item_id == $g' <<<"$BODY"
api GET "/v1/courts/$COURT/queues/awaiting-transfer" "$T_OFFICE"
ok "awaiting-transfer: counted" jq -e '.count == 0 and .queue == "awaiting-transfer"' <<<"$BODY"
tap_done
