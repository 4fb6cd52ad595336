#!/usr/bin/env bash
# make bench-deadline: the deadline daemon's timers at 1,000,000 pending
# deadlines, beside redis-benchmark ZADD on the same Redis in the same run.
#
#   - Redis memory per timer: used_memory after the rebuild of 1,000,000
#     timers, minus before, divided by the timers;
#   - rebuild: the daemon's own log line (timers/s from PostgreSQL into Redis);
#   - fire rate: 100,000 deadlines falling due at the same instant, stages
#     fired per second from that instant until the last one committed;
#   - lateness at a steady 1,000/s: 30,000 deadlines due 1 ms apart, p50 /
#     p99 / max of fired - scheduled.
# Aims (issue 7): rebuild > 100,000 timers/s, firing > 10,000/s, p99 < 1 s.
#
# Its own schema (bench_deadline_*), its own Redis on a free port, its own
# ports; the deadlines are written straight into the table (the consumer
# path is measured by the tests, not here). Real clock. About 3 minutes.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
source tests/deadline/lib.sh
TOTAL=${BENCH_DEADLINES:-1000000}
BURST=${BENCH_BURST:-100000}
STEADY=${BENCH_STEADY:-30000}
say() { printf 'bench: %s\n' "$*"; }

RPORT=$(dl_free_port)
RPID=
cleanup() { dl_teardown; [ -n "$RPID" ] && kill -9 "$RPID" 2>/dev/null && wait "$RPID" 2>/dev/null; }
trap cleanup EXIT
DL_PRIVATE_REDIS=1 DL_REDIS_PORT=$RPORT DL_SWEEP=2s DL_HORIZON=90d DL_PREFIX=bench: DL_LOG_LEVEL=${DL_LOG_LEVEL:-info}
dl_setup bench_deadline || exit 1
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$DL_DIR" \
  >>"$DL_DIR/redis.log" 2>&1 &
RPID=$!
for _ in $(seq 50); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
mem() { redis-cli -p "$RPORT" info memory | awk -F: '/^used_memory:/ { print $2 + 0 }'; }

# The baseline: Redis's own ZADD, one client, then 50 clients pipelined.
zadd1=$(redis-benchmark -p "$RPORT" -t zadd -n 200000 -c 1 -q 2>/dev/null | tr '\r' '\n' | awk '/ZADD/ { print $2 }' | tail -1)
zadd50=$(redis-benchmark -p "$RPORT" -t zadd -n 1000000 -c 50 -P 16 -q 2>/dev/null | tr '\r' '\n' | awk '/ZADD/ { print $2 }' | tail -1)
say "redis-benchmark ZADD: ${zadd1} req/s (1 client), ${zadd50} req/s (50 clients, pipeline 16)"
redis-cli -p "$RPORT" flushall >/dev/null

# 1,000,000 pending deadlines: the first BURST fall due together, the next
# STEADY 1 ms apart, the rest over the next 60 days (all inside the horizon).
# Their ids are what the daemon gives a deadline it opens: time-ordered
# (version 7) UUIDs, here one a millisecond before now.
t0=$SECONDS
now_us=$(($(date +%s%N) / 1000))
now_ms=$((now_us / 1000))
dl_sql "INSERT INTO deadline (id, court_id, item_id, rule_id, round, department_id, trigger_date,
          due_date, due_at_us, time_zone, schedule_kind, schedule_at, next_step, next_fire_at,
          created_at_us, updated_at_us)
        SELECT (lpad(to_hex($now_ms - $TOTAL + i), 12, '0') || '7' || substr(md5(i::text), 1, 3)
                || '8' || substr(md5(i::text), 4, 15))::uuid, 'bench', 'bench-' || i, 'answer-between', 1, 'd-civil',
          '2026-11-01', '2027-01-04', f + 86400000000, 'Asia/Shanghai',
          '{remind:1,due,urge:1,urge:2,escalate}',
          ARRAY[f, f + 86400000000, f + 2 * 86400000000, f + 3 * 86400000000, f + 4 * 86400000000],
          1, f, $now_us, $now_us
        FROM generate_series(1, $TOTAL) i,
             LATERAL (SELECT $now_us + 3600000000::bigint + i * 5000000::bigint AS f) x" || exit 1
dl_sql "ANALYZE deadline" >/dev/null
say "$TOTAL deadlines written in $((SECONDS - t0))s"
dl_pub intake DepartmentUpserted id=d-civil name=民事审判庭 lead=s-lead head=s-head court=bench
dl_pub intake DepartmentUpserted id=d-lo name=联络办 kind=liaison court=bench
dl_start_upstream

mem0=$(mem)
# The burst and the steady run, timed from now: the daemon starts, rebuilds,
# then meets them.
start_us=$(($(date +%s%N) / 1000))
burst_us=$((start_us + 25000000))
steady_us=$((start_us + 75000000))
dl_sql "UPDATE deadline SET next_fire_at = $burst_us, schedule_at[1] = $burst_us
        WHERE item_id IN (SELECT 'bench-' || i FROM generate_series(1, $BURST) i)" >/dev/null
dl_sql "UPDATE deadline d SET next_fire_at = $steady_us + (x.i - $BURST - 1) * 1000,
          schedule_at[1] = $steady_us + (x.i - $BURST - 1) * 1000
        FROM (SELECT i, 'bench-' || i AS item FROM generate_series($BURST + 1, $BURST + $STEADY) i) x
        WHERE d.item_id = x.item" >/dev/null
dl_start_daemon
wait_rebuild() { grep -q 'index rebuilt' "$DL_DIR/deadline.log"; }
for _ in $(seq 300); do wait_rebuild && break; sleep 0.1; done
rebuild=$(grep 'index rebuilt' "$DL_DIR/deadline.log" | head -1)
sleep 1
mem1=$(mem)
timers=$(redis-cli -p "$RPORT" zcard bench:timers)
say "rebuild: ${rebuild#*msg=}"
say "redis: $timers timers, used_memory $mem0 -> $mem1 bytes: $(( (mem1 - mem0) / (timers > 0 ? timers : 1) )) bytes per timer"

# Wait for the burst and the steady run to be fired.
end_us=$((steady_us + STEADY * 1000))
while (( $(date +%s%N) / 1000 < end_us + 5000000 )); do sleep 1; done
for _ in $(seq 60); do
  [ "$(dl_sql "SELECT count(*) FROM deadline_history WHERE step = 1")" -ge $((BURST + STEADY)) ] && break
  sleep 1
done
dl_stop_daemon TERM
read -r bn bspan bp99 <<<"$(dl_sql "SELECT count(*), round(((max(fired_at_us) - $burst_us) / 1e6)::numeric, 3),
    round((percentile_cont(0.99) WITHIN GROUP (ORDER BY fired_at_us - scheduled_at_us) / 1e6)::numeric, 3)
  FROM deadline_history WHERE step = 1 AND scheduled_at_us = $burst_us")"
rate=$(awk -v n="$bn" -v s="$bspan" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
say "burst: $bn stages due at one instant fired in ${bspan}s: $rate stages/s (p99 lateness ${bp99}s)"
read -r sn p50 p99 pmax <<<"$(dl_sql "SELECT count(*),
    round((percentile_cont(0.5) WITHIN GROUP (ORDER BY fired_at_us - scheduled_at_us) / 1e6)::numeric, 3),
    round((percentile_cont(0.99) WITHIN GROUP (ORDER BY fired_at_us - scheduled_at_us) / 1e6)::numeric, 3),
    round((max(fired_at_us - scheduled_at_us) / 1e6)::numeric, 3)
  FROM deadline_history WHERE step = 1 AND scheduled_at_us >= $steady_us")"
say "steady 1000/s: $sn stages, lateness p50 ${p50}s p99 ${p99}s max ${pmax}s"
say "fired by: $(dl_sql "SELECT string_agg(fired_by || '=' || n, ' ') FROM (SELECT fired_by, count(*) n FROM deadline_history GROUP BY 1 ORDER BY 1) x")"
rb_rate=$(sed -n 's/.*rate=\([0-9]*\).*/\1/p' <<<"$rebuild")
echo "timers=$timers bytes_per_timer=$(( (mem1 - mem0) / (timers > 0 ? timers : 1) )) rebuild_per_s=$rb_rate fire_per_s=$rate steady_p99_s=$p99 redis_zadd_per_s=$zadd1/$zadd50"
