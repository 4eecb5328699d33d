"""The output-bucket sink."""

from __future__ import annotations

from typing import Any

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
from s3ocr.sources import s3_errors


class S3Sink:
    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    def key(self, source_key: str, suffix: str) -> str:
        return f"{self.prefix}{source_key}{suffix}"

    def _put(self, key: str, body: bytes, content_type: str) -> None:
        with s3_errors(f"writing s3://{self.bucket}/{key}"):
            self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    def _delete(self, key: str) -> None:
        with s3_errors(f"deleting s3://{self.bucket}/{key}"):
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def write_result(self, result: DocumentResult) -> list[str]:
        source_key = result.source.key
        text_key, json_key = self.key(source_key, TEXT_SUFFIX), self.key(source_key, JSON_SUFFIX)
        self._put(text_key, to_text_bytes(result), "text/plain; charset=utf-8")
        self._put(json_key, to_json_bytes(result_document(result)), "application/json")
        self._delete(self.key(source_key, ERROR_SUFFIX))
        return [text_key, json_key]

    def write_failure(self, failure: DocumentFailure) -> list[str]:
        error_key = self.key(failure.source.key, ERROR_SUFFIX)
        self._put(error_key, to_json_bytes(failure_document(failure)), "application/json")
        for suffix in (TEXT_SUFFIX, JSON_SUFFIX):
            self._delete(self.key(failure.source.key, suffix))
        return [error_key]
