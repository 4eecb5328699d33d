"""Born-digital PDF pages use their own text, identical to pdftotext; scans in the same PDF are OCRed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from s3ocr.bench.samples import scan_pdf, text_pdf, unite
from s3ocr.models import DocumentRef, DocumentResult
from s3ocr.pages.textlayer import text_quality, usable_text
from s3ocr.pipeline import process_local_file
from s3ocr.settings import Settings
from tests.conftest import CORPUS, RESOURCES
from tests.fakes import FakeEngine, PrewarmedEngine

LINES = ["Quarterly report of the Example Company", "Revenue grew by 12 percent in the third quarter,",
         "while costs (mostly energy) stayed flat at 4.1 million."]


def _pdftotext(path: Path, page: int) -> str:
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", "-f", str(page), "-l", str(page), str(path), "-"],
                         capture_output=True, check=True).stdout.decode()
    return out.removesuffix("\f")


def _settings(tmp_path: Path, **kwargs) -> Settings:
    return Settings(work_dir=tmp_path / "work", preprocess="none", **kwargs)


def test_born_digital_page_is_not_ocred_and_matches_pdftotext(tmp_path):
    pdf = text_pdf(tmp_path / "digital.pdf", [LINES])
    engine = FakeEngine()
    outcome = process_local_file(pdf, DocumentRef("", "digital.pdf"), _settings(tmp_path), engine)
    assert isinstance(outcome, DocumentResult)
    page = outcome.pages[0]
    assert page.source == "text_layer" and page.engine == "pdftotext" and engine.seen == []
    assert page.text == _pdftotext(pdf, 1) and "Revenue grew by 12 percent" in page.text


def test_mixed_document_ocrs_only_the_scanned_page(tmp_path):
    pdf = unite(tmp_path / "mixed.pdf", text_pdf(tmp_path / "a.pdf", [LINES]),
                scan_pdf(tmp_path / "b.pdf", [RESOURCES / "linn.png"]))
    engine = FakeEngine()
    outcome = process_local_file(pdf, DocumentRef("", "mixed.pdf"), _settings(tmp_path), engine)
    assert isinstance(outcome, DocumentResult)
    assert [p.source for p in outcome.pages] == ["text_layer", "ocr"]
    assert [p.number for p in engine.seen] == [2] and outcome.pages[1].text == "page 2"


def test_the_engine_is_prewarmed_by_the_first_page_that_needs_ocr_and_never_for_born_digital_ones(tmp_path):
    # GIVEN an engine that can start its workers ahead of the pages
    digital = text_pdf(tmp_path / "digital.pdf", [LINES, LINES])
    mixed = unite(tmp_path / "mixed.pdf", digital, scan_pdf(tmp_path / "b.pdf", [RESOURCES / "linn.png"]))
    # WHEN a born-digital document is read  THEN nothing is started for it
    engine = PrewarmedEngine()
    process_local_file(digital, DocumentRef("", "digital.pdf"), _settings(tmp_path, workers=2), engine)
    assert engine.prewarmed == []
    # WHEN a document with a scanned page is read  THEN the engine is told what that page will need
    process_local_file(mixed, DocumentRef("", "mixed.pdf"), _settings(tmp_path, workers=2, languages="eng"), engine)
    assert engine.prewarmed == [("eng", 2)] and [page.number for page in engine.seen] == [3]


def test_force_ocr_reads_born_digital_pages_too(tmp_path):
    pdf = text_pdf(tmp_path / "digital.pdf", [LINES])
    engine = FakeEngine()
    outcome = process_local_file(pdf, DocumentRef("", "digital.pdf"), _settings(tmp_path, force_ocr=True), engine)
    assert isinstance(outcome, DocumentResult) and outcome.pages[0].source == "ocr" and len(engine.seen) == 1


@pytest.mark.skipif(not (CORPUS / "peer" / "multipage.pdf").exists(), reason="needs ../shared/corpus")
def test_a_scanners_garbage_ocr_layer_is_not_trusted(tmp_path):
    engine = FakeEngine()
    outcome = process_local_file(CORPUS / "peer" / "multipage.pdf", DocumentRef("", "multipage.pdf"),
                                 _settings(tmp_path, max_pages=4), engine)
    assert isinstance(outcome, DocumentResult)
    assert [p.source for p in outcome.pages] == ["ocr"] * 4  # page 4 carries "sw | \\ + 400 +" as text


@pytest.mark.parametrize(
    ("text", "coverage", "usable"),
    [
        ("The quick brown fox jumps over the lazy dog. " * 3, 0.0, True),
        ("The quick brown fox jumps over the lazy dog. " * 3, 1.0, True),  # a good OCR layer on a scan
        ("Title", 0.0, True),  # a drawn page with little text
        ("Title", 1.0, False),  # a scan with a stray glyph or two
        ("sw | \\ + 400 + ~ ' | : 5 | | \\ = ; ' . ", 1.0, False),
        ("Ab\ufffdcd efgh \ufffd\ufffd ijkl", 0.0, False),  # broken font encoding
        ("\ue001\ue002\ue003 \ue004\ue005", 0.0, False),  # private-use glyph codes
        ("这是一个没有空格的中文句子，用于测试。", 0.0, True),
        ("", 0.0, False),
    ],
)
def test_usable_text(text, coverage, usable):
    assert (usable_text(text, coverage) is not None) == usable, text_quality(text)
