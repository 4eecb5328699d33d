"""Upload -> S3 notification -> SQS -> Lambda runtime -> output bucket, all real parts on loopback."""

from __future__ import annotations

import json
import time

import pytest

from s3ocr.bench.scoring import cer
from s3ocr.devstack.event_source import queue_depth, s3_notification
from s3ocr.devstack.stack import local_stack
from tests.conftest import RESOURCES, load_event
from tests.integration.conftest import output_json, upload_bytes, upload_quietly

pytestmark = pytest.mark.integration


def test_png_upload_is_read_and_written_with_text_and_boxes(stack):
    # GIVEN a scan uploaded to the input bucket
    stack.upload(RESOURCES / "linn.png", "e2e/linn.png")
    # WHEN the queue's messages are handed to the function
    report = stack.events.drain()
    # THEN the text in the output bucket matches the ground truth and the JSON describes it
    assert report.failed == 0
    text = stack.read_output("e2e/linn.png.txt").decode()
    assert cer((RESOURCES / "linn.txt").read_text(), text) <= 0.05
    document = output_json(stack, "e2e/linn.png.json")
    assert document["status"] == "ok" and document["media_type"] == "image/png"
    assert document["source"]["bucket"] == stack.input_bucket and document["source"]["key"] == "e2e/linn.png"
    assert document["source"]["etag"] and document["source"]["size"] == (RESOURCES / "linn.png").stat().st_size
    # the default engine, auto: the languages are chi_sim+eng, so PP-OCRv6 read the page
    assert document["engine"]["name"] == "auto" and "tesseract 5." in document["engine"]["version"]
    assert "PP-OCRv6" in document["engine"]["version"]
    page = document["pages"][0]
    assert page["engine"] == "rapidocr"
    assert page["text"] == text and page["lines"] and 0 < page["mean_confidence"] <= 1
    assert {"left", "top", "width", "height"} == set(page["lines"][0]["box"])
    assert queue_depth(stack.sqs, stack.queue_url) == 0


def test_key_with_spaces_plus_and_chinese_keeps_its_name(stack):
    key = "e2e/扫描 2026+final.png"
    stack.upload(RESOURCES / "zh-clean.png", key)
    assert stack.events.drain().failed == 0
    assert f"{key}.txt" in stack.output_keys()
    assert cer((RESOURCES / "zh-clean.txt").read_text(), stack.read_output(f"{key}.txt").decode()) <= 0.1


@pytest.mark.parametrize(
    ("name", "body", "reason"),
    [
        ("empty.pdf", b"", "empty_file"),
        ("random.pdf", bytes(range(256)) * 64, "unsupported_type"),
        ("invalid.pdf", (RESOURCES / "invalid.pdf").read_bytes(), "corrupt_document"),
    ],
)
def test_bad_file_gets_an_error_record_and_is_not_retried(stack, name, body, reason):
    key = f"e2e/bad/{name}"
    upload_bytes(stack, key, body)
    report = stack.events.drain()
    assert report.failed == 0  # consumed: a permanent error is recorded once, never retried
    error = output_json(stack, f"{key}.error.json")
    assert error["status"] == "failed" and error["reason"] == reason and error["source"]["key"] == key
    assert f"{key}.txt" not in stack.output_keys()
    assert queue_depth(stack.sqs, stack.dead_letter_url) == 0


def test_events_folder_direct_s3_and_eventbridge_events(stack):
    upload_quietly(stack, {
        "samples/linn.png": RESOURCES / "linn.png",
        "samples/linn.pdf": RESOURCES / "linn.pdf",
        "samples/scan 2026+final 扫描件.png": RESOURCES / "linn.png",
    })
    assert stack.function.invoke(load_event("s3-put-unicode-key.json"))["documents"][0]["status"] == "ok"
    assert stack.function.invoke(load_event("eventbridge-object-created.json"))["documents"][0]["status"] == "ok"
    assert stack.function.invoke(load_event("s3-test-event.json")) == {"documents": []}
    keys = stack.output_keys()
    assert "samples/scan 2026+final 扫描件.png.txt" in keys and "samples/linn.pdf.txt" in keys
    assert "LinnSequencer" in stack.read_output("samples/linn.pdf.txt").decode()


def test_sqs_event_file_reports_no_batch_failures(stack):
    upload_quietly(stack, {"samples/linn.png": RESOURCES / "linn.png"})
    response = stack.function.invoke(load_event("sqs-s3-put.json"))
    assert response == {"batchItemFailures": []}
    assert "samples/linn.png.txt" in stack.output_keys()


def test_malformed_message_is_dead_lettered_at_once_with_its_reason(stack):
    # GIVEN a message on the queue that is not an S3 notification
    stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=json.dumps({"hello": "world"}))
    # WHEN the event source polls once
    first = stack.events.poll_once()
    # THEN the function acknowledges it and has moved it to the dead-letter queue with the reason: no retries
    assert first.failed == 0 and first.responses[0] == {"batchItemFailures": []}, first.responses
    moved = stack.sqs.receive_message(QueueUrl=stack.dead_letter_url, MessageAttributeNames=["All"])["Messages"]
    assert [json.loads(m["Body"]) for m in moved] == [{"hello": "world"}]
    assert moved[0]["MessageAttributes"]["s3ocr-reason"]["StringValue"] == "malformed_message"
    stack.sqs.delete_message(QueueUrl=stack.dead_letter_url, ReceiptHandle=moved[0]["ReceiptHandle"])
    assert queue_depth(stack.sqs, stack.queue_url) == 0


def test_without_a_dead_letter_queue_url_a_malformed_message_is_retried_then_dead_lettered_not_looped():
    # GIVEN a function not told of its dead-letter queue, and a message that is not an S3 notification
    with local_stack(function_env={"DEAD_LETTER_QUEUE_URL": ""}, visibility_timeout=1,
                     max_receive_count=2) as stack:
        stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=json.dumps({"hello": "world"}))
        # WHEN the event source keeps polling
        first = stack.events.poll_once()
        assert first.failed == 1 and first.responses[0]["batchItemFailures"], first.responses
        deadline = time.monotonic() + 30
        while queue_depth(stack.sqs, stack.dead_letter_url) == 0 and time.monotonic() < deadline:
            stack.events.poll_once()
            time.sleep(0.5)
        # THEN after maxReceiveCount the queue moves it to the dead-letter queue, and the queue is empty
        assert queue_depth(stack.sqs, stack.dead_letter_url) == 1
        assert queue_depth(stack.sqs, stack.queue_url) == 0


def _notification(stack, key: str, **object_fields) -> str:
    return json.dumps(s3_notification(stack.input_bucket, key, **object_fields))


def test_a_duplicate_delivery_and_a_stale_event_change_nothing(stack):
    # GIVEN a document read once, through an event that carries S3's sequencer
    key = "e2e/jobs/linn.png"
    upload_quietly(stack, {key: RESOURCES / "linn.png"})
    etag = stack.s3.head_object(Bucket=stack.input_bucket, Key=key)["ETag"].strip('"')
    event = _notification(stack, key, eTag=etag, size=1, sequencer="0055AED6DCD90281F0")
    stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=event)
    [first] = stack.events.drain().responses
    written = stack.s3.head_object(Bucket=stack.output_bucket, Key=f"{key}.json")["LastModified"]
    # WHEN S3 delivers the same event again, and an older event for the key arrives late
    stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=event)
    stale = _notification(stack, key, eTag="0" * 32, size=1, sequencer="0055AED6DCD90281E5")
    stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=stale)
    report = stack.events.drain()
    # THEN neither reads anything or writes anything, and both are acknowledged
    assert first == {"batchItemFailures": []} and report.failed == 0
    assert stack.s3.head_object(Bucket=stack.output_bucket, Key=f"{key}.json")["LastModified"] == written
    log = stack.log_path.read_text(errors="replace")  # type: ignore[attr-defined]
    mine = [line for line in log.splitlines() if f'"correlation_id":"{stack.input_bucket}/{key}"' in line]
    assert sum('"message":"document done"' in line for line in mine) == 1  # read once
    assert any('"why":"duplicate_done"' in line for line in mine) and any('"why":"stale"' in line for line in mine)
