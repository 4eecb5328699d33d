"""Writers of results: to the output bucket (Lambda) or a local folder (CLI), with the same names.

A sink writes deterministic names derived from the source key, so a redelivered event rewrites the
same objects, never duplicates them; a success removes a stale ``.error.json`` and a failure removes
stale text, so the outputs always describe the latest attempt.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from s3ocr.models import DocumentFailure, DocumentResult
from s3ocr.sinks.formats import (
    ERROR_SUFFIX,
    JSON_SUFFIX,
    TEXT_SUFFIX,
    failure_document,
    result_document,
    to_json_bytes,
    to_text_bytes,
)

ALL_FORMATS = frozenset({"txt", "json"})
TEXT_TYPE = "text/plain; charset=utf-8"
JSON_TYPE = "application/json"


class Sink(Protocol):
    def write_result(self, result: DocumentResult) -> list[str]:
        """Write ``.txt`` and ``.json``; returns the names written."""
        ...

    def write_failure(self, failure: DocumentFailure) -> list[str]:
        """Write ``.error.json``; returns the names written."""
        ...


class StoreSink(ABC):
    """The write rules every store shares; a store only puts and deletes one named output."""

    formats: frozenset[str] = ALL_FORMATS

    @abstractmethod
    def _put(self, name: str, data: bytes, content_type: str) -> str:
        """Store ``data`` as ``name`` (source key + suffix); returns where it went."""

    @abstractmethod
    def _delete(self, name: str) -> None:
        """Remove ``name`` if it is there."""

    def _put_file(self, name: str, path: Path, content_type: str) -> str:
        """Store the file at ``path`` as ``name``; a store that can stream a file overrides this."""
        return self._put(name, path.read_bytes(), content_type)

    def write_files(self, source_key: str, text: Path, document: Path) -> list[str]:
        """``write_result`` for a result already written as files (``.txt`` and ``.json``: ``s3ocr.fanout``)."""
        key = self.stem(source_key)
        written = [self._put_file(key + TEXT_SUFFIX, text, TEXT_TYPE),
                   self._put_file(key + JSON_SUFFIX, document, JSON_TYPE)]
        self._delete(key + ERROR_SUFFIX)
        return written

    def stem(self, key: str) -> str:
        """The name a source key's outputs share, before their suffixes; a store with a length limit cuts it."""
        return key

    def write_result(self, result: DocumentResult) -> list[str]:
        key = self.stem(result.source.key)
        written = []
        if "txt" in self.formats:
            written.append(self._put(key + TEXT_SUFFIX, to_text_bytes(result), TEXT_TYPE))
        if "json" in self.formats:
            written.append(self._put(key + JSON_SUFFIX, to_json_bytes(result_document(result)), JSON_TYPE))
        self._delete(key + ERROR_SUFFIX)
        return written

    def write_failure(self, failure: DocumentFailure) -> list[str]:
        key = self.stem(failure.source.key)
        # The stale outputs go before the record is put, the .json first: when the first delete fails the reading
        # stays whole with no error record beside it (found by injecting S3 faults: reliability.faults).
        for suffix in (JSON_SUFFIX, TEXT_SUFFIX):
            self._delete(key + suffix)
        return [self._put(key + ERROR_SUFFIX, to_json_bytes(failure_document(failure)), JSON_TYPE)]


class LastWordsSink:
    """A sink that says something (``speak``: write the document's error record) ``seconds`` from its start, unless
    an outcome was written first: on a message's last delivery a document must not end with nothing when the
    invocation is killed for its time. An outcome written after it replaces what it said (a reading removes a stale
    ``.error.json``); the two never interleave."""

    def __init__(self, sink: Sink, seconds: float, speak: Callable[[], None]) -> None:
        self.sink, self.speak = sink, speak
        self.lock = threading.Lock()
        self.settled = False
        self.timer = threading.Timer(max(0.0, seconds), self._speak)
        self.timer.daemon = True

    def __enter__(self) -> LastWordsSink:
        self.timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.timer.cancel()

    def _speak(self) -> None:
        with self.lock:
            if not self.settled:
                self.speak()

    def write_result(self, result: DocumentResult) -> list[str]:
        with self.lock:
            self.settled = True
            return self.sink.write_result(result)

    def write_failure(self, failure: DocumentFailure) -> list[str]:
        with self.lock:
            self.settled = True
            return self.sink.write_failure(failure)
