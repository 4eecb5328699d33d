"""Retry with backoff and full jitter inside a page budget: a fake clock, no real sleeping."""

from __future__ import annotations

import random

import pytest

from s3ocr.engines.retry import Backoff, Deadline, call_with_retry
from s3ocr.errors import EngineQuotaError, EngineUnavailableError
from tests.fakes import FakeClock


class Flaky:
    """Fails ``failures`` times with ``error``, then returns "ok"; records the budget it was given."""

    def __init__(self, failures: int, error: Exception | None = None) -> None:
        self.failures = failures
        self.error = error or EngineUnavailableError("busy")
        self.budgets: list[float] = []

    def __call__(self, remaining: float) -> str:
        self.budgets.append(remaining)
        if len(self.budgets) <= self.failures:
            raise self.error
        return "ok"


def test_backoff_delays_are_jittered_under_an_exponential_ceiling():
    backoff = Backoff(base=0.5, cap=4.0)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)]:
        delays = [backoff.delay(attempt, rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # full jitter uses the whole range


def test_transient_failures_are_retried_with_pauses_until_success():
    # GIVEN an operation that fails twice  WHEN it is called with retry
    clock = FakeClock()
    operation = Flaky(failures=2)
    result = call_with_retry(operation, deadline=Deadline(30, clock), backoff=Backoff(), sleep=clock.sleep,
                             rng=random.Random(1))
    # THEN it succeeds on the third attempt after two pauses, each attempt told what is left of the budget
    assert result == "ok"
    assert len(clock.sleeps) == 2
    assert operation.budgets[0] == 30
    assert operation.budgets[2] == pytest.approx(30 - sum(clock.sleeps))


def test_attempts_are_capped():
    clock = FakeClock()
    operation = Flaky(failures=100)
    with pytest.raises(EngineUnavailableError, match="gave up after 3 attempts") as raised:
        call_with_retry(operation, deadline=Deadline(1000, clock), backoff=Backoff(max_attempts=3),
                        sleep=clock.sleep)
    assert len(operation.budgets) == 3
    assert isinstance(raised.value.__cause__, EngineUnavailableError)


def test_the_budget_is_never_overrun_by_a_pause():
    # GIVEN a budget of 1 s and pauses of up to 8 s
    clock = FakeClock()
    operation = Flaky(failures=100)
    backoff = Backoff(base=8, cap=8, max_attempts=50)
    with pytest.raises(EngineUnavailableError):
        call_with_retry(operation, deadline=Deadline(1.0, clock), backoff=backoff, sleep=clock.sleep,
                        rng=random.Random(3))
    # THEN no pause ran past the deadline
    assert clock.now <= 101.0


def test_other_errors_propagate_at_once():
    clock = FakeClock()
    operation = Flaky(failures=1, error=EngineQuotaError("daily limit"))
    with pytest.raises(EngineQuotaError):
        call_with_retry(operation, deadline=Deadline(30, clock), backoff=Backoff(), sleep=clock.sleep)
    assert clock.sleeps == []


def test_the_first_attempt_runs_even_with_no_budget_left():
    clock = FakeClock()
    assert call_with_retry(Flaky(failures=0), deadline=Deadline(0, clock), backoff=Backoff(),
                           sleep=clock.sleep) == "ok"


def test_deadline_shares_what_is_left():
    clock = FakeClock()
    deadline = Deadline(10, clock)
    clock.now += 4
    assert deadline.remaining() == 6
    assert deadline.share(3) == 2
    clock.now += 10
    assert deadline.remaining() == 0 and deadline.expired
