#!/usr/bin/env bash
# A running daemon (deadline: it needs both servers) outlives a PostgreSQL restart and a Redis restart: /readyz
# reports each outage while it lasts and recovers by itself afterwards.
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
B=${B:-build}
[ -f var/services.env ] || skip_all "local services not set up (scripts/services up)"
source var/services.env
scripts/write-config var >/dev/null

PORT=7491
export LIAISON_DEADLINE_HTTP_PORT=$PORT
# its own stream on a port of its own, beside any running stack
export LIAISON_COMMON_BUS_DEADLINE=tcp://127.0.0.1:7494
LOG=$B/test-logs/daemon_reconnect.daemon.log
"$B/bin/liaison-deadline" --config var/liaison.ini >"$LOG" 2>&1 &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID 2>/dev/null; scripts/services up >/dev/null' EXIT
URL=http://127.0.0.1:$PORT

ok "daemon answers /healthz" wait_for 10 is_code 200 "$URL/healthz"
ok "daemon is ready with PostgreSQL and Redis up" wait_for 10 is_code 200 "$URL/readyz"

scripts/services pg-stop >/dev/null
ok "/readyz reports the PostgreSQL outage" wait_for 10 is_code 503 "$URL/readyz"
ok "/readyz names postgres while it is down" bash -c "curl -s $URL/readyz | grep -q postgres"
ok "/healthz still answers during the outage" is_code 200 "$URL/healthz"
scripts/services pg-start >/dev/null
ok "daemon reconnects to PostgreSQL by itself" wait_for 20 is_code 200 "$URL/readyz"

scripts/services redis-stop >/dev/null
# The deadline daemon works on without Redis (its sweep fires timers from
# PostgreSQL), so the outage shows as "degraded" while it stays ready.
redis_down() { curl -s -m 2 "$URL/readyz" | grep -Eq '"redis":"(degraded|failing)"'; }
ok "/readyz reports the Redis outage while it lasts" wait_for 10 redis_down
ok "/readyz says the daemon is degraded, not gone" bash -c "curl -s $URL/readyz | grep -q '\"status\":\"degraded\"'"
scripts/services redis-start >/dev/null
redis_back() { curl -s -m 2 "$URL/readyz" | grep -q '"status":"ready"'; }
ok "daemon reconnects to Redis by itself" wait_for 20 redis_back

ok "daemon still runs" kill -0 $PID
kill -TERM $PID
ok "SIGTERM stops it cleanly (exit 0)" wait $PID
tap_done
