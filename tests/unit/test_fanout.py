"""Page ranges (``s3ocr.fanout``): tasks, the per-page store, reading a range against a deadline, counting ranges
once, and an assembly that writes exactly what one invocation writes. In-process S3 and DynamoDB (moto); the
whole path through queues and several Lambda runtimes is in tests/integration/test_fanout.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from s3ocr.devstack.stack import JOBS_TABLE, create_jobs_table
from s3ocr.errors import MalformedMessageError
from s3ocr.fanout import PageStore, RangeTask, assemble, page_ranges, read_range
from s3ocr.jobs import JobLedger, job_for
from s3ocr.models import Box, DocumentRef, DocumentResult, EngineInfo, Line, PageResult, Word, quality_of
from s3ocr.settings import Settings
from s3ocr.sinks.formats import page_document, result_document, to_json_bytes, to_text_bytes
from s3ocr.sinks.local import LocalSink
from s3ocr.sinks.s3 import S3Sink

SOURCE = DocumentRef("in", "scans/long.pdf", version_id="v1", etag="e", size=10)


@pytest.fixture
def aws(monkeypatch) -> Iterator[tuple[object, object]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        s3, dynamodb = boto3.client("s3"), boto3.client("dynamodb")
        s3.create_bucket(Bucket="out")
        create_jobs_table(dynamodb)  # the template's table, as the local stack makes it
        yield s3, dynamodb


def page(number: int, status: str = "ok") -> PageResult:
    word = Word(f"word{number}", Box(1, 2, 3, 4), 0.9)
    return PageResult(number=number, status=status, text=f"page {number}\nsecond line",
                      lines=(Line(f"word{number}", Box(1, 2, 3, 4), 0.9, (word,)),), mean_confidence=0.9,
                      width=100, height=200, dpi=300, engine="tesseract", preprocessing={"blank": False},
                      timings={"total": 0.5})


def test_pages_split_into_ranges_of_a_size():
    assert page_ranges(60, 16) == [(1, 16), (17, 32), (33, 48), (49, 60)]
    assert page_ranges(16, 16) == [(1, 16)]


def test_a_task_travels_as_a_message_and_a_broken_one_is_malformed():
    task = RangeTask("job", SOURCE, 17, 32, 1, 4)
    assert RangeTask.from_payload(json.loads(task.to_message())) == task
    assert task.rest(20) == RangeTask("job", SOURCE, 20, 32, 1, 4)
    assert RangeTask.from_payload({"Records": []}) is None  # an S3 notification
    with pytest.raises(MalformedMessageError):
        RangeTask.from_payload({"kind": "s3ocr.page-range", "job": "j"})


def test_a_range_skips_pages_written_before_and_hands_on_what_would_not_fit(aws):
    s3, _ = aws
    store = PageStore(s3, "out", "work/")
    store.put("job", page(3))  # a killed task had read page 3
    read: list[int] = []
    budget = iter([100.0, 1.0, 1.0, 1.0])  # time left before each page after the first: the third would not fit

    def reader(number: int) -> PageResult:
        read.append(number)
        return page(number)

    report = read_range(RangeTask("job", SOURCE, 2, 7, 0, 1), reader, store, lambda: next(budget), workers=1,
                        first_guess=4.0)
    assert read == [2, 4] and report.skipped == 1 and report.read == 2
    assert report.handed_on == RangeTask("job", SOURCE, 5, 7, 0, 1)
    assert store.written("job") == {2, 3, 4}


def test_the_rest_of_a_range_is_decided_as_if_the_range_had_never_stopped(aws):
    from dataclasses import replace

    from s3ocr.reading import DocumentWriting, outcome_of

    s3, _ = aws
    store = PageStore(s3, "out", "work/")
    # GIVEN ranges of 8 pages; an earlier task read pages 9-10 of the second, and a second engine replaced both
    replaced = {"read": {"kept": "as_planned", "second_opinion": "rapidocr"}}
    for number in (9, 10):
        store.put("job", replace(page(number), preprocessing=replaced))
    store.put("job", page(3))  # a page of the first range: not this range's
    writing = DocumentWriting(lag=1, block=8)
    views = {}

    def reader(number: int) -> PageResult:
        views[number] = writing.view(number, timeout=30)
        result = page(number)
        writing.record(number, outcome_of(result.status, result.text, result.preprocessing))
        return result

    # WHEN the rest of the range, pages 11-16, is read, with time for two pages only
    budget = iter([100.0, 1.0, 1.0, 1.0, 1.0])
    report = read_range(RangeTask("job", SOURCE, 11, 16, 1, 2), reader, store, lambda: next(budget), workers=1,
                        first_guess=4.0, writing=writing)
    # THEN page 11 is decided from pages 9-10, as in the task that read them: asked the second engine first
    assert views[11].asks_second_first() and views[11].latin_so_far
    # AND the pages left for another task are no longer expected: nothing waits for them
    assert report.handed_on == RangeTask("job", SOURCE, 13, 16, 1, 2) and sorted(views) == [11, 12]
    started = time.monotonic()
    writing.view(16, timeout=60)
    assert time.monotonic() - started < 30


def test_a_range_always_reads_its_first_page_so_that_it_moves_on(aws):
    s3, _ = aws
    report = read_range(RangeTask("job", SOURCE, 1, 3, 0, 1), page, PageStore(s3, "out", "work/"), lambda: 0.0,
                        workers=1)
    assert report.read == 1 and report.handed_on == RangeTask("job", SOURCE, 2, 3, 0, 1)


def test_a_range_is_counted_once_and_one_task_assembles(aws):
    _, dynamodb = aws
    ledger = JobLedger(dynamodb, JOBS_TABLE)
    job = job_for(SOURCE, Settings())
    ledger.begin(job, "planner", lease_seconds=900)
    ledger.fan_out(job, "planner", 2, {"pages": 3})
    assert not ledger.range_done(job.id, 0).complete
    assert ledger.range_done(job.id, 0).done == 1  # a redelivered task counts nothing twice
    tally = ledger.range_done(job.id, 1)
    assert tally.complete and tally.facts == {"pages": 3}
    assert ledger.claim_assembly(job.id, "a", lease_seconds=60)
    assert not ledger.claim_assembly(job.id, "b", lease_seconds=60)


def test_an_assembly_writes_what_one_invocation_writes(aws, tmp_path: Path):
    s3, _ = aws
    pages = (page(1), page(2, status="no_text_found"), page(3))
    whole = DocumentResult(source=SOURCE, media_type="application/pdf", engine=EngineInfo("auto", "t 5"),
                           languages="eng", pages=pages, page_count=3, flags=("javascript",))
    store = PageStore(s3, "out", "work/")
    for one in reversed(pages):
        store.put("job", one)
    facts = {"source": SOURCE.to_dict(), "media_type": "application/pdf", "engine": {"name": "auto", "version": "t 5"},
             "languages": "eng", "page_count": 3, "pages": 3, "flags": ["javascript"]}
    status, _ = assemble("job", facts, store, S3Sink(s3, "out"), tmp_path, timings={})
    assert status == whole.status == "partial"
    assert s3.get_object(Bucket="out", Key="scans/long.pdf.txt")["Body"].read() == to_text_bytes(whole)
    assert s3.get_object(Bucket="out", Key="scans/long.pdf.json")["Body"].read() == to_json_bytes(
        result_document(whole))
    store.remove("job")
    assert store.written("job") == set()
    assert json.loads(json.dumps(page_document(pages[0]))) == page_document(pages[0])


def test_an_assembly_writes_the_other_formats_from_the_pages_and_says_how_the_document_read(aws, tmp_path: Path):
    # GIVEN three pages in the store, as three range tasks would leave them
    s3, _ = aws
    pages = (page(1), page(2, status="no_text_found"), page(3))
    whole = DocumentResult(source=SOURCE, media_type="application/pdf", engine=EngineInfo("auto", "t 5"),
                           languages="eng", pages=pages, page_count=3)
    store = PageStore(s3, "out", "work/")
    for one in pages:
        store.put("job", one)
    facts = {"source": SOURCE.to_dict(), "media_type": "application/pdf", "engine": {"name": "auto", "version": "t 5"},
             "languages": "eng", "page_count": 3, "pages": 3, "flags": []}
    # WHEN the last task assembles the document in TSV and Markdown as well
    status, quality = assemble("job", facts, store, S3Sink(s3, "out"), tmp_path, timings={},
                               formats=("txt", "json", "tsv", "md"))
    # THEN each is what one invocation would have written, drawn from the pages read back from the stored chunks
    LocalSink(tmp_path / "one").write_result(whole, formats=("tsv", "md"))
    for suffix in (".tsv", ".md"):
        expected = (tmp_path / "one" / f"scans/long.pdf{suffix}").read_bytes()
        assert s3.get_object(Bucket="out", Key=f"scans/long.pdf{suffix}")["Body"].read() == expected
    # AND the quality is the whole document's: three pages, one with no text, three words at 0.9
    assert status == "partial" and quality == quality_of(whole)
    assert (quality.pages, quality.words, quality.no_text_pages, quality.mean_confidence) == (3, 3, 1, 0.9)
