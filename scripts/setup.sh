#!/usr/bin/env bash
# Installs everything the project needs on a fresh machine: a .venv with the package and its dev tools,
# Chromium and PostgreSQL (Debian packages) for the browser and database tests, and the console's npm packages. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[dev]"
  rm -f .venv/.installed-*; touch "$stamp"
fi
if [ -x scripts/setup-system.sh ]; then bash scripts/setup-system.sh; fi
# The console's browser libraries (Leaflet, protomaps-leaflet) from npm, copied where the service serves them: no CDN.
if command -v npm >/dev/null 2>&1 && [ -f package-lock.json ]; then
  if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json .venv/.npm-lock; then
    npm ci --no-audit --no-fund --loglevel=error && cp package-lock.json .venv/.npm-lock
  fi
  mkdir -p dfr/console/static/vendor/leaflet && cp -r node_modules/leaflet/dist/. dfr/console/static/vendor/leaflet/
  # protomaps-leaflet draws the vector basemap (its one-file browser build, global protomapsL).
  mkdir -p dfr/console/static/vendor/protomaps-leaflet && cp node_modules/protomaps-leaflet/dist/protomaps-leaflet.js dfr/console/static/vendor/protomaps-leaflet/
else
  echo "setup: npm is missing; the console's map needs it (apt-get install -y npm)" >&2
fi
