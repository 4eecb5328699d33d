from __future__ import annotations

from pathlib import Path

import pytest

from s3ocr.errors import ConfigurationError
from s3ocr.settings import Settings


def test_defaults_from_an_empty_environment():
    settings = Settings.from_env({})
    defaults = (settings.languages, settings.dpi, settings.engine, settings.output_prefix)
    assert defaults == ("chi_sim+eng", 300, "auto", "")


def test_environment_is_read():
    env = {"OUTPUT_BUCKET": "out", "OUTPUT_PREFIX": "ocr/", "OCR_LANGUAGES": "eng", "PDF_DPI": "200",
           "MAX_PAGES": "7", "OCR_ENGINE": "tesseract", "S3OCR_WORK_DIR": "/var/tmp/x"}
    settings = Settings.from_env(env)
    assert settings.output_bucket == "out" and settings.dpi == 200 and settings.max_pages == 7
    assert settings.work_dir == Path("/var/tmp/x")


def test_explicit_arguments_beat_the_environment_and_none_does_not():
    settings = Settings.from_env({"OCR_LANGUAGES": "eng", "PDF_DPI": "200"}, languages="chi_sim", dpi=None)
    assert settings.languages == "chi_sim" and settings.dpi == 200


@pytest.mark.parametrize("env", [{"PDF_DPI": "high"}, {"MAX_PAGES": "0"}, {"PDF_DPI": "10"}])
def test_bad_values_are_configuration_errors(env):
    with pytest.raises(ConfigurationError):
        Settings.from_env(env)
