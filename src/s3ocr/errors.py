"""One error hierarchy for s3ocr.

Two branches by what the caller must do: a ``PermanentError`` (bad input) is recorded once with a
reason code and never retried; a ``TransientError`` (throttling, a backend or S3 unavailable) is
raised so the queue retries and finally dead-letters the message.
"""

from __future__ import annotations


class S3OcrError(Exception):
    """Base of every error s3ocr raises on purpose."""

    reason: str = "error"


class PermanentError(S3OcrError):
    """Bad input: recorded once with a reason code, not retried."""

    reason = "permanent"


class TransientError(S3OcrError):
    """A passing failure: the invocation fails so the message is retried."""

    reason = "transient"


class EmptyFileError(PermanentError):
    """The object has no bytes."""

    reason = "empty_file"


class UnsupportedTypeError(PermanentError):
    """The bytes are not a document type s3ocr reads (judged by magic bytes)."""

    reason = "unsupported_type"


class CorruptDocumentError(PermanentError):
    """The type is known but the file cannot be read (truncated, damaged, invalid)."""

    reason = "corrupt_document"


class EncryptedDocumentError(PermanentError):
    """The PDF is password protected."""

    reason = "encrypted_document"


class DocumentTooLargeError(PermanentError):
    """The object is bigger than the configured byte limit."""

    reason = "too_large"


class DecompressionBombError(PermanentError):
    """A page would decode to more pixels than the configured limit."""

    reason = "decompression_bomb"


class ObjectNotFoundError(PermanentError):
    """The source object is gone (deleted, or the event names a version that no longer exists)."""

    reason = "not_found"


class AccessDeniedError(PermanentError):
    """The function may not read the object (wrong bucket policy, or a KMS key it cannot use)."""

    reason = "access_denied"


class ConfigurationError(PermanentError):
    """The deployment is misconfigured (unknown engine, missing output bucket, missing language data)."""

    reason = "configuration"


class RenderError(CorruptDocumentError):
    """Poppler said it rendered a page, but the image is not the page's size at the resolution asked for."""

    reason = "render_failed"


class UnsafeKeyError(PermanentError):
    """An object key that cannot name a local file inside the output folder (``..``, an absolute path)."""

    reason = "unsafe_key"


class KeyTooLongError(PermanentError):
    """S3 refused an output key as longer than its 1,024 bytes (the output prefix leaves no room)."""

    reason = "key_too_long"


class MalformedMessageError(PermanentError):
    """A queue message or event that is none of the shapes s3ocr reads (not JSON, not an S3 notification)."""

    reason = "malformed_message"


class EngineError(PermanentError):
    """The OCR engine failed on this input in a way a retry will not change."""

    reason = "engine_failed"


class RejectedInputError(PermanentError):
    """An OCR service refused this page even after it was resized/re-encoded to the service's limits."""

    reason = "rejected_input"


class PageTimeoutError(S3OcrError):
    """A page took longer than the page timeout; recorded on the page, the document goes on."""

    reason = "page_timeout"


class StorageUnavailableError(TransientError):
    """S3 answered with a 5xx, throttled, or could not be reached."""

    reason = "storage_unavailable"


class EngineUnavailableError(TransientError):
    """The OCR engine could not be reached or is throttling; retry later."""

    reason = "engine_unavailable"


class EngineQuotaError(TransientError):
    """The OCR service's quota is used up: not retried in the invocation; a fallback engine may take over,
    else the queue retries later."""

    reason = "quota"


class EventsUnavailableError(TransientError):
    """The event bus did not take a completion event: the document is retried, so that nobody is left untold."""

    reason = "events_unavailable"


class TimeBudgetExceededError(TransientError):
    """The invocation is about to run out of time; the message is retried."""

    reason = "time_budget"


class NoPageReadError(PermanentError):
    """Every page of the document failed; the per-page reasons are in the message."""

    reason = "no_page_read"


def aws_error_code(error: BaseException) -> str:
    """The error code an AWS service answered with (a botocore ``ClientError``'s ``Error.Code``; "" for any other
    error). s3ocr decides what a failure means by this code or the HTTP status, never by the message."""
    return str((_aws_response(error).get("Error") or {}).get("Code") or "")


def aws_http_status(error: BaseException) -> int:
    """The HTTP status of an AWS service's answer (a botocore ``ClientError``'s); 0 for any other error."""
    return int((_aws_response(error).get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)


def _aws_response(error: BaseException) -> dict:
    response = getattr(error, "response", None)
    return response if isinstance(response, dict) else {}
