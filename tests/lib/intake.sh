#!/usr/bin/env bash
# A private liaison-intake for a test or a benchmark: its own scratch schema
# (every migration of deploy/sql/intake applied into it as liaison_intake,
# so row-level security binds exactly as in production), its own operator
# token, any free HTTP port and bus port. Nothing of a running stack is used
# or touched except the local PostgreSQL (scripts/services up).
#
#   eval "$(tests/lib/intake.sh up NAME)"    prints INTAKE_URL INTAKE_PID INTAKE_SCHEMA
#                                            INTAKE_TOKEN INTAKE_LOG INTAKE_DIR
#   tests/lib/intake.sh down SCHEMA PID DIR  stops the daemon, drops the schema
#
# Needs var/services.env (scripts/services up) and build/bin/liaison-intake
# (B selects the build tree, e.g. B=build/san).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${B:-build}
[ -n "${LIAISON_PG_ADMIN_DSN:-}" ] || source "$ROOT/var/services.env"

psql_admin() { psql -X -q -v ON_ERROR_STOP=1 "$LIAISON_PG_ADMIN_DSN" "$@"; }

up() {
  local name=$1
  local schema="intake_t_${name}_$$"
  local dir
  dir=$(mktemp -d "${TMPDIR:-/tmp}/intake-$name.XXXXXX")
  psql_admin -c "SET client_min_messages = warning" -c "DROP SCHEMA IF EXISTS $schema CASCADE" \
    -c "CREATE SCHEMA $schema AUTHORIZATION liaison_intake" >&2
  local f
  for f in "$ROOT"/deploy/sql/intake/[0-9]*.sql; do
    head -1 "$f" | grep -q '^-- liaison-migrate: superuser' && continue
    psql_admin -c "SET ROLE liaison_intake" -c "SET search_path = $schema" -f "$f" >&2
  done
  (umask 077; printf 'lso_%s\n' "$(openssl rand -hex 24)" >"$dir/operator.token")
  : >"$dir/liaison.ini"
  LIAISON_INTAKE_POSTGRES_DSN="host=127.0.0.1 port=$LIAISON_PG_PORT dbname=$LIAISON_PG_DB user=liaison_intake passfile=$LIAISON_PG_PASSFILE options='-c search_path=$schema'" \
  LIAISON_INTAKE_HTTP_PORT=0 LIAISON_COMMON_BUS_INTAKE=tcp://127.0.0.1:0 \
  LIAISON_COMMON_MODE=development LIAISON_COMMON_LOG_LEVEL=${INTAKE_LOG_LEVEL:-info} \
  LIAISON_INTAKE_BOOTSTRAP_TOKEN_FILE="$dir/operator.token" \
  LIAISON_INTAKE_WORKERS=${INTAKE_WORKERS:-8} \
    ${INTAKE_WRAPPER:-} "$ROOT/$B/bin/liaison-intake" --config "$dir/liaison.ini" >"$dir/intake.log" 2>&1 </dev/null &
  local pid=$!
  local port=""
  for _ in $(seq 1 200); do
    port=$(sed -n 's/.*msg="http listening".* port=\([0-9]*\).*/\1/p' "$dir/intake.log" | head -1)
    if [ -n "$port" ] && curl -fs -m 1 "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 \
       && grep -q 'bootstrap operator token ensured' "$dir/intake.log"; then
      break
    fi
    kill -0 "$pid" 2>/dev/null || { cat "$dir/intake.log" >&2; echo "liaison-intake died" >&2; exit 1; }
    sleep 0.1
  done
  [ -n "$port" ] || { echo "liaison-intake did not come up; see $dir/intake.log" >&2; exit 1; }
  echo "INTAKE_URL=http://127.0.0.1:$port"
  echo "INTAKE_PID=$pid"
  echo "INTAKE_SCHEMA=$schema"
  echo "INTAKE_TOKEN=$(cat "$dir/operator.token")"
  echo "INTAKE_LOG=$dir/intake.log"
  echo "INTAKE_DIR=$dir"
}

down() {
  local schema=$1 pid=$2 dir=${3:-}
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  [ -n "${INTAKE_KEEP:-}" ] || psql_admin -c "SET client_min_messages = warning" \
    -c "DROP SCHEMA IF EXISTS $schema CASCADE"
  [ -n "$dir" ] && [ -z "${INTAKE_KEEP:-}" ] && rm -rf "$dir"
  return 0
}

case "${1:-}" in
  up) up "${2:?name}" ;;
  down) down "${2:?schema}" "${3:?pid}" "${4:-}" ;;
  *) echo "usage: $0 up NAME | down SCHEMA PID [DIR]" >&2; exit 2 ;;
esac
