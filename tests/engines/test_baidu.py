"""Baidu OCR through baidu-aip against the loopback fake: request shape, token handling, every error code,
TLS verification, options and parsing."""

from __future__ import annotations

import base64
import io
import threading

import pytest
from aip import AipOcr
from PIL import Image

from s3ocr.engines.baidu import BaiduEngine, language_type
from s3ocr.engines.baidu_sdk import classify
from s3ocr.engines.retry import FAST_BACKOFF
from s3ocr.errors import (
    ConfigurationError,
    EngineError,
    EngineQuotaError,
    EngineUnavailableError,
    RejectedInputError,
)
from s3ocr.secrets import BaiduCredentials
from tests.engines.conftest import baidu_credentials, make_baidu
from tests.fakes_services import baidu as service
from tests.fakes_services.baidu import BaiduFake
from tests.fakes_services.server import self_signed_tls


def test_requests_carry_the_access_token_and_the_documented_form(baidu_fake, page):
    # GIVEN the standard-with-location API  WHEN a page is read
    make_baidu(baidu_fake).recognize(page, "chi_sim+eng", timeout=30)
    # THEN one token request with the key pair, then one OCR POST with the token and the documented form
    (token,) = baidu_fake.token_requests
    assert token.query["grant_type"] == ["client_credentials"]
    assert token.query["client_id"] == [service.API_KEY]
    assert token.query["client_secret"] == [service.SECRET_KEY]
    (ocr,) = baidu_fake.ocr_requests
    assert (ocr.method, ocr.path) == ("POST", "/rest/2.0/ocr/v1/general")
    assert ocr.query["access_token"][0] in baidu_fake.tokens
    assert ocr.headers["content-type"] == "application/x-www-form-urlencoded"
    form = baidu_fake.form(ocr)
    assert {k: form[k] for k in ("language_type", "probability", "recognize_granularity", "detect_direction",
                                 "paragraph")} == {"language_type": "CHN_ENG", "probability": "true",
                                                   "recognize_granularity": "small", "detect_direction": "false",
                                                   "paragraph": "false"}
    sent = Image.open(io.BytesIO(base64.b64decode(form["image"])))
    assert (sent.format, sent.size) == ("PNG", (page.width, page.height))


@pytest.mark.parametrize(("api", "path", "located"), [
    ("general", "general", True), ("accurate", "accurate", True),
    ("basicGeneral", "general_basic", False), ("basicAccurate", "accurate_basic", False),
])
def test_each_api_posts_to_its_path(baidu_fake, page, api, path, located):
    # GIVEN one of the four general APIs  WHEN a page is read
    engine = make_baidu(baidu_fake, api)
    result = engine.recognize(page, "eng", timeout=30)
    # THEN its URL was used; the located APIs give lines with boxes, the basic ones text and confidence only
    assert baidu_fake.ocr_requests[0].path == f"/rest/2.0/ocr/v1/{path}"
    assert "LinnSequencer" in result.text
    assert bool(result.lines) is located
    assert result.mean_confidence is not None and 0.5 < result.mean_confidence <= 1
    assert engine.version == f"baidu-aip 4.16.13 {path}"
    assert ("recognize_granularity" in baidu_fake.form(baidu_fake.ocr_requests[0])) is located


def test_the_token_is_fetched_once_for_many_pages_and_threads(baidu_fake, page):
    # GIVEN one engine shared by four page threads, as the pipeline runs it
    engine = make_baidu(baidu_fake)
    errors: list[BaseException] = []

    def read() -> None:
        try:
            engine.recognize(page, "eng", timeout=30)
        except BaseException as e:  # surfaced by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=read) for _ in range(4)]
    # WHEN they read at once
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # THEN every page is read with one access token
    assert not errors
    assert len(baidu_fake.token_requests) == 1
    assert len(baidu_fake.ocr_requests) == 4


@pytest.mark.parametrize("code", [110, 111])
def test_invalid_or_expired_token_is_refreshed_once(baidu_fake, page, code):
    # GIVEN a service that calls the token invalid (110) or expired (111) once
    engine = make_baidu(baidu_fake)
    baidu_fake.fail_next(code)
    # WHEN a page is read  THEN a new token is fetched and the request repeated with it
    assert "LinnSequencer" in engine.recognize(page, "eng", timeout=30).text
    assert len(baidu_fake.token_requests) == 2
    tokens = [r.query["access_token"][0] for r in baidu_fake.ocr_requests]
    assert len(tokens) == 2 and tokens[0] != tokens[1]


def test_a_token_revoked_between_pages_is_replaced(baidu_fake, page):
    # GIVEN a page read with a token the service then revokes
    engine = make_baidu(baidu_fake)
    engine.recognize(page, "eng", timeout=30)
    baidu_fake.expire_tokens()
    # WHEN the next page is read  THEN the 110 answer brings a fresh token and the page is read
    assert engine.recognize(page, "eng", timeout=30).text
    assert len(baidu_fake.token_requests) == 2


def test_a_fresh_token_refused_again_is_a_configuration_error(baidu_fake, page):
    # GIVEN a service that refuses even the refreshed token
    baidu_fake.fail_next(110, times=2)
    # WHEN a page is read  THEN exactly one refresh, then a configuration error (no loop)
    with pytest.raises(ConfigurationError):
        make_baidu(baidu_fake).recognize(page, "eng", timeout=30)
    assert len(baidu_fake.token_requests) == 2


def test_wrong_keys_are_a_configuration_error(baidu_fake, page):
    # GIVEN a secret key the token endpoint does not accept
    engine = BaiduEngine("general", credentials=lambda: BaiduCredentials(service.API_KEY, "wrong-secret-key"),
                         endpoint=baidu_fake.url, token_url=f"{baidu_fake.url}/oauth/2.0/token", backoff=FAST_BACKOFF)
    # WHEN a page is read  THEN configuration, with the OAuth error but not the key
    with pytest.raises(ConfigurationError, match="invalid_client") as raised:
        engine.recognize(page, "eng", timeout=30)
    assert "wrong-secret-key" not in str(raised.value)


@pytest.mark.parametrize("failure", [1, 2, 4, 18, 282000, 216630, "http:500", "http:502", "http:503", "http:200"])
def test_retryable_failures_are_retried(baidu_fake, page, failure):
    # GIVEN a documented transient error code, an HTTP 5xx, or a body that is not JSON, once
    baidu_fake.fail_next(failure)
    # WHEN a page is read  THEN it is retried and read
    assert make_baidu(baidu_fake).recognize(page, "eng", timeout=30).text
    assert len(baidu_fake.ocr_requests) == 2


@pytest.mark.parametrize("failure", [18, 282000, "http:502"])
def test_retryable_failures_give_up_as_unavailable(baidu_fake, page, failure):
    baidu_fake.fail_next(failure, times=100)
    with pytest.raises(EngineUnavailableError, match="gave up after 4 attempts"):
        make_baidu(baidu_fake).recognize(page, "eng", timeout=30)


def test_a_slow_service_times_out_within_the_budget_as_sdk108(baidu_fake, page):
    # GIVEN a service slower than the page budget  WHEN a page is read  THEN the SDK's timeout, typed
    make_baidu(baidu_fake).recognize(page, "eng", timeout=30)  # token cached first
    baidu_fake.delay = 2.0
    engine = make_baidu(baidu_fake)
    with pytest.raises(EngineUnavailableError, match="SDK108"):
        engine.recognize(page, "eng", timeout=0.4)


@pytest.mark.parametrize("code", [17, 19])
def test_daily_or_total_quota_is_a_quota_error_without_retry(baidu_fake, page, code):
    baidu_fake.fail_next(code, times=100)
    with pytest.raises(EngineQuotaError, match=f"error {code}"):
        make_baidu(baidu_fake).recognize(page, "eng", timeout=30)
    assert len(baidu_fake.ocr_requests) == 1


@pytest.mark.parametrize("code", [216200, 216201, 216202, 216203])
def test_image_errors_re_encode_once_then_reject(baidu_fake, page, code):
    # GIVEN an image error once  THEN the re-encoded page is read
    baidu_fake.fail_next(code)
    assert make_baidu(baidu_fake).recognize(page, "eng", timeout=30).text
    # GIVEN it twice  THEN rejected_input after exactly two requests
    baidu_fake.fail_next(code, times=2)
    with pytest.raises(RejectedInputError):
        make_baidu(baidu_fake).recognize(page, "eng", timeout=30)
    assert len(baidu_fake.ocr_requests) == 4


@pytest.mark.parametrize(("code", "error"), [(6, ConfigurationError), (216100, ConfigurationError),
                                             (999999, EngineError)])
def test_other_codes_are_permanent(baidu_fake, page, code, error):
    baidu_fake.fail_next(code)
    with pytest.raises(error):
        make_baidu(baidu_fake).recognize(page, "eng", timeout=30)
    assert len(baidu_fake.ocr_requests) == 1


def test_the_token_endpoint_down_is_transient(baidu_fake, page):
    baidu_fake.token_failure = "http:500"
    with pytest.raises(EngineUnavailableError):
        make_baidu(baidu_fake).recognize(page, "eng", timeout=30)
    assert len(baidu_fake.token_requests) == FAST_BACKOFF.max_attempts


def test_classify_passes_results_through():
    assert classify({"words_result": []}) == {"words_result": []}
    with pytest.raises(EngineUnavailableError):
        classify({"error_code": "SDK108", "error_msg": "connection or read data timeout"})


@pytest.mark.parametrize(("languages", "expected"), [
    ("chi_sim+eng", "CHN_ENG"), ("chi_tra", "CHN_ENG"), ("eng", "ENG"), ("fra+eng", "FRE"), ("jpn", "JAP"),
    ("deu", "GER"), ("eng+osd", "ENG"),
])
def test_tesseract_languages_map_to_language_type(languages, expected):
    assert language_type(languages) == expected


@pytest.mark.parametrize("languages", ["fra+deu", "eng+klingon"])
def test_unmappable_languages_are_a_configuration_error(languages):
    with pytest.raises(ConfigurationError):
        language_type(languages)


def test_paragraph_option_separates_paragraphs(baidu_fake, page):
    result = make_baidu(baidu_fake, paragraph=True).recognize(page, "eng", timeout=30)
    assert baidu_fake.form(baidu_fake.ocr_requests[0])["paragraph"] == "true"
    assert result.text.count("\n") >= 3  # one paragraph of lines: newlines between them


def test_endpoints_come_from_the_environment(baidu_fake, page):
    # GIVEN BAIDU_OCR_ENDPOINT / BAIDU_TOKEN_URL, as the tests and a private gateway set them
    env = {"BAIDU_OCR_ENDPOINT": baidu_fake.url, "BAIDU_TOKEN_URL": f"{baidu_fake.url}/oauth/2.0/token"}
    engine = BaiduEngine("general", credentials=baidu_credentials, env=env, backoff=FAST_BACKOFF)
    assert engine.recognize(page, "eng", timeout=30).text
    assert BaiduEngine(credentials=baidu_credentials, env={}).endpoint == "https://aip.baidubce.com"


def test_unknown_api_is_a_configuration_error():
    with pytest.raises(ConfigurationError):
        BaiduEngine("handwriting", credentials=baidu_credentials)


# --- TLS: the SDK turns verification off; the engine turns it back on --------------------------------------


@pytest.fixture
def tls_fake(tmp_path):
    context, cert = self_signed_tls(tmp_path)
    fake = BaiduFake(tls=context).start()
    yield fake, cert
    fake.stop()


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_the_bare_sdk_accepts_an_untrusted_certificate(tls_fake, page, monkeypatch):
    # GIVEN an HTTPS service with a certificate nobody trusts, and the SDK as shipped
    fake, _ = tls_fake
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    client = AipOcr("1", service.API_KEY, service.SECRET_KEY)
    client._AipBase__accessTokenUrl = f"{fake.url}/oauth/2.0/token"
    client._AipOcr__generalBasicUrl = f"{fake.url}/rest/2.0/ocr/v1/general_basic"
    # WHEN it reads  THEN it hands the impostor its secret key and the page: the reason for the wrapper
    assert "log_id" in client.basicGeneral(page.path.read_bytes())
    assert fake.token_requests[0].query["client_secret"] == [service.SECRET_KEY]
    assert fake.ocr_requests


def test_the_engine_refuses_an_untrusted_certificate(tls_fake, page, monkeypatch):
    fake, _ = tls_fake
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError, match="TLS verification failed"):
        make_baidu(fake).recognize(page, "eng", timeout=30)
    assert not fake.requests  # the handshake failed: not even the key pair left the process


def test_the_engine_trusts_a_certificate_named_by_requests_ca_bundle(tls_fake, page, monkeypatch):
    fake, cert = tls_fake
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    assert "LinnSequencer" in make_baidu(fake).recognize(page, "eng", timeout=30).text
