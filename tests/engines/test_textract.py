"""Amazon Textract DetectDocumentText through boto3 against the loopback fake: SigV4, request shape,
geometry and confidence conversion, and every documented error class."""

from __future__ import annotations

import base64
import io
import json

import pytest
from PIL import Image

from s3ocr.engines.retry import FAST_BACKOFF
from s3ocr.errors import (
    ConfigurationError,
    EngineError,
    EngineQuotaError,
    EngineUnavailableError,
    RejectedInputError,
)
from tests.engines.conftest import make_textract
from tests.fakes_services import textract as service
from tests.fakes_services.reading import read_image


def test_request_is_signed_json_with_the_image_bytes(textract_fake, page):
    # GIVEN the engine with the test credentials  WHEN a page is read
    make_textract().recognize(page, "eng", timeout=30)
    # THEN one DetectDocumentText call, SigV4-signed for textract in the region (the fake checked the
    # signature with botocore's signer), the PNG page base64-encoded in Document.Bytes
    (request,) = textract_fake.ocr_requests
    assert request.method == "POST" and request.path == "/"
    assert request.headers["content-type"] == "application/x-amz-json-1.1"
    assert request.headers["authorization"].startswith(
        f"AWS4-HMAC-SHA256 Credential={service.ACCESS_KEY}/")
    assert f"/{service.REGION}/textract/aws4_request" in request.headers["authorization"]
    body = json.loads(request.body)
    assert set(body) == {"Document"}
    sent = Image.open(io.BytesIO(base64.b64decode(body["Document"]["Bytes"])))
    assert (sent.format, sent.size) == ("PNG", (page.width, page.height))


def test_a_bad_signature_is_a_configuration_error(textract_fake, page, monkeypatch):
    # GIVEN credentials the service does not know the secret of
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    # WHEN a page is read  THEN the fake refuses the signature, and that is configuration, not retried
    with pytest.raises(ConfigurationError, match="InvalidSignatureException"):
        make_textract().recognize(page, "eng", timeout=30)
    assert len(textract_fake.ocr_requests) == 1


def test_relative_geometry_and_percent_confidence_are_normalised(textract_fake, page):
    # GIVEN what Tesseract reads on the very image the fake receives (the fake's source of truth)
    result = make_textract().recognize(page, "eng", timeout=30)
    truth, _ = read_image(textract_fake.received_images()[0], "eng")
    # THEN relative boxes came back as the same pixels (±1 for float rounding), 0..100 as 0..1
    assert [line.text for line in result.lines] == [line.text for line in truth]
    for got, want in zip(result.lines, truth, strict=True):
        assert abs(got.box.left - want.box.left) <= 1 and abs(got.box.width - want.box.width) <= 1
        assert abs(got.box.top - want.box.top) <= 1 and abs(got.box.height - want.box.height) <= 1
        assert got.confidence == pytest.approx(want.confidence, abs=1e-3)
        assert [w.text for w in got.words] == [w.text for w in want.words]
    assert result.engine == "textract"
    assert result.text.splitlines()[0] == "The LinnSequencer"


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "ThrottlingException",
                                  "InternalServerError"])
def test_throttling_and_server_errors_are_retried(textract_fake, page, code):
    textract_fake.fail_next(code)
    assert make_textract().recognize(page, "eng", timeout=30).text
    assert len(textract_fake.ocr_requests) == 2


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "ThrottlingException",
                                  "InternalServerError"])
def test_persistent_throttling_is_unavailable_and_botocore_does_not_retry_on_its_own(textract_fake, page, code):
    textract_fake.fail_next(code, times=100)
    with pytest.raises(EngineUnavailableError, match=code):
        make_textract().recognize(page, "eng", timeout=30)
    # botocore's retries are off: every attempt is one of ours, within the page budget
    assert len(textract_fake.ocr_requests) == FAST_BACKOFF.max_attempts


def test_limit_exceeded_is_quota_without_retry(textract_fake, page):
    textract_fake.fail_next("LimitExceededException", times=100)
    with pytest.raises(EngineQuotaError):
        make_textract().recognize(page, "eng", timeout=30)
    assert len(textract_fake.ocr_requests) == 1


@pytest.mark.parametrize("code", ["InvalidParameterException", "UnsupportedDocumentException",
                                  "BadDocumentException", "DocumentTooLargeException"])
def test_document_errors_re_encode_once_then_reject(textract_fake, page, code):
    textract_fake.fail_next(code)
    assert make_textract().recognize(page, "eng", timeout=30).text
    textract_fake.fail_next(code, times=2)
    with pytest.raises(RejectedInputError, match=code):
        make_textract().recognize(page, "eng", timeout=30)
    assert len(textract_fake.ocr_requests) == 4


@pytest.mark.parametrize(("code", "error"), [("AccessDeniedException", ConfigurationError),
                                             ("SomethingNewException", EngineError)])
def test_other_codes_are_permanent(textract_fake, page, code, error):
    textract_fake.fail_next(code)
    with pytest.raises(error):
        make_textract().recognize(page, "eng", timeout=30)
    assert len(textract_fake.ocr_requests) == 1


def test_no_region_is_a_configuration_error(textract_fake, page, monkeypatch):
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION", raising=False)
    with pytest.raises(ConfigurationError):
        make_textract().recognize(page, "eng", timeout=30)


def test_no_credentials_is_a_configuration_error(textract_fake, page, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(ConfigurationError):
        make_textract().recognize(page, "eng", timeout=30)


def test_the_generic_endpoint_variable_is_honoured(textract_fake, page, monkeypatch):
    # GIVEN only AWS_ENDPOINT_URL (a LocalStack-style setup)
    monkeypatch.delenv("AWS_ENDPOINT_URL_TEXTRACT")
    monkeypatch.setenv("AWS_ENDPOINT_URL", textract_fake.url)
    assert make_textract().recognize(page, "eng", timeout=30).text
    assert textract_fake.ocr_requests


def test_version_names_the_api():
    assert make_textract().version.startswith("textract DetectDocumentText (boto3 ")


@pytest.mark.parametrize("languages", ["chi_sim+eng", "jpn", "eng+rus"])
def test_languages_textract_cannot_read_are_refused_before_any_request(textract_fake, page, languages):
    # GIVEN a page to be read in a language Textract does not read  WHEN it is sent
    with pytest.raises(ConfigurationError, match="does not read") as raised:
        make_textract().recognize(page, languages, timeout=10)
    # THEN a configuration error that names the way out, and nothing was sent (or billed)
    assert "OCR_LANGUAGES" in str(raised.value)
    assert textract_fake.ocr_requests == []


def test_the_six_textract_languages_are_accepted(textract_fake, page):
    assert "LinnSequencer" in make_textract().recognize(page, "eng+deu+fra+spa+ita+por", timeout=30).text
