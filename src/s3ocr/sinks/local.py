"""The local-folder sink: the same names the output bucket gets, under a folder, and never outside it."""

from __future__ import annotations

from pathlib import Path

from s3ocr import keys
from s3ocr.errors import UnsafeKeyError
from s3ocr.sinks import DEFAULT_SINK_FORMATS, StoreSink
from s3ocr.sinks.formats import SUFFIX_ROOM


class LocalSink(StoreSink):
    """Writes ``<out_dir>/<key><suffix>``; a local document's key is its path relative to what was named.

    A key that would leave the folder (``../x``, ``/abs/x``: an S3 listing holds whatever was uploaded) raises
    ``UnsafeKeyError`` before anything is written; ``refuses`` tells it beforehand. A file name too long for the
    file system is cut like a long S3 key (``keys.fit``).
    """

    def __init__(self, out_dir: Path, formats: frozenset[str] = DEFAULT_SINK_FORMATS) -> None:
        self.out_dir = out_dir
        self.formats = formats

    def refuses(self, key: str) -> str | None:
        """Why ``key`` cannot be written here, or None."""
        try:
            keys.local_path(self.out_dir, key)
        except UnsafeKeyError as e:
            return str(e)
        return None

    def stem(self, key: str) -> str:
        folder, _, name = key.rpartition("/")
        name = keys.fit(name, keys.FILE_NAME_BYTES - SUFFIX_ROOM)
        return f"{folder}/{name}" if folder else name

    def path(self, name: str, suffix: str) -> Path:
        return keys.local_path(self.out_dir, f"{name}{suffix}")

    def _put(self, name: str, data: bytes, content_type: str) -> str:
        path = self.path(name, "")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")  # never a half-written output under the real name
        tmp.write_bytes(data)
        tmp.replace(path)
        return str(path)

    def _delete(self, name: str) -> None:
        self.path(name, "").unlink(missing_ok=True)
