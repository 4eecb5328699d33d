"""What Lambda's SQS event source mapping does, for a local queue: poll, invoke, delete what succeeded.

Messages the function reports in ``batchItemFailures`` (or all of them, when the invocation itself
fails) are left on the queue; they come back after the visibility timeout and, past the redrive
policy's ``maxReceiveCount``, the queue moves them to its dead-letter queue, as in AWS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class BatchReport:
    received: int = 0
    succeeded: int = 0
    failed: int = 0
    responses: list[dict[str, Any]] = field(default_factory=list)


def s3_notification(bucket: Any, key: Any, **object_fields: Any) -> dict[str, Any]:
    """An S3 "ObjectCreated:Put" notification for one object, as S3 sends it (``object_fields``: ``eTag``,
    ``size``, ``versionId``, ``sequencer``...). Any value is taken, so that a test can send a broken one."""
    return {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                         "s3": {"bucket": {"name": bucket}, "object": {"key": key, **object_fields}}}]}


def to_lambda_sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """Messages from ReceiveMessage in the shape Lambda hands to a function."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


class SqsEventSource:
    def __init__(self, sqs: Any, queue_url: str, invoke: Callable[[dict[str, Any]], dict[str, Any]],
                 batch_size: int = 10) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.invoke = invoke
        self.batch_size = batch_size
        self.queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self.region = self.queue_arn.split(":")[3]

    def poll_once(self, wait_seconds: int = 1) -> BatchReport:
        """One receive -> invoke -> delete cycle."""
        received = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=self.batch_size,
                                            WaitTimeSeconds=wait_seconds, AttributeNames=["All"],
                                            MessageAttributeNames=["All"])
        messages = received.get("Messages", [])
        report = BatchReport(received=len(messages))
        if not messages:
            return report
        response = self.invoke(to_lambda_sqs_event(messages, self.queue_arn, self.region))
        report.responses.append(response)
        if "errorType" in response:  # the invocation failed as a whole: nothing is deleted
            report.failed = len(messages)
            return report
        failed_ids = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed_ids]
        if done:
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
            ])
        report.succeeded, report.failed = len(done), len(messages) - len(done)
        return report

    def drain(self, idle_polls: int = 2, max_polls: int = 200) -> BatchReport:
        """Poll until the queue has been empty ``idle_polls`` times in a row."""
        total = BatchReport()
        idle = 0
        for _ in range(max_polls):
            report = self.poll_once()
            total.received += report.received
            total.succeeded += report.succeeded
            total.failed += report.failed
            total.responses += report.responses
            idle = idle + 1 if report.received == 0 else 0
            if idle >= idle_polls:
                break
        return total


def queue_depth(sqs: Any, queue_url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])
