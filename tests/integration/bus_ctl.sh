#!/usr/bin/env bash
# liaisonctl bus against the database alone (no daemon): status shows each
# stream's head and each consumer's position, lag, dead letters and the age
# of the oldest event it has not applied; dead-letters lists what is parked;
# replay marks one for the consumer to apply again, and refuses what is not
# parked. Two scratch schemas, a producer and a consumer. TAP.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
source tests/lib/tap.sh
B=${B:-build}
[ -n "${LIAISON_PG_ADMIN_DSN:-}" ] || skip_all "no database (scripts/services up)"
CTL=$ROOT/$B/bin/liaisonctl
P=busctl_p_$$ C=busctl_c_$$ S=busctl$$
DIR=$(mktemp -d "${TMPDIR:-/tmp}/busctl.XXXXXX")
sql() { psql -X -q -v ON_ERROR_STOP=1 -tA "$LIAISON_PG_ADMIN_DSN" "$@"; }
cleanup() {
  sql -c "SET client_min_messages = warning" -c "DROP SCHEMA IF EXISTS $P CASCADE" \
    -c "DROP SCHEMA IF EXISTS $C CASCADE" >/dev/null 2>&1
  rm -rf "$DIR"
}
trap cleanup EXIT
for s in $P $C; do
  sql -c "SET client_min_messages = warning" -c "CREATE SCHEMA $s" -c "SET search_path = $s" \
    -f deploy/sql/_bus/001_bus.sql >/dev/null || { echo "not ok 1 - scratch schemas"; exit 1; }
done
# 10 events sequenced on stream $S, the first a minute ago; the consumer has
# applied 4 and parked one.
sql -c "SET search_path = $P" -c "
  INSERT INTO bus_outbox (stream, seq, event_id, type, envelope, sequenced_at)
  SELECT '$S', i, gen_random_uuid(), 'liaison.v1.Test', '\\x00', now() - (70 - i) * interval '1 second'
  FROM generate_series(1, 10) i;
  INSERT INTO bus_stream_head (stream, head) VALUES ('$S', 10);" >/dev/null
sql -c "SET search_path = $C" -c "
  INSERT INTO bus_consumer_position (consumer, stream, position) VALUES ('tester', '$S', 4);
  INSERT INTO bus_dead_letter (consumer, stream, seq, type, reason, envelope)
  VALUES ('tester', '$S', 3, 'liaison.v1.Test', 'payload does not decode', '\\x00');" >/dev/null
export LIAISON_PG_DSN=$LIAISON_PG_ADMIN_DSN

"$CTL" bus status --json >"$DIR/status.json"; rc=$?
ok "bus status --json: exit 0" test "$rc" = 0
row() { jq -e --arg s "$S" ".[] | select(.stream == \$s) | $1" "$DIR/status.json" >/dev/null; }
ok "… the stream's head (10) from its producer's schema" row ".head == 10 and .producer_schema == \"$P\""
ok "… the consumer's position 4 and lag 6" row ".consumer == \"tester\" and .position == 4 and .lag == 6"
ok "… one dead letter" row ".dead_letters == 1"
ok "… the oldest unapplied event (seq 5) sequenced about 65 s ago" \
  row ".oldest_unapplied_seconds >= 64 and .oldest_unapplied_seconds <= 90"
"$CTL" bus status >"$DIR/status.txt"
ok "bus status, a table with the oldest age" \
  bash -c "grep -E '^$S +$P +10 +tester +4 +6 +1 +[0-9]+s\$' '$DIR/status.txt'"

sql -c "UPDATE $C.bus_consumer_position SET position = 10 WHERE stream = '$S'" >/dev/null
"$CTL" bus status --json >"$DIR/status.json"
ok "caught up: lag 0 and no oldest unapplied event" row ".lag == 0 and .oldest_unapplied_seconds == null"

"$CTL" bus dead-letters --schema "$C" --json >"$DIR/dead.json"
ok "bus dead-letters lists the parked one with its reason" \
  jq -e '.[0].status == "parked" and .[0].seq == 3 and (.[0].reason | test("decode"))' "$DIR/dead.json"
id=$(jq -r '.[0].id' "$DIR/dead.json")
ok "bus replay queues it" bash -c "'$CTL' bus replay --schema '$C' '$id' | grep -q 'queued for replay'"
ok "… its status is replay" test "$(sql -c "SELECT status FROM $C.bus_dead_letter WHERE id = $id")" = replay
"$CTL" bus replay --schema "$C" 999999 >/dev/null 2>&1; rc=$?
ok "replay of no such dead letter: refused, exit 3" test "$rc" = 3
"$CTL" bus replay --schema "$C" x >/dev/null 2>&1; rc=$?
ok "replay of a bad id: usage, exit 2" test "$rc" = 2
tap_done
