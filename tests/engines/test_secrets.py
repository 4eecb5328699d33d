"""Credentials: Secrets Manager through Powertools in Lambda (a moto server on loopback here), environment
variables for the CLI, and never a secret in a log line, a traceback or stdout."""

from __future__ import annotations

import json
import logging
import time
import traceback

import boto3
import pytest
import requests
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities import parameters
from moto.server import ThreadedMotoServer

from s3ocr.engines.baidu import BaiduEngine
from s3ocr.engines.retry import FAST_BACKOFF
from s3ocr.errors import ConfigurationError, EngineUnavailableError, S3OcrError
from s3ocr.secrets import BaiduCredentials, SecretSource, baidu_credentials, redact
from tests.fakes_services import baidu as service
from tests.fakes_services.baidu import BaiduFake
from tests.fakes_services.server import self_signed_tls

SECRET_NAME = "s3ocr/ocr-credentials"
SECRET = {"BAIDU_API_KEY": service.API_KEY, "BAIDU_SECRET_KEY": service.SECRET_KEY, "BAIDU_APP_ID": "1234567"}


@pytest.fixture
def secrets_manager(aws_env, monkeypatch):
    """A moto Secrets Manager on loopback; Powertools' client finds it through the endpoint variable."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    requests.post(f"{url}/moto-api/reset", timeout=5)  # moto's state is per process, not per server
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", url)
    parameters.clear_caches()
    client = boto3.client("secretsmanager", endpoint_url=url)
    client.create_secret(Name=SECRET_NAME, SecretString=json.dumps(SECRET))
    yield client
    parameters.clear_caches()
    server.stop()


def test_cli_reads_credentials_from_the_environment():
    env = {"BAIDU_API_KEY": "key-123456", "BAIDU_SECRET_KEY": "secret-123456"}
    credentials = baidu_credentials(SecretSource(env=env))
    assert credentials == BaiduCredentials("key-123456", "secret-123456", "")
    assert "secret-123456" not in repr(credentials) and "key-123456" not in repr(credentials)


def test_lambda_refuses_plain_environment_credentials():
    # GIVEN a Lambda function with the keys as plain environment variables and no secret named
    env = {"AWS_LAMBDA_FUNCTION_NAME": "ocr", "BAIDU_API_KEY": "key-123456", "BAIDU_SECRET_KEY": "secret-123456"}
    # WHEN credentials are asked for  THEN configuration error: in Lambda they come from Secrets Manager
    with pytest.raises(ConfigurationError, match="OCR_SECRET_NAME"):
        baidu_credentials(SecretSource(env=env))


def test_missing_keys_are_named_without_values():
    with pytest.raises(ConfigurationError, match="BAIDU_SECRET_KEY") as raised:
        baidu_credentials(SecretSource(env={"BAIDU_API_KEY": "key-123456"}))
    assert "key-123456" not in str(raised.value)


def test_lambda_reads_the_json_secret_through_powertools(secrets_manager):
    env = {"AWS_LAMBDA_FUNCTION_NAME": "ocr", "OCR_SECRET_NAME": SECRET_NAME}
    assert baidu_credentials(SecretSource(env=env)) == BaiduCredentials(service.API_KEY, service.SECRET_KEY,
                                                                         "1234567")


def test_the_secret_is_cached_for_max_age_then_re_read(secrets_manager):
    # GIVEN the secret read once, then rotated
    source = SecretSource(env={"OCR_SECRET_NAME": SECRET_NAME}, max_age=1)
    assert source.values()["BAIDU_APP_ID"] == "1234567"
    secrets_manager.put_secret_value(SecretId=SECRET_NAME, SecretString=json.dumps({**SECRET, "BAIDU_APP_ID": "42"}))
    # WHEN read again within max_age  THEN the cached value; once max_age has passed  THEN the rotated one
    assert source.values()["BAIDU_APP_ID"] == "1234567"
    time.sleep(1.1)
    assert source.values()["BAIDU_APP_ID"] == "42"


def test_a_missing_secret_is_a_configuration_error(secrets_manager):
    with pytest.raises(ConfigurationError, match="ResourceNotFoundException"):
        SecretSource(env={"OCR_SECRET_NAME": "no/such/secret"}).values()


def test_a_secret_that_is_not_json_is_a_configuration_error(secrets_manager):
    secrets_manager.create_secret(Name="plain", SecretString="just-a-string")
    with pytest.raises(ConfigurationError, match="not a JSON object"):
        SecretSource(env={"OCR_SECRET_NAME": "plain"}).values()


def test_secrets_manager_unreachable_is_transient(aws_env, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:9")  # discard port: refused
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    parameters.clear_caches()
    with pytest.raises(EngineUnavailableError):
        SecretSource(env={"OCR_SECRET_NAME": SECRET_NAME}).values()
    parameters.clear_caches()


def test_redact_masks_url_credentials_and_registered_values():
    text = "GET /oauth/2.0/token?grant_type=client_credentials&client_id=abc&client_secret=xyz HTTP/1.1"
    assert redact(text) == "GET /oauth/2.0/token?grant_type=client_credentials&client_id=***&client_secret=*** HTTP/1.1"
    assert "SecretString" not in redact("b'{\"SecretString\": \"{\\\\\"k\\\\\": \\\\\"v\\\\\"}\"}'")


def test_no_secret_in_any_output_when_the_services_fail(secrets_manager, baidu_fake, page, tmp_path, caplog, capsys,
                                                        monkeypatch):
    # GIVEN everything logged at DEBUG (botocore and urllib3 print bodies and URLs there), a Powertools
    # Logger writing to stdout, and the Baidu engine with its keys from Secrets Manager
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("OCR_SECRET_NAME", SECRET_NAME)
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    log = Logger(service="s3ocr-test", level="DEBUG")
    context, _ = self_signed_tls(tmp_path)
    impostor = BaiduFake(tls=context).start()

    def engine(fake: BaiduFake) -> BaiduEngine:
        return BaiduEngine("general", endpoint=fake.url, token_url=f"{fake.url}/oauth/2.0/token", backoff=FAST_BACKOFF)

    failures: list[S3OcrError] = []
    # WHEN the OCR endpoint keeps answering 502 (the token went out in every URL) ...
    baidu_fake.fail_next("http:502", times=100)
    with pytest.raises(EngineUnavailableError) as raised:
        engine(baidu_fake).recognize(page, "eng", timeout=30)
    failures.append(raised.value)
    tokens = set(baidu_fake.tokens)
    # ... the TLS handshake fails (requests puts the token URL, keys included, in its error message) ...
    with pytest.raises(ConfigurationError) as raised:
        engine(impostor).recognize(page, "eng", timeout=30)
    failures.append(raised.value)
    impostor.stop()
    # ... and the whole service is down (connection refused, same URL in the message)
    baidu_fake.stop()
    with pytest.raises(EngineUnavailableError) as raised:
        engine(baidu_fake).recognize(page, "eng", timeout=30)
    failures.append(raised.value)
    for failure in failures:  # as the handler would log them: with tracebacks and chained causes
        log.exception("page failed", exc_info=failure)
        logging.getLogger("s3ocr.test").exception("page failed", exc_info=failure)
    # THEN the DEBUG logs really saw the traffic, yet no key, secret or token appears anywhere
    captured = capsys.readouterr()
    output = "\n".join([caplog.text, captured.out, captured.err,
                        *("".join(traceback.format_exception(f)) for f in failures)])
    assert "/oauth/2.0/token" in caplog.text and "GetSecretValue" in caplog.text
    for secret in (service.API_KEY, service.SECRET_KEY, *tokens):
        assert secret not in output


def test_http_errors_carry_no_credentials_even_below_the_engine():
    # GIVEN the Baidu session, and a token request to a port where nothing listens
    from s3ocr.engines.baidu_sdk import _VerifyingSession

    # WHEN it fails  THEN the requests error itself (what a tracer patching requests records) is clean
    with pytest.raises(requests.ConnectionError) as raised:
        _VerifyingSession().get("http://127.0.0.1:9/oauth/2.0/token", timeout=2,
                                params={"client_id": service.API_KEY, "client_secret": service.SECRET_KEY})
    assert "/oauth/2.0/token" in str(raised.value)
    text = "".join(traceback.format_exception(raised.value))
    assert service.SECRET_KEY not in text and service.API_KEY not in text
