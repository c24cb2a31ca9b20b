#!/usr/bin/env bash
# Runs a command against a private moto server on a free loopback port, and
# stops the server afterwards whatever the command's outcome.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .dev
port=$(scripts/moto.sh free-port)
pid=$(scripts/moto.sh start "$port" .dev/moto-test.log)
trap 'kill "$pid" 2>/dev/null || true' EXIT
export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
# Keep the SDK from probing instance metadata or reading a developer's profile.
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
"$@"
