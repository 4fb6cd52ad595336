#!/usr/bin/env bash
# liaison-routing killed with SIGKILL in the middle of the work resumes
# where it was: no step lost, none repeated. (1) killed between two steps of
# a scenario, with items registered while it is down; (2) killed in the
# middle of a burst of commands, which clients then retry with their
# Idempotency-Keys. Checked against routing's tables and stream: one history
# step and one event per command, gapless stream positions, every item
# projected once. TAP.
source "$(dirname "$0")/routing_lib.bash"
routing_setup kill || { echo "not ok 1 - start intake and routing"; exit 1; }

register between-sessions "关于庭审直播的建议" "d001"
K=$ITEM
step "before the crash: proposed" "$T_OFFICE" $K propose '{"opinion":"拟交民一庭","assignments":[{"department":"m1","role":"lead"}]}' awaiting-approval
step "before the crash: approved" "$T_LEADER2" $K approve '' approved

kill -KILL "$R_PID"; wait "$R_PID" 2>/dev/null
ok "routing killed (-9)" bash -c "! kill -0 $R_PID 2>/dev/null"
# intake goes on: two items registered while routing is down
register between-sessions "停机期间登记一" "d002" || true
D1=$ITEM
register between-sessions "停机期间登记二" "d003" || true
D2=$ITEM
ok "routing restarts" routing_start
ok "the approved item is still approved" test "$(item_state $K)" = approved
wait_for 15 bash -c "[ \"\$(psql -X -qtA \"$LIAISON_PG_ADMIN_DSN\" -c \"SELECT count(*) FROM $R_SCHEMA.item WHERE item_id IN ('$D1', '$D2')\")\" = 2 ]"
ok "items registered while it was down are projected" test "$(sql "SELECT count(*) FROM $R_SCHEMA.item WHERE item_id IN ('$D1', '$D2')")" = 2
ok "... each once, with one registration step" test "$(sql "SELECT count(*) FROM $R_SCHEMA.history WHERE item_id IN ('$D1', '$D2')")" = 2
step "after the restart: transferred" "$T_OFFICE" $K transfer '' transferred
step "after the restart: drafted" "$T_M1" $K draft-reply '{"category":"A","text":"已采纳"}' reply-drafted
ok "the scenario's events: none lost, none repeated" test "$(outbox_types $K)" = "HandlingPlanProposed ItemApproved ItemTransferred HandlingStarted ReplyDrafted"

# ---- a burst of commands, killed in the middle, retried with their keys ------------
N=200
ids=()
for i in $(seq 1 $N); do
  NOWAIT=1 register between-sessions "突发$i" "d00$((i % 8 + 1))" || true
  ids+=("$ITEM")
done
wait_for 30 bash -c "[ \"\$(psql -X -qtA \"$LIAISON_PG_ADMIN_DSN\" -c \"SELECT count(*) FROM $R_SCHEMA.item\")\" = \"\$(psql -X -qtA \"$LIAISON_PG_ADMIN_DSN\" -c \"SELECT count(*) FROM $INTAKE_SCHEMA.item\")\" ]"
ok "$N items registered for the burst" test "${#ids[@]}" = $N
burst() { # burst → results in $R_DIR/burst.N
  local i=0
  for id in "${ids[@]}"; do
    i=$((i + 1))
    curl -s -m 10 -o "$R_DIR/burst.$i" -w '%{http_code}\n' -X POST -H "Authorization: Bearer $T_OFFICE" \
      -H 'Content-Type: application/json' -H "Idempotency-Key: burst-$id" \
      --data-binary '{"opinion":"拟交民二庭","assignments":[{"department":"m2","role":"lead"}]}' \
      "$R_URL/v1/courts/$COURT/items/$id/propose" >"$R_DIR/burst.$i.code" 2>/dev/null &
  done
}
burst &
BURST=$!
# kill as soon as the first answers are back: the rest are still being sent,
# queued, in flight, or committed without their answer having left
for _ in $(seq 1 2000); do
  [ -s "$R_DIR/burst.60.code" ] && break
  sleep 0.002
done
kill -KILL "$R_PID"; wait "$R_PID" 2>/dev/null
wait "$BURST"
wait
answered=$(cat "$R_DIR"/burst.*.code 2>/dev/null | grep -c '^200$')
committed=$(sql "SELECT count(*) FROM $R_SCHEMA.history WHERE action = 'propose' AND item_id IN ($(printf "'%s'," "${ids[@]}" | sed 's/,$//'))")
echo "# before the kill: $answered of $N answered, $committed committed"
ok "the kill fell in the middle of the burst" test "$committed" -ge 1 -a "$committed" -lt $N
ok "routing restarts after the burst" routing_start
# every client retries with its key: those that committed get their first answer
fails=0 replayed=0
for id in "${ids[@]}"; do
  act "$T_OFFICE" "$id" propose '{"opinion":"拟交民二庭","assignments":[{"department":"m2","role":"lead"}]}' "burst-$id"
  [ "$CODE" = 200 ] && [ "$(jq -r .state <<<"$BODY")" = awaiting-approval ] || fails=$((fails + 1))
done
ok "every retried command answers 200, awaiting approval" test "$fails" = 0
ok "each item has exactly one propose step" test "$(sql "SELECT count(*) FROM (SELECT item_id FROM $R_SCHEMA.history WHERE action = 'propose' AND item_id IN ($(printf "'%s'," "${ids[@]}" | sed 's/,$//')) GROUP BY item_id HAVING count(*) = 1) x")" = $N
ok "... and exactly one HandlingPlanProposed event" test "$(sql "SELECT count(*) FROM $R_SCHEMA.bus_outbox o JOIN $R_SCHEMA.history h ON h.event_id = o.event_id WHERE h.action = 'propose' AND h.item_id IN ($(printf "'%s'," "${ids[@]}" | sed 's/,$//'))")" = $N
wait_for 10 bash -c "[ \"\$(psql -X -qtA \"$LIAISON_PG_ADMIN_DSN\" -c \"SELECT count(*) FROM $R_SCHEMA.bus_outbox WHERE seq IS NULL\")\" = 0 ]"
ok "every committed event is sequenced after the restart" test "$(sql "SELECT count(*) FROM $R_SCHEMA.bus_outbox WHERE seq IS NULL")" = 0
ok "stream positions are gapless 1..head" test "$(sql "SELECT max(seq) = count(*) AND min(seq) = 1 FROM $R_SCHEMA.bus_outbox")" = t
ok "every history step of every item is numbered without a gap" test "$(sql "SELECT count(*) FROM (SELECT item_id FROM $R_SCHEMA.history GROUP BY item_id HAVING max(n) <> count(*)) x")" = 0
ok "every event has its history step and every step after registration its event" test "$(sql "SELECT (SELECT count(*) FROM $R_SCHEMA.bus_outbox) = (SELECT count(*) FROM $R_SCHEMA.history WHERE action <> 'register')")" = t
ok "the consumer did not skip or repeat intake's events" test "$(sql "SELECT count(*) FROM $R_SCHEMA.item")" = "$(sql "SELECT count(*) FROM $INTAKE_SCHEMA.item")"
step "the scenario goes on after both crashes" "$T_LEADER2" $K approve-reply '' reply-approved
tap_done
