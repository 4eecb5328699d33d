"""One local deployment per test module: moto S3/SQS server, queue with DLQ, the function under the RIE."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from s3ocr.devstack.stack import LocalStack, local_stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    log_path = tmp_path_factory.mktemp("function") / "function.log"
    with log_path.open("wb") as log, local_stack(log=log, visibility_timeout=2, max_receive_count=2) as running:
        running.log_path = log_path  # type: ignore[attr-defined]
        yield running
        log.flush()
        print(f"function log: {log_path}")


def output_json(stack: LocalStack, key: str) -> dict:
    return json.loads(stack.read_output(key))


def upload_bytes(stack: LocalStack, key: str, body: bytes) -> None:
    stack.s3.put_object(Bucket=stack.input_bucket, Key=key, Body=body)


def upload_quietly(stack: LocalStack, files: dict[str, Path]) -> None:
    """Put objects without letting their notifications reach the function (for direct-invoke tests)."""
    for key, path in files.items():
        stack.upload(path, key)
    # PurgeQueue is allowed once a minute, so the notifications are received and deleted instead.
    for _ in range(20):
        messages = stack.sqs.receive_message(QueueUrl=stack.queue_url, MaxNumberOfMessages=10,
                                             WaitTimeSeconds=1).get("Messages", [])
        if not messages:
            return
        for message in messages:
            stack.sqs.delete_message(QueueUrl=stack.queue_url, ReceiptHandle=message["ReceiptHandle"])
