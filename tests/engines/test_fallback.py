"""FallbackEngine: the next engine reads on quota or outage; Recognition.engine names the reader."""

from __future__ import annotations

import pytest

from s3ocr.engines import ENGINES
from s3ocr.engines.fallback import FallbackEngine, build_engine
from s3ocr.errors import (
    ConfigurationError,
    EngineQuotaError,
    EngineUnavailableError,
    PageTimeoutError,
    RejectedInputError,
)
from tests.engines.conftest import make_baidu, make_textract
from tests.fakes import FakeEngine


def named(name: str, **options: object) -> FakeEngine:
    engine = FakeEngine(**options)  # type: ignore[arg-type]
    engine.name = name
    return engine


class BudgetRecorder(FakeEngine):
    def __init__(self, name: str, error: Exception | None = None) -> None:
        super().__init__()
        self.name, self.error, self.timeouts = name, error, []

    def recognize(self, page, languages, timeout):
        self.timeouts.append(timeout)
        if self.error:
            raise self.error
        return super().recognize(page, languages, timeout)


@pytest.mark.parametrize("error", [EngineQuotaError("daily limit"), EngineUnavailableError("throttled")])
def test_quota_or_outage_moves_the_page_to_the_next_engine(page, error):
    # GIVEN a primary out of quota (or unavailable) and a working fallback
    primary, fallback = named("baidu", failures={1: error}), named("tesseract")
    # WHEN a page is read through the chain
    result = FallbackEngine([primary, fallback]).recognize(page, "eng", timeout=60)
    # THEN the fallback read it, and the result says so
    assert result.engine == "tesseract"
    assert len(primary.seen) == len(fallback.seen) == 1


def test_a_working_primary_reads_alone(page):
    primary, fallback = named("baidu"), named("tesseract")
    assert FallbackEngine([primary, fallback]).recognize(page, "eng", timeout=60).engine == "baidu"
    assert not fallback.seen


@pytest.mark.parametrize("error", [RejectedInputError("216202"), ConfigurationError("bad key"),
                                   PageTimeoutError("slow page")])
def test_page_and_deployment_errors_do_not_fall_back(page, error):
    # GIVEN a primary failing for a reason another engine would not change
    primary, fallback = named("baidu", failures={1: error}), named("tesseract")
    with pytest.raises(type(error)):
        FallbackEngine([primary, fallback]).recognize(page, "eng", timeout=60)
    assert not fallback.seen


def test_when_every_engine_fails_the_last_error_is_raised(page):
    chain = FallbackEngine([named("baidu", failures={1: EngineUnavailableError("down")}),
                            named("textract", failures={1: EngineQuotaError("limit")})])
    with pytest.raises(EngineQuotaError):
        chain.recognize(page, "eng", timeout=60)


def test_each_engine_gets_a_share_of_what_is_left_and_the_last_gets_the_rest(page):
    # GIVEN three engines, the first two failing at once
    first = BudgetRecorder("baidu", EngineUnavailableError("down"))
    second = BudgetRecorder("textract", EngineUnavailableError("down"))
    third = BudgetRecorder("tesseract")
    # WHEN a page with a 90 s budget is read
    FallbackEngine([first, second, third]).recognize(page, "eng", timeout=90)
    # THEN 90/3 for the first, half of what is left for the second, all that is left for the last: a
    # primary retrying an outage cannot starve its fallbacks, and time it did not use is passed on
    assert first.timeouts[0] == pytest.approx(30, abs=0.5)
    assert second.timeouts[0] == pytest.approx(45, abs=0.5)
    assert third.timeouts[0] == pytest.approx(90, abs=0.5)


def test_name_and_version_describe_the_chain():
    chain = FallbackEngine([named("baidu"), named("tesseract")])
    assert chain.name == "baidu>tesseract"
    assert chain.version == "baidu 0; tesseract 0"


def test_baidu_out_of_quota_falls_back_to_textract_over_http(baidu_fake, textract_fake, page):
    # GIVEN the real engines against their fakes, Baidu's daily quota used up
    baidu_fake.fail_next(17, times=100)
    chain = FallbackEngine([make_baidu(baidu_fake), make_textract()])
    # WHEN a page is read  THEN Textract read it, and the page records that
    result = chain.recognize(page, "eng", timeout=60)
    assert result.engine == "textract"
    assert "LinnSequencer" in result.text
    assert len(baidu_fake.ocr_requests) == 1 and len(textract_fake.ocr_requests) == 1


def test_build_engine_from_registry_names(monkeypatch):
    monkeypatch.setitem(ENGINES, "baidu", lambda: named("baidu"))
    monkeypatch.setitem(ENGINES, "textract", lambda: named("textract"))
    assert build_engine("baidu", []).name == "baidu"  # no fallbacks: the bare engine
    chain = build_engine("baidu", ["textract", "baidu", " "])
    assert isinstance(chain, FallbackEngine)
    assert [e.name for e in chain.engines] == ["baidu", "textract"]
    with pytest.raises(ConfigurationError):
        build_engine("baidu", ["nope"])
    with pytest.raises(ConfigurationError):
        FallbackEngine([])
