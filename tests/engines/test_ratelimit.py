"""The request-rate budget: token-bucket arithmetic on a fake clock, and its configuration."""

from __future__ import annotations

import pytest

from s3ocr.engines.ratelimit import RateLimiter, instance_share, limiter_for, parse_qps
from s3ocr.errors import ConfigurationError, EngineUnavailableError, TransientError
from tests.fakes import FakeClock


def test_requests_at_once_are_spaced_one_interval_apart():
    # GIVEN 2 requests/s and five callers arriving at the same moment
    clock = FakeClock()
    limiter = RateLimiter(2.0, clock=clock, sleep=clock.sleep)
    # WHEN each takes its slot  THEN the first goes at once and each next one 0.5 s after the one before
    for _ in range(5):
        limiter.acquire(budget=60)
    assert clock.sleeps == pytest.approx([0.5, 0.5, 0.5, 0.5])


def test_an_idle_limiter_saves_up_only_its_burst():
    # GIVEN a limiter idle for a minute
    clock = FakeClock()
    limiter = RateLimiter(1.0, burst=2, clock=clock, sleep=clock.sleep)
    clock.now += 60
    # WHEN four requests come  THEN two go at once (the burst), the others at the rate
    for _ in range(4):
        limiter.acquire(budget=60)
    assert clock.sleeps == pytest.approx([1.0, 1.0])


def test_a_slot_beyond_the_budget_is_refused_and_handed_back():
    # GIVEN one request a second, its slot just taken
    clock = FakeClock()
    limiter = RateLimiter(1.0, clock=clock, sleep=clock.sleep)
    limiter.acquire(budget=10)
    # WHEN a caller with 0.2 s left asks  THEN a transient error, without waiting
    with pytest.raises(EngineUnavailableError, match="1/s") as raised:
        limiter.acquire(budget=0.2)
    assert isinstance(raised.value, TransientError)
    assert clock.sleeps == []
    # AND the refused slot went back: the next caller waits 1 s, not 2
    limiter.acquire(budget=10)
    assert clock.sleeps == pytest.approx([1.0])


@pytest.mark.parametrize(("value", "expected"), [
    ("", {}),
    ("2", {"*": 2.0}),
    ("baidu=2, tencent-accurate=10", {"baidu": 2.0, "tencent-accurate": 10.0}),
    ("0.5,textract=5", {"*": 0.5, "textract": 5.0}),
])
def test_qps_setting_forms(value, expected):
    assert parse_qps(value) == expected


@pytest.mark.parametrize("value", ["fast", "baidu=", "=2", "baidu=-1"])
def test_a_bad_qps_setting_is_a_configuration_error(value):
    with pytest.raises(ConfigurationError, match="OCR_ENGINE_QPS"):
        parse_qps(value)


def test_each_instance_gets_an_equal_share():
    assert instance_share(10.0, "5") == 2.0
    assert instance_share(10.0, "") == 10.0
    assert instance_share(11.0, "10,1") == 1.0  # the event queue's instances and the page-range tasks' share it
    with pytest.raises(ConfigurationError, match="OCR_ENGINE_INSTANCES"):
        instance_share(10.0, "many")


def test_limiters_come_from_the_environment_by_engine_name(monkeypatch):
    # GIVEN a function-wide budget of 10/s for Baidu and 3/s for any other engine, over 5 instances
    monkeypatch.setenv("OCR_ENGINE_QPS", "baidu=10,3")
    monkeypatch.setenv("OCR_ENGINE_INSTANCES", "5")
    limiter_for.cache_clear()
    # WHEN the limiters are asked for  THEN each has this instance's share, one per engine per process
    baidu = limiter_for("baidu")
    assert baidu is not None and baidu.rate == 2.0
    textract = limiter_for("textract")
    assert textract is not None and textract.rate == pytest.approx(0.6)
    assert limiter_for("baidu") is baidu


def test_no_setting_means_no_limiter(monkeypatch):
    monkeypatch.setenv("OCR_ENGINE_QPS", "baidu=0")
    limiter_for.cache_clear()
    assert limiter_for("baidu") is None
    assert limiter_for("tencent") is None
