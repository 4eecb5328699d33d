"""The contract every OCR engine satisfies.

As OCRmyPDF writes it for its engines: an engine raises only s3ocr errors, adds no parallelism of its
own (the pipeline owns concurrency) and honours the page timeout.
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
