"""A fake of Tencent Cloud OCR API 3.0 (``GeneralBasicOCR`` / ``GeneralAccurateOCR``, version 2018-11-19).

Protocol as documented (cloud.tencent.com/document/api/866): ``POST /`` with a JSON body, the action and
version in ``X-TC-Action`` / ``X-TC-Version``, and a TC3-HMAC-SHA256 ``Authorization`` header over
``content-type;host`` that the fake recomputes itself from the test key pair (not with the SDK's signer).
Errors are HTTP 200 with ``{"Response": {"Error": {"Code", "Message"}, "RequestId"}}``. Answers come from
the real Tesseract on the received image: ``TextDetections`` with ``Polygon`` (4 corners), ``ItemPolygon``,
``Confidence`` 0..100 and, with ``IsWords``, per-character ``Words`` / ``WordCoordPoint``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import uuid
from datetime import UTC, datetime

from tests.fakes_services.reading import image_format, read_image
from tests.fakes_services.server import LoopbackService, RecordedRequest, Reply

SECRET_ID, SECRET_KEY = "AKIDfakeTencentSecretId0001", "fakeTencentSecretKey7d41c9a2"
VERSION, SERVICE = "2018-11-19", "ocr"
ACTIONS = ("GeneralBasicOCR", "GeneralAccurateOCR")
GENERIC = {"throttled": "RequestLimitExceeded", "quota": "ResourceUnavailable.ResourcePackageRunOut",
           "rejected": "FailedOperation.ImageSizeTooLarge", "server_error": "http:502"}
AUTH = re.compile(r"TC3-HMAC-SHA256 Credential=(?P<id>[^/]+)/(?P<date>\d{4}-\d{2}-\d{2})/(?P<service>[^/]+)"
                  r"/tc3_request, SignedHeaders=(?P<signed>[^,]+), Signature=(?P<signature>[0-9a-f]{64})")
MAX_BASE64, MIN_SIDE, MAX_SIDE = 10 * 1024 * 1024, 20, 10_000
LANGS = {"zh": "chi_sim+eng", "zh_rare": "chi_sim+eng", "mix": "chi_sim+eng"}


class TencentFake(LoopbackService):
    @property
    def ocr_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.headers.get("x-tc-action") in ACTIONS]

    def payload(self, request: RecordedRequest) -> dict[str, object]:
        return json.loads(request.body)

    def received_images(self) -> list[bytes]:
        return [base64.b64decode(str(self.payload(r)["ImageBase64"])) for r in self.ocr_requests]

    def handle(self, request: RecordedRequest) -> Reply:
        problem = self._auth_problem(request)
        if problem:
            return _error(problem)
        action = request.headers.get("x-tc-action", "")
        if request.method != "POST" or request.path != "/" or action not in ACTIONS:
            return _error("InvalidAction")
        if request.headers.get("x-tc-version") != VERSION:
            return _error("NoSuchVersion")
        failure = self.next_failure()
        failure = GENERIC.get(str(failure), failure) if failure is not None else None
        if failure == "garbage":
            return Reply(200, b"<html>gateway</html>", {"Content-Type": "application/json"})
        if isinstance(failure, str) and failure.startswith("http:"):
            return Reply(int(failure[5:]), b"<html><body>502 Bad Gateway</body></html>",
                         {"Content-Type": "text/html"})
        if failure is not None:
            return _error(str(failure))
        return self._ocr(action, request)

    def _ocr(self, action: str, request: RecordedRequest) -> Reply:
        try:
            body = json.loads(request.body)
            encoded = str(body.get("ImageBase64") or "")
        except (ValueError, AttributeError):
            return _error("InvalidParameter", "request body is not a JSON object")
        if not encoded:
            return _error("MissingParameter", "ImageBase64 or ImageUrl is required")
        if len(encoded) > MAX_BASE64:
            return _error("FailedOperation.ImageSizeTooLarge")
        try:
            data = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            return _error("FailedOperation.ImageDecodeFailed")
        if image_format(data) is None:
            return _error("FailedOperation.ImageDecodeFailed")
        language = str(body.get("LanguageType") or "zh") if action == "GeneralBasicOCR" else "zh"
        lines, (width, height) = read_image(data, LANGS.get(language, "eng"))
        if max(width, height) > MAX_SIDE or min(width, height) < MIN_SIDE:
            return _error("FailedOperation.ImageSizeTooLarge")
        if not lines:
            return _error("FailedOperation.ImageNoText")
        detections = [self._detection(line, bool(body.get("IsWords"))) for line in lines]
        response: dict[str, object] = {"TextDetections": detections, "Angel": 0.0, "Angle": 0.0,
                                       "RequestId": str(uuid.uuid4())}
        if action == "GeneralBasicOCR":
            response.update({"Language": language, "PdfPageSize": 0})
        return _json({"Response": response})

    @staticmethod
    def _detection(line, words: bool) -> dict[str, object]:
        box = line.box
        item: dict[str, object] = {
            "DetectedText": line.text, "Confidence": round(line.confidence * 100), "Polygon": _corners(box),
            "AdvancedInfo": json.dumps({"Parag": {"ParagNo": 1}}),
            "ItemPolygon": {"X": box.left, "Y": box.top, "Width": box.width, "Height": box.height},
        }
        if words:
            chars = [(char, word, i) for word in line.words for i, char in enumerate(word.text)]
            item["Words"] = [{"Confidence": round(word.confidence * 100), "Character": char}
                             for char, word, _ in chars]
            item["WordCoordPoint"] = [{"WordCoordinate": _corners(_char_box(word.box, i, len(word.text)))}
                                      for _, word, i in chars]
        return item

    @staticmethod
    def _auth_problem(request: RecordedRequest) -> str | None:
        """None when the TC3 signature is the one computed from the fake's key pair, else the error code."""
        match = AUTH.fullmatch(request.headers.get("authorization", ""))
        if not match or match["service"] != SERVICE or match["signed"] != "content-type;host":
            return "AuthFailure.InvalidAuthorization"
        if match["id"] != SECRET_ID:
            return "AuthFailure.SecretIdNotFound"
        timestamp = request.headers.get("x-tc-timestamp", "0")
        if datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%d") != match["date"]:
            return "AuthFailure.SignatureFailure"
        canonical = "\n".join(["POST", "/", "", f"content-type:{request.headers.get('content-type', '')}",
                               f"host:{request.headers.get('host', '')}", "", "content-type;host",
                               hashlib.sha256(request.body).hexdigest()])
        scope = f"{match['date']}/{SERVICE}/tc3_request"
        to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        key = _hmac(_hmac(_hmac(f"TC3{SECRET_KEY}".encode(), match["date"]), SERVICE), "tc3_request")
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        return None if hmac.compare_digest(expected, match["signature"]) else "AuthFailure.SignatureFailure"


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def _corners(box) -> list[dict[str, int]]:
    right, bottom = box.left + box.width, box.top + box.height
    return [{"X": box.left, "Y": box.top}, {"X": right, "Y": box.top}, {"X": right, "Y": bottom},
            {"X": box.left, "Y": bottom}]


class _Box:
    def __init__(self, left: int, top: int, width: int, height: int) -> None:
        self.left, self.top, self.width, self.height = left, top, width, height


def _char_box(box, index: int, count: int) -> _Box:
    left = box.left + box.width * index // count
    right = box.left + box.width * (index + 1) // count
    return _Box(left, box.top, max(1, right - left), box.height)


def _json(body: object) -> Reply:
    # The SDK parses an error body only when the Content-Type is exactly this.
    return Reply(200, json.dumps(body).encode(), {"Content-Type": "application/json"})


def _error(code: str, message: str = "") -> Reply:
    return _json({"Response": {"Error": {"Code": code, "Message": message or f"fake {code}"},
                               "RequestId": str(uuid.uuid4())}})
