#!/usr/bin/env bash
# `make bench`, part 3: code generation beside the npm voucher-code-generator,
# the same count, length and alphabet in the same run. Each generator runs RUNS
# times, taking turns, and the table shows the median of each (the runs are
# listed too: on a shared machine single runs vary).
#   usage: scripts/bench-codegen.sh [COUNT] [LENGTH] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-1000000}
length=${2:-12}
runs=${3:-5}
mkdir -p .dev/bench-node
if [ ! -d .dev/bench-node/node_modules/voucher-code-generator ]; then
  npm install --silent --no-audit --no-fund --prefix .dev/bench-node voucher-code-generator@1.3.0 >/dev/null
fi
cargo build --quiet --profile measure -p common --example codegen_bench
ours=target/measure/examples/codegen_bench

# Each run prints "WALL CPU" in seconds.
service=() job=() npm=()
for run in $(seq 1 "$runs"); do
  service+=("$("$ours" service "$count" "$length" 2>/dev/null)")
  job+=("$("$ours" job "$count" "$length" 2>/dev/null)")
  npm+=("$(NODE_PATH=.dev/bench-node/node_modules node scripts/bench_codegen.js "$count" "$length" 2>/dev/null)")
  echo "bench-codegen: run $run of $runs done" >&2
done

# median COLUMN RUNS...: the median of field COLUMN (1 wall, 2 CPU) of the runs.
median() {
  local column=$1
  shift
  printf '%s\n' "$@" | awk -v c="$column" '{ print $c }' | sort -g |
    awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
walls() { printf '%s\n' "$@" | awk '{ print $1 }' | paste -sd ' ' - | sed 's/ /, /g'; }
npm_wall=$(median 1 "${npm[@]}")

echo "Machine: $(nproc) vCPU, $(awk '/^MemTotal:/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo) GiB, $(. /etc/os-release && echo "$PRETTY_NAME"), $(rustc --version | cut -d' ' -f1-2), node $(node --version); $(date -u +%F); load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| generator (code path) | distinct codes | length | median wall time (s) | wall times of the $runs runs (s) | median CPU time (s) | npm's median wall time ÷ this one |"
echo "|---|---|---|---|---|---|---|"
row() {
  local name=$1
  shift
  local wall cpu
  wall=$(median 1 "$@")
  cpu=$(median 2 "$@")
  awk -v n="$name" -v c="$count" -v l="$length" -v w="$wall" -v all="$(walls "$@")" -v cpu="$cpu" -v t="$npm_wall" \
    'BEGIN { printf "| %s | %d | %d | %.3f | %s | %.3f | %.1f |\n", n, c, l, w, all, cpu, t / w }'
}
row "this service, POST /coupon (CodeFormat::distinct)" "${service[@]}"
row "this service, bulk job worker (SlotDraws::draw = Job::slot_code per slot)" "${job[@]}"
row "npm voucher-code-generator 1.3.0 (node $(node --version))" "${npm[@]}"
