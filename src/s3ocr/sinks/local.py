"""The local-folder sink: the same names the output bucket gets, under a folder."""

from __future__ import annotations

from pathlib import Path

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


class LocalSink:
    """Writes ``<out_dir>/<key><suffix>``; a local document's key is its path relative to what was named."""

    def __init__(self, out_dir: Path, formats: frozenset[str] = frozenset({"txt", "json"})) -> None:
        self.out_dir = out_dir
        self.formats = formats

    def path(self, name: str, suffix: str) -> Path:
        return self.out_dir / f"{name}{suffix}"

    def _write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(data)
        tmp.replace(path)

    def write_result(self, result: DocumentResult) -> list[str]:
        name = result.source.key
        written = []
        if "txt" in self.formats:
            self._write(self.path(name, TEXT_SUFFIX), to_text_bytes(result))
            written.append(str(self.path(name, TEXT_SUFFIX)))
        if "json" in self.formats:
            self._write(self.path(name, JSON_SUFFIX), to_json_bytes(result_document(result)))
            written.append(str(self.path(name, JSON_SUFFIX)))
        self.path(name, ERROR_SUFFIX).unlink(missing_ok=True)
        return written

    def write_failure(self, failure: DocumentFailure) -> list[str]:
        name = failure.source.key
        path = self.path(name, ERROR_SUFFIX)
        self._write(path, to_json_bytes(failure_document(failure)))
        for suffix in (TEXT_SUFFIX, JSON_SUFFIX):
            self.path(name, suffix).unlink(missing_ok=True)
        return [str(path)]
