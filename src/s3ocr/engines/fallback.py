"""An engine that reads with the first of a chain that can: the next one takes over on quota or outage.

Only ``EngineQuotaError`` and ``EngineUnavailableError`` move a page down the chain: they say the
service cannot read *now*. A rejected page, a configuration error or a page timeout says something about
the page or the deployment that another engine would not change, so it propagates as it is.

Each engine but the last gets an equal share of what is left of the page budget, so a primary that
spends its share retrying an outage cannot starve its fallbacks; the last engine gets all that is left.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace

from s3ocr.engines.base import Capabilities, Engine, Opinion
from s3ocr.engines.retry import Deadline
from s3ocr.errors import ConfigurationError, EngineQuotaError, EngineUnavailableError
from s3ocr.models import PageImage, Recognition

logger = logging.getLogger(__name__)

FALLBACK_ON = (EngineQuotaError, EngineUnavailableError)


class FallbackEngine:
    """``engines[0]`` reads; on quota or unavailability ``engines[1]`` does, and so on.

    The chain can do what its first engine can: the others stand in only while it cannot read at all. A page
    is re-read (``Capabilities.local``) only when every engine of the chain is local and free per call. Every
    method of the ``Engine`` protocol is written out here, none inherited, so mypy sees one forgotten.
    """

    def __init__(self, engines: Sequence[Engine]) -> None:
        if not engines:
            raise ConfigurationError("a fallback chain needs at least one engine")
        self.engines = tuple(engines)
        # The chain is the engine the pipeline reports (low cardinality: fixed per deployment).
        self.name = ">".join(engine.name for engine in self.engines)

    @property
    def version(self) -> str:
        return "; ".join(f"{engine.name} {engine.version}" for engine in self.engines)

    def capabilities(self, languages: str) -> Capabilities:
        first = self.engines[0].capabilities(languages)
        local = all(engine.capabilities(languages).local for engine in self.engines)
        return replace(first, local=local)

    def prewarm(self, languages: str, count: int) -> None:
        self.engines[0].prewarm(languages, count)

    def recognize(self, page: PageImage, languages: str, timeout: float) -> Recognition:
        return self._first_that_can(page, languages, timeout, lambda engine: engine.recognize)

    def recognize_vertical(self, page: PageImage, languages: str, timeout: float) -> Recognition:
        return self._first_that_can(page, languages, timeout, lambda engine: engine.recognize_vertical)

    def reconsider(self, page: PageImage, languages: str, timeout: float, reading: Recognition,
                   opinion: Opinion | None = None) -> Recognition:
        return self.engines[0].reconsider(page, languages, timeout, reading, opinion)

    def second_opinion(self, page: PageImage, languages: str, timeout: float) -> Opinion | None:
        return self.engines[0].second_opinion(page, languages, timeout)

    def _first_that_can(self, page: PageImage, languages: str, timeout: float,
                        method: Callable[[Engine], Callable[[PageImage, str, float], Recognition]]) -> Recognition:
        deadline = Deadline(timeout)
        for index, engine in enumerate(self.engines):
            left = len(self.engines) - index
            try:
                recognition = method(engine)(page, languages, deadline.share(left))
            except FALLBACK_ON as e:
                if left == 1:
                    raise
                logger.warning("engine %s could not read page %d (%s); trying %s", engine.name, page.number,
                               e.reason, self.engines[index + 1].name)
                continue
            # A nested chain has already named its reader; otherwise the reader is this engine.
            return recognition if recognition.engine else replace(recognition, engine=engine.name)
        raise AssertionError("unreachable: the last engine either returns or raises")


def build_engine(name: str, fallbacks: Sequence[str] = ()) -> Engine:
    """The engine registered as ``name``, wrapped in a ``FallbackEngine`` when ``fallbacks`` are given.

    Unknown names raise ``ConfigurationError``; repeated names are dropped (an engine that is out of
    quota would be out of quota again).
    """
    from s3ocr.engines import get_engine  # the registry imports the engine modules; import it late

    names = list(dict.fromkeys(n.strip() for n in [name, *fallbacks] if n and n.strip()))
    if not names:
        raise ConfigurationError("no OCR engine named")
    engines = [get_engine(n) for n in names]
    return engines[0] if len(engines) == 1 else FallbackEngine(engines)
