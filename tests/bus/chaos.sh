#!/usr/bin/env bash
# make chaos-bus: a producer daemon and a consumer daemon under a steady load;
# each is killed with SIGKILL at random moments (at least 10 times each) and
# PostgreSQL is restarted once; then the load stops, the stream drains, and
# the database must show every committed event applied exactly once, in
# order. Last line: events=N lost=0 duplicated=0 reordered=0 (exit 1 if not).
#
# Schemas chaos_bus_p (producer) and chaos_bus_c (consumer) in the local
# database, re-created each run. Bounded: about 100 s of load, 3 min in all.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
B=${B:-build}
source var/services.env
RATE=${CHAOS_RATE:-450}
KILLS=${CHAOS_KILLS:-11}
# below the kernel's ephemeral range (32768-), where no outgoing connection
# can hold it
PORT=${CHAOS_PORT:-$((20000 + RANDOM % 12000))}
EP=tcp://127.0.0.1:$PORT
LOG=$ROOT/$B/chaos-bus
mkdir -p "$LOG"
ADMIN=$LIAISON_PG_ADMIN_DSN
PDSN="$ADMIN options='-c search_path=chaos_bus_p'"
CDSN="$ADMIN options='-c search_path=chaos_bus_c'"
SQL() { psql "$ADMIN" -X -q -v ON_ERROR_STOP=1 -At "$@"; }

SQL -c "SET client_min_messages = warning" \
    -c "DROP SCHEMA IF EXISTS chaos_bus_p CASCADE" -c "DROP SCHEMA IF EXISTS chaos_bus_c CASCADE" \
    -c "CREATE SCHEMA chaos_bus_p" -c "CREATE SCHEMA chaos_bus_c" || exit 1
for s in chaos_bus_p chaos_bus_c; do
  for f in deploy/sql/_bus/*.sql; do
    SQL -c "SET search_path = $s" -f "$f" >/dev/null || exit 1
  done
done
SQL -c "CREATE TABLE chaos_bus_p.chaos_produced (event_id uuid PRIMARY KEY, payload text NOT NULL UNIQUE)" \
    -c "CREATE TABLE chaos_bus_c.chaos_applied (n bigserial PRIMARY KEY, seq bigint NOT NULL, event_id uuid NOT NULL, payload text NOT NULL, applied_at timestamptz NOT NULL DEFAULT clock_timestamp())" || exit 1

PRODUCER=; CONSUMER=
start_producer() { "$B/tests/bus_producer" --conninfo "$PDSN" --endpoint "$EP" --rate "${1:-$RATE}" >>"$LOG/producer.log" 2>&1 & PRODUCER=$!; }
start_consumer() { "$B/tests/bus_consumer" --conninfo "$CDSN" --endpoint "$EP" >>"$LOG/consumer.log" 2>&1 & CONSUMER=$!; }
cleanup() {
  [ -n "$PRODUCER" ] && kill -9 "$PRODUCER" 2>/dev/null
  [ -n "$CONSUMER" ] && kill -9 "$CONSUMER" 2>/dev/null
  wait 2>/dev/null
}
trap cleanup EXIT
: >"$LOG/producer.log"; : >"$LOG/consumer.log"

start_producer; start_consumer
rnd() { # rnd MIN_MS MAX_MS -> seconds
  awk -v a="$1" -v b="$2" -v r="$RANDOM" 'BEGIN { printf "%.3f", (a + (b - a) * r / 32767) / 1000 }'
}
pk=0 ck=0 pg_restarted=0
start=$SECONDS
for ((i = 0; i < 2 * KILLS; i++)); do
  sleep "$(rnd 1500 4000)"
  if ((i % 2 == 0)); then
    kill -9 "$PRODUCER"; wait "$PRODUCER" 2>/dev/null; pk=$((pk + 1))
    sleep "$(rnd 100 800)"; start_producer
  else
    kill -9 "$CONSUMER"; wait "$CONSUMER" 2>/dev/null; ck=$((ck + 1))
    sleep "$(rnd 100 800)"; start_consumer
  fi
  if ((i == KILLS)); then
    echo "chaos: restarting PostgreSQL"
    scripts/services pg-stop >/dev/null 2>&1
    sleep 1
    scripts/services pg-start >/dev/null 2>&1 && pg_restarted=1
  fi
  echo "chaos: $((SECONDS - start))s producer kills=$pk consumer kills=$ck produced=$(SQL -c 'SELECT count(*) FROM chaos_bus_p.chaos_produced' 2>/dev/null)"
done
# Keep loading until the minimum is reached (bounded).
MIN=${CHAOS_MIN_EVENTS:-20000}
while (( $(SQL -c 'SELECT count(*) FROM chaos_bus_p.chaos_produced') < MIN && SECONDS - start < 150 )); do sleep 1; done

# Stop the load; a producer without load keeps sequencing and serving.
kill -TERM "$PRODUCER"; wait "$PRODUCER" 2>/dev/null
start_producer 0
echo "chaos: draining"
for ((t = 0; t < 60; t++)); do
  state=$(SQL -c "SELECT (SELECT count(*) FROM chaos_bus_p.bus_outbox WHERE seq IS NULL) || ' ' ||
                         (SELECT head FROM chaos_bus_p.bus_stream_head WHERE stream = 'chaos') || ' ' ||
                         coalesce((SELECT position FROM chaos_bus_c.bus_consumer_position WHERE stream = 'chaos'), -1)")
  read -r unseq head pos <<<"$state"
  [ "$unseq" = 0 ] && [ "$head" = "$pos" ] && break
  sleep 1
done
kill -TERM "$CONSUMER" "$PRODUCER"; wait 2>/dev/null
PRODUCER=; CONSUMER=

read -r events lost duplicated reordered extra <<<"$(SQL -F ' ' -c "
  SELECT
    (SELECT count(*) FROM chaos_bus_p.chaos_produced),
    (SELECT count(*) FROM chaos_bus_p.chaos_produced p
      WHERE NOT EXISTS (SELECT 1 FROM chaos_bus_c.chaos_applied a WHERE a.event_id = p.event_id)),
    (SELECT count(*) - count(DISTINCT event_id) FROM chaos_bus_c.chaos_applied),
    (SELECT count(*) FROM (SELECT a.seq, row_number() OVER (ORDER BY a.n) AS k, a.event_id,
                                  o.event_id AS outbox_event
                             FROM chaos_bus_c.chaos_applied a
                             LEFT JOIN chaos_bus_p.bus_outbox o ON o.stream = 'chaos' AND o.seq = a.seq) s
      WHERE seq <> k OR outbox_event IS DISTINCT FROM event_id),
    (SELECT count(*) FROM chaos_bus_c.chaos_applied a
      WHERE NOT EXISTS (SELECT 1 FROM chaos_bus_p.chaos_produced p WHERE p.event_id = a.event_id))")"
echo "chaos: producer kills=$pk consumer kills=$ck postgres restarts=$pg_restarted seconds=$((SECONDS - start)) uncommitted-but-applied=$extra"
echo "chaos: outbox rows=$(SQL -c 'SELECT count(*) FROM chaos_bus_p.bus_outbox') head=$head consumer position=$pos"
echo "events=$events lost=$lost duplicated=$duplicated reordered=$reordered"
[ "$lost" = 0 ] && [ "$duplicated" = 0 ] && [ "$reordered" = 0 ] && [ "$extra" = 0 ] \
  && [ "$events" -ge "$MIN" ] && [ "$pk" -ge 10 ] && [ "$ck" -ge 10 ] && [ "$pg_restarted" = 1 ]
