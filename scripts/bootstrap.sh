#!/usr/bin/env bash
# Creates .venv with the pinned local tools (moto server, cargo-lambda,
# cfn-lint, SAM CLI). Re-runs only when requirements-dev.txt changes.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=.venv/.requirements-dev.txt
if [ -x .venv/bin/python ] && cmp -s requirements-dev.txt "$stamp"; then
  exit 0
fi
echo "bootstrap: installing pinned tools into .venv (first run takes a few minutes)" >&2
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
cp requirements-dev.txt "$stamp"
