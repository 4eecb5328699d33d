"""The output-bucket sink."""

from __future__ import annotations

from typing import Any

from s3ocr.sinks import StoreSink
from s3ocr.sources import s3_errors


class S3Sink(StoreSink):
    """Writes ``s3://<bucket>/<prefix><source key><suffix>``."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    def key(self, source_key: str, suffix: str) -> str:
        return f"{self.prefix}{source_key}{suffix}"

    def _put(self, name: str, data: bytes, content_type: str) -> str:
        key = self.key(name, "")
        with s3_errors(f"writing s3://{self.bucket}/{key}"):
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)
        return key

    def _delete(self, name: str) -> None:
        key = self.key(name, "")
        with s3_errors(f"deleting s3://{self.bucket}/{key}"):
            self.client.delete_object(Bucket=self.bucket, Key=key)
