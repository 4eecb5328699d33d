"""Values handed from stage to stage: frozen dataclasses, no behaviour beyond derived views."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from s3ocr.geometry import Placement

SCHEMA_VERSION = "1"


@dataclass(frozen=True)
class DocumentRef:
    """Where a document came from: an S3 object, or a local file (``bucket`` empty)."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None
    sequencer: str | None = None  # S3's order of events on this key (``jobs.normalise_sequencer``)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}" if self.bucket else self.key

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in pixel coordinates of the page image that was recognised."""

    left: int
    top: int
    width: int
    height: int

    def union(self, other: Box) -> Box:
        left, top = min(self.left, other.left), min(self.top, other.top)
        right = max(self.left + self.width, other.left + other.width)
        bottom = max(self.top + self.height, other.top + other.height)
        return Box(left, top, right - left, bottom - top)


@dataclass(frozen=True)
class Word:
    text: str
    box: Box
    confidence: float  # 0..1


@dataclass(frozen=True)
class Line:
    text: str
    box: Box
    confidence: float  # 0..1, mean over the line's words
    words: tuple[Word, ...] = ()


def mean_word_confidence(lines: tuple[Line, ...] | list[Line]) -> float | None:
    """The mean confidence of the lines' words (0..1, 4 places), or None when there are no words."""
    words = [word for line in lines for word in line.words]
    return round(sum(word.confidence for word in words) / len(words), 4) if words else None


@dataclass(frozen=True)
class PageImage:
    """One page as an image file on disk, owned by the document's work dir."""

    number: int  # 1-based
    path: Path
    width: int
    height: int
    dpi: int


@dataclass(frozen=True)
class Recognition:
    """What an engine returns for one page image."""

    text: str
    lines: tuple[Line, ...]
    mean_confidence: float | None  # 0..1; None when the page has no words
    engine: str = ""  # the engine that actually read the page (differs from the configured one after a fallback)


@dataclass(frozen=True)
class PageResult:
    number: int
    # "ok"; "empty": blank paper, no engine asked; "no_text_found": ink, but no reading found text in it;
    # "failed": the page could not be read (``error`` says why)
    status: str
    text: str = ""
    lines: tuple[Line, ...] = ()
    mean_confidence: float | None = None
    width: int = 0
    height: int = 0
    dpi: int = 0
    source: str = "ocr"  # "ocr" | "text_layer"
    engine: str = ""
    preprocessing: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    error: dict[str, str] | None = None
    placement: Placement | None = None  # where the boxes lie on the page as rendered (OCR'd pages)


@dataclass(frozen=True)
class EngineInfo:
    name: str
    version: str


@dataclass(frozen=True)
class DocumentResult:
    source: DocumentRef
    media_type: str
    engine: EngineInfo
    languages: str
    pages: tuple[PageResult, ...]
    page_count: int  # pages in the document, which may exceed len(pages) when capped
    timings: dict[str, float] = field(default_factory=dict)
    flags: tuple[str, ...] = ()  # what the document carries that a reader should know of (``PageSource.flags``)

    @property
    def truncated(self) -> bool:
        return self.page_count > len(self.pages)

    @property
    def status(self) -> str:
        """"ok" when every page was read; "partial" when a page failed, a page with ink gave no text, or the
        page cap cut the document."""
        if self.truncated or any(page.status in ("failed", "no_text_found") for page in self.pages):
            return "partial"
        return "ok"

    @property
    def text(self) -> str:
        """All pages' text, pages separated by a form feed."""
        return "\f".join(page.text for page in self.pages)


@dataclass(frozen=True)
class DocumentHandedOn:
    """A document split into page-range tasks (``s3ocr.fanout``): its outputs come when its last range is read."""

    source: DocumentRef
    ranges: int
    pages: int


@dataclass(frozen=True)
class DocumentFailure:
    """A document that could not be read: written as ``<key>.error.json`` instead of the text."""

    source: DocumentRef
    reason: str
    error_type: str
    message: str
    timings: dict[str, float] = field(default_factory=dict)


# A word read with less confidence than this is more likely wrong than right (Tesseract's and PP-OCRv6's word
# confidences alike, on the real pages of the corpus).
LOW_CONFIDENCE = 0.6
# A document with more than this share of its words under LOW_CONFIDENCE reads poorly as a whole.
LOW_QUALITY_SHARE = 0.2


@dataclass(frozen=True)
class Quality:
    """How a document read: the signals a reviewer, a dashboard or an alarm looks at."""

    pages: int  # pages read (an empty page counts; a page the cap cut does not)
    words: int
    mean_confidence: float | None  # over every word of the document, 0..1; None when it has no words
    low_confidence_words: float | None  # the share of its words under LOW_CONFIDENCE
    no_text_pages: int  # pages with ink and no text found in any reading
    failed_pages: int
    engines: tuple[str, ...]  # the engines that read its pages (a fallback or a second opinion shows here)

    @property
    def poor(self) -> bool:
        """A page with ink and no text, a page that failed, or too many unsure words: a reading to look at."""
        return bool(self.no_text_pages or self.failed_pages
                    or (self.low_confidence_words or 0.0) > LOW_QUALITY_SHARE)


@dataclass
class QualityTally:
    """``Quality`` counted a page at a time, from results or from the pages of a ``.json`` (a document assembled
    from page ranges is never whole in memory)."""

    pages: int = 0
    words: int = 0
    confidence: float = 0.0
    low: int = 0
    no_text: int = 0
    failed: int = 0
    engines: set[str] = field(default_factory=set)

    def add(self, status: str, engine: str, confidences: Iterable[float]) -> None:
        self.pages += 1
        self.no_text += status == "no_text_found"
        self.failed += status == "failed"
        if engine:
            self.engines.add(engine)
        for confidence in confidences:
            self.words += 1
            self.confidence += confidence
            self.low += confidence < LOW_CONFIDENCE

    def add_result(self, page: PageResult) -> None:
        self.add(page.status, page.engine if page.source == "ocr" else "",
                 (word.confidence for line in page.lines for word in line.words))

    def add_document(self, page: Mapping[str, Any]) -> None:
        """A page of the ``.json`` (``sinks.formats.page_document``)."""
        self.add(page["status"], page["engine"] if page["source"] == "ocr" else "",
                 (word["confidence"] for line in page["lines"] for word in line["words"]))

    def quality(self) -> Quality:
        return Quality(pages=self.pages, words=self.words,
                       mean_confidence=round(self.confidence / self.words, 4) if self.words else None,
                       low_confidence_words=round(self.low / self.words, 4) if self.words else None,
                       no_text_pages=self.no_text, failed_pages=self.failed, engines=tuple(sorted(self.engines)))


def quality_of(result: DocumentResult) -> Quality:
    tally = QualityTally()
    for page in result.pages:
        tally.add_result(page)
    return tally.quality()
