"""S3 event notifications as ``DocumentRef`` values.

Three shapes arrive: an S3 notification (``{"Records": [{"s3": ...}]}``, delivered directly or as the
body of an SQS message), an EventBridge "Object Created" event, and the ``s3:TestEvent`` that S3 sends
when notifications are configured (acknowledged and ignored). S3 URL-encodes keys in notifications
(a space arrives as ``+``), so every record's key is decoded with ``unquote_plus``; EventBridge keys
are encoded the same way. A folder marker (a key ending in ``/``) is no document: it yields no ref.

A payload of none of these shapes raises ``NotAnS3EventError``, a ``MalformedMessageError``: retrying it
changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus

from s3ocr.errors import MalformedMessageError
from s3ocr.keys import is_folder_marker
from s3ocr.models import DocumentRef


class NotAnS3EventError(MalformedMessageError):
    """The payload is none of the shapes above (a malformed or foreign message)."""


def is_test_event(payload: Mapping[str, Any]) -> bool:
    return payload.get("Event") == "s3:TestEvent"


def _ref(bucket: Any, key: Any, obj: Mapping[str, Any]) -> DocumentRef:
    if not isinstance(bucket, str) or not isinstance(key, str) or not bucket or not key:
        raise NotAnS3EventError("the bucket name and the object key must be non-empty strings")
    size = obj.get("size")
    return DocumentRef(
        bucket=bucket,
        key=unquote_plus(key),
        version_id=obj.get("versionId") or obj.get("version-id") or None,
        etag=obj.get("eTag") or obj.get("etag") or None,
        size=int(size) if size is not None else None,
        sequencer=str(obj["sequencer"]) if obj.get("sequencer") else None,
    )


def _documents(refs: list[DocumentRef]) -> list[DocumentRef]:
    return [ref for ref in refs if not is_folder_marker(ref.key)]


def refs_from_s3_notification(payload: Mapping[str, Any]) -> list[DocumentRef]:
    """The created objects named by an S3 notification; empty for a test event or other event kinds."""
    if not isinstance(payload, Mapping):
        raise NotAnS3EventError(f"the message is a JSON {type(payload).__name__}, not an S3 notification")
    if is_test_event(payload):
        return []
    records = payload.get("Records")
    if not isinstance(records, list):
        raise NotAnS3EventError("no Records in the S3 notification")
    refs = []
    for record in records:
        if not isinstance(record, Mapping) or record.get("eventSource") != "aws:s3" or "s3" not in record:
            source = record.get("eventSource") if isinstance(record, Mapping) else None
            raise NotAnS3EventError(f"not an S3 record: eventSource={source!r}")
        if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
            continue
        try:
            s3 = record["s3"]
            refs.append(_ref(s3["bucket"]["name"], s3["object"]["key"], s3["object"]))
        except (KeyError, TypeError, ValueError) as e:
            raise NotAnS3EventError(f"S3 record without s3.bucket.name / s3.object.key ({type(e).__name__})") from e
    return _documents(refs)


def is_eventbridge_event(payload: Mapping[str, Any]) -> bool:
    return payload.get("source") == "aws.s3" and "detail-type" in payload


def refs_from_eventbridge(payload: Mapping[str, Any]) -> list[DocumentRef]:
    """The object of an EventBridge "Object Created" event; empty for other S3 detail types."""
    if payload.get("detail-type") != "Object Created":
        return []
    detail = payload.get("detail") or {}
    try:
        return _documents([_ref(detail["bucket"]["name"], detail["object"]["key"], detail["object"])])
    except (KeyError, TypeError, ValueError) as e:
        raise NotAnS3EventError("EventBridge event without detail.bucket.name / detail.object.key") from e


def refs_from_payload(payload: Any) -> list[DocumentRef]:
    """Refs from any S3-originated payload: a notification, a test event or an EventBridge event."""
    if isinstance(payload, Mapping) and is_eventbridge_event(payload):
        return refs_from_eventbridge(payload)
    return refs_from_s3_notification(payload)


def dead_letter(sqs: Any, queue_url: str, body: str, error: MalformedMessageError, message_id: str) -> None:
    """Put a malformed message on the dead-letter queue as it came, with why in its attributes (``s3ocr-reason``,
    ``s3ocr-error``, the original ``s3ocr-message-id``): retried, it would stay malformed."""
    sqs.send_message(QueueUrl=queue_url, MessageBody=body, MessageAttributes={
        "s3ocr-reason": {"DataType": "String", "StringValue": error.reason},
        "s3ocr-error": {"DataType": "String", "StringValue": str(error)[:1000]},
        "s3ocr-message-id": {"DataType": "String", "StringValue": message_id},
    })
