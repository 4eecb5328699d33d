"""Completion events on the local stack: the function puts them on the EventBridge bus in the moto server, the
sample rule sends them to a queue, and they are read back from it as a consumer of the workflow would."""

from __future__ import annotations

import subprocess

import pytest

from s3ocr.devstack.stack import EVENT_BUS, create_completion_events
from tests.conftest import RESOURCES
from tests.integration.conftest import upload_bytes

pytestmark = pytest.mark.integration


def _for_key(events: list[dict], key: str) -> list[dict]:
    return [event for event in events if event["detail"]["key"] == key]


def test_a_document_read_is_announced_with_its_outputs_and_how_it_read(stack):
    stack.completion_events(wait=0)  # what earlier tests of the module announced
    stack.upload(RESOURCES / "linn.png", "events/linn.png")
    assert stack.events.drain().failed == 0
    [event] = _for_key(stack.completion_events(), "events/linn.png")
    assert event["source"] == "s3ocr" and event["detail-type"] == "DocumentProcessed"
    detail = event["detail"]
    assert detail["bucket"] == stack.input_bucket and detail["status"] == "ok" and detail["etag"]
    assert detail["version_id"]  # the input bucket is versioned: the event says which version was read
    # every output named is there, and is the one the function wrote for this key
    assert set(detail["outputs"]) == {"txt", "json"}
    for output in detail["outputs"].values():
        assert output["bucket"] == stack.output_bucket and output["key"] in stack.output_keys()
    document = stack.outputs("events/linn.png").result
    assert document is not None and detail["pages"] == detail["page_count"] == len(document["pages"]) == 1
    words = [word["confidence"] for page in document["pages"] for line in page["lines"] for word in line["words"]]
    assert detail["mean_confidence"] == pytest.approx(sum(words) / len(words), abs=1e-4)
    assert 0 <= detail["low_confidence_words"] < 0.2 and detail["no_text_pages"] == 0
    assert detail["engine"] == "auto" and detail["engines"] == ["rapidocr"] and detail["seconds"] > 0


def test_a_document_that_fails_is_announced_with_its_reason(stack):
    stack.completion_events(wait=0)
    upload_bytes(stack, "events/broken.pdf", (RESOURCES / "invalid.pdf").read_bytes())
    assert stack.events.drain().failed == 0
    [event] = _for_key(stack.completion_events(), "events/broken.pdf")
    detail = event["detail"]
    assert event["detail-type"] == "DocumentFailed" and detail["status"] == "failed"
    assert detail["reason"] == "corrupt_document" and detail["error_type"] == "CorruptDocumentError"
    assert detail["outputs"] == {"error": {"bucket": stack.output_bucket, "key": "events/broken.pdf.error.json"}}


def test_a_page_with_ink_and_no_text_is_counted_in_the_event(stack, tmp_path):
    import cv2
    import numpy as np

    # A page of ink that is no writing: strokes too thin and too long for any character.
    page = np.full((1200, 900), 255, np.uint8)
    for x in range(60, 840, 40):
        cv2.line(page, (x, 80), (x + 20, 1100), 0, 3)
    path = tmp_path / "strokes.png"
    cv2.imwrite(str(path), page)
    stack.completion_events(wait=0)
    stack.upload(path, "events/strokes.png")
    assert stack.events.drain().failed == 0
    [event] = _for_key(stack.completion_events(), "events/strokes.png")
    document = stack.outputs("events/strokes.png").result
    assert document is not None
    assert [page["status"] for page in document["pages"]] == ["no_text_found"]
    assert event["detail"]["no_text_pages"] == 1 and event["detail"]["status"] == document["status"] == "partial"
    assert event["detail"]["mean_confidence"] is None  # no word read, no confidence to average


def test_an_event_the_bus_does_not_take_is_retried_with_its_document_not_left_untold(stack):
    # GIVEN a bus that is gone when the document is done
    events = stack.server.client("events")
    events.delete_event_bus(Name=EVENT_BUS)
    try:
        stack.upload(RESOURCES / "linn.png", "events/untold.png")
        # WHEN the function reads it: the outputs are written, the event is refused, the message is not consumed
        assert stack.events.poll_once(wait_seconds=2).failed == 1
    finally:
        create_completion_events(events, stack.sqs)
    # THEN the next delivery reads it again and is announced
    assert stack.events.drain().failed == 0
    [event] = _for_key(stack.completion_events(), "events/untold.png")
    assert event["detail-type"] == "DocumentProcessed" and event["detail"]["status"] == "ok"


def test_an_object_asks_for_every_format_and_the_event_leads_to_each(stack, tmp_path):
    # GIVEN a PDF uploaded with metadata naming every format
    stack.completion_events(wait=0)
    stack.s3.upload_file(str(RESOURCES / "linn.pdf"), stack.input_bucket, "events/every.pdf",
                         ExtraArgs={"Metadata": {"ocr-formats": "txt,json,hocr,pdf,md,tsv"}})
    assert stack.events.drain().failed == 0
    # WHEN a consumer follows the event to the outputs
    [event] = _for_key(stack.completion_events(), "events/every.pdf")
    outputs = event["detail"]["outputs"]
    assert set(outputs) == {"txt", "json", "hocr", "pdf", "md", "tsv"}
    fetched = {name: stack.read_output(where["key"]) for name, where in outputs.items()}
    # THEN each is there, of its kind, and says what the text says
    text = fetched["txt"].decode()
    assert "LinnSequencer" in text
    assert fetched["pdf"].startswith(b"%PDF-")
    pdf = tmp_path / "every.pdf"
    pdf.write_bytes(fetched["pdf"])
    extracted = subprocess.run(["pdftotext", "-raw", str(pdf), "-"], capture_output=True, check=True).stdout.decode()
    assert "".join(extracted.split()) == "".join(text.split())
    assert b'class="ocr_page"' in fetched["hocr"] and b"LinnSequencer" in fetched["hocr"]
    assert fetched["tsv"].decode().splitlines()[0].split("\t")[-1] == "text"
    assert "LinnSequencer" in fetched["md"].decode()
    head = stack.s3.head_object(Bucket=stack.output_bucket, Key=outputs["pdf"]["key"])
    assert head["ContentType"] == "application/pdf"


def test_an_unknown_format_in_metadata_is_that_objects_configuration_error(stack):
    stack.completion_events(wait=0)
    stack.s3.upload_file(str(RESOURCES / "linn.png"), stack.input_bucket, "events/odd.png",
                         ExtraArgs={"Metadata": {"ocr-formats": "txt,docx"}})
    assert stack.events.drain().failed == 0
    [event] = _for_key(stack.completion_events(), "events/odd.png")
    assert event["detail-type"] == "DocumentFailed" and event["detail"]["reason"] == "configuration"
    assert "docx" in event["detail"]["message"]
