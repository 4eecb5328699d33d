"""``s3ocr watch``: a line per document a deployed stack finishes, as it finishes.

Two sources, for two set-ups:

- ``--queue URL``: an SQS queue that an EventBridge rule fills with s3ocr's completion events (``s3ocr.events``;
  the message body is the event itself). Long-polled; each event is deleted once printed, so two watchers of one
  queue share the events rather than both print them, and a watcher stopped between the two prints one again.
  A message that is not an s3ocr event is left on the queue for whoever it is for.
- ``--bucket s3://bucket/prefix/``: the output bucket itself, for a stack without an event bus. The ``.json`` and
  ``.error.json`` outputs there at the start are remembered; every ``interval`` seconds the prefix is listed again
  and each output that is new, or rewritten (another ETag), is read and printed. Listing costs a request per
  1,000 keys each time: for a large bucket, a queue is the better source.

Both print the same line (``console.status_line``) or, with ``--json``, a JSON line shaped as an event's detail.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TextIO

from s3ocr.console import Row, status_line
from s3ocr.errors import ConfigurationError, StorageUnavailableError, aws_error_code
from s3ocr.events import FAILED, PROCESSED, SOURCE
from s3ocr.models import QualityTally
from s3ocr.settings import Settings
from s3ocr.sinks.formats import JSON_SUFFIX

LONG_POLL_SECONDS = 20  # SQS's longest wait for a message
# Failures that only a change of the command or of the account fixes; other AWS failures pass.
_CONFIGURATION_CODES = frozenset({
    "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "NoSuchBucket", "AccessDenied",
    "AccessDeniedException", "InvalidAccessKeyId", "SignatureDoesNotMatch", "UnrecognizedClientException",
    "InvalidAddress", "InvalidParameterValue",
})


class Until:
    """The time a watch may run: ``None`` seconds for ever."""

    def __init__(self, seconds: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.end = None if seconds is None else clock() + seconds

    def left(self) -> float:
        return math.inf if self.end is None else max(0.0, self.end - self.clock())

    @property
    def passed(self) -> bool:
        return self.left() <= 0


@contextlib.contextmanager
def aws_errors(what: str) -> Iterator[None]:
    """botocore failures as s3ocr errors, by error code: one the user must fix, or one that passes."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
    )

    try:
        yield
    except (NoCredentialsError, PartialCredentialsError, NoRegionError) as e:
        raise ConfigurationError(f"{what}: {e}") from e
    except ClientError as e:
        code = aws_error_code(e)
        if code in _CONFIGURATION_CODES:
            raise ConfigurationError(f"{what}: {code}") from e
        raise StorageUnavailableError(f"{what}: {code or 'AWS error'}") from e
    except BotoCoreError as e:
        raise StorageUnavailableError(f"{what}: {type(e).__name__}") from e


def completion_detail(body: str) -> dict[str, Any] | None:
    """The detail of an s3ocr completion event (the SQS body is the EventBridge envelope), or None for any other
    message."""
    try:
        envelope = json.loads(body)
    except ValueError:
        return None
    if not isinstance(envelope, dict) or envelope.get("source") != SOURCE:
        return None
    detail = envelope.get("detail")
    return detail if envelope.get("detail-type") in (PROCESSED, FAILED) and isinstance(detail, dict) else None


def output_detail(bucket: str, key: str, document: Mapping[str, Any]) -> dict[str, Any] | None:
    """An output ``.json`` or ``.error.json`` as the detail its completion event carries; None for another JSON
    (a page range's work file, a file of someone else's)."""
    source = document.get("source")
    if not isinstance(source, dict) or "status" not in document or not isinstance(document.get("timings"), dict):
        return None
    detail: dict[str, Any] = {
        "bucket": source.get("bucket", ""), "key": source.get("key", ""), "version_id": source.get("version_id"),
        "status": document["status"], "seconds": document["timings"].get("total"),
    }
    if document["status"] == "failed":
        return {**detail, "outputs": {"error": {"bucket": bucket, "key": key}}, "reason": document.get("reason"),
                "message": document.get("message", "")}
    tally = QualityTally()
    for page in document.get("pages", []):
        tally.add_document(page)
    quality = tally.quality()  # as the completion event counts it: over every word
    return {**detail, "outputs": {"json": {"bucket": bucket, "key": key}},
            "engine": (document.get("engine") or {}).get("name", ""), "pages": quality.pages,
            "mean_confidence": quality.mean_confidence, "no_text_pages": quality.no_text_pages}


def detail_row(detail: Mapping[str, Any]) -> Row:
    bucket, key = str(detail.get("bucket") or ""), str(detail.get("key") or "")
    uri = f"s3://{bucket}/{key}" if bucket else key
    outputs = {name: f"s3://{place.get('bucket')}/{place.get('key')}"
               for name, place in (detail.get("outputs") or {}).items() if isinstance(place, dict)}
    return Row(uri, uri, str(detail.get("status", "")), pages=int(detail.get("pages") or 0),
               seconds=float(detail.get("seconds") or 0.0), mean_confidence=detail.get("mean_confidence"),
               no_text_pages=int(detail.get("no_text_pages") or 0), engine=str(detail.get("engine") or ""),
               reason=str(detail.get("reason") or ""), message=str(detail.get("message") or ""), outputs=outputs)


def _show(detail: Mapping[str, Any], as_json: bool, out: TextIO) -> None:
    line = json.dumps(detail, ensure_ascii=False) if as_json else status_line(detail_row(detail))
    print(line, file=out, flush=True)


def watch_queue(url: str, until: Until, as_json: bool = False, once: bool = False) -> int:
    """Print the completion events arriving on the queue at ``url``; 1 when ``once`` and none came in time."""
    import boto3

    with aws_errors("connecting to SQS"):
        sqs = boto3.client("sqs")
    foreign: set[str] = set()
    while True:
        wait = math.ceil(min(LONG_POLL_SECONDS, until.left()))
        with aws_errors(f"receiving from {url}"):
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait)
        shown = 0
        for message in messages.get("Messages", []):
            detail = completion_detail(message.get("Body", ""))
            if detail is None:
                if message["MessageId"] not in foreign:
                    foreign.add(message["MessageId"])
                    print(f"s3ocr: message {message['MessageId']} is no s3ocr event: left on the queue",
                          file=sys.stderr)
                continue
            _show(detail, as_json, sys.stdout)
            with aws_errors(f"deleting from {url}"):
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            shown += 1
        if once and shown:
            return 0
        if until.passed:
            return 1 if once else 0


def _outputs(s3: Any, bucket: str, prefix: str, work_prefix: str) -> dict[str, str]:
    """Output ``.json`` (and ``.error.json``) keys under ``prefix`` with their ETags (a rewrite changes the ETag)."""
    found = {}
    with aws_errors(f"listing s3://{bucket}/{prefix}"):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            found.update({obj["Key"]: obj["ETag"] for obj in page.get("Contents", [])
                          if obj["Key"].endswith(JSON_SUFFIX)
                          and not obj["Key"].startswith(work_prefix)})
    return found


def _read_detail(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    with aws_errors(f"reading s3://{bucket}/{key}"):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return output_detail(bucket, key, document) if isinstance(document, dict) else None


def watch_bucket(uri: str, until: Until, as_json: bool = False, once: bool = False, interval: float = 5.0,
                 out: TextIO | None = None, sleep: Callable[[float], None] = time.sleep) -> int:
    """Print the outputs written under ``uri`` (``s3://bucket/prefix/``) from now on; 1 when ``once`` and none
    came in time."""
    from s3ocr.sources import s3_client

    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    s3 = s3_client()
    work_prefix = Settings.from_env().work_prefix
    seen = _outputs(s3, bucket, prefix, work_prefix)
    while not until.passed:
        sleep(min(interval, until.left()))
        shown = 0
        for key, etag in _outputs(s3, bucket, prefix, work_prefix).items():
            if seen.get(key) == etag:
                continue
            seen[key] = etag
            detail = _read_detail(s3, bucket, key)
            if detail is not None:
                _show(detail, as_json, out or sys.stdout)
                shown += 1
        if once and shown:
            return 0
    return 1 if once else 0


def _bucket_uri(value: str) -> str:
    if not value.startswith("s3://") or not value.removeprefix("s3://").partition("/")[0]:
        raise argparse.ArgumentTypeError(f"{value!r}: use s3://bucket/ or s3://bucket/prefix/")
    return value


def add_watch(commands: Any) -> None:
    """The ``watch`` command's arguments."""
    parser = commands.add_parser("watch", help="follow a deployed stack's documents as they finish",
                                 description="Print a line per document a deployed stack finishes, from its "
                                             "completion events on an SQS queue (deleted once printed) or from "
                                             "the outputs appearing in its output bucket. Ctrl-C stops it.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--queue", metavar="URL", help="an SQS queue an EventBridge rule sends s3ocr's events to")
    source.add_argument("--bucket", metavar="S3URI", type=_bucket_uri,
                        help="s3://bucket/prefix/ of the outputs: .json and .error.json written after the start")
    parser.add_argument("--json", action="store_true", help="print each event's detail as a JSON line")
    parser.add_argument("--once", action="store_true",
                        help="exit after the first document (status 1 if --timeout passes first)")
    parser.add_argument("--timeout", type=float, metavar="SECONDS", help="stop after this long")
    parser.add_argument("--interval", type=float, default=5.0, metavar="SECONDS",
                        help="with --bucket: seconds between listings (default 5)")


def watch(args: argparse.Namespace) -> int:
    """Run ``s3ocr watch``; Ctrl-C is the usual way out of it, not an error."""
    until = Until(args.timeout)
    try:
        if args.queue:
            return watch_queue(args.queue, until, as_json=args.json, once=args.once)
        return watch_bucket(args.bucket, until, as_json=args.json, once=args.once, interval=args.interval)
    except KeyboardInterrupt:
        return 0
