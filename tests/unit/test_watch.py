"""``s3ocr watch`` against a real S3/SQS server (moto in server mode, on loopback): completion events on a queue,
outputs appearing in a bucket."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator

import pytest

from s3ocr.cli import main
from s3ocr.devstack.servers import LOCAL_CREDENTIALS, MotoServer
from s3ocr.events import FAILED, PROCESSED, SOURCE
from s3ocr.models import Box, DocumentFailure, DocumentRef, DocumentResult, EngineInfo, Line, PageResult, Word
from s3ocr.sinks.formats import failure_document, result_document, to_json_bytes
from s3ocr.watch import Until, watch_bucket
from tests.conftest import sigint_as_default


@pytest.fixture(scope="module")
def server() -> Iterator[MotoServer]:
    with MotoServer() as running:
        yield running


@pytest.fixture
def aws(server, monkeypatch):
    """boto3 pointed at the server through its own endpoint variable, as the CLI is pointed at a local stack."""
    for name, value in {**LOCAL_CREDENTIALS, "AWS_ENDPOINT_URL": server.endpoint}.items():
        monkeypatch.setenv(name, value)
    return server


def _page(number: int, text: str, confidence: float) -> PageResult:
    word = Word(text, Box(0, 0, 10, 10), confidence)
    return PageResult(number, "ok", text=text, lines=(Line(text, word.box, confidence, (word,)),),
                      mean_confidence=confidence, engine="tesseract")


def _result(key: str) -> DocumentResult:
    # one word a page: the document's confidence over its words is 0.85, as its completion event would say
    pages = (_page(1, "one", 0.9), PageResult(2, "no_text_found", engine="tesseract"), _page(3, "three", 0.8))
    return DocumentResult(source=DocumentRef("in", key), media_type="application/pdf",
                          engine=EngineInfo("auto", "1"), languages="eng", pages=pages, page_count=3,
                          timings={"total": 2.5})


def _failure(key: str) -> DocumentFailure:
    return DocumentFailure(source=DocumentRef("in", key), reason="corrupt_document", error_type="CorruptDocumentError",
                           message="Poppler cannot read the PDF", timings={"total": 0.2})


# Completion event details as ``s3ocr.events`` sends them (the shape issue 14 gives them).
PROCESSED_DETAIL = {
    "bucket": "in", "key": "scans/a.pdf", "version_id": None, "etag": "abc", "status": "partial",
    "outputs": {"txt": {"bucket": "out", "key": "scans/a.pdf.txt"},
                "json": {"bucket": "out", "key": "scans/a.pdf.json"}},
    "engine": "auto", "pages": 3, "mean_confidence": 0.85, "low_confidence_words": 0.05, "no_text_pages": 1,
    "seconds": 2.5,
}
FAILED_DETAIL = {
    "bucket": "in", "key": "scans/b.pdf", "version_id": "v1", "etag": "def", "status": "failed",
    "outputs": {"error": {"bucket": "out", "key": "scans/b.pdf.error.json"}}, "reason": "corrupt_document",
    "error_type": "CorruptDocumentError", "message": "Poppler cannot read the PDF", "seconds": 0.2,
}


def _envelope(detail_type: str, detail: dict) -> str:
    """What an EventBridge rule puts on its SQS target: the event itself."""
    return json.dumps({"version": "0", "id": str(uuid.uuid4()), "detail-type": detail_type, "source": SOURCE,
                       "account": "123456789012", "time": "2025-01-01T00:00:00Z", "region": "us-east-1",
                       "resources": [], "detail": detail})


def _queue(server: MotoServer) -> str:
    return server.client("sqs").create_queue(QueueName=f"events-{uuid.uuid4().hex[:8]}")["QueueUrl"]


def _waiting(server: MotoServer, url: str) -> int:
    attributes = server.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
    return sum(int(value) for value in attributes["Attributes"].values())


def test_queue_events_are_printed_once_and_deleted_and_other_messages_left(aws, capsys):
    # GIVEN a queue holding an s3ocr completion event and a message of someone else's
    url = _queue(aws)
    sqs = aws.client("sqs")
    sqs.send_message(QueueUrl=url, MessageBody=_envelope(PROCESSED, PROCESSED_DETAIL))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"source": "aws.s3", "detail-type": "Object Created"}))
    # WHEN watch follows the queue until the first event
    status = main(["watch", "--queue", url, "--once", "--timeout", "5"])
    # THEN it prints the event as a status line, deletes it, and leaves the other message on the queue
    out, err = capsys.readouterr()
    assert status == 0
    assert out == "s3://in/scans/a.pdf: partial, 3 page(s), 2.5 s, confidence 85.0%\n"
    assert "is no s3ocr event: left on the queue" in err
    assert _waiting(aws, url) == 1


def test_queue_events_with_json_are_the_raw_detail(aws, capsys):
    url = _queue(aws)
    aws.client("sqs").send_message(QueueUrl=url, MessageBody=_envelope(FAILED, FAILED_DETAIL))
    assert main(["watch", "--queue", url, "--json", "--once", "--timeout", "5"]) == 0
    assert json.loads(capsys.readouterr().out) == FAILED_DETAIL
    assert _waiting(aws, url) == 0


def test_once_with_nothing_arriving_in_time_exits_1(aws, capsys):
    assert main(["watch", "--queue", _queue(aws), "--once", "--timeout", "1"]) == 1
    assert capsys.readouterr().out == ""


def test_ctrl_c_stops_watching_cleanly(aws):
    # GIVEN watch following a queue without --once or --timeout, and an event it has printed
    url = _queue(aws)
    aws.client("sqs").send_message(QueueUrl=url, MessageBody=_envelope(PROCESSED, PROCESSED_DETAIL))
    process = subprocess.Popen([sys.executable, "-m", "s3ocr.cli", "watch", "--queue", url], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, preexec_fn=sigint_as_default)
    try:
        line = process.stdout.readline() if process.stdout else ""
        assert line.startswith("s3://in/scans/a.pdf: partial"), process.communicate(timeout=30)
        # WHEN Ctrl-C is pressed while it long-polls for the next
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    finally:
        process.kill()
    # THEN it exits 0, without a traceback
    assert process.returncode == 0 and "Traceback" not in err


def test_a_queue_that_does_not_exist_is_a_usage_error(aws, capsys):
    assert main(["watch", "--queue", f"{aws.endpoint}/123456789012/nope", "--timeout", "1"]) == 2
    assert "NonExistentQueue" in capsys.readouterr().err


def _put(s3, key: str, body: bytes) -> None:
    s3.put_object(Bucket="out", Key=key, Body=body)


def test_bucket_outputs_written_after_the_start_are_read_and_printed(aws):
    # GIVEN an output bucket with a reading already there
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="out")
    _put(s3, "results/old.pdf.json", to_json_bytes(result_document(_result("old.pdf"))))

    def meanwhile(seconds: float) -> None:
        """While watch waits: a new reading, an error record, the old reading rewritten as it was (same ETag),
        a page range's work file and a text output."""
        if calls:
            return
        calls.append(seconds)
        _put(s3, "results/scans/a.pdf.json", to_json_bytes(result_document(_result("scans/a.pdf"))))
        _put(s3, "results/scans/b.pdf.error.json", to_json_bytes(failure_document(_failure("scans/b.pdf"))))
        _put(s3, "results/old.pdf.json", to_json_bytes(result_document(_result("old.pdf"))))
        _put(s3, "results/scans/a.pdf.txt", b"one\fthree")
        _put(s3, "work/job/000001.json", b'{"number": 1, "status": "ok"}')

    calls: list[float] = []
    out = io.StringIO()
    # WHEN watch follows the bucket's results/ prefix
    status = watch_bucket("s3://out/results/", Until(5), once=True, interval=0.1, out=out, sleep=meanwhile)
    # THEN it prints the two new outputs, one line each, and nothing for what was there or is no output
    assert status == 0
    assert out.getvalue().splitlines() == [
        "s3://in/scans/a.pdf: partial, 3 page(s), 2.5 s, confidence 85.0%",
        "s3://in/scans/b.pdf: failed (corrupt_document): Poppler cannot read the PDF",
    ]


def test_bucket_mode_from_the_command_line_prints_json_details(aws, capsys):
    # GIVEN an output bucket where a reading lands half a second after watch starts
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="late")
    body = to_json_bytes(result_document(_result("c.pdf")))
    timer = threading.Timer(0.5, lambda: s3.put_object(Bucket="late", Key="c.pdf.json", Body=body))
    timer.start()
    try:
        status = main(["watch", "--bucket", "s3://late/", "--json", "--once", "--interval", "0.2", "--timeout", "10"])
    finally:
        timer.cancel()
    # THEN the reading is printed shaped as its completion event's detail
    detail = json.loads(capsys.readouterr().out)
    assert status == 0
    assert detail == {"bucket": "in", "key": "c.pdf", "version_id": None, "status": "partial", "seconds": 2.5,
                      "outputs": {"json": {"bucket": "late", "key": "c.pdf.json"}}, "engine": "auto", "pages": 3,
                      "mean_confidence": 0.85, "no_text_pages": 1}
