"""Event shapes -> DocumentRefs: keys decoded, test events ignored, foreign payloads refused."""

from __future__ import annotations

import json

import pytest

from s3ocr.notifications import NotAnS3EventError, refs_from_payload
from tests.conftest import load_event


def test_direct_s3_put_gives_the_object():
    refs = refs_from_payload(load_event("s3-put-pdf.json"))
    assert [(r.bucket, r.key) for r in refs] == [("s3ocr-input", "samples/linn.pdf")]
    assert refs[0].size and refs[0].etag


def test_url_encoded_key_with_spaces_plus_and_chinese_is_decoded():
    refs = refs_from_payload(load_event("s3-put-unicode-key.json"))
    assert refs[0].key == "samples/scan 2026+final 扫描件.png"


def test_s3_test_event_gives_nothing():
    assert refs_from_payload(load_event("s3-test-event.json")) == []


def test_sqs_bodies_hold_a_notification_and_a_test_event():
    bodies = [json.loads(r["body"]) for r in load_event("sqs-s3-put.json")["Records"]]
    assert [r.key for body in bodies for r in refs_from_payload(body)] == ["samples/linn.png"]


def test_eventbridge_object_created():
    refs = refs_from_payload(load_event("eventbridge-object-created.json"))
    assert [(r.bucket, r.key) for r in refs] == [("s3ocr-input", "samples/linn.pdf")]


def test_eventbridge_other_detail_type_is_ignored():
    event = load_event("eventbridge-object-created.json") | {"detail-type": "Object Deleted"}
    assert refs_from_payload(event) == []


def test_delete_records_are_skipped():
    event = load_event("s3-put-png.json")
    event["Records"][0]["eventName"] = "ObjectRemoved:Delete"
    assert refs_from_payload(event) == []


@pytest.mark.parametrize("payload", [{}, {"Records": [{"eventSource": "aws:sns"}]}, {"hello": "world"}])
def test_foreign_payloads_are_refused(payload):
    with pytest.raises(NotAnS3EventError):
        refs_from_payload(payload)
