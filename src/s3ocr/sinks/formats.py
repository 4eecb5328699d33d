"""The output formats: ``.txt`` (pages separated by form feed), ``.json`` and ``.error.json``; and, chosen per
deployment or per object, hOCR, a searchable PDF, Markdown and a TSV of words, each rendered from the ``.json``."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict
from typing import IO, Any

from s3ocr import __version__
from s3ocr.models import SCHEMA_VERSION, DocumentFailure, DocumentResult, Line, PageResult

TEXT_SUFFIX = ".txt"
JSON_SUFFIX = ".json"
ERROR_SUFFIX = ".error.json"
# Every format a document's reading can be written in, by the name that chooses it, with its suffix.
FORMATS = {
    "txt": TEXT_SUFFIX,
    "json": JSON_SUFFIX,
    "hocr": ".hocr",
    "pdf": ".searchable.pdf",
    "md": ".md",
    "tsv": ".tsv",
}
DEFAULT_FORMATS = ("txt", "json")
OUTPUT_SUFFIXES = (*FORMATS.values(), ERROR_SUFFIX)
# Bytes kept free for a suffix when a long key is cut to fit (``keys.fit``): every suffix, present or to come, fits
# in it, so a key's outputs share one stem and a new format never renames the old ones.
SUFFIX_ROOM = 32
assert all(len(suffix.encode()) <= SUFFIX_ROOM for suffix in OUTPUT_SUFFIXES)


def suffixes_of(formats: tuple[str, ...]) -> tuple[str, ...]:
    """The suffixes a deployment writing ``formats`` gives its outputs (an error record is always possible)."""
    return (*(FORMATS[name] for name in formats), ERROR_SUFFIX)


def _line(line: Line) -> dict[str, Any]:
    return {
        "text": line.text,
        "box": asdict(line.box),
        "confidence": line.confidence,
        "words": [{"text": w.text, "box": asdict(w.box), "confidence": w.confidence} for w in line.words],
    }


def page_document(page: PageResult) -> dict[str, Any]:
    return {
        "number": page.number,
        "status": page.status,
        "source": page.source,
        "engine": page.engine,
        "width": page.width,
        "height": page.height,
        "dpi": page.dpi,
        "mean_confidence": page.mean_confidence,
        "text": page.text,
        "lines": [_line(line) for line in page.lines],
        "preprocessing": page.preprocessing,
        "timings": page.timings,
        "error": page.error,
        **({"placement": page.placement.to_dict()} if page.placement else {}),
    }


def document_head(result: DocumentResult, pages_processed: int | None = None, status: str | None = None
                  ) -> dict[str, Any]:
    """The ``.json`` without its pages; ``pages_processed`` and ``status`` for a document whose pages are not in
    ``result`` (assembled from page ranges: ``s3ocr.fanout``)."""
    processed = len(result.pages) if pages_processed is None else pages_processed
    return {
        "schema_version": SCHEMA_VERSION,
        "producer": f"s3ocr {__version__}",
        "status": status or result.status,
        "source": result.source.to_dict(),
        "media_type": result.media_type,
        "engine": asdict(result.engine),
        "languages": result.languages,
        "page_count": result.page_count,
        "pages_processed": processed,
        "truncated": result.page_count > processed,
        "flags": list(result.flags),
        "timings": result.timings,
    }


def result_document(result: DocumentResult) -> dict[str, Any]:
    return {**document_head(result), "pages": [page_document(page) for page in result.pages]}


def page_chunk(page: dict[str, Any]) -> bytes:
    """A page object as ``to_json_bytes`` lays it out inside a document's ``pages`` (JSON strings hold no newline)."""
    return b"\n".join(b"  " + line for line in to_json_bytes(page).split(b"\n"))


def write_json_streamed(head: dict[str, Any], chunks: Iterable[bytes], out: IO[bytes]) -> None:
    """Exactly ``to_json_bytes({**head, "pages": [...]})``, written a page at a time from the pages' ``page_chunk``
    (bounded memory)."""
    opening = to_json_bytes({**head, "pages": None})
    out.write(opening[: -len(b"null\n}")])
    first = True
    for chunk in chunks:
        out.write(b"[\n" if first else b",\n")
        out.write(chunk)
        first = False
    out.write(b"[]\n}" if first else b"\n ]\n}")


def failure_document(failure: DocumentFailure) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "producer": f"s3ocr {__version__}",
        "status": "failed",
        "reason": failure.reason,
        "error_type": failure.error_type,
        "message": failure.message,
        "source": failure.source.to_dict(),
        "timings": failure.timings,
    }


def to_json_bytes(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")


def to_text_bytes(result: DocumentResult) -> bytes:
    return result.text.encode("utf-8")
