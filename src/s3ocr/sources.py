"""Fetching documents: S3 objects (the only place besides the S3 sink that knows boto3) and local files."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import botocore.exceptions

from s3ocr.errors import (
    AccessDeniedError,
    DocumentTooLargeError,
    EmptyFileError,
    KeyTooLongError,
    ObjectNotFoundError,
    S3OcrError,
    StorageUnavailableError,
    aws_error_code,
    aws_http_status,
)
from s3ocr.keys import printable
from s3ocr.models import DocumentRef

_NOT_FOUND = {"NoSuchKey", "NoSuchBucket", "NoSuchVersion", "404", "NotFound"}
_DENIED = {"AccessDenied", "403", "Forbidden", "KMS.AccessDeniedException", "AllAccessDisabled"}


def s3_client() -> Any:
    """A boto3 S3 client; the endpoint comes from boto3's own ``AWS_ENDPOINT_URL(_S3)`` variables."""
    import boto3
    from botocore.config import Config

    return boto3.client("s3", config=Config(retries={"max_attempts": 5, "mode": "standard"}))


def classify_s3_error(error: Exception, what: str) -> S3OcrError:
    """The s3ocr error for a botocore failure, by its error code (never by its message)."""
    if isinstance(error, botocore.exceptions.ClientError):
        code, status = aws_error_code(error), aws_http_status(error)
        if code in _NOT_FOUND or status == 404:
            return ObjectNotFoundError(f"{what}: not found ({code or status})")
        if code in _DENIED or status == 403:
            return AccessDeniedError(f"{what}: access denied ({code or status})")
        if code == "KeyTooLongError":
            return KeyTooLongError(f"{what}: the key is longer than S3's 1,024 bytes")
        return StorageUnavailableError(f"{what}: S3 error {code or status}")
    return StorageUnavailableError(f"{what}: {type(error).__name__}")


@contextlib.contextmanager
def s3_errors(what: str) -> Iterator[None]:
    """Re-raise botocore failures inside the block as s3ocr errors."""
    try:
        yield
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        raise classify_s3_error(e, what) from e


def fetch_s3_object(
    client: Any, ref: DocumentRef, work_dir: Path, max_bytes: int
) -> tuple[Path, DocumentRef, dict[str, str]]:
    """Download the object named by ``ref`` (its version when the event names one) into ``work_dir``.

    Returns the local path, the ref completed with the object's actual size, ETag and version, and the
    object's user metadata.
    """
    extra = {"VersionId": ref.version_id} if ref.version_id else {}
    with s3_errors(f"reading {printable(ref.uri)}"):
        head = client.head_object(Bucket=ref.bucket, Key=ref.key, **extra)
        size = int(head["ContentLength"])
        if size == 0:
            raise EmptyFileError("the object has no bytes")
        if size > max_bytes:
            raise DocumentTooLargeError(f"the object has {size} bytes; the limit is {max_bytes}")
        # Pin the version/ETag seen by HEAD so an overwrite in between cannot mix two objects.
        pin = {"VersionId": head["VersionId"]} if head.get("VersionId") else {"IfMatch": head["ETag"]}
        path = work_dir / "source"
        response = client.get_object(Bucket=ref.bucket, Key=ref.key, **pin)
        with path.open("wb") as out:
            for chunk in response["Body"].iter_chunks(1024 * 1024):
                out.write(chunk)
    completed = replace(ref, size=size, etag=str(head.get("ETag", "")).strip('"') or ref.etag,
                        version_id=head.get("VersionId") or ref.version_id)
    return path, completed, dict(head.get("Metadata") or {})


def parse_s3_uri(uri: str) -> DocumentRef:
    """``s3://bucket/key`` as a ref."""
    rest = uri.removeprefix("s3://")
    bucket, _, key = rest.partition("/")
    if not bucket or not key:
        raise ValueError(f"not an s3://bucket/key URI: {uri!r}")
    return DocumentRef(bucket=bucket, key=key)
