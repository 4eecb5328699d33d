"""A fake of Alibaba Cloud OCR ``RecognizeGeneral`` (ocr-api, version 2021-07-07).

Protocol as the V3 request signature documents it (help.aliyun.com, "V3 版本请求体&签名机制"): ``POST /``
with the image bytes as an ``application/octet-stream`` body, ``x-acs-action`` / ``x-acs-version``,
``x-acs-content-sha256`` (the body's SHA-256) and ``Authorization: ACS3-HMAC-SHA256 Credential=<AccessKeyId>,
SignedHeaders=..., Signature=...``, which the fake recomputes itself from the test key pair. Errors are
HTTP 4xx/5xx with ``{"RequestId", "HostId", "Code", "Message", "Recommend"}`` as in the ocr-api error code
table. Answers come from the real Tesseract on the received image: ``Data`` is a JSON *string* with
``content`` and ``prism_wordsInfo`` (one item per line: ``word``, ``prob`` 0..100, ``pos`` = 4 corners).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from urllib.parse import quote

from tests.fakes_services.reading import image_format, read_image
from tests.fakes_services.server import LoopbackService, RecordedRequest, Reply

ACCESS_KEY_ID, ACCESS_KEY_SECRET = "LTAI5tFakeAliyunKeyId01", "fakeAliyunKeySecret9c3e1b7d"
ACTION, VERSION = "RecognizeGeneral", "2021-07-07"
GENERIC = {"throttled": "Throttling.User", "quota": "OcrServiceExpired", "rejected": "illegalImageSize",
           "server_error": "http:502"}
STATUS = {"Throttling.User": 429, "Throttling": 429, "OcrServiceExpired": 401, "illegalImageSize": 416,
          "exceededImageContent": 413, "unsupportedImageFormat": 415, "unmatchedImageType": 400,
          "algorithmError": 503, "InternalError": 500, "ServiceUnavailable": 503, "noPermission": 401,
          "ocrServiceNotOpen": 401, "InvalidAccessKeyId.NotFound": 404, "SignatureDoesNotMatch": 400,
          "MissingAuthorization": 400}
AUTH = re.compile(r"ACS3-HMAC-SHA256 Credential=(?P<id>[^,]+),SignedHeaders=(?P<signed>[^,]+),"
                  r"Signature=(?P<signature>[0-9a-f]{64})")
MAX_BYTES, MIN_SIDE, MAX_SIDE = 10 * 1024 * 1024, 16, 8191


class AliyunFake(LoopbackService):
    @property
    def ocr_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.headers.get("x-acs-action") == ACTION]

    def received_images(self) -> list[bytes]:
        return [r.body for r in self.ocr_requests]

    def handle(self, request: RecordedRequest) -> Reply:
        problem = self._auth_problem(request)
        if problem:
            return _error(problem)
        if request.method != "POST" or request.headers.get("x-acs-action") != ACTION:
            return _error("InvalidApi.NotFound", status=404)
        if request.headers.get("x-acs-version") != VERSION:
            return _error("InvalidVersion", status=400)
        failure = self.next_failure()
        failure = GENERIC.get(str(failure), failure) if failure is not None else None
        if isinstance(failure, str) and failure.startswith("http:"):
            return Reply(int(failure[5:]), b"<html><body>502 Bad Gateway</body></html>",
                         {"Content-Type": "text/html"})
        if failure is not None:
            return _error(str(failure))
        return self._ocr(request)

    def _ocr(self, request: RecordedRequest) -> Reply:
        data = request.body
        if not data:
            return _error("MissingImageUrl", status=400)
        if len(data) > MAX_BYTES:
            return _error("exceededImageContent")
        if image_format(data) is None:
            return _error("unsupportedImageFormat")
        lines, (width, height) = read_image(data, "chi_sim+eng")
        if max(width, height) > MAX_SIDE or min(width, height) < MIN_SIDE:
            return _error("illegalImageSize")
        words = [{"angle": 0, "direction": 0, "x": line.box.left, "y": line.box.top, "width": line.box.width,
                  "height": line.box.height, "pos": _corners(line.box), "prob": round(line.confidence * 100),
                  "word": line.text} for line in lines]
        result = {"content": " ".join(line.text for line in lines), "height": height, "width": width,
                  "orgHeight": height, "orgWidth": width, "prism_version": "1.0.9", "prism_wnum": len(words),
                  "prism_wordsInfo": words}
        return _json({"RequestId": str(uuid.uuid4()).upper(), "Data": json.dumps(result, ensure_ascii=False)})

    @staticmethod
    def _auth_problem(request: RecordedRequest) -> str | None:
        """None when the ACS3 signature is the one computed from the fake's key pair, else the error code."""
        match = AUTH.fullmatch(request.headers.get("authorization", ""))
        if not match:
            return "MissingAuthorization"
        if match["id"] != ACCESS_KEY_ID:
            return "InvalidAccessKeyId.NotFound"
        signed = match["signed"].split(";")
        if not {"host", "x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce"} <= set(signed):
            return "IncompleteSignature"
        payload_hash = hashlib.sha256(request.body).hexdigest()
        if request.headers.get("x-acs-content-sha256") != payload_hash:
            return "SignatureDoesNotMatch"
        query = "&".join(f"{quote(k, safe='~')}={quote(v[0], safe='~')}" for k, v in sorted(request.query.items()))
        headers = "".join(f"{name}:{request.headers.get(name, '').strip()}\n" for name in signed)
        canonical = "\n".join([request.method, request.path or "/", query, headers, match["signed"], payload_hash])
        to_sign = f"ACS3-HMAC-SHA256\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        expected = hmac.new(ACCESS_KEY_SECRET.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
        return None if hmac.compare_digest(expected, match["signature"]) else "SignatureDoesNotMatch"


def _corners(box) -> list[dict[str, int]]:
    right, bottom = box.left + box.width, box.top + box.height
    return [{"x": box.left, "y": box.top}, {"x": right, "y": box.top}, {"x": right, "y": bottom},
            {"x": box.left, "y": bottom}]


def _json(body: object, status: int = 200) -> Reply:
    return Reply(status, json.dumps(body).encode(), {"Content-Type": "application/json;charset=utf-8"})


def _error(code: str, status: int | None = None) -> Reply:
    request_id = str(uuid.uuid4()).upper()
    return _json({"RequestId": request_id, "HostId": "ocr-api.cn-hangzhou.aliyuncs.com", "Code": code,
                  "Message": f"fake {code}",
                  "Recommend": f"https://api.aliyun.com/troubleshoot?q={code}&product=ocr-api&requestId={request_id}"},
                 status or STATUS.get(code, 400))
