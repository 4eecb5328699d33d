"""A page's plan confirmed by its reading: the other ways are read only when the first reading is unsure, the
surest is kept, and the page as it came is always among them when the plan changed the page."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from s3ocr.engines.base import BaseEngine, Capabilities, Opinion
from s3ocr.models import Box, Line, PageImage, Recognition, Word
from s3ocr.plan import Measurements, PagePlan
from s3ocr.reading import DocumentWriting, PageOutcome, WritingView, outcome_of, read_page_image
from s3ocr.settings import Settings

UNSURE, SURE = 0.3, 0.9
DOWN = Measurements(impulse_noise=0.0, uneven_light=0.0, line_axis_sharpness=1.5, lines_down=True, skew=0.0,
                    line_pitch=40.0)
TURNED = PagePlan(recipe="auto", steps=("grayscale", "rotate_90"), rotation=90, measurements=DOWN)
PLAIN = PagePlan(recipe="auto", steps=("grayscale",))
DESKEWED = PagePlan(recipe="auto", steps=("grayscale", "deskew"), skew=2.0)


def reading(text: str, confidence: float) -> Recognition:
    words = tuple(Word(token, Box(0, 0, 1, 1), confidence) for token in text.split())
    lines = (Line(text, Box(0, 0, 1, 1), confidence, words),) if text else ()
    return Recognition(text=text, lines=lines, mean_confidence=confidence if text else None)


class WayEngine(BaseEngine):
    """Reads each image by what it is (``answers``: the image's file kind -> reading); records what it read."""

    name = "fake"
    version = "0"

    def __init__(self, answers: dict[str, Recognition], local: bool = True,
                 vertical: Recognition | None = None) -> None:
        self.answers = answers
        self.vertical = vertical
        self.local = local
        self.reads: list[str] = []

    def capabilities(self, languages: str) -> Capabilities:
        return Capabilities(local=self.local, sure_confidence=0.6)

    def recognize(self, page: PageImage, languages: str, timeout: float) -> Recognition:
        kind = page.path.stem.split("_")[1]
        self.reads.append(kind)
        return self.answers.get(kind, reading("", 0.0))

    def recognize_vertical(self, page: PageImage, languages: str, timeout: float) -> Recognition:
        self.reads.append("vertical")
        return self.vertical or reading("sideways garbage", UNSURE)


def pages(tmp_path: Path) -> tuple[PageImage, PageImage]:
    """The page as it came (40 wide, 30 tall) and as prepared (turned a quarter: 30 wide, 40 tall)."""
    came, prepared = tmp_path / "000001_page.pgm", tmp_path / "000001_ocr.pgm"
    cv2.imwrite(str(came), np.full((30, 40), 255, np.uint8))
    cv2.imwrite(str(prepared), np.full((40, 30), 255, np.uint8))
    return PageImage(1, came, 40, 30, 0), PageImage(1, prepared, 30, 40, 300)


def read(tmp_path: Path, plan: PagePlan, engine: WayEngine, languages: str = "eng", **options):
    came, prepared = pages(tmp_path)
    settings = Settings(work_dir=tmp_path, languages=languages)
    return read_page_image(plan, came, prepared, tmp_path, [], settings, engine, **options)


def test_a_sure_reading_as_planned_is_the_only_one(tmp_path):
    engine = WayEngine({"ocr": reading("upright text", SURE)})
    result = read(tmp_path, TURNED, engine)
    assert engine.reads == ["ocr"] and result.way == "as_planned" and result.rotation == 90
    assert result.report(TURNED)["read"] == {"kept": "as_planned",
                                            "tried": [{"way": "as_planned", "confidence": SURE, "characters": 12}]}


def test_an_unsure_reading_is_tried_upside_down_and_the_sure_one_kept(tmp_path):
    # GIVEN a page read unsure as planned, and sure turned 180 degrees
    engine = WayEngine({"ocr": reading("ʇxǝʇ", UNSURE), "ocr180": reading("upright text", SURE)})
    # WHEN read  THEN the turned reading is kept, of the turned image, and the report says both
    result = read(tmp_path, PLAIN, engine)
    assert engine.reads == ["ocr", "ocr180"] and result.recognition.text == "upright text"
    assert result.way == "turned_180" and result.rotation == 180 and result.image.path.name == "000001_ocr180.pgm"
    report = result.report(PLAIN)
    assert report["rotation"] == 180 and report["steps"] == ["grayscale", "rotate_180"]
    assert [way["way"] for way in report["read"]["tried"]] == ["as_planned", "turned_180"]


def test_a_plan_that_left_the_page_unreadable_is_undone(tmp_path):
    # GIVEN a page deskewed by the plan that then reads nothing either way up, but reads as it came
    engine = WayEngine({"ocr": reading("", 0.0), "ocr180": reading("", 0.0), "page": reading("the real text", 0.8)})
    # WHEN read  THEN the page as it came is read, and its reading is kept: the plan is undone in the report
    result = read(tmp_path, DESKEWED, engine)
    assert engine.reads == ["ocr", "ocr180", "page"] and result.recognition.text == "the real text"
    assert result.way == "as_came" and (result.image.width, result.image.dpi) == (40, 0)
    report = result.report(DESKEWED)
    assert report["steps"] == ["grayscale"] and report["skew"] == 0.0 and report["read"]["kept"] == "as_came"


def test_a_plan_that_changed_nothing_is_not_read_again_as_it_came(tmp_path):
    engine = WayEngine({"ocr": reading("a few words", UNSURE)})
    result = read(tmp_path, PLAIN, engine)
    assert engine.reads == ["ocr", "ocr180"] and result.way == "as_planned"


def test_when_every_way_is_unsure_the_one_that_says_most_surely_is_kept(tmp_path):
    engine = WayEngine({"ocr": reading("x y", 0.55), "ocr180": reading("q", 0.5),
                        "page": reading("several words read", 0.58)})
    assert read(tmp_path, DESKEWED, engine).way == "as_came"


def test_a_cloud_engine_reads_once_whatever_it_reads(tmp_path):
    # GIVEN an engine billed per call, unsure of the page  WHEN read  THEN one call, its reading taken
    engine = WayEngine({"ocr": reading("", 0.0)}, local=False)
    result = read(tmp_path, DESKEWED, engine)
    assert engine.reads == ["ocr"] and result.way == "as_planned"


def test_a_page_whose_lines_ran_down_is_read_standing_as_vertical_writing_first(tmp_path):
    # GIVEN a Chinese page turned a quarter by the plan, unsure turned, sure read standing in columns
    engine = WayEngine({"ocr": reading("sideways", UNSURE)}, vertical=reading("竖排 文字", SURE))
    writing = DocumentWriting()
    result = read(tmp_path, TURNED, engine, languages="chi_sim+eng", writing=writing.view(1))
    # THEN the column reading of the page as it stood is kept, before any 180 degree reread
    assert engine.reads == ["ocr", "vertical"] and result.way == "standing" and result.rotation == 0
    report = result.report(TURNED)
    assert report["writing"] == "vertical" and report["rotation"] == 0 and "rotate_90" not in report["steps"]
    # AND the document now expects columns: its next such page is read standing first, and only so
    writing.record(1, outcome_of("ok", result.recognition.text, report))
    assert writing.view(2).vertical
    engine.reads.clear()
    assert read(tmp_path, TURNED, engine, languages="chi_sim+eng", writing=writing.view(2)).way == "standing"
    assert engine.reads == ["vertical"]


@pytest.mark.parametrize("languages", ["eng", "deu"])
def test_latin_pages_are_never_read_as_vertical_writing(tmp_path, languages):
    engine = WayEngine({"ocr": reading("sideways", UNSURE)}, vertical=reading("竖排", SURE))
    read(tmp_path, TURNED, engine, languages=languages)
    assert "vertical" not in engine.reads


def test_a_reading_made_in_bands_is_not_made_again_on_the_whole_page(tmp_path):
    # GIVEN the page's reading as planned, made in bands, and unsure
    engine = WayEngine({"ocr180": reading("", 0.0)})
    banded = reading("in bands text", 0.5)
    # WHEN the other ways are tried  THEN only the 180 degree turn is read, and the banded reading is kept
    result = read(tmp_path, PLAIN, engine, first=banded)
    assert engine.reads == ["ocr180"] and result.recognition.text == "in bands text"


def test_an_engine_may_replace_an_unsure_reading_with_a_second_opinion(tmp_path):
    class SecondOpinion(WayEngine):
        def reconsider(self, page, languages, timeout, first, opinion=None):
            return Recognition(text="better", lines=(), mean_confidence=0.95, engine="other")

    result = read(tmp_path, PLAIN, SecondOpinion({"ocr": reading("upright text", SURE)}))
    assert result.recognition.text == "better" and result.report(PLAIN)["read"]["second_opinion"] == "other"


def test_a_page_of_vertical_chinese_is_read_in_columns_by_tesseract(resources, tmp_path):
    # GIVEN a page of vertical Chinese writing (Tesseract's chi_sim_vert installed, as the runtime list has it)
    from s3ocr.bench.scoring import cer
    from s3ocr.engines.tesseract import TesseractEngine
    from s3ocr.models import DocumentRef, DocumentResult
    from s3ocr.pipeline import process_local_file

    # WHEN it is read with chi_sim+eng
    settings = Settings(work_dir=tmp_path / "work", workers=1, languages="chi_sim+eng")
    outcome = process_local_file(resources / "zh-vertical.png", DocumentRef("", "zh-vertical.png"), settings,
                                 TesseractEngine(backend="api"))
    # THEN in columns, right to left: the characters come back in reading order, and the page says how
    assert isinstance(outcome, DocumentResult)
    page = outcome.pages[0]
    assert page.preprocessing["writing"] == "vertical" and page.preprocessing["rotation"] == 0
    assert cer((resources / "zh-vertical.txt").read_text(encoding="utf-8"), page.text) < 0.1, page.text


def test_a_sure_reading_of_a_few_words_on_a_page_full_of_marks_is_not_taken(tmp_path):
    # GIVEN a page with 400 marks on it, read as planned into a few sure words, and as it came in full
    engine = WayEngine({"ocr": reading("two words", SURE), "ocr180": reading("", 0.0),
                        "page": reading(" ".join(["word"] * 100), 0.8)})
    # WHEN read  THEN the sure but sparse reading does not settle the page: the full reading is kept
    result = read(tmp_path, DESKEWED, engine, marks=400)
    assert engine.reads == ["ocr", "ocr180", "page"] and result.way == "as_came"


def standing_lines(text: str, confidence: float) -> Recognition:
    """A reading in lines standing up the page (tall boxes): a sideways Latin page read line by line."""
    lines = tuple(Line(word, Box(10 + 40 * i, 0, 30, 400), confidence, (Word(word, Box(10 + 40 * i, 0, 30, 400),
                                                                           confidence),))
                  for i, word in enumerate(text.split()))
    return Recognition(text=text, lines=lines, mean_confidence=confidence)


def test_a_sure_reading_in_standing_lines_does_not_settle_a_latin_page(tmp_path):
    engine = WayEngine({"ocr": standing_lines("sideways but sure", SURE), "ocr180": reading("", 0.0),
                        "page": reading("the page as it came", 0.8)})
    assert read(tmp_path, DESKEWED, engine).way == "as_came"
    # AND on a Chinese page whose lines ran down it, standing lines are its columns: settled as they are
    chinese = WayEngine({"ocr": standing_lines("竖排 文字 两列", SURE)})
    assert read(tmp_path, TURNED, chinese, languages="chi_sim+eng").way == "as_planned"


def test_a_document_of_latin_text_so_far_is_read_with_its_latin_languages():
    writing = DocumentWriting()
    # GIVEN nothing read yet: the configured languages
    assert writing.view(1).languages("chi_sim+eng") == "chi_sim+eng"
    # WHEN a page of English is read  THEN the next pages are read with the Latin part of the list
    writing.record(1, outcome_of("ok", "Operation is similar to a multi-track tape recorder.", {}))
    view = writing.view(2)
    assert view.languages("chi_sim+eng") == "eng" and view.languages("eng+chi_sim") == "eng"
    assert view.languages("chi_sim") == "chi_sim" and view.languages("deu+fra") == "deu+fra"
    # AND once a page with Chinese is read, the document is read with every language again
    writing.record(2, outcome_of("ok", "打印匹配给定模式的行", {}))
    assert writing.view(3).languages("chi_sim+eng") == "chi_sim+eng"
    # AND a page that failed or read no text says nothing of the writing
    assert outcome_of("failed", "", {}) == PageOutcome(text=False, cjk=False, replaced=None, vertical=False)
    assert not outcome_of("no_text_found", "", {"read": {"kept": "as_planned"}}).text


class ReplacingEngine(WayEngine):
    """A first engine whose readings a second opinion replaces: ``opinion`` is the second engine's reading (None:
    there is no second engine), sure when its confidence is ``SURE``."""

    def __init__(self, answers: dict[str, Recognition], opinion: Recognition | None) -> None:
        super().__init__(answers)
        self.opinion = None if opinion is None else Opinion(opinion, opinion.mean_confidence == SURE)
        self.asked: list[str] = []

    def reconsider(self, page, languages, timeout, first, opinion=None):
        self.asked.append("reconsider, asked already" if opinion is not None else "reconsider")
        second = opinion or self.opinion
        return second.reading if second is not None and second.sure and first.mean_confidence != SURE else first

    def second_opinion(self, page, languages, timeout):
        self.asked.append("second_opinion")
        return self.opinion


def test_a_page_asked_the_second_engine_first_keeps_its_sure_reading_without_a_first_one(tmp_path):
    # GIVEN a document whose pages' first readings were being replaced, and a sure second reading
    engine = ReplacingEngine({"ocr": reading("unsure fax text", 0.7)},
                             opinion=replace(reading("sure fax text", SURE), engine="other"))
    # WHEN a page is read asking the second engine first
    result = read(tmp_path, PLAIN, engine, writing=WritingView(), second_first=True)
    # THEN the first engine read nothing, the second's reading is kept, and the record says so
    assert engine.reads == [] and engine.asked == ["second_opinion"]
    assert result.recognition.text == "sure fax text" and result.way == "as_planned"
    assert result.report(PLAIN)["read"] == {"kept": "as_planned", "second_opinion": "other", "asked_first": True,
                                            "tried": [{"way": "as_planned", "confidence": SURE, "characters": 13}]}


@pytest.mark.parametrize("opinion", [None, reading("", 0.0), reading("unsure fax text", 0.7)])
def test_without_a_sure_second_reading_the_page_is_read_the_usual_way(tmp_path, opinion):
    # GIVEN no second engine (None), or one that reads nothing or reads unsure
    engine = ReplacingEngine({"ocr": reading("clean page text", SURE)}, opinion=opinion)
    # WHEN the page is read asking the second engine first  THEN the first engine reads it as it would have
    result = read(tmp_path, PLAIN, engine, writing=WritingView(), second_first=True)
    assert engine.reads == ["ocr"] and result.recognition.text == "clean page text"
    assert "asked_first" not in result.report(PLAIN)["read"]
    # AND the second engine's reading, made already, is what the first one's is reconsidered with
    assert engine.asked == ["second_opinion", "reconsider, asked already" if opinion else "reconsider"]


def test_a_second_reading_of_the_page_as_planned_is_not_reused_for_another_way(tmp_path):
    # GIVEN an unsure second reading asked first, and a first engine that reads the page as planned unsure, and
    # turned over sure
    engine = ReplacingEngine({"ocr": reading("", 0.0), "ocr180": reading("upside down text", SURE)},
                             opinion=reading("unsure fax text", 0.7))
    # WHEN read  THEN the page turned over is kept, and reconsidered on its own image: the second engine is asked
    result = read(tmp_path, PLAIN, engine, writing=WritingView(), second_first=True)
    assert result.way == "turned_180" and engine.asked == ["second_opinion", "reconsider"]


REPLACED = PageOutcome(text=True, cjk=False, replaced=True, vertical=False)
READ_SURE = PageOutcome(text=True, cjk=False, replaced=False, vertical=False)


def test_a_document_asks_the_second_engine_first_after_two_replaced_pages_and_rechecks_every_fourth():
    writing = DocumentWriting()
    # GIVEN no page read yet, then one page whose first reading was replaced  THEN the usual way
    assert not writing.view(1).asks_second_first()
    writing.record(1, REPLACED)
    assert not writing.view(2).asks_second_first()
    # WHEN a second page in a row is replaced  THEN the next three pages ask the second engine first, the fourth
    # is read the usual way, and so on while pages keep being replaced
    writing.record(2, REPLACED)
    asked = []
    for number in range(3, 11):
        asked.append(writing.view(number).asks_second_first())
        writing.record(number, REPLACED)
    assert asked == [True] * 3 + [False] + [True] * 3 + [False]
    # WHEN a page reads sure with the first engine  THEN the run ends: the next pages are read the usual way
    writing.record(11, READ_SURE)
    assert not writing.view(12).asks_second_first()
    # AND pages no engine read (failed, blank, a text layer) neither end a run nor lengthen it
    writing.record(12, REPLACED)
    writing.record(13, outcome_of("failed", "", {}))
    writing.record(14, REPLACED)
    assert writing.view(15).asks_second_first()


@pytest.mark.parametrize(("pitch", "estimate", "min_pitch", "small"), [
    (15.0, 75, 20.0, True),  # a page scanned at 75 dpi, for an engine that reads such text poorly
    (25.0, 100, 20.0, False),  # larger text
    (15.0, 75, None, False),  # an engine with no such limit
    (0.0, None, 20.0, False),  # no lines found
    (6.0, None, 20.0, False),  # lines too close to be text: specks, a picture's texture
])
def test_small_text_is_lines_closer_than_the_engine_reads_well(pitch, estimate, min_pitch, small):
    plan = PagePlan(recipe="auto", steps=("grayscale",), dpi_estimate=estimate,
                    measurements=replace(DOWN, lines_down=False, line_pitch=pitch))
    assert plan.small_text(min_pitch) is small


def test_a_fixed_recipe_measures_no_small_text():
    assert PagePlan(recipe="none", steps=("grayscale",)).small_text(20.0) is False


def test_a_page_is_decided_from_the_pages_as_many_before_it_as_are_read_at_once_waiting_for_them():
    import threading

    # GIVEN a document read two pages at a time, pages 1-4 to be read
    writing = DocumentWriting(lag=2)
    writing.expect([1, 2, 3, 4])
    # THEN pages 1 and 2 are decided from nothing, at once
    assert writing.view(2) == WritingView()
    # AND page 3 waits for page 1, and only for it: page 2, read beside it, has no say
    views: list[WritingView] = []
    waiting = threading.Thread(target=lambda: views.append(writing.view(3, timeout=30)))
    waiting.start()
    writing.record(2, outcome_of("ok", "打印匹配给定模式的行", {}))
    waiting.join(0.3)
    assert waiting.is_alive()
    writing.record(1, outcome_of("ok", "Operation is similar to a multi-track tape recorder.", {}))
    waiting.join(30)
    assert views == [WritingView(latin_so_far=True)]
    # AND page 4 is decided from pages 1-2, whichever finished first
    assert writing.view(4) == WritingView()


def test_a_page_that_never_comes_holds_the_pages_after_it_no_longer_than_the_timeout():
    writing = DocumentWriting()
    writing.expect([1, 2])
    assert writing.view(2, timeout=0.05) == WritingView()  # page 1 never recorded: decided from what is known
    writing.record(1, None)  # an expected page that will not be read after all
    assert writing.view(2) == WritingView()


def test_each_block_of_pages_is_decided_from_its_own_pages_as_a_range_task_reads_it():
    # GIVEN blocks of 4 pages (the fan-out's ranges), pages 1-4 replaced and Latin
    writing = DocumentWriting(block=4)
    for number in range(1, 5):
        writing.record(number, REPLACED)
    assert writing.view(4).asks_second_first() and writing.view(4).latin_so_far
    # THEN page 5 starts afresh, as the task reading pages 5-8 would; page 7 has pages 5-6 to go on
    assert writing.view(5) == WritingView()
    writing.record(5, REPLACED)
    writing.record(6, REPLACED)
    assert writing.view(7).asks_second_first()


@pytest.mark.parametrize(("languages", "workers", "lag", "first_counts"), [
    ("chi_sim+eng", 2, 4, True),  # the default: an English document's pages after its first are read with eng
    ("eng", 2, 4, False),
    ("chi_sim", 4, 8, False),
    ("chi_sim+eng", 1, 1, True),  # one page at a time: each page is decided from all the pages before it
])
def test_a_document_is_decided_from_pages_twice_as_many_back_as_are_read_at_once(languages, workers, lag,
                                                                                 first_counts):
    writing = DocumentWriting.for_settings(Settings(languages=languages, workers=workers, range_pages=16))
    assert (writing.lag, writing.block, writing.first_counts) == (lag, 16, first_counts)


def test_with_mixed_languages_the_first_page_of_a_block_counts_for_every_page_after_it():
    import threading

    # GIVEN a document read with chi_sim+eng, two pages at a time (a lag of four)
    writing = DocumentWriting(lag=4, block=16, first_counts=True)
    writing.expect(range(1, 17))
    # WHEN page 2 is decided  THEN it waits for page 1, and once page 1 read English, it is read with eng
    views: list[WritingView] = []
    waiting = threading.Thread(target=lambda: views.append(writing.view(2, timeout=30)))
    waiting.start()
    waiting.join(0.3)
    assert waiting.is_alive()
    writing.record(1, outcome_of("ok", "Operation is similar to a multi-track tape recorder.", {}))
    waiting.join(30)
    assert views == [WritingView(latin_so_far=True)]
    assert writing.view(3, timeout=0).languages("chi_sim+eng") == "eng"
