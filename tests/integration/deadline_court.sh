#!/usr/bin/env bash
# Each court's own rules and days in the deadline daemon (DOMAIN.md §4.1,
# §4.2: every number is per-court configuration):
#
#   three courts on the test clock: c-rem overrides the reminders and the
#   urging interval of answer-between, c-rest has its own rest day on
#   2025-09-02, gz-liwan has neither. The same letter, transferred on
#   2025-07-02, is due 2025-09-02 with the default schedule in gz-liwan, on
#   the same day with c-rem's schedule, and on 2025-09-03 in c-rest. A court
#   change reaches the next deadline (not the frozen ones), also after a
#   restart; a bad change is parked and stores nothing; a calendar reload
#   recomputes with the court's days as they stand.
#
# Upstream events come from the test (dl_publish), as in deadline_e2e.sh.
# Private schemas, ports, clock file and Redis key prefix.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
source tests/lib/tap.sh
source tests/deadline/lib.sh
dl_require

trap dl_teardown EXIT
dl_setup "dlcourt_$$" || { echo "not ok 1 - setup"; exit 1; }
cp deploy/calendar/work-calendar.txt "$DL_DIR/calendar.txt"
DL_CALENDAR=$DL_DIR/calendar.txt
dl_write_config

did() { q "SELECT id FROM deadline WHERE item_id = '$1' AND rule_id = '${2:-answer-between}'"; }
# A deadline's stages as kind@MM-DD HH (court-local), in order.
stages() {
  q "SELECT string_agg(u.k || '@' || to_char(to_timestamp(u.a / 1000000.0) AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24'), ' ' ORDER BY u.i)
     FROM deadline d, unnest(d.schedule_kind, d.schedule_at) WITH ORDINALITY AS u(k, a, i)
     WHERE d.id = '$1'"
}
has_stages() { [ "$(stages "$1")" = "$2" ]; }
# A between-session letter of court $1, item $2, approved 07-01 and transferred on ${3:-2025-07-02}.
letter() {
  dl_pub intake ItemRegistered court="$1" item="$2" kind=between received=2025-07-01
  dl_pub routing ItemApproved court="$1" item="$2" date=2025-07-01 dept=d-civil
  dl_pub routing ItemTransferred court="$1" item="$2" date="${3:-2025-07-02}" dept=d-civil
}

DEFAULT="remind:14@08-19 09 remind:7@08-26 09 remind:1@09-01 09 due@09-03 00 urge:1@09-03 09 urge:2@09-10 09 escalate@09-17 09"

dl_clock_set "$(dl_epoch '2025-07-01 10:00:00')"
dl_start_upstream
dl_start_daemon
ok "the daemon starts and is ready" wait_for 10 dl_ready

dl_pub intake CourtUpserted court=gz-liwan name=荔湾法院
dl_pub intake CourtUpserted court=c-rem name=甲法院 \
  rules="answer-between.urge-interval=3;answer-between.reminders=10,3"
dl_pub intake CourtUpserted court=c-rest name=乙法院 calendar=$'# 本院\nrest = 2025-09-02 院庆\n'
ok "CourtUpserted projects each court's overrides" \
  waitq "SELECT string_agg(court_id || ':' || coalesce(rule_overrides->>'answer-between.reminders', '-') || ':' || (calendar_overrides LIKE '%院庆%'), ' ' ORDER BY court_id) FROM court" \
  "c-rem:10,3:false c-rest:-:true gz-liwan:-:false"

letter gz-liwan L1
letter c-rem R1
letter c-rest S1
ok "three answer-between deadlines" \
  waitq "SELECT count(*) FROM deadline WHERE rule_id = 'answer-between'" 3
L1=$(did L1) R1=$(did R1) S1=$(did S1)
ok "gz-liwan keeps the defaults: due 2025-09-02, reminders 14/7/1, urgings a week apart" \
  eq "SELECT due_date FROM deadline WHERE id = '$L1'" 2025-09-02
ok "… its schedule" has_stages "$L1" "$DEFAULT"
ok "c-rem: the same due date" eq "SELECT due_date FROM deadline WHERE id = '$R1'" 2025-09-02
ok "c-rem: its reminders (10, 3 days before) and urging interval (3 days)" \
  has_stages "$R1" "remind:10@08-23 09 remind:3@08-30 09 due@09-03 00 urge:1@09-03 09 urge:2@09-06 09 escalate@09-09 09"
ok "c-rest: its own rest day 2025-09-02 moves the due date to 2025-09-03" \
  eq "SELECT due_date FROM deadline WHERE id = '$S1'" 2025-09-03
ok "… and the explanation says why" \
  eq "SELECT explanation LIKE '%院庆%' FROM deadline WHERE id = '$S1'" t
ok "c-rest keeps the default reminders around its own due date" \
  has_stages "$S1" "remind:14@08-20 09 remind:7@08-27 09 remind:1@09-02 09 due@09-04 00 urge:1@09-04 09 urge:2@09-11 09 escalate@09-18 09"
ok "the transfer deadlines of all three: 2025-07-03 (no override touches them)" \
  eq "SELECT string_agg(DISTINCT due_date::text, ' ') FROM deadline WHERE rule_id = 'transfer'" 2025-07-03
dl_dump >"$DL_DIR/events.txt"
ok "DeadlineCreated names each court's reminder days" \
  sh -c "grep -q 'DeadlineCreated R1 deadline=$R1 rule=answer-between .* remind=10,3\$' '$DL_DIR/events.txt' &&
         grep -q 'DeadlineCreated L1 deadline=$L1 rule=answer-between .* remind=14,7,1\$' '$DL_DIR/events.txt'"

# A change reaches the next deadline; those opened before keep their frozen schedule.
dl_pub intake CourtUpserted court=c-rem rev=2 name=甲法院 rules="answer-between.reminders=5"
dl_pub intake CourtUpserted court=c-rest rev=2 name=乙法院
waitq "SELECT string_agg(revision::text, ' ' ORDER BY court_id) FROM court WHERE court_id <> 'gz-liwan'" "2 2"
letter c-rem R2
letter c-rest S2
ok "after the change: c-rem's next deadline has reminder 5 and the default interval" \
  wait_for 15 has_stages "$(did R2)" "remind:5@08-28 09 due@09-03 00 urge:1@09-03 09 urge:2@09-10 09 escalate@09-17 09"
S2=$(did S2)
ok "after the change: c-rest without its own day is due 2025-09-02" \
  waitq "SELECT due_date FROM deadline WHERE id = '$S2'" 2025-09-02
ok "deadlines opened before keep theirs: S1 still due 2025-09-03" \
  eq "SELECT due_date FROM deadline WHERE id = '$S1'" 2025-09-03
ok "… R1 its schedule" has_stages "$R1" "remind:10@08-23 09 remind:3@08-30 09 due@09-03 00 urge:1@09-03 09 urge:2@09-06 09 escalate@09-09 09"

# Bad overrides on the bus are parked; the court keeps what it had.
dl_pub intake CourtUpserted court=c-rem rev=3 name=甲法院 rules="answer-between.unit=fortnights"
dl_pub intake CourtUpserted court=c-rest rev=3 name=乙法院 calendar=$'rest = 2025-02-30 x\n'
ok "bad rule and calendar overrides are parked with the reason" \
  waitq "SELECT count(*) FROM bus_dead_letter WHERE type = 'liaison.v1.CourtUpserted' AND (reason LIKE '%rule_overrides.answer-between.unit%' OR reason LIKE '%calendar_overrides%')" 2
ok "… and the courts keep revision 2" \
  eq "SELECT string_agg(revision::text, ' ' ORDER BY court_id) FROM court WHERE court_id <> 'gz-liwan'" "2 2"

# Restarted, the daemon reads the courts' overrides from its projection.
dl_stop_daemon KILL
dl_start_daemon
ok "restarted after kill -9" wait_for 10 dl_ready
letter c-rem R3
ok "after a restart c-rem's overrides still apply" \
  wait_for 15 has_stages "$(did R3)" "remind:5@08-28 09 due@09-03 00 urge:1@09-03 09 urge:2@09-10 09 escalate@09-17 09"
letter gz-liwan L2
ok "… and gz-liwan's defaults" wait_for 15 has_stages "$(did L2)" "$DEFAULT"

# The court takes its rest day back; a calendar reload recomputes with it.
dl_pub intake CourtUpserted court=c-rest rev=4 name=乙法院 calendar=$'rest = 2025-09-02 院庆\n'
waitq "SELECT revision FROM court WHERE court_id = 'c-rest'" 4
kill -HUP "$DL_PID"
ok "SIGHUP: c-rest's pending deadline moves to its own next working day" \
  waitq "SELECT due_date FROM deadline WHERE id = '$S2'" 2025-09-03
ok "… recorded as recomputed, and nothing else changed" \
  eq "SELECT string_agg(d.item_id, ' ') FROM deadline_history h JOIN deadline d ON d.id = h.deadline_id WHERE h.kind = 'recomputed'" S2
ok "gz-liwan and c-rem are where they were" \
  eq "SELECT string_agg(due_date::text, ' ' ORDER BY item_id) FROM deadline WHERE rule_id = 'answer-between' AND item_id IN ('L1', 'L2', 'R1', 'R2', 'R3')" \
  "2025-09-02 2025-09-02 2025-09-02 2025-09-02 2025-09-02"

# Whom a stage tells is the court's too, read when the stage fires: c-rem
# now sends its reminders to the liaison office (the default: the department).
dl_pub intake CourtUpserted court=c-rem rev=5 name=甲法院 \
  rules="answer-between.reminders=5;answer-between.notify-reminder=liaison-office"
waitq "SELECT revision FROM court WHERE court_id = 'c-rem'" 5
R2=$(did R2)
dl_clock_set "$(dl_epoch '2025-08-28 09:00:05')"
ok "R2's reminder (08-28) and L1's (08-19, 08-26) fire" \
  waitq "SELECT count(*) FROM deadline_history WHERE kind LIKE 'remind:%' AND deadline_id IN ('$R2', '$L1')" 3
dl_dump >"$DL_DIR/events2.txt"
ok "c-rem's reminder goes to the liaison office only" \
  sh -c "grep 'NoticeRequested R2 template=deadline.remind' '$DL_DIR/events2.txt' | grep -q 'recipient_kind=5' &&
         ! grep 'NoticeRequested R2 template=deadline.remind' '$DL_DIR/events2.txt' | grep -qv 'recipient_kind=5'"
ok "gz-liwan's reminders go to the department, as by default" \
  sh -c "test \"\$(grep -c 'NoticeRequested L1 template=deadline.remind recipient_kind=3 recipient=d-civil' '$DL_DIR/events2.txt')\" = 2"

ok "SIGTERM stops it cleanly" dl_stop_daemon TERM
tap_done
