#!/usr/bin/env bash
# The deadline daemon end to end on the test clock (issue 7):
#
#   a between-session letter is registered, approved and transferred; the
#   clock moves past its two-month due date (2025-09-02) and then past each
#   urging interval → exactly one urging 1, one urging 2 and one escalation to
#   the department's supervising leader, in that order; an item answered, and
#   one closed, between the urgings stop their chains; a reopened item gets a
#   new round and keeps its history; a joint item is met by its last reply;
#   the daemon killed with -9 in the middle resumes without firing twice; a
#   new year's calendar notice recomputes a provisional due date (SIGHUP);
#   the HTTP views and `liaisonctl deadline` / `liaisonctl clock` answer.
#
# The upstream events are published by the test itself into scratch intake
# and routing outboxes that tests/bus's bus_producer serves over the bus
# (the real intake and routing daemons publish the same proto messages).
# Private schemas, ports, clock file and Redis key prefix; nothing shared is
# touched.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
source tests/lib/tap.sh
source tests/deadline/lib.sh
dl_require

trap dl_teardown EXIT
DL_CALENDAR=$ROOT/$B/dle2e_$$.calendar.txt
cp deploy/calendar/work-calendar.txt "$DL_CALENDAR"
dl_setup "dle2e_$$" || { echo "not ok 1 - setup"; exit 1; }
mv "$DL_CALENDAR" "$DL_DIR/calendar.txt"
DL_CALENDAR=$DL_DIR/calendar.txt
dl_write_config

# A's deadline id by item and rule.
did() { q "SELECT id FROM deadline WHERE item_id = '$1' AND rule_id = '$2' AND round = ${3:-1}"; }
kinds() { q "SELECT string_agg(kind, ' ' ORDER BY id) FROM deadline_history WHERE deadline_id = '$1'"; }

dl_clock_set "$(dl_epoch '2025-07-01 10:00:00')"
dl_start_upstream
dl_start_daemon
ok "the daemon starts and is ready" wait_for 10 dl_ready

# The directory: the civil division, its supervising leader and head, the liaison office.
dl_pub intake DepartmentUpserted id=d-civil name=民事审判庭 lead=s-lead head=s-head
dl_pub intake DepartmentUpserted id=d-lo name=联络办 kind=liaison
dl_pub intake StaffUpserted id=s-lead name=王副院长 mobile=13800000001
dl_pub intake StaffUpserted id=s-head name=李庭长 email=li@court.example
dl_pub intake TokenIssued token=tok-operator role=operator
dl_pub intake TokenIssued token=tok-other court=gz-other role=liaison_office

# Items A, B, D, F: between-session letters; C: answered in time, then reopened.
for it in A B C D; do
  dl_pub intake ItemRegistered item=$it kind=between received=2025-07-01 "regnum=荔法联〔2025〕$it号"
done
dl_pub intake ItemRegistered item=F kind=between received=2025-07-01 deputies=2
for it in A B C D F; do
  dl_pub routing ItemApproved item=$it date=2025-07-01 dept=d-civil
done
ok "approval opens the transfer deadline (Art. 15: two days)" \
  waitq "SELECT count(*) FROM deadline WHERE rule_id = 'transfer' AND due_date = '2025-07-03'" 5
for it in A B C D F; do
  dl_pub routing ItemTransferred item=$it date=2025-07-02 dept=d-civil
done
ok "transfer meets the transfer deadline" \
  waitq "SELECT count(*) FROM deadline WHERE rule_id = 'transfer' AND stage = 'met' AND NOT met_late" 5
ok "transfer opens answer-between: two months, due 2025-09-02 (Art. 15)" \
  waitq "SELECT count(*) FROM deadline WHERE rule_id = 'answer-between' AND due_date = '2025-09-02' AND department_id = 'd-civil' AND stage = 'pending'" 5
A=$(did A answer-between) B_=$(did B answer-between) C1=$(did C answer-between) D_=$(did D answer-between)
F_=$(did F answer-between)
ok "the schedule: three reminders, due, two urgings, one escalation" \
  eq "SELECT array_to_string(schedule_kind, ' ') FROM deadline WHERE id = '$A'" \
     "remind:14 remind:7 remind:1 due urge:1 urge:2 escalate"
ok "the explanation names the rule, the article and the calendar" \
  eq "SELECT explanation LIKE '%answer-between%' AND explanation LIKE '%Art. 15%' AND calendar_version = '2025-11-04' FROM deadline WHERE id = '$A'" t

# C is answered in time, closed, then reopened (不满意 → 重新办理) in round 2.
dl_clock_set "$(dl_epoch '2025-08-01 10:00:00')"
dl_pub routing ReplySent item=C date=2025-08-01
dl_pub routing ItemClosed item=C date=2025-08-02
ok "a reply in time meets the answer deadline, not late" \
  waitq "SELECT stage || ' ' || met_late FROM deadline WHERE id = '$C1'" "met false"
dl_clock_set "$(dl_epoch '2025-08-05 10:00:00')"
dl_pub routing ItemReopened item=C date=2025-08-05 round=2 dept=d-civil
ok "reopening opens rehandle in round 2" \
  waitq "SELECT count(*) FROM deadline WHERE item_id = 'C' AND rule_id = 'rehandle' AND round = 2 AND stage = 'pending'" 1
ok "round 1 keeps its row and history" \
  eq "SELECT stage FROM deadline WHERE id = '$C1'" met
ok "round 1's history: created, met" eq "SELECT string_agg(kind, ' ' ORDER BY id) FROM deadline_history WHERE deadline_id = '$C1'" "created met"

# F is a joint item of two deputies: one reply does not meet it.
dl_pub routing ReplySent item=F date=2025-08-05 deputy=dep-1
sleep 1
ok "a joint item is not met by its first reply (Art. 14: each deputy)" \
  eq "SELECT stage FROM deadline WHERE id = '$F_'" pending
dl_pub routing ReplySent item=F date=2025-08-06 deputy=dep-2
ok "… and is met by its last" waitq "SELECT stage FROM deadline WHERE id = '$F_'" met

# Past the due date: reminders then due, in order.
dl_clock_set "$(dl_epoch '2025-09-03 00:00:30')"
ok "past 2025-09-02 24:00 the deadline is due" waitq "SELECT stage FROM deadline WHERE id = '$A'" due
ok "reminders 14, 7, 1 days before, then due, each once" \
  eq "SELECT string_agg(kind, ' ' ORDER BY id) FROM deadline_history WHERE deadline_id = '$A'" \
     "created remind:14 remind:7 remind:1 due"

# Urging 1 the next morning (09:00 court-local).
dl_clock_set "$(dl_epoch '2025-09-03 09:00:30')"
ok "urging 1 on 2025-09-03" waitq "SELECT stage || urge_count FROM deadline WHERE id = '$A'" urged1
waitq "SELECT count(*) FROM deadline WHERE id IN ('$B_', '$D_') AND stage = 'urged'" 2
# B answered and D closed between the urgings.
dl_pub routing ReplySent item=B date=2025-09-04
dl_pub routing ItemClosed item=D date=2025-09-04
ok "an answer between urgings meets the deadline (late)" \
  waitq "SELECT stage || ' ' || met_late FROM deadline WHERE id = '$B_'" "met true"
ok "closing the item between urgings cancels it" \
  waitq "SELECT stage FROM deadline WHERE id = '$D_'" cancelled

# Killed with -9 between urgings: resumes from PostgreSQL.
dl_stop_daemon KILL
dl_start_daemon
ok "restarted after kill -9" wait_for 10 dl_ready

dl_clock_set "$(dl_epoch '2025-09-10 09:00:30')"
ok "urging 2 on 2025-09-10 (interval 7 days)" waitq "SELECT stage || urge_count FROM deadline WHERE id = '$A'" urged2
dl_clock_set "$(dl_epoch '2025-09-17 09:00:30')"
ok "escalation on 2025-09-17 to the supervising leader (Art. 20)" \
  waitq "SELECT stage || ' ' || supervising_leader_id FROM deadline WHERE id = '$A'" "escalated s-lead"
dl_clock_set "$(dl_epoch '2025-12-01 10:00:00')"
sleep 2.5

ok "A: every stage exactly once, in order" \
  eq "SELECT string_agg(kind, ' ' ORDER BY id) FROM deadline_history WHERE deadline_id = '$A'" \
     "created remind:14 remind:7 remind:1 due urge:1 urge:2 escalate"
ok "B: the chain stopped at its answer" \
  eq "SELECT string_agg(kind, ' ' ORDER BY id) FROM deadline_history WHERE deadline_id = '$B_'" \
     "created remind:14 remind:7 remind:1 due urge:1 met"
ok "D: the chain stopped at closing" \
  eq "SELECT string_agg(kind, ' ' ORDER BY id) FROM deadline_history WHERE deadline_id = '$D_'" \
     "created remind:14 remind:7 remind:1 due urge:1 cancelled"
ok "nothing left to fire for A, B, D" \
  eq "SELECT count(*) FROM deadline WHERE id IN ('$A', '$B_', '$D_') AND next_fire_at IS NOT NULL" 0

# The published events, decoded from the deadline stream.
dl_dump >"$DL_DIR/events.txt"
ev() { grep -c -- "$1" "$DL_DIR/events.txt"; }
ok "one DeadlineUrged 1 for A" eq "SELECT $(ev "DeadlineUrged A deadline=$A stage=URGED_1 urge=1 dept=d-civil")" 1
ok "one DeadlineUrged 2 for A" eq "SELECT $(ev "DeadlineUrged A deadline=$A stage=URGED_2 urge=2")" 1
ok "one DeadlineEscalated for A, to 王副院长 (s-lead)" \
  eq "SELECT $(ev "DeadlineEscalated A deadline=$A stage=ESCALATED urges=2 dept=d-civil leader=s-lead leader_name=王副院长")" 1
order=$(grep -E "(DeadlineDue|DeadlineUrged|DeadlineEscalated) A deadline=$A" "$DL_DIR/events.txt" | awk '{print $2}' | tr '\n' ' ')
ok "A's events in stream order: due, urged, urged, escalated" \
  test "$order" = "DeadlineDue DeadlineUrged DeadlineUrged DeadlineEscalated "
ok "the escalation's notice goes to the supervising leader by SMS" \
  grep -q "NoticeRequested A template=deadline.escalate recipient_kind=4 recipient=s-lead channel=1" "$DL_DIR/events.txt"
ok "urgings tell the department, its head and the liaison office" \
  test "$(grep -c 'NoticeRequested A template=deadline.urge' "$DL_DIR/events.txt")" = 6
ok "no urging 2 or escalation for B or D" \
  test "$(grep -E "(URGED_2|ESCALATED).*deadline=($B_|$D_)" "$DL_DIR/events.txt" | wc -l)" = 0
ok "B met late, D cancelled as closed" \
  test "$(grep -cE "DeadlineMet B deadline=$B_ late=1|DeadlineCancelled D deadline=$D_ reason=1" "$DL_DIR/events.txt")" = 2
ok "no stage event twice in the stream" \
  test "$(grep -E '^[0-9]+ Deadline(Reminded|Due|Urged|Escalated) ' "$DL_DIR/events.txt" | awk '{print $4, $5, $6}' | sort | uniq -d | wc -l)" = 0
ok "every event sequenced" eq "SELECT count(*) FROM bus_outbox WHERE seq IS NULL" 0

# The views.
H="http://127.0.0.1:$DL_HTTP"
ok "GET /v1/deadlines without a token: 401" is_code 401 "$H/v1/deadlines"
ok "overdue list names A" \
  sh -c "curl -sf -H 'Authorization: Bearer tok-operator' '$H/v1/deadlines?overdue=true' | grep -q '$A'"
ok "another court's token sees none of gz-liwan" \
  sh -c "curl -s -H 'Authorization: Bearer tok-other' '$H/v1/deadlines' | grep -qx '\\[\\]'"
ok "explain: explanation, schedule and history" \
  sh -c "curl -sf -H 'Authorization: Bearer tok-operator' '$H/v1/deadlines/$A' | grep -q '\"history\"'"
cat >"$DL_DIR/liaisonctl.conf" <<CONF
[liaisonctl]
deadline = $H
token_file = $DL_DIR/token
clock_file = $DL_CLOCK
CONF
printf 'tok-operator\n' >"$DL_DIR/token"
export LIAISON_CONFIG=$DL_DIR/liaisonctl.conf
CTL=$B/bin/liaisonctl
if "$CTL" deadline --help >/dev/null 2>&1; then
  ok "liaisonctl deadline list --overdue --item A" sh -c "'$CTL' deadline list --overdue --item A | grep -q escalated"
  ok "liaisonctl deadline list --json" sh -c "'$CTL' deadline list --department d-civil --json | grep -q '\"rule_id\"'"
  ok "liaisonctl deadline explain" sh -c "'$CTL' deadline explain '$A' | grep -q 'urge:2'"
  ok "liaisonctl clock show" sh -c "'$CTL' clock show | grep -q 2025-12-01"
  ok "liaisonctl clock advance 1d" sh -c "'$CTL' clock advance 1d && '$CTL' clock show | grep -q 2025-12-02"
fi

# A new year's notice: a due date in 2027 is provisional until it is loaded.
dl_pub intake ItemRegistered item=G kind=between received=2026-12-10
dl_pub routing ItemApproved item=G date=2026-12-10 dept=d-civil
dl_pub routing ItemTransferred item=G date=2026-12-15 dept=d-civil
ok "a due date in an unknown year is provisional" \
  waitq "SELECT due_date || ' ' || provisional FROM deadline WHERE item_id = 'G' AND rule_id = 'answer-between'" "2027-02-15 true"
cat >>"$DL_CALENDAR" <<'CAL'

# A test fixture, not the State Council's notice: one rest day on the due date.
[year 2027]
notice = 测试用通知（非真实）
rest = 2027-02-15 测试休息日
CAL
kill -HUP "$DL_PID"
ok "SIGHUP: the notice recomputes it (rolled to the next working day, no longer provisional)" \
  waitq "SELECT due_date || ' ' || provisional FROM deadline WHERE item_id = 'G' AND rule_id = 'answer-between'" "2027-02-16 false"
G=$(did G answer-between)
ok "… and records it as DeadlineRecomputed" \
  sh -c "'$ROOT/$B/tests/dl_publish' --conninfo \"$DL_DSN_D\" dump | grep -q 'DeadlineRecomputed G deadline=$G detail=\"due 2027-02-15 (provisional) → 2027-02-16\" provisional=0'"
ok "only the deadline the notice changes is recomputed" eq "SELECT count(*) FROM deadline_history WHERE kind = 'recomputed'" 1

ok "metrics: lateness histogram and gauges" \
  sh -c "curl -s '$H/metrics' | grep -q '^liaison_deadline_lateness_seconds_count' && curl -s '$H/metrics' | grep -q '^liaison_deadline_overdue'"
ok "SIGTERM stops it cleanly" dl_stop_daemon TERM
tap_done
