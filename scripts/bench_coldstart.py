"""Cold start of Lambda binaries against a loopback Runtime API stub.

usage: python3 scripts/bench_coldstart.py [--runs N] [--tls-roots amazon|system]
                                          [--ssl-cert-file PATH] [--also-against NAME]
                                          [--glibc-tunables VALUE] PEER=PATH NAME=PATH...

For each run, in a shuffled order per round, it starts one binary with the
environment Lambda gives a function (plus the service's own settings and fake
credentials) and times, on one monotonic clock, from just before the exec to
the moment the binary's first `GET /2018-06-01/runtime/invocation/next`
arrives on the stub. The stub never answers: the process is killed once the
request line is in. Two warm-up rounds (page cache) are not counted.

Everything binds 127.0.0.1. `AWS_ENDPOINT_URL` points at a second loopback
listener that only counts connections: a function that calls AWS during init
(a credential chain probing, an eager request) makes the run fail rather than
reach the network. Every wait is bounded, so the run ends by itself.

TLS_ROOTS is --tls-roots (default amazon, as template.yaml sets it: the
compiled-in Amazon Trust Services roots). With system, the binaries get no
SSL_CERT_FILE or SSL_CERT_DIR of the caller's: they find the system's root
certificates the way they would on Lambda (openssl-probe's list), unless
--ssl-cert-file names the one bundle to read. The peer trusts no roots: it
builds no HTTPS client.

Prints a Markdown table: median and p90 in ms, each over the peer's (the
first binary named), the median over a second peer's (--also-against, one
of the binaries named), and the file size (the release profile strips them).
"""

import argparse
import os
import random
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import time

NEXT = b"GET /2018-06-01/runtime/invocation/next "
WARMUP_ROUNDS = 2
DEADLINE_S = 10.0


def listener():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return sock


def lambda_env(runtime_port, endpoint_port, name, tls_roots, glibc_tunables, ssl_cert_file):
    """What Lambda sets for a provided.al2023 function (no HOME, so no
    profile files), the template's settings, and fake credentials: Lambda
    passes the execution role's credentials in these same variables.
    Lambda's LD_LIBRARY_PATH is left out: here, where the libraries live
    elsewhere, it would only add a few hundred failed opens to every binary."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "_HANDLER": "bootstrap",
        "LAMBDA_TASK_ROOT": "/var/task",
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{runtime_port}",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]0123456789abcdef",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_EXECUTION_ENV": "AWS_Lambda_provided.al2023",
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "AKIAFAKEFAKEFAKEFAKE",
        "AWS_SECRET_ACCESS_KEY": "fake-secret-key-for-the-cold-start-bench",
        "AWS_SESSION_TOKEN": "fake-session-token",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{endpoint_port}",
        "TABLE_NAME": "coupons-bench",
        "EXPORT_BUCKET": "coupons-bench-exports",
        "EXPORT_LINK_TTL": "900",
        "RUST_LOG": "info",
        "TLS_ROOTS": tls_roots,
        "GLIBC_TUNABLES": glibc_tunables,
    }
    if ssl_cert_file:
        env["SSL_CERT_FILE"] = ssl_cert_file
    return env


def read_request_line(conn, deadline):
    buf = b""
    while b"\r\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([conn], [], [], left)[0]:
            raise RuntimeError("no request line before the deadline")
        chunk = conn.recv(4096)
        if not chunk:
            raise RuntimeError("connection closed before a request line")
        buf += chunk
    return buf.split(b"\r\n", 1)[0] + b" "


def one_run(path, env, runtime, log):
    log.seek(0)
    log.truncate()
    t0 = time.monotonic_ns()
    proc = subprocess.Popen([path], env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + DEADLINE_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"exited with {proc.returncode} before asking for an event")
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError("no connection to the Runtime API before the deadline")
            if select.select([runtime], [], [], min(left, 0.05))[0]:
                break
        conn, _ = runtime.accept()
        try:
            line = read_request_line(conn, deadline)
            t1 = time.monotonic_ns()
        finally:
            proc.kill()
            proc.wait(timeout=DEADLINE_S)
            conn.close()
        if not line.startswith(NEXT):
            raise RuntimeError(f"first request was {line.strip()!r}, not invocation/next")
        return (t1 - t0) / 1e6
    except Exception as err:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=DEADLINE_S)
        log.seek(0)
        tail = log.read()[-2000:].decode(errors="replace")
        raise SystemExit(f"{path}: {err}\n--- its output ---\n{tail}") from None


def p90(values):
    ordered = sorted(values)
    return ordered[max(0, -(-len(ordered) * 9 // 10) - 1)]  # nearest rank


def main():
    parser = argparse.ArgumentParser(usage=__doc__)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--tls-roots", choices=["amazon", "system"], default="amazon")
    parser.add_argument("--ssl-cert-file")
    parser.add_argument("--glibc-tunables", default="", help="template.yaml's GLIBC_TUNABLES")
    parser.add_argument("--also-against", metavar="NAME")
    parser.add_argument("targets", nargs="+", metavar="NAME=PATH")
    args = parser.parse_args()
    runs = args.runs
    targets = [arg.split("=", 1) for arg in args.targets]
    if len(targets) < 2 or any(len(t) != 2 for t in targets):
        parser.error("name the peer and at least one binary as NAME=PATH")
    second = args.also_against
    if second and second not in dict(targets):
        parser.error(f"--also-against {second}: not one of the binaries named")
    peer = targets[0][0]
    runtime, endpoint = listener(), listener()
    endpoint.setblocking(False)
    aws_connections = 0
    times = {name: [] for name, _ in targets}
    order = list(targets)
    rng = random.Random(20261124)
    with tempfile.TemporaryFile() as log:
        envs = {
            name: lambda_env(runtime.getsockname()[1], endpoint.getsockname()[1], name,
                             args.tls_roots, args.glibc_tunables, args.ssl_cert_file)
            for name, _ in targets
        }
        for round_no in range(WARMUP_ROUNDS + runs):
            rng.shuffle(order)
            for name, path in order:
                ms = one_run(path, envs[name], runtime, log)
                if round_no >= WARMUP_ROUNDS:
                    times[name].append(ms)
                while True:
                    try:
                        conn, _ = endpoint.accept()
                    except BlockingIOError:
                        break
                    conn.close()
                    aws_connections += 1
                    print(f"{name} connected to AWS_ENDPOINT_URL during init", file=sys.stderr)
    if aws_connections:
        raise SystemExit(f"{aws_connections} connection(s) to the AWS endpoint during init")

    base_med, base_p90 = statistics.median(times[peer]), p90(times[peer])
    roots = f"TLS_ROOTS={args.tls_roots}"
    if args.tls_roots == "system":
        roots += f", SSL_CERT_FILE={args.ssl_cert_file}" if args.ssl_cert_file else ", as probed"
    print(f"{runs} runs each, interleaved; root certificates: {roots}; "
          f"load average after: {os.getloadavg()[0]:.2f}")
    print()
    also = f" median / {second}'s |" if second else ""
    print(f"| binary | cold start median (ms) | p90 (ms) | median / peer's | p90 / peer's |{also} size, stripped (MB) |")
    print("|---|---|---|---|---|---|" + ("---|" if second else ""))
    for name, path in targets:
        med, hi = statistics.median(times[name]), p90(times[name])
        size = os.path.getsize(path) / 1e6
        label = f"{name} (peer)" if name == peer else name
        ratio = f" {med / statistics.median(times[second]):.2f} |" if second else ""
        print(f"| {label} | {med:.2f} | {hi:.2f} | {med / base_med:.2f} | {hi / base_p90:.2f} |{ratio} {size:.2f} |")


if __name__ == "__main__":
    main()
