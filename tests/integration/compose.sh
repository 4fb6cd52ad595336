#!/usr/bin/env bash
# docker-compose.yml describes the same stack: it must parse and name every daemon.
cd "$(dirname "$0")/../.."
n=0
check() { n=$((n + 1)); if eval "$2" >/dev/null 2>&1; then echo "ok $n - $1"; else echo "not ok $n - $1"; fi; }
if ! command -v docker-compose >/dev/null; then echo "ok 1 # SKIP docker-compose not installed"; exit 0; fi
check "docker-compose.yml is valid" "docker-compose config -q"
for d in intake routing deadline notify report; do
  check "compose runs liaison-$d" "docker-compose config | grep -q 'liaison-$d'"
done
check "compose migrates before the daemons start" "docker-compose config | grep -q service_completed_successfully"
