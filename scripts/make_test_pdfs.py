"""Write the PDFs in tests/resources that test how a PDF page's text is judged and how blank pages are known.

Usage: ``.venv/bin/python scripts/make_test_pdfs.py [OUT_DIR]`` (default: tests/resources). Needs Poppler's
``pdftocairo`` and Debian's fonts-dejavu-core; the PDFs are otherwise written by hand, object by object, so that
each one holds exactly what its test is about. tests/resources/README.md says what each file tests.
"""

from __future__ import annotations

import io
import sys
import unicodedata
from pathlib import Path

from PIL import Image

from s3ocr.bench.samples import embedded_font_pdf, manual_pages, stream, write_pdf

ROOT = Path(__file__).resolve().parents[1]
HELVETICA = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
# The same font, its encoding changed by a /Differences array: pdffonts calls it "Custom", and such fonts
# may name their glyphs anything (here they keep the standard names, so the text still extracts).
HELVETICA_CUSTOM = (b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica "
                    b"/Encoding << /BaseEncoding /WinAnsiEncoding /Differences [46 /period] >> >>")
GARBAGE_LAYER = ["sw | \\ + 400 + ~ ' | : 5 | |", "300 ; = '", "200 4 |", "-esupport t= ; ."]
CONTENTS = [("1 Introduction", "3"), ("2 Installing the tools", "4"), ("3 Settings", "6"), ("Index", "8")]


def _escape(text: str) -> bytes:
    text = unicodedata.normalize("NFKC", text)  # ligatures as letters: WinAnsi has no "ﬁ"
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("cp1252", errors="replace")


def _text(lines: list[str], size: float = 10, top: float = 740, mode: int = 0, x: float = 72) -> bytes:
    """Lines of Helvetica (font /F1) from ``top`` down, in text render mode ``mode`` (3: invisible)."""
    return b"\n".join(b"BT %d Tr /F1 %g Tf %g %g Td (%s) Tj ET" % (mode, size, x, top - i * size * 1.4,
                                                                    _escape(line))
                      for i, line in enumerate(lines))


def _contents_page(size: float = 11) -> bytes:
    """A table of contents in /F1, its dot leaders drawn a dot at a time on a grid, as TeX draws them."""
    runs = [b"BT /F1 16 Tf 72 720 Td (Contents) Tj ET"]
    for i, (title, page) in enumerate(CONTENTS):
        y = 690 - i * 18
        runs.append(b"BT /F1 %g Tf 72 %d Td (%s) Tj ET" % (size, y, _escape(title)))
        first_dot = 72 + 8 * round(len(title) * 0.7 + 1.5)  # Helvetica's letters are ~5.6 pt wide at 11 pt
        runs += [b"BT /F1 %g Tf %d %d Td (.) Tj ET" % (size, x, y) for x in range(first_dot, 524, 8)]
        runs.append(b"BT /F1 %g Tf 532 %d Td (%s) Tj ET" % (size, y, _escape(page)))
    return b"\n".join(runs)


def _pdf(path: Path, contents: list[bytes | None], fonts: list[bytes] | None = None,
         image: tuple[Image.Image, int] | None = None) -> Path:
    """Letter pages with ``contents`` (None: a page with no /Contents at all), font /F1 = ``fonts[i]`` (one
    per page, or none) and, when given, one shared JPEG /Im1 (its image and quality) that pages may draw."""
    count = len(contents)
    page_objects = 3 + (1 if image else 0)
    font_objects = page_objects + 2 * count
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
                   b" ".join(b"%d 0 R" % (page_objects + 2 * i) for i in range(count)), count)]
    if image:
        jpeg = io.BytesIO()
        image[0].save(jpeg, "JPEG", quality=image[1])
        objects.append(stream(jpeg.getvalue(), b" /Type /XObject /Subtype /Image /Width %d /Height %d "
                              b"/ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /DCTDecode" % image[0].size))
    for i, body in enumerate(contents):
        font = b"/Font << /F1 %d 0 R >>" % (font_objects + i) if fonts else b""
        xobject = b"/XObject << /Im1 3 0 R >>" if image else b""
        content = b"" if body is None else b"/Contents %d 0 R " % (page_objects + 2 * i + 1)
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] %s/Resources << %s %s >> >>"
                       % (content, font, xobject))
        objects.append(stream(body or b"", compress=True))
    return write_pdf(path, objects + (fonts or []))


def make_all(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = [embedded_font_pdf(out / "manual.pdf", manual_pages())]
    # Paper alone: an empty content stream, no /Contents at all, white paint on white paper.
    written.append(_pdf(out / "blank-pages.pdf", [b"", None, b"1 g 0 0 612 792 re f"]))
    # Ink with no text and no image: a hairline rule, and a word drawn as outlines ("HI" as filled rectangles).
    hi = b"0 g 100 600 10 60 re 140 600 10 60 re 110 625 30 10 re 170 600 10 60 re f"
    written.append(_pdf(out / "drawn-pages.pdf", [b"0 G 0.5 w 72 400 m 540 400 l S", hi]))
    with Image.open(ROOT / "tests" / "resources" / "linn.png") as png:  # 2550 x 3300: letter at 300 ppi
        scan = png.convert("L").resize((850, 1100), Image.Resampling.LANCZOS)  # 100 ppi
    linn = (ROOT / "tests" / "resources" / "linn.txt").read_text(encoding="utf-8").splitlines()
    draw_scan = b"q 612 0 0 792 0 0 cm /Im1 Do Q\n"
    written.append(_pdf(out / "scan-text-layers.pdf", [
        draw_scan + _text([line for line in linn if line.strip()][:40], 9, mode=3),  # a good invisible OCR layer
        draw_scan + _text(GARBAGE_LAYER, 12, mode=3),  # an invisible OCR layer of garbage
        draw_scan + _text(["Received 2024-03-01"], 8, top=770),  # a visible stamp on a scan
    ], [HELVETICA] * 3, (scan, 30)))
    pale = Image.linear_gradient("L").resize((64, 82)).point(lambda v: 225 + v // 9)  # a pale picture
    written.append(_pdf(out / "contents-on-picture.pdf", [draw_scan + _contents_page()], [HELVETICA], (pale, 80)))
    written.append(_pdf(out / "custom-encoding.pdf", [_text(["A page of prose in a standard encoding."]),
                                                       _contents_page()], [HELVETICA, HELVETICA_CUSTOM]))
    return written


if __name__ == "__main__":
    for path in make_all(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests" / "resources"):
        print(f"{path.stat().st_size:>8} {path}")
