#!/usr/bin/env bash
# Every check CI runs: lint, format, types, layer contracts, then the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff check"; ruff check .
echo "== ruff format --check"; ruff format --check .
echo "== mypy"; mypy
echo "== import-linter"; lint-imports
echo "== pytest"
# The PostgreSQL variants fail rather than skip when PostgreSQL is missing: CI runs both backends.
export DFR_REQUIRE_POSTGRES=1
# The scenario suite is one test of about 5 minutes of simulated flights, mostly waiting on the
# vehicles' clock: with no arguments it runs in a second pytest beside the rest, its output after.
SCENARIO_SUITE=tests/simulator/scenarios/test_ci_scenarios.py::test_ci_suite_passes_and_writes_the_report
set +e
if [ "$#" -eq 0 ]; then
  mkdir -p test-artifacts
  pytest -p no:cacheprovider "$SCENARIO_SUITE" > test-artifacts/scenario-suite.log 2>&1 &
  suite_pid=$!
  # An interrupted run leaves no pytest behind.
  trap 'kill "$suite_pid" 2>/dev/null || true' EXIT
  pytest --durations=40 --deselect "$SCENARIO_SUITE"
  rc=$?
  wait "$suite_pid"
  suite_rc=$?
  echo "== pytest $SCENARIO_SUITE (ran beside the rest)"
  cat test-artifacts/scenario-suite.log
  if [ "$rc" -eq 0 ]; then rc=$suite_rc; fi
else
  pytest --durations=40 "$@"
  rc=$?
fi
set -e
if [ "$rc" -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi
exit "$rc"
