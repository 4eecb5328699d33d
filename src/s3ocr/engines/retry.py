"""Retry with backoff and full jitter inside one page's time budget, shared by the cloud engines.

The page ``timeout`` handed to ``Engine.recognize`` is the whole budget: every attempt and every pause
comes out of it, so a throttled service can never hold a page longer than the pipeline allowed.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from s3ocr.engines.ratelimit import Limiter
from s3ocr.errors import EngineUnavailableError

T = TypeVar("T")


class Deadline:
    """A point in time, ``seconds`` from now, on the monotonic clock."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.seconds = seconds
        self._end = clock() + seconds

    def remaining(self) -> float:
        return max(0.0, self._end - self._clock())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def share(self, parts: int) -> float:
        """An equal share of what is left, split between ``parts`` consumers (at least 1)."""
        return self.remaining() / max(1, parts)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter").

    Full jitter spreads the retries of many Lambda instances throttled at the same moment, which plain
    exponential backoff would send back in lockstep.
    """

    base: float = 0.5
    cap: float = 8.0
    max_attempts: int = 5
    # Below this much budget an attempt cannot finish a request to a remote service: give up instead.
    min_attempt_time: float = 0.05

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """The pause before retry number ``attempt`` (1-based)."""
        ceiling = min(self.cap, self.base * 2 ** (attempt - 1))
        return (rng or _RNG).uniform(0, ceiling)


_RNG = random.Random()

# Tests pass a Backoff like this one so a retry costs milliseconds, not seconds.
FAST_BACKOFF = Backoff(base=0.001, cap=0.004, max_attempts=4, min_attempt_time=0.0)


def call_with_retry(
    attempt: Callable[[float], T],
    *,
    deadline: Deadline,
    backoff: Backoff,
    retry_on: tuple[type[BaseException], ...] = (EngineUnavailableError,),
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    limiter: Limiter | None = None,
) -> T:
    """Call ``attempt(seconds_left)`` until it returns, retrying ``retry_on`` errors within the deadline.

    ``attempt`` gets the remaining budget so it can bound its own request. The first attempt always runs.
    When the attempts or the budget run out, the last error is raised as an ``EngineUnavailableError``
    (a transient failure: the queue retries the document later). Any other error propagates at once.

    With a ``limiter``, every attempt first waits for its request slot, within the budget (a slot that
    does not come in time is an ``EngineUnavailableError`` at once: waiting again would not help).
    """
    number = 1
    while True:
        if limiter is not None:
            limiter.acquire(deadline.remaining() - backoff.min_attempt_time)
        try:
            return attempt(deadline.remaining())
        except retry_on as e:
            pause = backoff.delay(number, rng)
            left = deadline.remaining() - pause
            if number >= backoff.max_attempts or left <= backoff.min_attempt_time:
                raise EngineUnavailableError(
                    f"{e} (gave up after {number} attempt{'s' if number > 1 else ''} "
                    f"in a {deadline.seconds:g} s budget)"
                ) from e
            sleep(pause)
            number += 1
