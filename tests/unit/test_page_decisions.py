"""The page decisions that blanked or scrambled real pages, each on a resource of known provenance (see
tests/resources/README.md), with the real engines: a wrong quarter turn, a tilt at the edge of the search, a
page with ink and no text, a blank scan, a two-column page read in bands."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from s3ocr import orientation, pagesplit
from s3ocr.bench.scoring import cer
from s3ocr.engines import get_engine
from s3ocr.models import DocumentRef, DocumentResult, PageImage
from s3ocr.page import PageContext, read_page
from s3ocr.pages.images import ImagePages
from s3ocr.pipeline import process_local_file
from s3ocr.reading import read_bands
from s3ocr.settings import Settings
from tests.fakes import FakeEngine


def read_one(path: Path, tmp_path: Path, engine: str, languages: str = "eng", parts: int = 1):
    """The page as a document's page: its last (read by ``parts`` cores at once), or one of many."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    settings = Settings(languages=languages, work_dir=tmp_path, page_timeout=300, workers=parts)
    source = ImagePages(path, settings.max_page_pixels)
    return read_page(PageContext(source, tmp_path, settings, get_engine(engine), last=1 if parts > 1 else 0), 1)


def claim(monkeypatch: pytest.MonkeyPatch, skew: orientation.Skew) -> None:
    """Make the page's measured line axis and tilt ``skew``, whatever the ink says: a measurement gone wrong."""
    monkeypatch.setattr(orientation, "estimate_skew", lambda gray, max_angle=orientation.MAX_SKEW_DEG: skew)


@pytest.mark.parametrize("engine", ["tesseract", "rapidocr"])
def test_a_wrong_quarter_turn_is_undone_by_the_reading(resources, tmp_path, monkeypatch, engine):
    # GIVEN a real two-column scan whose lines are measured, wrongly, as running down the page and tilted 8
    # degrees that way (as a binarised magazine page of the UNLV set was: turned a quarter, deskewed, read
    # nothing, and reported ok)
    claim(monkeypatch, orientation.Skew(vertical=True, angle=8.0, sharpness=2.0))
    # WHEN it is read
    page = read_one(resources / "linn.png", tmp_path, engine)
    # THEN the turn was planned, the reading found it wrong, and the page as it came was read and kept
    report = page.preprocessing
    assert report["read"]["kept"] == "as_came", report["read"]
    assert report["rotation"] == 0 and report["steps"] == ["grayscale"]
    assert report["read"]["tried"][0]["way"] == "as_planned"
    assert page.status == "ok" and cer((resources / "linn.txt").read_text(encoding="utf-8"), page.text) < 0.1


def test_a_tilt_at_the_edge_of_the_search_is_not_applied(resources, tmp_path, monkeypatch):
    # GIVEN a level page measured as tilted at the edge of the ±15 degree search (a slide, a signboard)
    claim(monkeypatch, orientation.Skew(vertical=False, angle=15.5, sharpness=1.6))
    # WHEN it is read  THEN it is not turned by 15.5 degrees, the plan says why, and the page reads as usual
    page = read_one(resources / "linn.png", tmp_path, "tesseract")
    report = page.preprocessing
    assert "deskew" not in report["steps"] and report["skew"] == 0.0
    assert report["rejected"] == [{"decision": "deskew", "value": 15.5, "reason": "at the edge of the ±15° search"}]
    assert cer((resources / "linn.txt").read_text(encoding="utf-8"), page.text) < 0.1



@pytest.mark.parametrize(("turn", "planned"), [(180, 180), (90, 270), (270, 90)])
def test_a_latin_page_turned_over_or_sideways_is_read_the_right_way_first(resources, tmp_path, turn, planned):
    # GIVEN the real two-column scan, fed upside down or sideways (its lines' ink leans down, or will once the
    # lines are turned across)
    path = tmp_path / f"linn-{turn}.png"
    cv2.imwrite(str(path), orientation.rotate_quarter(cv2.imread(str(resources / "linn.png")), turn))
    # WHEN it is read
    page = read_one(path, tmp_path / "work", "tesseract")
    # THEN the plan turns it upright from the ink alone (a half turn more when its lines lean down), and one
    # reading settles it: nothing is read twice
    report = page.preprocessing
    assert report["rotation"] == planned and f"rotate_{planned}" in report["steps"]
    lean = report["measurements"]["ascender_lean"]  # measured before the half turn, if any
    assert lean < -orientation.LEAN_UPSIDE_DOWN if planned >= 180 else lean > orientation.LEAN_UPSIDE_DOWN
    assert [way["way"] for way in report["read"]["tried"]] == ["as_planned"], report["read"]
    assert page.status == "ok" and cer((resources / "linn.txt").read_text(encoding="utf-8"), page.text) < 0.1


def test_an_upright_page_the_ink_wrongly_shows_upside_down_is_read_upright_all_the_same(resources, tmp_path,
                                                                                       monkeypatch):
    # GIVEN an upright page whose ink is measured, wrongly, as leaning down
    monkeypatch.setattr(orientation, "ascender_lean", lambda gray: orientation.Lean(-0.5, 40))
    # WHEN it is read  THEN the planned half turn reads unsure, the page turned back reads it, and that is kept
    page = read_one(resources / "linn.png", tmp_path, "tesseract")
    report = page.preprocessing
    assert [way["way"] for way in report["read"]["tried"]] == ["as_planned", "turned_180"]
    assert report["read"]["kept"] == "turned_180" and report["rotation"] == 0
    assert page.status == "ok" and cer((resources / "linn.txt").read_text(encoding="utf-8"), page.text) < 0.1

def ruled_form() -> np.ndarray:
    """An A4 form at 150 dpi with its ruling and boxes, and nothing written in it."""
    form = np.full((1754, 1240), 255, np.uint8)
    for y in range(200, 1600, 90):
        cv2.line(form, (120, y), (1120, y), 0, 3)
    for x in (120, 420, 770, 1120):
        cv2.line(form, (x, 200), (x, 1550), 0, 3)
    cv2.rectangle(form, (120, 80), (1120, 160), 0, 3)
    return form


@pytest.mark.parametrize("engine", ["tesseract", "rapidocr"])
def test_a_page_with_ink_and_no_text_is_never_an_ok_page(tmp_path, engine):
    # GIVEN an empty ruled form: ink, and nothing to read
    path = tmp_path / "form.png"
    cv2.imwrite(str(path), ruled_form())
    # WHEN it is read as a document
    settings = Settings(languages="eng", work_dir=tmp_path / "work")
    outcome = process_local_file(path, DocumentRef("", "form.png"), settings, get_engine(engine))
    # THEN the page says no text was found (after every other way was tried), and the document is partial
    assert isinstance(outcome, DocumentResult)
    page = outcome.pages[0]
    assert page.status == "no_text_found" and outcome.status == "partial"
    assert len(page.preprocessing["read"]["tried"]) >= 2


def test_a_blank_scan_is_empty_without_any_reading(tmp_path):
    # GIVEN a scanned blank page: grey paper, sensor noise, dust, and the scanner lid's shadow along one edge
    rng = np.random.default_rng(7)
    scan = np.clip(rng.normal(228, 5, (3508, 2480)), 0, 255).astype(np.uint8)
    scan[:, :60] = 40
    scan[2000:2004, 1200:1203] = 70
    path = tmp_path / "blank.png"
    cv2.imwrite(str(path), scan)
    engine = FakeEngine()
    # WHEN it is read  THEN it is empty, the document ok, and no engine was asked
    outcome = process_local_file(path, DocumentRef("", "blank.png"), Settings(work_dir=tmp_path / "work"), engine)
    assert isinstance(outcome, DocumentResult) and outcome.pages[0].status == "empty" and outcome.status == "ok"
    assert engine.seen == []


@pytest.mark.parametrize("engine", ["tesseract", "rapidocr"])
def test_a_two_column_page_read_in_bands_comes_back_in_reading_order(resources, tmp_path, engine):
    # GIVEN a page in two columns under a title across both: the last page of a document, cut in two bands
    path, truth = resources / "two-columns.png", (resources / "two-columns.txt").read_text(encoding="utf-8")
    gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    bands = pagesplit.bands(gray, 2)
    assert len(bands) == 2
    # WHEN it is read in bands by all cores
    page = read_one(path, tmp_path / "work", engine, parts=2)
    # THEN the columns come back one after the other, not line by line across
    assert page.preprocessing["bands"] == [[band.top, band.bottom] for band in bands]
    assert cer(truth, page.text) < 0.02, page.text[:400]
    # AND read band by band, each band's text as the engine gave it, the columns would have interleaved
    pages = []
    for i, band in enumerate(bands):
        band_path = tmp_path / f"000001_band{i}.pgm"
        cv2.imwrite(str(band_path), gray[band.top:band.bottom])
        pages.append(PageImage(1, band_path, gray.shape[1], band.bottom - band.top, 300))
    banded = read_bands(pages, bands, Settings(languages="eng"), get_engine(engine))
    if engine == "tesseract":  # Tesseract orders a band's columns itself: left then right, band after band
        assert cer(truth, banded.text) > 0.3


@pytest.mark.parametrize(("scale", "small"), [(1 / 3, True), (2 / 3, False)])
def test_a_page_of_small_text_is_read_by_ppocr_alone(resources, tmp_path, scale, small):
    # GIVEN the real scan resampled so that its lines lie 15 px apart (a page scanned or faxed at 75 dpi), or 30
    gray = cv2.imread(str(resources / "linn.png"), cv2.IMREAD_GRAYSCALE)
    path = tmp_path / "resampled.png"
    cv2.imwrite(str(path), cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))
    # WHEN auto reads it as the last page of a document, on two cores
    page = read_one(path, tmp_path / "work", "auto", parts=2)
    # THEN the small text is read by PP-OCRv6, asked first, and Tesseract reads it neither whole nor in bands;
    # the larger text is read by Tesseract, in bands, as before
    read = page.preprocessing["read"]
    assert read["tried"][0]["way"] == "as_planned" and len(read["tried"]) == 1, read
    if small:
        assert read.get("asked_first") is True and read.get("second_opinion") == "rapidocr", read
        assert "bands" not in page.preprocessing and page.engine == "rapidocr"
    else:
        assert "asked_first" not in read and page.preprocessing["bands"] and page.engine == "tesseract", read
    assert page.preprocessing["measurements"]["line_pitch"] == pytest.approx(45 * scale, abs=1.5)
    assert cer((resources / "linn.txt").read_text(encoding="utf-8"), page.text) < 0.05, page.text[:300]
