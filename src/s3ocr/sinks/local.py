"""The local-folder sink: the same names the output bucket gets, under a folder."""

from __future__ import annotations

from pathlib import Path

from s3ocr.sinks import ALL_FORMATS, StoreSink


class LocalSink(StoreSink):
    """Writes ``<out_dir>/<key><suffix>``; a local document's key is its path relative to what was named."""

    def __init__(self, out_dir: Path, formats: frozenset[str] = ALL_FORMATS) -> None:
        self.out_dir = out_dir
        self.formats = formats

    def path(self, name: str, suffix: str) -> Path:
        return self.out_dir / f"{name}{suffix}"

    def _put(self, name: str, data: bytes, content_type: str) -> str:
        path = self.path(name, "")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")  # never a half-written output under the real name
        tmp.write_bytes(data)
        tmp.replace(path)
        return str(path)

    def _delete(self, name: str) -> None:
        self.path(name, "").unlink(missing_ok=True)
