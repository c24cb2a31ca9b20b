#!/usr/bin/env bash
# `make dev`: the whole API on http://127.0.0.1:9000 against a local moto
# server, with the real handlers run by `cargo lambda watch`. Ctrl-C stops
# everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"

moto_port=${MOTO_PORT:-5055}
api_port=${API_PORT:-9000}
# Logs and the environment file; scripts/dev-stays-up.sh runs a second
# stack beside a developer's with its own.
dev_dir=${DEV_DIR:-.dev}
env_file=${DEV_ENV_FILE:-.env.local}
mkdir -p "$dev_dir"
. scripts/stack.sh

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if (exec 3<>"/dev/tcp/127.0.0.1/$moto_port") 2>/dev/null; then
  echo "dev: reusing the moto server already on 127.0.0.1:$moto_port"
else
  pids+=("$(scripts/moto.sh start "$moto_port" "$dev_dir/moto.log")")
  echo "dev: moto server on 127.0.0.1:$moto_port (log $dev_dir/moto.log)"
fi
# The daily export queue (deployed: template.yaml's DailyExportQueue).
queue=$(.venv/bin/python scripts/local_queue.py create "http://127.0.0.1:$moto_port" daily-export-local \
  DailyExportQueue)
# The webhook queue and the event bus (deployed: WebhookQueue, EventBus).
webhook_queue=$(.venv/bin/python scripts/local_queue.py create "http://127.0.0.1:$moto_port" \
  webhooks-local WebhookQueue --visibility 30)
.venv/bin/python scripts/local_queue.py create-bus "http://127.0.0.1:$moto_port" coupon-events-local
# Retries seconds apart, so one can be watched, and loopback receivers
# allowed (template.yaml never sets this).
stack_env "$env_file" "$moto_port" local info "CMS_API_URL=http://127.0.0.1:$api_port" \
  "DAILY_EXPORT_QUEUE_URL=$queue" "WEBHOOK_QUEUE_URL=$webhook_queue" \
  "EVENT_BUS_NAME=coupon-events-local" "WEBHOOK_RETRY_SCHEDULE=2,4,8,16" \
  "WEBHOOK_ALLOW_LOOPBACK=true"

# Build first: `cargo lambda watch` would otherwise compile on the first request.
cargo build --bin ping --bin coupons --bin consume --bin exports --bin campaigns --bin redemptions --bin export-schedule \
  --bin export-worker --bin coupon-jobs --bin webhooks --bin events --bin webhook-deliveries --bin console --bin cms-admin
admin=target/debug/cms-admin
"$admin" setup --bucket "$EXPORT_BUCKET"
token_args=()
if [ -n "${CMS_DEMO_TOKEN:-}" ]; then token_args=(--token "$CMS_DEMO_TOKEN"); fi
token=$("$admin" tenant create demo --id demo --exist-ok "${token_args[@]}" | tail -n 1)

cat <<MSG

  Coupon API:  http://127.0.0.1:$api_port
  Console:     http://127.0.0.1:$api_port/console/  (sign in with the demo token)
  Demo token:  $token

  curl http://127.0.0.1:$api_port/ping
  curl -X POST http://127.0.0.1:$api_port/coupon/ -H "Authorization: $token" --form code_length=6 --form availability_count=10

  Environment for cms-admin and scripts:  set -a; . ./$env_file; set +a
  Ctrl-C stops the API and the moto server.

MSG
# The bulk generation worker runs up to 15 minutes deployed; give it as long here.
cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$api_port" --env-file "$env_file" \
  --timeout 900 &
pids+=("$!")
watch_pid=$!
# Deployed, the table's stream and a schedule run the bulk generation worker;
# locally, its scheduled event every few seconds does.
(
  while sleep "${JOBS_INTERVAL:-5}"; do
    # Bounded: an invoke whose function cargo lambda watch restarted can hang.
    timeout 960 cargo lambda invoke coupon-jobs --invoke-address 127.0.0.1 --invoke-port "$api_port" \
      --data-file events/10-resume-jobs.json >>"$dev_dir/jobs.log" 2>&1 || true
  done
) &
pids+=("$!")
# Deployed, an SQS event source mapping hands the export worker each
# tenant's day that the daily export enqueued; locally, local_queue.py does.
.venv/bin/python scripts/local_queue.py poll "http://127.0.0.1:$moto_port" "$queue" \
  "http://127.0.0.1:$api_port/2015-03-31/functions/export-worker/invocations" \
  >>"$dev_dir/exports.log" 2>&1 &
pids+=("$!")
# Deployed, the table's stream feeds the events function and an SQS event
# source mapping the webhook deliveries; locally, these two pollers do.
.venv/bin/python scripts/local_stream.py "http://127.0.0.1:$moto_port" "$TABLE_NAME" \
  "http://127.0.0.1:$api_port/2015-03-31/functions/events/invocations" \
  >>"$dev_dir/events.log" 2>&1 &
pids+=("$!")
.venv/bin/python scripts/local_queue.py poll "http://127.0.0.1:$moto_port" "$webhook_queue" \
  "http://127.0.0.1:$api_port/2015-03-31/functions/webhook-deliveries/invocations" --batch-size 10 \
  >>"$dev_dir/webhooks.log" 2>&1 &
pids+=("$!")
wait "$watch_pid"
