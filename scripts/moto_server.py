"""moto server (DynamoDB and S3 on one port) that handles one request at a time.

moto's TransactWriteItems takes no lock: it snapshots the whole table, applies
the items, and on a cancellation restores the snapshot, undoing whatever other
requests wrote meanwhile (and its deep copy can fail with "dictionary changed
size during iteration"). Real DynamoDB serialises writes per item, so the
emulator must not lose them: every request here holds one lock while moto
handles it. Connections are still served by threads, so one idle keep-alive
connection never blocks the rest.

moto's TransactWriteItems also deep-copies the whole table once per item of
the transaction, where one snapshot per table is the same backup: a campaign
change (nine items) on a table of a few thousand items took over five
seconds. Here each table is copied once per transaction (`snapshot_once`).

usage: python scripts/moto_server.py PORT   (binds 127.0.0.1 only)
"""

import copy
import signal
import sys
import threading

import moto.dynamodb.models as dynamodb_models
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


class _CopyOncePerTransaction:
    """`copy` as moto's DynamoDB backend sees it: inside TransactWriteItems,
    a deep copy of an object already copied in this transaction is that
    copy (all are taken before any item is applied, so they are equal).

    A table's stream shard is not copied: the snapshot shares the live one,
    and a cancelled transaction cuts it back to its length before (see
    `snapshot_once`). Copying it would cost every transaction a copy of
    every stream record the table ever had, and a reader's shard iterator
    would go on reading the copy that the rollback threw away."""

    def __init__(self) -> None:
        self.snapshots = None
        self.streams = None

    def deepcopy(self, obj, *args, **kwargs):
        if self.snapshots is None:
            return copy.deepcopy(obj, *args, **kwargs)
        if id(obj) not in self.snapshots:
            memo = {}
            shard = getattr(obj, "stream_shard", None)
            if shard is not None:
                memo[id(shard)] = shard
                self.streams.append((shard, len(shard.items)))
            self.snapshots[id(obj)] = copy.deepcopy(obj, memo)
        return self.snapshots[id(obj)]

    def __getattr__(self, name):
        return getattr(copy, name)


def snapshot_once() -> None:
    """One table snapshot per transaction (requests are serialised, so one
    shared memo is safe)."""
    shim = _CopyOncePerTransaction()
    dynamodb_models.copy = shim
    transact = dynamodb_models.DynamoDBBackend.transact_write_items

    def transact_write_items(self, *args, **kwargs):
        shim.snapshots = {}
        shim.streams = []
        try:
            return transact(self, *args, **kwargs)
        except Exception:
            # Rolled back: the cancelled writes leave no stream record.
            for shard, length in shim.streams:
                del shard.items[length:]
            raise
        finally:
            shim.snapshots = None
            shim.streams = None

    dynamodb_models.DynamoDBBackend.transact_write_items = transact_write_items


def main() -> None:
    port = int(sys.argv[1])
    snapshot_once()
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
