"""Orchestration only: fetch -> pages -> preprocess -> recognise -> sink, one direction.

Pages are processed concurrently, one engine process per available CPU (the engines add no
parallelism of their own), in a bounded window so that only a few pages are on disk at a time. How one
prepared page is read (in bands, the other ways up, vertical writing) is ``s3ocr.reading``.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from pathlib import Path
from time import perf_counter
from typing import Any, Protocol, TypeVar

from s3ocr.engines.base import Engine
from s3ocr.errors import CorruptDocumentError, NoPageReadError, PageTimeoutError, PermanentError
from s3ocr.layout import ordered_lines
from s3ocr.models import (
    DocumentFailure,
    DocumentRef,
    DocumentResult,
    EngineInfo,
    Line,
    PageResult,
    Recognition,
)
from s3ocr.pages import PageSource, detect_media_type, open_pages
from s3ocr.reading import DocumentWriting, read_bands, read_page_image, write_page
from s3ocr.settings import Settings
from s3ocr.sinks import Sink
from s3ocr.sources import fetch_s3_object
from s3ocr.textclean import clean_text, has_cjk, latin_punctuation

T = TypeVar("T")
Outcome = DocumentResult | DocumentFailure


class Observer(Protocol):
    """Hooks for logging, metrics and tracing; the pipeline calls them from its own thread only."""

    def stage(self, name: str) -> contextlib.AbstractContextManager[Any]: ...

    def page_done(self, page: PageResult) -> None: ...


class NullObserver:
    def stage(self, name: str) -> contextlib.AbstractContextManager[Any]:
        return contextlib.nullcontext()

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


def read_page(source: PageSource, number: int, work_dir: Path, settings: Settings, engine: Engine,
              parts: int = 1, writing: DocumentWriting | None = None) -> PageResult:
    """Render, plan, read and order one page. Page-level failures are recorded on the page.

    With ``parts`` > 1 (the last page of a document, when cores would otherwise idle) a local engine reads
    the page in up to that many bands at once; see ``pagesplit``. ``writing`` carries what the document's
    other pages showed of its writing (``reading.DocumentWriting``).
    """
    timings: dict[str, float] = {}
    started = perf_counter()
    text = source.text_layer(number)
    if text is not None:
        timings["total"] = round(perf_counter() - started, 3)
        return PageResult(number=number, status="ok" if text.strip() else "empty", text=text, source="text_layer",
                          engine="pdftotext", timings=timings)
    if source.known_blank(number):  # the document shows nothing is drawn on it: no render, no engine
        timings["total"] = round(perf_counter() - started, 3)
        return PageResult(number=number, status="empty", preprocessing={"blank": True}, timings=timings)
    capabilities = engine.capabilities(settings.languages)
    engine.prewarm(settings.languages, settings.worker_count)  # models load while this page renders
    # OpenCV and the preprocessing modules are loaded by the first page that needs OCR: a born-digital
    # document never pays for them.
    import cv2

    from s3ocr import pagesplit, plan, preprocess

    files: list[Path] = []
    try:
        page = source.render(number, work_dir)
        files.append(page.path)
        timings["render"] = round(perf_counter() - started, 3)
        mark = perf_counter()
        image = cv2.imread(str(page.path), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise CorruptDocumentError(f"page {number} rendered to an unreadable image")
        marks, ink = preprocess.marks(preprocess.grayscale(image))
        if preprocess.is_blank_by(marks, ink):
            # Paper alone: no engine is asked (a cloud service would bill the call).
            timings["total"] = round(perf_counter() - started, 3)
            return PageResult(number=number, status="empty", width=page.width, height=page.height, dpi=page.dpi,
                              preprocessing={"blank": True}, timings=timings)
        prepared = plan.prepare(image, settings.preprocess, settings.languages, capabilities)
        page_plan = prepared.plan
        dpi = page_plan.resolution(page.dpi)
        ocr_page = replace(page, dpi=dpi)
        if prepared.image is not image:
            ocr_page = write_page(prepared.image, number, "ocr", dpi, work_dir, files)
        # Bands are strips across the page as prepared: no use when the page is expected to read in columns.
        in_columns = writing is not None and writing.expects_columns(page_plan)
        bands = (pagesplit.bands(prepared.image, parts) if parts > 1 and capabilities.local and not in_columns
                 else [])
        band_pages = [write_page(prepared.image[band.top:band.bottom], number, f"band{i}", dpi, work_dir, files)
                      for i, band in enumerate(bands)] if len(bands) > 1 else []
        # The page is on disk now: drop the arrays before the engine runs for seconds, so each worker holds
        # no page in memory while its engine does (~17 MB a worker for A4 at 300 dpi).
        del image, prepared
        timings["preprocess"] = round(perf_counter() - mark, 3)
        mark = perf_counter()
        banded = read_bands(band_pages, bands, settings, engine) if band_pages else None
        reading = read_page_image(page_plan, page, ocr_page, work_dir, files, settings, engine, first=banded,
                                  writing=writing, marks=marks)
        timings["recognize"] = round(perf_counter() - mark, 3)
    except (PageTimeoutError, PermanentError) as e:
        if isinstance(e, PermanentError) and e.reason == "configuration":
            raise
        timings["total"] = round(perf_counter() - started, 3)
        return PageResult(number=number, status="failed", timings=timings,
                          error={"reason": e.reason, "type": type(e).__name__, "message": str(e)})
    finally:
        for path in files:
            path.unlink(missing_ok=True)
    report = reading.report(page_plan)
    if band_pages and reading.way == "as_planned":
        report["bands"] = [[band.top, band.bottom] for band in bands]
    lines, text = page_text(reading.recognition)
    timings["total"] = round(perf_counter() - started, 3)
    return PageResult(
        number=number,
        # Ink, and no text in any reading: never an "ok" page with nothing on it.
        status="ok" if text.strip() else "no_text_found",
        text=text,
        lines=lines,
        mean_confidence=reading.recognition.mean_confidence,
        width=reading.image.width,
        height=reading.image.height,
        dpi=reading.image.dpi,
        preprocessing=report,
        timings=timings,
        engine=reading.recognition.engine or engine.name,
    )


def page_text(recognition: Recognition) -> tuple[tuple[Line, ...], str]:
    """The page's lines in reading order and its text (``s3ocr.layout``), cleaned up (``textclean``). An engine
    that gives no boxes (a text-only cloud API) keeps its own order."""
    if any(line.box.width > 0 and line.box.height > 0 for line in recognition.lines):
        lines, text = ordered_lines(recognition.lines)
    else:
        lines, text = recognition.lines, recognition.text
    clean = clean_text if has_cjk(text) else (lambda part: latin_punctuation(clean_text(part)))
    return tuple(replace(line, text=clean(line.text)) for line in lines), clean(text).strip("\n")


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
    last = numbers[-1] if numbers else 0
    pages = []
    writing = DocumentWriting()

    def read(number: int) -> PageResult:
        # The last page starts when no other is left to start: the cores that finish before it would idle.
        return read_page(source, number, work_dir, settings, engine,
                         parts=settings.worker_count if number == last else 1, writing=writing)

    with observer.stage("pages"):
        for page in ordered_concurrent_map(read, numbers, workers):
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
        timings={"pages": round(perf_counter() - started, 3)},
    )


def _failure(ref: DocumentRef, error: PermanentError, started: float) -> DocumentFailure:
    return DocumentFailure(source=ref, reason=error.reason, error_type=type(error).__name__, message=str(error),
                           timings={"total": round(perf_counter() - started, 3)})


def process_s3_object(
    ref: DocumentRef,
    settings: Settings,
    engine: Engine,
    client: Any,
    sink: Sink | None,
    observer: Observer = NULL_OBSERVER,
    choose_engine: Callable[[DocumentRef, Mapping[str, str]], Engine] | None = None,
) -> Outcome:
    """Fetch an S3 object, OCR it and write the outcome to ``sink`` when one is given; transient errors
    propagate for a retry.

    ``choose_engine`` may pick another engine for this object from its key and metadata.
    """
    started = perf_counter()
    with document_work_dir(settings) as work_dir:
        try:
            with observer.stage("fetch"):
                path, ref, metadata = fetch_s3_object(client, ref, work_dir, settings.max_bytes)
            if choose_engine is not None:
                engine = choose_engine(ref, metadata)
            fetched = perf_counter()
            outcome: Outcome = process_file(path, ref, settings, engine, work_dir, observer)
            outcome.timings.update(fetch=round(fetched - started, 3), total=round(perf_counter() - started, 3))
        except PermanentError as e:
            outcome = _failure(ref, e, started)
    return write_outcome(outcome, sink, observer) if sink else outcome


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
    return write_outcome(outcome, sink, observer) if sink else outcome


def write_outcome(outcome: Outcome, sink: Sink, observer: Observer = NULL_OBSERVER) -> Outcome:
    with observer.stage("write"):
        if isinstance(outcome, DocumentResult):
            sink.write_result(outcome)
        else:
            sink.write_failure(outcome)
    return outcome
