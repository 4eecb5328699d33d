"""The template's resources, made on the local server: input and output buckets (the input versioned), the event
queue with its dead-letter queue, the input bucket's notification to the queue, and the jobs table."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from s3ocr.devstack.event_source import SqsEventSource
from s3ocr.devstack.servers import LambdaFunction, MotoServer
from s3ocr.sinks.formats import ERROR_SUFFIX, JSON_SUFFIX, TEXT_SUFFIX
from s3ocr.sinks.s3 import S3Sink

INPUT_BUCKET = "s3ocr-input"
OUTPUT_BUCKET = "s3ocr-output"
QUEUE = "s3ocr-input-events"
DEAD_LETTER_QUEUE = "s3ocr-input-events-dlq"
JOBS_TABLE = "s3ocr-jobs"
EVENT_BUS = "s3ocr-documents"
COMPLETION_QUEUE = "s3ocr-completion-events"


@dataclass(frozen=True)
class Outputs:
    """A source key's outputs in the output bucket: its ``.txt`` is there, its ``.json`` and ``.error.json`` (None
    when absent). One terminal record is the ``.txt`` with its ``.json``, or the ``.error.json``, never both."""

    text: bool
    result: dict[str, Any] | None
    failure: dict[str, Any] | None


@dataclass
class LocalStack:
    server: MotoServer
    function: LambdaFunction
    s3: Any
    sqs: Any
    queue_url: str
    dead_letter_url: str
    events: SqsEventSource
    completion_queue_url: str = ""
    input_bucket: str = INPUT_BUCKET
    output_bucket: str = OUTPUT_BUCKET

    def upload(self, path: Path, key: str) -> None:
        self.s3.upload_file(str(path), self.input_bucket, key)

    def output_keys(self) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.output_bucket)
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))

    def read_output(self, key: str) -> bytes:
        return bytes(self.s3.get_object(Bucket=self.output_bucket, Key=key)["Body"].read())

    def outputs(self, source_key: str) -> Outputs:
        """What the output bucket holds for a source key, under the names the function gives its outputs."""
        sink = S3Sink(None, self.output_bucket)
        present = set(self.output_keys())

        def read(suffix: str) -> dict[str, Any] | None:
            name = sink.key(source_key, suffix)
            return dict(json.loads(self.read_output(name))) if name in present else None

        return Outputs(sink.key(source_key, TEXT_SUFFIX) in present, read(JSON_SUFFIX), read(ERROR_SUFFIX))


    def completion_events(self, wait: float = 1.0) -> list[dict[str, Any]]:
        return receive_events(self.sqs, self.completion_queue_url, wait)


def receive_events(sqs: Any, queue_url: str, wait: float = 1.0) -> list[dict[str, Any]]:
    """The completion events on the sample rule's queue (each received once, then deleted)."""
    found: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                       WaitTimeSeconds=int(wait) if not found else 0).get("Messages", [])
        if not messages:
            return found
        for message in messages:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def create_completion_events(events: Any, sqs: Any) -> str:
    """The template's event bus and its sample rule: every s3ocr completion event to a queue; returns its URL."""
    events.create_event_bus(Name=EVENT_BUS)
    queue_url = sqs.create_queue(QueueName=COMPLETION_QUEUE)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="s3ocr-completion", EventBusName=EVENT_BUS, EventPattern=json.dumps(
        {"source": ["s3ocr"], "detail-type": ["DocumentProcessed", "DocumentFailed"]}))
    events.put_targets(Rule="s3ocr-completion", EventBusName=EVENT_BUS, Targets=[{"Id": "queue", "Arn": queue_arn}])
    return str(queue_url)


def create_resources(s3: Any, sqs: Any, visibility_timeout: int, max_receive_count: int) -> tuple[str, str]:
    """Buckets, queue + DLQ with a redrive policy, and the S3 -> SQS notification; returns the queue URLs."""
    for bucket in (INPUT_BUCKET, OUTPUT_BUCKET):
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=INPUT_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    dead_letter_url = sqs.create_queue(QueueName=DEAD_LETTER_QUEUE)["QueueUrl"]
    dead_letter_arn = sqs.get_queue_attributes(QueueUrl=dead_letter_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(QueueName=QUEUE, Attributes={
        "VisibilityTimeout": str(visibility_timeout),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": max_receive_count}),
    })["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(Bucket=INPUT_BUCKET, NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}],
    })
    return queue_url, dead_letter_url


def create_jobs_table(dynamodb: Any) -> None:
    """The template's jobs table (``s3ocr.jobs``): one string key, ``pk``."""
    dynamodb.create_table(TableName=JOBS_TABLE, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                          BillingMode="PAY_PER_REQUEST")


@contextlib.contextmanager
def local_stack(function_env: dict[str, str] | None = None, log: IO[bytes] | int | None = None,
                visibility_timeout: int = 30, max_receive_count: int = 3,
                server: MotoServer | None = None) -> Iterator[LocalStack]:
    """Start the server and the function, create the resources; stop everything on exit.

    With ``server``, that running server is used (and left running): a caller may put something between it and
    the function (``devstack.faults``), naming that endpoint in ``function_env["AWS_ENDPOINT_URL"]``.
    """
    with contextlib.nullcontext(server) if server is not None else MotoServer() as server:
        s3, sqs = server.client("s3"), server.client("sqs")
        queue_url, dead_letter_url = create_resources(s3, sqs, visibility_timeout, max_receive_count)
        create_jobs_table(server.client("dynamodb"))
        completion_queue_url = create_completion_events(server.client("events"), sqs)
        env = {"AWS_ENDPOINT_URL": server.endpoint, "OUTPUT_BUCKET": OUTPUT_BUCKET,
               "POWERTOOLS_SERVICE_NAME": "s3ocr", "POWERTOOLS_METRICS_NAMESPACE": "S3Ocr",
               "POWERTOOLS_TRACE_DISABLED": "true", "MAX_RECEIVE_COUNT": str(max_receive_count),
               "INPUT_BUCKET": INPUT_BUCKET, "DEAD_LETTER_QUEUE_URL": dead_letter_url, "JOBS_TABLE": JOBS_TABLE,
               "EVENT_BUS_NAME": EVENT_BUS, **(function_env or {})}
        with LambdaFunction(env, log=log) as function:
            yield LocalStack(server=server, function=function, s3=s3, sqs=sqs, queue_url=queue_url,
                             dead_letter_url=dead_letter_url, events=SqsEventSource(sqs, queue_url, function.invoke),
                             completion_queue_url=completion_queue_url)
