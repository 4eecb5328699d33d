"""``s3ocr extract`` on local files and folders, with the real Tesseract: outputs, exit statuses, --json, --help."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from s3ocr.bench.scoring import cer
from s3ocr.cli import EXIT_CODES, EXIT_FAILED, EXIT_OK, EXIT_PARTIAL, EXIT_RETRY, EXIT_USAGE, exit_status, main
from s3ocr.console import Row
from s3ocr.engines import ENGINES
from s3ocr.sinks.formats import FORMATS


def test_prints_text_of_a_png(resources, capsys):
    assert main(["extract", "-q", "--lang", "eng", str(resources / "linn.png")]) == 0
    assert cer((resources / "linn.txt").read_text(), capsys.readouterr().out) <= 0.05


def test_folder_to_output_dir_keeps_relative_names_and_flags_bad_files(tmp_path, resources):
    source = tmp_path / "in"
    (source / "nested").mkdir(parents=True)
    shutil.copy(resources / "linn.pdf", source / "nested" / "scan.pdf")
    shutil.copy(resources / "invalid.pdf", source / "invalid.pdf")
    (source / "notes.md").write_text("not a document")
    out = tmp_path / "out"
    status = main(["extract", "-q", "--lang", "eng", "--dpi", "150", "-o", str(out), str(source)])
    assert status == 1  # invalid.pdf failed
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert names == ["invalid.pdf.error.json", "nested/scan.pdf.json", "nested/scan.pdf.txt"]
    assert json.loads((out / "invalid.pdf.error.json").read_text())["reason"] == "corrupt_document"
    assert "LinnSequencer" in (out / "nested/scan.pdf.txt").read_text()


def test_missing_input_fails(tmp_path, capsys):
    assert main(["extract", str(tmp_path / "nope.pdf")]) == 1
    assert "nope.pdf" in capsys.readouterr().err


def test_prints_text_of_an_s3_object(resources, capsys, monkeypatch):
    import boto3
    from moto import mock_aws

    for name, value in {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="scans-bucket")
        s3.put_object(Bucket="scans-bucket", Key="in/linn.png", Body=(resources / "linn.png").read_bytes())
        assert main(["extract", "-q", "--lang", "eng", "s3://scans-bucket/in/linn.png"]) == 0
    assert cer((resources / "linn.txt").read_text(), capsys.readouterr().out) <= 0.05


# --- exit status: one code per outcome ---------------------------------------------------------------------------


def _ruled_form(path):
    """A page with ink (a form's ruling) and no text in it."""
    import cv2
    import numpy as np

    form = np.full((877, 620), 255, np.uint8)
    for y in range(100, 800, 45):
        cv2.line(form, (60, y), (560, y), 0, 2)
    for x in (60, 210, 385, 560):
        cv2.line(form, (x, 100), (x, 775), 0, 2)
    cv2.imwrite(str(path), form)
    return path


def test_a_page_with_ink_and_no_text_makes_the_run_partial(tmp_path, capsys):
    # GIVEN an empty ruled form, read by Tesseract
    form = _ruled_form(tmp_path / "form.png")
    # WHEN it is extracted with --json
    status = main(["extract", "--json", "--engine", "tesseract", "--lang", "eng", str(form)])
    # THEN the exit status is 3 (partial), and its JSON line says why
    record = json.loads(capsys.readouterr().out)
    assert status == EXIT_PARTIAL
    assert record["status"] == "partial" and record["no_text_pages"] == 1 and record["reason"] == "no_text_found"


def test_an_unknown_engine_is_a_usage_error_before_any_input_is_read(resources, capsys):
    assert main(["extract", "--engine", "nope", str(resources / "linn.png")]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "unknown OCR engine 'nope'" in err and "linn.png" not in err


def test_missing_language_data_is_a_configuration_error(resources, capsys):
    # GIVEN a language Tesseract has no data for  WHEN a document is read with it
    status = main(["extract", "--engine", "tesseract", "--lang", "xyz", str(resources / "linn.png")])
    # THEN the document's failure is a configuration error, and the run says so: fix the command, not the input
    assert status == EXIT_USAGE and "failed (configuration)" in capsys.readouterr().err


def test_an_unknown_format_is_a_usage_error_that_names_the_formats(tmp_path, resources, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["extract", "-o", str(tmp_path), "--format", "txt,docx", str(resources / "linn.png")])
    err = capsys.readouterr().err
    assert exit_.value.code == EXIT_USAGE and "--format names no format docx" in err
    assert all(name in err for name in FORMATS)


def test_the_formats_written_are_the_ones_asked_for_else_output_formats(tmp_path, resources, monkeypatch, capsys):
    manual = str(resources / "manual.pdf")
    assert main(["extract", "--json", "-o", str(tmp_path / "a"), "--format", "md,txt", manual]) == EXIT_OK
    assert list(json.loads(capsys.readouterr().out)["outputs"]) == ["txt", "md"]
    monkeypatch.setenv("OUTPUT_FORMATS", "tsv")  # as the deployment sets it
    assert main(["extract", "--json", "-o", str(tmp_path / "b"), manual]) == EXIT_OK
    outputs = json.loads(capsys.readouterr().out)["outputs"]
    assert list(outputs) == ["tsv"] and Path(outputs["tsv"]).name == "manual.pdf.tsv"


def test_an_s3_uri_without_a_key_or_prefix_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["extract", "s3://bucket"])
    assert exit_.value.code == EXIT_USAGE and "s3://bucket/prefix/" in capsys.readouterr().err


def test_an_unreachable_ocr_service_is_a_transient_error(resources, monkeypatch, capsys):
    # GIVEN Baidu's engine with credentials, pointed at a port nothing listens on (9: discard), and a 1 s page budget
    for name, value in {"BAIDU_API_KEY": "key-for-test", "BAIDU_SECRET_KEY": "secret-for-test",
                        "BAIDU_TOKEN_URL": "http://127.0.0.1:9/token", "BAIDU_OCR_ENDPOINT": "http://127.0.0.1:9",
                        "PAGE_TIMEOUT": "1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("OCR_SECRET_NAME", raising=False)
    # WHEN a page is sent to it
    status = main(["extract", "--json", "--engine", "baidu", "--lang", "eng", str(resources / "linn.png")])
    # THEN the exit status is 4: nothing is wrong with the document, run it again later
    record = json.loads(capsys.readouterr().out)
    assert status == EXIT_RETRY and record["status"] == "transient" and record["reason"] == "engine_unavailable"


@pytest.mark.parametrize(("statuses", "expected"), [
    ([], EXIT_OK),
    (["ok", "ok"], EXIT_OK),
    (["ok", "partial"], EXIT_PARTIAL),
    (["partial", "failed"], EXIT_FAILED),
    (["partial", "refused"], EXIT_FAILED),
    (["failed", "transient", "partial"], EXIT_RETRY),
    (["transient", "configuration", "failed"], EXIT_USAGE),
])
def test_the_exit_status_is_the_first_that_applies_of_usage_retry_failed_partial(statuses, expected):
    rows = [Row("k", "k", "failed", reason="configuration") if status == "configuration" else Row("k", "k", status)
            for status in statuses]
    assert exit_status(rows) == expected


# --- for people and for machines -----------------------------------------------------------------------------


def test_help_names_every_engine_every_format_and_every_exit_status(capsys):
    with pytest.raises(SystemExit):
        main(["extract", "--help"])
    # argparse wraps help text: compare with the line breaks taken out
    text = " ".join(capsys.readouterr().out.split())
    assert all(name in text for name in ENGINES) and "auto" in text
    assert all(f"{name} ({suffix})" in text for name, suffix in FORMATS.items())
    assert all(f"{code} " in text for code, _ in EXIT_CODES) and "JSON Lines" in text


def test_json_lines_name_each_document_and_the_files_written(tmp_path, resources, capsys):
    # GIVEN a born-digital PDF and a corrupt one  WHEN they are extracted to a folder with --json
    out = tmp_path / "out"
    status = main(["extract", "--json", "-o", str(out), str(resources / "manual.pdf"),
                   str(resources / "invalid.pdf")])
    captured = capsys.readouterr()
    # THEN stdout holds exactly one JSON object per document, nothing else
    records = [json.loads(line) for line in captured.out.splitlines()]
    assert status == EXIT_FAILED and [r["key"] for r in records] == ["manual.pdf", "invalid.pdf"]
    manual, invalid = records
    assert manual["status"] == "ok" and manual["pages"] == 8 and manual["no_text_pages"] == 0
    assert sorted(manual["outputs"]) == ["json", "txt"] and all(Path(p).is_file() for p in manual["outputs"].values())
    assert invalid["status"] == "failed" and invalid["reason"] == "corrupt_document" and invalid["message"]
    assert Path(invalid["outputs"]["error"]).name == "invalid.pdf.error.json"
    # and the people get a line per document and a summary table on stderr
    assert "manual.pdf: ok, 8 page(s)" in captured.err and "2 document(s): 1 ok, 1 failed" in captured.err
