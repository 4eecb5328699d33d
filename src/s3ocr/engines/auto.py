"""``auto``: read each page with the local engine that measured best for its language, and ask the other for a
second opinion where that measured better.

The choice is data, from ``make bench-accuracy`` on the real pages of ``../shared/corpus/real`` first and the
rendered pages second (the README's accuracy tables):

- Chinese: PP-OCRv6 (``rapidocr``). On the real Chinese pages it reads nearly every character Tesseract's
  ``chi_sim`` misses (bag-of-characters F1 0.99 against 0.77), in no more CPU time; on the rendered pages
  both are near perfect.
- English: Tesseract, which reads clean scans as well at a third of the time, with PP-OCRv6's second opinion
  on the pages Tesseract reads unsure (``SECOND_OPINION_BELOW``): forms, receipts, faxes, where PP-OCRv6
  reads better.
A language with no entry is read by Tesseract, which has data for over 100 languages. The primary (first)
language of ``OCR_LANGUAGES`` decides: ``chi_sim+eng`` is a Chinese page with some Latin text.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace

from s3ocr.engines.base import Capabilities, Engine, Opinion
from s3ocr.errors import ConfigurationError
from s3ocr.models import PageImage, Recognition

# primary language -> engine name, from the measurement described above
MEASURED_BEST: Mapping[str, str] = {"chi_sim": "rapidocr", "eng": "tesseract"}
# primary language -> the engine whose reading replaces an unsure one of the first engine's
SECOND_OPINION: Mapping[str, str] = {"eng": "rapidocr"}
# Tesseract's readings of the real English pages: 0.93-0.96 mean word confidence on clean scans, where it
# reads as well as PP-OCRv6; 0.66-0.84 on the forms and receipts, where PP-OCRv6 reads better.
SECOND_OPINION_BELOW = 0.9
DEFAULT_ENGINE = "tesseract"


def primary_language(languages: str) -> str:
    return next((code for code in languages.split("+") if code and code != "osd"), "")


def engine_name_for(languages: str, table: Mapping[str, str] = MEASURED_BEST) -> str:
    return table.get(primary_language(languages), DEFAULT_ENGINE)


class AutoEngine:
    """Every method of the ``Engine`` protocol is written out here, none inherited, so mypy sees one forgotten."""

    name = "auto"

    def __init__(self, make: Callable[[str], Engine] | None = None,
                 table: Mapping[str, str] = MEASURED_BEST,
                 second_opinion: Mapping[str, str] = SECOND_OPINION) -> None:
        if make is None:
            from s3ocr.engines import get_engine  # the registry lists this module: import it late

            make = get_engine
        self._make: Callable[[str], Engine] = make
        self._table = table
        self._second_opinion = second_opinion
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
        names = sorted({*self._table.values(), *self._second_opinion.values(), DEFAULT_ENGINE})
        return "auto: " + ", ".join(f"{name} {self._engine(name).version}" for name in names)

    def capabilities(self, languages: str) -> Capabilities:
        return self.engine_for(languages).capabilities(languages)

    def prewarm(self, languages: str, count: int) -> None:
        self.engine_for(languages).prewarm(languages, count)

    def recognize(self, page: PageImage, languages: str, timeout: float) -> Recognition:
        engine = self.engine_for(languages)
        result = engine.recognize(page, languages, timeout)
        return replace(result, engine=result.engine or engine.name)

    def recognize_vertical(self, page: PageImage, languages: str, timeout: float) -> Recognition:
        engine = self.engine_for(languages)
        result = engine.recognize_vertical(page, languages, timeout)
        return replace(result, engine=result.engine or engine.name)

    def reconsider(self, page: PageImage, languages: str, timeout: float, reading: Recognition,
                   opinion: Opinion | None = None) -> Recognition:
        """The second engine's reading of ``page`` when the first's is less sure than ``SECOND_OPINION_BELOW``
        (or empty) and the second's is sure (or the first's empty); else ``reading``. ``opinion``: that reading,
        when the second engine was asked already."""
        if reading.text.strip() and (reading.mean_confidence or 0.0) >= SECOND_OPINION_BELOW:
            return reading
        asked = opinion if opinion is not None else self.second_opinion(page, languages, timeout)
        if asked is None:
            return reading
        return asked.reading if asked.reading.text.strip() and (asked.sure or not reading.text.strip()) else reading

    def second_opinion(self, page: PageImage, languages: str, timeout: float) -> Opinion | None:
        """The second engine's reading of ``page`` and whether it is sure (with text); ``None`` when
        ``languages`` have no second engine, or it does not read them."""
        name = self._second_opinion.get(primary_language(languages))
        if name is None:
            return None
        other = self._engine(name)
        try:
            second = other.recognize(page, languages, timeout)
        except ConfigurationError:  # it does not read these languages: the first reading stands
            return None
        sure = (second.mean_confidence or 0.0) >= other.capabilities(languages).sure_confidence
        return Opinion(replace(second, engine=second.engine or other.name), sure and bool(second.text.strip()))
