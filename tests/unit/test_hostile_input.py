"""Input written by whoever may upload: keys that leave a folder, keys near S3's 1,024 bytes, keys with control
characters, folder markers, malformed notifications, configurations whose outputs would trigger the function, and
PDFs that carry an owner password, JavaScript, an XFA form or a page too large to render.

The whole-path cases (an upload through the queue to the function's record) are in
``tests/integration/test_hostile_inputs.py``; these are the rules they rest on.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from s3ocr import keys
from s3ocr.cli import main
from s3ocr.devstack.event_source import s3_notification
from s3ocr.errors import DecompressionBombError, MalformedMessageError, RenderError, UnsafeKeyError
from s3ocr.models import DocumentFailure, DocumentRef, DocumentResult, EngineInfo, PageResult
from s3ocr.notifications import refs_from_payload
from s3ocr.pages.pdf import PdfPages, check_rendered_size, expected_size, page_dpi, read_pdf_info
from s3ocr.reliability import hostile
from s3ocr.settings import Settings, recursion_risk
from s3ocr.sinks.formats import DEFAULT_FORMATS, suffixes_of
from s3ocr.sinks.local import LocalSink
from s3ocr.sinks.s3 import S3Sink

# --- keys -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "shown"), [
    ("scans/扫描 a+b.pdf", "scans/扫描 a+b.pdf"),
    ("a\nforged log line", "a\\nforged log line"),
    ("\x1b[31mred\x1b[0m.png", "\\x1b[31mred\\x1b[0m.png"),
    ("evil\u202efdp.exe", "evil\\u202efdp.exe"),  # right-to-left override
    ("tab\there", "tab\\there"),
])
def test_a_key_is_shown_with_its_control_characters_escaped(key, shown):
    assert keys.printable(key) == shown
    assert keys.printable(key).isprintable()


@pytest.mark.parametrize("key", ["../x.png", "a/../../x.png", "/abs/x.png", "a//b.png", "./a.png", "a/./b.png",
                                 "a/..", "nul\0.png", ""])
def test_a_key_that_would_leave_the_folder_is_refused(tmp_path, key):
    with pytest.raises(UnsafeKeyError):
        keys.local_path(tmp_path, key)


@pytest.mark.parametrize("key", ["a.png", "a/b/c.png", "a..b.png", "..hidden.png", "a b/扫描.pdf"])
def test_a_relative_key_lands_inside_the_folder(tmp_path, key):
    path = keys.local_path(tmp_path, key)
    assert path.resolve().is_relative_to(tmp_path.resolve()) and path.name == key.rsplit("/", 1)[-1]


def test_a_long_name_is_cut_to_its_limit_with_a_digest_of_the_whole():
    short = "a" * 100
    assert keys.fit(short, 100) == short
    long_a, long_b = "扫" * 400 + "a", "扫" * 400 + "b"  # 1,201 bytes each, the same first 1,000
    cut_a, cut_b = keys.fit(long_a, 1000), keys.fit(long_b, 1000)
    assert len(cut_a.encode()) <= 1000 and len(cut_b.encode()) <= 1000
    assert cut_a != cut_b and cut_a == keys.fit(long_a, 1000)  # unique, and the same on every run
    assert cut_a.startswith("扫" * 300)  # cut at a character boundary: the head is whole characters


# --- sinks -----------------------------------------------------------------------------------------------------------


def _result(key: str) -> DocumentResult:
    page = PageResult(number=1, status="ok", text="text")
    return DocumentResult(source=DocumentRef("in", key), media_type="image/png", engine=EngineInfo("fake", "1"),
                          languages="eng", pages=(page,), page_count=1)


def test_a_key_near_the_s3_limit_still_gets_its_outputs_under_a_cut_name():
    key = "long/" + "k" * 1015 + ".png"  # 1,024 bytes: the longest key S3 takes
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="out")
        sink = S3Sink(s3, "out", prefix="ocr/")
        written = sink.write_result(_result(key))
        assert all(len(name.encode()) <= keys.S3_KEY_BYTES for name in written.values())
        assert written == {"txt": sink.key(key, ".txt"), "json": sink.key(key, ".json")}
        document = json.loads(s3.get_object(Bucket="out", Key=sink.key(key, ".json"))["Body"].read())
        assert document["source"]["key"] == key  # the record names its source in full
        # a later failure of the same key replaces those outputs, under the same cut name
        sink.write_failure(DocumentFailure(DocumentRef("in", key), "corrupt_document", "CorruptDocumentError", "x"))
        names = [o["Key"] for o in s3.list_objects_v2(Bucket="out")["Contents"]]
        assert names == [sink.key(key, ".error.json")]


def test_the_local_sink_writes_nothing_outside_its_folder(tmp_path):
    out = tmp_path / "deep" / "out"
    sink = LocalSink(out)
    assert sink.refuses("../../escape.png") and sink.refuses("/abs.png") and sink.refuses("ok.png") is None
    with pytest.raises(UnsafeKeyError):
        sink.write_result(_result("../../escape.png"))
    assert not any(tmp_path.rglob("*.txt")) and not any(tmp_path.rglob("*.json"))
    long_name = "n" * 300 + ".png"  # a file name may have 255 bytes
    written = sink.write_result(_result(long_name))
    assert all(len(Path(name).name.encode()) <= keys.FILE_NAME_BYTES for name in written.values())


def test_the_cli_refuses_listed_keys_that_would_leave_the_output_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="hostile")
        for key in ("../../escape.txt", "/abs.txt", "a/./b.txt", "inside/fine.txt", "folder/"):
            s3.put_object(Bucket="hostile", Key=key, Body=b"not a document")
        out = tmp_path / "a" / "b" / "out"
        status = main(["extract", "-q", "-o", str(out), "s3://hostile/"])
    err = capsys.readouterr().err
    assert status == 1 and err.count("refused (unsafe_key)") == 3
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    # only the safe key got its record (unsupported_type: the body is text), and the folder marker none
    assert written == ["a/b/out/inside/fine.txt.error.json"]


def test_the_cli_shows_a_file_name_with_control_characters_escaped(tmp_path, capsys):
    path = tmp_path / "a\x1b[2Jb\nc.txt"
    path.write_bytes(b"not a document")
    assert main(["extract", str(path)]) == 1
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\\x1b[2Jb\\nc.txt" in err and err.count("\n") == 1


# --- notifications ---------------------------------------------------------------------------------------------------


def _notification(key: object, bucket: object = "in") -> dict:
    return s3_notification(bucket, key, size=0)


def test_a_folder_marker_is_no_document():
    assert refs_from_payload(_notification("scans/2026/")) == []
    eventbridge = {"source": "aws.s3", "detail-type": "Object Created",
                   "detail": {"bucket": {"name": "in"}, "object": {"key": "scans/"}}}
    assert refs_from_payload(eventbridge) == []


@pytest.mark.parametrize("payload", [[1, 2], "text", 7, None, _notification(12), _notification("k", bucket=""),
                                     {"Records": ["not a record"]}, {"Records": [{"eventSource": "aws:s3",
                                                                                 "eventName": "ObjectCreated:Put",
                                                                                 "s3": {"bucket": {}}}]}])
def test_a_malformed_payload_is_a_typed_permanent_error(payload):
    with pytest.raises(MalformedMessageError) as caught:
        refs_from_payload(payload)
    assert caught.value.reason == "malformed_message"


# --- recursion -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("input_bucket", "input_prefix", "suffixes", "output_prefix", "loops", "formats"), [
    ("docs", "", (), "", True, DEFAULT_FORMATS),  # one bucket, everything watched: x.pdf.txt.error.json.error.json...
    ("docs", "", (), "ocr/", True, DEFAULT_FORMATS),  # the outputs land in the watched bucket all the same
    ("docs", "in/", (), "", True, DEFAULT_FORMATS),  # in/x.pdf -> in/x.pdf.txt, watched
    ("docs", "in/", (), "in/ocr/", True, DEFAULT_FORMATS),  # in/ocr/in/x.pdf.txt starts with in/
    ("docs", "in/", (), "out/", False, DEFAULT_FORMATS),  # out/in/x.pdf.txt is not under in/
    ("docs", "", (".pdf", ".png"), "", False, DEFAULT_FORMATS),  # a suffix filter no output matches
    ("docs", "", (".pdf", ".png"), "", True, ("txt", "pdf")),  # ... until searchable PDFs are written
    ("docs", "", (".json",), "", True, DEFAULT_FORMATS),
    ("other", "", (), "", False, DEFAULT_FORMATS),  # another bucket
    ("", "", (), "", False, DEFAULT_FORMATS),  # not told what triggers the function
])
def test_a_configuration_whose_outputs_trigger_the_function_is_found(input_bucket, input_prefix, suffixes,
                                                                      output_prefix, loops, formats):
    settings = Settings(output_bucket="docs", output_prefix=output_prefix, input_bucket=input_bucket,
                        input_prefix=input_prefix, input_suffixes=suffixes, output_formats=formats)
    risk = recursion_risk(settings, suffixes_of(settings.output_formats))
    assert (risk is not None) == loops
    if risk:
        assert "trigger it again" in risk and "OUTPUT_PREFIX" in risk


def test_the_trigger_is_read_from_the_environment():
    settings = Settings.from_env({"INPUT_BUCKET": "docs", "INPUT_PREFIX": "in/", "INPUT_SUFFIXES": ".pdf, .png",
                                  "DEAD_LETTER_QUEUE_URL": "http://q/dlq"})
    assert (settings.input_bucket, settings.input_prefix, settings.input_suffixes) == ("docs", "in/", (".pdf", ".png"))
    assert settings.dead_letter_queue_url == "http://q/dlq"


# --- PDFs ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("make", "flag"), [
    (hostile.owner_password_pdf, "owner_password"),
    (lambda: hostile.javascript_pdf("names"), "javascript"),
    (lambda: hostile.javascript_pdf("open_action"), "javascript"),
    (hostile.xfa_pdf, "xfa_form"),
])
def test_a_pdf_that_opens_is_read_and_what_it_carries_is_flagged(tmp_path, make, flag):
    path = tmp_path / "doc.pdf"
    path.write_bytes(make())
    pages = PdfPages(path, dpi=300, max_page_pixels=50_000_000)
    assert pages.flags == (flag,)
    assert pages.text_layer(1).strip() == hostile.TEXT


def test_a_plain_pdf_has_no_flags(resources):
    assert read_pdf_info(resources / "manual.pdf", 10).flags == ()


def test_a_page_too_large_to_render_even_coarsely_is_refused():
    with pytest.raises(DecompressionBombError, match="2778 x 2778 inches"):
        page_dpi((200_000, 200_000), dpi=300, max_pixels=50_000_000)
    assert page_dpi((14_400, 14_400), dpi=300, max_pixels=50_000_000) == 36  # large, and rendered coarsely


def test_a_page_poppler_renders_to_a_speck_is_a_render_error(tmp_path):
    with pytest.raises(RenderError, match="1 x 1"):
        check_rendered_size(1, (1, 1), expected_size((612, 792), 0, 300))
    check_rendered_size(1, (2550, 3300), expected_size((612, 792), 0, 300))
    check_rendered_size(1, (3300, 2550), expected_size((612, 792), 90, 300))


def test_the_giant_page_fails_alone_and_the_document_is_partial(tmp_path):
    from s3ocr.pipeline import process_local_file
    from tests.fakes import FakeEngine

    path = tmp_path / "giant.pdf"
    path.write_bytes(hostile.giant_page_pdf())
    result = process_local_file(path, DocumentRef("", "giant.pdf"), Settings(work_dir=tmp_path), FakeEngine())
    assert result.status == "partial"
    first, second = result.pages
    assert first.status == "ok" and first.text.strip() == hostile.TEXT
    assert second.status == "failed" and second.error["reason"] == "decompression_bomb"


def test_a_pdf_page_is_rendered_as_a_viewer_shows_it_its_crop_box(tmp_path):
    from s3ocr.bench.samples import stream, write_pdf

    path = write_pdf(tmp_path / "crop.pdf", [
        b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /CropBox [0 0 300 200] /Rotate 90 /Contents 4 0 R >>",
        stream(b"0 0 0 rg 10 10 100 100 re f"),
    ])
    page = PdfPages(path, dpi=72, max_page_pixels=50_000_000, use_text_layer=False).render(1, tmp_path)
    assert (page.width, page.height) == (200, 300)


def test_s3_refusing_a_key_as_too_long_is_permanent_not_a_retry():
    import botocore.exceptions

    from s3ocr.errors import KeyTooLongError
    from s3ocr.sources import classify_s3_error

    refusal = botocore.exceptions.ClientError(
        {"Error": {"Code": "KeyTooLongError", "Message": "Your key is too long"},
         "ResponseMetadata": {"HTTPStatusCode": 400}}, "PutObject")
    error = classify_s3_error(refusal, "writing s3://out/x")
    assert isinstance(error, KeyTooLongError) and error.reason == "key_too_long"


def test_an_output_prefix_that_leaves_no_room_for_keys_is_a_configuration_error():
    from s3ocr.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="OUTPUT_PREFIX"):
        S3Sink(client=None, bucket="out", prefix="p" * 600)
    S3Sink(client=None, bucket="out", prefix="p" * 500)
