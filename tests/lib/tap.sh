# TAP helpers for integration scripts: source this file.
#   ok "name" CMD...        run CMD; ok if it succeeds
#   wait_for SECONDS CMD... retry CMD every 0.1 s until it succeeds
#   skip_all "reason"
TAP_N=0
TAP_FAILED=0
ok() {
  local name=$1; shift
  TAP_N=$((TAP_N + 1))
  if "$@" >/dev/null 2>&1; then
    echo "ok $TAP_N - $name"
  else
    echo "not ok $TAP_N - $name"
    TAP_FAILED=$((TAP_FAILED + 1))
  fi
}
wait_for() {
  local secs=$1; shift
  local end=$((SECONDS + secs))
  while [ $SECONDS -lt $end ]; do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}
skip_all() { echo "1..0 # SKIP $*"; echo "ok 1 # SKIP $*"; exit 0; }
tap_done() { echo "1..$TAP_N"; [ "$TAP_FAILED" -eq 0 ]; }
http_code() { curl -s -o /dev/null -w '%{http_code}' -m 2 "$1"; }
is_code() { [ "$(http_code "$2")" = "$1" ]; }
