"""A fake of Amazon Textract's ``DetectDocumentText`` (AWS JSON 1.1 protocol) on loopback.

As documented: ``POST /`` with ``X-Amz-Target: Textract.DetectDocumentText``, an
``application/x-amz-json-1.1`` body ``{"Document": {"Bytes": <base64>}}`` and a SigV4 ``Authorization``
header, which the fake verifies with botocore's own signer and the test credentials. Errors are HTTP 400
(500 for ``InternalServerError``) with ``{"__type": ..., "Message": ...}``. Answers are PAGE, LINE and
WORD blocks from the real Tesseract run on the received image, with relative (0..1) ``BoundingBox`` and
``Polygon`` geometry and ``Confidence`` 0..100. Textract reads Latin scripts only: the fake reads English.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.fakes_services.reading import image_format, read_image
from tests.fakes_services.server import LoopbackService, RecordedRequest, Reply

ACCESS_KEY, SECRET_KEY, REGION = "AKIAFAKETEXTRACT0001", "fake/aws+secret-key-7c41d2", "us-east-1"
GENERIC = {"throttled": "ProvisionedThroughputExceededException", "quota": "LimitExceededException",
           "rejected": "DocumentTooLargeException", "server_error": "InternalServerError"}
AUTH = re.compile(r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)"
                  r"/aws4_request, SignedHeaders=(?P<signed>[^,]+), Signature=(?P<signature>[0-9a-f]{64})")
MAX_BYTES, MAX_SIDE = 5 * 1024 * 1024, 10_000  # the Bytes field's documented maximum


class TextractFake(LoopbackService):
    @property
    def ocr_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.headers.get("x-amz-target") == "Textract.DetectDocumentText"]

    def received_images(self) -> list[bytes]:
        return [base64.b64decode(json.loads(r.body)["Document"]["Bytes"]) for r in self.ocr_requests]

    def handle(self, request: RecordedRequest) -> Reply:
        problem = self._auth_problem(request)
        if problem:
            return _error(problem, "The request signature we calculated does not match", 403)
        if request.headers.get("x-amz-target") != "Textract.DetectDocumentText":
            return _error("UnknownOperationException", "unknown operation", 400)
        failure = self.next_failure()
        if failure is not None:
            code = GENERIC.get(str(failure), str(failure))
            return _error(code, f"fake {code}", 500 if code == "InternalServerError" else 400)
        try:
            document = json.loads(request.body)["Document"]
            data = base64.b64decode(document["Bytes"], validate=True)
        except (ValueError, KeyError, TypeError, binascii.Error):
            return _error("InvalidParameterException", "Request has invalid parameters", 400)
        if len(data) > MAX_BYTES:
            return _error("DocumentTooLargeException", "S3 object size or bytes exceed the limit", 400)
        if image_format(data) not in ("PNG", "JPEG"):
            return _error("UnsupportedDocumentException", "Request has unsupported document format", 400)
        lines, (width, height) = read_image(data, "eng")
        if max(width, height) > MAX_SIDE:
            return _error("InvalidParameterException", "image dimensions exceed the limit", 400)
        return Reply(200, json.dumps(_blocks(lines, width, height)).encode(),
                     {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": str(uuid.uuid4())})

    @staticmethod
    def _auth_problem(request: RecordedRequest) -> str | None:
        """None when the SigV4 signature is the one botocore computes with the fake's credentials."""
        match = AUTH.fullmatch(request.headers.get("authorization", ""))
        if not match or match["service"] != "textract":
            return "MissingAuthenticationTokenException"
        if match["key"] != ACCESS_KEY:
            return "UnrecognizedClientException"
        signed = match["signed"].split(";")
        headers = {name: request.headers[name] for name in signed if name in request.headers}
        aws_request = AWSRequest(method=request.method, url=f"http://{request.headers['host']}{request.path}",
                                 data=request.body, headers=headers)
        aws_request.context["timestamp"] = request.headers.get("x-amz-date", "")
        signer = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "textract", match["region"])
        canonical = signer.canonical_request(aws_request)
        expected = signer.signature(signer.string_to_sign(aws_request, canonical), aws_request)
        return None if expected == match["signature"] else "InvalidSignatureException"


def _geometry(box, width: int, height: int) -> dict[str, object]:
    left, top = box.left / width, box.top / height
    right, bottom = (box.left + box.width) / width, (box.top + box.height) / height
    return {"BoundingBox": {"Width": right - left, "Height": bottom - top, "Left": left, "Top": top},
            "Polygon": [{"X": left, "Y": top}, {"X": right, "Y": top}, {"X": right, "Y": bottom},
                        {"X": left, "Y": bottom}]}


def _blocks(lines, width: int, height: int) -> dict[str, object]:
    page_id, blocks, line_ids = str(uuid.uuid4()), [], []
    for line in lines:
        word_blocks = [{"BlockType": "WORD", "Id": str(uuid.uuid4()), "Text": word.text, "TextType": "PRINTED",
                        "Confidence": word.confidence * 100, "Geometry": _geometry(word.box, width, height)}
                       for word in line.words]
        line_id = str(uuid.uuid4())
        line_ids.append(line_id)
        blocks.append({"BlockType": "LINE", "Id": line_id, "Text": line.text, "Confidence": line.confidence * 100,
                       "Geometry": _geometry(line.box, width, height),
                       "Relationships": [{"Type": "CHILD", "Ids": [w["Id"] for w in word_blocks]}]})
        blocks.extend(word_blocks)
    page = {"BlockType": "PAGE", "Id": page_id, "Geometry": _geometry(_Whole(width, height), width, height),
            "Relationships": [{"Type": "CHILD", "Ids": line_ids}]}
    return {"DocumentMetadata": {"Pages": 1}, "Blocks": [page, *blocks], "DetectDocumentTextModelVersion": "1.0"}


class _Whole:
    def __init__(self, width: int, height: int) -> None:
        self.left, self.top, self.width, self.height = 0, 0, width, height


def _error(code: str, message: str, status: int) -> Reply:
    return Reply(status, json.dumps({"__type": code, "Message": message}).encode(),
                 {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": str(uuid.uuid4())})
