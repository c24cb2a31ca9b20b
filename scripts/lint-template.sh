#!/usr/bin/env bash
# Lint the SAM template offline with cfn-lint and `sam validate --lint`.
# Usage: scripts/lint-template.sh [VENV_BIN_DIR]   (default: .venv/bin)
# The venv needs cfn-lint and aws-sam-cli installed; no AWS access is used,
# the credentials below are dummies that only keep the SDK from complaining.
set -euo pipefail

# A bin dir given on the command line is relative to the caller's directory;
# the default is relative to the repository root.
if [[ $# -ge 1 ]]; then
  bin=$(cd "$1" 2>/dev/null && pwd) || bin=$1
fi
cd "$(dirname "$0")/.."
bin=${bin:-.venv/bin}
for tool in cfn-lint sam; do
  if [[ ! -x "$bin/$tool" ]]; then
    echo "lint-template: $bin/$tool not found (pass the venv bin dir as \$1)" >&2
    exit 2
  fi
done

export AWS_ACCESS_KEY_ID=x
export AWS_SECRET_ACCESS_KEY=x
export AWS_DEFAULT_REGION=us-east-1
export SAM_CLI_TELEMETRY=0

echo "==> cfn-lint template.yaml"
"$bin/cfn-lint" template.yaml

echo "==> sam validate --lint"
"$bin/sam" validate --lint --template template.yaml --region us-east-1
