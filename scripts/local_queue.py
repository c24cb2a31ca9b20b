"""The SQS queues and the event bus of a local stack, and Lambda's SQS
event source mapping for the queues, which moto does not have.

  local_queue.py create ENDPOINT NAME RESOURCE [--visibility SECONDS]
      creates queue NAME and its dead-letter queue NAME-dlq as template.yaml
      makes its queue resource RESOURCE (e.g. DailyExportQueue): redrive
      after the resource's RedrivePolicy.maxReceiveCount receives, with the
      visibility timeout shortened to SECONDS (default 5); prints the
      queue's URL
  local_queue.py create-bus ENDPOINT NAME
      creates the EventBridge bus NAME (template.yaml's EventBus), unless
      it exists
  local_queue.py poll ENDPOINT QUEUE_URL INVOKE_URL [--batch-size N]
      receives up to N messages at a time (BatchSize, default 1) and
      invokes the function at INVOKE_URL with them as an SQS event, each
      record as Lambda delivers it (attributes ApproximateReceiveCount,
      SentTimestamp, SenderId, ApproximateFirstReceiveTimestamp, message
      attributes, receipt handle, the queue's ARN); deletes the ones it
      does not report failed, as the event source mapping does with
      ReportBatchItemFailures. Runs until killed.

As with Lambda, a function error (HTTP error, no answer, or an
`errorType` in its answer) fails the whole batch, as does a
`batchItemFailures` entry that names no message of the batch; failed
messages come back when their visibility timeout runs out (the function
may change it) and go to the dead-letter queue after maxReceiveCount
receives.

Loopback only: ENDPOINT is the moto server, INVOKE_URL `cargo lambda
watch`'s invoke endpoint.
"""

import argparse
import base64
import json
import sys
import time
import urllib.error
import urllib.request

import boto3
import yaml

# The attributes Lambda puts in an SQS record, in its order (the last three
# FIFO queues only; AWSTraceHeader when the message has one).
LAMBDA_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "AWSTraceHeader",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
)


def sqs(endpoint):
    return boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def max_receive_count(resource):
    class Loader(yaml.SafeLoader):
        pass

    # CloudFormation's short forms (!Ref, !GetAtt, ...) as plain values.
    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    with open("template.yaml", encoding="utf-8") as f:
        template = yaml.load(f, Loader=Loader)
    queue = template["Resources"].get(resource)
    if queue is None:
        sys.exit(f"local_queue: template.yaml has no resource {resource}")
    if queue.get("Type") != "AWS::SQS::Queue":
        sys.exit(f"local_queue: template.yaml's {resource} is not an SQS queue")
    redrive = queue["Properties"].get("RedrivePolicy")
    if not redrive:
        sys.exit(f"local_queue: template.yaml's {resource} has no RedrivePolicy")
    return redrive["maxReceiveCount"]


def create(endpoint, name, resource, visibility):
    client = sqs(endpoint)
    receives = max_receive_count(resource)
    dead = client.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    arn = client.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])
    redrive = {
        "deadLetterTargetArn": arn["Attributes"]["QueueArn"],
        "maxReceiveCount": str(receives),
    }
    url = client.create_queue(
        QueueName=name,
        Attributes={"VisibilityTimeout": str(visibility), "RedrivePolicy": json.dumps(redrive)},
    )["QueueUrl"]
    print(url)


def create_bus(endpoint, name):
    events = boto3.client(
        "events",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    try:
        events.create_event_bus(Name=name)
    except events.exceptions.ResourceAlreadyExistsException:
        pass


def message_attributes(message):
    """MessageAttributes as Lambda's record spells them."""
    attributes = {}
    for name, value in message.get("MessageAttributes", {}).items():
        attributes[name] = {
            "stringValue": value.get("StringValue"),
            "binaryValue": (
                base64.b64encode(value["BinaryValue"]).decode("ascii")
                if "BinaryValue" in value
                else None
            ),
            "stringListValues": value.get("StringListValues", []),
            "binaryListValues": [
                base64.b64encode(b).decode("ascii") for b in value.get("BinaryListValues", [])
            ],
            "dataType": value["DataType"],
        }
        for key in ("stringValue", "binaryValue"):
            if attributes[name][key] is None:
                del attributes[name][key]
    return attributes


def record(message, queue_arn):
    given = message.get("Attributes", {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {key: str(given[key]) for key in LAMBDA_ATTRIBUTES if key in given},
        "messageAttributes": message_attributes(message),
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }


def receive(client, queue_url, batch_size):
    messages = []
    while len(messages) < batch_size:
        received = client.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(10, batch_size - len(messages)),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not received:
            break
        messages += received
    return messages


def invoke(invoke_url, messages, queue_arn):
    """The ids of the messages the function failed."""
    every = [m["MessageId"] for m in messages]
    request = urllib.request.Request(
        invoke_url,
        data=json.dumps({"Records": [record(m, queue_arn) for m in messages]}).encode(),
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=900) as response:
            body = response.read()
    except Exception as e:  # the function failed or is restarting
        detail = ""
        if isinstance(e, urllib.error.HTTPError):
            detail = " " + e.read().decode(errors="replace")[:500]
        print(f"local_queue: invoking {invoke_url} failed: {e}{detail}", file=sys.stderr)
        return every
    try:
        result = json.loads(body) if body.strip() else None
    except ValueError:
        result = None
    if isinstance(result, dict) and "errorType" in result:
        print(f"local_queue: {invoke_url} failed: {body.decode(errors='replace')[:500]}",
              file=sys.stderr)
        return every
    failures = (result.get("batchItemFailures") if isinstance(result, dict) else None) or []
    failed = [f.get("itemIdentifier") if isinstance(f, dict) else None for f in failures]
    if not all(f in every for f in failed):
        # As Lambda: an identifier that names no message fails the batch.
        print(f"local_queue: {invoke_url} reported unknown items {failed}", file=sys.stderr)
        return every
    return failed


def poll(endpoint, queue_url, invoke_url, batch_size):
    client = sqs(endpoint)
    queue_arn = client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    while True:
        messages = receive(client, queue_url, batch_size)
        if not messages:
            # No long poll: moto_server.py handles one request at a time.
            time.sleep(2)
            continue
        failed = set(invoke(invoke_url, messages, queue_arn))
        done = [m for m in messages if m["MessageId"] not in failed]
        for message in messages:
            if message["MessageId"] in failed:
                print(f"local_queue: {message['Body']} failed; it comes back", file=sys.stderr)
        for start in range(0, len(done), 10):
            client.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(done[start : start + 10])
                ],
            )
        for message in done:
            print(f"local_queue: done {message['Body']}", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    created = commands.add_parser("create")
    created.add_argument("endpoint")
    created.add_argument("name")
    created.add_argument("resource")
    created.add_argument("--visibility", type=int, default=5, metavar="SECONDS")
    bus = commands.add_parser("create-bus")
    bus.add_argument("endpoint")
    bus.add_argument("name")
    polled = commands.add_parser("poll")
    polled.add_argument("endpoint")
    polled.add_argument("queue_url")
    polled.add_argument("invoke_url")
    polled.add_argument("--batch-size", type=int, default=1, metavar="N")
    args = parser.parse_args()
    if args.command == "create":
        create(args.endpoint, args.name, args.resource, args.visibility)
    elif args.command == "create-bus":
        create_bus(args.endpoint, args.name)
    else:
        if args.batch_size < 1:
            parser.error("--batch-size must be at least 1")
        poll(args.endpoint, args.queue_url, args.invoke_url, args.batch_size)


if __name__ == "__main__":
    main()
