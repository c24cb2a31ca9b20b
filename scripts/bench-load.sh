#!/usr/bin/env bash
# `make bench`, part 5: load on the local stack with oha, then a check that
# the counts add up.
#
#   usage: scripts/bench-load.sh [SECONDS] [CONNECTIONS]     (default 20 s, 32)
#
# With `make dev` running (an API answering on CMS_API_URL, by default
# http://127.0.0.1:9000, and its .env.local) it loads that stack. Otherwise it
# starts one of its own the way `make dev` does, a moto server and
# `cargo lambda watch`, on free loopback ports, and stops both when it ends.
# LOAD_PROFILE=measure (or release) builds that stack's functions optimised;
# LOAD_CONCURRENCY=N lets `cargo lambda watch` run N instances of a function
# (its default, and make dev's, is one). Neither applies to make dev's stack.
#
# It creates a tenant with a rate limit far above what the stack can serve
# and a coupon with 10,000,000 uses, then runs oha for SECONDS at CONNECTIONS
# connections on
#   1. validate  GET  /coupon/consume?code=C&product_id=P
#   2. consume   POST /coupon/consume  {"code": C, "product_id": P}
# and prints throughput, p50, p99 and the status codes of each. Then it checks
# that validating used nothing, that the uses consumed (GET /coupon) equal the
# consume run's 200 answers, and that the redemption log has as many rows
# (POST /exports over the run's time range, for the fresh tenant).
# Everything is on 127.0.0.1; every wait is bounded; it stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
connections=${2:-32}
uses=10000000
product=load-product
mkdir -p .dev
for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "bench-load: needs $tool (apt-get install $tool)" >&2; exit 1; }
done

oha=.dev/tools/bin/oha
if [ ! -x "$oha" ]; then
  echo "bench-load: installing oha into .dev/tools (a few minutes, once)" >&2
  cargo install --quiet --locked oha --root .dev/tools
fi
scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
. scripts/stack.sh

pids=()
cleanup() {
  # Only what this script started: moto by pid, cargo lambda watch by the
  # process group it was started in.
  for pid in "${pids[@]}"; do kill -- "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

answers() { curl -fsS -m 2 -o /dev/null "$1/ping" 2>/dev/null; }

api=${CMS_API_URL:-http://127.0.0.1:9000}
if answers "$api" && [ -f .env.local ]; then
  stack="make dev's stack at $api (cargo lambda watch as make dev starts it: dev profile, one instance per function)"
  set -a; . ./.env.local; set +a
  api=${CMS_API_URL:-$api}
else
  echo "bench-load: no API answering at $api; starting a stack of its own (make dev would do too)" >&2
  moto_port=$(scripts/moto.sh free-port)
  api_port=$(scripts/moto.sh free-port)
  env_file=.dev/bench-load.env
  stack_env "$env_file" "$moto_port" load info
  pids+=("$(scripts/moto.sh start "$moto_port" .dev/bench-load-moto.log)")
  profile=${LOAD_PROFILE:-dev}
  concurrency=${LOAD_CONCURRENCY:-1}
  cargo build --quiet --profile "$profile" --bin coupons --bin consume --bin exports
  watch_args=(--invoke-address 127.0.0.1 --invoke-port "$api_port" --env-file "$env_file"
    --ignore-changes --concurrency "$concurrency")
  if [ "$profile" != dev ]; then watch_args+=(--profile "$profile"); fi
  # Its own process group, so that stopping it stops the functions it runs.
  setsid cargo lambda watch "${watch_args[@]}" >.dev/bench-load-api.log 2>&1 &
  pids+=("-$!")
  api=http://127.0.0.1:$api_port
  stack_wait_api "$api" .dev/bench-load-api.log
  stack="a stack of its own at $api (cargo lambda watch, $profile profile, $concurrency instance(s) per function)"
fi
cargo build --quiet --bin cms-admin
target/debug/cms-admin setup --bucket "$EXPORT_BUCKET" >/dev/null

# A fresh tenant, so its redemption log holds this run's rows and no others.
tenant=load-$(date -u +%Y%m%d%H%M%S)-$RANDOM
token=$(target/debug/cms-admin tenant create "load test" --id "$tenant" \
  --rate 1000000 --burst 1000000 | tail -n 1)
auth="Authorization: Bearer $token"
coupon=$(curl -fsS -m 30 -X POST "$api/coupon" -H "$auth" -H 'Content-Type: application/json' \
  -d "{\"code_length\": 12, \"availability_count\": $uses, \"product_id\": \"$product\"}")
code=$(jq -r .code <<<"$coupon")
uses_left() {
  curl -fsS -m 30 "$api/coupon?code=$code" -H "$auth" | jq -r .availability_count
}

# Warm the functions (a first request starts an instance) without consuming.
for _ in 1 2 3; do
  curl -fsS -m 60 -o /dev/null "$api/coupon/consume?code=$code&product_id=$product" -H "$auth"
done

# run NAME OHA_ARGS...: oha for the duration, its JSON kept in .dev/bench-load-NAME.json.
# -w waits for the requests under way at the deadline, so every request sent
# is answered and counted; -t bounds each one.
run() {
  local name=$1
  shift
  "$oha" --no-tui --output-format json -o ".dev/bench-load-$name.json" -z "${seconds}s" -w -t 30s \
    -c "$connections" -H "$auth" "$@"
}
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
echo "bench-load: validate, $connections connections for $seconds s" >&2
run validate "$api/coupon/consume?code=$code&product_id=$product"
after_validate=$(uses_left)
echo "bench-load: consume, $connections connections for $seconds s" >&2
run consume -m POST -T application/json -d "{\"code\": \"$code\", \"product_id\": \"$product\"}" \
  "$api/coupon/consume"
left=$(uses_left)
sleep 1
ended=$(date -u +%Y-%m-%dT%H:%M:%SZ)
export_json=$(curl -fsS -m 300 -X POST "$api/exports" -H "$auth" -H 'Content-Type: application/json' \
  -d "{\"from\": \"$started\", \"to\": \"$ended\"}")
log_rows=$(jq -r .rows <<<"$export_json")

# One table row per run: req/s, p50 and p99 in ms, the status codes, and
# the requests that got no answer at all.
row() {
  jq -r --arg name "$1" --arg path "$2" '
    [ $name, $path,
      (.summary.requestsPerSec | . * 10 | round / 10 | tostring),
      (.latencyPercentiles.p50 * 1000 | . * 10 | round / 10 | tostring),
      (.latencyPercentiles.p99 * 1000 | . * 10 | round / 10 | tostring),
      (.statusCodeDistribution | to_entries | sort_by(.key) | map("\(.key): \(.value)") | join(", ")),
      ((.errorDistribution // {}) | to_entries | map(.value) | add // 0 | tostring)
    ] | "| " + join(" | ") + " |"' ".dev/bench-load-$1.json"
}
ok=$(jq -r '.statusCodeDistribution."200" // 0' .dev/bench-load-consume.json)
failed=$(jq -r '(.errorDistribution // {}) | to_entries | map(.value) | add // 0' .dev/bench-load-consume.json)
consumed=$((uses - left))

echo "Load: $stack; oha $("$oha" --version | cut -d' ' -f2), $connections connections, $seconds s each;" \
  "$(nproc) vCPU, $(. /etc/os-release && echo "$PRETTY_NAME"), $(rustc --version | cut -d' ' -f1-2)," \
  "moto $(.venv/bin/python -c 'import moto; print(moto.__version__)'); $(date -u +%F);" \
  "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| run | request | requests/s | p50 (ms) | p99 (ms) | status codes | no answer |"
echo "|---|---|---|---|---|---|---|"
row validate "GET /coupon/consume?code=C&product_id=P"
row consume 'POST /coupon/consume {"code","product_id"}'
echo
echo "| check | expected | found | |"
echo "|---|---|---|---|"
verdict() { if [ "$1" = "$2" ]; then echo ok; else echo MISMATCH; fi; }
echo "| uses left after validating (validate consumes nothing) | $uses | $after_validate | $(verdict "$uses" "$after_validate") |"
echo "| uses consumed (GET /coupon) = consume's 200 answers | $ok | $consumed | $(verdict "$ok" "$consumed") |"
echo "| redemption log rows (POST /exports) = consume's 200 answers | $ok | $log_rows | $(verdict "$ok" "$log_rows") |"
if [ "$failed" != 0 ]; then
  echo
  echo "$failed consume requests got no answer (timeout or connection error): each may or may not have consumed a use."
fi
[ "$uses" = "$after_validate" ] && [ "$ok" = "$consumed" ] && [ "$ok" = "$log_rows" ]
