"""A 60-page scan read in page ranges by three Lambda runtimes on the local stack (S3, SQS and DynamoDB in the moto
server), with one runtime killed mid-job, one whose invocations are too short for a range, a duplicate and a stale
event arriving during the job: the assembled text is the single invocation's, no page missing or doubled.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from s3ocr.bench.samples import numbered_scan
from s3ocr.devstack.event_source import queue_depth, s3_notification
from s3ocr.devstack.fleet import fleet
from s3ocr.models import DocumentRef
from s3ocr.pipeline import process_local_file
from s3ocr.routing import EngineChooser
from s3ocr.settings import Settings

pytestmark = pytest.mark.integration

PAGES = 60
ENV = {"OCR_ENGINE": "tesseract", "OCR_LANGUAGES": "eng", "OCR_WORKERS": "1", "RANGE_PAGES": "6"}
KEY = "fanout/long-scan.pdf"


def _notification(bucket: str, etag: str, sequencer: str) -> str:
    return json.dumps(s3_notification(bucket, KEY, eTag=etag, size=1, sequencer=sequencer))


def _wait(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def test_a_long_scan_read_in_ranges_by_several_runtimes_is_the_single_invocations_text(tmp_path: Path):
    # GIVEN a 60-page scan, and its text as one invocation reads it (the same code, the same settings)
    scan = numbered_scan(tmp_path / "scan.pdf", PAGES)
    settings = Settings.from_env({**ENV, "S3OCR_WORK_DIR": str(tmp_path)})
    single = process_local_file(scan, DocumentRef("", KEY), settings, EngineChooser(settings).default)
    assert single.status == "ok" and len(single.pages) == PAGES
    log_path = tmp_path / "functions.log"
    # AND three runtimes, the third with 12 s invocations: too short for a range of 6 pages, expected 30 s each
    with log_path.open("wb") as log, fleet(3, ENV, timeouts=[900, 900, 12], log=log) as local:
        local.s3.put_bucket_notification_configuration(Bucket=local.input_bucket, NotificationConfiguration={})
        local.s3.upload_file(str(scan), local.input_bucket, KEY)
        etag = local.s3.head_object(Bucket=local.input_bucket, Key=KEY)["ETag"].strip('"')
        event = _notification(local.input_bucket, etag, "0055AED6DCD90281F0")
        # WHEN the upload's event arrives, and the job is under way
        local.sqs.send_message(QueueUrl=local.queue_url, MessageBody=event)
        _wait(lambda: len(local.output_keys("work/")) >= 6, 120, "the first pages of the job")
        # AND S3 delivers the event again, an older event for the key arrives late, and a runtime is killed
        local.sqs.send_message(QueueUrl=local.queue_url, MessageBody=event)
        local.sqs.send_message(QueueUrl=local.queue_url, MessageBody=_notification(
            local.input_bucket, "0" * 32, "0055AED6DCD90281E5"))
        assert local.workers[0].invoking.wait(60), "the first runtime got no task"
        local.kill(0)  # mid-invocation: its task comes back to the others after the visibility timeout
        _wait(lambda: f"{KEY}.json" in local.output_keys("fanout/"), 300, "the assembled document")
        _wait(lambda: not local.busy(), 60, "the queues to empty")
        text = local.read_output(f"{KEY}.txt").decode()
        document = json.loads(local.read_output(f"{KEY}.json"))
        leftovers = local.output_keys("work/")
        dead_tasks = queue_depth(local.sqs, local.tasks_dead_letter_url)
        killed = local.workers[0].error
        announced = [event for event in local.completion_events() if event["detail"]["key"] == KEY]
    # THEN the text is the single invocation's, page for page; nothing is left over or dead-lettered
    assert document["status"] == "ok" and document["pages_processed"] == PAGES
    assert [page["number"] for page in document["pages"]] == list(range(1, PAGES + 1))
    assert text == single.text
    assert leftovers == [] and dead_tasks == 0
    assert killed, "the killed runtime's invocation did not fail"
    # AND the document was announced once, by the task that assembled it, with the pages the ranges read
    [event] = announced
    assert event["detail-type"] == "DocumentProcessed" and event["detail"]["status"] == "ok"
    assert event["detail"]["pages"] == PAGES and event["detail"]["no_text_pages"] == 0
    assert set(event["detail"]["outputs"]) == {"txt", "json"} and event["detail"]["mean_confidence"] > 0.8
    log = log_path.read_text(errors="replace")
    # AND the short invocations handed the rest of their ranges on; the duplicate and the stale event did nothing
    assert '"status":"handed_on"' in log
    assert '"why":"duplicate_in_progress"' in log and '"why":"stale"' in log
    assert log.count('"message":"document handed on to page-range tasks"') == 1
