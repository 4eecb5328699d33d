"""Writers of results: to the output bucket (Lambda) or a local folder (CLI), with the same names.

A sink writes deterministic names derived from the source key, so a redelivered event rewrites the
same objects, never duplicates them; a success removes a stale ``.error.json`` and a failure removes
stale outputs of every format, so the outputs always describe the latest attempt. Formats beyond the text and
the ``.json`` are drawn from the ``.json``'s pages (``Reading``), so a document assembled from page ranges gets
them as one invocation's does.
"""

from __future__ import annotations

import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from s3ocr.errors import ConfigurationError
from s3ocr.models import DocumentFailure, DocumentResult, Quality, quality_of
from s3ocr.sinks.formats import (
    DEFAULT_FORMATS,
    ERROR_SUFFIX,
    FORMATS,
    JSON_SUFFIX,
    document_head,
    failure_document,
    page_document,
    result_document,
    to_json_bytes,
    to_text_bytes,
)

DEFAULT_SINK_FORMATS = frozenset(DEFAULT_FORMATS)
TEXT_TYPE = "text/plain; charset=utf-8"
JSON_TYPE = "application/json"
CONTENT_TYPES = {"txt": TEXT_TYPE, "json": JSON_TYPE, "hocr": "text/html; charset=utf-8", "pdf": "application/pdf",
                 "md": "text/markdown; charset=utf-8", "tsv": "text/tab-separated-values; charset=utf-8"}
assert CONTENT_TYPES.keys() == FORMATS.keys()
# A format drawn from the ``.json``: (its head, its pages one at a time, the source document's file or None, the
# source's media type, where to write).
Renderer = Callable[[dict[str, Any], Iterable[dict[str, Any]], "Path | None", str, IO[bytes]], None]


def renderer(name: str) -> Renderer:
    """The renderer of a format beyond ``.txt`` and ``.json``, loaded when a document asks for it (pikepdf only
    for a searchable PDF)."""
    if name == "hocr":
        from s3ocr.sinks.hocr import write_hocr

        return write_hocr
    if name == "md":
        from s3ocr.sinks.markdown import write_markdown

        return write_markdown
    if name == "tsv":
        from s3ocr.sinks.tsv import write_tsv

        return write_tsv
    if name == "pdf":
        from s3ocr.sinks.searchable_pdf import write_searchable_pdf

        return write_searchable_pdf
    raise ConfigurationError(f"no renderer for the {name} format")


@dataclass(frozen=True)
class Reading:
    """A document's reading as the formats are made from it: its text and ``.json`` (bytes, or files when it was
    assembled a page at a time), and the ``.json``'s head and pages for the formats drawn from them."""

    key: str  # the source key
    media_type: str
    text: bytes | Path
    document: bytes | Path
    head: dict[str, Any]
    pages: Callable[[], Iterator[dict[str, Any]]]
    quality: Quality

    @classmethod
    def of(cls, result: DocumentResult) -> Reading:
        return cls(result.source.key, result.media_type, to_text_bytes(result),
                   to_json_bytes(result_document(result)), document_head(result),
                   lambda: (page_document(page) for page in result.pages), quality_of(result))


class Sink(Protocol):
    def write_result(self, result: DocumentResult, formats: tuple[str, ...] | None = None,
                     source: Path | None = None) -> dict[str, str]:
        """Write the reading in ``formats`` (None: the sink's own), drawing on the document's file ``source`` for
        the formats that need it; returns where each format went."""
        ...

    def write_failure(self, failure: DocumentFailure) -> dict[str, str]:
        """Write ``.error.json``; returns where it went (``{"error": name}``)."""
        ...


class ReadingSink(Protocol):
    def write_reading(self, reading: Reading, formats: tuple[str, ...] | None = None,
                      source: Path | None = None) -> dict[str, str]:
        """``Sink.write_result`` for a reading that is not whole in memory (``s3ocr.fanout``)."""
        ...


class StoreSink(ABC):
    """The write rules every store shares; a store only puts and deletes one named output."""

    formats: frozenset[str] = DEFAULT_SINK_FORMATS

    @abstractmethod
    def _put(self, name: str, data: bytes, content_type: str) -> str:
        """Store ``data`` as ``name`` (source key + suffix); returns where it went."""

    @abstractmethod
    def _delete(self, name: str) -> None:
        """Remove ``name`` if it is there."""

    def _put_file(self, name: str, path: Path, content_type: str) -> str:
        """Store the file at ``path`` as ``name``; a store that can stream a file overrides this."""
        return self._put(name, path.read_bytes(), content_type)

    def stem(self, key: str) -> str:
        """The name a source key's outputs share, before their suffixes; a store with a length limit cuts it."""
        return key

    def write_result(self, result: DocumentResult, formats: tuple[str, ...] | None = None,
                     source: Path | None = None) -> dict[str, str]:
        return self.write_reading(Reading.of(result), formats, source)

    def write_reading(self, reading: Reading, formats: tuple[str, ...] | None = None,
                      source: Path | None = None) -> dict[str, str]:
        """Write each format of a reading, then remove a stale ``.error.json``; returns where each format went."""
        key = self.stem(reading.key)
        chosen = formats or tuple(name for name in FORMATS if name in self.formats)
        written = {}
        for name in chosen:
            written[name] = self._write_format(name, key + FORMATS[name], reading, source)
        self._delete(key + ERROR_SUFFIX)
        return written

    def _write_format(self, name: str, output: str, reading: Reading, source: Path | None) -> str:
        data = {"txt": reading.text, "json": reading.document}.get(name)
        if isinstance(data, bytes):
            return self._put(output, data, CONTENT_TYPES[name])
        if isinstance(data, Path):
            return self._put_file(output, data, CONTENT_TYPES[name])
        render = renderer(name)
        with tempfile.NamedTemporaryFile(suffix=FORMATS[name], dir=source.parent if source else None) as out:
            render(reading.head, reading.pages(), source, reading.media_type, out)
            out.flush()
            return self._put_file(output, Path(out.name), CONTENT_TYPES[name])

    def write_failure(self, failure: DocumentFailure) -> dict[str, str]:
        key = self.stem(failure.source.key)
        # The stale outputs go before the record is put, the .json first: when the first delete fails the reading
        # stays whole with no error record beside it (found by injecting S3 faults: reliability.faults).
        for suffix in (JSON_SUFFIX, *(suffix for suffix in FORMATS.values() if suffix != JSON_SUFFIX)):
            self._delete(key + suffix)
        return {"error": self._put(key + ERROR_SUFFIX, to_json_bytes(failure_document(failure)), JSON_TYPE)}


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

    def write_result(self, result: DocumentResult, formats: tuple[str, ...] | None = None,
                     source: Path | None = None) -> dict[str, str]:
        with self.lock:
            self.settled = True
            return self.sink.write_result(result, formats, source)

    def write_failure(self, failure: DocumentFailure) -> dict[str, str]:
        with self.lock:
            self.settled = True
            return self.sink.write_failure(failure)
