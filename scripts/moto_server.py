"""moto server (DynamoDB and S3 on one port) that handles one request at a time.

moto's TransactWriteItems takes no lock: it snapshots the whole table, applies
the items, and on a cancellation restores the snapshot, undoing whatever other
requests wrote meanwhile (and its deep copy can fail with "dictionary changed
size during iteration"). Real DynamoDB serialises writes per item, so the
emulator must not lose them: every request here holds one lock while moto
handles it. Connections are still served by threads, so one idle keep-alive
connection never blocks the rest.

usage: python scripts/moto_server.py PORT   (binds 127.0.0.1 only)
"""

import signal
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def serialised(app):
    lock = threading.Lock()

    def handle(environ, start_response):
        with lock:
            body = app(environ, start_response)
            try:
                return [b"".join(body)]
            finally:
                close = getattr(body, "close", None)
                if close:
                    close()

    return handle


def main() -> None:
    port = int(sys.argv[1])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        "127.0.0.1",
        port,
        serialised(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
