"""The daily export queue of a local stack, and Lambda's SQS event source
mapping for it, which moto does not have.

  local_queue.py create ENDPOINT NAME
      creates queue NAME and its dead-letter queue NAME-dlq as template.yaml
      makes them (redrive after maxReceiveCount receives, visibility timeout
      shortened to 5 s) and prints the queue's URL
  local_queue.py poll ENDPOINT QUEUE_URL INVOKE_URL
      receives messages one at a time (BatchSize: 1) and invokes the
      function at INVOKE_URL with each as an SQS event; deletes the ones it
      does not report failed, as the event source mapping does. Runs until
      killed.

Loopback only: ENDPOINT is the moto server, INVOKE_URL `cargo lambda
watch`'s invoke endpoint.
"""

import json
import sys
import time
import urllib.request

import boto3
import yaml


def sqs(endpoint):
    return boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def max_receive_count():
    class Loader(yaml.SafeLoader):
        pass

    # CloudFormation's short forms (!Ref, !GetAtt, ...) as plain values.
    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    with open("template.yaml", encoding="utf-8") as f:
        template = yaml.load(f, Loader=Loader)
    queue = template["Resources"]["DailyExportQueue"]["Properties"]
    return queue["RedrivePolicy"]["maxReceiveCount"]


def create(endpoint, name):
    client = sqs(endpoint)
    dead = client.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    arn = client.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])
    redrive = {
        "deadLetterTargetArn": arn["Attributes"]["QueueArn"],
        "maxReceiveCount": str(max_receive_count()),
    }
    url = client.create_queue(
        QueueName=name,
        Attributes={"VisibilityTimeout": "5", "RedrivePolicy": json.dumps(redrive)},
    )["QueueUrl"]
    print(url)


def poll(endpoint, queue_url, invoke_url):
    client = sqs(endpoint)
    while True:
        messages = client.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=1, AttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            # No long poll: moto_server.py handles one request at a time.
            time.sleep(2)
            continue
        message = messages[0]
        record = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {},
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:local",
            "awsRegion": "us-east-1",
        }
        request = urllib.request.Request(
            invoke_url,
            data=json.dumps({"Records": [record]}).encode(),
            headers={"content-type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=900) as response:
                failures = json.load(response).get("batchItemFailures", [])
        except Exception as e:  # the function failed or is restarting
            print(f"local_queue: invoking {invoke_url} failed: {e}", file=sys.stderr)
            continue
        if failures:
            print(f"local_queue: {message['Body']} failed; it comes back", file=sys.stderr)
        else:
            client.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            print(f"local_queue: exported {message['Body']}", file=sys.stderr)


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"create": create, "poll": poll}[command](*args)
