"""A request-rate budget for the cloud engines, kept by every instance of the function together.

Each service limits requests per second per account (Baidu's free tier: 2 QPS per API; Tencent and
Alibaba: 10-20 QPS by default). A Lambda function must stay under that limit across all its running
instances, however many run.

With the jobs table (``JOBS_TABLE``), the budget is kept there: one item per engine (``rate#<engine>``) holds
the time the next request may go, and every instance takes its slot from it (``SharedRateLimiter``). One
instance alone gets the whole rate; a hundred share it. Without the table, or while the table cannot be
reached, each instance keeps to an equal share instead: ``OCR_ENGINE_QPS / OCR_ENGINE_INSTANCES`` requests per
second (``RateLimiter``), the bound of the most instances the event sources may run at once. The template sets
all three.

``OCR_ENGINE_QPS`` is a number for every cloud engine (``2``) or a list by engine name
(``baidu=2,baidu-accurate=2,tencent=10``); unset or 0 means no limit. Each retry is a request too, so every
attempt takes a slot. A page that cannot get a slot within its time budget fails as transient (the queue
retries the document later), never by overrunning the budget.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from s3ocr.errors import ConfigurationError, EngineUnavailableError, aws_error_code

QPS_ENV = "OCR_ENGINE_QPS"
INSTANCES_ENV = "OCR_ENGINE_INSTANCES"
TABLE_ENV = "JOBS_TABLE"
# A shared slot is taken by reading the engine's item and writing it back on condition that nobody else did
# meanwhile; after this many lost races in a row the request keeps to the instance's share instead.
SHARED_ATTEMPTS = 8
KEEP_SECONDS = 24 * 3600  # an engine's item outlives its last request by this (the table's TTL)

logger = logging.getLogger(__name__)


class Limiter(Protocol):
    def acquire(self, budget: float) -> None:
        """Wait for the next request's slot, at most ``budget`` seconds, or raise ``EngineUnavailableError``."""


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
            raise _beyond_budget(self.rate, wait, budget)
        if wait > 0:
            self._sleep(wait)


def _beyond_budget(rate: float, wait: float, budget: float) -> EngineUnavailableError:
    return EngineUnavailableError(f"request-rate budget of {rate:g}/s: the next slot is {wait:.1f} s away, "
                                  f"more than the {max(0.0, budget):.1f} s left for this page")


class _Taken(Exception):
    """Another instance took the slot read: read again."""


class SharedRateLimiter:
    """``rate`` requests a second for every instance together, kept in the jobs table.

    The engine's item holds ``next``: the time (epoch seconds) at which the slot after the last one taken
    begins, as in the generic cell rate algorithm. A request reads it, takes the slot ``max(now, next -
    (burst - 1) / rate)`` and writes ``max(next, now) + 1 / rate`` back, on condition that ``next`` is still
    what it read; when another instance wrote first, it reads again. Only a slot within the budget is taken,
    so a refused request leaves no hole in the schedule. The instances' clocks are the time (Lambda keeps
    them synchronised). A request the table cannot serve (unreachable, throttled, or lost races
    ``SHARED_ATTEMPTS`` times in a row) keeps to ``fallback``, the instance's equal share, instead."""

    def __init__(self, client: Callable[[], Any], table: str, engine: str, rate: float, fallback: Limiter,
                 burst: float = 1.0, *, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self._make_client, self.table, self.engine, self.rate = client, table, engine, rate
        self.fallback = fallback
        self.interval = 1.0 / rate
        self.tolerance = (max(1.0, burst) - 1.0) * self.interval
        self._clock, self._sleep = clock, sleep
        self._client: Any = None
        # The threads of one instance take their slots one at a time: they would only lose races to each other.
        self._lock = threading.Lock()

    @property
    def key(self) -> dict[str, dict[str, str]]:
        return {"pk": {"S": f"rate#{self.engine}"}}

    def acquire(self, budget: float) -> None:
        import botocore.exceptions

        try:
            with self._lock:
                wait = self._take(budget)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            logger.warning("the shared request-rate budget of %s is out of reach (%s): keeping to this "
                           "instance's share", self.engine, aws_error_code(e) or type(e).__name__)
            self.fallback.acquire(budget)
            return
        if wait is None:
            self.fallback.acquire(budget)
            return
        if wait > 0:
            self._sleep(wait)

    def _take(self, budget: float) -> float | None:
        """Take a slot within ``budget`` and return how long until it begins; None after too many lost races."""
        if self._client is None:
            self._client = self._make_client()
        for _ in range(SHARED_ATTEMPTS):
            item = self._client.get_item(TableName=self.table, Key=self.key, ConsistentRead=True).get("Item") or {}
            seen = item.get("next", {}).get("N")
            now = self._clock()
            following = max(float(seen) if seen is not None else now, now)
            wait = max(0.0, following - self.tolerance - now)
            if wait > budget:
                raise _beyond_budget(self.rate, wait, budget)
            try:
                self._write(seen, following + self.interval, now)
            except _Taken:
                continue
            return wait
        return None

    def _write(self, seen: str | None, following: float, now: float) -> None:
        import botocore.exceptions

        values = {":next": {"N": f"{following:.6f}"}, ":expires": {"N": str(int(now + KEEP_SECONDS))}}
        if seen is None:
            condition = "attribute_not_exists(#n)"
        else:
            condition = "#n = :seen"
            values[":seen"] = {"N": seen}
        try:
            self._client.update_item(TableName=self.table, Key=self.key, UpdateExpression="SET #n = :next, "
                                     "expires_at = :expires", ConditionExpression=condition,
                                     ExpressionAttributeNames={"#n": "next"}, ExpressionAttributeValues=values)
        except botocore.exceptions.ClientError as e:
            if aws_error_code(e) == "ConditionalCheckFailedException":
                raise _Taken from e
            raise


def dynamodb_client() -> Any:
    """A DynamoDB client of its own (a session per client: clients are made in any thread), quick to give up:
    a slot that cannot be had in a few seconds is taken from the instance's share instead."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client("dynamodb", config=Config(
        connect_timeout=2, read_timeout=3, retries={"max_attempts": 2, "mode": "standard"}))


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
def limiter_for(engine: str) -> Limiter | None:
    """The process-wide limiter of ``engine`` from the environment, or ``None`` when it has no limit: shared in
    the jobs table when there is one, else the instance's share."""
    rates = parse_qps(os.environ.get(QPS_ENV, ""))
    rate = rates.get(engine, rates.get("*", 0.0))
    if rate <= 0:
        return None
    share = RateLimiter(instance_share(rate, os.environ.get(INSTANCES_ENV, "1")))
    table = os.environ.get(TABLE_ENV, "").strip()
    if not table:
        return share
    return SharedRateLimiter(dynamodb_client, table, engine, rate, fallback=share)
