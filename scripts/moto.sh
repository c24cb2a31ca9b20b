#!/usr/bin/env bash
# moto server (DynamoDB and S3 on one port, see moto_server.py), loopback only.
#   scripts/moto.sh start PORT LOGFILE   -> prints the server's pid once it answers
#   scripts/moto.sh free-port            -> prints a free loopback port
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  free-port)
    .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
    ;;
  start)
    port=$2 log=$3
    MOTO_PORT="$port" .venv/bin/python scripts/moto_server.py "$port" >"$log" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do
      if ! kill -0 "$pid" 2>/dev/null; then
        echo "moto server exited; see $log" >&2
        exit 1
      fi
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "$pid"
        exit 0
      fi
      sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    echo "moto server did not start within 10 s; see $log" >&2
    exit 1
    ;;
  *)
    echo "usage: $0 start PORT LOGFILE | free-port" >&2
    exit 2
    ;;
esac
