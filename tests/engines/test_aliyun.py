"""Alibaba Cloud OCR RecognizeGeneral through alibabacloud_ocr_api20210707 against the loopback fake: ACS3
signing, request shape, pos and prob conversion, every documented error class, the budget, credentials, logs."""

from __future__ import annotations

import io
import logging
import time

import pytest
import requests
from PIL import Image
from Tea.exceptions import UnretryableException

from s3ocr.engines.aliyun import AliyunCredentials, AliyunEngine, aliyun_credentials, classify
from s3ocr.engines.retry import FAST_BACKOFF
from s3ocr.errors import (
    ConfigurationError,
    EngineError,
    EngineQuotaError,
    EngineUnavailableError,
    RejectedInputError,
)
from s3ocr.secrets import SecretSource
from tests.fakes_services import aliyun as service
from tests.fakes_services.aliyun import AliyunFake
from tests.fakes_services.reading import read_image
from tests.fakes_services.server import self_signed_tls


@pytest.fixture
def aliyun_fake():
    fake = AliyunFake().start()
    yield fake
    fake.stop()


def credentials() -> AliyunCredentials:
    return AliyunCredentials(service.ACCESS_KEY_ID, service.ACCESS_KEY_SECRET)


def make_aliyun(fake: AliyunFake, **options: object) -> AliyunEngine:
    options.setdefault("backoff", FAST_BACKOFF)
    return AliyunEngine(credentials=credentials, endpoint=fake.url, **options)  # type: ignore[arg-type]


def test_request_is_acs3_signed_with_the_page_as_the_body(aliyun_fake, page):
    # GIVEN the engine with the test AccessKey  WHEN a page is read
    engine = make_aliyun(aliyun_fake)
    engine.recognize(page, "chi_sim+eng", timeout=30)
    # THEN one POST / whose ACS3 signature the fake recomputed from the key pair, naming the action and
    # version, with the PNG page itself as an octet-stream body whose SHA-256 was signed
    (request,) = aliyun_fake.ocr_requests
    assert (request.method, request.path) == ("POST", "/")
    assert request.headers["authorization"].startswith(f"ACS3-HMAC-SHA256 Credential={service.ACCESS_KEY_ID},")
    assert "x-acs-content-sha256" in request.headers["authorization"].split("SignedHeaders=")[1]
    assert (request.headers["x-acs-action"], request.headers["x-acs-version"]) == ("RecognizeGeneral", "2021-07-07")
    assert request.headers["content-type"] == "application/octet-stream"
    sent = Image.open(io.BytesIO(request.body))
    assert (sent.format, sent.size) == ("PNG", (page.width, page.height))
    assert engine.version.startswith("alibabacloud_ocr_api20210707 ")


def test_pos_quadrilaterals_and_percent_prob_are_normalised(aliyun_fake, page):
    # GIVEN what Tesseract reads on the very image the fake received (the fake's source of truth)
    result = make_aliyun(aliyun_fake).recognize(page, "eng", timeout=30)
    truth, _ = read_image(aliyun_fake.received_images()[0], "chi_sim+eng")
    # THEN each prism_wordsInfo item is a line with the same pixel box, prob 0..100 as 0..1, and words
    # that split the line box in order
    assert [line.text for line in result.lines] == [line.text for line in truth]
    for got, want in zip(result.lines, truth, strict=True):
        assert got.box == want.box
        assert got.confidence == pytest.approx(want.confidence, abs=0.006)
        assert [w.text for w in got.words] == got.text.split()
        lefts = [w.box.left for w in got.words]
        assert lefts == sorted(lefts) and all(w.confidence == got.confidence for w in got.words)
    assert result.engine == "aliyun"


@pytest.mark.parametrize("failure", ["Throttling.User", "Throttling", "algorithmError", "InternalError",
                                     "ServiceUnavailable", "http:500", "http:502", "http:503"])
def test_throttling_and_server_errors_are_retried(aliyun_fake, page, failure):
    aliyun_fake.fail_next(failure)
    assert "LinnSequencer" in make_aliyun(aliyun_fake).recognize(page, "eng", timeout=30).text
    assert len(aliyun_fake.ocr_requests) == 2


@pytest.mark.parametrize("failure", ["Throttling.User", "algorithmError", "http:502"])
def test_persistent_failures_give_up_as_unavailable(aliyun_fake, page, failure):
    aliyun_fake.fail_next(failure, times=100)
    with pytest.raises(EngineUnavailableError, match="gave up after 4 attempts"):
        make_aliyun(aliyun_fake).recognize(page, "eng", timeout=30)
    # the SDK's own retries are off: every attempt is one of ours, within the page budget
    assert len(aliyun_fake.ocr_requests) == FAST_BACKOFF.max_attempts


def test_a_slow_service_times_out_within_the_budget(aliyun_fake, page):
    aliyun_fake.delay = 3.0
    started = time.monotonic()
    with pytest.raises(EngineUnavailableError, match="unreachable: ReadTimeout"):
        make_aliyun(aliyun_fake).recognize(page, "eng", timeout=0.4)
    assert time.monotonic() - started < 1.9


def test_a_body_read_that_times_out_is_transient_not_permanent():
    # GIVEN a requests error the SDK did not wrap (its body read is outside its transport try)
    error = UnretryableException(None, requests.exceptions.ConnectionError("Read timed out."))
    # WHEN it is classified  THEN it is a transient failure
    assert isinstance(classify(error), EngineUnavailableError)


def test_an_expired_service_is_quota_without_retry(aliyun_fake, page):
    aliyun_fake.fail_next("OcrServiceExpired", times=100)
    with pytest.raises(EngineQuotaError, match="OcrServiceExpired"):
        make_aliyun(aliyun_fake).recognize(page, "eng", timeout=30)
    assert len(aliyun_fake.ocr_requests) == 1


@pytest.mark.parametrize("code", ["illegalImageSize", "exceededImageContent", "unsupportedImageFormat",
                                  "unmatchedImageType"])
def test_image_errors_re_encode_once_then_reject(aliyun_fake, page, code):
    # GIVEN an image error once  THEN the re-encoded page is read
    aliyun_fake.fail_next(code)
    assert make_aliyun(aliyun_fake).recognize(page, "eng", timeout=30).text
    # GIVEN it twice  THEN rejected_input after exactly two requests
    aliyun_fake.fail_next(code, times=2)
    with pytest.raises(RejectedInputError, match=code):
        make_aliyun(aliyun_fake).recognize(page, "eng", timeout=30)
    assert len(aliyun_fake.ocr_requests) == 4


@pytest.mark.parametrize(("code", "error"), [
    ("noPermission", ConfigurationError), ("ocrServiceNotOpen", ConfigurationError),
    ("InvalidAccessKeyId.NotFound", ConfigurationError), ("SignatureDoesNotMatch", ConfigurationError),
    ("somethingNew", EngineError),
])
def test_other_codes_are_permanent(aliyun_fake, page, code, error):
    aliyun_fake.fail_next(code)
    with pytest.raises(error, match=code):
        make_aliyun(aliyun_fake).recognize(page, "eng", timeout=30)
    assert len(aliyun_fake.ocr_requests) == 1


def test_a_wrong_secret_is_a_configuration_error_and_never_shown(aliyun_fake, page):
    engine = AliyunEngine(credentials=lambda: AliyunCredentials(service.ACCESS_KEY_ID, "wrong-key-secret-0000"),
                          endpoint=aliyun_fake.url, backoff=FAST_BACKOFF)
    with pytest.raises(ConfigurationError, match="SignatureDoesNotMatch") as raised:
        engine.recognize(page, "eng", timeout=30)
    assert "wrong-key-secret-0000" not in str(raised.value)
    assert len(aliyun_fake.ocr_requests) == 1


def test_the_key_pair_never_reaches_the_logs(aliyun_fake, page, caplog, monkeypatch):
    # GIVEN the key pair read as the CLI reads it, the SDK's header dump on (DEBUG=sdk), every logger at DEBUG
    env = {"ALIBABA_CLOUD_ACCESS_KEY_ID": service.ACCESS_KEY_ID,
           "ALIBABA_CLOUD_ACCESS_KEY_SECRET": service.ACCESS_KEY_SECRET}
    engine = AliyunEngine(credentials=lambda: aliyun_credentials(SecretSource(env=env)), endpoint=aliyun_fake.url,
                          backoff=FAST_BACKOFF)
    monkeypatch.setenv("DEBUG", "sdk")
    caplog.set_level(logging.DEBUG)
    # WHEN a page is read, and one fails
    engine.recognize(page, "eng", timeout=30)
    aliyun_fake.fail_next("noPermission")
    with pytest.raises(ConfigurationError):
        engine.recognize(page, "eng", timeout=30)
    # THEN the SDK did log the signed headers, but neither key appears
    assert "authorization" in caplog.text.lower()
    assert service.ACCESS_KEY_ID not in caplog.text and service.ACCESS_KEY_SECRET not in caplog.text
    assert service.ACCESS_KEY_SECRET not in repr(credentials())


def test_the_endpoint_comes_from_the_environment(aliyun_fake, page):
    engine = AliyunEngine(credentials=credentials, env={"ALIYUN_OCR_ENDPOINT": aliyun_fake.url}, backoff=FAST_BACKOFF)
    assert engine.recognize(page, "eng", timeout=30).text
    assert AliyunEngine(credentials=credentials, env={}).endpoint == "https://ocr-api.cn-hangzhou.aliyuncs.com"


def test_credentials_come_from_the_secret_in_lambda():
    secret = {"ALIBABA_CLOUD_ACCESS_KEY_ID": service.ACCESS_KEY_ID,
              "ALIBABA_CLOUD_ACCESS_KEY_SECRET": service.ACCESS_KEY_SECRET}
    source = SecretSource(env={"AWS_LAMBDA_FUNCTION_NAME": "ocr", "OCR_SECRET_NAME": "s3ocr/ocr"},
                          fetch=lambda name, max_age: secret)
    assert aliyun_credentials(source) == credentials()
    with pytest.raises(ConfigurationError, match="ALIBABA_CLOUD_ACCESS_KEY_SECRET"):
        aliyun_credentials(SecretSource(env={}))


@pytest.fixture
def tls_fake(tmp_path):
    context, cert = self_signed_tls(tmp_path)
    fake = AliyunFake(tls=context).start()
    yield fake, cert
    fake.stop()


def test_an_untrusted_certificate_is_refused_and_a_trusted_one_accepted(tls_fake, page):
    fake, cert = tls_fake
    with pytest.raises(ConfigurationError, match="TLS verification failed"):
        make_aliyun(fake, env={}).recognize(page, "eng", timeout=30)
    assert not fake.requests
    engine = make_aliyun(fake, env={"REQUESTS_CA_BUNDLE": str(cert)})
    assert "LinnSequencer" in engine.recognize(page, "eng", timeout=30).text
