#!/usr/bin/env bash
# make bench-intake: registrations per second over HTTP (and their p99)
# beside pgbench single-row inserts into the same database in the same run,
# with the same number of clients; the ratio is intake's rate over pgbench's
# (aim: at least 0.5). Uses a private liaison-intake on a scratch schema.
# BENCH_COURTS spreads the clients over that many courts (client k in court
# k mod n), each with its own counter.
#
#   BENCH_CLIENTS=8 BENCH_SECONDS=10 BENCH_COURTS=1 tests/bench/intake.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
B=${B:-build}
source var/services.env
CLIENTS=${BENCH_CLIENTS:-8}
SECONDS_=${BENCH_SECONDS:-10}
COURTS=${BENCH_COURTS:-1}
export INTAKE_WORKERS=${INTAKE_WORKERS:-$CLIENTS}

eval "$(tests/lib/intake.sh up bench)"
trap 'tests/lib/intake.sh down "$INTAKE_SCHEMA" "$INTAKE_PID" "$INTAKE_DIR" >/dev/null 2>&1' EXIT
H=(-H "Authorization: Bearer $INTAKE_TOKEN")
courts="" toks=""
for i in $(seq 1 "$COURTS"); do
  court=bench; [ "$i" -gt 1 ] && court=bench$i
  curl -fsS "${H[@]}" -X PUT -H 'Content-Type: application/json' "$INTAKE_URL/v1/courts/$court" \
    -d '{"name":"压测法院'"$i"'","registration_number_template":"测'"$i"'法联〔{year}〕{seq}号"}' >/dev/null
  printf '编号,姓名,类别,级别\nd1,压测代表,人大代表,区\n' | curl -fsS "${H[@]}" -X POST \
    -H 'Content-Type: text/csv' --data-binary @- "$INTAKE_URL/v1/courts/$court/directory/deputies" >/dev/null
  tok=$(curl -fsS "${H[@]}" -X POST -H 'Content-Type: application/json' "$INTAKE_URL/v1/tokens" \
    -d '{"role":"liaison_office","court":"'"$court"'"}' | jq -r .token)
  courts=${courts:+$courts,}$court
  toks=${toks:+$toks,}$tok
done

# the baseline: single-row inserts, one transaction each, same clients
psql -X -q -v ON_ERROR_STOP=1 "$LIAISON_PG_ADMIN_DSN" -c \
  "CREATE TABLE $INTAKE_SCHEMA.bench_row (id bigserial PRIMARY KEY, court_id text NOT NULL, title text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
echo "INSERT INTO $INTAKE_SCHEMA.bench_row (court_id, title) VALUES ('bench', '压测登记');" >"$INTAKE_DIR/insert.sql"
pg_out=$(pgbench -n -c "$CLIENTS" -j "$CLIENTS" -T "$SECONDS_" -f "$INTAKE_DIR/insert.sql" \
  "$LIAISON_PG_ADMIN_DSN" 2>&1)
pg_tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$pg_out" | head -1)
pg_lat=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' <<<"$pg_out" | head -1)

out=$("$ROOT/$B/tests/bench_intake" --url "$INTAKE_URL" --token "$toks" --court "$courts" --deputy d1 \
  --clients "$CLIENTS" --seconds "$SECONDS_")
rate=$(sed -n 's/.*rate=\([0-9.]*\).*/\1/p' <<<"$out")
p99=$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<<"$out")
p50=$(sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p' <<<"$out")
gaps=$(psql -X -qtA "$LIAISON_PG_ADMIN_DSN" -c "SELECT coalesce(sum(g), 0) FROM (SELECT max(registration_serial) - count(*) AS g FROM $INTAKE_SCHEMA.item GROUP BY court_id) s")
ratio=$(awk -v a="$rate" -v b="$pg_tps" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
printf 'bench-intake: %d clients, %ss each, %d court(s)\n' "$CLIENTS" "$SECONDS_" "$COURTS"
printf '  intake HTTP registrations  %10.1f /s   p50 %6.2f ms   p99 %6.2f ms   (number gaps: %s)\n' "$rate" "$p50" "$p99" "$gaps"
printf '  pgbench single-row inserts %10.1f /s   avg %6.2f ms\n' "$pg_tps" "${pg_lat:-0}"
printf '  ratio intake / pgbench     %10s     (aim >= 0.5)\n' "$ratio"
