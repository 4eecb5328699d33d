"""The ``baidu-aip`` SDK held to s3ocr's rules: TLS verified, failures typed, timeouts from the page budget.

What this changes in the SDK (baidu-aip 4.16.13, ``aip/base.py``):

- The SDK posts with ``verify=False`` (and silences urllib3's warning process-wide). Every request here
  verifies TLS, honouring ``REQUESTS_CA_BUNDLE``; a certificate failure is a ``ConfigurationError``.
- The SDK returns error dicts and lets HTTP failures escape as bare ``requests``/JSON errors. Here each
  documented error code maps to one s3ocr error (``classify``), and transport failures are typed too.
- The SDK refreshes its access token on error 110 only, through the module-level ``requests`` (with
  ``verify=False`` again). Here 110 and 111 refresh the token once, through the verifying session.
- The SDK's timeouts are a fixed 60 s. Here every request is bounded by what is left of the page budget.
- Credentials travel in Baidu's URLs (token request: the key pair; OCR requests: the access token), and
  ``requests`` quotes URLs in its errors: those errors are redacted before anything can log or trace them.
"""

from __future__ import annotations

import functools
import importlib.metadata
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
import requests.adapters
from aip import AipOcr

from s3ocr.errors import (
    ConfigurationError,
    EngineError,
    EngineQuotaError,
    EngineUnavailableError,
    RejectedInputError,
    S3OcrError,
)
from s3ocr.secrets import BaiduCredentials, redact

DEFAULT_ENDPOINT = "https://aip.baidubce.com"
DEFAULT_TOKEN_URL = "https://aip.baidubce.com/oauth/2.0/token"
ENDPOINT_ENV, TOKEN_URL_ENV = "BAIDU_OCR_ENDPOINT", "BAIDU_TOKEN_URL"
CONNECT_TIMEOUT = 5.0


@dataclass(frozen=True)
class BaiduApi:
    method: str  # the AipOcr method
    path: str  # under /rest/2.0/ocr/v1/
    url_attr: str  # the SDK's name-mangled class attribute holding the URL
    engine_name: str
    located: bool  # returns a location per line (and per character with recognize_granularity=small)


APIS: dict[str, BaiduApi] = {
    # Registry names: the two located APIs are the useful ones for the pipeline (boxes for hOCR/PDF).
    "general": BaiduApi("general", "general", "_AipOcr__generalUrl", "baidu", True),
    "accurate": BaiduApi("accurate", "accurate", "_AipOcr__accurateUrl", "baidu-accurate", True),
    "basicGeneral": BaiduApi("basicGeneral", "general_basic", "_AipOcr__generalBasicUrl", "baidu-basic", False),
    "basicAccurate": BaiduApi("basicAccurate", "accurate_basic", "_AipOcr__accurateBasicUrl", "baidu-accurate-basic",
                              False),
}


# Error codes from the OCR error table (ai.baidu.com/ai-doc/OCR/dk3h7y5vr) and the Python SDK's own (SDK108).
RETRYABLE = frozenset({"1", "2", "4", "18", "282000", "216630", "SDK108"})  # unknown, unavailable, cluster/QPS limit
TOKEN_ERRORS = frozenset({"110", "111"})  # access token invalid / expired
QUOTA = frozenset({"17", "19"})  # daily / total request limit reached
REJECTED = frozenset({"216200", "216201", "216202", "216203"})  # empty image, format, size, base64
CONFIGURATION = frozenset({"3", "6", "14", "100", "216100", "216101", "216102", "216103", "216110"})


class ImageRejectedError(RejectedInputError):
    """The service refused this encoding of the page; the engine re-encodes once before giving up."""


class _Redacted(Exception):
    """Stands in for a ``requests`` error as the cause: its message carries the URL, and the URL carries
    the access token (or, for the token request, the secret key)."""


def classify(result: Mapping[str, Any]) -> Mapping[str, Any]:
    """The result itself when it is not an error; otherwise the s3ocr error its ``error_code`` means."""
    if "error_code" not in result:
        return result
    code = str(result["error_code"])
    message = f"Baidu OCR error {code}: {result.get('error_msg', '')} (log_id {result.get('log_id', '-')})"
    if code in RETRYABLE:
        raise EngineUnavailableError(message)
    if code in QUOTA:
        raise EngineQuotaError(message)
    if code in REJECTED:
        raise ImageRejectedError(message)
    if code in TOKEN_ERRORS:
        raise ConfigurationError(f"{message}, even with a fresh access token")
    if code in CONFIGURATION:
        raise ConfigurationError(message)
    raise EngineError(message)


def _transport_error(what: str, error: requests.RequestException) -> S3OcrError:
    if isinstance(error, requests.exceptions.SSLError):
        return ConfigurationError(f"TLS verification failed for the Baidu {what}")
    if isinstance(error, requests.exceptions.Timeout):
        return EngineUnavailableError(f"Baidu {what} timed out (SDK108)")
    return EngineUnavailableError(f"Baidu {what} failed: {type(error).__name__}")


def _redacted(error: requests.RequestException) -> _Redacted:
    return _Redacted(f"{type(error).__name__}: {redact(str(error))}")


def _json_body(response: requests.Response, what: str) -> dict[str, Any]:
    if response.status_code >= 500 or response.status_code == 429:
        raise EngineUnavailableError(f"Baidu {what} answered HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError as e:
        raise EngineUnavailableError(f"Baidu {what} answered HTTP {response.status_code}, not JSON") from e
    if not isinstance(body, dict):
        raise EngineError(f"Baidu {what} answered a JSON {type(body).__name__}, not an object")
    return body


class _RedactingAdapter(requests.adapters.HTTPAdapter):
    """requests writes the full URL into its connection errors, and Baidu's URLs carry the access token
    (or the secret key). Tracers that patch requests (X-Ray, through Powertools' Tracer) record those
    errors before the engine sees them, so they are rewritten here, at the bottom of the stack."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        try:
            return super().send(request, *args, **kwargs)
        except requests.RequestException as e:
            raise type(e)(redact(str(e)), request=e.request, response=e.response) from None


class _VerifyingSession(requests.Session):
    """A session that refuses to turn TLS verification off, whoever asks, and redacts its errors."""

    def __init__(self) -> None:
        super().__init__()
        self.mount("https://", _RedactingAdapter())
        self.mount("http://", _RedactingAdapter())

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("verify") is False:
            kwargs["verify"] = True
        return super().request(method, url, *args, **kwargs)


class VerifiedAipOcr(AipOcr):
    """``AipOcr`` with TLS verified, typed failures, a token refreshed on 110/111 and per-call timeouts."""

    def __init__(self, credentials: BaiduCredentials, *, endpoint: str, token_url: str) -> None:
        super().__init__(credentials.app_id, credentials.api_key, credentials.secret_key)
        self._authObj: dict[str, Any] = {}
        self._isCloudUser: bool | None = None
        self.credentials = credentials
        self.s = _VerifyingSession()
        self._AipBase__client = self.s  # the SDK's token and retry paths go through this attribute
        self._AipBase__accessTokenUrl = token_url
        for api in APIS.values():
            setattr(self, api.url_attr, f"{endpoint}/rest/2.0/ocr/v1/{api.path}")
        self._call = threading.local()
        self._auth_lock = threading.Lock()

    def call(self, api: BaiduApi, image: bytes, options: Mapping[str, str], timeout: float) -> dict[str, Any]:
        """One SDK call bounded by ``timeout`` seconds: the result dict, or a typed transport error."""
        self._call.timeout = max(0.001, timeout)
        return getattr(self, api.method)(image, dict(options))

    def _timeouts(self) -> tuple[float, float]:
        total = getattr(self._call, "timeout", 60.0)
        return min(total, CONNECT_TIMEOUT), total

    def _request(self, url: str, data: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
        result = self._post(url, data, headers, self._auth())
        if not self._isCloudUser and str(result.get("error_code")) in TOKEN_ERRORS:
            result = self._post(url, data, headers, self._auth(refresh=True))
        return result

    def _post(self, url: str, data: dict[str, Any], headers: dict[str, str] | None,
              auth: dict[str, Any]) -> dict[str, Any]:
        params = self._getParams(auth)
        body = self._proccessRequest(url, params, data, headers)
        signed = self._getAuthHeaders("POST", url, params, dict(headers or {}))
        try:
            response = self.s.post(url, data=body, params=params, headers=signed, verify=True,
                                   timeout=self._timeouts(), proxies=self._proxies)
        except requests.RequestException as e:
            raise _transport_error("OCR request", e) from _redacted(e)
        with response:
            return _json_body(response, "OCR request")

    def _auth(self, refresh: bool = False) -> dict[str, Any]:
        with self._auth_lock:
            if self._isCloudUser:
                return self._authObj
            expires = self._authObj.get("time", 0) + int(self._authObj.get("expires_in", 0)) - 30
            if not refresh and expires > time.time():
                return self._authObj
            params = {"grant_type": "client_credentials", "client_id": self._apiKey,
                      "client_secret": self._secretKey}
            try:
                response = self.s.get(self._AipBase__accessTokenUrl, params=params, verify=True,
                                      timeout=self._timeouts(), proxies=self._proxies)
            except requests.RequestException as e:
                raise _transport_error("token request", e) from _redacted(e)
            with response:
                token = _json_body(response, "token request")
            if "access_token" not in token:
                # OAuth errors: {"error": "invalid_client", "error_description": "unknown client id"}.
                raise ConfigurationError(
                    f"Baidu refused the API key: {token.get('error', '?')}: {token.get('error_description', '')}")
            self._isCloudUser = not self._isPermission(token)
            token["time"] = int(time.time())
            self._authObj = token
            return token


@functools.cache
def sdk_version() -> str:
    return importlib.metadata.version("baidu-aip")
