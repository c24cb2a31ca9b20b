#!/usr/bin/env bash
# A campaign's jobs end to end over HTTP, against make dev's stack:
#   scripts/campaign-jobs-example.sh BASE_URL TOKEN WORKER
# WORKER is a command that runs the job worker once (make dev runs it every
# few seconds; dev-stays-up passes `cargo lambda invoke coupon-jobs ...`).
# Makes a campaign, imports two codes as CSV (one with three uses) and one
# the tenant has already, runs the worker, checks the job and the codes,
# then deletes the campaign's codes by a job and the campaign itself.
# Prints one line; exits non-zero at the first answer that is not as the
# README says. Bounded: each request waits at most 60 s.
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:?usage: $0 BASE_URL TOKEN WORKER} token=${2:?usage: $0 BASE_URL TOKEN WORKER}
worker=${3:?usage: $0 BASE_URL TOKEN WORKER}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# call METHOD PATH [CONTENT_TYPE BODY]: the status, the body in $out.
call() {
  curl -sS -o "$out" -w '%{http_code}' -m 60 -X "$1" "$base$2" \
    -H "Authorization: Bearer $token" ${3:+-H "content-type: $3"} ${4:+--data-binary "$4"}
}
field() { .venv/bin/python -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$out" "$1"; }
expect() {
  local got=$1 want=$2 what=$3
  [ "$got" = "$want" ] || { echo "campaign-jobs-example: $what answered $got, not $want: $(cat "$out")" >&2; exit 1; }
}

suffix=$(date +%s%N)
expect "$(call POST /coupon application/json "{\"code\":\"TAKEN-$suffix\"}")" 201 "a coupon of the tenant's own"
expect "$(call POST /campaigns application/json '{"name":"Imported","discount_percent":10}')" 201 "POST /campaigns"
campaign=$(field campaign_id)
csv=$(printf 'code,availability_count\nIMPORT-A-%s\nIMPORT-B-%s,3\nTAKEN-%s\n' "$suffix" "$suffix" "$suffix")
expect "$(call POST "/campaigns/$campaign/import" text/csv "$csv")" 202 "POST /campaigns/{id}/import"
job=$(field job_id)
$worker >/dev/null
expect "$(call GET "/coupon/jobs/$job")" 200 "GET /coupon/jobs/{id}"
expect "$(field status) $(field created) $(field skipped)" "succeeded 2 1" "the import job (status created skipped)"
expect "$(call GET "/coupon/jobs/$job/skipped")" 200 "GET /coupon/jobs/{id}/skipped"
expect "$(field data)" "['TAKEN-$suffix']" "the import's skipped codes"
expect "$(call GET "/coupon?code=IMPORT-B-$suffix")" 200 "an imported code"
expect "$(field campaign_id) $(field availability_count)" "$campaign 3" "the imported code (campaign uses)"
expect "$(call DELETE "/campaigns/$campaign/codes")" 202 "DELETE /campaigns/{id}/codes"
job=$(field job_id)
$worker >/dev/null
expect "$(call GET "/coupon/jobs/$job")" 200 "GET /coupon/jobs/{id}"
expect "$(field status) $(field deleted)" "succeeded 2" "the delete job (status deleted)"
expect "$(call DELETE "/campaigns/$campaign")" 204 "DELETE /campaigns/{id}"
expect "$(call DELETE "/coupon/TAKEN-$suffix")" 204 "DELETE the tenant's own coupon"
echo "campaign-jobs-example: import (2 written, 1 skipped), codes deleted by a job, campaign deleted"
