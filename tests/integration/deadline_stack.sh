#!/usr/bin/env bash
# The deadline daemon behind the real intake and routing daemons: items are
# registered through intake's HTTP API and moved through routing's workflow
# (propose, approve, transfer, reply, evaluate) by the people the regulation
# names; the deadline daemon consumes both streams. Intake and routing run
# on the real clock, the deadline daemon on a test clock of its own, moved
# past the two-month due date and each urging interval:
#   A (never answered): due, urging 1, urging 2, one escalation to xz's
#     supervising leader 黄志明 (s03), each once, in order;
#   B answered between the urgings: met (late), its chain stops;
#   C answered, then the deputy is not satisfied: round 2 gets rehandle,
#     round 1 keeps its history.
# Private schemas, ports and clock (tests/integration/routing_lib.bash,
# tests/deadline/lib.sh).
set -uo pipefail
source "$(dirname "$0")/routing_lib.bash"
source tests/deadline/lib.sh
[ -x "$B/bin/liaison-routing" ] && [ -x "$B/bin/liaison-intake" ] || skip_all "intake or routing not built"
command -v jq >/dev/null || skip_all "jq missing"
routing_setup "dls$$" >/dev/null 2>&1 || skip_all "intake and routing did not start"
ROUTING_BUS=$(sed -n 's/.*msg="bus server listening" stream=routing endpoint=\([^ ]*\).*/\1/p' "$R_DIR/routing.log" | head -1)
[ -n "$ROUTING_BUS" ] && [ -n "$INTAKE_BUS" ] || skip_all "no bus endpoints"
dl_setup "dlstack_$$" || { echo "not ok 1 - setup"; exit 1; }
DL_EP_I=$INTAKE_BUS DL_EP_R=$ROUTING_BUS
dl_write_config
trap 'dl_teardown; routing_teardown' EXIT
dl_start_daemon
ok "deadline daemon ready beside intake and routing" wait_for 10 dl_ready

waitq() { wait_for "${3:-20}" eq "$1" "$2"; } # the whole stack: a little longer
XZ=$(sql "SELECT md5('department/$COURT/xz')::uuid")
S03=$(sql "SELECT md5('staff/$COURT/s03')::uuid")

handled() { # ITEM: propose to xz, approve (s03), transfer
  act "$T_OFFICE" "$1" propose '{"opinion":"拟交行政庭办理","assignments":[{"department":"xz","role":"lead"}]}'
  act "$T_LEADER3" "$1" approve ''
  act "$T_OFFICE" "$1" transfer ''
}
answered() { # ITEM: xz drafts, s03 approves, the office replies
  act "$T_XZ" "$1" draft-reply '{"category":"B","text":"正在研究。"}'
  act "$T_LEADER3" "$1" approve-reply ''
  act "$T_OFFICE" "$1" reply '{"method":"letter"}'
}
register between-sessions "关于行政案件审理期限的意见" d003; IA=$ITEM; handled "$IA"
register between-sessions "关于行政诉讼立案的意见" d004; IB=$ITEM; handled "$IB"
register between-sessions "关于行政调解的意见" d005; IC=$ITEM; handled "$IC"
today=$(TZ=Asia/Shanghai date +%F)
due=$(TZ=Asia/Shanghai date -d "$today + 2 months" +%F)
ok "routing's transfer meets the transfer deadline" \
  waitq "SELECT count(*) FROM deadline WHERE rule_id = 'transfer' AND stage = 'met' AND item_id IN ('$IA', '$IB', '$IC')" 3
ok "answer-between for xz, from the transfer date ($today)" \
  waitq "SELECT count(*) FROM deadline WHERE rule_id = 'answer-between' AND department_id = '$XZ' AND trigger_date = '$today' AND item_id IN ('$IA', '$IB', '$IC')" 3
DUE=$(q "SELECT due_date FROM deadline WHERE item_id = '$IA' AND rule_id = 'answer-between'")
ok "due two months later (rolled past rest days if any): $DUE" \
  test "$(date -d "$DUE" +%s)" -ge "$(date -d "$due" +%s)"
day_after=$(date -d "$DUE + 1 day" +%F)

dl_clock_set "$(dl_epoch "$day_after 00:00:30")"
ok "past the last day: due" waitq "SELECT count(*) FROM deadline WHERE stage = 'due' AND item_id IN ('$IA', '$IB', '$IC')" 3
dl_clock_set "$(dl_epoch "$day_after 09:00:30")"
ok "urging 1" waitq "SELECT count(*) FROM deadline WHERE stage = 'urged' AND urge_count = 1 AND item_id IN ('$IA', '$IB', '$IC')" 3
answered "$IB"
answered "$IC"
act "$T_OFFICE" "$IC" evaluate '{"satisfaction":"unsatisfied","comment":"答复未解决问题"}'
# (met, not late: routing dates the reply by its own, real, clock)
ok "B's reply meets it" waitq "SELECT stage FROM deadline WHERE item_id = '$IB' AND rule_id = 'answer-between'" met
ok "C reopened: rehandle in round 2" waitq "SELECT count(*) FROM deadline WHERE item_id = '$IC' AND rule_id = 'rehandle' AND round = 2" 1
ok "C's round 1 met and kept" eq "SELECT stage FROM deadline WHERE item_id = '$IC' AND rule_id = 'answer-between' AND round = 1" met
dl_clock_set "$(dl_epoch "$(date -d "$day_after + 7 days" +%F) 09:00:30")"
ok "urging 2" waitq "SELECT stage || urge_count FROM deadline WHERE item_id = '$IA' AND rule_id = 'answer-between'" urged2
dl_clock_set "$(dl_epoch "$(date -d "$day_after + 14 days" +%F) 09:00:30")"
ok "escalated to xz's supervising leader s03" \
  waitq "SELECT stage || ' ' || supervising_leader_id FROM deadline WHERE item_id = '$IA' AND rule_id = 'answer-between'" "escalated $S03"
AID=$(q "SELECT id FROM deadline WHERE item_id = '$IA' AND rule_id = 'answer-between'")
BID=$(q "SELECT id FROM deadline WHERE item_id = '$IB' AND rule_id = 'answer-between'")
ok "A: due, urging 1, urging 2, escalation, each once, in order" \
  sh -c "[ \"\$(psql \"$DL_DSN_D\" -XAtc \"SELECT string_agg(kind, ' ' ORDER BY id) FROM deadline_history WHERE deadline_id = '$AID' AND kind !~ '^remind'\")\" = 'created due urge:1 urge:2 escalate' ]"
ok "B: stopped at its reply" \
  sh -c "[ \"\$(psql \"$DL_DSN_D\" -XAtc \"SELECT string_agg(kind, ' ' ORDER BY id) FROM deadline_history WHERE deadline_id = '$BID' AND kind !~ '^remind'\")\" = 'created due urge:1 met' ]"
dl_dump >"$DL_DIR/events.txt"
ok "DeadlineEscalated names 黄志明" grep -q "DeadlineEscalated $IA deadline=$AID stage=ESCALATED urges=2 dept=$XZ leader=$S03 leader_name=黄志明" "$DL_DIR/events.txt"
ok "the escalation notice goes to s03 by SMS" grep -q "NoticeRequested $IA template=deadline.escalate recipient_kind=4 recipient=$S03 channel=1" "$DL_DIR/events.txt"
ok "no dead letters in the deadline daemon's consumers" eq "SELECT count(*) FROM bus_dead_letter" 0
tap_done
