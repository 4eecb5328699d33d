"""``auto``: the engine for a page's language comes from the measured table, and an unsure reading of a Latin
page gets the second engine's opinion."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from s3ocr.engines import ENGINES, get_engine
from s3ocr.engines.auto import MEASURED_BEST, SECOND_OPINION, AutoEngine, engine_name_for
from s3ocr.engines.base import BaseEngine, Capabilities
from s3ocr.errors import ConfigurationError
from s3ocr.models import PageImage, Recognition

PAGE = PageImage(number=1, path=Path("page.pgm"), width=10, height=10, dpi=300)


@dataclass
class Recorder(BaseEngine):
    name: str = "recorder"
    version: str = "1.0"
    confidence: float | None = 0.95
    capabilities_: Capabilities = field(default_factory=Capabilities)
    calls: list[str] = field(default_factory=list)
    prewarmed: list[tuple[str, int]] = field(default_factory=list)

    def capabilities(self, languages: str) -> Capabilities:
        return self.capabilities_

    def prewarm(self, languages: str, count: int) -> None:
        self.prewarmed.append((languages, count))

    def recognize(self, page: PageImage, languages: str, timeout: float) -> Recognition:
        self.calls.append(languages)
        return Recognition(text=f"read by {self.name}", lines=(), mean_confidence=self.confidence)


@pytest.mark.parametrize(("languages", "expected"), [
    ("chi_sim+eng", "fast"),   # the primary language decides
    ("eng+chi_sim", "tesseract"),
    ("osd+chi_sim", "fast"),   # osd is no language
    ("fra", "tesseract"),      # not in the table: Tesseract
])
def test_the_primary_language_picks_the_engine(languages, expected):
    assert engine_name_for(languages, {"chi_sim": "fast", "eng": "tesseract"}) == expected


def test_pages_go_to_the_chosen_engine_which_is_built_once_and_recorded():
    built: dict[str, Recorder] = {}

    def make(name: str) -> Recorder:
        assert name not in built, "engines are built once"
        built[name] = Recorder(name)
        return built[name]

    auto = AutoEngine(make, table={"chi_sim": "fast"}, second_opinion={})
    first = auto.recognize(PAGE, "chi_sim+eng", timeout=5)
    auto.recognize(PAGE, "chi_sim", timeout=5)
    other = auto.recognize(PAGE, "eng", timeout=5)
    assert (first.text, first.engine) == ("read by fast", "fast")
    assert other.engine == "tesseract"
    assert built["fast"].calls == ["chi_sim+eng", "chi_sim"]
    assert auto.version == "auto: fast 1.0, tesseract 1.0"


def test_the_measured_tables_name_registered_engines():
    assert set(MEASURED_BEST.values()) | set(SECOND_OPINION.values()) <= set(ENGINES)
    assert MEASURED_BEST["chi_sim"] == "rapidocr" and MEASURED_BEST["eng"] == "tesseract"
    assert get_engine("auto").name == "auto"


def test_the_chosen_engine_answers_for_its_capabilities_and_prewarming():
    # GIVEN auto over a local engine for Chinese and a cloud-like one for the rest
    local = Recorder("local", capabilities_=Capabilities(local=True, read_pitch=50.0))
    remote = Recorder("tesseract")
    auto = AutoEngine(lambda name: local if name == "local" else remote, table={"chi_sim": "local"},
                      second_opinion={})
    # WHEN asked for Chinese pages  THEN the local engine answers; for English ones, the other
    assert auto.capabilities("chi_sim+eng") == Capabilities(local=True, read_pitch=50.0)
    auto.prewarm("chi_sim+eng", 2)
    assert auto.capabilities("eng") == Capabilities()
    auto.prewarm("eng", 2)
    assert local.prewarmed == [("chi_sim+eng", 2)] and remote.prewarmed == [("eng", 2)]


def make_pair(first_confidence: float | None, second_confidence: float | None,
              second_error: Exception | None = None) -> tuple[AutoEngine, Recorder, Recorder]:
    first = Recorder("tesseract", confidence=first_confidence)
    second = Recorder("rapidocr", confidence=second_confidence, capabilities_=Capabilities(sure_confidence=0.8))
    if second_error is not None:
        def refuse(page: PageImage, languages: str, timeout: float) -> Recognition:
            raise second_error

        second.recognize = refuse  # type: ignore[method-assign]
    engines = {"tesseract": first, "rapidocr": second}
    return AutoEngine(engines.__getitem__, table={"eng": "tesseract"}, second_opinion={"eng": "rapidocr"}), \
        first, second


def test_a_sure_reading_needs_no_second_opinion():
    auto, first, second = make_pair(0.95, 0.99)
    reading = first.recognize(PAGE, "eng", 5)
    assert auto.reconsider(PAGE, "eng", 5, reading) is reading and second.calls == []


def test_an_unsure_reading_is_replaced_by_a_sure_second_opinion():
    auto, first, _ = make_pair(0.7, 0.97)
    reading = first.recognize(PAGE, "eng", 5)
    better = auto.reconsider(PAGE, "eng", 5, reading)
    assert (better.text, better.engine) == ("read by rapidocr", "rapidocr")


@pytest.mark.parametrize(("second", "error"), [(0.5, None), (0.99, ConfigurationError("does not read deu"))])
def test_an_unsure_second_opinion_or_none_leaves_the_first_reading(second, error):
    auto, first, _ = make_pair(0.7, second, error)
    reading = first.recognize(PAGE, "eng", 5)
    assert auto.reconsider(PAGE, "eng", 5, reading) is reading


def test_chinese_pages_get_no_second_opinion():
    auto, first, second = make_pair(0.2, 0.99)
    reading = first.recognize(PAGE, "chi_sim+eng", 5)
    assert auto.reconsider(PAGE, "chi_sim+eng", 5, reading) is reading and second.calls == []


def test_the_second_engine_asked_first_answers_only_when_sure():
    # GIVEN a sure second engine for English  WHEN it is asked first  THEN its reading, and the first engine idle
    auto, first, second = make_pair(0.7, 0.97)
    asked = auto.second_opinion(PAGE, "eng", 5)
    assert asked is not None and asked.sure and (asked.reading.text, asked.reading.engine) == ("read by rapidocr",
                                                                                                "rapidocr")
    assert first.calls == [] and len(second.calls) == 1


def test_an_unsure_second_reading_asked_first_says_so():
    auto, _, _ = make_pair(0.7, 0.5)
    asked = auto.second_opinion(PAGE, "eng", 5)
    assert asked is not None and not asked.sure and asked.reading.text == "read by rapidocr"


@pytest.mark.parametrize(("languages", "error"), [
    ("eng", ConfigurationError("does not read deu")),  # does not read the languages
    ("chi_sim+eng", None),  # no second engine for Chinese
])
def test_no_second_engine_is_none(languages, error):
    auto, _, _ = make_pair(0.7, 0.99, error)
    assert auto.second_opinion(PAGE, languages, 5) is None


@pytest.mark.parametrize(("second", "kept"), [(0.97, "read by rapidocr"), (0.5, "read by tesseract")])
def test_a_second_reading_asked_already_is_not_asked_again(second, kept):
    # GIVEN the second engine's reading of the page, asked first (sure, or not)
    auto, first, engine = make_pair(0.7, second)
    opinion = auto.second_opinion(PAGE, "eng", 5)
    # WHEN the first engine's unsure reading is reconsidered with it
    reading = first.recognize(PAGE, "eng", 5)
    # THEN the second engine is not asked again, and the same rule keeps one of the two
    assert auto.reconsider(PAGE, "eng", 5, reading, opinion).text == kept and len(engine.calls) == 1
