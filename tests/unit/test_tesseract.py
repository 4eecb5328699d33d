"""The Tesseract adapter against the real binary: text and boxes from one run, errors typed."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from s3ocr.engines.tesseract import TesseractEngine, parse_tsv
from s3ocr.errors import ConfigurationError, PageTimeoutError
from s3ocr.models import PageImage

TSV = (
    "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"
    "1\t1\t0\t0\t0\t0\t0\t0\t100\t50\t-1\t\n"
    "5\t1\t1\t1\t1\t1\t10\t10\t20\t10\t90.5\tHello\n"
    "5\t1\t1\t1\t1\t2\t40\t12\t30\t10\t80.5\tworld\n"
    "5\t1\t1\t1\t2\t1\t10\t30\t20\t10\t-1\t \n"
    "5\t1\t1\t1\t3\t1\t10\t40\t25\t10\t70\tagain\n"
)


def test_tsv_words_are_grouped_into_lines_with_union_boxes():
    lines = parse_tsv(TSV)
    assert [line.text for line in lines] == ["Hello world", "again"]
    first = lines[0]
    assert (first.box.left, first.box.top, first.box.width, first.box.height) == (10, 10, 60, 12)
    assert first.confidence == pytest.approx(0.855)
    assert [w.confidence for w in first.words] == [0.905, 0.805]


def _crop(resources: Path, tmp_path: Path) -> PageImage:
    image = cv2.imread(str(resources / "linn.png"), cv2.IMREAD_GRAYSCALE)
    crop = image[0:400, :]
    path = tmp_path / "000001_page.pgm"
    cv2.imwrite(str(path), crop)
    return PageImage(1, path, crop.shape[1], crop.shape[0], 300)


def test_real_page_gives_text_lines_and_confidence(resources, tmp_path):
    result = TesseractEngine().recognize(_crop(resources, tmp_path), "eng", timeout=60)
    assert "LinnSequencer" in result.text
    assert any("LinnSequencer" in line.text for line in result.lines)
    assert 0.5 < (result.mean_confidence or 0) <= 1


def test_timeout_is_a_page_timeout(resources, tmp_path):
    with pytest.raises(PageTimeoutError):
        TesseractEngine().recognize(_crop(resources, tmp_path), "eng", timeout=0.001)


def test_missing_language_data_is_a_configuration_error(resources, tmp_path):
    with pytest.raises(ConfigurationError):
        TesseractEngine().recognize(_crop(resources, tmp_path), "eng+klingon", timeout=60)


def test_resolution_is_passed_only_when_known(tmp_path):
    engine = TesseractEngine()
    assert "--dpi 300" in engine.config(PageImage(1, tmp_path / "p.pgm", 10, 10, 300))
    assert "--dpi" not in engine.config(PageImage(1, tmp_path / "p.pgm", 10, 10, 0))


def test_the_version_is_what_pytesseract_reads_and_a_missing_binary_is_a_configuration_error(monkeypatch):
    import pytesseract

    from s3ocr.engines import tesseract

    tesseract.tesseract_version.cache_clear()
    assert tesseract.tesseract_version() == str(pytesseract.get_tesseract_version())
    tesseract.tesseract_version.cache_clear()
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ConfigurationError, match="not installed"):
        tesseract.tesseract_version()
    tesseract.tesseract_version.cache_clear()
