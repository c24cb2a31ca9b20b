#!/usr/bin/env bash
# `make e2e`: the operator console's browser test (scripts/console-e2e.sh)
# against a make dev stack of its own, on free loopback ports, stopped at
# the end. `make test` runs the same test against dev-stays-up's stack.
# Screenshots go to $E2E_SCREENSHOTS (default .dev/console-e2e/screenshots;
# `make e2e E2E_SCREENSHOTS=docs` renews the README's).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
dir=.dev/console-e2e
rm -rf "$dir" && mkdir -p "$dir"
token=cms_console_e2e_check_token
. scripts/stack.sh
# Bulk jobs finish within seconds, as under make dev.
JOBS_INTERVAL=3 stack_start_dev "$dir" "$token"
trap 'kill -- -"$STACK_PID" 2>/dev/null || true; wait 2>/dev/null || true' EXIT
stack_wait_api "$STACK_URL" "$dir/dev.log"
scripts/console-e2e.sh "$STACK_URL" "$token" "${E2E_SCREENSHOTS:-$dir/screenshots}"
