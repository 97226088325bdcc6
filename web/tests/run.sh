#!/usr/bin/env bash
# Sets up (idempotently) and runs the resident page's real-browser test.
# The caller starts a cityfix server and passes its base URL:
#   CITYFIX_URL=http://127.0.0.1:3000 bash web/tests/run.sh
set -euo pipefail

cd "$(dirname "$0")/.."

if [ -z "${CITYFIX_URL:-}" ]; then
  echo "run.sh: set CITYFIX_URL to the base URL of a running cityfix server" >&2
  exit 2
fi

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  echo "run.sh: installing chromium"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y chromium
  CHROMIUM=/usr/bin/chromium
fi
export CHROMIUM

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "run.sh: node and npm are needed" >&2
  exit 2
fi

# Install dependencies only when missing or older than the lock file.
if [ -f package-lock.json ]; then
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ] || [ ! -f node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund
  fi
elif [ ! -d node_modules ]; then
  npm install --no-audit --no-fund
fi

exec node --test tests/
