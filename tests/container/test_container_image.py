"""The OCR image itself: native runtime, Python packages, non-root, size."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.container.conftest import ROOT, docker_run, tail

# Generous: the first test also pays for Docker set-up and the image build on a fresh machine.
pytestmark = [pytest.mark.container, pytest.mark.timeout(2400)]

# The goal is 400 MB; opencv-python-headless alone unpacks to ~156 MB (its own FFmpeg and OpenBLAS), and the
# rapidocr engine (ONNX Runtime's binding, 35 MB, and the PP-OCRv6 small models, 31 MB) is in every image, and
# pikepdf with lxml for the searchable PDF (20 MB): 594 MB as built with the Dockerfile's trims. The budget
# catches regressions.
IMAGE_SIZE_BUDGET_MB = float(os.environ.get("IMAGE_SIZE_BUDGET_MB", "600"))


def apt_packages() -> list[str]:
    lines = (ROOT / "layers" / "ocr-runtime" / "apt-packages.txt").read_text(encoding="utf-8").splitlines()
    return [word for line in lines for word in line.split("#", 1)[0].split()]


def expected_languages() -> set[str]:
    # tesseract-ocr-chi-sim ships chi_sim.traineddata, tesseract-ocr-eng eng.traineddata, ...
    return {p.removeprefix("tesseract-ocr-").replace("-", "_") for p in apt_packages()
            if p.startswith("tesseract-ocr-")}


def test_every_language_pack_of_the_runtime_list_is_installed(image: str) -> None:
    # GIVEN the image built from layers/ocr-runtime/apt-packages.txt
    # WHEN Tesseract lists its languages as a non-root user
    done = docker_run(image, "--list-langs", entrypoint="tesseract")
    # THEN every language pack of the list is there (chi_sim, eng, osd at least)
    assert done.returncode == 0, tail(done.stderr)
    languages = set(done.stdout.splitlines()[1:])
    assert expected_languages() <= languages
    assert {"chi_sim", "eng", "osd"} <= languages


def test_poppler_renders_pdfs(image: str) -> None:
    done = docker_run(image, "-v", entrypoint="pdftoppm")
    assert done.returncode == 0, tail(done.stderr)
    assert "pdftoppm version" in done.stderr


def test_handler_and_engines_import_as_non_root_on_a_read_only_filesystem(image: str) -> None:
    # GIVEN Lambda's conditions: an arbitrary uid, read-only root filesystem, only /tmp writable, no network
    check = (
        "import os, sys\n"
        "assert os.getuid() == 12345, os.getuid()\n"
        "assert sys.prefix == '/opt/venv', sys.prefix\n"
        "from aip import AipOcr\n"
        "import cv2, numpy, pytesseract, pdf2image, awslambdaric\n"
        "import boto3\n"
        "for service in ('s3', 'sqs', 'dynamodb', 'events', 'secretsmanager', 'ssm', 'textract', 'sts'):\n"
        "    boto3.client(service, region_name='us-east-1')\n"
        "import app\n"
        "assert callable(app.handler)\n"
        "print(pytesseract.get_tesseract_version())\n"
    )
    # WHEN the handler module is imported from the task root, as awslambdaric does
    done = docker_run(image, "-c", check, env={"OUTPUT_BUCKET": "s3ocr-output", "AWS_DEFAULT_REGION": "us-east-1",
                                               "POWERTOOLS_TRACE_DISABLED": "true"})
    # THEN the cold-start singletons build, every AWS client the function uses has its botocore model (the image
    # keeps only those), and Tesseract answers
    assert done.returncode == 0, tail(done.stderr)
    assert done.stdout.strip().startswith("5.")


def test_image_runs_awslambdaric_from_the_task_root(image: str) -> None:
    config = subprocess.run(
        ["docker", "image", "inspect", "--format",
         "{{json .Config.Entrypoint}} {{json .Config.Cmd}} {{.Config.WorkingDir}}", image],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    assert config == ['["/opt/venv/bin/python","-m","awslambdaric"]', '["app.handler"]', "/var/task"]


def test_image_size_within_budget(image: str) -> None:
    size = int(subprocess.run(["docker", "image", "inspect", "--format", "{{.Size}}", image],
                              capture_output=True, text=True, check=True).stdout)
    assert size / 1e6 <= IMAGE_SIZE_BUDGET_MB, f"image is {size / 1e6:.0f} MB"


def test_a_searchable_pdf_is_written_as_non_root_on_a_read_only_filesystem(image: str) -> None:
    # GIVEN a page drawn in the container, read by Tesseract, under Lambda's conditions
    check = (
        "import subprocess, cv2, numpy\n"
        "from pathlib import Path\n"
        "from s3ocr.models import DocumentRef\n"
        "from s3ocr.pipeline import process_local_file\n"
        "from s3ocr.routing import EngineChooser\n"
        "from s3ocr.settings import Settings\n"
        "from s3ocr.sinks.local import LocalSink\n"
        "page = numpy.full((400, 1400), 255, numpy.uint8)\n"
        "cv2.putText(page, 'Serverless OCR pipeline', (40, 220), cv2.FONT_HERSHEY_SIMPLEX, 2.2, 0, 5)\n"
        "cv2.imwrite('/tmp/page.png', page)\n"
        "settings = Settings.from_env(engine='tesseract', languages='eng')\n"
        "sink = LocalSink(Path('/tmp/out'), frozenset({'txt', 'pdf', 'hocr'}))\n"
        "process_local_file(Path('/tmp/page.png'), DocumentRef('', 'page.png'), settings,\n"
        "                   EngineChooser(settings).default, sink)\n"
        "print(subprocess.run(['pdftotext', '/tmp/out/page.png.searchable.pdf', '-'], capture_output=True,\n"
        "                     text=True, check=True).stdout)\n"
    )
    # WHEN the text, the searchable PDF and the hOCR are written
    done = docker_run(image, "-c", check)
    # THEN pikepdf and the glyphless font are in the image, and the PDF's text layer says what was read
    assert done.returncode == 0, tail(done.stderr)
    assert "Serverless OCR pipeline" in done.stdout
