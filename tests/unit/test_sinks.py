"""Output names and formats: deterministic, and the latest attempt replaces the previous one."""

from __future__ import annotations

import json

from s3ocr.models import DocumentFailure, DocumentRef, DocumentResult, EngineInfo, PageResult
from s3ocr.sinks.local import LocalSink

REF = DocumentRef("", "sub/scan.pdf", size=10)


def _result() -> DocumentResult:
    pages = (PageResult(1, "ok", text="one"), PageResult(2, "ok", text="two"))
    return DocumentResult(REF, "application/pdf", EngineInfo("fake", "0"), "eng", pages, page_count=2)


def test_result_writes_txt_with_form_feeds_and_json(tmp_path):
    LocalSink(tmp_path).write_result(_result())
    assert (tmp_path / "sub/scan.pdf.txt").read_text() == "one\ftwo"
    document = json.loads((tmp_path / "sub/scan.pdf.json").read_text())
    assert document["status"] == "ok" and [p["text"] for p in document["pages"]] == ["one", "two"]
    assert document["source"]["key"] == "sub/scan.pdf" and document["engine"]["name"] == "fake"


def test_failure_replaces_stale_text_and_success_replaces_stale_error(tmp_path):
    sink = LocalSink(tmp_path)
    sink.write_result(_result())
    sink.write_failure(DocumentFailure(REF, "corrupt_document", "CorruptDocumentError", "bad"))
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["scan.pdf.error.json"]
    error = json.loads((tmp_path / "sub/scan.pdf.error.json").read_text())
    assert error["reason"] == "corrupt_document" and error["status"] == "failed"
    sink.write_result(_result())
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["scan.pdf.json", "scan.pdf.txt"]


def test_format_selection(tmp_path):
    LocalSink(tmp_path, frozenset({"txt"})).write_result(_result())
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["scan.pdf.txt"]


def test_output_bucket_keys_are_prefix_plus_source_key_plus_suffix():
    from s3ocr.sinks.s3 import S3Sink

    assert S3Sink(client=None, bucket="out", prefix="ocr/").key("a/b.pdf", ".txt") == "ocr/a/b.pdf.txt"


def test_last_words_are_said_only_when_no_outcome_came_first():
    import threading

    from s3ocr.sinks import LastWordsSink
    from tests.fakes import RecordingSink

    said, recorder = threading.Event(), RecordingSink()
    # an outcome in time: the timer, cancelled, says nothing
    with LastWordsSink(recorder, 0.2, said.set) as sink:
        sink.write_failure(None)
    assert not said.wait(0.4) and recorder.written == ["failure"]
    # no outcome in time: it speaks; a later outcome is still written (it replaces what was said)
    with LastWordsSink(recorder, 0.0, said.set) as sink:
        assert said.wait(2)
        sink.write_result(None)
    assert recorder.written == ["failure", "result"]
