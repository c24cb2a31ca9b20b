#!/usr/bin/env bash
# The seed's five curl examples, exactly as README.md prints them (trailing
# slashes, bare Authorization header, multipart forms), against an API:
#   scripts/seed-examples.sh BASE_URL TOKEN
# `make sam-local` runs it against `sam local start-api`; after `sam deploy`
# run it against the stack's ApiUrl with a tenant's token meant for testing,
# which is what shows that API Gateway sends the trailing-slash paths to
# their functions (README, Routing as API Gateway does it).
#
# The examples use the code AS396B and example 1 makes a random one, so the
# script first makes AS396B (deleting one left by an earlier run) and deletes
# it at the end. Prints one line per example; exits non-zero if any example
# does not answer as the README says: 201, 200, 200, 200 (valid: false), 409.
set -euo pipefail
cd "$(dirname "$0")/.."
export BASE_URL=${1:?usage: $0 BASE_URL TOKEN} TOKEN=${2:?usage: $0 BASE_URL TOKEN}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

coupon() {
  curl -s -o /dev/null -w '%{http_code}' -m 60 -X "$1" "$BASE_URL/coupon$2" \
    -H "Authorization: $TOKEN" -H 'content-type: application/json' ${3:+-d "$3"}
}
coupon DELETE /AS396B >/dev/null
made=$(coupon POST "" '{"code":"AS396B","availability_count":1024,"product_id":"apple123","discount_fixed":"20"}')
[ "$made" = 201 ] || { echo "seed-examples: making AS396B answered $made" >&2; exit 1; }

# Each curl of the README's block, with its continuation lines.
examples=$(sed -n '/^# 1\. Generate a coupon code/,/^```/p' README.md |
  awk '/^curl /{cmd=$0; while (cmd ~ /\\$/ && (getline line) > 0) cmd = cmd "\n" line; print cmd; print "\x1e"}')
expected=(201 200 200 200 409)
i=0 failed=0
while IFS= read -r -d $'\x1e' example; do
  example=${example#$'\n'}
  example=${example%$'\n'}
  [ -n "$example" ] || continue
  status=$(bash -c "${example} -s -o $out/$i.json -w '%{http_code}' -m 60") || true
  first=$(head -n 1 <<<"$example")
  if [ "$status" = "${expected[$i]:-}" ]; then
    echo "  ok    example $((i + 1)): ${first% \\} -> $status"
  else
    echo "  FAIL  example $((i + 1)): ${first% \\} -> $status, not ${expected[$i]:-} ($(head -c 300 "$out/$i.json"))"
    failed=$((failed + 1))
  fi
  i=$((i + 1))
done <<<"$examples"$'\x1e'
if [ "$i" != 5 ]; then
  echo "  FAIL  README.md has $i examples, not 5"
  failed=$((failed + 1))
fi
coupon DELETE /AS396B >/dev/null
[ "$failed" = 0 ]
