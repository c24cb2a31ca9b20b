# A local stack's settings and readiness, shared by dev.sh, fuzz.sh,
# with-moto.sh and bench-load.sh (each starts moto, and `cargo lambda watch`
# if it needs one, its own way), and template.yaml's function settings for
# the benchmarks.
# Source it: it only defines functions.

# template_setting NAME: the value of a `NAME: value` line in template.yaml
# (the functions' Globals), so local runs get what Lambda gets.
template_setting() {
  sed -n "s/^ *$1: *//p" "${BASH_SOURCE[0]%/*}/../template.yaml"
}

# stack_aws_env MOTO_PORT: the AWS SDK's settings for a moto server on
# 127.0.0.1:MOTO_PORT, one NAME=value a line: region, fixed test
# credentials, and no profile files or instance metadata to probe.
stack_aws_env() {
  cat <<ENV
AWS_ENDPOINT_URL=http://127.0.0.1:$1
AWS_REGION=us-east-1
AWS_DEFAULT_REGION=us-east-1
AWS_ACCESS_KEY_ID=test
AWS_SECRET_ACCESS_KEY=test
AWS_EC2_METADATA_DISABLED=true
AWS_CONFIG_FILE=/dev/null
AWS_SHARED_CREDENTIALS_FILE=/dev/null
ENV
}

# stack_env FILE MOTO_PORT NAME RUST_LOG [LINE...]
# Writes the environment the functions and cms-admin get to FILE (table
# coupons-NAME, bucket coupon-exports-NAME, moto on 127.0.0.1:MOTO_PORT,
# no profile files or instance metadata, template.yaml's malloc tuning) with
# any extra LINEs, and exports it. A value with `=` in it is quoted: cargo
# lambda's env-file parser refuses it bare.
stack_env() {
  local file=$1 port=$2 name=$3 level=$4
  shift 4
  {
    stack_aws_env "$port"
    cat <<ENV
TABLE_NAME=coupons-$name
EXPORT_BUCKET=coupon-exports-$name
RUST_LOG=$level
GLIBC_TUNABLES="$(template_setting GLIBC_TUNABLES)"
ENV
    if [ "$#" -gt 0 ]; then printf '%s\n' "$@"; fi
  } >"$file"
  set -a
  # shellcheck disable=SC1090
  . "$file"
  set +a
}

# stack_wait_api URL LOG: waits up to 300 s for URL/ping to answer (the first
# request starts a function); fails naming LOG otherwise.
stack_wait_api() {
  local url=$1 log=$2
  for _ in $(seq 1 300); do
    if curl -fsS -m 2 -o /dev/null "$url/ping" 2>/dev/null; then return 0; fi
    sleep 1
  done
  echo "$(basename "$0"): the API did not answer on $url within 300 s; see $log" >&2
  return 1
}

# stack_start_dev DIR TOKEN: make dev's stack (scripts/dev.sh) beside any
# other, on free loopback ports, with its logs and environment file in DIR
# and TOKEN as the demo tenant's token, in its own process group. Sets
# STACK_PID (stop it with `kill -- -"$STACK_PID"`) and STACK_URL; wait for
# it with stack_wait_api "$STACK_URL" "DIR/dev.log".
stack_start_dev() {
  local dir=$1 token=$2 moto_port api_port
  moto_port=$(scripts/moto.sh free-port)
  api_port=$(scripts/moto.sh free-port)
  STACK_URL="http://127.0.0.1:$api_port"
  DEV_DIR=$dir DEV_ENV_FILE=$dir/env MOTO_PORT=$moto_port API_PORT=$api_port \
    CMS_DEMO_TOKEN=$token setsid scripts/dev.sh >"$dir/dev.log" 2>&1 &
  STACK_PID=$!
}
