#!/usr/bin/env bash
# `make fuzz`: schemathesis against a private copy of the `make dev` stack
# (moto + `cargo lambda watch`, both on free loopback ports), driven by
# openapi.yaml. Fails on any server error or any response the spec does not
# describe. Stops everything it started, whatever the outcome.
#   FUZZ_MAX_EXAMPLES  test cases per operation (default 100)
#   FUZZ_TIME_LIMIT    hard limit on the schemathesis run, seconds (default 600)
#   FUZZ_SERVE_ONLY=1  start the stack, print its URL and token, and wait
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"

max_examples=${FUZZ_MAX_EXAMPLES:-100}
time_limit=${FUZZ_TIME_LIMIT:-600}
dir=.dev/fuzz
rm -rf "$dir"
mkdir -p "$dir"

moto_port=$(scripts/moto.sh free-port)
api_port=$(scripts/moto.sh free-port)
. scripts/stack.sh
stack_env "$dir/env" "$moto_port" fuzz warn

pids=()
cleanup() {
  [ "${#pids[@]}" -gt 0 ] || return 0
  for pid in "${pids[@]}"; do
    # cargo lambda watch runs each function as a child process: end its group.
    kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  # moto is not this shell's child; give it 15 s to finish a request, then end it.
  for _ in $(seq 1 30); do
    kill -0 "${pids[0]}" 2>/dev/null || return 0
    sleep 0.5
  done
  kill -9 "${pids[0]}" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pids+=("$(scripts/moto.sh start "$moto_port" "$dir/moto.log")")

# cargo lambda watch compiles a function on its first request: build them all first.
cargo build -p ping -p coupons -p consume -p exports -p campaigns -p redemptions -p webhooks -p console -p cms-admin
admin=target/debug/cms-admin
"$admin" setup --bucket "$EXPORT_BUCKET" >/dev/null
# A high rate limit, so that the token bucket does not answer most requests.
token=$("$admin" tenant create fuzz --id fuzz --rate 100000 --burst 100000 | tail -n 1)

set -m # the watcher gets its own process group, so cleanup reaches its children
cargo lambda watch --ignore-changes --invoke-address 127.0.0.1 --invoke-port "$api_port" \
  --env-file "$dir/env" >"$dir/watch.log" 2>&1 &
pids+=("$!")
set +m

base=http://127.0.0.1:$api_port
stack_wait_api "$base" "$dir/watch.log"
# Warm each function once (its first request runs the binary).
auth=(-H "Authorization: Bearer $token")
curl -sS -o /dev/null "${auth[@]}" "$base/coupon?limit=1"
curl -sS -o /dev/null "${auth[@]}" "$base/coupon/consume?code=WARMUP"
curl -sS -o /dev/null "${auth[@]}" "$base/exports?limit=1"
curl -sS -o /dev/null "${auth[@]}" "$base/campaigns?limit=1"
curl -sS -o /dev/null "${auth[@]}" "$base/redemptions?limit=1"
curl -sS -o /dev/null "${auth[@]}" "$base/webhooks"
# A few coupons for the generated requests to find.
for code in FUZZ1 FUZZ2 FUZZ3; do
  curl -sS -o /dev/null "${auth[@]}" -X POST "$base/coupon" \
    -d code=$code -d availability_count=1000000 -d discount_percent=10
done

if [ -n "${FUZZ_SERVE_ONLY:-}" ]; then
  # Debugging: keep the stack up for hand-made requests until interrupted.
  printf 'fuzz: serving %s\nfuzz: token %s\n' "$base" "$token"
  wait "${pids[-1]}"
  exit 0
fi

# Conformance of every answer to openapi.yaml, plus: no route answers without
# a token, undeclared methods get 405 with Allow, deleted things stay gone,
# created things can be read.
checks=not_a_server_error,status_code_conformance,content_type_conformance
checks+=,response_schema_conformance,response_headers_conformance,missing_required_header
checks+=,ignored_auth,unsupported_method,use_after_free,ensure_resource_availability

echo "fuzz: schemathesis against $base (max $max_examples examples per operation, ${time_limit}s limit)"
started=$(date +%s)
status=0
EMULATOR_500_LOG="$dir/emulator-500.txt" SCHEMATHESIS_HOOKS=fuzz_hooks PYTHONPATH="$PWD/scripts" \
  timeout --signal=INT --kill-after=30 "$time_limit" \
  schemathesis run openapi.yaml \
  --url "$base" \
  --header "Authorization: Bearer $token" \
  --checks "$checks" \
  --max-examples "$max_examples" \
  --request-timeout 30 \
  --workers 2 \
  --seed 1 \
  --no-color \
  --generation-database none \
  --report har --report-har-path "$dir/requests.har" \
  >"$dir/schemathesis.log" 2>&1 || status=$?
elapsed=$(( $(date +%s) - started ))
cat "$dir/schemathesis.log"
requests=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["log"]["entries"]))' \
  "$dir/requests.har" 2>/dev/null || echo unknown)
echo "fuzz: $requests requests in ${elapsed}s, schemathesis status $status (log $dir/schemathesis.log)"
# The functions log every answer's status: none may be a 5xx.
if grep -E '"Status":5[0-9][0-9]' "$dir/watch.log" >"$dir/server-errors.txt"; then
  echo "fuzz: the functions answered 5xx:" >&2
  head -20 "$dir/server-errors.txt" >&2
  status=1
fi
if [ -s "$dir/emulator-500.txt" ]; then
  echo "fuzz: cargo lambda watch itself answered 500 (not the functions; see scripts/fuzz_hooks.py):"
  cat "$dir/emulator-500.txt"
fi
exit "$status"
