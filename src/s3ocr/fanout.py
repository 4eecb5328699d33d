"""A document too long for one invocation, read by many: page ranges on the tasks queue, assembled once.

The invocation that claims the job (``s3ocr.jobs``) counts the pages and, beyond ``Settings.range_pages``, plans
ranges instead of reading: one ``RangeTask`` message per range, and the job record told how many ranges there are
and what the assembly needs. Each task fetches the source (its pinned version), reads its pages - skipping those
already written, so a redelivered task does not read a page twice - and writes each page's result under
``<work prefix><job id>/``. It watches the time it has left: before a page would not fit it hands the rest of its
range on as a new task. The range's completion is counted once on the job record; the task that counts the last
one assembles the outputs (``.txt`` and ``.json``, streamed a page at a time) and removes the work prefix.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from s3ocr.engines.base import Engine
from s3ocr.errors import MalformedMessageError, StorageUnavailableError
from s3ocr.jobs import Job, JobLedger
from s3ocr.keys import printable
from s3ocr.models import DocumentHandedOn, DocumentRef, DocumentResult, EngineInfo, PageResult, Quality, QualityTally
from s3ocr.reading import DocumentWriting, outcome_of
from s3ocr.routing import formats_for
from s3ocr.settings import Settings
from s3ocr.sinks import Reading, ReadingSink
from s3ocr.sinks.formats import document_head, page_chunk, page_document, write_json_streamed
from s3ocr.sources import s3_errors

TASK_KIND = "s3ocr.page-range"
SEND_BATCH = 10  # SendMessageBatch takes at most ten messages


@dataclass(frozen=True)
class RangeTask:
    """Pages ``first``..``last`` of the job's document: range ``range_id`` of ``ranges``."""

    job_id: str
    source: DocumentRef
    first: int
    last: int
    range_id: int
    ranges: int

    def to_message(self) -> str:
        return json.dumps({"kind": TASK_KIND, "job": self.job_id, "source": self.source.to_dict(),
                           "first": self.first, "last": self.last, "range": self.range_id, "ranges": self.ranges})

    @classmethod
    def from_payload(cls, payload: Any) -> RangeTask | None:
        """The task a queue message holds, or None when it holds none."""
        if not isinstance(payload, dict) or payload.get("kind") != TASK_KIND:
            return None
        try:
            return cls(str(payload["job"]), DocumentRef(**payload["source"]), int(payload["first"]),
                       int(payload["last"]), int(payload["range"]), int(payload["ranges"]))
        except (KeyError, TypeError, ValueError) as e:
            raise MalformedMessageError(f"a page-range task without its fields ({type(e).__name__}: {e})") from e

    def rest(self, first: int) -> RangeTask:
        """The same range from page ``first`` on: what a task hands on when its time runs short."""
        return RangeTask(self.job_id, self.source, first, self.last, self.range_id, self.ranges)


def page_ranges(pages: int, size: int) -> list[tuple[int, int]]:
    """Pages 1..``pages`` in ranges of ``size`` (the last may be shorter)."""
    return [(first, min(first + size - 1, pages)) for first in range(1, pages + 1, size)]


def send_tasks(sqs: Any, queue_url: str, tasks: list[RangeTask]) -> None:
    """Put ``tasks`` on the queue, ten to a request; a message the queue refuses is an error."""
    for start in range(0, len(tasks), SEND_BATCH):
        batch = tasks[start:start + SEND_BATCH]
        with s3_errors("sending page-range tasks"):
            answer = sqs.send_message_batch(QueueUrl=queue_url, Entries=[
                {"Id": str(i), "MessageBody": task.to_message()} for i, task in enumerate(batch)])
        if answer.get("Failed"):
            raise StorageUnavailableError(f"the tasks queue refused {len(answer['Failed'])} task(s)")


class PageStore:
    """Each page's result, as its ``.json`` page object, under ``<prefix><job id>/`` in the output bucket."""

    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self.client, self.bucket, self.prefix = client, bucket, prefix

    def _folder(self, job_id: str) -> str:
        return f"{self.prefix}{job_id}/"

    def _key(self, job_id: str, number: int) -> str:
        return f"{self._folder(job_id)}{number:06d}.json"

    def put(self, job_id: str, page: PageResult) -> None:
        # Kept as the assembled .json lays it out (``page_chunk``): the tasks format their pages, in parallel, and
        # the assembly only copies them.
        body = page_chunk(page_document(page))
        with s3_errors(f"writing page {page.number} of job {job_id}"):
            self.client.put_object(Bucket=self.bucket, Key=self._key(job_id, page.number), Body=body)

    def _listed(self, job_id: str) -> Iterator[list[str]]:
        """The keys under the job's folder, a listing page at a time."""
        with s3_errors(f"listing the pages of job {job_id}"):
            for listing in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                                 Prefix=self._folder(job_id)):
                yield [item["Key"] for item in listing.get("Contents", [])]

    def written(self, job_id: str) -> set[int]:
        """The page numbers written for the job."""
        return {int(key.rsplit("/", 1)[1].split(".")[0]) for keys in self._listed(job_id) for key in keys}

    def pages(self, job_id: str, count: int, workers: int = 16) -> Iterator[tuple[dict[str, Any], bytes]]:
        """Pages 1..``count`` in order, each as its page object and its ``page_chunk``, ``workers`` fetched at a
        time; a page missing is an error (never a silent gap)."""
        return self.fetch(job_id, range(1, count + 1), workers)

    def fetch(self, job_id: str, numbers: Iterable[int], workers: int = 16) -> Iterator[tuple[dict[str, Any], bytes]]:
        """The pages ``numbers``, in that order, as ``pages`` gives them."""
        from s3ocr.pipeline import ordered_concurrent_map

        def fetch(number: int) -> tuple[dict[str, Any], bytes]:
            with s3_errors(f"reading page {number} of job {job_id}"):
                body = self.client.get_object(Bucket=self.bucket, Key=self._key(job_id, number))["Body"].read()
            return dict(json.loads(body)), bytes(body)

        yield from ordered_concurrent_map(fetch, numbers, workers)

    def remove(self, job_id: str) -> None:
        for keys in self._listed(job_id):
            if keys:
                with s3_errors(f"removing the pages of job {job_id}"):
                    self.client.delete_objects(Bucket=self.bucket, Delete={
                        "Objects": [{"Key": key} for key in keys], "Quiet": True})


@dataclass
class Planner:
    """Splits a claimed job's document into page ranges when it has more than ``settings.range_pages`` pages."""

    settings: Settings  # its ``tasks_queue_url`` receives the tasks
    ledger: JobLedger
    sqs: Any
    job: Job
    owner: str

    def __call__(self, path: Path, ref: DocumentRef, engine: Engine) -> DocumentHandedOn | None:
        """Hand the document on as tasks, or None to read it here. Only the page count is looked at: ``pdfinfo``
        for the first page, or an image's frames."""
        from s3ocr.pages import detect_media_type
        from s3ocr.pages.images import ImagePages
        from s3ocr.pages.pdf import read_pdf_info

        media_type = detect_media_type(path)
        flags: tuple[str, ...] = ()
        if media_type == "application/pdf":
            info = read_pdf_info(path, max_pages=1)
            count, flags = info.page_count, info.flags
        else:
            count = ImagePages(path, self.settings.max_page_pixels).page_count
        pages = min(count, self.settings.max_pages)
        if pages <= self.settings.range_pages:
            return None
        ranges = page_ranges(pages, self.settings.range_pages)
        facts = {"source": ref.to_dict(), "media_type": media_type, "engine": asdict(EngineInfo(engine.name,
                                                                                                engine.version)),
                 "languages": self.settings.languages, "page_count": count, "pages": pages, "flags": list(flags)}
        self.ledger.fan_out(self.job, self.owner, len(ranges), facts)
        tasks = [RangeTask(self.job.id, ref, first, last, number, len(ranges))
                 for number, (first, last) in enumerate(ranges)]
        send_tasks(self.sqs, self.settings.tasks_queue_url, tasks)
        return DocumentHandedOn(ref, len(ranges), pages)


def assemble(job_id: str, facts: dict[str, Any], store: PageStore, sink: ReadingSink, work_dir: Path,
             timings: dict[str, float], formats: tuple[str, ...] | None = None, source: Path | None = None
             ) -> tuple[str, Quality]:
    """Write the document's outputs from its pages, a page at a time; returns its status and how it read."""
    count = int(facts["pages"])
    head_of = DocumentResult(source=DocumentRef(**facts["source"]), media_type=facts["media_type"],
                             engine=EngineInfo(**facts["engine"]), languages=facts["languages"], pages=(),
                             page_count=int(facts["page_count"]), timings=timings, flags=tuple(facts["flags"]))
    text_path, pages_path, json_path = work_dir / "text", work_dir / "pages", work_dir / "document.json"
    status = "partial" if head_of.page_count > count else "ok"
    sizes = []
    tally = QualityTally()
    with text_path.open("wb") as text, pages_path.open("wb") as pages:
        for number, (page, chunk) in enumerate(store.pages(job_id, count), 1):
            text.write((b"\f" if number > 1 else b"") + page["text"].encode())
            sizes.append(pages.write(chunk))
            tally.add_document(page)
            if page["status"] in ("failed", "no_text_found"):
                status = "partial"

    def chunks() -> Iterator[bytes]:
        with pages_path.open("rb") as kept:
            for size in sizes:
                yield kept.read(size)

    head = document_head(head_of, pages_processed=count, status=status)
    with json_path.open("wb") as out:
        write_json_streamed(head, chunks(), out)
    reading = Reading(head_of.source.key, head_of.media_type, text_path, json_path, head,
                      lambda: (json.loads(chunk) for chunk in chunks()), tally.quality())
    sink.write_reading(reading, formats, source)
    return status, reading.quality


@dataclass
class RangeReport:
    read: int  # pages read by this task
    skipped: int  # pages found written already
    handed_on: RangeTask | None  # the rest of the range, when time ran short


def read_range(task: RangeTask, read: Callable[[int], PageResult], store: PageStore, time_left: Callable[[], float],
               workers: int, first_guess: float = 30.0, writing: DocumentWriting | None = None) -> RangeReport:
    """Read the task's pages not yet written, ``workers`` at a time, each only while it is expected to fit in the
    time left: the longest page so far, twice over (``first_guess`` before any). The first is read whatever the time
    left, so that a range always moves on (a page longer than a whole invocation fails like any other).
    ``writing``: the document's, told which pages this task reads and what the range's pages written already
    showed, so that its pages are read as in a task that was never stopped."""
    from time import perf_counter

    from s3ocr.pipeline import ordered_concurrent_map

    written = store.written(task.job_id)
    todo = [number for number in range(task.first, task.last + 1) if number not in written]
    if writing is not None:
        writing.expect(todo)
        # The range's pages read by an earlier task (this one may be the rest of a range handed on)
        before = [number for number in sorted(written) if writing.block_start(task.first) <= number <= task.last]
        for page, _ in store.fetch(task.job_id, before):
            writing.record(int(page["number"]), outcome_of(page["status"], page["text"], page["preprocessing"] or {}))
    longest = [first_guess / 2]

    def one(number: int) -> int | None:
        if number != todo[0] and time_left() < 2 * longest[0]:  # the first page is always read: a task moves on
            if writing is not None:
                writing.record(number, None)
            return None
        started = perf_counter()
        store.put(task.job_id, read(number))
        longest[0] = max(longest[0], perf_counter() - started)
        return number

    done = list(ordered_concurrent_map(one, todo, workers))
    left = [number for number, result in zip(todo, done, strict=True) if result is None]
    return RangeReport(read=len(todo) - len(left), skipped=task.last - task.first + 1 - len(todo),
                       handed_on=task.rest(left[0]) if left else None)


def job_of(task: RangeTask) -> Job:
    return Job(task.job_id, task.source)


def describe(task: RangeTask) -> str:
    return f"{printable(task.source.uri)} pages {task.first}-{task.last} (range {task.range_id + 1}/{task.ranges})"




def run_task(task: RangeTask, settings: Settings, client: Any, sqs: Any, store: PageStore, ledger: JobLedger,
             sink: ReadingSink, engine_for: Callable[[DocumentRef, Mapping[str, str]], Engine],
             time_left: Callable[[], float], owner: str) -> dict[str, Any]:
    """Read a range task's pages, hand on what does not fit, count the range, and assemble the document when it
    was the last. Transient errors propagate (the queue retries the task); permanent ones too (the caller records
    the document's failure)."""
    from s3ocr.page import PageContext, read_page
    from s3ocr.pages import detect_media_type, open_pages
    from s3ocr.pipeline import document_work_dir
    from s3ocr.sources import fetch_s3_object

    with document_work_dir(settings) as work_dir:
        path, ref, metadata = fetch_s3_object(client, task.source, work_dir, settings.max_bytes)
        source = open_pages(path, detect_media_type(path), dpi=settings.dpi, max_page_pixels=settings.max_page_pixels,
                            max_pages=settings.max_pages, use_text_layer=not settings.force_ocr)
        # The document's last page, as a single invocation reads it: with every core, in bands.
        context = PageContext(source, work_dir, settings, engine_for(ref, metadata),
                              last=min(source.page_count, settings.max_pages),
                              writing=DocumentWriting.for_settings(settings))
        report = read_range(task, lambda number: read_page(context, number), store, time_left, settings.worker_count,
                            writing=context.writing)
        answer: dict[str, Any] = {"task": describe(task), "read": report.read, "skipped": report.skipped}
        if report.handed_on is not None:
            send_tasks(sqs, settings.tasks_queue_url, [report.handed_on])
            return {**answer, "status": "handed_on", "rest": describe(report.handed_on)}
        tally = ledger.range_done(task.job_id, task.range_id)
        if not tally.complete or not ledger.claim_assembly(task.job_id, owner, time_left() + 60):
            return {**answer, "status": "range_done", "ranges_done": tally.done, "ranges": tally.total}
        assembly = work_dir / "assembly"
        assembly.mkdir()
        # Assembled while the document's file is at hand: a format may draw on its pages (the searchable PDF).
        status, quality = assemble(task.job_id, tally.facts, store, sink, assembly, {}, formats_for(metadata), path)
    ledger.finish(job_of(task), owner, status)
    store.remove(task.job_id)
    return {**answer, "status": "assembled", "document": status, "quality": asdict(quality)}
