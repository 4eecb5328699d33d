"""The output-bucket sink."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from s3ocr import keys
from s3ocr.errors import ConfigurationError
from s3ocr.sinks import StoreSink
from s3ocr.sinks.formats import DEFAULT_FORMATS, OUTPUT_SUFFIXES, SUFFIX_ROOM
from s3ocr.sources import s3_errors


class S3Sink(StoreSink):
    """Writes ``s3://<bucket>/<prefix><source key><suffix>``; a source key too long for that (S3 keys are at most
    1,024 bytes) is cut and given a digest of itself (``keys.fit``); the ``.json`` names the source in full."""

    def __init__(self, client: Any, bucket: str, prefix: str = "", formats: tuple[str, ...] = DEFAULT_FORMATS) -> None:
        if len(prefix.encode()) > keys.S3_KEY_BYTES // 2:
            raise ConfigurationError(f"OUTPUT_PREFIX has {len(prefix.encode())} bytes: an output key needs room for "
                                     f"its source key within S3's {keys.S3_KEY_BYTES}")
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.formats = frozenset(formats)

    def stem(self, key: str) -> str:
        return keys.fit(key, keys.S3_KEY_BYTES - len(self.prefix.encode()) - SUFFIX_ROOM)

    def is_output(self, bucket: str, key: str) -> bool:
        """Whether ``s3://bucket/key`` is a name this sink writes: an object of its own, never a document."""
        return bucket == self.bucket and key.startswith(self.prefix) and key.endswith(OUTPUT_SUFFIXES)

    def key(self, source_key: str, suffix: str) -> str:
        return f"{self.prefix}{self.stem(source_key)}{suffix}"

    def _put(self, name: str, data: bytes, content_type: str) -> str:
        key = self.prefix + name
        with s3_errors(f"writing s3://{self.bucket}/{keys.printable(key)}"):
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)
        return key

    def _put_file(self, name: str, path: Path, content_type: str) -> str:
        key = self.prefix + name
        with s3_errors(f"writing s3://{self.bucket}/{keys.printable(key)}"):  # in parts when it is large
            self.client.upload_file(str(path), self.bucket, key, ExtraArgs={"ContentType": content_type})
        return key

    def _delete(self, name: str) -> None:
        key = self.prefix + name
        with s3_errors(f"deleting s3://{self.bucket}/{keys.printable(key)}"):
            self.client.delete_object(Bucket=self.bucket, Key=key)
