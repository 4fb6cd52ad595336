#!/usr/bin/env bash
# make bench-bus: in one run, against the same local PostgreSQL,
#   1. pgbench: single-row INSERTs (~100-byte rows), CLIENTS connections,
#      autocommit, synchronous_commit on: the baseline;
#   2. the bus end to end with the same clients, the same statement shape
#      (one outbox row per transaction) and the same durability: events per
#      second from the first producer commit to the last consumer commit;
#   3. the bus at a fixed 1,000 events/s: latency from commit at the
#      producer to applied (committed) at the consumer.
# Prints bus_events_per_s=... pgbench_tps=... ratio=... and the latencies.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
B=${B:-build}
source var/services.env
CLIENTS=${BENCH_CLIENTS:-8}
SECONDS_RUN=${BENCH_SECONDS:-10}
ADMIN=$LIAISON_PG_ADMIN_DSN
SQL() { psql "$ADMIN" -X -q -v ON_ERROR_STOP=1 -At "$@"; }
reset_schemas() {
  SQL -c "SET client_min_messages = warning" \
      -c "DROP SCHEMA IF EXISTS bench_bus_p CASCADE" -c "DROP SCHEMA IF EXISTS bench_bus_c CASCADE" \
      -c "CREATE SCHEMA bench_bus_p" -c "CREATE SCHEMA bench_bus_c" || exit 1
  for s in bench_bus_p bench_bus_c; do
    for f in deploy/sql/_bus/*.sql; do SQL -c "SET search_path = $s" -f "$f" >/dev/null || exit 1; done
  done
  SQL -c "CREATE TABLE bench_bus_c.bench_applied (seq bigint NOT NULL, payload text NOT NULL)" \
      -c "CREATE TABLE bench_bus_p.pgbench_rows (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(), payload text NOT NULL)" || exit 1
}
echo "bench-bus: synchronous_commit=$(SQL -c 'SHOW synchronous_commit') fsync=$(SQL -c 'SHOW fsync') clients=$CLIENTS seconds=$SECONDS_RUN cpus=$(nproc)"
reset_schemas
script=$(mktemp)
trap 'rm -f "$script"' EXIT
cat >"$script" <<'SQLEOF'
INSERT INTO bench_bus_p.pgbench_rows (payload) VALUES ('................................................................................................');
SQLEOF
PGOPTIONS='-c synchronous_commit=on' pgbench "$ADMIN" -n -c "$CLIENTS" -j 2 -T "$SECONDS_RUN" -f "$script" >"$B/bench-bus-pgbench.log" 2>&1
pgbench_tps=$(grep -E '^tps' "$B/bench-bus-pgbench.log" | head -1 | sed -E 's/^tps = ([0-9.]+).*/\1/')
echo "bench-bus: pgbench $(grep -E '^(number of transactions actually processed|latency average)' "$B/bench-bus-pgbench.log" | tr '\n' ' ')"

reset_schemas
PDSN="$ADMIN options='-c search_path=bench_bus_p -c synchronous_commit=on'"
CDSN="$ADMIN options='-c search_path=bench_bus_c -c synchronous_commit=on'"
out=$("$B/tests/bus_bench" --producer "$PDSN" --consumer "$CDSN" --clients "$CLIENTS" --seconds "$SECONDS_RUN") || { echo "$out"; exit 1; }
echo "bench-bus: throughput run: $(echo "$out" | head -1)"
bus=$(echo "$out" | sed -nE 's/^bus_events_per_s=([0-9.]+).*/\1/p')

reset_schemas
lat=$("$B/tests/bus_bench" --producer "$PDSN" --consumer "$CDSN" --rate 1000 --seconds "$SECONDS_RUN") || { echo "$lat"; exit 1; }
echo "bench-bus: latency run at 1000 events/s: $(echo "$lat" | head -1)"
SQL -c "SET client_min_messages = warning" -c "DROP SCHEMA IF EXISTS bench_bus_p CASCADE" -c "DROP SCHEMA IF EXISTS bench_bus_c CASCADE"
ratio=$(awk -v a="$bus" -v b="$pgbench_tps" 'BEGIN { printf "%.2f", a / b }')
echo "$(echo "$lat" | grep latency_p50) rate=1000"
echo "bus_events_per_s=$bus pgbench_tps=$pgbench_tps ratio=$ratio"
