"""The contract every OCR engine satisfies, and what an engine declares it can do.

As OCRmyPDF writes it for its engines: an engine raises only s3ocr errors, adds no parallelism of its
own (the pipeline owns concurrency) and honours the page timeout.

Everything the pipeline may ask of an engine beyond ``recognize`` is declared here, in the ``Engine``
protocol, with a default in ``BaseEngine``: wrappers (``auto``, a fallback chain) forward each of them and
mypy checks that they do, so no capability is found by ``getattr`` or lost by a wrapper.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from s3ocr.models import PageImage, Recognition


@dataclass(frozen=True)
class Capabilities:
    """What an engine can do for pages in some languages, beyond reading a page once.

    ``local``: it runs here and costs nothing per call, so a page may be read more than once to check the
    pipeline's guesses about it (other ways up, as it came) and the last page of a document in bands, all
    cores at once. A cloud service bills every call: it reads each page once, whole.

    ``read_pitch``: the distance between text lines (px) it reads best at; pages of larger text are scaled
    down to it. None: pages are read at the size they were rendered at.

    ``sure_confidence``: the mean word confidence (0-1) from which a reading is taken as it is. A reading less
    sure than this, or empty while the page has ink, makes the pipeline check its guesses (for a local
    engine). Upright pages read by each engine score above it, upside-down or sideways ones below.

    ``reads_uneven_light``: it reads a page under a shadow or on a tinted background as well as an evenly lit
    one, so the page's background is not divided out for it (a neural detector; Tesseract binarises the
    whole page with one threshold and needs it).

    ``min_pitch``: lines closer than this (px) it reads mostly unsure, and worse than an engine that scales every
    line up to its own height: where there is a second opinion (``Engine.second_opinion``, under ``auto``), a
    page of such small text asks it first, and this engine reads only a page whose second reading is not sure.
    None: no such limit.
    """

    local: bool = False
    read_pitch: float | None = None
    sure_confidence: float = 0.6
    reads_uneven_light: bool = False
    min_pitch: float | None = None


@dataclass(frozen=True)
class Opinion:
    """A second engine's reading of a page (``Engine.second_opinion``), and whether it is sure of it: at least its
    own ``sure_confidence``, with text."""

    reading: Recognition
    sure: bool


@runtime_checkable
class Engine(Protocol):
    name: str

    @property
    def version(self) -> str: ...

    def capabilities(self, languages: str) -> Capabilities:
        """What the engine can do for pages in ``languages``."""
        ...

    def prewarm(self, languages: str, count: int) -> None:
        """Get ready, in the background and returning at once, for ``count`` pages read at once: called when a
        document's first page turns out to need OCR, so that loading models overlaps rendering."""
        ...

    def recognize(self, page: PageImage, languages: str, timeout: float) -> Recognition:
        """Read one page image. Raises ``PageTimeoutError``, ``PermanentError`` or ``TransientError``."""
        ...

    def recognize_vertical(self, page: PageImage, languages: str, timeout: float) -> Recognition:
        """Read a page of vertical CJK writing as it stands (columns top to bottom, right to left)."""
        ...

    def reconsider(self, page: PageImage, languages: str, timeout: float, reading: Recognition,
                   opinion: Opinion | None = None) -> Recognition:
        """A second opinion on an unsure ``reading`` of ``page``: a better reading, or ``reading`` itself.
        ``opinion``: the second engine's reading of this same page image in these languages, asked already
        (``second_opinion``), which is then not asked for again."""
        ...

    def second_opinion(self, page: PageImage, languages: str, timeout: float) -> Opinion | None:
        """The reading of ``page`` by the engine ``reconsider`` would ask, and whether it is sure; ``None`` when
        there is no such engine for ``languages``. Asked before any first reading of a page that is expected
        to be replaced (``reading.DocumentWriting``, ``Capabilities.min_pitch``)."""
        ...


class BaseEngine:
    """Defaults for what an engine need not do: no capabilities beyond reading, nothing to prewarm, vertical
    writing read as any page, no second opinion."""

    name = "engine"

    def capabilities(self, languages: str) -> Capabilities:
        return Capabilities()

    def prewarm(self, languages: str, count: int) -> None:
        return None

    def recognize(self, page: PageImage, languages: str, timeout: float) -> Recognition:
        raise NotImplementedError

    def recognize_vertical(self, page: PageImage, languages: str, timeout: float) -> Recognition:
        return self.recognize(page, languages, timeout)

    def reconsider(self, page: PageImage, languages: str, timeout: float, reading: Recognition,
                   opinion: Opinion | None = None) -> Recognition:
        return reading

    def second_opinion(self, page: PageImage, languages: str, timeout: float) -> Opinion | None:
        return None
