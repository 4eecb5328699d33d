"""Tencent Cloud OCR through tencentcloud-sdk-python against the loopback fake: TC3 signing, request shape,
polygon and confidence conversion, every documented error class, the budget, credentials and logs."""

from __future__ import annotations

import base64
import io
import logging
import threading
import time

import pytest
import requests
from PIL import Image
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

from s3ocr.engines.retry import FAST_BACKOFF
from s3ocr.engines.tencent import TencentCredentials, TencentEngine, classify, language_type, tencent_credentials
from s3ocr.errors import (
    ConfigurationError,
    EngineError,
    EngineQuotaError,
    EngineUnavailableError,
    RejectedInputError,
)
from s3ocr.secrets import SecretSource
from tests.fakes_services import tencent as service
from tests.fakes_services.reading import read_image
from tests.fakes_services.server import self_signed_tls
from tests.fakes_services.tencent import TencentFake


@pytest.fixture
def tencent_fake():
    fake = TencentFake().start()
    yield fake
    fake.stop()


def credentials() -> TencentCredentials:
    return TencentCredentials(service.SECRET_ID, service.SECRET_KEY)


def make_tencent(fake: TencentFake, api: str = "basic", **options: object) -> TencentEngine:
    options.setdefault("backoff", FAST_BACKOFF)
    return TencentEngine(api, credentials=credentials, endpoint=fake.url, **options)  # type: ignore[arg-type]


def test_request_is_tc3_signed_json_with_the_page_in_base64(tencent_fake, page):
    # GIVEN the basic API  WHEN a page is read
    make_tencent(tencent_fake).recognize(page, "chi_sim+eng", timeout=30)
    # THEN one POST / whose TC3 signature the fake recomputed from the key pair, with the action, version and
    # region headers, and a JSON body carrying the PNG page, the language and the per-character switch
    (request,) = tencent_fake.ocr_requests
    assert (request.method, request.path) == ("POST", "/")
    assert request.headers["authorization"].startswith(f"TC3-HMAC-SHA256 Credential={service.SECRET_ID}/")
    assert "/ocr/tc3_request, SignedHeaders=content-type;host, Signature=" in request.headers["authorization"]
    assert request.headers["x-tc-action"] == "GeneralBasicOCR"
    assert request.headers["x-tc-version"] == "2018-11-19"
    assert request.headers["x-tc-region"] == "ap-guangzhou"
    assert request.headers["content-type"] == "application/json"
    body = tencent_fake.payload(request)
    assert (body["LanguageType"], body["IsWords"]) == ("zh", True)
    sent = Image.open(io.BytesIO(base64.b64decode(str(body["ImageBase64"]))))
    assert (sent.format, sent.size) == ("PNG", (page.width, page.height))


def test_the_accurate_api_sends_its_action_and_no_language(tencent_fake, page):
    engine = make_tencent(tencent_fake, "accurate")
    result = engine.recognize(page, "eng", timeout=30)
    (request,) = tencent_fake.ocr_requests
    assert request.headers["x-tc-action"] == "GeneralAccurateOCR"
    assert "LanguageType" not in tencent_fake.payload(request)
    assert result.engine == "tencent-accurate" and "LinnSequencer" in result.text
    assert engine.version.startswith("tencentcloud-sdk-python-ocr ") and engine.version.endswith("GeneralAccurateOCR")
    # GeneralAccurateOCR reads Chinese and English only: anything else is a deployment mistake
    with pytest.raises(ConfigurationError):
        engine.recognize(page, "fra", timeout=30)


def test_polygons_and_percent_confidences_are_normalised(tencent_fake, page):
    # GIVEN what Tesseract reads on the very image the fake received (the fake's source of truth)
    result = make_tencent(tencent_fake).recognize(page, "eng", timeout=30)
    truth, _ = read_image(tencent_fake.received_images()[0], "eng")
    # THEN the four-corner polygons came back as the same pixel boxes, 0..100 as 0..1, and the words' boxes
    # join the per-character boxes of WordCoordPoint
    assert [line.text for line in result.lines] == [line.text for line in truth]
    for got, want in zip(result.lines, truth, strict=True):
        assert got.box == want.box
        assert got.confidence == pytest.approx(want.confidence, abs=0.006)
        assert [w.text for w in got.words] == [w.text for w in want.words]
        for got_word, want_word in zip(got.words, want.words, strict=True):
            assert abs(got_word.box.left - want_word.box.left) <= 1
            assert abs(got_word.box.width - want_word.box.width) <= 1
            assert got_word.confidence == pytest.approx(want_word.confidence, abs=0.006)
    assert result.engine == "tencent"


def test_a_blank_page_is_an_empty_result_not_an_error(tencent_fake, page):
    # GIVEN the service's "no text in the image" answer
    tencent_fake.fail_next("FailedOperation.ImageNoText")
    # WHEN the page is read  THEN an empty recognition, after one request
    result = make_tencent(tencent_fake).recognize(page, "eng", timeout=30)
    assert (result.text, result.lines, result.mean_confidence) == ("", (), None)
    assert len(tencent_fake.ocr_requests) == 1


RETRYABLE = ["RequestLimitExceeded", "RequestLimitExceeded.UinLimitExceeded", "InternalError",
             "InternalError.ServerError", "ServiceUnavailable", "FailedOperation.OcrFailed",
             "FailedOperation.UnKnowError", "FailedOperation.EngineRecognizeTimeout", "http:500", "http:502",
             "garbage"]


@pytest.mark.parametrize("failure", RETRYABLE)
def test_transient_failures_are_retried(tencent_fake, page, failure):
    # GIVEN a throttling or server error code, an HTTP 5xx, or a 200 that is not JSON, once
    tencent_fake.fail_next(failure)
    # WHEN a page is read  THEN it is retried and read
    assert "LinnSequencer" in make_tencent(tencent_fake).recognize(page, "eng", timeout=30).text
    assert len(tencent_fake.ocr_requests) == 2


@pytest.mark.parametrize("failure", ["RequestLimitExceeded", "FailedOperation.OcrFailed", "http:502"])
def test_persistent_transient_failures_give_up_as_unavailable(tencent_fake, page, failure):
    tencent_fake.fail_next(failure, times=100)
    with pytest.raises(EngineUnavailableError, match="gave up after 4 attempts"):
        make_tencent(tencent_fake).recognize(page, "eng", timeout=30)
    assert len(tencent_fake.ocr_requests) == FAST_BACKOFF.max_attempts


def test_a_slow_service_times_out_within_the_budget(tencent_fake, page):
    tencent_fake.delay = 3.0
    started = time.monotonic()
    with pytest.raises(EngineUnavailableError, match="ClientNetworkError"):
        make_tencent(tencent_fake).recognize(page, "eng", timeout=0.4)
    assert time.monotonic() - started < 1.9


@pytest.mark.parametrize("code", ["ResourceUnavailable.InArrears", "ResourceUnavailable.ResourcePackageRunOut",
                                  "ResourcesSoldOut.ChargeStatusException", "FailedOperation.ArrearsError",
                                  "FailedOperation.CountLimitError", "LimitExceeded"])
def test_arrears_and_used_up_packages_are_quota_without_retry(tencent_fake, page, code):
    tencent_fake.fail_next(code, times=100)
    with pytest.raises(EngineQuotaError, match=code):
        make_tencent(tencent_fake).recognize(page, "eng", timeout=30)
    assert len(tencent_fake.ocr_requests) == 1


@pytest.mark.parametrize("code", ["FailedOperation.ImageDecodeFailed", "FailedOperation.ImageSizeTooLarge",
                                  "FailedOperation.DownLoadError", "FailedOperation.EmptyImageError",
                                  "InvalidParameter.EngineImageDecodeFailed", "LimitExceeded.TooLargeFileError",
                                  "RequestSizeLimitExceeded"])
def test_image_errors_re_encode_once_then_reject(tencent_fake, page, code):
    # GIVEN an image error once  THEN the re-encoded page is read
    tencent_fake.fail_next(code)
    assert make_tencent(tencent_fake).recognize(page, "eng", timeout=30).text
    # GIVEN it twice  THEN rejected_input after exactly two requests
    tencent_fake.fail_next(code, times=2)
    with pytest.raises(RejectedInputError, match=code):
        make_tencent(tencent_fake).recognize(page, "eng", timeout=30)
    assert len(tencent_fake.ocr_requests) == 4


def _wrapped(error: Exception) -> TencentCloudSDKException:
    """What the SDK raises for a library error: the exception's class name as the code, raised while handling it."""
    try:
        try:
            raise error
        except Exception as e:
            raise TencentCloudSDKException(type(e).__name__, str(e)) from None
    except TencentCloudSDKException as wrapped:
        return wrapped


def test_a_body_read_that_times_out_is_transient_not_permanent():
    # GIVEN the SDK's wrapping of a read timeout hit while it reads the body (outside its transport try)
    error = _wrapped(requests.exceptions.ConnectionError("Read timed out."))
    # WHEN it is classified  THEN it is a transient failure, whatever the code says
    assert isinstance(classify(error), EngineUnavailableError)
    assert isinstance(classify(_wrapped(requests.exceptions.SSLError("bad certificate"))), ConfigurationError)


@pytest.mark.parametrize(("code", "error"), [
    ("AuthFailure.SecretIdNotFound", ConfigurationError), ("AuthFailure.SignatureExpire", ConfigurationError),
    ("AuthFailure.UnauthorizedOperation", ConfigurationError), ("FailedOperation.UnOpenError", ConfigurationError),
    ("UnauthorizedOperation", ConfigurationError), ("FailedOperation.LanguageNotSupport", ConfigurationError),
    ("FailedOperation.SomethingNew", EngineError),
])
def test_other_codes_are_permanent(tencent_fake, page, code, error):
    tencent_fake.fail_next(code)
    with pytest.raises(error, match=code):
        make_tencent(tencent_fake).recognize(page, "eng", timeout=30)
    assert len(tencent_fake.ocr_requests) == 1


def test_a_wrong_secret_key_is_a_configuration_error_and_never_shown(tencent_fake, page):
    # GIVEN the right SecretId with a wrong SecretKey: the fake's signature check fails
    engine = TencentEngine(credentials=lambda: TencentCredentials(service.SECRET_ID, "wrong-secret-key-0000"),
                           endpoint=tencent_fake.url, backoff=FAST_BACKOFF)
    with pytest.raises(ConfigurationError, match=r"AuthFailure\.SignatureFailure") as raised:
        engine.recognize(page, "eng", timeout=30)
    assert "wrong-secret-key-0000" not in str(raised.value)


def test_the_key_pair_never_reaches_the_logs(tencent_fake, page, caplog, monkeypatch):
    # GIVEN the key pair read as the CLI reads it, and every logger at DEBUG (the SDK logs whole requests)
    env = {"TENCENTCLOUD_SECRET_ID": service.SECRET_ID, "TENCENTCLOUD_SECRET_KEY": service.SECRET_KEY}
    engine = TencentEngine(credentials=lambda: tencent_credentials(SecretSource(env=env)), endpoint=tencent_fake.url,
                           backoff=FAST_BACKOFF)
    caplog.set_level(logging.DEBUG)
    logging.getLogger("tencentcloud_sdk_common").setLevel(logging.DEBUG)
    # WHEN a page is read, and one fails
    engine.recognize(page, "eng", timeout=30)
    tencent_fake.fail_next("AuthFailure.SignatureFailure")
    with pytest.raises(ConfigurationError):
        engine.recognize(page, "eng", timeout=30)
    # THEN the SDK did log the requests, but neither key appears
    assert "SendRequest" in caplog.text and "X-TC-Action" in caplog.text
    assert service.SECRET_ID not in caplog.text and service.SECRET_KEY not in caplog.text
    assert service.SECRET_ID not in repr(credentials())


def test_one_engine_serves_many_threads(tencent_fake, page):
    engine, errors = make_tencent(tencent_fake), []

    def read() -> None:
        try:
            engine.recognize(page, "eng", timeout=30)
        except BaseException as e:  # surfaced by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(tencent_fake.ocr_requests) == 4


def test_endpoint_and_region_come_from_the_environment(tencent_fake, page):
    env = {"TENCENT_OCR_ENDPOINT": tencent_fake.url, "TENCENTCLOUD_REGION": "ap-shanghai"}
    assert TencentEngine(credentials=credentials, env=env, backoff=FAST_BACKOFF).recognize(page, "eng", 30).text
    assert tencent_fake.ocr_requests[0].headers["x-tc-region"] == "ap-shanghai"
    default = TencentEngine(credentials=credentials, env={})
    assert (default.endpoint, default.region) == ("https://ocr.tencentcloudapi.com", "ap-guangzhou")


def test_credentials_come_from_the_secret_in_lambda():
    # GIVEN a Lambda environment naming the OCR secret, whose JSON holds the Tencent key pair
    secret = {"TENCENTCLOUD_SECRET_ID": service.SECRET_ID, "TENCENTCLOUD_SECRET_KEY": service.SECRET_KEY}
    source = SecretSource(env={"AWS_LAMBDA_FUNCTION_NAME": "ocr", "OCR_SECRET_NAME": "s3ocr/ocr"},
                          fetch=lambda name, max_age: secret)
    assert tencent_credentials(source) == credentials()
    # GIVEN a secret without them  THEN configuration, naming what is missing
    with pytest.raises(ConfigurationError, match="TENCENTCLOUD_SECRET_KEY"):
        tencent_credentials(SecretSource(env={"OCR_SECRET_NAME": "s3ocr/ocr"},
                                         fetch=lambda name, max_age: {"TENCENTCLOUD_SECRET_ID": "x"}))


@pytest.mark.parametrize(("languages", "expected"), [
    ("chi_sim+eng", "zh"), ("chi_tra", "zh_rare"), ("eng", "auto"), ("fra+eng", "fre"), ("jpn", "jap"),
    ("deu+fra", "mix"), ("eng+osd", "auto"),
])
def test_tesseract_languages_map_to_language_type(languages, expected):
    assert language_type(languages) == expected


def test_unknown_language_or_api_is_a_configuration_error():
    with pytest.raises(ConfigurationError):
        language_type("eng+klingon")
    with pytest.raises(ConfigurationError):
        TencentEngine("handwriting", credentials=credentials)


@pytest.fixture
def tls_fake(tmp_path):
    context, cert = self_signed_tls(tmp_path)
    fake = TencentFake(tls=context).start()
    yield fake, cert
    fake.stop()


def test_an_untrusted_certificate_is_refused_and_a_trusted_one_accepted(tls_fake, page):
    fake, cert = tls_fake
    with pytest.raises(ConfigurationError, match="TLS verification failed"):
        make_tencent(fake, env={}).recognize(page, "eng", timeout=30)
    assert not fake.requests  # the handshake failed: nothing signed left the process
    engine = make_tencent(fake, env={"REQUESTS_CA_BUNDLE": str(cert)})
    assert "LinnSequencer" in engine.recognize(page, "eng", timeout=30).text
