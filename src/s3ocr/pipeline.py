"""Orchestration only: fetch -> pages -> sink, one direction.

Pages are processed concurrently, one engine process per available CPU (the engines add no
parallelism of their own), in a bounded window so that only a few pages are on disk at a time. One page's
way from rendering to text is ``s3ocr.page``.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from time import perf_counter
from typing import Any, Protocol, TypeVar, overload

from s3ocr.engines.base import Engine
from s3ocr.errors import NoPageReadError, PermanentError
from s3ocr.models import (
    DocumentFailure,
    DocumentHandedOn,
    DocumentRef,
    DocumentResult,
    EngineInfo,
    PageResult,
)
from s3ocr.page import PageContext, read_page
from s3ocr.pages import detect_media_type, open_pages
from s3ocr.reading import DocumentWriting
from s3ocr.routing import formats_for
from s3ocr.settings import Settings
from s3ocr.sinks import Sink
from s3ocr.sources import fetch_s3_object

T = TypeVar("T")
Outcome = DocumentResult | DocumentFailure
EngineChoice = Callable[[DocumentRef, Mapping[str, str]], Engine]
Planner = Callable[[Path, DocumentRef, Engine], DocumentHandedOn | None]


class Observer(Protocol):
    """Hooks for logging, metrics and tracing; the pipeline calls them from its own thread only."""

    def stage(self, name: str) -> contextlib.AbstractContextManager[Any]: ...

    def document_opened(self, ref: DocumentRef, pages: int) -> None:
        """A document was opened and ``pages`` of its pages are about to be read."""

    def page_done(self, page: PageResult) -> None: ...


class NullObserver:
    def stage(self, name: str) -> contextlib.AbstractContextManager[Any]:
        return contextlib.nullcontext()

    def document_opened(self, ref: DocumentRef, pages: int) -> None:
        return None

    def page_done(self, page: PageResult) -> None:
        return None


NULL_OBSERVER = NullObserver()


@contextlib.contextmanager
def document_work_dir(settings: Settings) -> Iterator[Path]:
    """A private work dir for one document, removed afterwards whatever happens."""
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="s3ocr-", dir=settings.work_dir))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def ordered_concurrent_map(fn: Callable[[int], T], items: Iterable[int], workers: int) -> Iterator[T]:
    """``map`` over a thread pool, results in the order of ``items``, at most ``2 * workers`` in flight.

    A new item starts as soon as any running one finishes (not only the oldest), so a long item at the head
    never leaves a worker idle; finished results wait in a small buffer until their turn.
    """
    if workers <= 1:
        yield from map(fn, items)
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="s3ocr-page")
    try:
        queue = enumerate(items)
        in_flight: dict[Future[T], int] = {}
        finished: dict[int, T] = {}
        turn = 0

        def start_next() -> None:
            following = next(queue, None)
            if following is not None:
                in_flight[pool.submit(fn, following[1])] = following[0]

        for _ in range(2 * workers):
            start_next()
        while in_flight:
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                finished[in_flight.pop(future)] = future.result()
                start_next()
            while turn in finished:
                yield finished.pop(turn)
                turn += 1
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def process_file(
    path: Path,
    ref: DocumentRef,
    settings: Settings,
    engine: Engine,
    work_dir: Path,
    observer: Observer = NULL_OBSERVER,
) -> DocumentResult:
    """OCR a local document file; raises a ``PermanentError`` when the document as a whole is unreadable."""
    started = perf_counter()
    media_type = detect_media_type(path)
    source = open_pages(path, media_type, dpi=settings.dpi, max_page_pixels=settings.max_page_pixels,
                        max_pages=settings.max_pages, use_text_layer=not settings.force_ocr)
    numbers = range(1, min(source.page_count, settings.max_pages) + 1)
    workers = min(settings.worker_count, len(numbers))
    pages = []
    context = PageContext(source, work_dir, settings, engine, last=numbers[-1] if numbers else 0,
                          writing=DocumentWriting.for_settings(settings))
    context.writing.expect(numbers)
    observer.document_opened(ref, len(numbers))

    with observer.stage("pages"):
        for page in ordered_concurrent_map(lambda number: read_page(context, number), numbers, workers):
            observer.page_done(page)
            pages.append(page)
    if pages and all(page.status == "failed" for page in pages):
        reasons = sorted({page.error["reason"] for page in pages if page.error})
        raise NoPageReadError(f"no page of {len(pages)} could be read ({', '.join(reasons)})")
    return DocumentResult(
        source=ref,
        media_type=media_type,
        engine=EngineInfo(engine.name, engine.version),
        languages=settings.languages,
        pages=tuple(pages),
        page_count=source.page_count,
        flags=source.flags,
        timings={"pages": round(perf_counter() - started, 3)},
    )


def _failure(ref: DocumentRef, error: PermanentError, started: float) -> DocumentFailure:
    return DocumentFailure(source=ref, reason=error.reason, error_type=type(error).__name__, message=str(error),
                           timings={"total": round(perf_counter() - started, 3)})


@overload
def process_s3_object(ref: DocumentRef, settings: Settings, engine: Engine, client: Any, sink: Sink | None,
                      observer: Observer = ..., choose_engine: EngineChoice | None = ...,
                      planner: None = ...) -> Outcome: ...


@overload
def process_s3_object(ref: DocumentRef, settings: Settings, engine: Engine, client: Any, sink: Sink | None,
                      observer: Observer = ..., choose_engine: EngineChoice | None = ...,
                      planner: Planner | None = ...) -> Outcome | DocumentHandedOn: ...


def process_s3_object(
    ref: DocumentRef,
    settings: Settings,
    engine: Engine,
    client: Any,
    sink: Sink | None,
    observer: Observer = NULL_OBSERVER,
    choose_engine: EngineChoice | None = None,
    planner: Planner | None = None,
) -> Outcome | DocumentHandedOn:
    """Fetch an S3 object, OCR it and write the outcome to ``sink`` when one is given; transient errors
    propagate for a retry.

    ``choose_engine`` may pick another engine for this object from its key and metadata; ``planner`` may hand a
    long document on to page-range tasks instead (``s3ocr.fanout``): nothing is written then.
    """
    started = perf_counter()
    with document_work_dir(settings) as work_dir:
        path: Path | None = None
        formats: tuple[str, ...] | None = None
        try:
            with observer.stage("fetch"):
                path, ref, metadata = fetch_s3_object(client, ref, work_dir, settings.max_bytes)
            if choose_engine is not None:
                engine = choose_engine(ref, metadata)
            formats = formats_for(metadata)  # a format the object names wrongly fails it before any page is read
            if planner is not None and (handed := planner(path, ref, engine)) is not None:
                return handed
            fetched = perf_counter()
            outcome: Outcome = process_file(path, ref, settings, engine, work_dir, observer)
            outcome.timings.update(fetch=round(fetched - started, 3), total=round(perf_counter() - started, 3))
        except PermanentError as e:
            outcome = _failure(ref, e, started)
        # Written while the document's file is at hand: a format may draw on its pages (the searchable PDF).
        return _record(outcome, sink, observer, started, formats, path) if sink else outcome


def process_local_file(
    path: Path,
    ref: DocumentRef,
    settings: Settings,
    engine: Engine,
    sink: Sink | None = None,
    observer: Observer = NULL_OBSERVER,
) -> Outcome:
    """OCR a local file; the outcome goes to ``sink`` when one is given."""
    started = perf_counter()
    with document_work_dir(settings) as work_dir:
        try:
            outcome: Outcome = process_file(path, ref, settings, engine, work_dir, observer)
            outcome.timings.update(total=round(perf_counter() - started, 3))
        except PermanentError as e:
            outcome = _failure(ref, e, started)
        return _record(outcome, sink, observer, started, None, path) if sink else outcome


def _record(outcome: Outcome, sink: Sink, observer: Observer, started: float, formats: tuple[str, ...] | None,
            source: Path | None) -> Outcome:
    """Write the outcome; when the sink refuses the reading for good (access denied to one output, a key it cannot
    name), the refusal is the document's record instead, so that a retry does not read it again for nothing."""
    try:
        return write_outcome(outcome, sink, observer, formats, source)
    except PermanentError as e:
        if isinstance(outcome, DocumentFailure):
            raise
        return write_outcome(_failure(outcome.source, e, started), sink, observer)


def write_outcome(outcome: Outcome, sink: Sink, observer: Observer = NULL_OBSERVER,
                  formats: tuple[str, ...] | None = None, source: Path | None = None) -> Outcome:
    with observer.stage("write"):
        if isinstance(outcome, DocumentResult):
            sink.write_result(outcome, formats, source)
        else:
            sink.write_failure(outcome)
    return outcome
