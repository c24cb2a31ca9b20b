"""A webhook endpoint for tests, which checks every delivery with the
Standard Webhooks reference library (PyPI standardwebhooks).

  webhook_receiver.py PORT_FILE
      listens on 127.0.0.1 on a port of the system's choosing and writes
      the port to PORT_FILE (whole: written aside, then renamed); serves
      until killed, or for 10 minutes at most, then exits by itself.

  POST /secret/{name}          body: a secret (whsec_...) of hook `name`;
                               each POST adds one (a rotated hook signs
                               with the old secret and the new)
  POST /fail/{name}/{n}        the next n deliveries to `name` answer 500
  POST /slow/{name}/{seconds}  the next delivery to `name` that does not
                               fail waits that long, then answers 200
  POST /hook/{name}            a delivery: answers 500 while a failure is
                               pending, else 204 (200 after a slow wait)
  GET /received/{name}         the deliveries to `name` so far, in order:
      [{"name", "headers" (names lower-cased), "body" (text), "status"
        (the one answered), "received_at" (epoch seconds),
        "verified": [one boolean per secret, in the order given: whether
                     Webhook(secret).verify(body, headers) passed],
        "errors": [per secret, what verify raised, or null],
        "error": what verify raised for the secrets none of which passed,
                 or null}]

A delivery is recorded as it arrives, so a slow one is listed while it
waits. verify checks the signature and the timestamp (within 5 minutes);
the body's JSON is the test's to read.

Loopback only.
"""

import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook

LIFETIME = 600  # seconds

lock = threading.Lock()
secrets = {}  # name -> [secret, ...]
failures = {}  # name -> deliveries still to fail
slow = {}  # name -> [seconds, ...], one per delivery to come
received = {}  # name -> [delivery, ...]


def verify(body, headers, hook_secrets):
    verified, errors = [], []
    for secret in hook_secrets:
        try:
            Webhook(secret).verify(body, headers, json_parse=False)
        except Exception as e:  # WebhookVerificationError, or a malformed header
            verified.append(False)
            errors.append(f"{type(e).__name__}: {e}")
        else:
            verified.append(True)
            errors.append(None)
    error = None
    if hook_secrets and not any(verified):
        error = "; ".join(dict.fromkeys(errors))
    elif not hook_secrets:
        error = "no secret stored for this hook"
    return verified, errors, error


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def parts(self):
        path = urllib.parse.urlsplit(self.path).path
        return [urllib.parse.unquote(part) for part in path.strip("/").split("/")]

    def body(self):
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def answer(self, status, payload=None):
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if payload is not None:
            self.send_header("content-type", "application/json")
        if status != 204:
            self.send_header("content-length", str(len(data)))
        self.end_headers()
        if status != 204:
            self.wfile.write(data)

    def do_GET(self):
        parts = self.parts()
        if len(parts) == 2 and parts[0] == "received":
            with lock:
                deliveries = list(received.get(parts[1], []))
            self.answer(200, deliveries)
        else:
            self.answer(404, {"error": "not found"})

    def do_POST(self):
        parts = self.parts()
        body = self.body()
        kind = parts[0] if parts else ""
        try:
            if kind == "secret" and len(parts) == 2:
                with lock:
                    secrets.setdefault(parts[1], []).append(body.decode().strip())
                self.answer(204)
            elif kind == "fail" and len(parts) == 3:
                with lock:
                    failures[parts[1]] = failures.get(parts[1], 0) + int(parts[2])
                self.answer(204)
            elif kind == "slow" and len(parts) == 3:
                with lock:
                    slow.setdefault(parts[1], []).append(float(parts[2]))
                self.answer(204)
            elif kind == "hook" and len(parts) == 2:
                self.delivery(parts[1], body)
            else:
                self.answer(404, {"error": "not found"})
        except ValueError as e:
            self.answer(400, {"error": str(e)})

    def delivery(self, name, body):
        headers = {key.lower(): value for key, value in self.headers.items()}
        with lock:
            hook_secrets = list(secrets.get(name, []))
            wait = None
            if failures.get(name, 0) > 0:
                failures[name] -= 1
                status = 500
            elif slow.get(name):
                wait = slow[name].pop(0)
                status = 200
            else:
                status = 204
        verified, errors, error = verify(body, headers, hook_secrets)
        with lock:
            received.setdefault(name, []).append(
                {
                    "name": name,
                    "headers": headers,
                    "body": body.decode(errors="replace"),
                    "status": status,
                    "received_at": time.time(),
                    "verified": verified,
                    "errors": errors,
                    "error": error,
                }
            )
        if wait:
            time.sleep(wait)
        if status == 500:
            self.answer(500, {"error": "failing as asked"})
        else:
            self.answer(status)


def main(port_file):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    temporary = f"{port_file}.{os.getpid()}.tmp"
    with open(temporary, "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(temporary, port_file)
    stop = threading.Timer(LIFETIME, server.shutdown)
    stop.daemon = True
    stop.start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
