"""Tencent Cloud OCR (``tencentcloud-sdk-python-ocr``) as an s3ocr engine: GeneralBasicOCR and GeneralAccurateOCR.

The SDK signs with TC3-HMAC-SHA256 and raises ``TencentCloudSDKException`` with the service's error code;
API 3.0 answers errors as HTTP 200 with ``Response.Error``. The SDK's region breaker is off (it would send
requests to a backup domain, past a test or private endpoint) and so are its retries: the shared helper
retries within the page budget, and every request's read timeout is what is left of that budget.
"""

from __future__ import annotations

import base64
import functools
import importlib.metadata
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

import requests
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.ocr.v20181119 import models, ocr_client

from s3ocr.engines.base import BaseEngine
from s3ocr.engines.imagelimits import FittedImage, ImageLimits, base64_size, send_fitted
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
from s3ocr.models import Box, Line, PageImage, Recognition, mean_word_confidence
from s3ocr.secrets import CREDENTIAL_VARIABLES, RedactingFilter, SecretSource

ENDPOINT_ENV, REGION_ENV = "TENCENT_OCR_ENDPOINT", "TENCENTCLOUD_REGION"
SECRET_ID_ENV, SECRET_KEY_ENV = CREDENTIAL_VARIABLES["tencent"]
DEFAULT_ENDPOINT, DEFAULT_REGION = "https://ocr.tencentcloudapi.com", "ap-guangzhou"
CONNECT_TIMEOUT = 5.0

# GeneralBasicOCR / GeneralAccurateOCR (cloud.tencent.com/document/api/866/33526 and /34937, and the SDK's
# request models): ImageBase64 at most 10 MB after base64, PNG/JPG/JPEG/BMP. No maximum side is documented
# for these two; their sibling APIs document 7 MB and 20..10,000 px a side, which is what is sent here.
TENCENT_LIMITS = ImageLimits(max_bytes=7 * 1024 * 1024, max_side=10_000, min_side=20, encoded_size=base64_size)

# Error codes: the OCR product's (tencentcloud/ocr/v20181119/errorcodes.py) and API 3.0's common ones.
RETRYABLE = frozenset({
    "ClientNetworkError", "ServerNetworkError", "JSONDecodeError", "RequestLimitExceeded", "InternalError",
    "ServiceUnavailable", "FailedOperation.OcrFailed", "FailedOperation.UnKnowError",
    "FailedOperation.EngineRecognizeTimeout", "FailedOperation.ResponseParseFailed",
})
RETRYABLE_PREFIXES = ("RequestLimitExceeded.", "InternalError.")
QUOTA = frozenset({
    "ResourceUnavailable.InArrears", "ResourceUnavailable.ResourcePackageRunOut",
    "ResourcesSoldOut.ChargeStatusException", "FailedOperation.ArrearsError", "FailedOperation.CountLimitError",
    "LimitExceeded",  # API 3.0's bare "quota exceeded"; LimitExceeded.TooLargeFileError is about the image
})
REJECTED = frozenset({
    "FailedOperation.ImageDecodeFailed", "FailedOperation.ImageSizeTooLarge", "FailedOperation.DownLoadError",
    "FailedOperation.EmptyImageError", "FailedOperation.UnKnowFileTypeError", "FailedOperation.FileDecodeFailed",
    "InvalidParameter.EngineImageDecodeFailed", "LimitExceeded.TooLargeFileError", "RequestSizeLimitExceeded",
})
CONFIGURATION = frozenset({
    "FailedOperation.UnOpenError", "FailedOperation.LanguageNotSupport", "InvalidParameter.ConfigFormatError",
    "UnauthorizedOperation", "UnsupportedRegion", "InvalidAction", "NoSuchVersion", "MissingParameter",
    "UnknownParameter", "IpInBlacklist", "IpNotInWhitelist",
})
CONFIGURATION_PREFIXES = ("AuthFailure", "UnauthorizedOperation.")
NO_TEXT = "FailedOperation.ImageNoText"  # a blank page: an empty result, not a failure

# Tesseract language codes to GeneralBasicOCR's LanguageType; every type also reads English.
LANGUAGE_TYPES = {
    "chi_sim": "zh", "chi_sim_vert": "zh", "chi_tra": "zh_rare", "chi_tra_vert": "zh_rare", "jpn": "jap",
    "kor": "kor", "spa": "spa", "fra": "fre", "deu": "ger", "por": "por", "vie": "vie", "msa": "may",
    "rus": "rus", "ita": "ita", "nld": "hol", "swe": "swe", "fin": "fin", "dan": "dan", "nor": "nor",
    "hun": "hun", "tha": "tha", "hin": "hi", "ara": "ara",
}
ACCURATE_LANGUAGES = frozenset({"eng", "chi_sim", "chi_tra", "chi_sim_vert", "chi_tra_vert"})


@dataclass(frozen=True)
class TencentApi:
    action: str
    engine_name: str
    language_type: bool  # takes LanguageType (GeneralAccurateOCR reads Chinese and English only)


APIS: dict[str, TencentApi] = {
    "basic": TencentApi("GeneralBasicOCR", "tencent", True),
    "accurate": TencentApi("GeneralAccurateOCR", "tencent-accurate", False),
}


@dataclass(frozen=True)
class TencentCredentials:
    """A CAM API key pair; the repr never shows it."""

    secret_id: str = field(repr=False)
    secret_key: str = field(repr=False)


def tencent_credentials(source: SecretSource | None = None) -> TencentCredentials:
    """The key pair from the OCR secret (Lambda) or the environment (CLI), as ``secrets`` reads them."""
    found = (source or SecretSource()).require(SECRET_ID_ENV, SECRET_KEY_ENV)
    return TencentCredentials(found[SECRET_ID_ENV], found[SECRET_KEY_ENV])


def language_type(languages: str) -> str:
    """GeneralBasicOCR's ``LanguageType`` for Tesseract-style ``languages`` (``chi_sim+eng`` -> ``zh``)."""
    codes = [code for code in languages.split("+") if code and code not in ("osd", "eng")]
    unknown = sorted(set(codes) - set(LANGUAGE_TYPES))
    if unknown:
        raise ConfigurationError(f"Tencent OCR has no language for {', '.join(unknown)}")
    types = {LANGUAGE_TYPES[code] for code in codes}
    if not types:
        return "auto"  # English alone has no type of its own; detection reads it
    return types.pop() if len(types) == 1 else "mix"


class TencentRejectedError(RejectedInputError):
    """The service refused this encoding of the page; the engine re-encodes once before giving up."""


def classify(error: TencentCloudSDKException) -> S3OcrError:
    """The s3ocr error a Tencent error code means (by code, or the transport error behind it)."""
    code = str(error.code or "")
    message = f"Tencent OCR {code}: {error.message} (request {error.requestId or '-'})"
    # The SDK wraps transport errors in the except block that caught them, so the cause is the context;
    # it reads bodies outside its own try (stream=True): a read timeout there arrives as "ConnectionError".
    cause = error.__context__
    if isinstance(cause, requests.exceptions.SSLError):
        return ConfigurationError(f"TLS verification failed for Tencent OCR ({code})")
    if isinstance(cause, requests.RequestException):
        return EngineUnavailableError(f"Tencent OCR unreachable: {type(cause).__name__} ({code})")
    if code in RETRYABLE or code.startswith(RETRYABLE_PREFIXES):
        return EngineUnavailableError(message)
    if code in QUOTA:
        return EngineQuotaError(message)
    if code in REJECTED:
        return TencentRejectedError(message)
    if code in CONFIGURATION or code.startswith(CONFIGURATION_PREFIXES):
        return ConfigurationError(message)
    return EngineError(message)


class TencentEngine(BaseEngine):
    """Tencent Cloud general OCR: line polygons, per-character boxes (``IsWords``) and confidences."""

    def __init__(
        self,
        api: str = "basic",
        *,
        name: str | None = None,
        credentials: Callable[[], TencentCredentials] | None = None,
        endpoint: str | None = None,
        region: str | None = None,
        backoff: Backoff | None = None,
        limits: ImageLimits = TENCENT_LIMITS,
        env: Mapping[str, str] | None = None,
    ) -> None:
        if api not in APIS:
            raise ConfigurationError(f"unknown Tencent OCR API {api!r}; available: {', '.join(APIS)}")
        env = os.environ if env is None else env
        self.api = APIS[api]
        self.name = name or self.api.engine_name
        self.endpoint = endpoint or env.get(ENDPOINT_ENV, "").strip() or DEFAULT_ENDPOINT
        self.region = region or env.get(REGION_ENV, "").strip() or DEFAULT_REGION
        self.backoff = backoff or Backoff()
        self.limits = limits
        self._ca_bundle = env.get("REQUESTS_CA_BUNDLE") or None  # the SDK reads certifi's bundle otherwise
        self._credentials = credentials or tencent_credentials
        self._local = threading.local()  # one client per thread: its requests session and timeout are its own

    @property
    def version(self) -> str:
        return f"tencentcloud-sdk-python-ocr {sdk_version()} {self.api.action}"

    def client(self, timeout: float) -> ocr_client.OcrClient:
        """This thread's client for the current credentials, its next request bounded by ``timeout``."""
        credentials = self._credentials()
        if getattr(self._local, "credentials", None) != credentials:
            parts = urlsplit(self.endpoint if "://" in self.endpoint else f"https://{self.endpoint}")
            http = HttpProfile(protocol=parts.scheme, endpoint=parts.netloc, certification=self._ca_bundle)
            profile = ClientProfile(httpProfile=http, disable_region_breaker=True)
            cred = credential.Credential(credentials.secret_id, credentials.secret_key)
            self._local.client = ocr_client.OcrClient(cred, self.region, profile)
            self._local.credentials = credentials
        client: ocr_client.OcrClient = self._local.client
        client.request.conn.timeout = (min(CONNECT_TIMEOUT, timeout), timeout)
        return client

    def request(self, image: FittedImage, languages: str) -> Any:
        request = getattr(models, f"{self.api.action}Request")()
        request.ImageBase64 = _base64(image.data)
        request.IsWords = True  # per-character boxes, from which the word boxes are built
        if self.api.language_type:
            request.LanguageType = language_type(languages)
        else:
            unknown = sorted(set(languages.split("+")) - ACCURATE_LANGUAGES - {"", "osd"})
            if unknown:
                raise ConfigurationError(f"{self.api.action} reads Chinese and English only, not {', '.join(unknown)}")
        return request

    def recognize(self, page: PageImage, languages: str, timeout: float) -> Recognition:
        deadline = Deadline(timeout)
        detections, image = send_fitted(page.path, self.limits, lambda fitted: call_with_retry(
            functools.partial(self._attempt, fitted, self.request(fitted, languages)), deadline=deadline,
            backoff=self.backoff, limiter=limiter_for(self.name)))
        return replace(self.parse(detections, image, page), engine=self.name)

    def _attempt(self, image: FittedImage, request: Any, remaining: float) -> Sequence[Any]:
        client = self.client(max(0.001, remaining))
        try:
            response = getattr(client, self.api.action)(request)
        except TencentCloudSDKException as e:
            if e.code == NO_TEXT:
                return []
            raise classify(e) from e
        return response.TextDetections or []

    def parse(self, detections: Sequence[Any], image: FittedImage, page: PageImage) -> Recognition:
        """``TextDetections`` as lines with word boxes, in the page image's coordinates."""
        lines = [_line(item, image, page) for item in detections if str(item.DetectedText or "").strip()]
        return Recognition(text="\n".join(line.text for line in lines), lines=tuple(lines),
                           mean_confidence=mean_word_confidence(lines))


def _base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _confidence(value: Any) -> float:
    return round(min(1.0, max(0.0, float(value or 0) / 100)), 4)


def _polygon_box(points: Sequence[Any] | None, image: FittedImage, page: PageImage) -> Box | None:
    """The axis-aligned box around a polygon of ``Coord`` (the service returns four corners)."""
    xs = [float(p.X) for p in points or [] if p.X is not None]
    ys = [float(p.Y) for p in points or [] if p.Y is not None]
    if not xs or not ys:
        return None
    return image.box_to_page(min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys), page)


def _line(item: Any, image: FittedImage, page: PageImage) -> Line:
    text = str(item.DetectedText).strip()
    box = _polygon_box(item.Polygon, image, page)
    if box is None:  # ItemPolygon is (X, Y, Width, Height) after the service's own deskew: a fallback only
        rect = item.ItemPolygon
        box = image.box_to_page(float(rect.X or 0), float(rect.Y or 0), float(rect.Width or 0),
                                float(rect.Height or 0), page) if rect else Box(0, 0, 0, 0)
    confidence = _confidence(item.Confidence)
    chars = _character_boxes(item, image, page)
    return Line(text=text, box=box, confidence=confidence, words=split_words(text, box, confidence, chars))


def _character_boxes(item: Any, image: FittedImage, page: PageImage) -> list[tuple[Box, float]] | None:
    """(box, confidence) per recognised character, when ``Words`` and ``WordCoordPoint`` agree."""
    characters, points = item.Words or [], item.WordCoordPoint or []
    if not characters or len(characters) != len(points):
        return None
    boxes = [_polygon_box(point.WordCoordinate, image, page) for point in points]
    if any(box is None for box in boxes):
        return None
    return [(box, _confidence(char.Confidence)) for box, char in zip(boxes, characters, strict=True)
            if box is not None and str(char.Character or "").strip()]


@functools.cache
def sdk_version() -> str:
    return importlib.metadata.version("tencentcloud-sdk-python-ocr")


# The SDK logs whole requests at DEBUG (the Authorization header names the SecretId); blank the key pair.
_sdk_logger = logging.getLogger("tencentcloud_sdk_common")
if not any(isinstance(f, RedactingFilter) for f in _sdk_logger.filters):
    _sdk_logger.addFilter(RedactingFilter())
