"""Born-digital PDF pages use their own text, identical to pdftotext; scans in the same PDF are OCRed.

Whether a page's text is its own is judged from the PDF (its fonts, what is drawn visibly, what covers the page);
the shape of the words only decides for invisible OCR layers and fonts that do not map to Unicode.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from s3ocr.bench.samples import scan_pdf, text_pdf, unite
from s3ocr.models import DocumentRef, DocumentResult
from s3ocr.pages.pdf import PdfPages
from s3ocr.pages.pdffonts import UNKNOWN_FONTS, DocumentFonts, FontInfo, PageFonts, parse_fonts
from s3ocr.pages.textlayer import PageTextEvidence, judge_page_text, text_quality, usable_text
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


def test_a_manuals_contents_code_and_table_pages_are_its_own_text_and_nothing_is_ocred(tmp_path, resources):
    # GIVEN an 8-page manual set in embedded fonts with Unicode maps: contents with dot leaders (page 2), a code
    # listing (page 5), a table (page 6) -- pages whose words do not look like prose
    pdf = resources / "manual.pdf"
    assert usable_text(_pdftotext(pdf, 2), 0.0) is None and usable_text(_pdftotext(pdf, 5), 0.0) is None
    # WHEN it is read
    engine = FakeEngine()
    outcome = process_local_file(pdf, DocumentRef("", "manual.pdf"), _settings(tmp_path), engine)
    # THEN no page is OCRed and every page's text is exactly the PDF's own
    assert isinstance(outcome, DocumentResult) and engine.seen == []
    assert [page.source for page in outcome.pages] == ["text_layer"] * 8
    assert [page.text for page in outcome.pages] == [_pdftotext(pdf, n) for n in range(1, 9)]
    assert ". . . . . . . . 3" in outcome.pages[1].text and 'for record in event["Records"]:' in outcome.pages[4].text


def test_a_born_digital_document_loads_no_page_cleaning(tmp_path, resources):
    # GIVEN a fresh process (what a command or a cold function pays at start)  WHEN it reads the manual, every page
    # from its text layer
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from s3ocr import textclean\n"
        "from s3ocr.engines import ENGINES\n"
        "from s3ocr.models import DocumentRef\n"
        "from s3ocr.pipeline import process_local_file\n"
        "from s3ocr.settings import Settings\n"
        f"settings = Settings(work_dir=Path({str(tmp_path)!r}))\n"
        f"outcome = process_local_file(Path({str(resources / 'manual.pdf')!r}), DocumentRef('', 'manual.pdf'),"
        " settings, ENGINES[settings.engine]())\n"
        "print(len(outcome.pages), 'cv2' in sys.modules, textclean._patterns.cache_info().currsize)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    # THEN OpenCV is never imported and the text-cleaning expressions are never compiled
    assert done.stdout.split() == ["8", "False", "0"]


def test_ocr_layers_over_a_scan_are_trusted_only_when_they_read_well(tmp_path, resources):
    # GIVEN one scan three times: under a good invisible OCR layer, under an invisible layer of garbage, and
    # with a short visible stamp printed on it
    pdf = resources / "scan-text-layers.pdf"
    engine = FakeEngine()
    # WHEN the document is read
    outcome = process_local_file(pdf, DocumentRef("", "scans.pdf"), _settings(tmp_path), engine)
    # THEN the good layer is the first page's text; the garbage layer and the stamped scan are OCRed
    assert isinstance(outcome, DocumentResult)
    assert [page.source for page in outcome.pages] == ["text_layer", "ocr", "ocr"]
    assert outcome.pages[0].text == _pdftotext(pdf, 1) and sorted(page.number for page in engine.seen) == [2, 3]
    pages = PdfPages(pdf, dpi=100, max_page_pixels=10**8)
    assert [pages.judge_text(n).reason for n in (1, 2, 3)] == [
        "ocr_layer_reads_well", "ocr_layer_reads_badly", "stray_text_on_scan"]


def test_visible_text_over_a_full_page_picture_is_the_pages_text(tmp_path, resources):
    # GIVEN contents with dot leaders printed over a pale picture that covers the whole page
    pdf = resources / "contents-on-picture.pdf"
    engine = FakeEngine()
    outcome = process_local_file(pdf, DocumentRef("", "contents.pdf"), _settings(tmp_path), engine)
    # THEN the text is drawn visibly in a reliable font: it is taken as it is, however its words look
    assert isinstance(outcome, DocumentResult) and engine.seen == []
    assert outcome.pages[0].text == _pdftotext(pdf, 1) and ". . . . 6" in outcome.pages[0].text


def test_a_page_in_a_font_without_a_unicode_mapping_falls_back_to_the_shape_of_its_words(tmp_path, resources):
    # GIVEN a page of prose in WinAnsi Helvetica and contents in a Helvetica whose encoding is custom
    pdf = resources / "custom-encoding.pdf"
    engine = FakeEngine()
    outcome = process_local_file(pdf, DocumentRef("", "custom.pdf"), _settings(tmp_path), engine)
    # THEN the prose is taken; the contents cannot be vouched for by their font, do not look like words: OCRed
    assert isinstance(outcome, DocumentResult)
    assert [page.source for page in outcome.pages] == ["text_layer", "ocr"] and len(engine.seen) == 1


class CountingRunner:
    """Runs the real command and counts the calls: how many ``pdffonts`` a document costs."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, command: list[str]) -> subprocess.CompletedProcess[bytes]:
        self.calls.append(command)
        return subprocess.run(command, capture_output=True, check=False)


def test_one_pdffonts_call_answers_for_a_document_whose_fonts_agree_and_pages_are_asked_when_they_do_not(resources):
    # GIVEN a manual whose fonts all map to Unicode
    runner = CountingRunner()
    fonts = DocumentFonts(resources / "manual.pdf", 8, run=runner)
    # WHEN every page is asked  THEN one listing of the whole document answered
    assert {fonts.page(n) for n in range(1, 9)} == {PageFonts(reliable=True, ocr_layer=False)}
    assert len(runner.calls) == 1
    # GIVEN a document with a reliable font on page 1 and a custom-encoded one on page 2
    runner = CountingRunner()
    fonts = DocumentFonts(resources / "custom-encoding.pdf", 2, run=runner)
    # THEN each page's own listing tells, once
    assert [fonts.page(1), fonts.page(2), fonts.page(2)] == [PageFonts(True, False), PageFonts(False, False),
                                                               PageFonts(False, False)]
    assert len(runner.calls) == 3


PDFFONTS = """name                                 type              encoding         emb sub uni object ID
------------------------------------ ----------------- ---------------- --- --- --- ---------
ABCDEF+CMR10                         Type 1C           Custom           yes yes yes     12  0
GHIJKL+CMSY10                        Type 1C           Builtin          yes yes no      13  0
MNOPQR+GlyphLessFont                 CID TrueType      Identity-H       yes yes yes     33  0
STUVWX+SimSun                        CID TrueType      Identity-H       yes yes no      40  0
Helvetica                            Type 1            WinAnsi          no  no  no       7  0
Symbol                               Type 1            Symbol           no  no  no       8  0
[none]                               Type 3            Custom           yes no  no      21  0
AVeryLongFontNameThatOverflowsTheNameColumn-BoldItalic CID Type 0C (OT) UniGB-UCS2-H yes yes no 44  0
Times-Roman                          Type 1            Standard         no  no  no      50  0
"""


def test_pdffonts_listing_says_which_fonts_extract_reliably():
    fonts = parse_fonts(PDFFONTS)
    assert [font.name for font in fonts][:3] == ["CMR10", "CMSY10", "GlyphLessFont"]
    assert {font.name: font.extracts_reliably for font in fonts} == {
        "CMR10": True,  # a ToUnicode map, as TeX writes with its Unicode maps
        "CMSY10": False,  # a built-in encoding and no map: glyph codes of a symbol font
        "GlyphLessFont": True,
        "SimSun": False,  # Identity-H without a map: glyph ids, not characters
        "Helvetica": True,  # a standard encoding on a simple font
        "Symbol": False,
        "[none]": False,  # Type 3
        "AVeryLongFontNameThatOverflowsTheNameColumn-BoldItalic": True,  # a predefined Unicode CMap
        "Times-Roman": True,
    }
    assert [font.name for font in fonts if font.is_ocr_layer] == ["GlyphLessFont"]
    assert fonts[-2] == FontInfo("AVeryLongFontNameThatOverflowsTheNameColumn-BoldItalic", "CID Type 0C (OT)",
                                 "UniGB-UCS2-H", embedded=True, unicode_map=False)


RELIABLE, UNRELIABLE, OCR_FONT = PageFonts(True, False), PageFonts(False, False), PageFonts(True, True)
TOC = "Contents\n1 Introduction . . . . . . . . . . . . 3\n2 Installing . . . . . . . . . . . . 4\n"
CODE = 'for k, v in d.items():\n    print(f"{k}={v!r}")  # x[0] -> y[1]\n'
PROSE = "The quick brown fox jumps over the lazy dog. " * 3
GARBAGE = "sw | \\ + 400 + ~ ' | : 5 | | \\ = ; ' . " * 3


@pytest.mark.parametrize(
    ("text", "coverage", "fonts", "visible", "reason"),
    [
        (TOC, 0.0, RELIABLE, 1.0, "pdf_text"),  # dot leaders in fonts that map to Unicode
        (CODE, 0.0, RELIABLE, 1.0, "pdf_text"),
        (TOC, 0.0, UNRELIABLE, 1.0, "unreliable_fonts_reads_badly"),  # custom encoding: only words can tell
        (PROSE, 0.0, UNRELIABLE, 1.0, "unreliable_fonts_reads_well"),
        (TOC * 3, 1.0, RELIABLE, 1.0, "pdf_text"),  # printed over a full-page picture, visibly
        (PROSE, 1.0, RELIABLE, 0.0, "ocr_layer_reads_well"),  # an invisible layer over a scan
        (GARBAGE, 1.0, RELIABLE, 0.0, "ocr_layer_reads_badly"),
        (GARBAGE, 0.0, OCR_FONT, 1.0, "ocr_layer_reads_badly"),  # Tesseract's GlyphLessFont
        (GARBAGE, 1.0, RELIABLE, None, "text_on_scan_reads_badly"),  # visibility unknown: maybe a layer
        ("Received 2024-03-01", 1.0, RELIABLE, 1.0, "stray_text_on_scan"),
        ("Ab\ufffdcd efgh \ufffd\ufffd ijkl", 0.0, RELIABLE, 1.0, "broken_characters"),  # a broken map
        (PROSE + "\ue001", 0.0, RELIABLE, 1.0, "pdf_text"),  # one icon in the private-use area
        (" \n\f", 0.0, RELIABLE, 1.0, "no_text"),
        ("Title", 0.0, UNKNOWN_FONTS, 1.0, "unreliable_fonts_reads_well"),  # Poppler could not list the fonts
    ],
)
def test_judge_page_text(text, coverage, fonts, visible, reason):
    verdict = judge_page_text(PageTextEvidence(text, coverage, fonts, visible))
    assert verdict.reason == reason
    assert verdict.text == (text if reason.endswith(("pdf_text", "reads_well")) else None)
