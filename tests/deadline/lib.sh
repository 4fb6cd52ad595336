# Helpers for the deadline daemon's tests, chaos run and bench: source this.
#
# A private world per run: schemas <name>_d (the deadline daemon's own, with
# deploy/sql/deadline applied), <name>_i and <name>_r (scratch intake and
# routing producers whose streams tests/bus's bus_producer serves), a test
# clock file, free ports, a Redis key prefix of its own (or a private Redis),
# and the daemon's configuration. Never touches the shared schemas or flushes
# the shared Redis.
#
#   dl_require                skip the test (TAP) without PostgreSQL, Redis or the binaries
#   dl_setup NAME             schemas, ports, config (DL_* variables)
#   dl_start_upstream         bus_producer for intake and routing
#   dl_start_daemon           liaison-deadline in the background (DL_PID)
#   dl_stop_daemon [SIG]      stop it (TERM by default) and wait
#   dl_pub STREAM TYPE k=v..  publish an upstream event (dl_publish)
#   dl_sql SQL                psql on the deadline schema, unaligned
#   dl_clock_set EPOCH_S      move the test clock so that now = EPOCH_S
#   dl_epoch 'YYYY-MM-DD HH:MM:SS'   court-local (+08:00) time as epoch seconds
#   dl_teardown               stop everything, drop the schemas

ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
B=${B:-build}
[ -f "$ROOT/var/services.env" ] && source "$ROOT/var/services.env"
ADMIN=${LIAISON_PG_ADMIN_DSN:-}
DL_PID= DL_UP_I= DL_UP_R=

# A port nothing listens on, below the kernel's ephemeral range: a port in
# that range may be the local end of any outgoing connection (to PostgreSQL,
# Redis, a daemon), which no connect test sees and which makes a listen on it
# fail with "Address already in use".
dl_free_port() {
  local p lo
  lo=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
  lo=${lo:-32768}
  for _ in $(seq 1 50); do
    p=$((10000 + RANDOM % (lo - 10000)))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
  echo $((10000 + RANDOM % (lo - 10000)))
}

# What a deadline test needs, or the whole test is skipped with the reason
# (TAP, tests/lib/tap.sh): PostgreSQL, the daemon and the test tools, Redis.
# Checks against the test's schema: q SQL prints the result; eq SQL WANT;
# waitq SQL WANT [SECONDS] waits for it (tests/lib/tap.sh's wait_for).
q() { dl_sql "$1"; }
eq() { [ "$(q "$1")" = "$2" ]; }
waitq() { wait_for "${3:-15}" eq "$1" "$2"; }

dl_require() {
  [ -n "$ADMIN" ] || skip_all "no PostgreSQL (scripts/services up)"
  local t
  for t in "$B/bin/liaison-deadline" "$B/tests/bus_producer" "$B/tests/dl_publish"; do
    [ -x "$t" ] || skip_all "$t not built"
  done
  redis-cli -p "${LIAISON_REDIS_PORT:-63815}" ping >/dev/null 2>&1 || skip_all "no Redis"
}

dl_psql() { psql "$ADMIN" -X -q -v ON_ERROR_STOP=1 -At "$@"; }

dl_setup() {
  DL_NAME=$1
  DL_DIR=$ROOT/$B/$DL_NAME
  rm -rf "$DL_DIR"
  mkdir -p "$DL_DIR"
  DL_D=${DL_NAME}_d DL_I=${DL_NAME}_i DL_R=${DL_NAME}_r
  DL_DSN_D="$ADMIN options='-c search_path=$DL_D'"
  DL_DSN_I="$ADMIN options='-c search_path=$DL_I'"
  DL_DSN_R="$ADMIN options='-c search_path=$DL_R'"
  dl_psql -c "SET client_min_messages = warning" \
    -c "DROP SCHEMA IF EXISTS $DL_D CASCADE" -c "DROP SCHEMA IF EXISTS $DL_I CASCADE" \
    -c "DROP SCHEMA IF EXISTS $DL_R CASCADE" \
    -c "CREATE SCHEMA $DL_D" -c "CREATE SCHEMA $DL_I" -c "CREATE SCHEMA $DL_R" || return 1
  local f
  for f in "$ROOT"/deploy/sql/deadline/*.sql; do
    case "$f" in */001_schema.sql) continue ;; esac
    dl_psql -c "SET client_min_messages = warning" -c "SET search_path = $DL_D" -f "$f" >/dev/null || return 1
  done
  for s in $DL_I $DL_R; do
    dl_psql -c "SET client_min_messages = warning" -c "SET search_path = $s" -f "$ROOT/deploy/sql/_bus/001_bus.sql" >/dev/null || return 1
  done
  DL_EP_I=tcp://127.0.0.1:$(dl_free_port)
  DL_EP_R=tcp://127.0.0.1:$(dl_free_port)
  DL_EP_D=tcp://127.0.0.1:$(dl_free_port)
  DL_HTTP=$(dl_free_port)
  DL_CLOCK=$DL_DIR/testclock
  printf '0\n' >"$DL_CLOCK"
  DL_REDIS_PORT=${DL_REDIS_PORT:-$LIAISON_REDIS_PORT}
  DL_PREFIX=${DL_PREFIX:-test:$DL_NAME:$$:}
  DL_CALENDAR=${DL_CALENDAR:-$ROOT/deploy/calendar/work-calendar.txt}
  DL_SWEEP=${DL_SWEEP:-1s}
  DL_HORIZON=${DL_HORIZON:-1h}
  dl_write_config
}

dl_write_config() {
  cat >"$DL_DIR/liaison.ini" <<INI
[common]
mode = test
log_level = ${DL_LOG_LEVEL:-info}
clock = test
clock_file = $DL_CLOCK
bus_intake = $DL_EP_I
bus_routing = $DL_EP_R
bus_deadline = $DL_EP_D

[deadline]
http_port = $DL_HTTP
postgres_dsn = $DL_DSN_D
redis_host = 127.0.0.1
redis_port = $DL_REDIS_PORT
redis_prefix = $DL_PREFIX
sweep_interval = $DL_SWEEP
horizon = $DL_HORIZON
fire_workers = ${DL_WORKERS:-2}
calendar_file = $DL_CALENDAR
INI
}

dl_start_upstream() {
  "$ROOT/$B/tests/bus_producer" --conninfo "$DL_DSN_I" --endpoint "$DL_EP_I" --stream intake \
    >>"$DL_DIR/upstream.log" 2>&1 &
  DL_UP_I=$!
  "$ROOT/$B/tests/bus_producer" --conninfo "$DL_DSN_R" --endpoint "$DL_EP_R" --stream routing \
    >>"$DL_DIR/upstream.log" 2>&1 &
  DL_UP_R=$!
}

dl_start_daemon() {
  LIAISON_DAEMON_CONFIG=$DL_DIR/liaison.ini ${DL_WRAP:-} "$ROOT/$B/bin/liaison-deadline" \
    >>"$DL_DIR/deadline.log" 2>&1 &
  DL_PID=$!
}

dl_ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' -m 2 "http://127.0.0.1:$DL_HTTP/readyz")" = 200 ]; }

dl_stop_daemon() {
  [ -n "$DL_PID" ] || return 0
  kill "-${1:-TERM}" "$DL_PID" 2>/dev/null
  wait "$DL_PID" 2>/dev/null
  local rc=$?
  DL_PID=
  return $rc
}

dl_pub() { # dl_pub intake|routing TYPE k=v...
  local dsn=$DL_DSN_I
  [ "$1" = routing ] && dsn=$DL_DSN_R
  local stream=$1; shift
  "$ROOT/$B/tests/dl_publish" --conninfo "$dsn" --stream "$stream" "$@"
}

dl_sql() { psql "$DL_DSN_D" -X -q -v ON_ERROR_STOP=1 -At -F ' ' -c "$1"; }

dl_dump() { "$ROOT/$B/tests/dl_publish" --conninfo "$DL_DSN_D" dump; }

dl_epoch() { date -d "$1 +0800" +%s; }

dl_clock_set() { # the shared offset in µs, so that the clock reads $1 (epoch seconds)
  local now_us
  now_us=$(($(date +%s%N) / 1000))
  printf '%s\n' $(($1 * 1000000 - now_us)) >"$DL_CLOCK.tmp" && mv "$DL_CLOCK.tmp" "$DL_CLOCK"
}

dl_teardown() {
  dl_stop_daemon KILL
  local up=()
  [ -n "$DL_UP_I" ] && up+=("$DL_UP_I")
  [ -n "$DL_UP_R" ] && up+=("$DL_UP_R")
  if [ ${#up[@]} -gt 0 ]; then
    kill "${up[@]}" 2>/dev/null
    wait "${up[@]}" 2>/dev/null
  fi
  DL_UP_I= DL_UP_R=
  if [ -z "${DL_KEEP:-}" ] && [ -n "${DL_NAME:-}" ]; then
    dl_psql -c "SET client_min_messages = warning" -c "DROP SCHEMA IF EXISTS $DL_D CASCADE" \
      -c "DROP SCHEMA IF EXISTS $DL_I CASCADE" -c "DROP SCHEMA IF EXISTS $DL_R CASCADE" >/dev/null 2>&1
    if [ -z "${DL_PRIVATE_REDIS:-}" ]; then
      # Only this run's own keys on the shared Redis.
      redis-cli -p "$DL_REDIS_PORT" --scan --pattern "${DL_PREFIX}*" 2>/dev/null |
        xargs -r redis-cli -p "$DL_REDIS_PORT" del >/dev/null 2>&1
    fi
  fi
}
