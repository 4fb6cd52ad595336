#!/usr/bin/env bash
# liaisonctl item VERB / history / show / queue against a private intake and
# routing: a between-session letter from registration to closing, a refusal
# with exit code 3 and its problem printed, `item show --json` with the
# workflow, the queues of a leader and a department. TAP.
source "$(dirname "$0")/routing_lib.bash"
routing_setup ctl || { echo "not ok 1 - start intake and routing"; exit 1; }
c() { LIAISON_TOKEN=$1 "$CTL" "${@:2}"; }

out=$(c "$T_OFFICE" item register --court $COURT --kind between-sessions --channel letter --source deputy-direct \
      --deputy d001 --title "关于诉讼费缓交的建议" --content "建议完善诉讼费缓交制度。" --json)
ID=$(jq -r .item_id <<<"$out")
ok "registered through liaisonctl" test -n "$ID"
wait_for 10 bash -c "[ \"\$(psql -X -qtA \"$LIAISON_PG_ADMIN_DSN\" -c \"SELECT count(*) FROM $R_SCHEMA.item WHERE item_id = '$ID'\")\" = 1 ]"
ok "item show --json has the workflow state" bash -c "LIAISON_TOKEN=$T_OFFICE $CTL item show --court $COURT $ID --json | jq -e '.state == \"registered\" and .workflow.round == 1 and .registration_number != null'"
ok "item show for people prints the workflow" bash -c "LIAISON_TOKEN=$T_OFFICE $CTL item show --court $COURT $ID | grep -q 'workflow: registered (已登记), round 1'"
c "$T_M1" item propose --court $COURT $ID --opinion x --lead m1 >/dev/null 2>"$R_DIR/err"; rc=$?
ok "a department proposes: refused, exit 3" test "$rc" = 3
ok "... the problem is printed with its code" grep -q 'forbidden_role' "$R_DIR/err"
ok "item propose" bash -c "LIAISON_TOKEN=$T_OFFICE $CTL item propose --court $COURT $ID --opinion 拟交民一庭 --lead m1 --co m2 --idempotency-key p1 | grep -q 'awaiting-approval'"
ok "item propose again with the same key: the first answer, exit 0" bash -c "LIAISON_TOKEN=$T_OFFICE $CTL item propose --court $COURT $ID --opinion 拟交民一庭 --lead m1 --co m2 --idempotency-key p1 --json | jq -e '.state == \"awaiting-approval\"'"
ok "queue for the approver (s02): one awaiting approval" bash -c "LIAISON_TOKEN=$T_LEADER2 $CTL queue awaiting-approval --court $COURT --json | jq -e '.count == 1'"
ok "queue summary for people" bash -c "LIAISON_TOKEN=$T_LEADER2 $CTL queue --court $COURT | grep -q '^awaiting-approval *1'"
ok "item approve" bash -c "LIAISON_TOKEN=$T_LEADER2 $CTL item approve --court $COURT $ID --comment 同意 | grep -q 'approved'"
ok "item transfer" bash -c "LIAISON_TOKEN=$T_OFFICE $CTL item transfer --court $COURT $ID | grep -q 'transferred'"
ok "the department's queue holds it" bash -c "LIAISON_TOKEN=$T_M1 $CTL queue department --court $COURT --json | jq -e --arg i $ID '.items[0].item_id == \$i'"
ok "item co-opinion (m2 to m1)" c "$T_M2" item co-opinion --court $COURT $ID --opinion 同意
ok "item consult" c "$T_M1" item consult --court $COURT $ID --summary 代表认可 --mode phone --participant 王海涛
ok "item progress --result-reported" bash -c "LIAISON_TOKEN=$T_M1 $CTL item progress --court $COURT $ID --progress 已有结果 --result-reported | grep -q HandlingProgressReported"
ok "item draft-reply" c "$T_M1" item draft-reply --court $COURT $ID --category A --text 已采纳
ok "item approve-reply" c "$T_LEADER2" item approve-reply --court $COURT $ID
ok "item reply" c "$T_OFFICE" item reply --court $COURT $ID --method letter
ok "item evaluate" c "$T_OFFICE" item evaluate --court $COURT $ID --satisfaction satisfied
ok "item close" bash -c "LIAISON_TOKEN=$T_OFFICE $CTL item close --court $COURT $ID | grep -q 'ItemClosed'"
ok "item history: every step" bash -c "LIAISON_TOKEN=$T_AUDITOR $CTL item history --court $COURT $ID --json | jq -e '[.history[].action] == [\"register\",\"propose\",\"approve\",\"transfer\",\"co-opinion\",\"accept\",\"consult\",\"progress\",\"draft-reply\",\"approve-reply\",\"reply\",\"evaluate\",\"close\"]'"
ok "item history for people" bash -c "LIAISON_TOKEN=$T_AUDITOR $CTL item history --court $COURT $ID | grep -q '(13 steps; now closed)'"
c "$T_OFFICE" item close --court $COURT $ID >/dev/null 2>&1; rc=$?
ok "close a closed item: exit 3" test "$rc" = 3
c "$T_OFFICE" item approve --court $COURT >/dev/null 2>&1; rc=$?
ok "no item id: usage, exit 2" test "$rc" = 2
LIAISON_ROUTING_URL=http://127.0.0.1:9 LIAISON_TOKEN=$T_OFFICE $CTL item close --court $COURT $ID >/dev/null 2>&1; rc=$?
ok "no routing daemon: exit 1" test "$rc" = 1
ok "item show still works without routing (workflow null)" bash -c "LIAISON_ROUTING_URL=http://127.0.0.1:9 LIAISON_TOKEN=$T_OFFICE $CTL item show --court $COURT $ID --json | jq -e '.workflow == null'"
tap_done
