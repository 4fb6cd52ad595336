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
# Any process of this tree: an executable under it (the daemons), or one
# whose arguments name its var/ (PostgreSQL's data directory). Read from
# /proc directly: pgrep -f would also match the shell running this check.
ours_left() {
  local d exe args
  for d in /proc/[0-9]*; do
    [ "${d#/proc/}" = "$$" ] && continue
    exe=$(readlink "$d/exe" 2>/dev/null) || continue
    args=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null)
    case "$exe" in "$ROOT"/*) echo "left: $exe"; return 0 ;; esac
    case "$args" in *"$ROOT/var/"*) echo "left: $args"; return 0 ;; esac
  done
  return 1
}
no_daemon_left() {
  local d
  for d in /proc/[0-9]*; do
    case "$(readlink "$d/exe" 2>/dev/null)" in "$ROOT/$B/bin/liaison-"*) return 1 ;; esac
  done
  return 0
}
ok "no daemon of ours is left" no_daemon_left
none_left() { ! ours_left; }
ok "no process of ours is left" none_left
source var/services.env
ok "PostgreSQL is stopped" bash -c "! pg_isready -q -h 127.0.0.1 -p $LIAISON_PG_PORT"
ok "Redis is stopped" bash -c "! redis-cli -p $LIAISON_REDIS_PORT ping"
ok "nothing answers on 7401 after down" bash -c "! curl -s -m 1 http://127.0.0.1:7401/healthz"
tap_done
