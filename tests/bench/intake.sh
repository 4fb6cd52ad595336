#!/usr/bin/env bash
# make bench-intake: registrations per second over HTTP (and their p99)
# beside pgbench single-row inserts into the same database in the same run,
# with the same number of clients; the ratio is intake's rate over pgbench's
# (aim: at least 0.5). Uses a private liaison-intake on a scratch schema.
# BENCH_COURTS spreads the clients over that many courts (client k in court
# k mod n), each with its own counter. The two alternate for BENCH_ROUNDS
# rounds (the machine's speed drifts); the report takes each one's median.
#
# It also says where the time goes, from what the run itself measured:
#   - intake's batches (its /metrics): registrations per transaction, and
#     how much of each client's wait is the database transaction;
#   - CPU per registration and per insert (/proc/stat: the whole machine's
#     busy time over the count), the daemon's and the clients' share of it
#     (/proc/PID/stat, getrusage), and how busy the machine was: a
#     registration waits for its batch's COMMIT, so the machine idles while
#     the batch is in the database.
#
#   BENCH_CLIENTS=8 BENCH_SECONDS=10 BENCH_COURTS=1 BENCH_ROUNDS=3 tests/bench/intake.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
B=${B:-build}
source var/services.env
CLIENTS=${BENCH_CLIENTS:-8}
SECONDS_=${BENCH_SECONDS:-10}
COURTS=${BENCH_COURTS:-1}
ROUNDS=${BENCH_ROUNDS:-3}
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

TICK=$(getconf CLK_TCK)
# the machine's busy and total time (ticks), a process's (ticks)
machine_cpu() { awk '/^cpu /{b = $2 + $3 + $4 + $7 + $8 + $9; print b, b + $5 + $6}' /proc/stat; }
proc_cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR] = $1} END {print NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

pg_rates="" pg_lats="" rates="" p50s="" p99s=""
pg_n=0 pg_busy=0 pg_total=0
n_all=0 busy=0 total=0 daemon=0 client=0
for round in $(seq 1 "$ROUNDS"); do
  read -r b0 t0 < <(machine_cpu)
  pg_out=$(pgbench -n -c "$CLIENTS" -j "$CLIENTS" -T "$SECONDS_" -f "$INTAKE_DIR/insert.sql" \
    "$LIAISON_PG_ADMIN_DSN" 2>&1)
  read -r b1 t1 < <(machine_cpu)
  tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$pg_out" | head -1)
  [ -n "$tps" ] || { echo "$pg_out" >&2; echo "bench-intake: pgbench failed" >&2; exit 1; }
  pg_rates="$pg_rates $tps"
  pg_lats="$pg_lats $(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' <<<"$pg_out" | head -1)"
  pg_n=$((pg_n + $(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$pg_out")))
  pg_busy=$((pg_busy + b1 - b0)) pg_total=$((pg_total + t1 - t0))

  d0=$(proc_cpu "$INTAKE_PID")
  read -r b0 t0 < <(machine_cpu)
  out=$("$ROOT/$B/tests/bench_intake" --url "$INTAKE_URL" --token "$toks" --court "$courts" \
    --deputy d1 --clients "$CLIENTS" --seconds "$SECONDS_")
  read -r b1 t1 < <(machine_cpu)
  d1=$(proc_cpu "$INTAKE_PID")
  field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$out"; }
  rates="$rates $(field rate)" p50s="$p50s $(field p50_ms)" p99s="$p99s $(field p99_ms)"
  n_all=$((n_all + $(field registrations)))
  busy=$((busy + b1 - b0)) total=$((total + t1 - t0)) daemon=$((daemon + d1 - d0))
  client=$(awk -v a="$client" -v b="$(field cpu_s)" 'BEGIN {print a + b}')
done
# the daemon registered nothing but the rounds': its totals are theirs
read -r b_sum b_count b_secs < <(curl -fsS "$INTAKE_URL/metrics" | awk '
  $1 == "liaison_workpool_batch_size_sum{pool=\"intake\"}" {s = $2}
  $1 == "liaison_workpool_batch_size_count{pool=\"intake\"}" {c = $2}
  $1 == "liaison_workpool_batch_seconds_sum{pool=\"intake\"}" {w = $2}
  END {print s + 0, c + 0, w + 0}')

pg_tps=$(median <<<"$pg_rates") pg_lat=$(median <<<"$pg_lats")
rate=$(median <<<"$rates") p50=$(median <<<"$p50s") p99=$(median <<<"$p99s")
gaps=$(psql -X -qtA "$LIAISON_PG_ADMIN_DSN" -c "SELECT coalesce(sum(g), 0) FROM (SELECT max(registration_serial) - count(*) AS g FROM $INTAKE_SCHEMA.item GROUP BY court_id) s")
ratio=$(awk -v a="$rate" -v b="$pg_tps" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
printf 'bench-intake: %d clients, %ss each, %d court(s), %d round(s) (medians)\n' "$CLIENTS" "$SECONDS_" "$COURTS" "$ROUNDS"
printf '  intake HTTP registrations  %10.1f /s   p50 %6.2f ms   p99 %6.2f ms   (number gaps: %s)\n' "$rate" "$p50" "$p99" "$gaps"
printf '  pgbench single-row inserts %10.1f /s   avg %6.2f ms\n' "$pg_tps" "${pg_lat:-0}"
printf '  ratio intake / pgbench     %10s     (aim >= 0.5)\n' "$ratio"
printf '  rounds: intake%s /s; pgbench%s /s\n' "$(printf ' %.1f' $rates)" "$(printf ' %.1f' $pg_rates)"
awk -v n="$n_all" -v busy="$busy" -v total="$total" -v daemon="$daemon" -v client="$client" \
    -v tick="$TICK" -v bs="$b_sum" -v bc="$b_count" -v bw="$b_secs" -v clients="$CLIENTS" \
    -v rate="$rate" -v pn="$pg_n" -v pb="$pg_busy" -v pt="$pg_total" 'BEGIN {
  ms = 1000 / tick
  printf "  where the time goes, over all rounds:\n"
  if (bc > 0)
    printf "    batches of %.1f registrations on average; each client waits %.2f ms per registration, %.2f ms of it while its batch runs (checks, transaction, COMMIT)\n", bs / bc, clients / rate * 1000, bw / bc * 1000
  if (n > 0)
    printf "    CPU per registration %.3f ms: the daemon %.3f, the clients %.3f, PostgreSQL and the rest %.3f; machine busy %.0f%%\n", busy * ms / n, daemon * ms / n, client * 1000 / n, (busy * ms - daemon * ms - client * 1000) / n, (total > 0 ? 100 * busy / total : 0)
  if (pn > 0)
    printf "    CPU per pgbench insert %.3f ms (pgbench and PostgreSQL); machine busy %.0f%%\n", pb * ms / pn, (pt > 0 ? 100 * pb / pt : 0)
}'
