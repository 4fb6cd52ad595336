#!/usr/bin/env bash
# make chaos-bus as part of make test: a producer and a consumer daemon killed
# with -9 at random moments under load, PostgreSQL restarted once; every
# event must be applied exactly once and in order. (Named to run last: it
# restarts the shared PostgreSQL.)
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
B=${B:-build}
[ -x "$B/tests/bus_producer" ] && [ -x "$B/tests/bus_consumer" ] || skip_all "bus drivers not built"
LOG=$B/test-logs/chaos_bus.run.log
B=$B tests/bus/chaos.sh >"$LOG" 2>&1
rc=$?
last=$(tail -n 1 "$LOG")
echo "# $last"
ok "chaos-bus run succeeded" test "$rc" -eq 0
ok "chaos-bus: nothing lost, duplicated or reordered" \
  bash -c "[[ '$last' =~ ^events=[0-9]+\ lost=0\ duplicated=0\ reordered=0$ ]]"
ok "chaos-bus: at least 20000 events" bash -c "[ \"\$(sed -E 's/^events=([0-9]+).*/\1/' <<<'$last')\" -ge 20000 ]"
tap_done
