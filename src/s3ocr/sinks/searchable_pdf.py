"""A searchable PDF: the document as it came, under an invisible layer of the text that was read.

For a PDF the original pages are kept as they are (nothing re-rendered or recompressed) and each OCR'd page gets
the layer appended to its content; a page read from its own text layer already has text and is left alone, and
so is a page beyond the reading (the page cap). For an image each page of the reading becomes a page of the
image's size at its dpi, the image drawn on it: a JPEG as it is (DCT), any other image losslessly (Flate).

The layer is drawn as Tesseract's PDF renderer draws its own: in text render mode 3 (neither filled nor stroked),
in Tesseract's glyphless font (``pdf.ttf``: one empty glyph, half an em wide) as a Type0 font with Identity-H
encoding, so that a character code is its CID, and every CID maps to that one glyph. A character of the BMP is
written as its own code point and the ToUnicode map takes every such code to itself, so extraction, search and
copy give the text back in any script. A character beyond the BMP gets a code of its own (``_Encoding``).

Each word is set on its line on the page as rendered (``s3ocr.sinks.placement``), turned to run the way the line
does, as tall as the line and scaled horizontally (``Tz``) to the word's width, so that a selection or a search hit
covers the word in the image. A space is set between two words of a line unless both sides are full-width (CJK),
and each line stands on its own baseline, so that readers split words and lines where the reading does.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

import pikepdf
from pikepdf import Array, Dictionary, Name
from PIL import Image, ImageOps, ImageSequence

from s3ocr.errors import ConfigurationError, CorruptDocumentError
from s3ocr.geometry import Matrix, then
from s3ocr.pages.images import PILLOW_ERRORS, PILLOW_FORMATS, to_gray
from s3ocr.sinks.placement import joins_tight, map_point, page_placement

GLYPHLESS_FONT = Path("/usr/share/tesseract-ocr/5/tessdata/pdf.ttf")  # Debian's tesseract-ocr, as in the image
FONT = "/S3ocrGlyphLess"  # its name in a page's resources
GLYPH_WIDTH = 0.5  # the font's one glyph, in ems (its /DW of 500)
ORIENTATION = 0x0112  # the EXIF tag
REPLACEMENT = 0xFFFD
WORD_GAP = 0.2  # line heights between two words with a space between them (see ``_spans``)


def _sections(kind: str, entries: list[str]) -> str:
    """CMap entries in sections of at most 100, as the CMap format allows."""
    return "".join(f"{len(part)} begin{kind}\n" + "\n".join(part) + f"\nend{kind}\n"
                   for part in (entries[i: i + 100] for i in range(0, len(entries), 100)))


class _Encoding:
    """The layer's character codes, two bytes each. A character of the BMP is its own code point. One beyond it
    gets a code of the surrogate range (which no text uses), first come first served, and the ToUnicode map gives
    it back; Tesseract writes its two surrogates instead, which Poppler shows as two U+FFFD. Past the 2048 codes of
    that range, and for a lone surrogate, the code is U+FFFD's."""

    def __init__(self) -> None:
        self.beyond_bmp: dict[str, int] = {}

    def _code(self, character: str) -> int:
        point = ord(character)
        if point <= 0xFFFF:
            return REPLACEMENT if 0xD800 <= point <= 0xDFFF else point
        if character not in self.beyond_bmp and len(self.beyond_bmp) < 0x800:
            self.beyond_bmp[character] = 0xD800 + len(self.beyond_bmp)
        return self.beyond_bmp.get(character, REPLACEMENT)

    def hex(self, text: str) -> str:
        return "".join(f"{self._code(character):04X}" for character in text)

    def tounicode(self) -> bytes:
        """Every code of the BMP to itself, in ranges that keep to one high byte (as ``bfrange`` must), and the
        codes given out to characters beyond it."""
        identity = [f"<{high:02X}00> <{high:02X}FF> <{high:02X}00>" for high in range(256) if not 0xD8 <= high <= 0xDF]
        beyond = [f"<{code:04X}> <{character.encode('utf-16-be').hex().upper()}>"
                  for character, code in self.beyond_bmp.items()]
        return ("/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
                "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
                "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
                "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
                f"{_sections('bfrange', identity)}{_sections('bfchar', beyond)}"
                "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n").encode("ascii")


@dataclass(frozen=True)
class _Font:
    """The layer's font in one output document, and the codes its text is written in."""

    obj: pikepdf.Object
    encoding: _Encoding

    def finish(self, pdf: pikepdf.Pdf) -> None:
        """Give the font its ToUnicode map, once all the text is written and the codes beyond the BMP known."""
        self.obj.ToUnicode = pdf.make_stream(self.encoding.tounicode())


def _glyphless_font(pdf: pikepdf.Pdf) -> _Font:
    try:
        program = GLYPHLESS_FONT.read_bytes()
    except OSError as e:
        raise ConfigurationError(f"the glyphless font for the searchable PDF cannot be read: {e}") from e
    descriptor = Dictionary(
        Type=Name.FontDescriptor, FontName=Name("/GlyphLessFont"), Flags=5, FontBBox=Array([0, 0, 500, 1000]),
        ItalicAngle=0, Ascent=1000, Descent=-1, CapHeight=1000, StemV=80,
        FontFile2=pdf.make_stream(program, Length1=len(program)))
    cid_font = Dictionary(
        Type=Name.Font, Subtype=Name.CIDFontType2, BaseFont=Name("/GlyphLessFont"),
        CIDSystemInfo=Dictionary(Registry=pikepdf.String("Adobe"), Ordering=pikepdf.String("Identity"),
                                 Supplement=0),
        FontDescriptor=pdf.make_indirect(descriptor), DW=round(GLYPH_WIDTH * 1000),
        CIDToGIDMap=pdf.make_stream(b"\x00\x01" * 65536))  # every CID to glyph 1 (Acrobat refuses glyph 0)
    return _Font(pdf.make_indirect(Dictionary(
        Type=Name.Font, Subtype=Name.Type0, BaseFont=Name("/GlyphLessFont"), Encoding=Name("/Identity-H"),
        DescendantFonts=Array([pdf.make_indirect(cid_font)]))), _Encoding())


def _number(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _spans(words: list[dict[str, Any]], height: float) -> list[tuple[str, float, float]]:
    """The words with their left and right edges along the line (pixels of the image read), made to follow one
    another as readers need them to. An engine's boxes can overlap (CJK words often do), and a reader that sees
    the text go back starts a new line there: two words that overlap meet halfway. Poppler puts a space between
    two words only where they are a tenth of an em apart, whatever the content says: two words with a space
    between them are moved at least ``WORD_GAP`` line heights apart, about their middle. Two words with none
    meet, so that no gap between them reads as a space. A right-to-left line is left as its boxes are."""
    spans = [(word["text"], float(word["box"]["left"]), float(word["box"]["left"] + word["box"]["width"]))
             for word in words]
    if len(spans) < 2 or spans[-1][1] < spans[0][1]:
        return spans
    for k in range(len(spans) - 1):
        (text, left, right), (following, next_left, next_right) = spans[k], spans[k + 1]
        gap = 0.0 if joins_tight(text, following) else WORD_GAP * height
        if joins_tight(text, following) or next_left - right < gap:
            middle = min(max((right + next_left) / 2, left), next_right)
            spans[k] = (text, left, max(left, middle - gap / 2))
            spans[k + 1] = (following, middle + gap / 2, max(next_right, middle + gap / 2))
    return spans


def _line_text(line: dict[str, Any], to_points: Matrix, encoding: _Encoding) -> Iterator[str]:
    """The operators that set a line's words. All stand on the line's baseline and are as tall as the line, not
    as their own boxes: a reader keeps words of one size on one baseline together, where words set on their own
    boxes (a bullet, a word with a descender) come apart into lines of their own."""
    a, b, _, d, e, _ = to_points
    along, across = math.hypot(a, d), math.hypot(b, e)  # points to a pixel along the line and across it
    size = line["box"]["height"] * across
    spans = _spans([word for word in line["words"] if word["text"].strip()], line["box"]["height"])
    if size <= 0 or not spans:
        return
    bottom = line["box"]["top"] + line["box"]["height"]
    # The text matrix's axes: the line's direction on the page, and "up" from its baseline.
    axes = " ".join(_number(v) for v in (a / along, d / along, -b / across, -e / across))
    yield f"{FONT} {_number(size)} Tf\n"
    for k, (text, left, right) in enumerate(spans):
        x, y = map_point(to_points, left, bottom)
        codes = encoding.hex(text)
        scaling = 100 * (right - left) * along / (GLYPH_WIDTH * size * (len(codes) // 4))
        yield f"{axes} {_number(x)} {_number(y)} Tm {_number(scaling)} Tz <{codes}> Tj\n"
        if k + 1 < len(spans) and not joins_tight(text, spans[k + 1][0]):
            space = (spans[k + 1][1] - right) * along
            yield f"{_number(100 * space / (GLYPH_WIDTH * size))} Tz <0020> Tj\n"


def _text_layer(page: dict[str, Any], height: float, encoding: _Encoding) -> bytes:
    """The page's words as invisible text, in points on the page as rendered, from its bottom-left corner
    (``height``: the page's height in points)."""
    placement = page_placement(page)
    scale = 72 / placement.dpi
    to_points: Matrix = then(placement.matrix, (scale, 0.0, 0.0, 0.0, -scale, height))
    operators = [operator for line in page["lines"] for operator in _line_text(line, to_points, encoding)]
    return ("BT\n3 Tr\n" + "".join(operators) + "ET\n").encode("ascii") if operators else b""


def _displayed_to_user(page: pikepdf.Page) -> tuple[Matrix, float]:
    """The matrix from points on the page as displayed (turned by its /Rotate, from the bottom-left of its crop
    box, as Poppler renders it) to the page's own user space, and the displayed height."""
    x0, y0, x1, y1 = (float(v) for v in page.cropbox)
    left, bottom, width, height = min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0)
    rotation = page.rotation % 360
    if rotation == 90:
        return (0.0, -1.0, left + width, 1.0, 0.0, bottom), width
    if rotation == 180:
        return (-1.0, 0.0, left + width, 0.0, -1.0, bottom + height), height
    if rotation == 270:
        return (0.0, 1.0, left, -1.0, 0.0, bottom + height), width
    return (1.0, 0.0, left, 0.0, 1.0, bottom), height


def _overlay_pdf_page(page: pikepdf.Page, reading: dict[str, Any], font: _Font) -> None:
    matrix, height = _displayed_to_user(page)
    layer = _text_layer(reading, height, font.encoding)
    if not layer:
        return
    a, b, c, d, e, f = matrix
    cm = " ".join(_number(v) for v in (a, d, b, e, c, f))  # PDF orders a matrix by columns
    page.add_resource(font.obj, Name.Font, Name(FONT))
    page.contents_add(b"q\n", prepend=True)  # whatever state the page's own content leaves is undone first
    page.contents_add(f"\nQ\nq {cm} cm\n".encode("ascii") + layer + b"Q\n")


def _overlay_pdf_pages(pdf: pikepdf.Pdf, pages: Iterable[dict[str, Any]], font: _Font) -> None:
    for reading in pages:
        if reading["source"] == "ocr" and reading["number"] <= len(pdf.pages):
            _overlay_pdf_page(pdf.pages[reading["number"] - 1], reading, font)


def _image_stream(pdf: pikepdf.Pdf, frame: Image.Image, jpeg: bytes | None) -> pikepdf.Stream:
    """The frame as an image XObject: the JPEG file's own bytes when they can stand as they are, else its pixels,
    Flate-compressed."""
    if jpeg is not None:
        return pdf.make_stream(jpeg, Type=Name.XObject, Subtype=Name.Image, Width=frame.width, Height=frame.height,
                               ColorSpace=Name.DeviceGray if frame.mode == "L" else Name.DeviceRGB,
                               BitsPerComponent=8, Filter=Name.DCTDecode)
    frame, colours = _pixels(frame)
    return pdf.make_stream(zlib.compress(frame.tobytes(), 6), Type=Name.XObject, Subtype=Name.Image,
                           Width=frame.width, Height=frame.height, ColorSpace=colours,
                           BitsPerComponent=1 if frame.mode == "1" else 8, Filter=Name.FlateDecode)


def _pixels(frame: Image.Image) -> tuple[Image.Image, pikepdf.Object]:
    """The frame in a mode a PDF image holds as it is, and its colour space: bilevel, grey, RGB, CMYK, a palette
    of RGB; deeper grey as the reading saw it (8 bits); transparency flattened onto white; anything else RGB."""
    spaces = {"1": Name.DeviceGray, "L": Name.DeviceGray, "RGB": Name.DeviceRGB, "CMYK": Name.DeviceCMYK}
    if frame.mode in spaces:
        return frame, spaces[frame.mode]
    if frame.mode.startswith("I"):
        return Image.fromarray(to_gray(frame)), Name.DeviceGray
    if frame.mode in ("RGBA", "LA", "PA") or "transparency" in frame.info:
        rgba = frame.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB"), \
            Name.DeviceRGB
    if frame.mode == "P":
        palette = bytes(frame.getpalette("RGB") or ())
        if _black_and_white(frame, palette):  # a bilevel scan kept with a palette: an eighth of the bytes
            return frame.convert("1"), Name.DeviceGray
        return frame, Array([Name.Indexed, Name.DeviceRGB, len(palette) // 3 - 1, pikepdf.String(palette)])
    return frame.convert("RGB"), Name.DeviceRGB


def _black_and_white(frame: Image.Image, palette: bytes) -> bool:
    colours = frame.getcolors(2)  # None when it uses more than two
    return colours is not None and all(
        palette[3 * cast(int, index): 3 * cast(int, index) + 3] in (b"\0\0\0", b"\xff\xff\xff") for _, index in colours)


def _image_pages(pdf: pikepdf.Pdf, source: Path, media_type: str, pages: Iterable[dict[str, Any]],
                 font: _Font) -> None:
    with Image.open(source, formats=PILLOW_FORMATS) as image:
        frames = ImageSequence.Iterator(image)
        for reading in pages:
            frame = frames[reading["number"] - 1]
            # A JPEG goes in as it is unless the reading saw it otherwise: turned by its EXIF orientation, or in
            # colours a PDF reader would take differently (CMYK, which Adobe's JPEGs store inverted).
            as_it_is = (media_type == "image/jpeg" and getattr(image, "n_frames", 1) == 1
                        and frame.mode in ("L", "RGB") and image.getexif().get(ORIENTATION, 1) == 1)
            jpeg = source.read_bytes() if as_it_is else None
            _add_image_page(pdf, _image_stream(pdf, ImageOps.exif_transpose(frame), jpeg), reading, font)


def _add_image_page(pdf: pikepdf.Pdf, image: pikepdf.Stream, reading: dict[str, Any], font: _Font) -> None:
    placement = page_placement(reading)
    width, height = placement.width * 72 / placement.dpi, placement.height * 72 / placement.dpi
    content = f"q {_number(width)} 0 0 {_number(height)} 0 0 cm /Im0 Do Q\n".encode("ascii")
    layer = _text_layer(reading, height, font.encoding)
    page = pikepdf.Page(Dictionary(
        Type=Name.Page, MediaBox=Array([0, 0, width, height]),
        Resources=Dictionary(XObject=Dictionary(Im0=image), Font=Dictionary({FONT: font.obj})),
        Contents=pdf.make_stream(content + layer)))
    pdf.pages.append(page)


def write_searchable_pdf(head: dict[str, Any], pages: Iterable[dict[str, Any]], source: Path | None,
                         media_type: str, out: IO[bytes]) -> None:
    """Write the source document (``source``, of ``media_type``) with the reading's text layered on it, a page of
    the reading at a time (``head`` is not needed)."""
    if source is None:
        raise ConfigurationError("a searchable PDF is drawn on the source document, and none was given")
    try:
        pdf = pikepdf.open(source) if media_type == "application/pdf" else pikepdf.new()
        with pdf:
            font = _glyphless_font(pdf)
            if media_type == "application/pdf":
                _overlay_pdf_pages(pdf, pages, font)
            else:
                _image_pages(pdf, source, media_type, pages, font)
            font.finish(pdf)
            pdf.save(cast(BinaryIO, out), deterministic_id=True)
    except pikepdf.PdfError as e:
        raise CorruptDocumentError(f"the searchable PDF cannot be made from the document: {e}") from e
    except PILLOW_ERRORS as e:
        raise CorruptDocumentError(f"the image cannot be read for the searchable PDF: {type(e).__name__}") from e
