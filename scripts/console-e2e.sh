#!/usr/bin/env bash
# The operator console's browser end-to-end test (e2e/console.mjs) against a
# running stack, with Debian's Chromium driven by playwright-core:
#
#   scripts/console-e2e.sh BASE_URL TOKEN OUT_DIR
#   e.g. scripts/console-e2e.sh http://127.0.0.1:9000 "$TOKEN" .dev/console-e2e
#
# Installs Chromium from Debian when it is missing (like print-tools.sh) and
# the pinned playwright-core when e2e/node_modules is missing or older than
# e2e/package-lock.json (installs have their own time limits). The test
# itself stops within 150 s whatever happens (20 s more waiting for the
# stack); it writes screenshots and the downloaded export to OUT_DIR.
# Loopback only: BASE_URL must be http://127.0.0.1, localhost or [::1].
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -ne 3 ]; then
  echo "usage: $0 BASE_URL TOKEN OUT_DIR" >&2
  exit 2
fi
base=$1 token=$2 out=$3
case "$base" in
  http://127.0.0.1:* | http://127.0.0.1/* | http://127.0.0.1 | http://localhost:* | http://localhost | http://\[::1\]:*) ;;
  *) echo "console-e2e: BASE_URL must be a loopback http URL, not $base" >&2; exit 2 ;;
esac

chromium=/usr/bin/chromium
if ! [ -x "$chromium" ]; then
  as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
  install() {
    as_root env DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends \
      chromium >/dev/null
  }
  echo "console-e2e: installing chromium from Debian" >&2
  # Package lists may be missing or stale on a fresh machine.
  install || { as_root timeout 300 apt-get update -qq && install; }
fi

for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "console-e2e: needs $tool (Node 20 or later)" >&2; exit 1; }
done
if ! [ -d e2e/node_modules ] || [ e2e/package-lock.json -nt e2e/node_modules ]; then
  echo "console-e2e: npm ci in e2e/ (playwright-core, pinned; no browser download)" >&2
  (cd e2e && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 timeout 300 npm ci --no-audit --no-fund --loglevel=error)
  touch e2e/node_modules
fi

# The export is read back with openpyxl from .venv (requirements-dev.txt).
python=.venv/bin/python
if ! "$python" -c 'import openpyxl' 2>/dev/null; then
  scripts/bootstrap.sh
  "$python" -c 'import openpyxl' 2>/dev/null || {
    echo "console-e2e: .venv has no openpyxl; add it to requirements-dev.txt or run .venv/bin/pip install openpyxl" >&2
    exit 1
  }
fi

# `cargo lambda watch` restarts functions while Rust changes: wait (20 s at
# most) until the API and the console both answer.
ready=
give_up=$((SECONDS + 20))
while [ "$SECONDS" -lt "$give_up" ]; do
  if curl -fs -o /dev/null --max-time 2 "$base/ping" && curl -fs -o /dev/null --max-time 2 "$base/console/"; then
    ready=1
    break
  fi
  sleep 1
done
[ -n "$ready" ] || { echo "console-e2e: $base/ping or $base/console/ does not answer" >&2; exit 1; }

mkdir -p "$out"
PYTHON="$PWD/$python" CHROMIUM="$chromium" \
  timeout --kill-after=5 150 node e2e/console.mjs "$base" "$token" "$out"
