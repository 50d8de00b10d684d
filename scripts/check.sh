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
# Whole flights (the scenario suite and tests/e2e/, about 9 minutes together) mostly wait on the
# simulated vehicles' clock: with no arguments they run in a second pytest beside the rest, their
# output printed after it.
SCENARIO_SUITE=tests/simulator/scenarios/test_ci_scenarios.py::test_ci_suite_passes_and_writes_the_report
set +e
if [ "$#" -eq 0 ]; then
  mkdir -p test-artifacts
  pytest -p no:cacheprovider --durations=10 "$SCENARIO_SUITE" tests/e2e > test-artifacts/flights.log 2>&1 &
  flights_pid=$!
  # An interrupted run leaves no pytest behind.
  trap 'kill "$flights_pid" 2>/dev/null || true' EXIT
  pytest --durations=40 --deselect "$SCENARIO_SUITE" --ignore=tests/e2e
  rc=$?
  wait "$flights_pid"
  flights_rc=$?
  echo "== pytest $SCENARIO_SUITE tests/e2e (ran beside the rest)"
  cat test-artifacts/flights.log
  if [ "$rc" -eq 0 ]; then rc=$flights_rc; fi
else
  pytest --durations=40 "$@"
  rc=$?
fi
set -e
if [ "$rc" -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi
exit "$rc"
