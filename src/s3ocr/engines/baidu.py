"""Baidu AI Cloud general OCR (``baidu-aip``) as an s3ocr engine: lines, word boxes, confidences.

The SDK adapter (TLS, typed errors, token refresh, timeouts) is in ``baidu_sdk``; this module fits the
page to Baidu's limits, retries within the page budget and normalises ``words_result``.
"""

from __future__ import annotations

import base64
import functools
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import quote_plus

from s3ocr.engines.baidu_sdk import (
    APIS,
    DEFAULT_ENDPOINT,
    DEFAULT_TOKEN_URL,
    ENDPOINT_ENV,
    TOKEN_URL_ENV,
    VerifiedAipOcr,
    classify,
    sdk_version,
)
from s3ocr.engines.base import BaseEngine
from s3ocr.engines.imagelimits import FittedImage, ImageLimits, send_fitted
from s3ocr.engines.ratelimit import limiter_for
from s3ocr.engines.retry import Backoff, Deadline, call_with_retry
from s3ocr.engines.wordboxes import split_words
from s3ocr.errors import ConfigurationError
from s3ocr.models import Box, Line, PageImage, Recognition, Word
from s3ocr.secrets import BaiduCredentials, baidu_credentials


def urlencoded_base64_size(data: bytes) -> int:
    """Baidu's size limit applies to the image after base64 *and* urlencoding."""
    return len(quote_plus(base64.b64encode(data)))


# Documented for the general APIs: base64 + urlencode <= 4 MB, shortest side >= 15 px, longest <= 4096 px,
# jpg/png/bmp. (The accurate APIs allow more; the smaller limit is safe for both.)
BAIDU_LIMITS = ImageLimits(max_bytes=4 * 1024 * 1024, max_side=4096, min_side=15,
                           encoded_size=urlencoded_base64_size)

# Tesseract language codes to Baidu's language_type; CHN_ENG reads Latin text too.
LANGUAGE_TYPES = {
    "chi_sim": "CHN_ENG", "chi_tra": "CHN_ENG", "chi_sim_vert": "CHN_ENG", "chi_tra_vert": "CHN_ENG",
    "eng": "ENG", "jpn": "JAP", "kor": "KOR", "fra": "FRE", "deu": "GER", "spa": "SPA", "por": "POR",
    "ita": "ITA", "rus": "RUS",
}


def language_type(languages: str) -> str:
    """Baidu's ``language_type`` for Tesseract-style ``languages`` (``chi_sim+eng`` -> ``CHN_ENG``)."""
    codes = [code for code in languages.split("+") if code and code != "osd"]
    unknown = sorted(set(codes) - set(LANGUAGE_TYPES))
    if unknown:
        raise ConfigurationError(f"Baidu OCR has no language for {', '.join(unknown)}")
    types = {LANGUAGE_TYPES[code] for code in codes} or {"CHN_ENG"}
    if "CHN_ENG" in types:
        return "CHN_ENG"
    others = types - {"ENG"}
    if len(others) > 1:
        raise ConfigurationError(f"Baidu OCR reads one language per request; {languages!r} names {len(others)}")
    return others.pop() if others else "ENG"


class BaiduEngine(BaseEngine):
    """One of Baidu's four general OCR APIs; ``general`` and ``accurate`` give line and word boxes."""

    def __init__(
        self,
        api: str = "general",
        *,
        name: str | None = None,
        credentials: Callable[[], BaiduCredentials] | None = None,
        endpoint: str | None = None,
        token_url: str | None = None,
        backoff: Backoff | None = None,
        limits: ImageLimits = BAIDU_LIMITS,
        detect_direction: bool = False,
        paragraph: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> None:
        if api not in APIS:
            raise ConfigurationError(f"unknown Baidu OCR API {api!r}; available: {', '.join(APIS)}")
        env = os.environ if env is None else env
        self.api = APIS[api]
        self.name = name or self.api.engine_name
        self.endpoint = (endpoint or env.get(ENDPOINT_ENV, "").strip() or DEFAULT_ENDPOINT).rstrip("/")
        self.token_url = token_url or env.get(TOKEN_URL_ENV, "").strip() or DEFAULT_TOKEN_URL
        self.backoff = backoff or Backoff()
        self.limits = limits
        # Off by default: the pipeline rights pages itself, and rotated results would need rotated boxes.
        self.detect_direction = detect_direction
        self.paragraph = paragraph
        self._credentials = credentials or baidu_credentials
        self._client: VerifiedAipOcr | None = None
        self._client_lock = threading.Lock()

    @property
    def version(self) -> str:
        return f"baidu-aip {sdk_version()} {self.api.path}"

    def options(self, languages: str) -> dict[str, str]:
        options = {
            "language_type": language_type(languages),
            "detect_direction": str(self.detect_direction).lower(),
            "paragraph": str(self.paragraph).lower(),
            "probability": "true",
        }
        if self.api.located:
            options["recognize_granularity"] = "small"  # a location per character, hence word boxes
        return options

    def client(self) -> VerifiedAipOcr:
        """The SDK client for the current credentials (rebuilt when a rotated secret brings new ones)."""
        credentials = self._credentials()
        with self._client_lock:
            if self._client is None or self._client.credentials != credentials:
                self._client = VerifiedAipOcr(credentials, endpoint=self.endpoint, token_url=self.token_url)
            return self._client

    def recognize(self, page: PageImage, languages: str, timeout: float) -> Recognition:
        options = self.options(languages)
        deadline = Deadline(timeout)
        client = self.client()
        result, image = send_fitted(page.path, self.limits, lambda fitted: call_with_retry(
            functools.partial(self._attempt, client, fitted, options), deadline=deadline, backoff=self.backoff,
            limiter=limiter_for(self.name)))
        return replace(self.parse(result, image, page), engine=self.name)

    def _attempt(self, client: VerifiedAipOcr, image: FittedImage, options: Mapping[str, str],
                 remaining: float) -> Mapping[str, Any]:
        return classify(client.call(self.api, image.data, options, remaining))

    def parse(self, result: Mapping[str, Any], image: FittedImage, page: PageImage) -> Recognition:
        """``words_result`` as lines (with boxes for the located APIs), in the page image's coordinates."""
        items = [item for item in result.get("words_result") or [] if str(item.get("words", "")).strip()]
        confidences = [_confidence(item) for item in items]
        mean = round(sum(confidences) / len(confidences), 4) if confidences else None
        lines: tuple[Line, ...] = ()
        if self.api.located:
            lines = tuple(_line(item, confidence, image, page) for item, confidence in zip(items, confidences,
                                                                                        strict=True))
        return Recognition(text=_text(result, items), lines=lines, mean_confidence=mean)


def _confidence(item: Mapping[str, Any]) -> float:
    # probability=true is always requested; {"average", "min", "variance"} are per line, 0..1.
    probability = item.get("probability") or {}
    return round(min(1.0, max(0.0, float(probability.get("average", 0.0)))), 4)


def _text(result: Mapping[str, Any], items: list[Mapping[str, Any]]) -> str:
    """Lines joined by newlines; with ``paragraph=true``, paragraphs separated by a blank line."""
    lines = [str(item["words"]).strip() for item in items]
    all_items = result.get("words_result") or []
    paragraphs = result.get("paragraphs_result")
    if not paragraphs:
        return "\n".join(lines)
    texts = []
    for paragraph in paragraphs:
        indexes = [i for i in paragraph.get("words_result_idx", []) if 0 <= i < len(all_items)]
        texts.append("\n".join(str(all_items[i].get("words", "")).strip() for i in indexes))
    return "\n\n".join(text for text in texts if text)


def _line(item: Mapping[str, Any], confidence: float, image: FittedImage, page: PageImage) -> Line:
    text = str(item["words"]).strip()
    box = _box(item.get("location"), image, page)
    return Line(text=text, box=box, confidence=confidence, words=_words(item, text, box, confidence, image, page))


def _box(location: Mapping[str, Any] | None, image: FittedImage, page: PageImage) -> Box:
    location = location or {}
    return image.box_to_page(float(location.get("left", 0)), float(location.get("top", 0)),
                             float(location.get("width", 0)), float(location.get("height", 0)), page)


def _words(item: Mapping[str, Any], text: str, line_box: Box, confidence: float, image: FittedImage,
           page: PageImage) -> tuple[Word, ...]:
    """Baidu gives no word level: words are the line's tokens, boxed by their characters' boxes when the
    per-character boxes match the non-space characters, else by their share of the line box."""
    chars = [(_box(char.get("location"), image, page), confidence) for char in item.get("chars") or []]
    return split_words(text, line_box, confidence, chars or None)
