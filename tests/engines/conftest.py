"""Engines under test and the loopback fakes they talk to.

``CASES`` is the list the shared contract suite runs over: one builder per engine name. A new cloud
engine adds its fake fixture and one builder here, and the whole contract runs against it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import pytest

from s3ocr.engines.aliyun import AliyunCredentials, AliyunEngine
from s3ocr.engines.auto import AutoEngine
from s3ocr.engines.baidu import BaiduEngine
from s3ocr.engines.base import Engine
from s3ocr.engines.rapidocr import RapidOcrEngine
from s3ocr.engines.ratelimit import limiter_for
from s3ocr.engines.retry import FAST_BACKOFF
from s3ocr.engines.tencent import TencentCredentials, TencentEngine
from s3ocr.engines.tesseract import TesseractEngine
from s3ocr.engines.textract import TextractEngine
from s3ocr.models import PageImage
from s3ocr.secrets import BaiduCredentials
from tests.conftest import RESOURCES
from tests.fakes_services import aliyun as aliyun_service
from tests.fakes_services import baidu as baidu_service
from tests.fakes_services import tencent as tencent_service
from tests.fakes_services import textract as textract_service
from tests.fakes_services.aliyun import AliyunFake
from tests.fakes_services.baidu import BaiduFake
from tests.fakes_services.server import LoopbackService
from tests.fakes_services.tencent import TencentFake
from tests.fakes_services.textract import TextractFake

# The title and first text line of linn.png: real print, small enough that Tesseract reads it in ~0.5 s.
PAGE_CROP = (slice(110, 470), slice(340, 2220))


def write_page(directory: Path, crop: tuple[slice, slice] = PAGE_CROP, number: int = 1) -> PageImage:
    """A page image as the pipeline hands it to an engine: a greyscale PGM in the work dir."""
    image = cv2.imread(str(RESOURCES / "linn.png"), cv2.IMREAD_GRAYSCALE)[crop]
    path = directory / f"{number:06d}_ocr.pgm"
    cv2.imwrite(str(path), image)
    return PageImage(number=number, path=path, width=image.shape[1], height=image.shape[0], dpi=300)


@pytest.fixture(autouse=True)
def no_rate_budget(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test starts with no request-rate budget; a test that sets one gets fresh limiters."""
    monkeypatch.delenv("OCR_ENGINE_QPS", raising=False)
    monkeypatch.delenv("OCR_ENGINE_INSTANCES", raising=False)
    monkeypatch.delenv("JOBS_TABLE", raising=False)  # with the jobs table, the budget is kept there
    limiter_for.cache_clear()
    yield
    limiter_for.cache_clear()


@pytest.fixture
def page(tmp_path: Path) -> PageImage:
    return write_page(tmp_path)


@pytest.fixture
def baidu_fake() -> Iterator[BaiduFake]:
    fake = BaiduFake().start()
    yield fake
    fake.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Test credentials and region only: no profile, no config file, no instance metadata."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_TEXTRACT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", textract_service.ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", textract_service.SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", textract_service.REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def textract_fake(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[TextractFake]:
    fake = TextractFake().start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_TEXTRACT", fake.url)  # boto3 resolves it, as in production
    yield fake
    fake.stop()


def baidu_credentials() -> BaiduCredentials:
    return BaiduCredentials(api_key=baidu_service.API_KEY, secret_key=baidu_service.SECRET_KEY, app_id="1234567")


def make_baidu(fake: BaiduFake, api: str = "general", **options: object) -> BaiduEngine:
    options.setdefault("backoff", FAST_BACKOFF)
    return BaiduEngine(api, credentials=baidu_credentials, endpoint=fake.url,
                       token_url=f"{fake.url}/oauth/2.0/token", **options)  # type: ignore[arg-type]


def make_textract(**options: object) -> TextractEngine:
    options.setdefault("backoff", FAST_BACKOFF)
    return TextractEngine(**options)  # type: ignore[arg-type]


@dataclass
class EngineCase:
    engine: Engine
    languages: str
    fake: LoopbackService | None = None  # None: a local engine
    delegates: tuple[str, ...] = ()  # engines that may read the page on this one's behalf (``auto``)

    def make_slow(self, seconds: float) -> None:
        if self.fake:
            self.fake.delay = seconds


@pytest.fixture
def tencent_fake() -> Iterator[TencentFake]:
    fake = TencentFake().start()
    yield fake
    fake.stop()


@pytest.fixture
def aliyun_fake() -> Iterator[AliyunFake]:
    fake = AliyunFake().start()
    yield fake
    fake.stop()


def make_tencent(fake: TencentFake, api: str = "basic", **options: object) -> TencentEngine:
    options.setdefault("backoff", FAST_BACKOFF)
    credentials = TencentCredentials(tencent_service.SECRET_ID, tencent_service.SECRET_KEY)
    return TencentEngine(api, credentials=lambda: credentials, endpoint=fake.url, **options)  # type: ignore[arg-type]


def make_aliyun(fake: AliyunFake, **options: object) -> AliyunEngine:
    options.setdefault("backoff", FAST_BACKOFF)
    credentials = AliyunCredentials(aliyun_service.ACCESS_KEY_ID, aliyun_service.ACCESS_KEY_SECRET)
    return AliyunEngine(credentials=lambda: credentials, endpoint=fake.url, **options)  # type: ignore[arg-type]


CASES: dict[str, Callable[[pytest.FixtureRequest], EngineCase]] = {
    "tesseract": lambda request: EngineCase(TesseractEngine(), "eng"),
    "rapidocr": lambda request: EngineCase(RapidOcrEngine(), "eng"),
    "auto": lambda request: EngineCase(AutoEngine(), "eng", delegates=("tesseract", "rapidocr")),
    "baidu": lambda request: EngineCase(make_baidu(fake := request.getfixturevalue("baidu_fake")), "eng", fake),
    "baidu-accurate": lambda request: EngineCase(
        make_baidu(fake := request.getfixturevalue("baidu_fake"), "accurate"), "eng", fake),
    "textract": lambda request: EngineCase(make_textract(), "eng", request.getfixturevalue("textract_fake")),
    "tencent": lambda request: EngineCase(make_tencent(fake := request.getfixturevalue("tencent_fake")), "eng", fake),
    "tencent-accurate": lambda request: EngineCase(
        make_tencent(fake := request.getfixturevalue("tencent_fake"), "accurate"), "eng", fake),
    "aliyun": lambda request: EngineCase(make_aliyun(fake := request.getfixturevalue("aliyun_fake")), "eng", fake),
}
LOCAL_ENGINES = ("tesseract", "rapidocr", "auto")
CLOUD_CASES = [name for name in CASES if name not in LOCAL_ENGINES]


@pytest.fixture(params=list(CASES))
def engine_case(request: pytest.FixtureRequest) -> EngineCase:
    return CASES[request.param](request)


@pytest.fixture(params=CLOUD_CASES)
def cloud_case(request: pytest.FixtureRequest) -> EngineCase:
    return CASES[request.param](request)
