#!/usr/bin/env bash
# liaisonctl migrate against a real PostgreSQL, in scratch databases this
# script creates and drops (the main database is never touched).
# Needs LIAISON_PG_ADMIN_DSN (var/services.env, written by scripts/services
# up) and build/bin/liaisonctl. Speaks TAP.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CTL=${LIAISON_BUILD:-$ROOT/build}/bin/liaisonctl
if [ -z "${LIAISON_PG_ADMIN_DSN:-}" ] && [ -f "$ROOT/var/services.env" ]; then
  source "$ROOT/var/services.env"
fi

n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }
check() { # check NAME CMD...: ok when CMD succeeds
  local name=$1; shift
  if "$@"; then ok "$name"; else not_ok "$name"; fi
}

if [ -z "${LIAISON_PG_ADMIN_DSN:-}" ]; then
  echo "ok 1 # SKIP migrate: LIAISON_PG_ADMIN_DSN is not set (scripts/services up)"
  exit 0
fi
if [ ! -x "$CTL" ]; then
  echo "not ok 1 - migrate: $CTL is not built"
  exit 1
fi

ADMIN=$LIAISON_PG_ADMIN_DSN
TMP=$(mktemp -d)
DB1=liaison_test_migrate_$$
DB2=liaison_test_migrate_race_$$
admin() { psql "$ADMIN dbname=postgres" -XAtq -v ON_ERROR_STOP=1 "$@"; }
sql() { psql "$ADMIN dbname=$DB1" -XAtq -v ON_ERROR_STOP=1 -c "$1"; }
cleanup() {
  admin -c "DROP DATABASE IF EXISTS $DB1 WITH (FORCE)" >/dev/null 2>&1
  admin -c "DROP DATABASE IF EXISTS $DB2 WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$TMP"
}
trap cleanup EXIT

if ! admin -c "CREATE DATABASE $DB1" >/dev/null || ! admin -c "CREATE DATABASE $DB2" >/dev/null; then
  echo "not ok 1 - migrate: cannot create scratch databases with LIAISON_PG_ADMIN_DSN"
  exit 1
fi

# A copy of the SQL tree that the test may change; no secrets directory of
# its own, so the roles' real passwords are left as they are.
cp -r "$ROOT/deploy/sql" "$TMP/sql"
# versions after the last real intake migration, for the probe files below
last=$(ls "$TMP/sql/intake" | sed -nE 's/^0*([0-9]+)_.*\.sql$/\1/p' | sort -n | tail -n 1)
P1=$(printf '%03d' $((last + 1)))
P2=$(printf '%03d' $((last + 2)))
mkdir -p "$TMP/secrets"
conf() { # conf FILE DB
  printf '[migrate]\npg_dsn = %s dbname=%s\nsql_dir = %s\nsecrets_dir = %s\n' \
    "$ADMIN" "$2" "$TMP/sql" "$TMP/secrets" >"$1"
}
conf "$TMP/one.conf" "$DB1"
conf "$TMP/two.conf" "$DB2"
migrate() { "$CTL" migrate --admin-config "$TMP/one.conf" "$@" >"$TMP/out" 2>"$TMP/err"; }
SERVICES="intake routing deadline notify report"
# one record per file of a service's directory (_shared directories are taken through links)
NFILES=$(ls "$ROOT"/deploy/sql/[a-z]*/*.sql | wc -l)

# --- usage ------------------------------------------------------------------
"$CTL" migrate --no-such-option >/dev/null 2>&1
check "an unknown option is a usage error (exit 2)" test $? -eq 2
"$CTL" migrate --admin-config "$TMP/absent.conf" >/dev/null 2>"$TMP/err"
rc=$?
check "a missing admin config fails (exit 1) and names the file" \
  bash -c "[ $rc -eq 1 ] && grep -q 'absent.conf: cannot open' '$TMP/err'"
printf '[migrate]\npg_dsn = x\nsql_dirr = y\n' >"$TMP/bad.conf"
"$CTL" migrate --admin-config "$TMP/bad.conf" >/dev/null 2>"$TMP/err"
check "an unknown key is reported with file and line" grep -q 'bad.conf:3: \[migrate\] unknown key "sql_dirr"' "$TMP/err"

# --- empty database -----------------------------------------------------------
migrate --status
rc=$?
check "status on an empty database: every migration pending" \
  bash -c "[ $rc -eq 0 ] && [ \$(grep -c ' pending ' '$TMP/out') -eq $NFILES ]"

migrate --dry-run
rc=$?
check "dry run lists the work and changes nothing" \
  bash -c "[ $rc -eq 0 ] && grep -q 'would apply intake/001_schema.sql' '$TMP/out' &&
           [ \"\$(psql \"$ADMIN dbname=$DB1\" -XAtqc \"SELECT to_regnamespace('liaison_meta') IS NULL\")\" = t ]"

migrate
rc=$?
if [ $rc -eq 0 ]; then ok "apply to an empty database"; else not_ok "apply to an empty database" "$(cat "$TMP/err")"; fi
check "one record row per file" test "$(sql 'SELECT count(*) FROM liaison_meta.migrations')" -eq "$NFILES"

owners_ok=1
for s in $SERVICES; do
  [ "$(sql "SELECT nspowner::regrole FROM pg_namespace WHERE nspname = '$s'")" = "liaison_$s" ] || owners_ok=0
done
check "each schema is owned by its service's role" test $owners_ok -eq 1

attrs_ok=1
for s in $SERVICES; do
  [ "$(sql "SELECT rolcanlogin AND NOT rolsuper AND NOT rolcreatedb AND NOT rolcreaterole
            AND NOT rolreplication AND NOT rolbypassrls FROM pg_roles WHERE rolname = 'liaison_$s'")" = t ] \
    || attrs_ok=0
done
check "roles log in and have no superuser, createdb, createrole, replication or bypassrls" test $attrs_ok -eq 1

# --- re-run -------------------------------------------------------------------
before=$(sql "SELECT string_agg(service || version || applied_at, ',' ORDER BY service) FROM liaison_meta.migrations")
migrate
rc=$?
after=$(sql "SELECT string_agg(service || version || applied_at, ',' ORDER BY service) FROM liaison_meta.migrations")
check "re-run is a no-op" bash -c "[ $rc -eq 0 ] && grep -q '^up to date' '$TMP/out' && [ '$before' = '$after' ]"

# --- least privilege ------------------------------------------------------------
sql "SET ROLE liaison_routing; CREATE TABLE routing.secret (x int); INSERT INTO routing.secret VALUES (1)" >/dev/null
out=$(sql "SET ROLE liaison_intake; SELECT * FROM routing.secret" 2>&1)
check "liaison_intake cannot read liaison_routing's schema" grep -q 'permission denied for schema routing' <<<"$out"
out=$(sql "SET ROLE liaison_intake; CREATE TABLE public.t (x int)" 2>&1)
check "liaison_intake cannot create in public" grep -q 'permission denied for schema public' <<<"$out"
out=$(sql "SET ROLE liaison_intake; CREATE SCHEMA elsewhere" 2>&1)
check "liaison_intake cannot create a schema" grep -q 'permission denied for database' <<<"$out"
check "liaison_intake works in its own schema and reads the record" \
  test "$(sql "SET ROLE liaison_intake; CREATE TABLE intake.mine (x int); SELECT count(*) > 0 FROM liaison_meta.migrations WHERE service = 'intake'")" = t
check "PUBLIC may not connect to the database" \
  test "$(sql "SELECT has_database_privilege('public', current_database(), 'CONNECT')")" = f

# --- a later migration runs as the service's role ----------------------------------
cat >"$TMP/sql/intake/${P1}_probe.sql" <<'SQL'
-- A later migration: runs as liaison_intake, search_path = intake.
CREATE TABLE probe (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  note text NOT NULL DEFAULT 'semi;colon -- not a comment'
);
CREATE FUNCTION probe_count() RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM probe; -- a semicolon inside a dollar quote
$$;
COMMENT ON TABLE probe IS '测试表；含中文';
SQL
migrate
rc=$?
check "a later migration is applied" bash -c "[ $rc -eq 0 ] && grep -q 'applied intake/${P1}_probe.sql' '$TMP/out'"
check "what it creates is owned by the service's role" \
  test "$(sql "SELECT relowner::regrole FROM pg_class WHERE oid = 'intake.probe'::regclass")" = liaison_intake
check "statements split around quotes, comments and dollar quotes" \
  test "$(sql "SET search_path = intake; SELECT probe_count()")" = 0
out=$(sql "SET ROLE liaison_routing; SELECT intake.probe_count()" 2>&1)
check "another service cannot call its functions" grep -q 'permission denied' <<<"$out"

# --- a failing migration rolls back that file only ----------------------------------
cat >"$TMP/sql/intake/${P2}_broken.sql" <<'SQL'
CREATE TABLE first_half (x int);

-- the error is on the line below
CREATE INDEX ON no_such_table (x);
SQL
migrate
rc=$?
check "a failing migration fails the run (exit 1)" test $rc -eq 1
check "the error names the file and line" grep -q "intake/${P2}_broken.sql:4: ERROR: relation \"no_such_table\" does not exist" "$TMP/err"
check "the error shows the statement" grep -q 'statement: CREATE INDEX ON no_such_table (x)' "$TMP/err"
check "the failing file is rolled back, the earlier ones stay" \
  test "$(sql "SELECT to_regclass('intake.first_half') IS NULL AND to_regclass('intake.probe') IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM liaison_meta.migrations WHERE service = 'intake' AND version = $((10#$P2)))")" = t
rm "$TMP/sql/intake/${P2}_broken.sql"

printf 'BEGIN;\nCREATE TABLE x (y int);\nCOMMIT;\n' >"$TMP/sql/intake/${P2}_tx.sql"
migrate
rc=$?
check "a file that manages its own transaction is refused" \
  bash -c "[ $rc -eq 1 ] && grep -q '${P2}_tx.sql:1: BEGIN' '$TMP/err'"
rm "$TMP/sql/intake/${P2}_tx.sql"

# --- checksums --------------------------------------------------------------------
echo "-- edited after it was applied" >>"$TMP/sql/routing/001_schema.sql"
migrate
rc=$?
check "a changed applied file is an error naming the file" \
  bash -c "[ $rc -eq 1 ] && grep -q 'routing/001_schema.sql: changed after it was applied' '$TMP/err'"
migrate --status
rc=$?
check "status shows it as changed (exit 1)" \
  bash -c "[ $rc -eq 1 ] && grep -qE '^routing +001 +001_schema.sql +changed' '$TMP/out'"
cp "$ROOT/deploy/sql/routing/001_schema.sql" "$TMP/sql/routing/001_schema.sql"

mv "$TMP/sql/intake/${P1}_probe.sql" "$TMP/${P1}_probe.sql"
migrate
rc=$?
check "an applied migration whose file is gone is an error" \
  bash -c "[ $rc -eq 1 ] && grep -q 'intake $P1 ${P1}_probe.sql: applied on .* but its file is gone' '$TMP/err'"
mv "$TMP/${P1}_probe.sql" "$TMP/sql/intake/${P1}_probe.sql"

migrate --status
rc=$?
check "status lists every migration as applied" \
  bash -c "[ $rc -eq 0 ] && [ \$(grep -c ' applied ' '$TMP/out') -eq $((NFILES + 1)) ] &&
           grep -qE '^intake +$P1 +${P1}_probe.sql +applied +[0-9]{4}-' '$TMP/out'"

# --- two migrators at once ----------------------------------------------------------
"$CTL" migrate --admin-config "$TMP/two.conf" >"$TMP/r1" 2>&1 &
p1=$!
"$CTL" migrate --admin-config "$TMP/two.conf" >"$TMP/r2" 2>&1 &
p2=$!
wait $p1; rc1=$?
wait $p2; rc2=$?
rows=$(psql "$ADMIN dbname=$DB2" -XAtqc "SELECT count(*) FROM liaison_meta.migrations")
if [ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && [ "$rows" -eq $((NFILES + 1)) ]; then
  ok "two migrators at once: both succeed, each file applied once"
else
  not_ok "two migrators at once: both succeed, each file applied once" "rc $rc1 $rc2 rows $rows" \
    "$(cat "$TMP/r1" "$TMP/r2")"
fi

echo "1..$n"
