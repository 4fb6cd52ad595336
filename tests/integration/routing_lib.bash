# Helpers of the routing scenario tests (sourced; not a test itself).
#
# A private liaison-intake (tests/lib/intake.sh) and a private
# liaison-routing: each in a scratch schema of the local PostgreSQL (every
# migration of its service applied as its own role, so row-level security
# binds as in production), on free HTTP ports and on bus endpoints of their
# own, so nothing of a developer's running stack is used or touched.
#
#   routing_setup NAME     intake + the demo court + routing; tokens in T_*
#   routing_start          (re)start routing on its schema (after a kill -9)
#   routing_teardown       stop both, drop both schemas
#   api METHOD PATH TOKEN [BODY] [IDEM]   → $CODE and $BODY (routing)
#   act TOKEN ITEM ACTION [BODY]          → POST …/items/ITEM/ACTION
#   register KIND TITLE DEPUTIES [EXTRA]  → $ITEM (through intake, then
#                                           waits until routing has it)
#   outbox_types ITEM     routing's events of an item, in stream order
#   history_actions ITEM  the item's history actions, in order
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
source tests/lib/tap.sh
B=${B:-build}
[ -f var/services.env ] || skip_all "local services not set up (scripts/services up)"
source var/services.env
CTL=$ROOT/$B/bin/liaisonctl
COURT=gz-liwan

psql_admin() { psql -X -q -v ON_ERROR_STOP=1 "$LIAISON_PG_ADMIN_DSN" "$@"; }
sql() { psql -X -qtA -v ON_ERROR_STOP=1 "$LIAISON_PG_ADMIN_DSN" -c "$1"; }

routing_start() {
  : >"$R_DIR/liaison.ini"
  touch "$R_DIR/routing.log"
  local start_line
  start_line=$(($(wc -l <"$R_DIR/routing.log") + 1))
  LIAISON_ROUTING_POSTGRES_DSN="host=127.0.0.1 port=$LIAISON_PG_PORT dbname=$LIAISON_PG_DB user=liaison_routing passfile=$LIAISON_PG_PASSFILE options='-c search_path=$R_SCHEMA'" \
  LIAISON_ROUTING_HTTP_PORT=0 LIAISON_COMMON_BUS_ROUTING=tcp://127.0.0.1:0 \
  LIAISON_COMMON_BUS_INTAKE="$INTAKE_BUS" \
  LIAISON_COMMON_MODE=development LIAISON_COMMON_LOG_LEVEL=info \
    ${ROUTING_WRAPPER:-} "$ROOT/$B/bin/liaison-routing" --config "$R_DIR/liaison.ini" >>"$R_DIR/routing.log" 2>&1 </dev/null &
  R_PID=$!
  R_URL=""
  for _ in $(seq 1 300); do
    local port
    port=$(tail -n +"$start_line" "$R_DIR/routing.log" | sed -n 's/.*msg="http listening".* port=\([0-9]*\).*/\1/p' | tail -1)
    if [ -n "$port" ] && curl -fs -m 1 "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
      R_URL=http://127.0.0.1:$port
      # liaisonctl finds it in its configuration (not through the environment:
      # LIAISON_ROUTING_* variables are the daemon's own configuration)
      [ -n "${INTAKE_URL:-}" ] && cat >"$R_DIR/liaisonctl.conf" <<INI
[liaisonctl]
intake = $INTAKE_URL
routing = $R_URL
token_file = $INTAKE_DIR/operator.token
INI
      return 0
    fi
    kill -0 "$R_PID" 2>/dev/null || { tail -20 "$R_DIR/routing.log" >&2; return 1; }
    sleep 0.1
  done
  return 1
}

routing_setup() {
  local name=$1
  local env_out
  env_out=$(tests/lib/intake.sh up "r$name") || return 1
  eval "$env_out"
  INTAKE_BUS=$(sed -n 's/.*msg="bus server listening" stream=intake endpoint=\([^ ]*\).*/\1/p' "$INTAKE_LOG" | head -1)
  R_SCHEMA="routing_t_${name}_$$"
  R_DIR=$(mktemp -d "${TMPDIR:-/tmp}/routing-$name.XXXXXX")
  trap routing_teardown EXIT
  psql_admin -c "SET client_min_messages = warning" -c "DROP SCHEMA IF EXISTS $R_SCHEMA CASCADE" \
    -c "CREATE SCHEMA $R_SCHEMA AUTHORIZATION liaison_routing" >&2
  local f
  for f in "$ROOT"/deploy/sql/routing/[0-9]*.sql; do
    head -1 "$f" | grep -q '^-- liaison-migrate: superuser' && continue
    psql_admin -c "SET ROLE liaison_routing" -c "SET search_path = $R_SCHEMA" -f "$f" >&2 || return 1
  done
  # liaisonctl speaks to the private daemons with the operator token
  cat >"$R_DIR/liaisonctl.conf" <<INI
[liaisonctl]
intake = $INTAKE_URL
token_file = $INTAKE_DIR/operator.token
INI
  export LIAISON_CONFIG=$R_DIR/liaisonctl.conf
  env B="$B" scripts/demo "$R_DIR" >/dev/null || return 1
  routing_start || return 1
  # one token per role and person (staff codes of deploy/demo/staff.csv)
  T_OFFICE=$($CTL token create --role liaison_office --court $COURT --staff s13 --name 罗佳 2>/dev/null)
  T_PRESIDENT=$($CTL token create --role leader --court $COURT --staff s01 --name 陈建国 2>/dev/null)
  T_LEADER2=$($CTL token create --role leader --court $COURT --staff s02 --name 林晓华 2>/dev/null)
  T_LEADER3=$($CTL token create --role leader --court $COURT --staff s03 --name 黄志明 2>/dev/null)
  T_M1=$($CTL token create --role department --court $COURT --department m1 --name 民一庭 2>/dev/null)
  T_M2=$($CTL token create --role department --court $COURT --department m2 --name 民二庭 2>/dev/null)
  T_XZ=$($CTL token create --role department --court $COURT --department xz --name 行政庭 2>/dev/null)
  T_ZX=$($CTL token create --role department --court $COURT --department zx --name 执行局 2>/dev/null)
  T_XF=$($CTL token create --role department --court $COURT --department xf --name 信访办 2>/dev/null)
  T_AUDITOR=$($CTL token create --role auditor --court $COURT 2>/dev/null)
  # another court, to be refused
  $CTL directory court --court gz-other --name 另一法院 --template '另法联〔{year}〕{seq}号' --zone Asia/Shanghai >/dev/null
  T_OTHER=$($CTL token create --role liaison_office --court gz-other 2>/dev/null)
  # routing sees the tokens and the directory once it has consumed them
  local n
  n=$(psql_admin -tA -c "SELECT count(*) FROM $INTAKE_SCHEMA.bus_outbox WHERE seq IS NOT NULL")
  wait_for 20 bash -c "[ \"\$(psql -X -qtA \"$LIAISON_PG_ADMIN_DSN\" -c \"SELECT position FROM $R_SCHEMA.bus_consumer_position WHERE stream = 'intake'\")\" -ge $n ]"
}

routing_teardown() {
  [ -n "${R_PID:-}" ] && kill -TERM "$R_PID" 2>/dev/null && wait "$R_PID" 2>/dev/null
  [ -n "${INTAKE_PID:-}" ] && tests/lib/intake.sh down "$INTAKE_SCHEMA" "$INTAKE_PID" "$INTAKE_DIR" >/dev/null 2>&1
  if [ -z "${ROUTING_KEEP:-}" ]; then
    [ -n "${R_SCHEMA:-}" ] && psql_admin -c "SET client_min_messages = warning" -c "DROP SCHEMA IF EXISTS $R_SCHEMA CASCADE" >/dev/null 2>&1
    [ -n "${R_DIR:-}" ] && rm -rf "$R_DIR"
  fi
  return 0
}

# api METHOD PATH TOKEN [BODY] [IDEMPOTENCY-KEY] → CODE, BODY
api() {
  local method=$1 path=$2 token=$3 body=${4:-} idem=${5:-}
  local args=(-s -m 10 -X "$method" -H "Authorization: Bearer $token" -w '\n%{http_code}')
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  [ -n "$idem" ] && args+=(-H "Idempotency-Key: $idem")
  local out
  out=$(curl "${args[@]}" "$R_URL$path")
  CODE=${out##*$'\n'}
  BODY=${out%$'\n'*}
}
act() { api POST "/v1/courts/$COURT/items/$2/$3" "$1" "${4:-}" "${5:-}"; }
item_state() { api GET "/v1/courts/$COURT/items/$1" "$T_AUDITOR"; jq -r .state <<<"$BODY"; }
item_json() { api GET "/v1/courts/$COURT/items/$1" "$T_AUDITOR"; echo "$BODY"; }

# register KIND TITLE "d001 d002" [EXTRA JSON members] → ITEM (routing has it;
# NOWAIT=1: intake has it, routing may not yet)
register() {
  local kind=$1 title=$2 deps=$3 extra=${4:-}
  local dj="" d first=1
  for d in $deps; do
    dj+="${dj:+,}{\"deputy\":\"$d\"$( [ $first = 1 ] && echo ',"lead":true')}"
    first=0
  done
  local channel=letter
  case $kind in session-*) channel=session-delivery ;; remark) channel=phone ;; esac
  local body="{\"kind\":\"$kind\",\"channel\":\"$channel\",\"source\":\"deputy-direct\",\"deputies\":[$dj],\"title\":\"$title\",\"content\":\"$title。正文。\",\"received_at\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\"${extra:+,$extra}}"
  local out
  out=$(curl -s -m 10 -X POST -H "Authorization: Bearer $T_OFFICE" -H 'Content-Type: application/json' \
        --data-binary "$body" "$INTAKE_URL/v1/courts/$COURT/items")
  ITEM=$(jq -r '.item_id // empty' <<<"$out")
  [ -n "$ITEM" ] || { echo "# register failed: $out" >&2; return 1; }
  [ -n "${NOWAIT:-}" ] && return 0
  wait_for 10 bash -c "[ \"\$(psql -X -qtA \"$LIAISON_PG_ADMIN_DSN\" -c \"SELECT count(*) FROM $R_SCHEMA.item WHERE item_id = '$ITEM'\")\" = 1 ]"
}

# routing's events about an item, in stream order (sequenced), as short names
outbox_types() {
  wait_for 5 bash -c "[ \"\$(psql -X -qtA \"$LIAISON_PG_ADMIN_DSN\" -c \"SELECT count(*) FROM $R_SCHEMA.bus_outbox WHERE seq IS NULL\")\" = 0 ]"
  sql "SELECT string_agg(replace(o.type, 'liaison.v1.', ''), ' ' ORDER BY o.seq) FROM $R_SCHEMA.bus_outbox o
       JOIN $R_SCHEMA.history h ON h.event_id = o.event_id WHERE h.item_id = '$1'"
}
history_actions() {
  sql "SELECT string_agg(action, ' ' ORDER BY n) FROM $R_SCHEMA.history WHERE item_id = '$1'"
}
# a refused action: the code, the problem's code, and nothing changed
# refused NAME STATUS PCODE TOKEN ITEM ACTION [BODY]
refused() {
  local name=$1 status=$2 pcode=$3 token=$4 item=$5 action=$6 body=${7:-}
  local before after hb ha
  before=$(item_json "$item" | jq -c 'del(.state_age_seconds)')
  hb=$(sql "SELECT count(*) FROM $R_SCHEMA.history WHERE item_id = '$item'")
  local ob
  ob=$(sql "SELECT count(*) FROM $R_SCHEMA.bus_outbox")
  act "$token" "$item" "$action" "$body"
  local code=$CODE body_out=$BODY
  after=$(item_json "$item" | jq -c 'del(.state_age_seconds)')
  ha=$(sql "SELECT count(*) FROM $R_SCHEMA.history WHERE item_id = '$item'")
  local oa
  oa=$(sql "SELECT count(*) FROM $R_SCHEMA.bus_outbox")
  TAP_N=$((TAP_N + 1))
  if [ "$code" = "$status" ] && jq -e --arg c "$pcode" '.code == $c and (.type | startswith("urn:liaison:problem:")) and (.detail | length > 0)' <<<"$body_out" >/dev/null 2>&1 \
     && [ "$before" = "$after" ] && [ "$hb" = "$ha" ] && [ "$ob" = "$oa" ]; then
    echo "ok $TAP_N - refused: $name ($status $pcode, nothing changed)"
  else
    echo "not ok $TAP_N - refused: $name (got $code $body_out; history $hb→$ha, outbox $ob→$oa)"
    TAP_FAILED=$((TAP_FAILED + 1))
  fi
  REFUSED_BODY=$body_out
}
# step NAME TOKEN ITEM ACTION BODY EXPECTED_STATE: a command that must succeed
step() {
  local name=$1 token=$2 item=$3 action=$4 body=$5 want=$6
  act "$token" "$item" "$action" "$body"
  TAP_N=$((TAP_N + 1))
  if [ "$CODE" = 200 ] && [ "$(jq -r .state <<<"$BODY")" = "$want" ]; then
    echo "ok $TAP_N - $name → $want"
  else
    echo "not ok $TAP_N - $name → $want (got $CODE $BODY)"
    TAP_FAILED=$((TAP_FAILED + 1))
  fi
}
