"""Lambda's DynamoDB-stream event source mapping for a local stack, which
moto does not have (moto serves the stream itself on the same port).

  local_stream.py ENDPOINT TABLE INVOKE_URL [INVOKE_URL ...]
      reads the stream of table TABLE (its LatestStreamArn) and invokes the
      function at each INVOKE_URL with every batch of records (up to 100)
      as a DynamoDB-stream event, each record as Lambda delivers it. Shards
      there at start-up are read from LATEST (the template's
      StartingPosition), shards that appear later from TRIM_HORIZON; a
      shard's child waits until the parent is read to its end. Runs until
      killed, printing one line per delivered batch to stdout.

As the event source mapping does with no maximum retry count, a batch a
function fails (HTTP error, no answer, or an `errorType` in its answer) is
retried every second until it takes it, and the shard does not move on
until every INVOKE_URL took the batch; each URL is its own mapping, so one
that took it is not invoked again. A result `{"batchItemFailures":
[{"itemIdentifier": SEQUENCE_NUMBER}]}` (ReportBatchItemFailures) has that
URL retry the batch from the lowest sequence number it names.

Where moto's stream differs from DynamoDB's, this reads it as DynamoDB's:
- Plain moto puts back a copy of the whole table, its stream shard
  included, when a TransactWriteItems is cancelled; a shard iterator taken
  before would keep reading the discarded shard (the cancelled writes,
  then nothing ever again). scripts/moto_server.py keeps the live shard
  and cuts the cancelled writes from it instead; all the same, each poll
  takes a fresh iterator after the last record delivered (LATEST is the
  shard's last record at start-up), never NextShardIterator.
- UpdateItem of a new item (alone or in a transaction) writes two INSERTs,
  the key alone and then the item; DynamoDB writes one, the second.
- Records come with eventVersion 1.0 and no eventSourceARN; Lambda's have
  1.1 and the stream's ARN.

Loopback only: ENDPOINT is the moto server, INVOKE_URL `cargo lambda
watch`'s invoke endpoint.
"""

import base64
import datetime
import json
import sys
import time
import urllib.error
import urllib.request

import boto3
import botocore.exceptions

REGION = "us-east-1"
BATCH_SIZE = 100
IDLE = 0.5
RETRY = 1.0


def client(service, endpoint):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def wire(value):
    """A value boto3 parsed, back as it came on the wire (and as Lambda
    passes it on): timestamps as epoch seconds, binary as base64."""
    if isinstance(value, dict):
        return {key: wire(item) for key, item in value.items()}
    if isinstance(value, list):
        return [wire(item) for item in value]
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    return value


def lambda_record(record, stream_arn):
    stream = record["dynamodb"]
    dynamodb = {
        "ApproximateCreationDateTime": wire(stream["ApproximateCreationDateTime"]),
        "Keys": wire(stream["Keys"]),
    }
    for key in ("NewImage", "OldImage"):
        if key in stream:
            dynamodb[key] = wire(stream[key])
    dynamodb["SequenceNumber"] = stream["SequenceNumber"]
    dynamodb["SizeBytes"] = stream["SizeBytes"]
    dynamodb["StreamViewType"] = stream["StreamViewType"]
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": record.get("awsRegion", REGION),
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }


def invoke(url, records):
    """The records this URL did not take: none, all, or (batchItemFailures)
    those from the lowest sequence number it reported."""
    request = urllib.request.Request(
        url,
        data=json.dumps({"Records": records}).encode(),
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=900) as response:
            body = response.read()
    except Exception as e:  # HTTP 500, refused, or the function restarting
        detail = ""
        if isinstance(e, urllib.error.HTTPError):
            detail = " " + e.read().decode(errors="replace")[:500]
        print(f"local_stream: invoking {url} failed: {e}{detail}", file=sys.stderr, flush=True)
        return records
    try:
        result = json.loads(body) if body.strip() else None
    except ValueError:
        result = None
    if isinstance(result, dict) and "errorType" in result:
        print(f"local_stream: {url} failed: {body.decode(errors='replace')[:500]}",
              file=sys.stderr, flush=True)
        return records
    failures = result.get("batchItemFailures") if isinstance(result, dict) else None
    if not failures:
        return []
    # As Lambda: retry from the lowest sequence number reported; an
    # identifier that names no record of the batch fails the whole batch.
    numbers = [r["dynamodb"]["SequenceNumber"] for r in records]
    failed = [f.get("itemIdentifier") if isinstance(f, dict) else None for f in failures]
    if not all(f in numbers for f in failed):
        print(f"local_stream: {url} reported unknown items {failed}; retrying the batch",
              file=sys.stderr, flush=True)
        return records
    first = min(numbers.index(f) for f in failed)
    print(f"local_stream: {url} failed from {numbers[first]}; retrying from there",
          file=sys.stderr, flush=True)
    return records[first:]


def deliver(records, invoke_urls):
    pending = {url: records for url in invoke_urls}
    while True:
        pending = {url: rest for url, batch in pending.items() if (rest := invoke(url, batch))}
        if not pending:
            return
        time.sleep(RETRY)


class Shard:
    def __init__(self, shard_id, parent):
        self.id = shard_id
        self.parent = parent
        self.last = None  # the sequence number of the last record delivered (or skipped)


def iterator(streams, stream_arn, shard):
    if shard.last is None:
        kwargs = {"ShardIteratorType": "TRIM_HORIZON"}
    else:
        kwargs = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": shard.last}
    return streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard.id, **kwargs)[
        "ShardIterator"
    ]


def skip_to_end(streams, stream_arn, shard):
    """LATEST, as a position that survives moto replacing the shard: the
    sequence number of the shard's last record."""
    while True:
        answer = streams.get_records(
            ShardIterator=iterator(streams, stream_arn, shard), Limit=1000
        )
        records = answer.get("Records", [])
        if not records:
            return
        shard.last = records[-1]["dynamodb"]["SequenceNumber"]


def moto_records(records, full_page):
    """The records of a page as DynamoDB writes them, and the sequence
    number the next page starts after. moto's UpdateItem of a new item
    writes two INSERTs (the key alone, then the item), DynamoDB one: an
    INSERT followed by another of the same key is moto's first. The last
    INSERT of a full page waits for the next page, where its successor is."""
    kept = [
        record
        for record, following in zip(records, records[1:] + [None])
        if not (
            record["eventName"] == "INSERT"
            and following is not None
            and following["eventName"] == "INSERT"
            and following["dynamodb"]["Keys"] == record["dynamodb"]["Keys"]
        )
    ]
    if full_page and len(records) > 1 and records[-1]["eventName"] == "INSERT":
        if kept and kept[-1] is records[-1]:
            kept.pop()
        records = records[:-1]
    return kept, records[-1]["dynamodb"]["SequenceNumber"]


def main(endpoint, table, *invoke_urls):
    if not invoke_urls:
        sys.exit(__doc__)
    described = client("dynamodb", endpoint).describe_table(TableName=table)["Table"]
    stream_arn = described.get("LatestStreamArn")
    if not stream_arn:
        sys.exit(f"local_stream: table {table} has no stream")
    streams = client("dynamodbstreams", endpoint)
    shards = {}  # shard id -> Shard, while it is read
    finished = set()  # shards read to their end (closed)
    started = False
    while True:
        try:
            description = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]
            for listed in description.get("Shards", []):
                shard_id = listed["ShardId"]
                if shard_id not in shards and shard_id not in finished:
                    shard = Shard(shard_id, listed.get("ParentShardId"))
                    if not started:
                        skip_to_end(streams, stream_arn, shard)
                    shards[shard_id] = shard
            started = True
            busy = False
            for shard in list(shards.values()):
                if shard.parent in shards:
                    continue  # the parent's records come first
                try:
                    answer = streams.get_records(
                        ShardIterator=iterator(streams, stream_arn, shard), Limit=BATCH_SIZE
                    )
                except botocore.exceptions.ClientError as e:
                    code = e.response.get("Error", {}).get("Code")
                    if code == "TrimmedDataAccessException":
                        # Past the 24 h the stream keeps: on from its oldest record.
                        print(f"local_stream: shard {shard.id}: {code}; from TRIM_HORIZON",
                              file=sys.stderr, flush=True)
                        shard.last = None
                        continue
                    if code == "ResourceNotFoundException":
                        print(f"local_stream: shard {shard.id}: {code}; dropped",
                              file=sys.stderr, flush=True)
                        del shards[shard.id]
                        finished.add(shard.id)
                        continue
                    raise
                records = answer.get("Records", [])
                if records:
                    busy = True
                    kept, last = moto_records(records, len(records) == BATCH_SIZE)
                    if kept:
                        deliver([lambda_record(r, stream_arn) for r in kept], invoke_urls)
                        print(f"local_stream: delivered {len(kept)} records from "
                              f"{kept[0]['dynamodb']['SequenceNumber']}", flush=True)
                    shard.last = last
                elif "NextShardIterator" not in answer:  # closed and read to its end
                    del shards[shard.id]
                    finished.add(shard.id)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
            # moto restarting: on from the last record delivered.
            print(f"local_stream: {e}; retrying", file=sys.stderr, flush=True)
            time.sleep(RETRY)
            continue
        if not busy:
            time.sleep(IDLE)


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    try:
        main(*sys.argv[1:])
    except KeyboardInterrupt:
        pass
