"""The request-rate budget: token-bucket arithmetic on a fake clock, the budget every instance keeps together in
moto's in-process DynamoDB, and its configuration. Several processes sharing it through the moto server:
``test_shared_rate.py``."""

from __future__ import annotations

import botocore.exceptions
import pytest

from s3ocr.devstack.stack import JOBS_TABLE
from s3ocr.engines import ratelimit
from s3ocr.engines.ratelimit import RateLimiter, SharedRateLimiter, instance_share, limiter_for, parse_qps
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


class Share:
    """An instance's share as the fallback: records the budgets it was asked for."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    def acquire(self, budget: float) -> None:
        self.asked.append(budget)


def shared(client, clock: FakeClock, rate: float = 2.0, **options) -> SharedRateLimiter:
    return SharedRateLimiter(lambda: client, JOBS_TABLE, "baidu", rate, fallback=options.pop("fallback", Share()),
                             clock=clock, sleep=clock.sleep, **options)


def next_slot(client) -> float:
    item = client.get_item(TableName=JOBS_TABLE, Key={"pk": {"S": "rate#baidu"}}, ConsistentRead=True)["Item"]
    return float(item["next"]["N"])


def test_instances_take_their_slots_from_one_budget(dynamodb):
    # GIVEN 2 requests/s for the whole function, and two instances (each its own limiter) asking at once
    clock = FakeClock()
    first, second = shared(dynamodb, clock), shared(dynamodb, clock)
    # WHEN they take three slots each, in turn
    for _ in range(3):
        first.acquire(budget=60)
        second.acquire(budget=60)
    # THEN the six requests went half a second apart, as one instance's would (each instance with its own
    # bucket would have let two go at once), and the table holds the slot after the last
    assert clock.sleeps == pytest.approx([0.5] * 5)
    assert next_slot(dynamodb) == pytest.approx(clock.now + 0.5)
    assert first.fallback.asked == second.fallback.asked == []


def test_one_instance_alone_gets_the_whole_rate(dynamodb, monkeypatch):
    # GIVEN a budget of 4/s for a function that may run 100 instances: 0.04/s each as an equal share
    monkeypatch.setenv("OCR_ENGINE_QPS", "baidu=4")
    monkeypatch.setenv("OCR_ENGINE_INSTANCES", "5,95")
    monkeypatch.setenv("JOBS_TABLE", JOBS_TABLE)
    limiter_for.cache_clear()
    limiter = limiter_for("baidu")
    assert isinstance(limiter, SharedRateLimiter)
    clock = FakeClock()
    limiter._clock, limiter._sleep = clock, clock.sleep  # type: ignore[method-assign]
    limiter._make_client = lambda: dynamodb
    # WHEN the one running instance sends three requests  THEN a quarter second apart, not 25 s
    for _ in range(3):
        limiter.acquire(budget=10)
    assert clock.sleeps == pytest.approx([0.25, 0.25])
    assert isinstance(limiter.fallback, RateLimiter) and limiter.fallback.rate == pytest.approx(0.04)


def test_an_idle_budget_saves_up_only_its_burst(dynamodb):
    clock = FakeClock()
    limiter = shared(dynamodb, clock, rate=1.0, burst=2)
    limiter.acquire(budget=60)
    clock.now += 60
    for _ in range(4):
        limiter.acquire(budget=60)
    assert clock.sleeps == pytest.approx([1.0, 1.0])


def test_a_slot_beyond_the_budget_is_refused_and_not_taken(dynamodb):
    # GIVEN one request a second, its slot just taken by another instance
    clock = FakeClock()
    other, limiter = shared(dynamodb, clock, rate=1.0), shared(dynamodb, clock, rate=1.0)
    other.acquire(budget=10)
    taken = next_slot(dynamodb)
    # WHEN a caller with 0.2 s left asks  THEN a transient error at once, and the schedule is as it was
    with pytest.raises(EngineUnavailableError, match="1/s") as raised:
        limiter.acquire(budget=0.2)
    assert isinstance(raised.value, TransientError)
    assert clock.sleeps == [] and next_slot(dynamodb) == taken
    # AND the next caller waits 1 s, not 2
    limiter.acquire(budget=10)
    assert clock.sleeps == pytest.approx([1.0])


class RacedClient:
    """A client before whose writes another instance takes a slot, ``races`` times."""

    def __init__(self, client, rival: SharedRateLimiter, races: int) -> None:
        self.client, self.rival, self.races = client, rival, races

    def get_item(self, **kwargs):
        return self.client.get_item(**kwargs)

    def update_item(self, **kwargs):
        if self.races:
            self.races -= 1
            self.rival.acquire(budget=60)
        return self.client.update_item(**kwargs)


def test_a_slot_taken_meanwhile_by_another_instance_is_read_again(dynamodb):
    # GIVEN an instance that loses a race: between its read and its write, another instance takes the slot
    clock = FakeClock()
    rival = shared(dynamodb, clock)
    limiter = shared(RacedClient(dynamodb, rival, races=1), clock)
    # WHEN it asks  THEN it reads again and takes the slot after the rival's (half a second on), not the same one
    limiter.acquire(budget=60)
    assert clock.sleeps == pytest.approx([0.5])
    assert next_slot(dynamodb) == pytest.approx(clock.now + 0.5)
    assert limiter.fallback.asked == []


def test_an_instance_that_keeps_losing_races_keeps_to_its_share(dynamodb):
    clock = FakeClock()
    rival = shared(dynamodb, clock, rate=1000.0)
    limiter = shared(RacedClient(dynamodb, rival, races=ratelimit.SHARED_ATTEMPTS), clock, rate=1000.0)
    limiter.acquire(budget=7)
    assert limiter.fallback.asked == [7]


@pytest.mark.parametrize("failure", [
    botocore.exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:9"),
    botocore.exceptions.ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "GetItem"),
    botocore.exceptions.ClientError({"Error": {"Code": "ResourceNotFoundException"}}, "GetItem"),
])
def test_a_table_out_of_reach_leaves_the_instance_to_its_share(failure, caplog):
    # GIVEN a table that cannot be read
    class Unreachable:
        def get_item(self, **kwargs):
            raise failure

    clock = FakeClock()
    limiter = shared(Unreachable(), clock)
    # WHEN a request asks for its slot  THEN it keeps to this instance's share, and says why
    limiter.acquire(budget=5)
    assert limiter.fallback.asked == [5]
    assert "keeping to this instance's share" in caplog.text
