"""Amazon Textract ``DetectDocumentText`` (synchronous, one page image) as an s3ocr engine.

boto3 finds the endpoint (``AWS_ENDPOINT_URL_TEXTRACT`` / ``AWS_ENDPOINT_URL``, so tests point it at a
loopback fake), the region and the credentials (role, profile, env) itself. Its own retries are turned
off: the shared helper retries instead, within the page budget, and every request's read timeout is what
is left of that budget.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    SSLError,
)

from s3ocr.engines.base import BaseEngine
from s3ocr.engines.imagelimits import FittedImage, ImageLimits, send_fitted
from s3ocr.engines.ratelimit import limiter_for
from s3ocr.engines.retry import Backoff, Deadline, call_with_retry
from s3ocr.errors import (
    ConfigurationError,
    EngineError,
    EngineQuotaError,
    EngineUnavailableError,
    RejectedInputError,
    S3OcrError,
    aws_error_code,
    aws_http_status,
)
from s3ocr.models import Box, Line, PageImage, Recognition, Word, mean_word_confidence

# Synchronous operations: JPEG or PNG, at most 10,000 px a side. Size: the quotas page allows 10 MB, but the
# API reference says of the Bytes field "The maximum size of a document that's provided in a blob of bytes
# is 5 MB": the smaller figure, so no page is sent only to be refused.
TEXTRACT_LIMITS = ImageLimits(max_bytes=5 * 1024 * 1024, max_side=10_000, min_side=1)

RETRYABLE = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException", "InternalServerError",
                       "ServiceUnavailable", "ServiceUnavailableException", "RequestTimeout",
                       "RequestTimeoutException", "ExpiredTokenException"})
QUOTA = frozenset({"LimitExceededException"})
REJECTED = frozenset({"InvalidParameterException", "UnsupportedDocumentException", "BadDocumentException",
                      "DocumentTooLargeException"})
CONFIGURATION = frozenset({"AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException",
                           "InvalidClientTokenId", "MissingAuthenticationTokenException",
                           "SubscriptionRequiredException", "InvalidS3ObjectException"})
CONNECT_TIMEOUT = 5.0
# "Amazon Textract can extract printed text, forms and tables in English, German, French, Spanish, Italian
# and Portuguese" (Textract FAQ / Developer Guide), as Tesseract language codes.
READABLE_LANGUAGES = frozenset({"eng", "deu", "fra", "spa", "ita", "por"})
_MAX_CACHED_CLIENTS = 8


class TextractRejectedError(RejectedInputError):
    """Textract refused this encoding of the page; the engine re-encodes once before giving up."""


def classify(error: ClientError | BotoCoreError) -> S3OcrError:
    """The s3ocr error a botocore failure means (by error code or exception class, never by message)."""
    if isinstance(error, ClientError):
        code, status = aws_error_code(error), aws_http_status(error)
        message = f"Textract {code}: {error.response.get('Error', {}).get('Message', '')}"
        if code in RETRYABLE or status >= 500:
            return EngineUnavailableError(message)
        if code in QUOTA:
            return EngineQuotaError(message)
        if code in REJECTED:
            return TextractRejectedError(message)
        if code in CONFIGURATION:
            return ConfigurationError(message)
        return EngineError(message)
    if isinstance(error, NoCredentialsError | PartialCredentialsError | NoRegionError):
        return ConfigurationError(f"Textract client: {error}")
    if isinstance(error, SSLError):
        return ConfigurationError(f"TLS verification failed for Textract: {error}")
    if isinstance(error, ConnectionError | HTTPClientError):  # includes connect/read timeouts
        return EngineUnavailableError(f"Textract unreachable: {type(error).__name__}")
    return EngineError(f"Textract client failed: {type(error).__name__}: {error}")


class TextractEngine(BaseEngine):
    """Printed and handwritten text in English, German, French, Spanish, Italian and Portuguese."""

    name = "textract"

    def __init__(self, *, endpoint_url: str | None = None, region: str | None = None,
                 backoff: Backoff | None = None, limits: ImageLimits = TEXTRACT_LIMITS) -> None:
        self.endpoint_url = endpoint_url  # None: boto3's own resolution (AWS_ENDPOINT_URL_TEXTRACT, config)
        self.region = region
        self.backoff = backoff or Backoff()
        self.limits = limits
        self._session = boto3.session.Session()
        self._clients: dict[float, Any] = {}
        self._lock = threading.Lock()  # boto3 sessions are not thread-safe when creating clients

    @property
    def version(self) -> str:
        return f"textract DetectDocumentText (boto3 {boto3.__version__})"

    def client(self, read_timeout: float) -> Any:
        """A client whose read timeout is ``read_timeout``, rounded up (to 0.1 s below 10 s, else to 1 s) so
        that a handful of clients serve every page; botocore sets timeouts per client, not per call."""
        seconds = math.ceil(read_timeout * 10) / 10 if read_timeout < 10 else float(math.ceil(read_timeout))
        seconds = max(0.1, seconds)
        with self._lock:
            if seconds not in self._clients:
                if len(self._clients) >= _MAX_CACHED_CLIENTS:
                    self._clients.clear()
                config = Config(connect_timeout=min(CONNECT_TIMEOUT, seconds), read_timeout=seconds,
                                retries={"mode": "standard", "total_max_attempts": 1})
                try:
                    self._clients[seconds] = self._session.client(
                        "textract", region_name=self.region, endpoint_url=self.endpoint_url, config=config)
                except BotoCoreError as e:
                    raise classify(e) from e
            return self._clients[seconds]

    @staticmethod
    def check_languages(languages: str) -> None:
        """Textract picks the language itself (``languages`` is no request parameter), but it reads only
        six: a page in any other would come back as confident nonsense, so that is refused up front."""
        unreadable = sorted({code for code in languages.split("+") if code} - READABLE_LANGUAGES - {"osd"})
        if unreadable:
            raise ConfigurationError(
                f"Amazon Textract does not read {', '.join(unreadable)}; it reads "
                f"{', '.join(sorted(READABLE_LANGUAGES))}. Set OCR_LANGUAGES to those, or route these "
                "documents to another engine (OCR_ENGINE_ROUTES, or the ocr-engine object metadata)")

    def recognize(self, page: PageImage, languages: str, timeout: float) -> Recognition:
        self.check_languages(languages)
        deadline = Deadline(timeout)
        response, image = send_fitted(page.path, self.limits, lambda fitted: call_with_retry(
            functools.partial(self._detect, fitted), deadline=deadline, backoff=self.backoff,
            limiter=limiter_for(self.name)))
        return replace(self.parse(response, image, page), engine=self.name)

    def _detect(self, image: FittedImage, remaining: float) -> Mapping[str, Any]:
        client = self.client(remaining)
        try:
            return client.detect_document_text(Document={"Bytes": image.data})
        except (ClientError, BotoCoreError) as e:
            raise classify(e) from e

    def parse(self, response: Mapping[str, Any], image: FittedImage, page: PageImage) -> Recognition:
        """LINE blocks with their WORD children; relative boxes become page image pixels."""
        blocks = response.get("Blocks") or []
        by_id = {block.get("Id"): block for block in blocks}
        lines = []
        for block in blocks:
            if block.get("BlockType") != "LINE" or not str(block.get("Text", "")).strip():
                continue
            children = [by_id[i] for rel in block.get("Relationships") or [] if rel.get("Type") == "CHILD"
                        for i in rel.get("Ids", []) if i in by_id]
            words = tuple(Word(str(w.get("Text", "")), self._box(w, image, page), _confidence(w))
                          for w in children if w.get("BlockType") == "WORD" and str(w.get("Text", "")).strip())
            lines.append(Line(text=str(block["Text"]).strip(), box=self._box(block, image, page),
                              confidence=_confidence(block), words=words))
        return Recognition(text="\n".join(line.text for line in lines), lines=tuple(lines),
                           mean_confidence=mean_word_confidence(lines))

    @staticmethod
    def _box(block: Mapping[str, Any], image: FittedImage, page: PageImage) -> Box:
        box = (block.get("Geometry") or {}).get("BoundingBox") or {}
        return image.relative_box_to_page(float(box.get("Left", 0)), float(box.get("Top", 0)),
                                          float(box.get("Width", 0)), float(box.get("Height", 0)), page)


def _confidence(block: Mapping[str, Any]) -> float:
    return round(min(1.0, max(0.0, float(block.get("Confidence", 0.0)) / 100)), 4)
