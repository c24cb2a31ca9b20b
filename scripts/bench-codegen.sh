#!/usr/bin/env bash
# `make bench`, part 3: code generation beside the npm voucher-code-generator,
# the same count and length in the same run.   usage: scripts/bench-codegen.sh [COUNT] [LENGTH]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-1000000}
length=${2:-12}
mkdir -p .dev/bench-node
if [ ! -d .dev/bench-node/node_modules/voucher-code-generator ]; then
  npm install --silent --no-audit --no-fund --prefix .dev/bench-node voucher-code-generator@1.3.0 >/dev/null
fi
cargo build --quiet --profile measure -p common --example codegen_bench
ours=$(target/measure/examples/codegen_bench "$count" "$length" 2>/dev/null)
theirs=$(NODE_PATH=.dev/bench-node/node_modules node scripts/bench_codegen.js "$count" "$length" 2>/dev/null)
echo "| generator | distinct codes | length | wall time (s) | our speed-up over it |"
echo "|---|---|---|---|---|"
echo "| this service (CouponCode::generate_with_fingerprint, fingerprint set) | $count | $length | $ours | 1.0 |"
NODE_VERSION=$(node --version) awk -v o="$ours" -v t="$theirs" -v c="$count" -v l="$length" \
  'BEGIN { printf "| npm voucher-code-generator 1.3.0 (node %s) | %d | %d | %s | %.1f |\n", ENVIRON["NODE_VERSION"], c, l, t, t / o }'
