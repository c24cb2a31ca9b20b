#!/usr/bin/env bash
# `make sam-local`: the template as SAM runs it, on this machine.
#
#  1. A Docker engine: the one that answers, else Debian's docker.io
#     (installed if missing) started here and stopped at the end.
#  2. A Lambda base image built once without any registry:
#     `debootstrap --variant=minbase bookworm` and `docker import`. The SAM
#     CLI adds its own runtime interface emulator (samcli/local/rapid) on top.
#  3. `sam build` of every function, x86_64 (arm64 cannot be built here; the
#     deployed default stays arm64, see the template's Architecture), in the
#     debug profile (SAM_BUILD_MODE=debug) to spare a release build.
#  4. moto on a free loopback port with the stack's table, bucket, daily
#     export queue and the events' demo tenant (see below for how the
#     containers reach it).
#  5. Every event of events/ through `sam local invoke`, in the order and
#     with the outcome events/expected.txt gives.
#  6. `sam local start-api` on 127.0.0.1 and the seed's five curl examples
#     exactly as README.md prints them (scripts/seed-examples.sh).
# moto stays on loopback. The SAM CLI keeps its containers on Docker's
# default bridge even with `--docker-network host` (it never sets the host
# network mode), so scripts/bridge_relay.py passes connections from the
# bridge's gateway address, which only this machine's containers reach, to
# moto on 127.0.0.1. Ends with
# `N passed, N failed`; exits non-zero on any failure. Not part of `make
# test`: it takes minutes (README, sam local).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH" SAM_CLI_TELEMETRY=0
dir=.dev/sam-local
mkdir -p "$dir"
image=coupon-service/lambda-local:bookworm
token=cms_local_demo_token_for_events_only
started=$(date +%s)

passed=0 failed=0
pass() { passed=$((passed + 1)); echo "  ok    $*"; }
fail() { failed=$((failed + 1)); echo "  FAIL  $*"; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

pids=()
engine_started=
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ -n "$engine_started" ] && [ -f "$dir/dockerd.pid" ]; then
    as_root kill "$(cat "$dir/dockerd.pid")" 2>/dev/null || true
  fi
  wait 2>/dev/null || true
}
trap cleanup EXIT

# 1. The engine.
if docker info >/dev/null 2>&1; then
  echo "sam-local: using the Docker engine that answers"
else
  if ! command -v dockerd >/dev/null; then
    echo "sam-local: installing Debian's docker.io"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >"$dir/apt.log"
  fi
  echo "sam-local: starting dockerd (log $dir/dockerd.log)"
  as_root dockerd --pidfile "$PWD/$dir/dockerd.pid" >"$dir/dockerd.log" 2>&1 &
  engine_started=1
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "sam-local: dockerd did not start; see $dir/dockerd.log" >&2; exit 1; }
fi

# 2. The image, once.
if ! docker image inspect "$image" >/dev/null 2>&1; then
  command -v debootstrap >/dev/null ||
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >"$dir/apt.log"
  echo "sam-local: building $image (debootstrap, about a minute)"
  as_root rm -rf "$dir/rootfs"
  as_root debootstrap --variant=minbase bookworm "$dir/rootfs" http://deb.debian.org/debian \
    >"$dir/debootstrap.log"
  as_root tar -C "$dir/rootfs" -c . | docker import - "$image" >/dev/null
  as_root rm -rf "$dir/rootfs"
fi

# 3. The functions, as `sam build` builds them.
echo "sam-local: sam build (x86_64, debug; log $dir/build.log)"
SAM_BUILD_MODE=debug sam build --template template.yaml --build-dir "$dir/build" \
  --parameter-overrides Architecture=x86_64 >"$dir/build.log" 2>&1 ||
  { tail -20 "$dir/build.log"; exit 1; }
# `sam local` sets only the variables a function declares; the functions
# reach moto through AWS_ENDPOINT_URL, which the deployed template does not
# declare (it must not), so the built copy declares it for every function.
.venv/bin/python - "$dir/build/template.yaml" <<'PY'
import sys
from samcli.yamlhelper import yaml_dump, yaml_parse
path = sys.argv[1]
with open(path) as f:
    template = yaml_parse(f.read())
variables = template["Globals"]["Function"]["Environment"]["Variables"]
variables["AWS_ENDPOINT_URL"] = ""
variables["DAILY_EXPORT_QUEUE_URL"] = ""
variables["EXPORT_BUCKET"] = ""
with open(path, "w") as f:
    f.write(yaml_dump(template))
PY

# 4. moto and the stack's resources.
moto_port=$(scripts/moto.sh free-port)
pids+=("$(scripts/moto.sh start "$moto_port" "$dir/moto.log")")
. scripts/stack.sh
queue=$(.venv/bin/python scripts/local_queue.py create "http://127.0.0.1:$moto_port" daily-export-sam \
  DailyExportQueue)
webhook_queue=$(.venv/bin/python scripts/local_queue.py create "http://127.0.0.1:$moto_port" webhooks-sam \
  WebhookQueue)
.venv/bin/python scripts/local_queue.py create-bus "http://127.0.0.1:$moto_port" coupon-events-sam
stack_env "$dir/env" "$moto_port" sam info "DAILY_EXPORT_QUEUE_URL=$queue"
cargo build -q --bin cms-admin
target/debug/cms-admin setup --bucket "$EXPORT_BUCKET" >/dev/null
target/debug/cms-admin tenant create demo --id demo --exist-ok --token "$token" >/dev/null
gateway=$(ip -4 -o addr show docker0 | awk '{print $4}' | cut -d/ -f1)
[ -n "$gateway" ] || { echo "sam-local: Docker's bridge docker0 has no address" >&2; exit 1; }
.venv/bin/python scripts/bridge_relay.py "$gateway" "$moto_port" "$moto_port" &
pids+=("$!")
cat >"$dir/env.json" <<JSON
{"Parameters": {"AWS_ENDPOINT_URL": "http://$gateway:$moto_port", "TABLE_NAME": "$TABLE_NAME",
  "EXPORT_BUCKET": "$EXPORT_BUCKET", "DAILY_EXPORT_QUEUE_URL": "$queue",
  "EVENT_BUS_NAME": "coupon-events-sam", "WEBHOOK_QUEUE_URL": "$webhook_queue",
  "RUST_LOG": "warn"}}
JSON
sam_args=(--template "$dir/build/template.yaml" --env-vars "$dir/env.json"
  --invoke-image "$image" --skip-pull-image
  --parameter-overrides Architecture=x86_64)

# 5. Every event.
echo "sam-local: sam local invoke, every event of events/"
while read -r file function outcome value; do
  case "$file" in "#"* | "") continue ;; esac
  out="$dir/invoke-${file%.json}.json"
  if ! sam local invoke "$function" --event "events/$file" "${sam_args[@]}" \
    >"$out" 2>"$dir/invoke-${file%.json}.log"; then
    fail "$file: sam local invoke $function failed (see $dir/invoke-${file%.json}.log)"
    continue
  fi
  answer=$(tail -n 1 "$out")
  got=$(.venv/bin/python - "$outcome" "$answer" <<'PY'
import json, sys
outcome = sys.argv[1]
try:
    answer = json.loads(sys.argv[2])
except ValueError:
    print(f"no answer: {sys.argv[2][:200]!r}")
    sys.exit()
if outcome == "status":
    print(answer.get("statusCode"))
elif outcome == "enqueued":
    print("enqueued" if answer.get("enqueued", 0) >= 1 else answer)
elif outcome == "jobs-finished":
    done = [r for r in answer if r.get("outcome") == "succeeded" and "job_id" in r]
    print("jobs-finished" if done else answer)
elif outcome == "exported":
    print("exported" if answer.get("batchItemFailures") == [] else answer)
elif outcome == "handed-on":
    print(answer.get("events"))
elif outcome == "delivered":
    print("delivered" if answer.get("batchItemFailures") == [] else answer)
PY
  )
  want=${value:-$outcome}
  if [ "$got" = "$want" ]; then pass "$file -> $function: $want"; else fail "$file -> $function: $got, not $want"; fi
done <events/expected.txt

# 6. The API, and the seed's five examples as the README prints them.
api_port=$(scripts/moto.sh free-port)
echo "sam-local: sam local start-api on 127.0.0.1:$api_port (log $dir/start-api.log)"
sam local start-api --host 127.0.0.1 --port "$api_port" "${sam_args[@]}" \
  >"$dir/start-api.log" 2>&1 &
pids+=("$!")
BASE_URL="http://127.0.0.1:$api_port"
for _ in $(seq 1 120); do curl -s -o /dev/null -m 60 "$BASE_URL/ping" && break; sleep 1; done
scripts/seed-examples.sh "$BASE_URL" "$token" | tee "$dir/examples.log" || true
passed=$((passed + $(grep -c '^  ok ' "$dir/examples.log" || true)))
failed=$((failed + $(grep -c '^  FAIL ' "$dir/examples.log" || true)))

echo "sam-local: took $(($(date +%s) - started)) s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
