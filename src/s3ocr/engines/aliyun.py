"""Alibaba Cloud OCR ``RecognizeGeneral`` (``alibabacloud_ocr_api20210707``) as an s3ocr engine.

The request body is the image bytes; the SDK signs with ACS3-HMAC-SHA256 (``Authorization`` header over
the ``x-acs-*`` headers and the body's SHA-256). Errors arrive as HTTP 4xx/5xx with a JSON ``Code`` and the
SDK raises ``ClientException`` / ``ServerException`` / ``ThrottlingException`` carrying it; transport
failures (and error bodies that are not JSON) come wrapped in an ``UnretryableException``. The SDK's
retries are off by default and stay off: the shared helper retries within the page budget.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

import requests
from alibabacloud_ocr_api20210707 import models as ocr_models
from alibabacloud_ocr_api20210707.client import Client as OcrClient
from alibabacloud_tea_openapi import models as openapi_models
from alibabacloud_tea_util import models as util_models
from Tea.exceptions import TeaException, UnretryableException

from s3ocr.engines.base import BaseEngine
from s3ocr.engines.imagelimits import FittedImage, ImageLimits, send_fitted
from s3ocr.engines.ratelimit import limiter_for
from s3ocr.engines.retry import Backoff, Deadline, call_with_retry
from s3ocr.engines.wordboxes import split_words
from s3ocr.errors import (
    ConfigurationError,
    EngineError,
    EngineQuotaError,
    EngineUnavailableError,
    RejectedInputError,
    S3OcrError,
)
from s3ocr.models import Box, Line, PageImage, Recognition
from s3ocr.secrets import CREDENTIAL_VARIABLES, RedactingFilter, SecretSource

ENDPOINT_ENV = "ALIYUN_OCR_ENDPOINT"
ACCESS_KEY_ID_ENV, ACCESS_KEY_SECRET_ENV = CREDENTIAL_VARIABLES["aliyun"]
DEFAULT_ENDPOINT = "https://ocr-api.cn-hangzhou.aliyuncs.com"
CONNECT_TIMEOUT = 5.0

# RecognizeGeneral (help.aliyun.com/document_detail/442250.htm): PNG/JPG/JPEG/BMP/GIF/TIFF/WebP, at most
# 10 MB, sides more than 15 and less than 8192 px, aspect ratio under 50 (no page comes near that).
ALIYUN_LIMITS = ImageLimits(max_bytes=10 * 1024 * 1024, max_side=8191, min_side=16)

# Codes from the ocr-api 2021-07-07 error code table (help.aliyun.com/document_detail/294601.html) and the
# OpenAPI gateway's common ones. Any 5xx or 429 is retried whatever its code.
RETRYABLE = frozenset({"Throttling", "Throttling.User", "Throttling.Api", "ServiceUnavailable", "InternalError",
                       "algorithmError", "ServiceTimeout"})
QUOTA = frozenset({"OcrServiceExpired"})  # the account's OCR subscription or resource plan has run out
REJECTED = frozenset({"illegalImageSize", "exceededImageContent", "unsupportedImageFormat", "unmatchedImageType",
                      "illegalImageContent"})
CONFIGURATION = frozenset({"noPermission", "ocrServiceNotOpen", "illegalSignature", "invalidStsToken",
                           "InvalidAccessKeyId.NotFound", "InvalidAccessKeyId.Inactive", "SignatureDoesNotMatch",
                           "IncompleteSignature", "Forbidden.RAM", "Forbidden.NoPermission", "InvalidApi.NotFound",
                           "unsupportedLanguage"})


@dataclass(frozen=True)
class AliyunCredentials:
    """A RAM AccessKey pair; the repr never shows it."""

    access_key_id: str = field(repr=False)
    access_key_secret: str = field(repr=False)


def aliyun_credentials(source: SecretSource | None = None) -> AliyunCredentials:
    """The AccessKey pair from the OCR secret (Lambda) or the environment (CLI), as ``secrets`` reads them."""
    found = (source or SecretSource()).require(ACCESS_KEY_ID_ENV, ACCESS_KEY_SECRET_ENV)
    return AliyunCredentials(found[ACCESS_KEY_ID_ENV], found[ACCESS_KEY_SECRET_ENV])


class AliyunRejectedError(RejectedInputError):
    """The service refused this encoding of the page; the engine re-encodes once before giving up."""


def classify(error: TeaException) -> S3OcrError:
    """The s3ocr error an SDK failure means: by error code and HTTP status, or by the transport error."""
    if isinstance(error, UnretryableException):
        inner = error.inner_exception
        # The SDK turns requests' IOError into a RetryError inside the except block: the cause is its context.
        # A body read that times out escapes the SDK's transport try as a bare requests error.
        cause = inner if isinstance(inner, requests.RequestException) else getattr(inner, "__context__", None)
        if isinstance(cause, requests.exceptions.SSLError):
            return ConfigurationError("TLS verification failed for Alibaba Cloud OCR")
        if isinstance(cause, requests.RequestException):  # unreachable, reset, timed out
            return EngineUnavailableError(f"Alibaba Cloud OCR unreachable: {type(cause).__name__}")
        if isinstance(cause, ValueError) or isinstance(inner, ValueError):
            # The SDK re-raises a JSON error as a bare RuntimeError: an answer that is not JSON, such as a
            # gateway's HTML error page, which is passing.
            return EngineUnavailableError("Alibaba Cloud OCR answered something that is not JSON")
        return EngineError(f"Alibaba Cloud OCR client failed: {type(inner).__name__}: {inner}")
    code = str(error.code or "")
    status = int(getattr(error, "status_code", None) or getattr(error, "statusCode", 0) or 0)
    message = f"Alibaba Cloud OCR {code} (HTTP {status}): {error.message}"
    if code in RETRYABLE or code.startswith("Throttling.") or status >= 500 or status == 429:
        return EngineUnavailableError(message)
    if code in QUOTA:
        return EngineQuotaError(message)
    if code in REJECTED:
        return AliyunRejectedError(message)
    if code in CONFIGURATION or status in (401, 403):
        return ConfigurationError(message)
    return EngineError(message)


class AliyunEngine(BaseEngine):
    """Alibaba Cloud general OCR: Chinese and English text lines with their quadrilaterals and confidence."""

    name = "aliyun"

    def __init__(
        self,
        *,
        credentials: Callable[[], AliyunCredentials] | None = None,
        endpoint: str | None = None,
        backoff: Backoff | None = None,
        limits: ImageLimits = ALIYUN_LIMITS,
        env: Mapping[str, str] | None = None,
    ) -> None:
        env = os.environ if env is None else env
        self.endpoint = endpoint or env.get(ENDPOINT_ENV, "").strip() or DEFAULT_ENDPOINT
        self.backoff = backoff or Backoff()
        self.limits = limits
        self._ca_bundle = env.get("REQUESTS_CA_BUNDLE") or None
        self._credentials = credentials or aliyun_credentials
        self._client: OcrClient | None = None
        self._client_credentials: AliyunCredentials | None = None
        self._lock = threading.Lock()

    @property
    def version(self) -> str:
        return f"alibabacloud_ocr_api20210707 {sdk_version()} RecognizeGeneral"

    def client(self) -> OcrClient:
        """The SDK client for the current credentials (rebuilt when a rotated secret brings new ones).

        It holds no per-request state (timeouts go with each call), so threads share it.
        """
        credentials = self._credentials()
        with self._lock:
            if self._client is None or self._client_credentials != credentials:
                parts = urlsplit(self.endpoint if "://" in self.endpoint else f"https://{self.endpoint}")
                config = openapi_models.Config(access_key_id=credentials.access_key_id,
                                               access_key_secret=credentials.access_key_secret,
                                               endpoint=parts.netloc, protocol=parts.scheme, ca=self._ca_bundle)
                self._client, self._client_credentials = OcrClient(config), credentials
            return self._client

    def recognize(self, page: PageImage, languages: str, timeout: float) -> Recognition:
        # RecognizeGeneral takes no language: it reads Chinese and English, so ``languages`` is not sent.
        deadline = Deadline(timeout)
        client = self.client()
        data, image = send_fitted(page.path, self.limits, lambda fitted: call_with_retry(
            functools.partial(self._attempt, client, fitted), deadline=deadline, backoff=self.backoff,
            limiter=limiter_for(self.name)))
        return replace(self.parse(data, image, page), engine=self.name)

    def _attempt(self, client: OcrClient, image: FittedImage, remaining: float) -> Mapping[str, Any]:
        milliseconds = max(1, int(remaining * 1000))
        runtime = util_models.RuntimeOptions(autoretry=False, read_timeout=milliseconds,
                                             connect_timeout=min(milliseconds, int(CONNECT_TIMEOUT * 1000)))
        try:
            response = client.recognize_general_with_options(ocr_models.RecognizeGeneralRequest(body=image.data),
                                                             runtime)
        except TeaException as e:
            raise classify(e) from e
        body = response.body
        if body is None or body.data is None:
            raise EngineError(f"Alibaba Cloud OCR answered no Data (code {getattr(body, 'code', None)!r})")
        try:
            data = json.loads(body.data)
        except ValueError as e:
            raise EngineUnavailableError("Alibaba Cloud OCR answered Data that is not JSON") from e
        if not isinstance(data, dict):
            raise EngineError(f"Alibaba Cloud OCR answered Data as a JSON {type(data).__name__}")
        return data

    def parse(self, data: Mapping[str, Any], image: FittedImage, page: PageImage) -> Recognition:
        """``prism_wordsInfo`` (one item per text line) as lines with words, in page image pixels."""
        lines = [_line(item, image, page) for item in data.get("prism_wordsInfo") or []
                 if str(item.get("word", "")).strip()]
        mean = round(sum(line.confidence for line in lines) / len(lines), 4) if lines else None
        return Recognition(text="\n".join(line.text for line in lines), lines=tuple(lines), mean_confidence=mean)


def _line(item: Mapping[str, Any], image: FittedImage, page: PageImage) -> Line:
    text = str(item["word"]).strip()
    confidence = round(min(1.0, max(0.0, float(item.get("prob", 0)) / 100)), 4)
    box = _box(item, image, page)
    # RecognizeGeneral has no character or word level: words are the line's share by character position.
    return Line(text=text, box=box, confidence=confidence, words=split_words(text, box, confidence))


def _box(item: Mapping[str, Any], image: FittedImage, page: PageImage) -> Box:
    """The box around ``pos`` (four corners, clockwise from top left). ``x, y, width, height`` are a fallback
    only: for a rotated block (``angle`` near ±90) width and height are swapped."""
    points = [p for p in item.get("pos") or [] if "x" in p and "y" in p]
    if points:
        xs, ys = [float(p["x"]) for p in points], [float(p["y"]) for p in points]
        return image.box_to_page(min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys), page)
    return image.box_to_page(float(item.get("x", 0)), float(item.get("y", 0)), float(item.get("width", 0)),
                             float(item.get("height", 0)), page)


@functools.cache
def sdk_version() -> str:
    return importlib.metadata.version("alibabacloud_ocr_api20210707")


# With DEBUG=sdk in the environment the SDK logs every request's headers (the Authorization header names
# the AccessKeyId); blank the key pair there.
_sdk_logger = logging.getLogger("darabonba-core")
if not any(isinstance(f, RedactingFilter) for f in _sdk_logger.filters):
    _sdk_logger.addFilter(RedactingFilter())
