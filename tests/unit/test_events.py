"""Completion events from outcomes: the detail says where the outputs are and how the document read; a bus that
refuses the event is a transient error (the document is retried, never left untold)."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from s3ocr.errors import EventsUnavailableError
from s3ocr.events import AnnouncingSink, EventPublisher, failed, processed
from s3ocr.models import (
    LOW_CONFIDENCE,
    Box,
    DocumentFailure,
    DocumentRef,
    DocumentResult,
    EngineInfo,
    Line,
    PageResult,
    Word,
    quality_of,
)
from s3ocr.sinks import Reading
from s3ocr.sinks.s3 import S3Sink
from tests.conftest import load_event

REF = DocumentRef("in", "a/scan.pdf", version_id="v1", etag="e1")


def _page(number: int, confidences: list[float], status: str = "ok", engine: str = "tesseract") -> PageResult:
    words = tuple(Word(f"w{i}", Box(10 * i, 0, 8, 10), c) for i, c in enumerate(confidences))
    lines = (Line(" ".join(w.text for w in words), Box(0, 0, 100, 10), 0.9, words),) if words else ()
    return PageResult(number, status, text=lines[0].text if lines else "", lines=lines, engine=engine)


def _result(*pages: PageResult) -> DocumentResult:
    return DocumentResult(REF, "application/pdf", EngineInfo("auto", "x"), "eng", pages, page_count=len(pages),
                          timings={"total": 2.5})


def test_quality_counts_words_across_pages_and_pages_with_no_text():
    quality = quality_of(_result(_page(1, [0.9, 0.5]), _page(2, [1.0, 0.2], engine="rapidocr"),
                                 _page(3, [], status="no_text_found"), _page(4, [], status="empty", engine="")))
    assert quality.pages == 4 and quality.no_text_pages == 1 and quality.failed_pages == 0
    assert quality.mean_confidence == pytest.approx(0.65)
    assert quality.low_confidence_words == 0.5  # 0.5 and 0.2 are under LOW_CONFIDENCE
    assert quality.engines == ("rapidocr", "tesseract") and quality.poor
    assert not quality_of(_result(_page(1, [0.95, LOW_CONFIDENCE]))).poor  # sure words, every page read


def _bus():
    events, sqs = boto3.client("events", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
    events.create_event_bus(Name="docs")
    queue = sqs.create_queue(QueueName="seen")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="all", EventBusName="docs", EventPattern=json.dumps({"source": ["s3ocr"]}))
    events.put_targets(Rule="all", EventBusName="docs", Targets=[{"Id": "q", "Arn": arn}])

    def seen() -> list[dict]:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(message["Body"]) for message in messages]

    return events, seen


def test_the_announcing_sink_writes_then_announces_each_outcome():
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="out")
        events, seen = _bus()
        sink = AnnouncingSink(S3Sink(s3, "out", "ocr/"), EventPublisher(events, "docs"), "out")
        sink.write_result(_result(_page(1, [0.9, 0.8])))
        sink.write_failure(DocumentFailure(REF, "corrupt_document", "CorruptDocumentError", "bad xref",
                                           {"total": 0.1}))
        processed_event, failed_event = seen()
    assert processed_event["detail-type"] == "DocumentProcessed" and processed_event["source"] == "s3ocr"
    detail = processed_event["detail"]
    assert detail["outputs"] == {"txt": {"bucket": "out", "key": "ocr/a/scan.pdf.txt"},
                                 "json": {"bucket": "out", "key": "ocr/a/scan.pdf.json"}}
    assert (detail["key"], detail["version_id"], detail["etag"]) == ("a/scan.pdf", "v1", "e1")
    assert (detail["status"], detail["pages"], detail["mean_confidence"], detail["seconds"]) == ("ok", 1, 0.85, 2.5)
    assert failed_event["detail-type"] == "DocumentFailed"
    assert failed_event["detail"]["reason"] == "corrupt_document"
    assert failed_event["detail"]["outputs"] == {"error": {"bucket": "out", "key": "ocr/a/scan.pdf.error.json"}}


def test_a_bus_that_is_not_there_is_a_transient_error():
    with mock_aws():
        publisher = EventPublisher(boto3.client("events", region_name="us-east-1"), "missing")
        with pytest.raises(EventsUnavailableError) as caught:
            publisher.publish("DocumentFailed", failed(DocumentFailure(REF, "x", "X", "m"), "out", {}))
    assert caught.value.reason == "events_unavailable" and "missing" in str(caught.value)


def test_a_refused_entry_is_a_transient_error():
    class Refusing:
        def put_events(self, Entries):
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "ThrottlingException", "ErrorMessage": "slow"}]}

    with pytest.raises(EventsUnavailableError, match="ThrottlingException"):
        EventPublisher(Refusing(), "docs").publish("DocumentProcessed", {"key": "k"})


@pytest.mark.parametrize(("name", "kind"), [("eventbridge-document-processed.json", "DocumentProcessed"),
                                            ("eventbridge-document-failed.json", "DocumentFailed")])
def test_the_sample_events_have_the_shape_the_function_sends(name, kind):
    sample = load_event(name)
    if kind == "DocumentProcessed":
        detail = processed(Reading.of(_result(_page(1, [0.9]))), "out", {"txt": "k.txt"})
    else:
        detail = failed(DocumentFailure(REF, "x", "X", "m"), "out", {"error": "k.error.json"})
    assert sample["source"] == "s3ocr" and sample["detail-type"] == kind
    assert set(sample["detail"]) == set(detail)
