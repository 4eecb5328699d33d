"""One page's way from the document to its text: the PDF's own text, or render -> blank? -> plan -> read and
confirm (``s3ocr.reading``) -> reading order (``s3ocr.layout``) -> clean-up (``s3ocr.textclean``).

A page failure (a timeout, a page that cannot be rendered) is recorded on the page; the document goes on.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from time import perf_counter
from typing import TYPE_CHECKING

from s3ocr.engines.base import Engine
from s3ocr.errors import CorruptDocumentError, PageTimeoutError, PermanentError
from s3ocr.layout import ordered_lines
from s3ocr.models import Line, PageImage, PageResult, Recognition
from s3ocr.pages import PageSource
from s3ocr.reading import (
    DocumentWriting,
    PageReading,
    WritingView,
    outcome_of,
    read_bands,
    read_page_image,
    write_page,
)
from s3ocr.settings import Settings
from s3ocr.textclean import clean_text, has_cjk, latin_punctuation

if TYPE_CHECKING:
    from s3ocr.pagesplit import Band
    from s3ocr.plan import PagePlan


@dataclass(frozen=True)
class PageContext:
    """What reading any page of one document needs: where it comes from and goes, and how it is read.

    ``last``: the page read when no other is left to start, by all cores at once (in bands; see
    ``pagesplit``). ``writing``: what the document's pages show of its writing, and what it decides for the pages
    after them (``DocumentWriting``; shared by them).
    """

    source: PageSource
    work_dir: Path
    settings: Settings
    engine: Engine
    last: int = 1
    writing: DocumentWriting = field(default_factory=DocumentWriting)

    def parts(self, number: int) -> int:
        return self.settings.worker_count if number == self.last else 1


@dataclass(frozen=True)
class _Prepared:
    """A page on disk as rendered and as planned (and in bands, when it is read by all cores); ``second_first``:
    the second engine is to be asked first."""

    plan: PagePlan
    page: PageImage
    prepared: PageImage
    marks: int
    bands: list[Band]
    band_pages: list[PageImage]
    second_first: bool = False


def read_page(context: PageContext, number: int) -> PageResult:
    """Page ``number``'s text and the record of how it was found; page-level failures are recorded on it."""
    view = context.writing.view(number, context.settings.page_timeout)
    page: PageResult | None = None
    try:
        page = _read_page(context, number, view)
    finally:  # whatever happens, the pages after this one learn so (``DocumentWriting.view`` waits for it)
        context.writing.record(number, None if page is None else
                               outcome_of(page.status, page.text, page.preprocessing or {}))
    return page


def _read_page(context: PageContext, number: int, writing: WritingView) -> PageResult:
    started = perf_counter()
    text = context.source.text_layer(number)
    if text is not None:
        return PageResult(number=number, status="ok" if text.strip() else "empty", text=text, source="text_layer",
                          engine="pdftotext", timings={"total": round(perf_counter() - started, 3)})
    if context.source.known_blank(number):  # the document shows nothing is drawn on it: no render, no engine
        return PageResult(number=number, status="empty", preprocessing={"blank": True},
                          timings={"total": round(perf_counter() - started, 3)})
    configured = context.settings.languages
    # A document of Latin text so far is read with its Latin languages (DocumentWriting): a guess, which a local
    # engine's reading confirms; a cloud service bills every call, so it reads with every language at once.
    local = context.engine.capabilities(configured).local
    languages = writing.languages(configured) if local else configured
    if languages != configured:
        context = replace(context, settings=replace(context.settings, languages=languages))
    settings, engine = context.settings, context.engine
    engine.prewarm(settings.languages, settings.worker_count)  # models load while this page renders
    timings: dict[str, float] = {}
    files: list[Path] = []
    try:
        prepared = _prepare(context, number, writing, files, timings, started)
        if isinstance(prepared, PageResult):
            return prepared
        mark = perf_counter()
        banded = read_bands(prepared.band_pages, prepared.bands, settings, engine) if prepared.band_pages else None
        reading = read_page_image(prepared.plan, prepared.page, prepared.prepared, context.work_dir, files,
                                  settings, engine, first=banded, writing=writing, marks=prepared.marks,
                                  all_languages=configured, second_first=prepared.second_first)
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
    timings["total"] = round(perf_counter() - started, 3)
    return _result(number, prepared, reading, engine, timings)


def _prepare(context: PageContext, number: int, writing: WritingView, files: list[Path], timings: dict[str, float],
             started: float) -> _Prepared | PageResult:
    """Render the page, and plan it unless it is paper alone (then its ``empty`` result, no engine asked)."""
    # OpenCV and the preprocessing modules load with the first page that needs OCR: a born-digital document
    # never pays for them.
    import cv2

    from s3ocr import pagesplit, plan, preprocess

    settings, engine = context.settings, context.engine
    page = context.source.render(number, context.work_dir)
    files.append(page.path)
    timings["render"] = round(perf_counter() - started, 3)
    mark = perf_counter()
    image = cv2.imread(str(page.path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise CorruptDocumentError(f"page {number} rendered to an unreadable image")
    ink = preprocess.ink(preprocess.grayscale(image))
    if ink.blank:  # paper alone: a cloud service would bill the call
        timings["total"] = round(perf_counter() - started, 3)
        return PageResult(number=number, status="empty", width=page.width, height=page.height, dpi=page.dpi,
                          preprocessing={"blank": True}, timings=timings)
    capabilities = engine.capabilities(settings.languages)
    prepared = plan.prepare(image, settings.preprocess, settings.languages, capabilities)
    dpi = prepared.plan.resolution(page.dpi)
    ocr_page = replace(page, dpi=dpi)
    if prepared.image is not image:
        ocr_page = write_page(prepared.image, number, "ocr", dpi, context.work_dir, files)
    # The second engine is asked first, on the whole page, in a document whose readings it keeps replacing and
    # on a page of text smaller than the engine reads well (``Capabilities.min_pitch``).
    second_first = writing.asks_second_first() or prepared.plan.small_text(capabilities.min_pitch)
    # Bands are strips across the page as prepared: no use when the page is expected to read in columns.
    in_bands = capabilities.local and not second_first and not writing.expects_columns(prepared.plan)
    parts = context.parts(number) if in_bands else 1
    bands = pagesplit.bands(prepared.image, parts) if parts > 1 else []
    band_pages = [write_page(prepared.image[band.top:band.bottom], number, f"band{i}", dpi, context.work_dir, files)
                  for i, band in enumerate(bands)] if len(bands) > 1 else []
    timings["preprocess"] = round(perf_counter() - mark, 3)
    # The pixels go out of scope here, before the engine runs for seconds: each worker holds no page in memory
    # while its engine reads (~17 MB a worker for A4 at 300 dpi).
    return _Prepared(prepared.plan, page, ocr_page, ink.marks, bands, band_pages, second_first)


def _result(number: int, prepared: _Prepared, reading: PageReading, engine: Engine,
            timings: dict[str, float]) -> PageResult:
    report = {"languages": reading.languages, **reading.report(prepared.plan)}
    if prepared.band_pages and reading.way == "as_planned":
        report["bands"] = [[band.top, band.bottom] for band in prepared.bands]
    lines, text = page_text(reading.recognition)
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
        placement=reading.placement(prepared.plan, prepared.page),
    )


def page_text(recognition: Recognition) -> tuple[tuple[Line, ...], str]:
    """The page's lines in reading order and its text (``s3ocr.layout``), cleaned up (``textclean``). An engine
    that gives no boxes (a text-only cloud API) keeps its own order."""
    if any(line.box.width > 0 and line.box.height > 0 for line in recognition.lines):
        lines, text = ordered_lines(recognition.lines)
    else:
        lines, text = recognition.lines, recognition.text
    clean = clean_text if has_cjk(text) else (lambda part: latin_punctuation(clean_text(part)))
    # The words too, as far as a word alone can be (full-width letters, CJK punctuation on a Latin page): formats
    # drawn from the words (the searchable PDF, hOCR, the TSV) say what the text says.
    return tuple(replace(line, text=clean(line.text), words=tuple(replace(word, text=clean(word.text))
                                                                    for word in line.words))
                 for line in lines), clean(text).strip("\n")
