"""Completion events: what comes next in a workflow (indexing, translation, review) hears that a document is done,
where its outputs are and how good its text is, on an EventBridge bus.

``DocumentProcessed`` follows a reading (status ``ok`` or ``partial``), ``DocumentFailed`` an error record. The
event is sent after the outputs are written, so a consumer that reads them on the event finds them; a send that
fails is a ``TransientError``: the document is retried and its outputs rewritten under the same names, rather than
done with nobody told.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from s3ocr.errors import EventsUnavailableError
from s3ocr.models import DocumentFailure, DocumentRef, DocumentResult
from s3ocr.sinks import Reading, StoreSink

SOURCE = "s3ocr"
PROCESSED = "DocumentProcessed"
FAILED = "DocumentFailed"


def _source(ref: DocumentRef) -> dict[str, Any]:
    return {"bucket": ref.bucket, "key": ref.key, "version_id": ref.version_id, "etag": ref.etag}


def _outputs(bucket: str, written: Mapping[str, str]) -> dict[str, dict[str, str]]:
    return {name: {"bucket": bucket, "key": key} for name, key in written.items()}


def processed(reading: Reading, bucket: str, written: Mapping[str, str]) -> dict[str, Any]:
    """The detail of ``DocumentProcessed``: the source, its outputs by format, and how it read."""
    head, quality = reading.head, reading.quality
    return {
        **_source(DocumentRef(**head["source"])), "status": head["status"], "outputs": _outputs(bucket, written),
        "engine": head["engine"]["name"], "engines": list(quality.engines), "page_count": head["page_count"],
        "pages": quality.pages, "mean_confidence": quality.mean_confidence,
        "low_confidence_words": quality.low_confidence_words, "no_text_pages": quality.no_text_pages,
        "failed_pages": quality.failed_pages, "seconds": head["timings"].get("total"),
    }


def failed(failure: DocumentFailure, bucket: str, written: Mapping[str, str]) -> dict[str, Any]:
    """The detail of ``DocumentFailed``: the source, its error record, the reason code and what was said."""
    return {**_source(failure.source), "status": "failed", "outputs": _outputs(bucket, written),
            "reason": failure.reason, "error_type": failure.error_type, "message": failure.message[:1000],
            "seconds": failure.timings.get("total")}


class EventPublisher:
    """Puts completion events on one bus."""

    def __init__(self, client: Any, bus: str) -> None:
        self.client, self.bus = client, bus

    def publish(self, detail_type: str, detail: Mapping[str, Any]) -> str:
        """Send one event; returns its id. ``EventsUnavailableError`` when the bus does not take it."""
        from botocore.exceptions import BotoCoreError, ClientError

        entry = {"Source": SOURCE, "DetailType": detail_type, "EventBusName": self.bus,
                 "Detail": json.dumps(detail, ensure_ascii=False)}
        try:
            response = self.client.put_events(Entries=[entry])
        except (BotoCoreError, ClientError) as e:
            raise EventsUnavailableError(f"{detail_type} for {detail.get('key')!r} not sent to bus {self.bus}: "
                                         f"{e}") from e
        result = response["Entries"][0]
        if response.get("FailedEntryCount") or "EventId" not in result:
            raise EventsUnavailableError(f"{detail_type} for {detail.get('key')!r} refused by bus {self.bus}: "
                                         f"{result.get('ErrorCode')} {result.get('ErrorMessage')}")
        return str(result["EventId"])


class AnnouncingSink:
    """A store sink that puts a completion event on the bus once a document's outcome is written."""

    def __init__(self, sink: StoreSink, publisher: EventPublisher, bucket: str) -> None:
        self.sink, self.publisher, self.bucket = sink, publisher, bucket

    def write_result(self, result: DocumentResult, formats: tuple[str, ...] | None = None,
                     source: Path | None = None) -> dict[str, str]:
        return self.write_reading(Reading.of(result), formats, source)

    def write_reading(self, reading: Reading, formats: tuple[str, ...] | None = None,
                      source: Path | None = None) -> dict[str, str]:
        written = self.sink.write_reading(reading, formats, source)
        self.publisher.publish(PROCESSED, processed(reading, self.bucket, written))
        return written

    def write_failure(self, failure: DocumentFailure) -> dict[str, str]:
        written = self.sink.write_failure(failure)
        self.publisher.publish(FAILED, failed(failure, self.bucket, written))
        return written
