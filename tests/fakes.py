"""Fake engines, as OCRmyPDF's test suite has fake Tesseract plugins: canned text, or a chosen failure."""

from __future__ import annotations

import threading

from s3ocr.engines.base import BaseEngine, Capabilities
from s3ocr.errors import S3OcrError
from s3ocr.models import Box, Line, PageImage, Recognition, Word


class FakeEngine(BaseEngine):
    """Returns ``page <n>`` for every page, or raises ``failures[n]`` for the pages named there. A cloud
    service by default (read once, whole); ``capabilities`` makes it another kind."""

    name = "fake"
    version = "0"

    def __init__(self, failures: dict[int, S3OcrError] | None = None, text: str = "page {n}",
                 capabilities: Capabilities | None = None) -> None:
        self.failures = failures or {}
        self.text = text
        self.capabilities_ = capabilities or Capabilities()
        self.seen: list[PageImage] = []
        self._lock = threading.Lock()

    def capabilities(self, languages: str) -> Capabilities:
        return self.capabilities_

    def recognize(self, page: PageImage, languages: str, timeout: float) -> Recognition:
        with self._lock:
            self.seen.append(page)
        if page.number in self.failures:
            raise self.failures[page.number]
        text = self.text.format(n=page.number)
        word = Word(text=text, box=Box(1, 2, 3, 4), confidence=0.9)
        lines = (Line(text=text, box=Box(1, 2, 3, 4), confidence=0.9, words=(word,)),) if text else ()
        return Recognition(text=text, lines=lines, mean_confidence=0.9 if text else None)


class PrewarmedEngine(FakeEngine):
    """A fake engine that records what the pipeline asks it to get ready for (``prewarm``)."""

    def __init__(self) -> None:
        super().__init__()
        self.prewarmed: list[tuple[str, int]] = []

    def prewarm(self, languages: str, count: int) -> None:
        with self._lock:
            self.prewarmed.append((languages, count))


class FakeClock:
    """Monotonic time that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class RecordingSink:
    """A sink that writes nothing and remembers what it was asked to write, in order (``written``)."""

    def __init__(self) -> None:
        self.written: list[str] = []

    def write_result(self, result: object, formats: object = None, source: object = None) -> dict[str, str]:
        self.written.append("result")
        return {}

    def write_failure(self, failure: object) -> dict[str, str]:
        self.written.append("failure")
        return {}
