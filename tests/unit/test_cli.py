"""``s3ocr extract`` on local files and folders, with the real Tesseract."""

from __future__ import annotations

import json
import shutil

from s3ocr.bench.scoring import cer
from s3ocr.cli import main


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
