"""The rapidocr engine (PP-OCRv6 small on ONNX Runtime) inside the OCR image, run as Lambda runs it."""

from __future__ import annotations

import json

import pytest

from tests.container.conftest import NON_ROOT, RESOURCES, docker_run, tail

pytestmark = [pytest.mark.container, pytest.mark.timeout(2400)]

PAGE = "/resources/zh-clean.png"
# Phrases of zh-clean.txt's first lines, Chinese and Latin, that a real reading of the page contains.
EXPECTED_PHRASES = ("打印匹配给定模式的行", "标准输入", "压缩的文本文件", "fgrep", "zless")

# Reads the page with RapidOcrEngine and reports, beside the reading, every attempt Python saw to write a file
# outside /tmp or to reach the network (audit hooks see the engine's threads too). Native code that tried
# either would fail outright: the root filesystem is read-only and the container has no network.
READ_PAGE = f"""
import json, os, sys

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
NETWORK = {{"socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr",
           "urllib.Request", "http.client.connect"}}
FILESYSTEM = {{"os.mkdir", "os.rename", "os.remove", "os.rmdir", "os.symlink", "os.link", "shutil.copyfile"}}
writes, network = [], []

def outside_tmp(path):
    if isinstance(path, int):
        return False
    return not os.path.abspath(os.fsdecode(path)).startswith("/tmp/")

def audit(event, args):
    if event == "open" and isinstance(args[2], int) and args[2] & WRITE_FLAGS and outside_tmp(args[0]):
        writes.append(f"open {{args[0]!r}} {{args[1]!r}}")
    elif event in FILESYSTEM and outside_tmp(args[0]):
        writes.append(f"{{event}} {{args[0]!r}}")
    elif event in NETWORK:
        network.append(f"{{event}} {{args!r}}")

sys.addaudithook(audit)

from pathlib import Path
from PIL import Image
from s3ocr.engines.rapidocr import RapidOcrEngine
from s3ocr.models import PageImage

path = Path("{PAGE}")
with Image.open(path) as image:
    width, height = image.size
engine = RapidOcrEngine()
reading = engine.recognize(PageImage(1, path, width, height, 300), "chi_sim+eng", 240)
print(json.dumps({{"uid": os.getuid(), "version": engine.version, "text": reading.text,
                   "lines": len(reading.lines), "confidence": reading.mean_confidence,
                   "writes": writes, "network": network}}, ensure_ascii=False))
"""


def test_rapidocr_reads_chinese_as_non_root_on_a_read_only_filesystem_offline(image: str) -> None:
    # GIVEN the image as Lambda runs it: a non-root uid, read-only root filesystem, only /tmp writable, no network;
    # and a page of mixed Chinese and Latin text mounted read-only
    expected = (RESOURCES / "zh-clean.txt").read_text(encoding="utf-8")
    assert all(phrase in expected for phrase in EXPECTED_PHRASES)
    # WHEN RapidOcrEngine reads the page inside it
    done = docker_run(image, "-c", READ_PAGE, mounts={RESOURCES / "zh-clean.png": PAGE})
    # THEN it reads the page's text with the PP-OCRv6 models shipped in the image
    assert done.returncode == 0, tail(done.stderr)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["uid"] == int(NON_ROOT.split(":")[0])
    assert report["version"] == "3.10.0 (PP-OCRv6 small, int8 recognition, Latin-only for eng, int8 detection for eng)"
    missing = [phrase for phrase in EXPECTED_PHRASES if phrase not in report["text"]]
    assert not missing, f"missing {missing} in:\n{report['text']}"
    assert report["lines"] >= 5
    # AND nothing tried to write outside /tmp, or to reach the network (to download a model, or telemetry)
    assert report["writes"] == []
    assert report["network"] == []
    assert "Read-only file system" not in done.stderr
    assert "Permission denied" not in done.stderr
