"""``auto``: the engine for a page's language comes from the measured table."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from s3ocr.engines import ENGINES, get_engine
from s3ocr.engines.auto import MEASURED_BEST, AutoEngine, engine_name_for
from s3ocr.models import PageImage, Recognition

PAGE = PageImage(number=1, path=Path("page.pgm"), width=10, height=10, dpi=300)


@dataclass
class Recorder:
    name: str
    version: str = "1.0"
    calls: list[str] = field(default_factory=list)

    def recognize(self, page: PageImage, languages: str, timeout: float) -> Recognition:
        self.calls.append(languages)
        return Recognition(text=f"read by {self.name}", lines=(), mean_confidence=None)


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

    auto = AutoEngine(make, table={"chi_sim": "fast"})
    first = auto.recognize(PAGE, "chi_sim+eng", timeout=5)
    auto.recognize(PAGE, "chi_sim", timeout=5)
    other = auto.recognize(PAGE, "eng", timeout=5)
    assert (first.text, first.engine) == ("read by fast", "fast")
    assert other.engine == "tesseract"
    assert built["fast"].calls == ["chi_sim+eng", "chi_sim"]
    assert auto.version == "auto: fast 1.0, tesseract 1.0"


def test_the_measured_table_names_registered_engines():
    assert set(MEASURED_BEST.values()) <= set(ENGINES)
    assert get_engine("auto").name == "auto"


def test_the_chosen_engine_answers_for_its_reading_pitch_and_prewarming():
    # GIVEN auto over an engine that reads at 50 px and prewarms, and one that does neither
    @dataclass
    class Local(Recorder):
        prewarmed: list[tuple[str, int]] = field(default_factory=list)

        def read_pitch(self, languages: str) -> float:
            return 50.0

        def prewarm(self, languages: str, count: int) -> None:
            self.prewarmed.append((languages, count))

    local = Local("local")
    auto = AutoEngine(lambda name: local if name == "local" else Recorder(name), table={"chi_sim": "local"})
    # WHEN asked for Chinese pages  THEN the local engine answers; for English ones, nothing is asked of it
    assert auto.read_pitch("chi_sim+eng") == 50.0
    auto.prewarm("chi_sim+eng", 2)
    assert auto.read_pitch("eng") is None
    auto.prewarm("eng", 2)
    assert local.prewarmed == [("chi_sim+eng", 2)]
