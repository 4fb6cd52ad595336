#!/usr/bin/env bash
# End to end through liaisonctl against a private liaison-intake: the demo
# court loaded by scripts/demo, tokens, registration by flags and by file,
# show and list, refusals with their exit codes, a CSV refused row by row,
# a term ended. TAP.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
source tests/lib/tap.sh
B=${B:-build}
[ -n "${LIAISON_PG_ADMIN_DSN:-}" ] || skip_all "no database (scripts/services up)"
CTL=$ROOT/$B/bin/liaisonctl

env_out=$(tests/lib/intake.sh up ctl) || { echo "not ok 1 - start a private liaison-intake"; exit 1; }
eval "$env_out"
trap 'tests/lib/intake.sh down "$INTAKE_SCHEMA" "$INTAKE_PID" "$INTAKE_DIR" >/dev/null 2>&1' EXIT

# liaisonctl's configuration, as scripts/write-config writes it
VAR=$INTAKE_DIR
cat >"$VAR/liaisonctl.conf" <<INI
[liaisonctl]
intake = $INTAKE_URL
token_file = $INTAKE_DIR/operator.token
INI
export LIAISON_CONFIG=$VAR/liaisonctl.conf

ok "scripts/demo loads the demo court" env B="$B" scripts/demo "$VAR"
ok "scripts/demo again changes nothing" bash -c "env B=$B scripts/demo $VAR | grep -q 'deputies: 40 rows — 0 new, 0 changed, 40 unchanged'"
ok "directory show deputies lists 40" bash -c "$CTL directory show --court gz-liwan deputies --json | jq -e '.deputies | length == 40'"
ok "directory show staff, a table" bash -c "$CTL directory show --court gz-liwan staff | grep -q 罗佳"
ok "department with its supervising leader" bash -c "$CTL directory show --court gz-liwan departments --json | jq -e '.departments[] | select(.code == \"xz\") | .supervising_leader == \"s03\"'"

tok=$($CTL token create --role liaison_office --court gz-liwan --name 联络办 2>/dev/null)
ok "token create prints a token" test -n "$tok"
$CTL token create --role leader --court gz-liwan --json >"$VAR/leader.json" 2>/dev/null
ok "token create --json" jq -e '.role == "leader" and (.token | startswith("lst_"))' "$VAR/leader.json"
$CTL token create --role bogus --court gz-liwan >/dev/null 2>&1; rc=$?
ok "token create with an unknown role: refused, exit 3" test "$rc" = 3

export LIAISON_TOKEN=$tok
RA=$(date -u +%Y-%m-%dT%H:%M:%SZ)
out=$($CTL item register --received-at "$RA" --court gz-liwan --kind between-sessions --channel letter --source deputy-direct \
      --deputy d001 --deputy d002 --lead d001 --title "关于加强诉前调解的建议" --content "建议在各街道设立诉前调解工作室。" \
      --idempotency-key e2e-1 --json)
ok "item register by flags" jq -e '.registration_number | test("^荔法联〔[0-9]{4}〕1号$")' <<<"$out"
id=$(jq -r .item_id <<<"$out")
again=$($CTL item register --court gz-liwan --kind between-sessions --channel letter --source deputy-direct \
      --deputy d001 --deputy d002 --lead d001 --title "关于加强诉前调解的建议" --content "建议在各街道设立诉前调解工作室。" \
      --idempotency-key e2e-1 --json --received-at "$RA")
ok "the same key and body: the first result" test "$(jq -r .item_id <<<"$again")" = "$id"

cat >"$VAR/item.json" <<JSON
{"kind": "session-suggestion", "channel": "session-delivery", "source": "congress", "court_role": "lead",
 "session": {"congress": "荔湾区第十七届人民代表大会", "term_number": 17, "meeting_number": 5, "closing_date": "2026-01-20"},
 "deputies": [{"deputy": "d003", "lead": true}, {"deputy": "p001"}],
 "title": "关于优化涉企案件审理的建议", "content": "正文……", "received_at": "$(date -u +%Y-%m-%dT%H:%M:%SZ)"}
JSON
ok "item register --file" bash -c "$CTL item register --court gz-liwan --file $VAR/item.json | grep -q '荔法联〔.*〕2号'"
ok "item show, for people" bash -c "$CTL item show --court gz-liwan $id | grep -q '领衔'"
ok "item show --json" bash -c "$CTL item show --court gz-liwan $id --json | jq -e '.deputies | length == 2'"
ok "item list" bash -c "$CTL item list --court gz-liwan | grep -q '(2 items)'"
ok "item list --kind filters" bash -c "$CTL item list --court gz-liwan --kind session-suggestion --json | jq -e '.items | length == 1'"

$CTL item register --court gz-liwan --kind remark --channel phone --source deputy-direct --deputy d901 \
  --title t --content c >/dev/null 2>"$VAR/err"; rc=$?
ok "a deputy whose term ended: exit 3" test "$rc" = 3
ok "... and the problem names the field" grep -q 'deputy_term_ended (deputies\[0\].deputy)' "$VAR/err"
$CTL item register --court gz-liwan --kind remark >/dev/null 2>&1; rc=$?
ok "missing flags: usage, exit 2" test "$rc" = 2
LIAISON_TOKEN=nope $CTL item list --court gz-liwan >/dev/null 2>&1; rc=$?
ok "a wrong token: exit 3" test "$rc" = 3
LIAISON_INTAKE_URL=http://127.0.0.1:9 $CTL item list --court gz-liwan >/dev/null 2>&1; rc=$?
ok "no daemon: exit 1" test "$rc" = 1

printf '编号,姓名,类别,级别\nx1,好人,人大代表,区\nx2,,人大代表,区\nx3,坏级别,人大代表,乡\n' >"$VAR/bad.csv"
$CTL directory import --court gz-liwan deputies "$VAR/bad.csv" >/dev/null 2>"$VAR/err"; rc=$?
ok "a CSV with bad rows: refused, exit 3" test "$rc" = 3
ok "... one error per bad row, with line and column" bash -c "grep -q 'line 3, column name' $VAR/err && grep -q 'line 4, column level' $VAR/err"
ok "... and no row stored" bash -c "! $CTL directory show --court gz-liwan deputies --json | jq -e '.deputies[] | select(.code == \"x1\")'"

unset LIAISON_TOKEN
ok "end a deputy's term" $CTL directory end-term --court gz-liwan d004 --date 2026-06-30 --reason 调任
$CTL item register --court gz-liwan --kind remark --channel phone --source deputy-direct --deputy d004 \
  --title t --content c >/dev/null 2>&1; rc=$?
ok "... then items naming that deputy are refused" test "$rc" = 3
ok "the deputy is still in the directory" bash -c "$CTL directory show --court gz-liwan deputies --json | jq -e '.deputies[] | select(.code == \"d004\") | .term_status == \"ended\"'"
n=$(psql -X -qtA "$LIAISON_PG_ADMIN_DSN" -c "SELECT count(*) FROM $INTAKE_SCHEMA.bus_outbox WHERE type = 'liaison.v1.DeputyTermEnded'")
ok "DeputyTermEnded published once" test "$n" = 1
tap_done
