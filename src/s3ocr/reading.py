"""One page's reading, once it is planned and prepared: the plan confirmed by reading, or undone.

The page is read as planned (in bands, when it is the last page of a document). A reading is *settled* when it
is sure (at least the engine's ``sure_confidence``), holds about as much text as the page has marks, and its
lines run across the page (lines standing on a Latin page mean it was read sideways). A local engine whose
reading is not settled reads the page other ways, in this order, and stops at the first settled reading:

- ``standing``: a page whose lines ran down it (turned a quarter by the plan, or left standing when the axis
  was unclear) may be vertical CJK writing: read as it stood, in columns (``Engine.recognize_vertical``);
- ``turned_180``: the page turned over from the plan: up from down is decided by the plan only for Latin text
  whose ink clearly leans down (``orientation.ascender_lean``); any other upside-down page reads unsure;
- ``as_came``: the page before any of the plan's changes, at its own resolution: what a bare engine reads.
  A wrong quarter turn, a deskew by a wrong angle, a resolution misjudged, cannot leave a page blank or
  worse than bare: the better reading is kept (``orientation.best_way``).

A cloud engine, billed per call, reads each page once as planned: its reading is taken as it is.

The kept reading may then get a second opinion from another engine (``Engine.reconsider``: ``auto`` asks
PP-OCRv6 about unsure Tesseract readings of Latin pages).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from s3ocr.engines.base import Engine, Opinion
from s3ocr.errors import CorruptDocumentError
from s3ocr.geometry import Placement, placement
from s3ocr.models import Line, PageImage, Recognition, mean_word_confidence
from s3ocr.settings import Settings, latin_languages, uses_cjk

# A reading with fewer characters than this share of the marks on the page found little of what is there:
# readings of the real and rendered corpus pages have 0.4-11 characters a mark (a CJK character is several).
SPARSE_READING = 0.1
# A document whose pages' first readings are replaced by the second opinion: after this many pages in a row,
# the second engine is asked first, and every RECHECK_EVERY-th page is read the usual way (DocumentWriting).
# On the real English forms and receipts, Tesseract's reading, thrown away, was 0.3-0.7 CPU-s of 0.9-1.9 a page.
# The other way round, a clean page asked first costs PP-OCRv6's reading instead of Tesseract's (2-3 times as
# much, the same text or better): after a run of forms, at most three clean pages are read so.
SECOND_FIRST_AFTER = 2
RECHECK_EVERY = 4

if TYPE_CHECKING:  # OpenCV and numpy load with the first page that needs OCR, never for born-digital ones
    import numpy as np

    from s3ocr.orientation import Way
    from s3ocr.pagesplit import Band
    from s3ocr.plan import PagePlan


def write_page(image: np.ndarray, number: int, kind: str, dpi: int, work_dir: Path, files: list[Path]) -> PageImage:
    """Write an image of page ``number`` to the work dir as ``000001_<kind>.pgm``, noted in ``files`` for removal."""
    import cv2

    path = work_dir / f"{number:06d}_{kind}.pgm"
    cv2.imwrite(str(path), image)
    files.append(path)
    return PageImage(number=number, path=path, width=image.shape[1], height=image.shape[0], dpi=dpi)


def read_bands(band_pages: list[PageImage], bands: list[Band], settings: Settings, engine: Engine) -> Recognition:
    """Read a page's bands at once, one thread each, and join them back into the page's reading: boxes
    shifted to page coordinates (the page's text is rebuilt from them, ``s3ocr.layout``)."""
    with ThreadPoolExecutor(max_workers=len(band_pages), thread_name_prefix="s3ocr-band") as pool:
        readings = list(pool.map(lambda band: engine.recognize(band, settings.languages, settings.page_timeout),
                                 band_pages))
    lines = tuple(_shifted(line, band.top) for reading, band in zip(readings, bands, strict=True)
                  for line in reading.lines)
    text = "\n\n".join(reading.text for reading in readings if reading.text.strip())
    return Recognition(text=text, lines=lines, mean_confidence=mean_word_confidence(lines), engine=readings[0].engine)


def _shifted(line: Line, dy: int) -> Line:
    return replace(line, box=replace(line.box, top=line.box.top + dy),
                   words=tuple(replace(word, box=replace(word.box, top=word.box.top + dy)) for word in line.words))


@dataclass(frozen=True)
class PageOutcome:
    """What one page's reading showed of its document's writing (``outcome_of``)."""

    text: bool  # the page has text: read, or its own text layer
    cjk: bool  # ... with a CJK character in it
    replaced: bool | None  # its kept reading was the second engine's; None: no engine read it (failed, blank, text)
    vertical: bool  # it was read standing, in columns


def outcome_of(status: str, text: str, preprocessing: Mapping[str, Any]) -> PageOutcome:
    """A page's outcome from its result (``PageResult``, or its page object as a range task stored it)."""
    from s3ocr.textclean import has_cjk

    read = preprocessing.get("read") or {}
    ok = status == "ok"
    return PageOutcome(text=ok, cjk=ok and has_cjk(text), replaced=bool(read.get("second_opinion")) if read else None,
                       vertical=read.get("kept") == "standing")


@dataclass(frozen=True)
class WritingView:
    """What the pages before one page showed of the document's writing (``DocumentWriting.view``)."""

    vertical: bool = False  # a page was read in columns
    latin_so_far: bool = False  # pages with text, none of it CJK
    second_first: bool = False  # the page is to ask the second engine first

    def languages(self, configured: str) -> str:
        """The languages to read the page with (see ``DocumentWriting``)."""
        latin = latin_languages(configured)
        return latin if self.latin_so_far and latin and uses_cjk(configured) else configured

    def asks_second_first(self) -> bool:
        return self.second_first

    def expects_columns(self, plan: PagePlan) -> bool:
        """Whether a page planned as ``plan`` is expected to read in columns."""
        return self.vertical and plan.lines_down


class DocumentWriting:
    """What the pages of one document showed of its writing, and what it decides for the pages after them.

    - Once a page has read as vertical writing, the next pages whose lines run down are read that way first,
      not turned a quarter, read unsure and only then read in columns.
    - While every page read so far has no CJK character, the next pages are read with the Latin languages of
      a mixed list (``chi_sim+eng`` -> ``eng``): an English document read with the default languages gets
      English-page engines and costs (``auto``: Tesseract). That is a guess the reading confirms: a page that
      does not read settled so is read with every language next (``all_languages``), and the first page with
      CJK text ends the guess for the pages after it.
    - Once ``SECOND_FIRST_AFTER`` pages in a row had their first reading replaced by a second opinion
      (``Engine.reconsider``: ``auto`` asks PP-OCRv6 about unsure Tesseract readings of Latin pages; a
      document of faxed forms or receipts), the next pages ask the second engine first
      (``Engine.second_opinion``), and the first engine reads only a page whose second reading is not sure.
      Every ``RECHECK_EVERY``-th page is read the usual way all the same, so that a document whose pages
      change is noticed: a page the first engine reads sure ends the run.
    Each may change the text a page ends with, not only its cost: the first tries the page's ways in another
    order and keeps the first settled one; under ``auto`` the languages choose the engine (``eng``: Tesseract,
    ``chi_sim+eng``: PP-OCRv6); the third may keep the second engine's reading of a page the first would have
    read sure, at its higher cost (on the real English pages PP-OCRv6 reads as well as Tesseract or better:
    *Accuracy* in the README).

    The same document reads the same however its pages' threads run, and whether it is read in one invocation
    or in page ranges (``s3ocr.fanout``): page n is decided from the pages ``lag`` and more before it (``view``
    waits for them) of its own ``block`` of pages (the range it falls in), in page order. A range task started
    again after a deadline or a killed worker is given what the pages of its range read before showed
    (``record``, from their stored results). The lag is twice the pages read at once (``for_settings``; one
    page when they are read one at a time): the pages it waits for have nearly always been read by then. With a
    lag of just the pages read at once, a page often waited for a long one: the real English pages, two at a
    time, took 25 % longer. Under languages that mix CJK and Latin ones, a block's first page counts for every
    page after it (``first_counts``; see ``for_settings``).
    """

    def __init__(self, lag: int = 1, block: int = 0, first_counts: bool = False) -> None:
        self.lag = max(1, lag)
        self.block = max(0, block)
        self.first_counts = first_counts  # a block's first page has its say on every page after it
        self._outcomes: dict[int, PageOutcome | None] = {}  # None: a page that was not read (failed, skipped)
        self._expected: set[int] = set()
        self._changed = threading.Condition()

    @classmethod
    def for_settings(cls, settings: Settings) -> DocumentWriting:
        """A document's, read ``settings.worker_count`` pages at once, in ranges of ``settings.range_pages``.

        With languages that mix CJK and Latin ones (``chi_sim+eng``, the default), the pages after a block's
        first are decided from it too, so that only that page of an English document is read with every language
        (``auto``: PP-OCRv6, 1.3 times the CPU of Tesseract and its second opinion on the real English pages, two
        times on the clean ones), not as many as the lag; the page read beside it waits for it."""
        workers, languages = settings.worker_count, settings.languages
        mixed = uses_cjk(languages) and bool(latin_languages(languages))
        return cls(lag=1 if workers == 1 else 2 * workers, block=settings.range_pages, first_counts=mixed)

    def expect(self, numbers: Iterable[int]) -> None:
        """The pages this reader will read: a page's view waits for those of them it is drawn from."""
        with self._changed:
            self._expected.update(numbers)

    def record(self, number: int, outcome: PageOutcome | None) -> None:
        """Page ``number``'s outcome (None: an expected page that will not be read after all)."""
        with self._changed:
            self._outcomes[number] = outcome
            self._changed.notify_all()

    def block_start(self, number: int) -> int:
        """The first page of page ``number``'s block."""
        return (number - 1) // self.block * self.block + 1 if self.block else 1

    def view(self, number: int, timeout: float | None = None) -> WritingView:
        """What page ``number`` is to be read with, once the expected pages it is drawn from are known (waiting at
        most ``timeout`` seconds: then from those known)."""
        first = self.block_start(number)
        drawn = {page for page in range(first, number)
                 if page <= number - self.lag or (self.first_counts and page == first)}
        with self._changed:
            self._changed.wait_for(lambda: all(page in self._outcomes for page in drawn if page in self._expected),
                                   timeout)
            known = [outcome for page in sorted(drawn) if (outcome := self._outcomes.get(page)) is not None]
        run = 0  # pages in a row whose first reading was replaced, pages no engine read aside
        for outcome in known:
            if outcome.replaced is not None:
                run = run + 1 if outcome.replaced else 0
        recheck = (run - SECOND_FIRST_AFTER) % RECHECK_EVERY == RECHECK_EVERY - 1  # every fourth page of a run
        text = [outcome for outcome in known if outcome.text]
        return WritingView(vertical=any(outcome.vertical for outcome in known),
                           latin_so_far=bool(text) and not any(outcome.cjk for outcome in text),
                           second_first=run >= SECOND_FIRST_AFTER and not recheck)


@dataclass(frozen=True)
class PageReading:
    """The reading kept for a page, the image it is of (boxes refer to it), and what was tried."""

    recognition: Recognition
    image: PageImage
    way: str
    rotation: int  # clockwise degrees the image read is turned from the page as it came
    tried: tuple[Way, ...]
    second_opinion: str = ""  # the engine whose reading replaced the kept one, if any
    languages: str = ""  # the languages of the reading kept (and of the second opinion)
    asked_first: bool = False  # the second engine was asked first, and no first reading was made

    def placement(self, plan: PagePlan, rendered: PageImage) -> Placement:
        """Where the boxes of this reading lie on the page as rendered (``s3ocr.geometry``)."""
        if self.way == "as_came":
            return placement(rendered.width, rendered.height, rendered.dpi)
        return placement(rendered.width, rendered.height, rendered.dpi, plan.rotation, plan.skew, plan.scale,
                         self.rotation - plan.rotation)

    def report(self, plan: PagePlan) -> dict[str, Any]:
        """The page's ``preprocessing`` record: the plan, then which way it was read and what else was tried.
        ``steps``, ``rotation``, ``skew`` and ``scale`` describe the image read."""
        report = plan.report()
        if self.way == "as_came":  # the plan was undone: the page was read as it came
            report.update(steps=["grayscale"], rotation=0, skew=0.0, scale=1.0, dpi=None)
        elif self.rotation != plan.rotation:
            turn = f"rotate_{self.rotation}" if self.rotation else None
            steps = [step for step in plan.steps if not step.startswith("rotate_")]
            report.update(steps=steps + ([turn] if turn else []), rotation=self.rotation)
        if self.way == "standing":
            report["writing"] = "vertical"
        report["read"] = {
            "kept": self.way,
            "tried": [{"way": way.name, "confidence": way.reading.mean_confidence,
                       "characters": sum(len(line.text) for line in way.reading.lines)} for way in self.tried],
        }
        if self.second_opinion:
            report["read"]["second_opinion"] = self.second_opinion
        if self.asked_first:
            report["read"]["asked_first"] = True
        return report


def read_page_image(plan: PagePlan, as_came: PageImage, prepared: PageImage, work_dir: Path, files: list[Path],
                    settings: Settings, engine: Engine, first: Recognition | None = None,
                    writing: WritingView | None = None, marks: int = 0,
                    all_languages: str | None = None, second_first: bool = False) -> PageReading:
    """Read a prepared page (``first``: that reading, made in bands already) and confirm the plan by the
    reading, as the module doc says. ``as_came`` is the page as rendered, before the plan; ``marks`` the
    marks counted on it (``preprocess.ink``). ``all_languages``: the languages configured, when the page is
    read with fewer (a document of Latin text so far, ``DocumentWriting``): that guess is checked first.
    ``second_first``: the second engine is asked first (``DocumentWriting``), and its sure, settled reading is
    kept without a first one. ``writing``: what the document's pages before this one showed."""
    from s3ocr import orientation
    from s3ocr.layout import is_vertical_writing
    from s3ocr.orientation import Way

    languages, timeout = settings.languages, settings.page_timeout
    capabilities = engine.capabilities(languages)
    vertical = capabilities.local and plan.lines_down and uses_cjk(languages)

    def widen() -> tuple[PageImage, int]:
        """Back to every configured language: the page read as planned with them."""
        nonlocal languages, capabilities, vertical
        languages = all_languages or languages
        capabilities = engine.capabilities(languages)
        vertical = capabilities.local and plan.lines_down and uses_cjk(languages)
        return images["as_planned"]

    def settled(way: Way) -> bool:
        """Sure, with about as much text as the page has marks, and its lines across the page (a reading of a
        sideways page in standing lines is not one of a page the right way round), unless it may be
        vertical CJK writing."""
        reading = way.reading
        characters = sum(len(line.text.replace(" ", "")) for line in reading.lines)
        return (orientation.is_sure(reading, capabilities.sure_confidence)
                and characters >= SPARSE_READING * marks
                and (vertical or way.name == "standing" or not is_vertical_writing(reading.lines)))

    images: dict[str, tuple[PageImage, int]] = {"as_planned": (prepared, plan.rotation)}
    ways: list[Way] = []
    turned: np.ndarray | None = None  # the prepared image, read back from the work dir once it is needed

    def prepared_pixels() -> np.ndarray:
        nonlocal turned
        if turned is None:
            turned = _read_back(prepared)
        return turned

    def attempt(name: str, make: Callable[[], tuple[PageImage, int]],
                read: Callable[[PageImage, str, float], Recognition]) -> bool:
        image, rotation = images[name] = make()
        ways.append(Way(name, rotation, read(image, languages, timeout)))
        return settled(ways[-1])

    def standing() -> tuple[PageImage, int]:

        if plan.rotation == 0:  # the plan left it standing
            return prepared, 0
        pixels = orientation.rotate_quarter(prepared_pixels(), 360 - plan.rotation)
        return write_page(pixels, prepared.number, "vertical", prepared.dpi, work_dir, files), 0

    def turned_180() -> tuple[PageImage, int]:
        pixels = prepared_pixels()[::-1, ::-1]
        return write_page(pixels, prepared.number, "ocr180", prepared.dpi, work_dir, files), (plan.rotation + 180) % 360

    opinion: Opinion | None = None  # the second engine's reading of the page as planned, when asked first
    if second_first and first is None:
        opinion = engine.second_opinion(prepared, languages, timeout)
        if opinion is not None and opinion.sure and settled(asked := Way("as_planned", plan.rotation,
                                                                         opinion.reading)):
            return PageReading(opinion.reading, prepared, asked.name, asked.rotation, (asked,),
                               opinion.reading.engine, languages, asked_first=True)
    done = False
    if vertical and first is None and writing is not None and writing.expects_columns(plan):
        done = attempt("standing", standing, engine.recognize_vertical)
        vertical = False  # tried already
    if not done:
        if first is not None:
            ways.append(Way("as_planned", plan.rotation, first))
            done = settled(ways[-1])
        else:
            done = attempt("as_planned", lambda: images["as_planned"], engine.recognize)
    if not done and capabilities.local and all_languages and all_languages != languages:
        done = attempt("all_languages", widen, engine.recognize)
    if not done and capabilities.local:
        done = vertical and not any(way.name == "standing" for way in ways) and \
            attempt("standing", standing, engine.recognize_vertical)
        done = done or attempt("turned_180", turned_180, engine.recognize)
        if not done and plan.changes_page:
            attempt("as_came", lambda: (as_came, 0), engine.recognize)
    kept = orientation.best_way(ways, settled)
    image = images[kept.name][0]
    kept_languages = settings.languages if kept.name == "as_planned" else languages
    recognition, second = kept.reading, ""
    # Asked first, the second engine has read the page as planned in these languages already: not again.
    reconsidered = engine.reconsider(image, kept_languages, timeout, recognition,
                                     opinion if kept.name == "as_planned" else None)
    if reconsidered is not recognition:
        recognition, second = reconsidered, reconsidered.engine
    return PageReading(recognition, image, kept.name, kept.rotation, tuple(ways), second, kept_languages)


def _read_back(page: PageImage) -> np.ndarray:
    import cv2

    pixels = cv2.imread(str(page.path), cv2.IMREAD_UNCHANGED)
    if pixels is None:
        raise CorruptDocumentError(f"page {page.number} could not be read back from the work dir")
    return pixels
