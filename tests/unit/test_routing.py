"""Engine per object: metadata beats the longest key prefix beats the default; engines are built once."""

from __future__ import annotations

import pytest

from s3ocr.engines.fallback import FallbackEngine
from s3ocr.errors import ConfigurationError
from s3ocr.models import DocumentRef
from s3ocr.routing import EngineChooser, engine_name_for
from s3ocr.settings import Settings

SETTINGS = Settings.from_env({"OCR_ENGINE_ROUTES": "scans/=baidu,scans/receipts/=textract",
                              "OCR_FALLBACK_ENGINES": "tesseract"})


@pytest.mark.parametrize(
    ("key", "metadata", "engine"),
    [
        ("inbox/a.pdf", {}, "auto"),  # the default engine
        ("scans/a.pdf", {}, "baidu"),
        ("scans/receipts/a.pdf", {}, "textract"),
        ("scans/receipts/a.pdf", {"ocr-engine": "baidu-accurate"}, "baidu-accurate"),
    ],
)
def test_engine_name_for(key, metadata, engine):
    assert engine_name_for(DocumentRef("in", key), metadata, SETTINGS) == engine


def test_routes_are_validated():
    with pytest.raises(ConfigurationError):
        Settings.from_env({"OCR_ENGINE_ROUTES": "no-equals-sign"})


def test_chooser_builds_each_engine_once_with_fallbacks():
    chooser = EngineChooser(Settings.from_env({"OCR_ENGINE": "tesseract", "OCR_FALLBACK_ENGINES": "tesseract"}))
    assert chooser.default is chooser.engine("tesseract")
    chained = chooser.for_object(DocumentRef("in", "a.pdf"), {"ocr-engine": "textract"})
    assert isinstance(chained, FallbackEngine) and chained is chooser.engine("textract")


def test_unknown_engine_in_metadata_is_a_configuration_error():
    with pytest.raises(ConfigurationError):
        EngineChooser(SETTINGS).for_object(DocumentRef("in", "a.pdf"), {"ocr-engine": "nonsense"})
