"""``auto``: read each page with the local engine that measured best for its language.

The choice is data, taken from ``make bench-accuracy`` on ``../shared/corpus/generated`` and pages generated in
unseen fonts (the README's accuracy table): with s3ocr's preprocessing in front of both, Tesseract beat
RapidOCR on mean CER in Chinese (0.028 against 0.155; on every kind but salt-and-pepper and the quarter
turn) and on every kind in English (0.002 against 0.182), at a fifth of the time per page. So today every
entry names Tesseract; when a model or a preprocessing change turns a measurement around, the entry changes
here and the README table with it.

A language with no entry is read by Tesseract, which has data for over 100 languages. The primary (first)
language of ``OCR_LANGUAGES`` decides: ``chi_sim+eng`` is a Chinese page with some Latin text.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace

from s3ocr.engines.base import Engine
from s3ocr.models import PageImage, Recognition

# primary language -> engine name, from the measurement described above
MEASURED_BEST: Mapping[str, str] = {"chi_sim": "tesseract", "eng": "tesseract"}
DEFAULT_ENGINE = "tesseract"


def engine_name_for(languages: str, table: Mapping[str, str] = MEASURED_BEST) -> str:
    primary = next((code for code in languages.split("+") if code and code != "osd"), "")
    return table.get(primary, DEFAULT_ENGINE)


class AutoEngine:
    name = "auto"
    # Local and free per call: the pipeline may read a page in bands at once (see s3ocr.pagesplit).
    reads_bands = True

    def __init__(self, make: Callable[[str], Engine] | None = None,
                 table: Mapping[str, str] = MEASURED_BEST) -> None:
        if make is None:
            from s3ocr.engines import get_engine  # the registry lists this module: import it late

            make = get_engine
        self._make: Callable[[str], Engine] = make
        self._table = table
        self._engines: dict[str, Engine] = {}
        self._lock = threading.Lock()

    def _engine(self, name: str) -> Engine:
        with self._lock:
            if name not in self._engines:
                self._engines[name] = self._make(name)
            return self._engines[name]

    def engine_for(self, languages: str) -> Engine:
        return self._engine(engine_name_for(languages, self._table))

    @functools.cached_property
    def version(self) -> str:
        names = sorted({*self._table.values(), DEFAULT_ENGINE})
        return "auto: " + ", ".join(f"{name} {self._engine(name).version}" for name in names)

    def read_pitch(self, languages: str) -> float | None:
        read_pitch = getattr(self.engine_for(languages), "read_pitch", None)
        return read_pitch(languages) if read_pitch is not None else None

    def prewarm(self, languages: str, count: int) -> None:
        prewarm = getattr(self.engine_for(languages), "prewarm", None)
        if prewarm is not None:
            prewarm(languages, count)

    def recognize_vertical(self, page: PageImage, languages: str, timeout: float) -> Recognition | None:
        engine = self.engine_for(languages)
        read_vertical = getattr(engine, "recognize_vertical", None)
        result = read_vertical(page, languages, timeout) if read_vertical is not None else None
        return replace(result, engine=result.engine or engine.name) if result is not None else None

    def recognize(self, page: PageImage, languages: str, timeout: float) -> Recognition:
        engine = self.engine_for(languages)
        result = engine.recognize(page, languages, timeout)
        return replace(result, engine=result.engine or engine.name)
