#!/usr/bin/env bash
# make up brings the whole stack up and says where it is; make down leaves no
# process of ours running. (Services are brought back up for the tests after.)
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
B=${B:-build}
ROOT=$(pwd)
trap 'scripts/services up >/dev/null' EXIT

OUT=$B/test-logs/stack_updown.up.log
ok "stack up succeeds" scripts/stack up
scripts/stack up >"$OUT" 2>&1   # idempotent: a second up changes nothing
ok "a second up is harmless" grep -q "liaison is running" "$OUT"
ok "up prints where intake is" grep -q "http://127.0.0.1:7401" "$OUT"
for p in 7401 7402 7403 7404 7405; do
  ok "daemon on $p answers /healthz" is_code 200 "http://127.0.0.1:$p/healthz"
  ok "daemon on $p is ready" wait_for 10 is_code 200 "http://127.0.0.1:$p/readyz"
  ok "daemon on $p serves /metrics" bash -c "curl -s http://127.0.0.1:$p/metrics | grep -q '^# TYPE'"
done
ok "liaisonctl.conf written" test -s var/liaisonctl.conf
ok "liaisonctl.conf names intake" grep -q '7401' var/liaisonctl.conf

ok "stack down succeeds" scripts/stack down
ours() { # any process whose executable or arguments point into this tree
  local pid
  for pid in $(pgrep -f "liaison-|postgres|redis-server" 2>/dev/null); do
    if grep -qa "$ROOT" "/proc/$pid/cmdline" 2>/dev/null || readlink "/proc/$pid/exe" 2>/dev/null | grep -q "$ROOT"; then
      return 0
    fi
  done
  return 1
}
ok "no daemon of ours is left" bash -c "! pgrep -f '$ROOT/$B/bin/liaison-'"
ok "no process of ours is left" bash -c "$(declare -f ours); ROOT=$ROOT; ! ours"
source var/services.env
ok "PostgreSQL is stopped" bash -c "! pg_isready -q -h 127.0.0.1 -p $LIAISON_PG_PORT"
ok "Redis is stopped" bash -c "! redis-cli -p $LIAISON_REDIS_PORT ping"
ok "nothing answers on 7401 after down" bash -c "! curl -s -m 1 http://127.0.0.1:7401/healthz"
tap_done
