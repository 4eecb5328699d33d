"""S3 event notifications as ``DocumentRef`` values.

Three shapes arrive: an S3 notification (``{"Records": [{"s3": ...}]}``, delivered directly or as the
body of an SQS message), an EventBridge "Object Created" event, and the ``s3:TestEvent`` that S3 sends
when notifications are configured (acknowledged and ignored). S3 URL-encodes keys in notifications
(a space arrives as ``+``), so every record's key is decoded with ``unquote_plus``; EventBridge keys
are encoded the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus

from s3ocr.models import DocumentRef


class NotAnS3EventError(ValueError):
    """The payload is none of the shapes above (a malformed or foreign message)."""


def is_test_event(payload: Mapping[str, Any]) -> bool:
    return payload.get("Event") == "s3:TestEvent"


def _ref(bucket: str, key: str, obj: Mapping[str, Any]) -> DocumentRef:
    size = obj.get("size")
    return DocumentRef(
        bucket=bucket,
        key=unquote_plus(key),
        version_id=obj.get("versionId") or obj.get("version-id") or None,
        etag=obj.get("eTag") or obj.get("etag") or None,
        size=int(size) if size is not None else None,
    )


def refs_from_s3_notification(payload: Mapping[str, Any]) -> list[DocumentRef]:
    """The created objects named by an S3 notification; empty for a test event or other event kinds."""
    if is_test_event(payload):
        return []
    records = payload.get("Records")
    if not isinstance(records, list):
        raise NotAnS3EventError("no Records in the S3 notification")
    refs = []
    for record in records:
        if record.get("eventSource") != "aws:s3" or "s3" not in record:
            raise NotAnS3EventError(f"not an S3 record: eventSource={record.get('eventSource')!r}")
        if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
            continue
        s3 = record["s3"]
        refs.append(_ref(s3["bucket"]["name"], s3["object"]["key"], s3["object"]))
    return refs


def is_eventbridge_event(payload: Mapping[str, Any]) -> bool:
    return payload.get("source") == "aws.s3" and "detail-type" in payload


def refs_from_eventbridge(payload: Mapping[str, Any]) -> list[DocumentRef]:
    """The object of an EventBridge "Object Created" event; empty for other S3 detail types."""
    if payload.get("detail-type") != "Object Created":
        return []
    detail = payload.get("detail") or {}
    try:
        return [_ref(detail["bucket"]["name"], detail["object"]["key"], detail["object"])]
    except (KeyError, TypeError) as e:
        raise NotAnS3EventError("EventBridge event without detail.bucket.name / detail.object.key") from e


def refs_from_payload(payload: Mapping[str, Any]) -> list[DocumentRef]:
    """Refs from any S3-originated payload: a notification, a test event or an EventBridge event."""
    if is_eventbridge_event(payload):
        return refs_from_eventbridge(payload)
    return refs_from_s3_notification(payload)
