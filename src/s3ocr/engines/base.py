"""The contract every OCR engine satisfies.

As OCRmyPDF writes it for its engines: an engine raises only s3ocr errors, adds no parallelism of its
own (the pipeline owns concurrency) and honours the page timeout.

An engine may also set ``reads_bands = True``: the pipeline then hands it the last page of a document in
horizontal bands read at once (``s3ocr.pagesplit``). Only for engines that are local and free per call; a
cloud service would bill each band.

It may define ``read_pitch(languages) -> float | None``: the distance between text lines (px) it reads
best at; the ``auto`` recipe then scales pages of larger text down to it (``preprocess.reading_scale``).

It may define ``recognize_vertical(page, languages, timeout) -> Recognition | None``: read a page of
vertical CJK writing as it stands, or None when it has no models for that. The pipeline tries it on a page
whose lines run down the page when the reading turned a quarter is unsure.

And it may define ``prewarm(languages, count)``: called when a document's first page turns out to need OCR,
it starts (in the background, returning at once) what ``count`` pages read at once will need, so that
loading models overlaps the rendering of those pages.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from s3ocr.models import PageImage, Recognition


@runtime_checkable
class Engine(Protocol):
    name: str

    @property
    def version(self) -> str: ...

    def recognize(self, page: PageImage, languages: str, timeout: float) -> Recognition:
        """Read one page image. Raises ``PageTimeoutError``, ``PermanentError`` or ``TransientError``."""
        ...
