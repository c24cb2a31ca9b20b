#!/usr/bin/env bash
# Events end to end over HTTP, against make dev's stack:
#   scripts/webhook-example.sh BASE_URL TOKEN
# Starts a loopback receiver (scripts/webhook_receiver.py, which checks
# signatures with the Standard Webhooks reference library), registers it
# for coupon.created and redemption.succeeded, has it refuse its first
# delivery, then creates and consumes a coupon. make dev's pollers carry
# the table's stream to the events function and the webhook queue to the
# deliveries function; within 30 s the receiver must hold both events,
# verified, the refused one delivered again (retry schedule 2 s) with the
# same webhook-id. Prints one line; exits non-zero otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:?usage: $0 BASE_URL TOKEN} token=${2:?usage: $0 BASE_URL TOKEN}
dir=$(mktemp -d)
.venv/bin/python scripts/webhook_receiver.py "$dir/port" &
receiver=$!
trap 'kill "$receiver" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do [ -s "$dir/port" ] && break; sleep 0.1; done
port=$(cat "$dir/port")
out=$dir/out

call() {
  curl -sS -o "$out" -w '%{http_code}' -m 60 -X "$1" "$base$2" \
    -H "Authorization: Bearer $token" ${3:+-H "content-type: application/json"} ${3:+--data-binary "$3"}
}
field() { .venv/bin/python -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$out" "$1"; }
expect() {
  local got=$1 want=$2 what=$3
  [ "$got" = "$want" ] || { echo "webhook-example: $what answered $got, not $want: $(cat "$out")" >&2; exit 1; }
}

hook_url="http://127.0.0.1:$port/hook/example"
expect "$(call POST /webhooks "{\"url\":\"$hook_url\",\"events\":[\"coupon.created\",\"redemption.succeeded\"]}")" \
  201 "POST /webhooks"
hook=$(field id)
curl -sS -m 5 -X POST --data-binary "$(field secret)" "http://127.0.0.1:$port/secret/example"
curl -sS -m 5 -X POST "http://127.0.0.1:$port/fail/example/1"
code="EVENTS-$(date +%s%N)"
expect "$(call POST /coupon "{\"code\":\"$code\",\"availability_count\":5}")" 201 "POST /coupon"
expect "$(call POST /coupon/consume "{\"code\":\"$code\"}")" 200 "POST /coupon/consume"

summary=""
for _ in $(seq 1 60); do
  curl -sS -m 5 -o "$out" "http://127.0.0.1:$port/received/example"
  summary=$(.venv/bin/python - "$out" <<'PY'
import json, sys
received = json.load(open(sys.argv[1]))
delivered = [r for r in received if r["status"] < 300]
types = sorted(json.loads(r["body"])["type"] for r in delivered)
refused = [r for r in received if r["status"] >= 300]
retried = any(r["headers"]["webhook-id"] == refused[0]["headers"]["webhook-id"] for r in delivered) if refused else False
verified = all(r["verified"] == [True] for r in received)
print(f"{len(received)} {' '.join(types)} retried={retried} verified={verified}")
PY
)
  [ "$summary" = "3 coupon.created redemption.succeeded retried=True verified=True" ] && break
  sleep 0.5
done
[ "$summary" = "3 coupon.created redemption.succeeded retried=True verified=True" ] || {
  echo "webhook-example: the receiver got $summary (see make dev's events.log and webhooks.log)" >&2
  exit 1
}
expect "$(call GET "/webhooks/$hook/deliveries")" 200 "GET /webhooks/{id}/deliveries"
expect "$(call DELETE "/webhooks/$hook")" 204 "DELETE /webhooks/{id}"
echo "webhook-example: 2 events delivered and verified (one refused, retried with the same webhook-id) within 30 s"
