"""The SAM template and the function, invoked by `sam local invoke` against a local S3 server."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.container.conftest import (
    INPUT_BUCKET,
    OUTPUT_BUCKET,
    RESOURCES,
    ROOT,
    SAM,
    event_object_key,
    run,
)

# Generous: the first test also pays for Docker set-up and the image build on a fresh machine.
pytestmark = [pytest.mark.container, pytest.mark.timeout(2400)]

# Words of tests/resources/linn.txt (the page's ground truth) that any usable OCR of it contains.
EXPECTED_WORDS = ("LinnSequencer", "MIDI", "musician")


def output_text(s3: Any, key: str) -> str:
    return s3.get_object(Bucket=OUTPUT_BUCKET, Key=f"{key}.txt")["Body"].read().decode("utf-8")


def output_keys(s3: Any) -> set[str]:
    return {obj["Key"] for obj in s3.list_objects_v2(Bucket=OUTPUT_BUCKET).get("Contents", [])}


def upload_for(s3: Any, event_name: str, resource: str) -> str:
    key = event_object_key(event_name)
    s3.upload_file(str(RESOURCES / resource), INPUT_BUCKET, key)
    return key


def assert_ocr_text(text: str) -> None:
    missing = [word for word in EXPECTED_WORDS if word not in text]
    assert not missing, f"OCR text lacks {missing}: {text[:300]!r}"


def test_template_passes_sam_validate_lint(container_env: dict[str, str]) -> None:
    done = run([str(SAM), "validate", "--lint", "--template-file", "template.yaml"], cwd=ROOT,
               env={**os.environ, "SAM_CLI_TELEMETRY": "0"}, timeout=300)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert "is a valid SAM Template" in done.stdout + done.stderr


def test_sam_build_writes_the_image_function(sam_build: Path, image: str) -> None:
    # GIVEN template.yaml with OcrFunction as PackageType Image (Dockerfile, DockerContext, DockerTag)
    # WHEN `sam build` ran (the sam_build fixture)
    # THEN the built template points the function at the image it tagged
    built = sam_build.read_text(encoding="utf-8")
    assert f"ImageUri: {image}" in built
    assert "PackageType: Image" in built


def test_png_event_writes_text_and_json(s3: Any, sam_invoke: Any) -> None:
    # GIVEN the PNG the event names is in the input bucket
    key = upload_for(s3, "s3-put-png.json", "linn.png")
    # WHEN the function is invoked with the S3 event
    invocation = sam_invoke("s3-put-png.json")
    # THEN the text and the JSON result are in the output bucket, and nothing failed
    assert {f"{key}.txt", f"{key}.json"} <= output_keys(s3)
    assert f"{key}.error.json" not in output_keys(s3)
    assert_ocr_text(output_text(s3, key))
    result = json.loads(s3.get_object(Bucket=OUTPUT_BUCKET, Key=f"{key}.json")["Body"].read())
    assert result["status"] == "ok"
    assert invocation.response["documents"][0]["status"] == "ok"


def test_pdf_event_writes_text(s3: Any, sam_invoke: Any) -> None:
    key = upload_for(s3, "s3-put-pdf.json", "linn.pdf")
    sam_invoke("s3-put-pdf.json")
    assert_ocr_text(output_text(s3, key))
    result = json.loads(s3.get_object(Bucket=OUTPUT_BUCKET, Key=f"{key}.json")["Body"].read())
    assert result["media_type"] == "application/pdf"
    assert result["page_count"] >= 1


def test_url_encoded_unicode_key_is_decoded(s3: Any, sam_invoke: Any) -> None:
    # GIVEN an object whose key has spaces, a '+' and CJK characters (URL-encoded in the S3 event)
    key = upload_for(s3, "s3-put-unicode-key.json", "linn.png")
    assert key == "samples/scan 2026+final 扫描件.png"
    # WHEN the function is invoked
    sam_invoke("s3-put-unicode-key.json")
    # THEN the outputs are keyed by the decoded key
    assert_ocr_text(output_text(s3, key))


def test_sqs_batch_processes_the_document_and_skips_the_test_event(s3: Any, sam_invoke: Any) -> None:
    # GIVEN an SQS batch: one S3 notification and one s3:TestEvent
    key = upload_for(s3, "sqs-s3-put.json", "linn.png")
    # WHEN the function is invoked with the batch
    invocation = sam_invoke("sqs-s3-put.json")
    # THEN the document is read and no message is reported failed
    assert invocation.response == {"batchItemFailures": []}
    assert_ocr_text(output_text(s3, key))


def test_eventbridge_event_writes_text(s3: Any, sam_invoke: Any) -> None:
    key = upload_for(s3, "eventbridge-object-created.json", "linn.pdf")
    sam_invoke("eventbridge-object-created.json")
    assert_ocr_text(output_text(s3, key))


def test_invalid_pdf_is_recorded_with_a_reason(s3: Any, sam_invoke: Any) -> None:
    # GIVEN a file named .pdf that is not a readable PDF
    key = upload_for(s3, "s3-put-invalid-pdf.json", "invalid.pdf")
    # WHEN the function is invoked
    sam_invoke("s3-put-invalid-pdf.json")
    # THEN a permanent failure is recorded once, with a reason, and no text is written
    assert f"{key}.error.json" in output_keys(s3)
    error = json.loads(s3.get_object(Bucket=OUTPUT_BUCKET, Key=f"{key}.error.json")["Body"].read())
    assert error["reason"]
    assert f"{key}.txt" not in output_keys(s3)
