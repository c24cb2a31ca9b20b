#!/usr/bin/env bash
# Runs a command against a private moto server on a free loopback port, and
# stops the server afterwards whatever the command's outcome.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .dev
port=$(scripts/moto.sh free-port)
pid=$(scripts/moto.sh start "$port" .dev/moto-test.log)
trap 'kill "$pid" 2>/dev/null || true' EXIT
. scripts/stack.sh
set -a
eval "$(stack_aws_env "$port")"
set +a
"$@"
