#!/usr/bin/env bash
# System packages the test suite needs: Debian's Chromium for the browser tests (WebRTC, H.264 decode),
# Debian's PostgreSQL, whose binaries the tests use to run a private server (nothing is started
# here), and nginx and shellcheck, which check deploy/'s load-balancer config and the cluster script.
# Idempotent: apt-get runs only for what is missing, and only as root.
set -euo pipefail
missing=()
if [ ! -x /usr/bin/chromium ]; then
  missing+=(chromium)
fi
if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  missing+=(postgresql)
fi
for tool in nginx shellcheck; do
  if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$tool" ]; then
    missing+=("$tool")
  fi
done
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-system: missing ${missing[*]}; as root run: apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 0
fi
apt-get update && apt-get install -y "${missing[@]}"
