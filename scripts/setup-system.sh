#!/usr/bin/env bash
# System packages the test suite needs: Debian's Chromium for the browser tests (WebRTC, H.264 decode).
# Idempotent: does nothing when /usr/bin/chromium exists; runs apt-get only as root.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-system: /usr/bin/chromium is missing; as root run: apt-get update && apt-get install -y chromium" >&2
  exit 0
fi
apt-get update && apt-get install -y chromium
