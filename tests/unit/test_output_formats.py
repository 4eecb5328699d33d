"""The formats drawn from a reading's ``.json``: the searchable PDF, hOCR, the TSV of words and Markdown.

Real readings (Tesseract on ``linn.png``, on a PDF page of it turned by /Rotate with its media box away from the
origin, and on ``zh-clean.png``) are rendered and read back with real tools: ``pdftotext`` for the PDF,
``xml.etree`` for the hOCR. Hand-built pages pin down the Markdown's layout rules, escaping, and a page whose
placement is a quarter turn.
"""

from __future__ import annotations

import difflib
import html
import io
import re
import subprocess
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from pikepdf import Array, Dictionary, Name, PdfImage
from PIL import Image, ImageChops

from s3ocr.geometry import IDENTITY, placement
from s3ocr.models import DocumentRef, DocumentResult
from s3ocr.pipeline import process_local_file
from s3ocr.routing import EngineChooser
from s3ocr.settings import Settings
from s3ocr.sinks.formats import result_document
from s3ocr.sinks.hocr import language_tags, write_hocr
from s3ocr.sinks.markdown import escape, write_markdown
from s3ocr.sinks.placement import PageBox, join_words, page_box
from s3ocr.sinks.searchable_pdf import write_searchable_pdf
from s3ocr.sinks.tsv import HEADER, write_tsv
from tests.conftest import RESOURCES

XHTML = "{http://www.w3.org/1999/xhtml}"
TOLERANCE = 1.0  # points
HEAD = {"producer": "s3ocr test", "source": {"key": "doc.png"}, "engine": {"name": "fake", "version": "1"},
        "languages": "eng", "pages_processed": 1, "media_type": "image/png"}


def _read(path: Path, languages: str, work_dir: Path) -> dict[str, Any]:
    settings = Settings.from_env({}, engine="tesseract", languages=languages, work_dir=work_dir)
    result = process_local_file(path, DocumentRef("", path.name), settings, EngineChooser(settings).default)
    assert isinstance(result, DocumentResult) and result.status == "ok"
    return result_document(result)


def _turned_pdf(path: Path) -> Path:
    """``linn.png`` on a landscape page at (100, 50) in user space, drawn turned so that the page's /Rotate 90
    shows it upright (a scanner's PDF of a page fed sideways)."""
    image = Image.open(RESOURCES / "linn.png").convert("1")
    with pikepdf.new() as pdf:
        xobject = pdf.make_stream(zlib.compress(image.tobytes()), Type=Name.XObject, Subtype=Name.Image,
                                  Width=image.width, Height=image.height, ColorSpace=Name.DeviceGray,
                                  BitsPerComponent=1, Filter=Name.FlateDecode)
        pdf.pages.append(pikepdf.Page(Dictionary(
            Type=Name.Page, MediaBox=Array([100, 50, 892, 662]), Rotate=90,
            Resources=Dictionary(XObject=Dictionary(Im0=xobject)),
            Contents=pdf.make_stream(b"q 0 612 -792 0 892 50 cm /Im0 Do Q\n"))))
        pdf.save(path)
    return path


@pytest.fixture(scope="module")
def linn(tmp_path_factory) -> dict[str, Any]:
    return _read(RESOURCES / "linn.png", "eng", tmp_path_factory.mktemp("linn"))


@pytest.fixture(scope="module")
def turned(tmp_path_factory) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("turned")
    pdf = _turned_pdf(folder / "turned.pdf")
    return pdf, _read(pdf, "eng", folder)


@pytest.fixture(scope="module")
def chinese(tmp_path_factory) -> dict[str, Any]:
    return _read(RESOURCES / "zh-clean.png", "chi_sim", tmp_path_factory.mktemp("zh"))


Writer = Callable[[dict[str, Any], Any, Path | None, str, Any], None]


def _render(writer: Writer, document: dict[str, Any], source: Path | None = None) -> bytes:
    head = {key: value for key, value in document.items() if key != "pages"}
    out = io.BytesIO()
    writer(head, iter(document["pages"]), source, document["media_type"], out)
    return out.getvalue()


def _searchable(document: dict[str, Any], source: Path, path: Path) -> Path:
    path.write_bytes(_render(write_searchable_pdf, document, source))
    return path


def _pdftotext(path: Path, *options: str) -> str:
    return subprocess.run(["pdftotext", "-enc", "UTF-8", *options, str(path), "-"], capture_output=True,
                          check=True).stdout.decode()


def _pdf_words(path: Path) -> list[tuple[str, float, float, float, float]]:
    """The words Poppler finds, with their boxes in points from the top-left of the page as displayed."""
    found = re.findall(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>',
                       _pdftotext(path, "-bbox"))
    return [(html.unescape(text), float(x0), float(y0), float(x1), float(y1)) for x0, y0, x1, y1, text in found]


def _words(page: dict[str, Any]) -> list[str]:
    return [word["text"] for line in page["lines"] for word in line["words"]]


def _squeezed(text: str) -> str:
    return re.sub(r"\s", "", text)


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, _squeezed(a), _squeezed(b), autojunk=False).ratio()


def _assert_words_on_their_boxes(pdf: Path, page: dict[str, Any]) -> None:
    """Each word Poppler finds lies across its word's box and down its line's (the layer sets a line's words on
    the line's band), in points, as read at the rendering's dpi (these pages are read as rendered)."""
    assert page["placement"]["matrix"] == list(IDENTITY)
    scale = 72 / (page["placement"]["dpi"] or 300)
    expected: dict[str, list[tuple[float, ...]]] = {}
    for line in page["lines"]:
        top, bottom = line["box"]["top"], line["box"]["top"] + line["box"]["height"]
        for word in line["words"]:
            left, right = word["box"]["left"], word["box"]["left"] + word["box"]["width"]
            expected.setdefault(word["text"], []).append(tuple(v * scale for v in (left, top, right, bottom)))
    found = _pdf_words(pdf)
    assert len(found) == len(_words(page))
    for text, x0, y0, x1, y1 in found:
        assert any(x0 >= b[0] - TOLERANCE and y0 >= b[1] - TOLERANCE and x1 <= b[2] + TOLERANCE
                   and y1 <= b[3] + TOLERANCE for b in expected.get(text, [])), (text, x0, y0, x1, y1)


def _assert_text_given_back(pdf: Path, page: dict[str, Any]) -> None:
    """In the content's order (``-raw``; without it Poppler finds its own reading order) the PDF's text is the
    reading's, word for word."""
    raw = _pdftotext(pdf, "-raw")
    assert raw.split() == _words(page)
    assert _similarity(raw, page["text"]) >= 0.98


def test_a_searchable_pdf_of_an_image_holds_the_image_as_it_is_and_the_words_where_they_were_read(linn, tmp_path):
    # GIVEN the reading of a PNG scan (no dpi in the file: taken as 300)
    # WHEN its searchable PDF is written
    pdf = _searchable(linn, RESOURCES / "linn.png", tmp_path / "linn.pdf")
    # THEN its page is the scan's size, the scan drawn on it pixel for pixel
    with pikepdf.open(pdf) as document:
        page = document.pages[0]
        assert [float(v) for v in page.mediabox] == [0, 0, 612, 792]
        (image,) = page.get_images().values()
        embedded = PdfImage(image).as_pil_image().convert("RGB")
    assert ImageChops.difference(embedded, Image.open(RESOURCES / "linn.png").convert("RGB")).getbbox() is None
    # AND pdftotext gives back the words, each on its box
    _assert_text_given_back(pdf, linn["pages"][0])
    _assert_words_on_their_boxes(pdf, linn["pages"][0])


def test_a_searchable_pdf_of_a_turned_pdf_page_keeps_the_page_and_lays_the_words_on_it_as_shown(turned, tmp_path):
    # GIVEN a PDF page turned by /Rotate 90, its media box at (100, 50), read upright as Poppler renders it
    source, reading = turned
    assert reading["pages"][0]["preprocessing"]["rotation"] == 0
    # WHEN its searchable PDF is written
    pdf = _searchable(reading, source, tmp_path / "turned-searchable.pdf")
    # THEN the page is the same page: its box, its turn, and what it shows (the layer is invisible)
    with pikepdf.open(pdf) as document:
        page = document.pages[0]
        assert page.rotation == 90 and [float(v) for v in page.mediabox] == [100, 50, 892, 662]
    shown = [subprocess.run(["pdftoppm", "-r", "20", "-gray", str(path)], capture_output=True, check=True).stdout
             for path in (source, pdf)]
    assert shown[0] == shown[1]
    # AND pdftotext gives back the words, each on its box on the page as shown
    _assert_text_given_back(pdf, reading["pages"][0])
    _assert_words_on_their_boxes(pdf, reading["pages"][0])


def test_chinese_text_comes_back_whole_with_no_space_between_characters(chinese, tmp_path):
    pdf = _searchable(chinese, RESOURCES / "zh-clean.png", tmp_path / "zh.pdf")
    text = _pdftotext(pdf, "-raw")
    assert _squeezed(text) == _squeezed("".join(_words(chinese["pages"][0])))
    assert _similarity(text, chinese["pages"][0]["text"]) >= 0.98
    assert not re.search(r"[\u4e00-\u9fff] +[\u4e00-\u9fff]", text)


def _word(text: str, left: int, top: int, width: int, height: int, confidence: float = 0.9) -> dict[str, Any]:
    return {"text": text, "box": {"left": left, "top": top, "width": width, "height": height},
            "confidence": confidence}


def _line(*words: dict[str, Any]) -> dict[str, Any]:
    left, top = min(w["box"]["left"] for w in words), min(w["box"]["top"] for w in words)
    right = max(w["box"]["left"] + w["box"]["width"] for w in words)
    bottom = max(w["box"]["top"] + w["box"]["height"] for w in words)
    return {"text": join_words(w["text"] for w in words), "confidence": 0.9, "words": list(words),
            "box": {"left": left, "top": top, "width": right - left, "height": bottom - top}}


def _page(lines: list[dict[str, Any]], number: int = 1, width: int = 1000, height: int = 1000, dpi: int = 100,
          **extra: Any) -> dict[str, Any]:
    return {"number": number, "status": "ok", "source": "ocr", "engine": "fake", "width": width, "height": height,
            "dpi": dpi, "mean_confidence": 0.9, "text": "\n".join(line["text"] for line in lines), "lines": lines,
            "preprocessing": {}, "timings": {}, "error": None, **extra}


def _document(*pages: dict[str, Any], **head: Any) -> dict[str, Any]:
    return {**HEAD, "pages_processed": len(pages), **head, "pages": list(pages)}


def _turned_page() -> dict[str, Any]:
    """A page rendered 1000 x 600 at 100 dpi, its lines running up it: read turned a quarter clockwise, so the
    image read is 600 x 1000 and a box from (100, 50) to (300, 90) in it lies from (50, 300) to (90, 500) on the
    page."""
    line = _line(_word("Hello", 100, 50, 200, 40), _word("world", 350, 50, 150, 40))
    return _page([line], width=600, height=1000, placement=placement(1000, 600, 100, turn=90).to_dict())


def test_a_quarter_turned_reading_lands_turned_back_on_the_page_in_every_format(tmp_path):
    # GIVEN a page read turned a quarter, on a blank image of the page as rendered
    Image.new("L", (1000, 600), 255).save(tmp_path / "page.png", dpi=(100, 100))
    document = _document(_turned_page())
    # WHEN it is written as hOCR, TSV and a searchable PDF
    hocr = ET.fromstring(_render(write_hocr, document))
    tsv = _render(write_tsv, document).decode().splitlines()
    pdf = _searchable(document, tmp_path / "page.png", tmp_path / "page.pdf")
    # THEN every format has the words on the page, turned back: running up it
    page = hocr.find(f".//{XHTML}div[@class='ocr_page']")
    assert page is not None and page.get("title", "").startswith("bbox 0 0 1000 600;")
    boxes = [w.get("title") for w in hocr.iter(f"{XHTML}span") if w.get("class") == "ocrx_word"]
    assert boxes == ["bbox 50 300 90 500; x_wconf 90", "bbox 50 100 90 250; x_wconf 90"]
    assert tsv[1:] == ["1\t1\t1\t50\t300\t40\t200\t90.0\tHello", "1\t1\t2\t50\t100\t40\t150\t90.0\tworld"]
    assert [(text, round(x0, 1), round(y0, 1), round(x1, 1), round(y1, 1)) for text, x0, y0, x1, y1
            in _pdf_words(pdf)] == [("Hello", 36.0, 216.0, 64.8, 360.0), ("world", 36.0, 72.0, 64.8, 180.0)]


def test_a_box_through_a_scaling_placement_is_rounded_outwards_and_kept_on_the_page():
    scaled = placement(2100, 540, 300, scale=1 / 1.32)  # the image read was scaled down to 1591 x 409
    assert page_box(scaled, {"left": 10, "top": 10, "width": 10, "height": 10}) == PageBox(13, 13, 27, 27)
    assert page_box(scaled, {"left": 1580, "top": 400, "width": 30, "height": 30}) == PageBox(2085, 528, 2100, 540)


def test_characters_beyond_the_bmp_come_back_from_the_pdf(tmp_path):
    # GIVEN words with characters beyond the BMP (a CJK Extension B ideograph, an emoji), and a lone surrogate
    Image.new("L", (1000, 200), 255).save(tmp_path / "page.png")
    line = _line(_word("𠀀𠀁中", 50, 50, 150, 40), _word("ok😀", 250, 50, 100, 40), _word("\ud800x", 400, 50, 60, 40))
    # WHEN the searchable PDF is written
    pdf = _searchable(_document(_page([line], height=200)), tmp_path / "page.png", tmp_path / "page.pdf")
    # THEN each comes back as itself, the lone surrogate as U+FFFD
    assert _pdftotext(pdf, "-raw").split() == ["𠀀𠀁中", "ok😀", "\ufffdx"]


def test_pdf_pages_read_from_their_text_layer_or_beyond_the_reading_are_left_as_they_were(tmp_path):
    # GIVEN a three-page PDF whose reading has its first page only, taken from the page's own text
    source = RESOURCES / "scan-text-layers.pdf"
    text_page = {**_page([]), "source": "text_layer", "engine": "pdftotext", "text": "its own text"}
    # WHEN its searchable PDF is written
    pdf = _searchable(_document(text_page, media_type="application/pdf"), source, tmp_path / "out.pdf")
    # THEN every page is as it was
    with pikepdf.open(source) as before, pikepdf.open(pdf) as after:
        assert len(after.pages) == len(before.pages) == 3
        for old, new in zip(before.pages, after.pages, strict=True):
            assert new.obj.Contents.read_bytes() == old.obj.Contents.read_bytes()
            assert "/S3ocrGlyphLess" not in new.resources.get("/Font", {})


def test_a_jpeg_goes_in_as_it_is_and_other_images_losslessly_a_page_to_a_frame(tmp_path):
    # GIVEN a JPEG, and a TIFF of a bilevel frame and a frame with transparency
    Image.new("RGB", (300, 200), (200, 120, 40)).save(tmp_path / "photo.jpg", dpi=(100, 100), quality=80)
    bilevel = Image.new("1", (400, 300), 1)
    bilevel.paste(0, (10, 10, 60, 40))
    clear = Image.new("RGBA", (200, 100), (0, 0, 255, 255))
    clear.paste((0, 0, 0, 0), (0, 0, 100, 100))
    bilevel.save(tmp_path / "scan.tif", save_all=True, append_images=[clear], dpi=(200, 200))
    word = _line(_word("text", 10, 10, 50, 20))
    # WHEN their searchable PDFs are written
    photo = _searchable(_document(_page([word], width=300, height=200, placement={
        "width": 300, "height": 200, "dpi": 100, "matrix": list(IDENTITY)}), media_type="image/jpeg"),
        tmp_path / "photo.jpg", tmp_path / "photo.pdf")
    scan = _searchable(_document(_page([word], width=400, height=300, dpi=200),
                                 _page([], number=2, width=200, height=100, dpi=200), media_type="image/tiff"),
                       tmp_path / "scan.tif", tmp_path / "scan.pdf")
    # THEN the JPEG is the file's own bytes, on a page of its size at its dpi
    with pikepdf.open(photo) as document:
        (image,) = document.pages[0].get_images().values()
        assert image.Filter == Name.DCTDecode and image.read_raw_bytes() == (tmp_path / "photo.jpg").read_bytes()
        assert [float(v) for v in document.pages[0].mediabox] == [0, 0, 216, 144]
    # AND each TIFF frame is a page of its own, its pixels as they were (transparency on white)
    with pikepdf.open(scan) as document:
        assert [[float(v) for v in page.mediabox] for page in document.pages] == [[0, 0, 144, 108], [0, 0, 72, 36]]
        first, second = (PdfImage(next(iter(page.get_images().values()))).as_pil_image() for page in document.pages)
    assert ImageChops.difference(first.convert("L"), bilevel.convert("L")).getbbox() is None
    flattened = Image.alpha_composite(Image.new("RGBA", clear.size, "white"), clear).convert("RGB")
    assert ImageChops.difference(second.convert("RGB"), flattened).getbbox() is None
    assert _pdftotext(photo, "-raw").split() == ["text"]


def test_a_jpeg_the_reading_saw_turned_by_its_exif_orientation_goes_in_turned(tmp_path):
    # GIVEN a phone photo stored 300 x 200, its EXIF saying it is shown turned a quarter clockwise
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (300, 200), (200, 120, 40)).save(tmp_path / "phone.jpg", dpi=(100, 100), exif=exif)
    pdf = _searchable(_document(_page([], width=200, height=300), media_type="image/jpeg"),
                      tmp_path / "phone.jpg", tmp_path / "phone.pdf")
    # THEN its page shows it as the reading saw it, 200 x 300, its pixels decoded and kept losslessly
    with pikepdf.open(pdf) as document:
        (image,) = document.pages[0].get_images().values()
        assert (image.Width, image.Height) == (200, 300) and image.Filter == Name.FlateDecode


def test_a_palette_image_keeps_its_palette_and_a_black_and_white_one_becomes_bilevel(tmp_path):
    coloured = Image.new("P", (120, 80), 0)
    coloured.putpalette([255, 255, 255, 200, 30, 30, 20, 20, 160])
    coloured.paste(1, (10, 10, 50, 40))
    coloured.paste(2, (60, 10, 100, 40))
    coloured.save(tmp_path / "coloured.png", dpi=(100, 100))
    pdf = _searchable(_document(_page([], width=120, height=80)), tmp_path / "coloured.png", tmp_path / "c.pdf")
    with pikepdf.open(pdf) as document:
        (image,) = document.pages[0].get_images().values()
        assert image.ColorSpace[0] == Name.Indexed
        embedded = PdfImage(image).as_pil_image().convert("RGB")
    assert ImageChops.difference(embedded, coloured.convert("RGB")).getbbox() is None
    with pikepdf.open(_searchable(_document(_page([])), RESOURCES / "linn.png", tmp_path / "linn.pdf")) as document:
        (image,) = document.pages[0].get_images().values()
        assert image.BitsPerComponent == 1 and image.ColorSpace == Name.DeviceGray


def _title(element: ET.Element) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in element.get("title", "").split(";"))


def _validate_hocr(root: ET.Element) -> list[ET.Element]:
    """The hOCR 1.2 rules the file keeps: its metadata; ``ocr_page`` divs in the body, ``ocr_line`` spans (or
    ``ocr_par`` paragraphs) in a page, ``ocrx_word`` spans in a line; a ``bbox`` of four whole numbers, its
    corners in order, inside the page, on every element that needs one; ``x_wconf`` 0-100; ids unique. Returns
    the words."""
    assert root.tag == f"{XHTML}html" and root.get("lang")
    meta = {m.get("name"): m.get("content") for m in root.iter(f"{XHTML}meta") if m.get("name")}
    assert meta["ocr-system"] and set(meta["ocr-capabilities"].split()) >= {"ocr_page", "ocr_line", "ocrx_word"}
    parents = {child: parent for parent in root.iter() for child in parent}
    classed = [element for element in root.iter() if element.get("class")]
    ids = [element.get("id") for element in classed]
    assert len(ids) == len(set(ids)) and None not in ids
    inside = {"ocr_page": "body", "ocr_par": "ocr_page", "ocr_line": "ocr_page", "ocrx_word": "ocr_line"}
    page_box: list[int] = []
    for element in classed:
        kind, parent = element.get("class"), parents[element]
        assert kind in meta["ocr-capabilities"].split() and kind in inside
        assert (parent.get("class") or parent.tag.removeprefix(XHTML)) == inside[kind]
        if kind == "ocr_par":
            continue
        properties = _title(element)
        assert re.fullmatch(r"\d+ \d+ \d+ \d+", properties["bbox"])
        x0, y0, x1, y1 = map(int, properties["bbox"].split())
        assert x0 <= x1 and y0 <= y1
        if kind == "ocr_page":
            page_box = [x1, y1]
            assert int(properties["ppageno"]) == int(element.get("id", "").removeprefix("page_")) - 1
        else:
            assert x1 <= page_box[0] and y1 <= page_box[1]
        if kind == "ocrx_word":
            assert 0 <= int(properties["x_wconf"]) <= 100
    return [element for element in classed if element.get("class") == "ocrx_word"]


def test_hocr_of_a_real_page_is_valid_and_holds_every_word_on_its_box(linn, chinese):
    # GIVEN real readings, English and Chinese
    # WHEN they are written as hOCR
    english = ET.fromstring(_render(write_hocr, linn))
    zh = ET.fromstring(_render(write_hocr, chinese))
    # THEN both are valid hOCR in their language
    assert english.get("lang") == "en" and zh.get("lang") == "zh-Hans"
    # AND the words are the reading's, on their boxes (the page was read as rendered)
    words = _validate_hocr(english)
    page = linn["pages"][0]
    assert [w.text for w in words] == _words(page)
    expected = [w["box"] for line in page["lines"] for w in line["words"]]
    assert [_title(w)["bbox"] for w in words] == [
        f"{b['left']} {b['top']} {b['left'] + b['width']} {b['top'] + b['height']}" for b in expected]
    # AND a line's text is its words, a space between Latin words and none between CJK characters
    assert [w.text for w in _validate_hocr(zh)] == _words(chinese["pages"][0])
    lines = ["".join(line.itertext()) for line in zh.iter(f"{XHTML}span") if line.get("class") == "ocr_line"]
    assert lines[0].startswith("grep, egrep, fgrep - 打印匹配")
    assert not any(re.search(r"[\u4e00-\u9fff] [\u4e00-\u9fff]", line) for line in lines)


def test_hocr_escapes_what_the_text_holds_and_keeps_a_text_layer_pages_text():
    # GIVEN a word holding markup, an ampersand, quotes and a control character, and a page from a text layer
    line = _line(_word('<b>&"x"\x07', 10, 10, 100, 20, confidence=0.456))
    text_page = {**_page([], number=2, width=0, height=0, dpi=0), "source": "text_layer",
                 "text": "First line\nsecond <line>\n\nNext paragraph"}
    # WHEN the hOCR is written
    root = ET.fromstring(_render(write_hocr, _document(_page([line]), text_page, languages="chi_sim+eng")))
    # THEN it parses, is valid, and gives the text back as it was (the control character as U+FFFD)
    (word,) = _validate_hocr(root)
    assert word.text == '<b>&"x"\ufffd' and _title(word)["x_wconf"] == "46"
    paragraphs = ["".join(p.itertext()) for p in root.iter(f"{XHTML}p")]
    assert paragraphs == ["First line\nsecond <line>", "Next paragraph"]
    langs = {m.get("name"): m.get("content") for m in root.iter(f"{XHTML}meta")}["ocr-langs"]
    assert root.get("lang") == "zh-Hans" and langs == "zh-Hans en"


def test_language_tags_are_bcp47():
    assert language_tags("chi_sim+eng") == ["zh-Hans", "en"]
    assert language_tags("chi_tra_vert+osd+deu+xyz+script/Latin") == ["zh-Hant", "de", "xyz"]


def test_the_tsv_has_a_row_per_word_with_its_box_and_confidence(linn):
    rows = _render(write_tsv, linn).decode().splitlines()
    page = linn["pages"][0]
    words = [(i, j, word) for i, line in enumerate(page["lines"], 1) for j, word in enumerate(line["words"], 1)]
    assert rows[0] + "\n" == HEADER and len(rows) == 1 + len(words)
    for row, (i, j, word) in zip(rows[1:], words, strict=True):
        box = word["box"]
        assert row.split("\t") == ["1", str(i), str(j), str(box["left"]), str(box["top"]), str(box["width"]),
                                   str(box["height"]), f"{word['confidence'] * 100:.1f}", word["text"]]


def test_the_tsv_escapes_tabs_newlines_and_backslashes_and_pages_without_words_have_no_rows():
    line = _line(_word("a\tb\nc\\d\re", 10, 10, 100, 20, confidence=0.87654))
    text_page = {**_page([], number=2), "source": "text_layer", "text": "no words"}
    rows = _render(write_tsv, _document(_page([line]), text_page)).decode().split("\n")
    assert rows[1:] == ["1\t1\t1\t10\t10\t100\t20\t87.7\ta\\tb\\nc\\\\d\\re", ""]


def _row(top: int, *cells: tuple[str, int], height: int = 30) -> dict[str, Any]:
    """A line at ``top`` of the given words, each at its left edge, 20 pixels to a character."""
    return _line(*(_word(text, left, top, 20 * len(text), height) for text, left in cells))


def test_markdown_shows_headings_paragraphs_and_tables_where_the_layout_does():
    # GIVEN a page with a tall title, a shorter heading, two paragraphs and a table whose columns are aligned
    lines = [
        _row(10, ("Annual", 100), ("report", 250), height=70),  # 2.3 body lines tall
        _row(100, ("Summary", 100), height=45),  # 1.5
        _row(160, ("Sales", 100), ("grew", 220), ("by", 320), ("12%.", 380)),
        _row(195, ("Costs", 100), ("*fell*", 220)),  # 5 pixels under the line above: the same paragraph
        _row(260, ("Next", 100), ("one.", 200)),  # 35 pixels under: a new paragraph
        _row(320, ("Item", 100), ("Q1", 400), ("Q2", 600)),
        _row(360, ("Apples", 100), ("10", 420), ("12", 620)),  # numbers aligned right, clear of the next column
        _row(400, ("Pears|", 100), ("7", 440), ("9", 640)),
        _row(460, ("After", 100), ("the", 210), ("table.", 290)),
    ]
    # WHEN it is written as Markdown
    markdown = _render(write_markdown, _document(_page(lines))).decode()
    # THEN each shows as what it is, text escaped
    assert markdown == (
        "<!-- page 1 -->\n\n"
        "# Annual report\n\n"
        "## Summary\n\n"
        "Sales grew by 12%.\nCosts \\*fell\\*\n\n"
        "Next one.\n\n"
        "| Item | Q1 | Q2 |\n| --- | --- | --- |\n| Apples | 10 | 12 |\n| Pears\\| | 7 | 9 |\n\n"
        "After the table.\n")


def test_markdown_needs_three_aligned_rows_for_a_table():
    # GIVEN two rows of cells, then a third whose first cell runs into the second column
    lines = [_row(0, ("a", 100), ("b", 400)), _row(35, ("c", 100), ("d", 400)),
             _row(70, ("longer text here", 100), ("e", 500))]
    markdown = _render(write_markdown, _document(_page(lines))).decode()
    assert "|" not in markdown and "a b\nc d\nlonger text here e" in markdown


def test_markdown_of_a_real_page_is_its_paragraphs_under_its_title(linn):
    markdown = _render(write_markdown, linn).decode()
    blocks = markdown.split("\n\n")
    assert blocks[0] == "<!-- page 1 -->" and blocks[1] == "# The LinnSequencer"
    assert not any(block.startswith("|") for block in blocks) and len(blocks) > 10
    assert all(escape(line["text"]) in markdown for line in linn["pages"][0]["lines"])


def test_markdown_joins_cjk_lines_escapes_markup_and_marks_pages():
    cjk = [_line(_word("中文的", 100, 10, 90, 30)), _line(_word("一段话", 100, 45, 90, 30))]
    text_page = {**_page([], number=2), "source": "text_layer", "text": "# not a heading\n1. not a list\n\n<b>"}
    failed = {**_page([], number=3), "status": "failed"}
    markdown = _render(write_markdown, _document(_page(cjk), text_page, failed)).decode()
    assert markdown == ("<!-- page 1 -->\n\n中文的一段话\n\n---\n\n"
                        "<!-- page 2 -->\n\n\\# not a heading\n1\\. not a list\n\n\\<b\\>\n\n---\n\n"
                        "<!-- page 3 (failed) -->\n")


def test_a_tall_line_of_mixed_sizes_is_no_heading_and_a_number_opens_no_list_without_a_space():
    # GIVEN body text, and a line made tall by a stamp beside its word (a fax form's handwritten number)
    lines = [_row(10, ("Please", 100), ("reply", 260)), _row(45, ("soon", 100), ("now.", 220)),
             _line(_word("cooperation.", 100, 80, 240, 30), _word("2092117", 400, 60, 140, 75)),
             _row(200, ("54.3%", 100), ("of", 220), ("all", 280))]
    markdown = _render(write_markdown, _document(_page(lines))).decode()
    # THEN it stays text, and "54.3%" is not escaped as if it were a list item ("1. item" is: see above)
    assert "#" not in markdown and "cooperation. 2092117" in markdown and "\n54.3% of all" in markdown
