#!/usr/bin/env bash
# Whom the deadline daemon tells, beyond the handling department's people,
# and the year-end explanation of supervised cases (Art. 9(5)), on the test
# clock:
#
#   a court whose rules escalate answer-quick to the president (院长) as well:
#     the escalation reaches the staff member with the president role (and
#     the supervising leader, Art. 20); a court with the same rules and no
#     president on record tells its liaison office on the president's behalf,
#     with the reason, and counts it;
#   a supervised case (人大机关督办案件) opens case-year-end, due Dec 31 of its
#     registration year; its reminder reaches the paired liaison officers
#     (挂点联络员) of its deputies, one notice per distinct officer; a case
#     whose deputy has no paired officer tells the liaison office instead;
#   a case answered, and one closed, before Dec 31 meet it: no reminder, no
#     urging.
#
# Private schemas, ports, clock file and Redis key prefix (tests/deadline/lib.sh).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
source tests/lib/tap.sh
source tests/deadline/lib.sh
dl_require

trap dl_teardown EXIT
dl_setup "dlrcpt_$$" || { echo "not ok 1 - setup"; exit 1; }

did() { q "SELECT id FROM deadline WHERE item_id = '$1' AND rule_id = '$2' AND round = ${3:-1}"; }
hist() { q "SELECT string_agg(kind, ' ' ORDER BY id) FROM deadline_history WHERE deadline_id = '$1'"; }

dl_clock_set "$(dl_epoch '2025-11-20 10:00:00')"
dl_start_upstream
dl_start_daemon
ok "the daemon starts and is ready" wait_for 10 dl_ready

# Two courts with the same override: answer-quick escalates to the president too.
RULES="answer-quick.notify-escalate=president,supervising-leader"
dl_pub intake CourtUpserted court=gz-liwan "rules=$RULES"
dl_pub intake CourtUpserted court=gz-nopres "rules=$RULES"
# gz-liwan: a division, its leader, the president, the liaison office, two officers.
dl_pub intake DepartmentUpserted id=d-civil name=民事审判庭 lead=s-lead
dl_pub intake DepartmentUpserted id=d-lo name=联络办 kind=liaison
dl_pub intake StaffUpserted id=s-lead name=王副院长 mobile=13800000001 roles=court-leader
dl_pub intake StaffUpserted id=s-pres name=陈院长 mobile=13800000009 roles=court-leader,president
dl_pub intake StaffUpserted id=s-off1 name=赵联络员 mobile=13800000011 roles=liaison-officer
dl_pub intake StaffUpserted id=s-off2 name=钱联络员 email=qian@court.example roles=liaison-officer
dl_pub intake DeputyUpserted id=dep-a officer=s-off1
dl_pub intake DeputyUpserted id=dep-b officer=s-off1
# an id with a quote and a backslash: ids are outside input, and travel in array literals
dl_pub intake DeputyUpserted 'id=dep-"c\' officer=s-off2
dl_pub intake DeputyUpserted id=dep-x
# gz-nopres: a division with its leader, a liaison office, nobody with the president role.
dl_pub intake DepartmentUpserted court=gz-nopres id=d-civil2 name=民一庭 lead=s-lead2
dl_pub intake DepartmentUpserted court=gz-nopres id=d-lo2 name=联络办 kind=liaison
dl_pub intake StaffUpserted court=gz-nopres id=s-lead2 name=刘副院长 mobile=13800000002 roles=court-leader

ok "staff roles are projected" \
  waitq "SELECT count(*) FROM staff WHERE 'president' = ANY (roles) AND court_id = 'gz-liwan'" 1
ok "deputies' paired officers are projected" \
  waitq "SELECT string_agg(deputy_id || '=' || liaison_officer_staff_id, ' ' ORDER BY deputy_id COLLATE \"C\") FROM deputy" \
        'dep-"c\=s-off2 dep-a=s-off1 dep-b=s-off1 dep-x='

# Remarks not answered on the spot (Art. 16: three days), one per court.
dl_pub intake ItemRegistered item=R1 kind=remark received=2025-11-20 dept=d-civil
dl_pub intake ItemRegistered court=gz-nopres item=R2 kind=remark received=2025-11-20 dept=d-civil2
# Supervised cases: K1 with three deputies (two share an officer), K2 whose
# deputy has no paired officer, K3 answered and K4 closed before Dec 31.
dl_pub intake ItemRegistered item=K1 kind=case received=2025-11-20 'deputy_ids=dep-a,dep-b,dep-"c\'
dl_pub intake ItemRegistered item=K2 kind=case received=2025-11-20 deputy_ids=dep-x
dl_pub intake ItemRegistered item=K3 kind=case received=2025-11-20
dl_pub intake ItemRegistered item=K4 kind=case received=2025-11-20 deputy_ids=dep-a

ok "a supervised case opens case-year-end, due Dec 31 of its registration year (Art. 9(5))" \
  waitq "SELECT count(*) FROM deadline WHERE rule_id = 'case-year-end' AND trigger_date = '2025-11-20' AND due_date = '2025-12-31' AND stage = 'pending'" 4
ok "its schedule: reminders 30 and 7 days before, due, urgings, escalation" \
  eq "SELECT array_to_string(schedule_kind, ' ') FROM deadline WHERE item_id = 'K1'" \
     "remind:30 remind:7 due urge:1 urge:2 escalate"
ok "the item's deputies are projected" \
  eq "SELECT string_agg(deputy_id, ' ' ORDER BY deputy_id COLLATE \"C\") FROM item_deputy WHERE item_id = 'K1'" 'dep-"c\ dep-a dep-b'
ok "remarks open answer-quick in both courts" \
  waitq "SELECT count(*) FROM deadline WHERE rule_id = 'answer-quick' AND due_date = '2025-11-24'" 2
R1=$(did R1 answer-quick) R2=$(did R2 answer-quick)
K1=$(did K1 case-year-end) K2=$(did K2 case-year-end) K3=$(did K3 case-year-end) K4=$(did K4 case-year-end)

# K3 answered, K4 closed (办结), both before the end of the year.
dl_clock_set "$(dl_epoch '2025-11-25 10:00:00')"
dl_pub routing ReplySent item=K3 date=2025-11-25
dl_pub routing ItemClosed item=K4 date=2025-11-25
ok "a supervised case answered before Dec 31 meets case-year-end, in time" \
  waitq "SELECT stage || ' ' || met_late FROM deadline WHERE id = '$K3'" "met false"
ok "a supervised case closed before Dec 31 meets it too" \
  waitq "SELECT stage || ' ' || met_late FROM deadline WHERE id = '$K4'" "met false"

# The remarks' chains run out: urgings on Nov 25 and 26, escalation on Nov 27.
dl_clock_set "$(dl_epoch '2025-11-27 09:00:30')"
ok "R1 escalates (Art. 20)" waitq "SELECT stage FROM deadline WHERE id = '$R1'" escalated
ok "R2 escalates" waitq "SELECT stage FROM deadline WHERE id = '$R2'" escalated

# December 1st, 09:00: case-year-end's 30-day reminders.
dl_clock_set "$(dl_epoch '2025-12-01 09:00:30')"
ok "K1's reminder fires" waitq "SELECT stage FROM deadline WHERE id = '$K1'" reminded
ok "K2's reminder fires" waitq "SELECT stage FROM deadline WHERE id = '$K2'" reminded
sleep 1.5

dl_dump >"$DL_DIR/events.txt"
n() { grep -c -- "$1" "$DL_DIR/events.txt"; }
notices() { grep -E "NoticeRequested $1 template=$2 " "$DL_DIR/events.txt"; }

ok "R1's escalation reaches the president 陈院长 (s-pres), a court leader, by SMS" \
  test "$(n "NoticeRequested R1 template=deadline.escalate recipient_kind=4 recipient=s-pres channel=1")" = 1
ok "… and the supervising leader (Art. 20)" \
  test "$(n "NoticeRequested R1 template=deadline.escalate recipient_kind=4 recipient=s-lead channel=1")" = 1
ok "… and nobody else: no fallback" test "$(notices R1 deadline.escalate | wc -l)" = 2
ok "R2's court has no president: its liaison office is told on the president's behalf" \
  test "$(n "NoticeRequested R2 template=deadline.escalate recipient_kind=5 recipient=d-lo2 channel=3 for=president")" = 1
ok "… and R2's supervising leader is told as usual" \
  test "$(n "NoticeRequested R2 template=deadline.escalate recipient_kind=4 recipient=s-lead2")" = 1
ok "… and nobody else" test "$(notices R2 deadline.escalate | wc -l)" = 2

ok "K1's reminder reaches officer s-off1 once, though two of its deputies share him (SMS)" \
  test "$(n "NoticeRequested K1 template=deadline.remind recipient_kind=2 recipient=s-off1 channel=1")" = 1
ok "… and officer s-off2 (email)" \
  test "$(n "NoticeRequested K1 template=deadline.remind recipient_kind=2 recipient=s-off2 channel=2")" = 1
ok "… and nobody else (case-year-end reminds the officers only)" \
  test "$(notices K1 deadline.remind | wc -l)" = 2
ok "K2's deputy has no paired officer: the liaison office is told on the officer's behalf" \
  test "$(n "NoticeRequested K2 template=deadline.remind recipient_kind=5 recipient=d-lo channel=3 for=liaison-officer")" = 1
ok "… and nothing is sent to nobody" test "$(notices K2 deadline.remind | wc -l)" = 1
ok "K3 and K4: no reminder, no urging" \
  test "$(grep -cE "^[0-9]+ Deadline(Reminded|Due|Urged|Escalated) K[34] " "$DL_DIR/events.txt")" = 0
ok "K3's history: created, met" eq "SELECT '$(hist "$K3")'" "created met"
ok "K4's history: created, met" eq "SELECT '$(hist "$K4")'" "created met"
ok "every notice's dedup key is its own" \
  test "$(grep NoticeRequested "$DL_DIR/events.txt" | sed 's/.* dedup=//' | sort | uniq -d | wc -l)" = 0

M=$(curl -s "http://127.0.0.1:$DL_HTTP/metrics")
ok "metrics: unresolved president counted" \
  grep -qE '^liaison_deadline_recipient_unresolved_total\{kind="president"\} 1$' <<<"$M"
ok "metrics: unresolved liaison officer counted" \
  grep -qE '^liaison_deadline_recipient_unresolved_total\{kind="liaison-officer"\} 1$' <<<"$M"

# A supervised case reopened (不满意) starts its year-end explanation again.
dl_pub routing ItemReopened item=K3 date=2025-12-02 round=2 dept=d-civil
ok "reopening a supervised case opens case-year-end for round 2" \
  waitq "SELECT due_date || ' ' || stage FROM deadline WHERE item_id = 'K3' AND rule_id = 'case-year-end' AND round = 2" "2025-12-31 pending"
# A deadline of the liaison office itself (transfer, Art. 15: no department
# yet): its escalation reaches the liaison office's own supervising leader.
dl_pub intake DepartmentUpserted court=gz-tr id=d-lo3 name=联络办 kind=liaison lead=s-lolead
dl_pub intake StaffUpserted court=gz-tr id=s-lolead name=孙副院长 mobile=13800000031 roles=court-leader
waitq "SELECT count(*) FROM staff WHERE staff_id = 's-lolead'" 1
dl_pub routing ItemApproved court=gz-tr item=T1 date=2025-12-02
ok "approval opens the transfer deadline" \
  waitq "SELECT count(*) FROM deadline WHERE item_id = 'T1' AND rule_id = 'transfer'" 1
esc=$(q "SELECT schedule_at[array_position(schedule_kind, 'escalate')] / 1000000 FROM deadline WHERE item_id = 'T1' AND rule_id = 'transfer'")
dl_clock_set $((esc + 5))
ok "not transferred in time: urged twice, then escalated" \
  waitq "SELECT stage FROM deadline WHERE item_id = 'T1' AND rule_id = 'transfer'" escalated
dl_dump >"$DL_DIR/events.txt"
ok "the escalation reaches the liaison office's supervising leader (s-lolead)" \
  test "$(n "NoticeRequested T1 template=deadline.escalate recipient_kind=4 recipient=s-lolead channel=1")" = 1
ok "DeadlineEscalated names the liaison office as the department" \
  grep -qE "DeadlineEscalated T1 .*dept=d-lo3 leader=s-lolead" "$DL_DIR/events.txt"

ok "SIGTERM stops it cleanly" dl_stop_daemon TERM
tap_done
