"""``s3ocr doctor`` on this machine, as it is (everything installed) and with parts of it taken away."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from s3ocr.cli import main

ENGINE_VARIABLES = ("OCR_ENGINE", "OCR_LANGUAGES", "OCR_FALLBACK_ENGINES", "OCR_ENGINE_ROUTES", "OCR_SECRET_NAME",
                    "BAIDU_API_KEY", "BAIDU_SECRET_KEY")


@pytest.fixture(autouse=True)
def default_configuration(monkeypatch):
    for name in ENGINE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no credential look-up over the network


def _checks(capsys) -> dict[str, dict]:
    report = json.loads(capsys.readouterr().out)
    return {check["name"]: check for check in report["checks"]}


def test_everything_the_default_engine_needs_is_installed_here(capsys):
    # GIVEN this machine, set up by `make deps`  WHEN the doctor runs for the default engine (auto, chi_sim+eng)
    status = main(["doctor"])
    out = capsys.readouterr().out
    # THEN each check auto needs is ok, with what was found, and the exit status is 0
    assert status == 0 and out.rstrip().endswith("everything the auto engine needs is here")
    lines = {line.split()[1]: line for line in out.splitlines()[1:-1] if not line.startswith(" ")}
    assert lines["tesseract"].startswith("ok") and " 5." in lines["tesseract"]
    assert lines["language"].startswith("ok") and "chi_sim, eng" in lines["language"]
    assert lines["poppler"].startswith("ok") and "pdftoppm, pdfinfo, pdftotext, pdfimages" in lines["poppler"]
    assert lines["PP-OCRv6"].startswith("ok") and "PP-OCRv6_det_small.onnx" in lines["PP-OCRv6"]
    assert "PP-OCRv6_rec_small.int8.onnx" in lines["PP-OCRv6"]  # make model built the int8 recogniser
    assert "PP-OCRv6_det_small.int8.onnx" in lines["PP-OCRv6"]  # and the int8 detector
    assert lines["onnxruntime"].startswith("ok")


def test_without_the_int8_recogniser_it_says_the_float_one_reads_and_how_to_build_it(tmp_path, monkeypatch, capsys):
    # GIVEN an install where make model never ran (a plain pip install)
    from s3ocr.engines import rapidocr

    monkeypatch.setattr(rapidocr, "QUANTISED_DIR", tmp_path)
    # WHEN the doctor runs  THEN PP-OCRv6 is still ok (the float recogniser reads), and it says how to build int8
    assert main(["doctor", "--json"]) == 0
    check = _checks(capsys)["PP-OCRv6 models"]
    assert check["ok"] and "float32 recognition" in check["detail"] and "make model" in check["detail"]

def test_without_tesseract_and_poppler_on_path_it_says_what_to_install(tmp_path):
    # GIVEN a PATH that holds python and nothing else
    (tmp_path / "python").symlink_to(sys.executable)
    env = {**os.environ, "PATH": str(tmp_path), "AWS_EC2_METADATA_DISABLED": "true"}
    for name in ENGINE_VARIABLES:
        env.pop(name, None)
    # WHEN the doctor runs
    done = subprocess.run([sys.executable, "-m", "s3ocr.cli", "doctor"], capture_output=True, text=True, env=env,
                          timeout=120, check=False)
    # THEN it fails, and names each missing part with the Debian packages that bring it
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("MISSING  tesseract") and "not on PATH" in line for line in lines)
    assert "fix: apt-get install tesseract-ocr (" in done.stdout
    assert "fix: apt-get install tesseract-ocr-chi-sim tesseract-ocr-eng" in done.stdout
    assert "fix: apt-get install poppler-utils" in done.stdout
    assert lines[-1] == "missing for auto: tesseract, language data, poppler"


def test_missing_language_data_names_its_package(capsys):
    assert main(["doctor", "--engine", "tesseract", "--lang", "eng+xyz_abc", "--json"]) == 1
    language = _checks(capsys)["language data"]
    assert not language["ok"] and language["needed"] and language["detail"].startswith("xyz_abc not installed")
    assert language["fix"].startswith("apt-get install tesseract-ocr-xyz-abc")


def test_cloud_credentials_are_checked_by_name_and_never_shown(monkeypatch, capsys):
    # GIVEN the baidu engine with only one of its two keys set
    monkeypatch.setenv("BAIDU_API_KEY", "a-key-nobody-may-see")
    assert main(["doctor", "--engine", "baidu-accurate", "--json"]) == 1
    out = capsys.readouterr().out
    baidu = {check["name"]: check for check in json.loads(out)["checks"]}["baidu credentials"]
    # THEN the missing one is named, the value of the other is nowhere in the report
    assert not baidu["ok"] and baidu["needed"] and baidu["detail"] == "BAIDU_SECRET_KEY not set"
    assert "a-key-nobody-may-see" not in out
    # and with both set, or a Secrets Manager secret named, the engine has what it needs
    monkeypatch.setenv("BAIDU_SECRET_KEY", "another-secret-value")
    assert main(["doctor", "--engine", "baidu-accurate"]) == 0
    assert "another-secret-value" not in capsys.readouterr().out
    monkeypatch.delenv("BAIDU_API_KEY")
    monkeypatch.setenv("OCR_SECRET_NAME", "s3ocr/ocr")
    assert main(["doctor", "--engine", "baidu"]) == 0


def test_a_missing_optional_sdk_fails_only_the_engine_that_needs_it(monkeypatch, capsys):
    # GIVEN the Tencent SDK cannot be imported (a module set to None in sys.modules raises ImportError)
    monkeypatch.setitem(sys.modules, "tencentcloud.ocr", None)
    monkeypatch.setenv("TENCENTCLOUD_SECRET_ID", "id")
    monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", "key")
    # THEN the default engine does not care, and the tencent engine is told how to get it
    assert main(["doctor", "--json"]) == 0
    assert _checks(capsys)["tencent SDK"] == {"name": "tencent SDK", "ok": False, "needed": False,
                                              "detail": "not installed", "fix": "pip install 's3ocr[tencent]'"}
    assert main(["doctor", "--engine", "tencent-accurate"]) == 1
    assert "MISSING  tencent SDK" in capsys.readouterr().out


def test_an_unknown_engine_and_a_fallback_are_checked(monkeypatch, capsys):
    monkeypatch.setenv("OCR_FALLBACK_ENGINES", "textract")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert main(["doctor", "--engine", "nope", "--json"]) == 1
    checks = _checks(capsys)
    assert checks["engine"]["detail"] == "unknown: nope" and "tesseract" in checks["engine"]["fix"]
    assert checks["AWS credentials"] == {"name": "AWS credentials", "ok": True, "needed": True,
                                         "detail": "from env, region eu-west-1", "fix": ""}
