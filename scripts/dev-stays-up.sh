#!/usr/bin/env bash
# `make dev` stays up while people work (part of `make test`).
#
# Starts make dev's stack (scripts/dev.sh) on free loopback ports, with its
# own logs and environment file, and for DURATION seconds (default 60) runs
# git commands in a loop, the way an editor or a developer's shell does,
# while requests to every function flow. Git rewrites .git/index on every
# `git status`; none of that may restart a function (.cargolambdaignore),
# so every request must be answered. Then it changes a Rust source, which
# must restart the functions, and checks that every route answers again and
# that the seed's five curl examples and a campaign's import and delete
# jobs (scripts/campaign-jobs-example.sh), the webhook example and the
# console's browser test (scripts/console-e2e.sh) work against it.
# Bounded: each request waits at most 20 s, the whole run a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
duration=${1:-60}
dir=.dev/stays-up
rm -rf "$dir" && mkdir -p "$dir"
token=cms_dev_stays_up_check_token

. scripts/stack.sh
JOBS_INTERVAL=3600 stack_start_dev "$dir" "$token"
url=$STACK_URL
trap 'kill -- -"$STACK_PID" 2>/dev/null || true; wait 2>/dev/null || true' EXIT
stack_wait_api "$url" "$dir/dev.log"

restarts() { grep -c "outcome resolved" "$dir/dev.log" || true; }

# One request to each HTTP function (validate without a code: a 422 that is not
# a guess); prints the statuses, 000 for no answer.
expected="200 200 422 200 200 200 200 200 200 "
round() {
  for path in /ping "/coupon?limit=1" /coupon/consume /exports /campaigns /redemptions /webhooks \
    /stats /console/; do
    curl -s -o /dev/null -w '%{http_code} ' -m 20 -H "Authorization: Bearer $token" "$url$path"
  done
}

round >/dev/null # every function started once
before=$(restarts)
end=$((SECONDS + duration))
(
  while [ "$SECONDS" -lt "$end" ]; do
    git status --short >/dev/null
    git diff --stat >/dev/null
    git log -1 --format=%h >/dev/null
    git update-index --really-refresh >/dev/null 2>&1 || true
    git stash list >/dev/null
  done
) &
git_loop=$!
answered=0 unanswered=0
while [ "$SECONDS" -lt "$end" ]; do
  for status in $(round); do
    if [ "$status" = 000 ] || [ "${status:0:1}" = 5 ]; then
      unanswered=$((unanswered + 1))
    else
      answered=$((answered + 1))
    fi
  done
  sleep 0.2
done
wait "$git_loop"
restarted=$(($(restarts) - before))
echo "dev-stays-up: $duration s of git commands: $answered requests answered, $unanswered not; $restarted function restarts"
failed=0
if [ "$unanswered" -gt 0 ] || [ "$restarted" -gt 0 ]; then
  echo "dev-stays-up: git commands must not restart or break the stack; see $dir/dev.log" >&2
  failed=1
fi

# A Rust source changes: the functions restart and must all answer again.
touch functions/ping/src/main.rs
for _ in $(seq 1 60); do
  [ "$(restarts)" -gt "$((before + restarted))" ] && break
  sleep 1
done
ok=0
for _ in $(seq 1 30); do
  statuses=$(round)
  if [ "$statuses" = "$expected" ]; then ok=1; break; fi
  sleep 2
done
if [ "$ok" = 1 ]; then
  echo "dev-stays-up: after a source change every function answers: $statuses"
else
  echo "dev-stays-up: after a source change the routes answer $statuses, not $expected; see $dir/dev.log" >&2
  failed=1
fi
# And the seed's five curl examples, as the README prints them, over HTTP.
scripts/seed-examples.sh "$url" "$token" || failed=1
# A campaign's import and delete jobs, the worker run as make dev runs it.
worker="cargo lambda invoke coupon-jobs --invoke-address 127.0.0.1 --invoke-port ${url##*:} \
  --data-file events/10-resume-jobs.json"
scripts/campaign-jobs-example.sh "$url" "$token" "$worker" || failed=1
# Events from the table's stream to a webhook, through make dev's pollers.
scripts/webhook-example.sh "$url" "$token" || failed=1
# The operator console in headless Chromium (scripts/console-e2e.sh).
scripts/console-e2e.sh "$url" "$token" "$dir/console" || failed=1
exit "$failed"
