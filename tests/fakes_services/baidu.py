"""A fake of Baidu AI Cloud's OAuth token endpoint and general OCR APIs (``/rest/2.0/ocr/v1/...``).

Protocol as documented (ai.baidu.com/ai-doc/OCR): the token request carries ``grant_type``,
``client_id`` (API key) and ``client_secret`` (secret key) as query parameters; OCR requests are POSTs
with ``access_token`` in the query and a form body with ``image`` (base64, then urlencoded) and the
options. Errors are HTTP 200 with ``{"error_code", "error_msg", "log_id"}``. Answers come from the real
Tesseract run on the received image (``reading``), shaped as ``words_result`` with ``location``,
``probability`` and, for ``recognize_granularity=small``, ``chars``.
"""

from __future__ import annotations

import base64
import binascii
import json
import ssl
import uuid
from urllib.parse import parse_qs

from tests.fakes_services.reading import image_format, read_image
from tests.fakes_services.server import LoopbackService, RecordedRequest, Reply

API_KEY, SECRET_KEY = "fake-api-key-4f1c9a", "fake-secret-key-8d2e7b0c"
OCR_PATHS = ("general_basic", "accurate_basic", "general", "accurate")
LOCATED = ("general", "accurate")
MESSAGES = {
    1: "Unknown error", 2: "Service temporarily unavailable", 4: "Open api request limit reached",
    17: "Open api daily request limit reached", 18: "Open api qps request limit reached",
    19: "Open api total request limit reached", 110: "Access token invalid or no longer valid",
    111: "Access token expired", 216200: "empty image", 216201: "image format error",
    216202: "image size error", 216203: "image size error", 216630: "recognize error", 282000: "internal error",
    6: "No permission to access data",
}
GENERIC = {"throttled": 18, "quota": 17, "rejected": 216202, "server_error": "http:502"}
LANGS = {"ENG": "eng", "CHN_ENG": "chi_sim+eng"}


class BaiduFake(LoopbackService):
    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(tls)
        self.tokens: set[str] = set()
        self.token_requests: list[RecordedRequest] = []
        self.token_failure: object | None = None  # e.g. "http:500": the token endpoint is down

    @property
    def ocr_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.startswith("/rest/2.0/ocr/v1/")]

    def received_images(self) -> list[bytes]:
        return [base64.b64decode(parse_qs(r.body.decode("ascii"))["image"][0]) for r in self.ocr_requests]

    def form(self, request: RecordedRequest) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(request.body.decode("ascii")).items()}

    def expire_tokens(self) -> None:
        """Every token issued so far is refused from now on (error 110), as after a key rotation."""
        self.tokens.clear()

    def handle(self, request: RecordedRequest) -> Reply:
        if request.path == "/oauth/2.0/token":
            return self._token(request)
        path = request.path.removeprefix("/rest/2.0/ocr/v1/")
        if request.method != "POST" or path not in OCR_PATHS:
            return Reply(404, b'{"error_code": 3, "error_msg": "Unsupported openapi method"}')
        if (request.query.get("access_token") or [""])[0] not in self.tokens:
            return _error(110)
        failure = self.next_failure()
        failure = GENERIC.get(failure, failure) if isinstance(failure, str) else failure
        if isinstance(failure, str) and failure.startswith("http:"):
            return Reply(int(failure[5:]), b"<html><body>502 Bad Gateway</body></html>",
                         {"Content-Type": "text/html"})
        if failure is not None:
            return _error(int(failure))
        return self._ocr(path, request)

    def _token(self, request: RecordedRequest) -> Reply:
        self.token_requests.append(request)
        if isinstance(self.token_failure, str) and self.token_failure.startswith("http:"):
            return Reply(int(self.token_failure[5:]), b"upstream error")
        query = {k: v[0] for k, v in request.query.items()}
        if query.get("grant_type") != "client_credentials" or query.get("client_id") != API_KEY:
            return _json({"error": "invalid_client", "error_description": "unknown client id"}, 401)
        if query.get("client_secret") != SECRET_KEY:
            return _json({"error": "invalid_client", "error_description": "Client authentication failed"}, 401)
        token = f"24.{uuid.uuid4().hex}.2592000.1.282335-{uuid.uuid4().int % 10**8}"
        self.tokens.add(token)
        return _json({"access_token": token, "expires_in": 2592000, "refresh_token": f"25.{uuid.uuid4().hex}",
                      "scope": "public brain_all_scope vis-ocr_ocr", "session_key": uuid.uuid4().hex,
                      "session_secret": uuid.uuid4().hex})

    def _ocr(self, path: str, request: RecordedRequest) -> Reply:
        form = {k: v[0] for k, v in parse_qs(request.body.decode("ascii")).items()}
        encoded = form.get("image", "")
        if not encoded:
            return _error(216101) if "image" not in form else _error(216200)
        if len(request.body) > 4 * 1024 * 1024:
            return _error(216202)
        try:
            data = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            return _error(216203)
        if image_format(data) is None:
            return _error(216201)
        lines, (width, height) = read_image(data, LANGS.get(form.get("language_type", "CHN_ENG"), "eng"))
        if max(width, height) > 4096 or min(width, height) < 15:
            return _error(216202)
        items = [self._item(line, path in LOCATED, form) for line in lines]
        body: dict[str, object] = {"log_id": uuid.uuid4().int % 10**19, "words_result_num": len(items),
                                   "words_result": items}
        if form.get("detect_direction") == "true":
            body["direction"] = 0
        if form.get("paragraph") == "true":
            body["paragraphs_result_num"] = 1
            body["paragraphs_result"] = [{"words_result_idx": list(range(len(items)))}]
        return _json(body)

    @staticmethod
    def _item(line, located: bool, form: dict[str, str]) -> dict[str, object]:
        item: dict[str, object] = {"words": line.text}
        if located:
            item["location"] = _location(line.box)
            if form.get("recognize_granularity") == "small":
                item["chars"] = [{"char": char, "location": _char_location(word.box, i, len(word.text))}
                                 for word in line.words for i, char in enumerate(word.text)]
        if form.get("probability") == "true":
            confidences = [w.confidence for w in line.words]
            mean = sum(confidences) / len(confidences)
            item["probability"] = {"average": round(mean, 6), "min": min(confidences),
                                   "variance": round(sum((c - mean) ** 2 for c in confidences) / len(confidences), 8)}
        return item


def _location(box) -> dict[str, int]:
    return {"left": box.left, "top": box.top, "width": box.width, "height": box.height}


def _char_location(box, index: int, count: int) -> dict[str, int]:
    left = box.left + box.width * index // count
    right = box.left + box.width * (index + 1) // count
    return {"left": left, "top": box.top, "width": max(1, right - left), "height": box.height}


def _json(body: object, status: int = 200) -> Reply:
    return Reply(status, json.dumps(body).encode(), {"Content-Type": "application/json;charset=utf-8"})


def _error(code: int) -> Reply:
    return _json({"log_id": uuid.uuid4().int % 10**19, "error_code": code, "error_msg": MESSAGES.get(code, "error")})
