#!/usr/bin/env bash
# `make bench`, part 4: cold start and size of every function's release binary
# beside a hello-world lambda_http binary (bench/hello-lambda) built with the
# same profile, in the same run: the peer, on tokio's multi-thread runtime as
# lambda_http's examples have it, and the same hello world on the
# current-thread runtime the functions use (second ratio column).
# usage: scripts/bench-coldstart.sh [RUNS]
# Cold start is exec to the first `GET /2018-06-01/runtime/invocation/next` on a
# loopback Runtime API stub (scripts/bench_coldstart.py); nothing leaves 127.0.0.1.
# Two tables: the functions trusting the compiled-in Amazon Trust Services
# roots (TLS_ROOTS=amazon, as deployed), then the system's roots read from one
# bundle file (TLS_ROOTS=system with SSL_CERT_FILE), to show what that costs.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-40}
. scripts/stack.sh
# Every table: template.yaml's settings on each binary, and the second peer.
settings=(--glibc-tunables "$(template_setting GLIBC_TUNABLES)" --also-against hello-lambda-current-thread)
functions=(ping coupons consume coupon-jobs exports export-schedule)
packages=(-p hello-lambda)
targets=(hello-lambda=target/release/hello-lambda
  hello-lambda-current-thread=target/release/hello-lambda-current-thread)
for f in "${functions[@]}"; do
  packages+=(-p "$f")
  targets+=("$f=target/release/$f")
done
cargo build --quiet --release "${packages[@]}"
for target in "${targets[@]}"; do
  if ! file -b "${target#*=}" | grep -q ', stripped'; then
    echo "${target#*=} is not stripped: the size column would not mean what it says" >&2
    exit 1
  fi
done
python3 scripts/bench_coldstart.py --runs "$runs" "${settings[@]}" "${targets[@]}"
bundle=
# The bundle the binaries find first (openssl-probe's order, Debian's first).
for candidate in /etc/ssl/certs/ca-certificates.crt /etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem \
  /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/cert.pem; do
  if [ -f "$candidate" ]; then
    bundle=$candidate
    echo
    python3 scripts/bench_coldstart.py --runs "$runs" "${settings[@]}" --tls-roots system --ssl-cert-file "$bundle" "${targets[@]}"
    break
  fi
done
# Where the functions' extra time goes: each init step's medians, in µs.
cargo build --quiet --release -p common --example init_phases
for roots in amazon system; do
  echo
  echo "init steps of a function, median of 25 processes (µs), TLS_ROOTS=$roots${bundle:+ (system: SSL_CERT_FILE=$bundle)}:"
  for _ in $(seq 25); do
    env -i AWS_REGION=eu-west-1 AWS_ACCESS_KEY_ID=AKIAFAKEFAKEFAKEFAKE AWS_SECRET_ACCESS_KEY=fake \
      AWS_SESSION_TOKEN=fake TABLE_NAME=coupons-bench RUST_LOG=info TLS_ROOTS=$roots ${bundle:+SSL_CERT_FILE="$bundle"} \
      AWS_ENDPOINT_URL=http://127.0.0.1:9 target/release/examples/init_phases
  done | python3 -c '
import json, statistics, sys
runs = [json.loads(line) for line in sys.stdin]
print("| " + " | ".join(runs[0]) + " |")
print("|" + "---|" * len(runs[0]))
print("| " + " | ".join(str(round(statistics.median(r[k] for r in runs))) for k in runs[0]) + " |")'
done
