"""A page's reading when the first one is unsure: turned 180 degrees, or read as vertical CJK writing."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from s3ocr.models import PageImage, Recognition
from s3ocr.reading import recognize_either_way
from s3ocr.settings import Settings

UNSURE, SURE = 0.3, 0.9


class WayUpEngine:
    """Unsure of every page it reads turned as prepared; ``vertical`` sets how sure its column reading is
    (None: it has no vertical models)."""

    name = "fake"
    version = "0"

    def __init__(self, vertical: float | None) -> None:
        self.vertical = vertical
        self.reads: list[tuple[str, tuple[int, ...]]] = []

    def _shape(self, page: PageImage) -> tuple[int, ...]:
        return tuple(cv2.imread(str(page.path), cv2.IMREAD_GRAYSCALE).shape)

    def recognize(self, page: PageImage, languages: str, timeout: float) -> Recognition:
        self.reads.append(("across", self._shape(page)))
        return Recognition(text="sideways", lines=(), mean_confidence=UNSURE)

    def recognize_vertical(self, page: PageImage, languages: str, timeout: float) -> Recognition | None:
        self.reads.append(("vertical", self._shape(page)))
        if self.vertical is None:
            return None
        return Recognition(text="竖排", lines=(), mean_confidence=self.vertical)


def _turned_page(tmp_path: Path, lines: str) -> tuple[PageImage, dict]:
    """A prepared page 30 wide and 40 tall that prepare() turned a quarter (its lines ran ``lines``)."""
    path = tmp_path / "000001_ocr.pgm"
    cv2.imwrite(str(path), np.full((40, 30), 255, np.uint8))
    report = {"rotation": 90, "steps": ["grayscale", "rotate_90"], "lines": lines, "bands": [[0, 20], [20, 40]],
              "orientation": {"method": "deferred", "confidence": 0.0}}
    return PageImage(1, path, 30, 40, 300), report


def test_a_page_whose_lines_ran_down_is_read_as_vertical_writing_when_the_turned_reading_is_unsure(tmp_path):
    # GIVEN a page turned a quarter because its lines ran down it, which reads unsure turned
    page, report = _turned_page(tmp_path, "down")
    engine = WayUpEngine(vertical=SURE)
    # WHEN it is read
    recognition, read_page, final = recognize_either_way(report, page, tmp_path, [], Settings(work_dir=tmp_path),
                                                         engine)
    # THEN the sure column reading of the page as it stood (the quarter turn undone) is kept, no 180 reread
    assert recognition.text == "竖排" and engine.reads == [("across", (40, 30)), ("vertical", (30, 40))]
    assert (read_page.width, read_page.height) == (40, 30)
    assert final["rotation"] == 0 and final["writing"] == "vertical" and "rotate_90" not in final["steps"]
    assert final["orientation"] == {"method": "vertical", "as_prepared": UNSURE, "confidence": SURE}
    assert "bands" not in final  # what was read is the whole page


@pytest.mark.parametrize("vertical", [None, UNSURE])
def test_without_a_sure_vertical_reading_the_page_is_tried_upside_down_as_before(tmp_path, vertical):
    page, report = _turned_page(tmp_path, "down")
    engine = WayUpEngine(vertical=vertical)
    *_, final = recognize_either_way(report, page, tmp_path, [], Settings(work_dir=tmp_path), engine)
    assert [way for way, _ in engine.reads] == ["across", "vertical", "across"]
    assert final["orientation"]["method"] == "reread" and "writing" not in final


def test_a_page_whose_lines_ran_across_is_never_read_as_vertical_writing(tmp_path):
    page, report = _turned_page(tmp_path, "across")
    engine = WayUpEngine(vertical=SURE)
    recognize_either_way(report, page, tmp_path, [], Settings(work_dir=tmp_path), engine)
    assert [way for way, _ in engine.reads] == ["across", "across"]


def test_a_reading_made_in_bands_is_not_made_again_on_the_whole_page(tmp_path):
    # GIVEN the page's reading as prepared, made in bands, and unsure
    page, report = _turned_page(tmp_path, "across")
    banded = Recognition(text="in bands", lines=(), mean_confidence=0.5)
    engine = WayUpEngine(vertical=None)
    # WHEN the other ways are tried  THEN only the 180 degree turn is read, and the banded reading, surer, kept
    recognition, _, final = recognize_either_way(report, page, tmp_path, [], Settings(work_dir=tmp_path), engine,
                                                 first=banded)
    assert [way for way, _ in engine.reads] == ["across"] and recognition.text == "in bands"
    assert final["bands"] == [[0, 20], [20, 40]]


def test_a_page_of_vertical_chinese_is_read_in_columns_by_tesseract(resources, tmp_path):
    # GIVEN a page of vertical Chinese writing (Tesseract's chi_sim_vert installed, as the runtime list has it)
    from s3ocr.bench.accuracy import cer
    from s3ocr.engines.tesseract import TesseractEngine
    from s3ocr.models import DocumentRef, DocumentResult
    from s3ocr.pipeline import process_local_file

    # WHEN it is read with chi_sim+eng
    settings = Settings(work_dir=tmp_path / "work", workers=1, languages="chi_sim+eng")
    outcome = process_local_file(resources / "zh-vertical.png", DocumentRef("", "zh-vertical.png"), settings,
                                 TesseractEngine(backend="api"))
    # THEN in columns: the characters come back in reading order, and the page says how it was read
    assert isinstance(outcome, DocumentResult)
    page = outcome.pages[0]
    assert page.preprocessing["writing"] == "vertical" and page.preprocessing["rotation"] == 0
    assert cer((resources / "zh-vertical.txt").read_text(encoding="utf-8"), page.text) < 0.1, page.text


def test_once_a_page_read_as_vertical_writing_the_next_ones_are_read_that_way_first(tmp_path):
    from s3ocr.reading import DocumentWriting

    # GIVEN a document whose first page turns out to be vertical writing
    writing = DocumentWriting()
    engine = WayUpEngine(vertical=SURE)
    page, report = _turned_page(tmp_path, "down")
    recognize_either_way(report, page, tmp_path, [], Settings(work_dir=tmp_path), engine, writing=writing)
    assert writing.vertical and [way for way, _ in engine.reads] == ["across", "vertical"]
    # WHEN its next page, lines running down too, is read
    engine.reads.clear()
    recognition, _, final = recognize_either_way(report, page, tmp_path, [], Settings(work_dir=tmp_path), engine,
                                                 writing=writing)
    # THEN it is read in columns straight away, and says so
    assert [way for way, _ in engine.reads] == ["vertical"] and recognition.text == "竖排"
    assert final["orientation"] == {"method": "vertical", "as_prepared": None, "confidence": SURE}
    # AND a page that is not vertical writing after all still gets every other way
    unsure = WayUpEngine(vertical=UNSURE)
    *_, final = recognize_either_way(report, page, tmp_path, [], Settings(work_dir=tmp_path), unsure,
                                     writing=writing)
    assert [way for way, _ in unsure.reads] == ["vertical", "across", "across"]
    assert final["orientation"]["method"] == "reread"


def test_a_document_of_vertical_pages_reads_its_later_pages_in_columns_first(tmp_path):
    from PIL import Image

    from s3ocr.models import DocumentRef, DocumentResult
    from s3ocr.pipeline import process_local_file

    # GIVEN a 3-page TIFF whose 'lines' run down the page, and one worker
    column = Image.new("L", (2000, 3000), 240)
    for i in range(25):
        column.paste(20, (100 + i * 70, 100, 100 + i * 70 + 35, 2900))
    path = tmp_path / "doc.tif"
    column.save(path, save_all=True, append_images=[column, column])
    engine = WayUpEngine(vertical=SURE)
    settings = Settings(work_dir=tmp_path / "work", workers=1)
    # WHEN it is read
    outcome = process_local_file(path, DocumentRef("", "doc.tif"), settings, engine)
    # THEN page 1 was read turned, then in columns; pages 2 and 3 in columns only, and each says vertical
    assert isinstance(outcome, DocumentResult)
    assert [way for way, _ in engine.reads] == ["across", "vertical", "vertical", "vertical"]
    assert [page.preprocessing["writing"] for page in outcome.pages] == ["vertical"] * 3
