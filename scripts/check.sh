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
set +e
pytest --durations=40 "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi
exit "$rc"
