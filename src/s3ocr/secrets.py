"""Credentials for the cloud OCR engines, kept out of environment variables, logs and traces.

In Lambda the credentials are one JSON secret in AWS Secrets Manager, named by ``OCR_SECRET_NAME`` and
read through Powertools Parameters (cached for ``max_age`` seconds, so a rotated secret is picked up
without a cold start). Its keys are the variable names the CLI reads from the environment::

    {"BAIDU_API_KEY": "...", "BAIDU_SECRET_KEY": "...", "BAIDU_APP_ID": "..."}

Outside Lambda (the CLI) the same names are read from the environment unless ``OCR_SECRET_NAME`` is set.
Amazon Textract needs none of this: boto3's own credential chain (role, profile, env) applies.

Every value read here is registered with a log filter that blanks it in the records of the libraries
that log request URLs and response bodies at DEBUG (urllib3, botocore): a Powertools Logger at DEBUG
must not print a secret key or an OAuth token.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from s3ocr.errors import ConfigurationError, EngineUnavailableError, aws_error_code

SECRET_NAME_ENV = "OCR_SECRET_NAME"
# The names each cloud engine's two keys are read under (the environment, or the JSON secret above); ``s3ocr doctor``
# asks for the same names without importing the engines, whose SDKs may be missing.
CREDENTIAL_VARIABLES: Mapping[str, tuple[str, str]] = {
    "baidu": ("BAIDU_API_KEY", "BAIDU_SECRET_KEY"),
    "tencent": ("TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY"),
    "aliyun": ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
}
LAMBDA_MARKER_ENV = "AWS_LAMBDA_FUNCTION_NAME"  # set by the Lambda runtime in every function

# Errors from Secrets Manager that retrying will not fix: the deployment must change.
_PERMANENT_SECRET_ERRORS = frozenset({
    "ResourceNotFoundException", "AccessDeniedException", "DecryptionFailure", "InvalidRequestException",
    "InvalidParameterException", "UnrecognizedClientException",
})


@dataclass(frozen=True)
class BaiduCredentials:
    """An API key pair of a Baidu AI Cloud application; the repr never shows the keys."""

    api_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    app_id: str = ""


def powertools_fetch(name: str, max_age: int | None) -> dict[str, Any]:
    """The secret ``name`` as a dict, through Powertools' cached Secrets Manager provider."""
    from aws_lambda_powertools.utilities import parameters

    return parameters.get_secret(name, transform="json", max_age=max_age)


class SecretSource:
    """Credential values by name: from one JSON secret, or from the environment outside Lambda."""

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        fetch: Callable[[str, int | None], Mapping[str, Any]] = powertools_fetch,
        max_age: int | None = None,
    ) -> None:
        self._env = os.environ if env is None else env
        self._fetch = fetch
        self.max_age = max_age  # None: Powertools' default (POWERTOOLS_PARAMETERS_MAX_AGE, else 300 s)

    @property
    def secret_name(self) -> str:
        return self._env.get(SECRET_NAME_ENV, "").strip()

    def values(self) -> Mapping[str, str]:
        """All credential values; raises ``ConfigurationError`` or, if the store is down, a transient error."""
        if self.secret_name:
            return self._from_secret(self.secret_name)
        if self._env.get(LAMBDA_MARKER_ENV):
            raise ConfigurationError(
                f"set {SECRET_NAME_ENV}: in Lambda, OCR service credentials are read from AWS Secrets Manager, "
                "never from plain environment variables"
            )
        return self._env

    def require(self, *names: str) -> dict[str, str]:
        values = self.values()
        missing = [name for name in names if not str(values.get(name, "")).strip()]
        if missing:
            where = f"secret {self.secret_name!r}" if self.secret_name else "the environment"
            raise ConfigurationError(f"missing credentials in {where}: {', '.join(missing)}")
        found = {name: str(values[name]).strip() for name in names}
        register_secrets(found.values())
        return found

    def _from_secret(self, name: str) -> dict[str, str]:
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError

        try:
            secret = self._fetch(name, self.max_age)
        except TransformParameterError as e:
            raise ConfigurationError(f"secret {name!r} is not a JSON object") from e
        except GetParameterError as e:
            # Powertools flattens every failure into GetParameterError(str(exc)); the SDK's own error is
            # still its __context__, and its code says what to do (never match the message text).
            cause = e.__context__
            if isinstance(cause, ClientError):
                code = aws_error_code(cause)
                if code in _PERMANENT_SECRET_ERRORS:
                    raise ConfigurationError(f"cannot read secret {name!r}: {code}") from e
                raise EngineUnavailableError(f"Secrets Manager failed reading {name!r}: {code}") from e
            if isinstance(cause, BotoCoreError):
                raise EngineUnavailableError(f"Secrets Manager unreachable: {type(cause).__name__}") from e
            raise ConfigurationError(f"cannot read secret {name!r}") from e
        if not isinstance(secret, Mapping):
            raise ConfigurationError(f"secret {name!r} is not a JSON object")
        values = {str(k): str(v) for k, v in secret.items() if isinstance(v, str | int)}
        register_secrets(values.values())
        return values


def baidu_credentials(source: SecretSource | None = None) -> BaiduCredentials:
    """Baidu keys from ``BAIDU_API_KEY`` / ``BAIDU_SECRET_KEY`` (and optional ``BAIDU_APP_ID``)."""
    source = source or SecretSource()
    api_key, secret_key = CREDENTIAL_VARIABLES["baidu"]
    found = source.require(api_key, secret_key)
    app_id = str(source.values().get("BAIDU_APP_ID", "")).strip()
    return BaiduCredentials(api_key=found[api_key], secret_key=found[secret_key], app_id=app_id)


# --- keeping secrets out of logs -------------------------------------------------------------------------

_known: set[str] = set()
_known_lock = threading.Lock()
# Credentials the HTTP libraries put in URLs: Baidu's token request and every Baidu OCR request.
_QUERY_SECRETS = re.compile(r"((?:client_secret|client_id|access_token)=)[^&\s'\"]+", re.IGNORECASE)
# botocore logs whole response bodies at DEBUG, GetSecretValue's included. A JSON secret inside a bytes
# repr has escaped quotes no pattern delimits reliably, so such a message is dropped whole.
_SECRET_PAYLOAD = re.compile(r"[\"']Secret(?:String|Binary)[\"']")
SECRET_PAYLOAD_MASK = "(a Secrets Manager payload, not logged)"
MASK = "***"
# Short values (an app id, "true") would blank unrelated text and protect nothing.
_MIN_SECRET_LENGTH = 6


def register_secrets(values: Any) -> None:
    """Blank these values from now on in the log records of the libraries named in ``REDACTED_LOGGERS``."""
    with _known_lock:
        _known.update(str(v) for v in values if len(str(v)) >= _MIN_SECRET_LENGTH)


def redact(text: str) -> str:
    """``text`` with registered secrets, URL credentials and Secrets Manager payloads masked."""
    if _SECRET_PAYLOAD.search(text):
        return SECRET_PAYLOAD_MASK
    text = _QUERY_SECRETS.sub(rf"\1{MASK}", text)
    with _known_lock:
        known = sorted(_known, key=len, reverse=True)
    for value in known:
        text = text.replace(value, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a record's message with ``redact`` before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


REDACTED_LOGGERS = ("urllib3.connectionpool", "botocore.parsers", "botocore.endpoint", "botocore.hooks",
                    "botocore.auth", "botocore.httpsession", "botocore.credentials")
_FILTER = RedactingFilter()


def install_log_redaction() -> None:
    """Attach the filter once to each logger that may see credentials (idempotent)."""
    for name in REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


install_log_redaction()
