"""A request-rate budget for the cloud engines: a token bucket per engine, per process.

Each service limits requests per second per account (Baidu's free tier: 2 QPS per API; Tencent and
Alibaba: 10-20 QPS by default). A Lambda function must stay under that limit across all its running
instances. The queue's ``MaximumConcurrency`` bounds how many instances run at once, so each instance gets
an equal share: ``OCR_ENGINE_QPS / OCR_ENGINE_INSTANCES`` requests per second, shared by the threads that
read its pages. The template sets both from its parameters.

``OCR_ENGINE_QPS`` is a number for every cloud engine (``2``) or a list by engine name
(``baidu=2,baidu-accurate=2,tencent=10``); unset or 0 means no limit. Each retry is a request too, so every
attempt takes a token. A page that cannot get a token within its time budget fails as transient (the queue
retries the document later), never by overrunning the budget.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable

from s3ocr.errors import ConfigurationError, EngineUnavailableError

QPS_ENV = "OCR_ENGINE_QPS"
INSTANCES_ENV = "OCR_ENGINE_INSTANCES"


class RateLimiter:
    """Token bucket: ``rate`` tokens a second, at most ``burst`` saved up. Thread-safe."""

    def __init__(self, rate: float, burst: float = 1.0, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = max(1.0, burst)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = self.burst
        self._updated = clock()

    def _reserve(self) -> float:
        """Take a token now, possibly going into debt; returns how long the caller must wait for it."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= 1
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def _cancel(self) -> None:
        with self._lock:
            self._tokens += 1

    def acquire(self, budget: float) -> None:
        """Wait for a token, at most ``budget`` seconds. Raises ``EngineUnavailableError`` when the wait
        would not fit the budget (the token is handed back: nobody else waits for it)."""
        wait = self._reserve()
        if wait > budget:
            self._cancel()
            raise EngineUnavailableError(
                f"request-rate budget of {self.rate:g}/s: the next slot is {wait:.1f} s away, "
                f"more than the {max(0.0, budget):.1f} s left for this page")
        if wait > 0:
            self._sleep(wait)


def parse_qps(value: str) -> dict[str, float]:
    """``OCR_ENGINE_QPS`` as ``{engine name or "*": requests per second}``."""
    value = value.strip()
    if not value:
        return {}
    rates: dict[str, float] = {}
    for item in value.split(","):
        name, sep, number = item.strip().rpartition("=")
        key = name.strip() if sep else "*"
        try:
            rate = float(number)
        except ValueError as e:
            raise ConfigurationError(f"{QPS_ENV}: {item.strip()!r} is not a rate (use 2 or baidu=2,tencent=10)") \
                from e
        if rate < 0 or not key:
            raise ConfigurationError(f"{QPS_ENV}: {item.strip()!r} is not a rate (use 2 or baidu=2,tencent=10)")
        rates[key] = rate
    return rates


def instance_share(rate: float, instances: str) -> float:
    """This instance's share of a function-wide ``rate`` when ``instances`` instances may run at once: a whole
    number, or several added up (``10,100``: the event queue's instances and the page-range tasks', which share
    the one budget)."""
    try:
        count = sum(int(part) for part in (instances or "1").split(","))
    except ValueError as e:
        raise ConfigurationError(f"{INSTANCES_ENV}: {instances!r} is not a whole number or a list of them") from e
    return rate / max(1, count)


@functools.cache
def limiter_for(engine: str) -> RateLimiter | None:
    """The process-wide limiter of ``engine`` from the environment, or ``None`` when it has no limit."""
    rates = parse_qps(os.environ.get(QPS_ENV, ""))
    rate = rates.get(engine, rates.get("*", 0.0))
    if rate <= 0:
        return None
    return RateLimiter(instance_share(rate, os.environ.get(INSTANCES_ENV, "1")))
