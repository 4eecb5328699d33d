"""Benchmark inputs built from the evaluation corpus: a multi-page scanned PDF, a born-digital PDF, a
mixed PDF and one large image; and, made here, a manual set in embedded fonts (a table of contents with dot
leaders, a code listing, a table) and a PDF of blank pages. Written once into a cache folder; nothing here runs
in the pipeline. ``scripts/make_test_pdfs.py`` writes the test resources with the same functions."""

from __future__ import annotations

import functools
import re
import subprocess
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageFont

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")  # Debian's fonts-dejavu-core
MANUAL_FONTS = {"F1": "DejaVuSans.ttf", "F2": "DejaVuSans-Bold.ttf", "F3": "DejaVuSansMono.ttf"}


def text_pdf(path: Path, pages: list[list[str]], size: int = 11) -> Path:
    """A born-digital PDF: one US-letter page per list of ASCII lines, in the standard Helvetica font."""
    count = len(pages)
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(count)).encode()
    objects.append(b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % count)
    font_ref = 3 + 2 * count
    for i, lines in enumerate(pages):
        body = "\n".join(
            f"BT /F1 {size} Tf 72 {740 - j * (size + 5)} Td ({_escape(line)}) Tj ET" for j, line in enumerate(lines)
        )
        stream = body.encode("latin-1", errors="replace")
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (4 + 2 * i, font_ref)
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    return write_pdf(path, objects)


def scan_pdf(path: Path, images: list[Path], dpi: int = 300, quality: int = 85) -> Path:
    """A scanned PDF: each image as a grayscale JPEG page at ``dpi`` (what office scanners produce)."""
    frames = [Image.open(image).convert("L") for image in images]
    frames[0].save(path, "PDF", resolution=dpi, save_all=True, append_images=frames[1:], quality=quality)
    return path


def unite(path: Path, *parts: Path) -> Path:
    subprocess.run(["pdfunite", *map(str, parts), str(path)], check=True)
    return path


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _wrap(text: str, width: int = 95) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines():
        words, line = paragraph.split(), ""
        for word in words:
            if len(line) + len(word) + 1 > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}".strip()
        lines.append(line)
    return lines


def long_scan(out: Path, pages: int, text_image: Path) -> Path:
    """A ``pages``-page scanned PDF of full A4 pages at 300 DPI, each with a few lines of text: for memory
    and /tmp measurements, where the page count matters and the OCR time should not dominate."""
    path = out / f"scan-{pages}p.pdf"
    if path.exists():
        return path
    page = Image.new("L", (2481, 3507), 255)
    with Image.open(text_image) as text:
        page.paste(text.convert("L").crop((0, 250, min(text.width, 2300), min(text.height, 950))), (100, 250))
    single = out / "scan-1p.pdf"
    page.save(single, "PDF", resolution=300, quality=85)
    unite(path, *([single] * pages))
    return path


def numbered_scan(path: Path, pages: int, dpi: int = 150) -> Path:
    """A scanned PDF of ``pages`` A5 pages (JPEG, ``dpi``), page n saying "Page n" and a line of its own, so that a
    page missing, doubled or out of order shows in the text."""
    from PIL import ImageDraw

    width, height = round(5.83 * dpi), round(8.27 * dpi)
    font = _font_at_1000("F1").font_variant(size=round(dpi / 4))
    images = []
    for number in range(1, pages + 1):
        image = Image.new("L", (width, height), 255)
        draw = ImageDraw.Draw(image)
        draw.text((dpi // 2, dpi), f"Page {number}", fill=0, font=font)
        draw.text((dpi // 2, dpi + dpi // 2), f"The fox jumps over dog {number * 7}.", fill=0, font=font)
        images.append(image)
    images[0].save(path, "PDF", resolution=dpi, save_all=True, append_images=images[1:], quality=85)
    return path


def write_pdf(path: Path, objects: list[bytes], trailer: bytes = b"") -> Path:
    """A PDF of ``objects`` (object 1 is the catalog), numbered from 1 in order, with its cross-reference table;
    ``trailer`` goes into the trailer dictionary (``/Encrypt``, ``/ID``)."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, trailer, xref)
    path.write_bytes(bytes(out))
    return path


def stream(data: bytes, extra: bytes = b"", compress: bool = False) -> bytes:
    """A stream object's bytes; ``extra`` goes into its dictionary."""
    if compress:
        data, extra = zlib.compress(data, 9), extra + b" /Filter /FlateDecode"
    return b"<< /Length %d%s >>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def blank_pdf(path: Path, pages: int) -> Path:
    """``pages`` US-letter pages that draw nothing (one shared empty content stream)."""
    kids = b" ".join(b"%d 0 R" % (4 + i) for i in range(pages))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages),
               stream(b"")]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R >>"] * pages
    return write_pdf(path, objects)


@dataclass(frozen=True)
class TextRun:
    """Text drawn at a point (PDF units, origin bottom left) in one of ``MANUAL_FONTS``."""

    font: str
    size: float
    x: float
    y: float
    text: str


@functools.cache
def _font_at_1000(font: str) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(DEJAVU / MANUAL_FONTS[font]), 1000)


def text_width(font: str, size: float, text: str) -> float:
    """Advance width in points of ``text`` in one of ``MANUAL_FONTS`` at ``size``."""
    return _font_at_1000(font).getlength(text) * size / 1000


def _truetype(number: int, font: str) -> list[bytes]:
    """Objects ``number``.. for one of ``MANUAL_FONTS``: the font (whole TTF, WinAnsi, widths of 32-126)."""
    data = (DEJAVU / MANUAL_FONTS[font]).read_bytes()
    widths = b" ".join(b"%d" % round(text_width(font, 1000, chr(c))) for c in range(32, 127))
    name = MANUAL_FONTS[font].removesuffix(".ttf").replace("-", "").encode()
    return [
        b"<< /Type /Font /Subtype /TrueType /BaseFont /%s /FirstChar 32 /LastChar 126 /Widths [%s] "
        b"/Encoding /WinAnsiEncoding /FontDescriptor %d 0 R >>" % (name, widths, number + 1),
        b"<< /Type /FontDescriptor /FontName /%s /Flags 32 /FontBBox [-1021 -463 1793 1232] /ItalicAngle 0 "
        b"/Ascent 928 /Descent -236 /CapHeight 729 /StemV 80 /FontFile2 %d 0 R >>" % (name, number + 2),
        stream(data, b" /Length1 %d" % len(data), compress=True),
    ]


def embedded_font_pdf(path: Path, pages: list[list[TextRun]]) -> Path:
    """A born-digital PDF whose text is set in DejaVu fonts embedded as subsets with ToUnicode maps, as TeX,
    browsers and office suites write them: written with the whole fonts, then rewritten by Poppler's
    ``pdftocairo -pdf`` (cairo subsets each font and maps its glyphs back to Unicode)."""
    count = len(pages)
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % (3 + 2 * i) for i in range(count)),
                                                             count)]
    first_font = 3 + 2 * count
    fonts = b" ".join(b"/%s %d 0 R" % (font.encode(), first_font + 3 * i) for i, font in enumerate(MANUAL_FONTS))
    for i, runs in enumerate(pages):
        body = b"\n".join(b"BT /%s %g Tf %.2f %.2f Td (%s) Tj ET" % (run.font.encode(), run.size, run.x, run.y,
                                                                      _escape(run.text).encode("cp1252"))
                          for run in runs)
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                       b"/Resources << /Font << %s >> >> >>" % (4 + 2 * i, fonts))
        objects.append(stream(body))
    for i, font in enumerate(MANUAL_FONTS):
        objects += _truetype(first_font + 3 * i, font)
    with tempfile.TemporaryDirectory() as tmp:
        source = write_pdf(Path(tmp) / "whole-fonts.pdf", objects)
        subprocess.run(["pdftocairo", "-pdf", str(source), str(path)], check=True, capture_output=True)
    # cairo stamps the time it wrote the file; a fixed date of the same length keeps the offsets and makes the
    # file the same on every run
    path.write_bytes(re.sub(rb"/CreationDate \(D:\d{14}Z\)", b"/CreationDate (D:20240301000000Z)", path.read_bytes()))
    return path


_CONTENTS = [("1", "Introduction", 3), ("1.1", "What the pipeline does", 3), ("2", "Installing the tools", 4),
             ("2.1", "A first run", 5), ("3", "Settings", 6), ("4", "Troubleshooting", 7), ("", "Index", 8)]
_PROSE = {
    "1 Introduction": "s3ocr reads the documents that land in an S3 bucket and writes their text next to them. "
    "Born-digital pages keep the text their PDF carries; scanned pages are read by Tesseract or PP-OCRv6.\n"
    "1.1 What the pipeline does\nEach page is judged on its own: a page with real text is taken as it is, "
    "a blank page is recorded as empty, and every other page is rendered, prepared and read. The result "
    "holds one entry per page, with its status, its text and the time each step took.",
    "2 Installing the tools": "The container image carries Poppler, Tesseract and the language data. On a "
    "workstation, make deps installs the same tools into a virtual environment; make test runs the tests "
    "and make demo runs the whole job against a local S3 server.",
    "4 Troubleshooting": "A page that reads as empty was blank, or its ink was too faint to count. A document "
    "that fails as corrupt could not be opened by Poppler; one that fails as encrypted needs its password "
    "removed first. Pages that time out are recorded as failed and the document goes on.",
}
_CODE = r'''def handler(event, context):
    """Read every object named in an S3 event."""
    for record in event["Records"]:
        key = unquote_plus(record["s3"]["object"]["key"])
        result = ocr(bucket=record["s3"]["bucket"]["name"], key=key)
        print(f"{key}: {len(result.pages)} pages, {result.seconds:.2f} s")
    return {"batchItemFailures": []}

$ s3ocr extract --lang eng+deu -o out/ scans/2024-03-*.pdf
$ jq '.pages[] | {number, status, source}' out/report.json'''
_TABLE = [("Setting", "Default", "Unit", "Range"), ("S3OCR_DPI", "300", "dpi", "72-600"),
          ("S3OCR_MAX_PAGES", "500", "pages", "1-100000"), ("S3OCR_PAGE_TIMEOUT", "120", "s", "10-900"),
          ("S3OCR_WORKERS", "0", "processes", "0-64"), ("S3OCR_MAX_BYTES", "104857600", "bytes", "1-2147483648"),
          ("S3OCR_LANG", "eng", "-", "tesseract codes")]
_INDEX = ["blank page, 3, 7", "born-digital page, 3", "contents, 2", "dot leaders, 2", "force OCR, 4-5",
          "language data, 4", "S3OCR_DPI, 6", "timeout, 6-7", "work dir, 5"]


def _lines(runs: list[TextRun], lines: list[str], y: float, font: str = "F1", size: float = 10.5) -> None:
    for i, line in enumerate(lines):
        runs.append(TextRun(font, size, 72, y - i * size * 1.4, line))


def manual_pages() -> list[list[TextRun]]:
    """An 8-page manual: title, contents (dot leaders), prose, a code listing, a table and an index."""
    pages: list[list[TextRun]] = [[TextRun("F2", 24, 72, 600, "s3ocr Operator's Manual"),
                                   TextRun("F1", 14, 72, 570, "Reading the documents that land in S3"),
                                   TextRun("F1", 11, 72, 520, "Version 0.1, March 2024")]]
    contents = [TextRun("F2", 16, 72, 720, "Contents")]
    for i, (number, title, page) in enumerate(_CONTENTS):
        y, indent, font = 690 - i * 18.0, 72 + 18 * number.count("."), "F1" if "." in number else "F2"
        contents.append(TextRun(font, 11, indent, y, f"{number} {title}".strip()))
        contents.append(TextRun(font, 11, 540 - text_width(font, 11, str(page)), y, str(page)))
        end = indent + text_width(font, 11, f"{number} {title}".strip())
        contents += [TextRun("F1", 11, x, y, ".") for x in range(72 + 8 * (int(end - 72) // 8 + 2), 524, 8)]
    pages.append(contents)  # the dots sit on one grid down the page, as TeX's leaders do
    for title in ("1 Introduction", "2 Installing the tools"):
        pages.append([TextRun("F2", 16, 72, 720, title)])
        _lines(pages[-1], [line for part in _PROSE[title].split("\n") for line in _wrap(part, 85)], 690)
    pages.append([TextRun("F2", 13, 72, 720, "2.1 A first run")])
    _lines(pages[-1], _CODE.splitlines(), 690, "F3", 9)
    table = [TextRun("F2", 13, 72, 720, "3 Settings"), TextRun("F1", 10, 72, 700, "Table 1: settings and defaults")]
    for row, cells in enumerate(_TABLE):
        table += [TextRun("F2" if row == 0 else "F3", 9, x, 676 - 16 * row, cell)
                  for x, cell in zip((72, 250, 340, 420), cells, strict=True)]
    pages.append(table)
    pages.append([TextRun("F2", 16, 72, 720, "4 Troubleshooting")])
    _lines(pages[-1], _wrap(_PROSE["4 Troubleshooting"], 85), 690)
    pages.append([TextRun("F2", 16, 72, 720, "Index")])
    _lines(pages[-1], _INDEX, 690)
    return pages


def build_samples(corpus: Path, out: Path) -> dict[str, Path]:
    """The benchmark inputs, made from ``corpus`` (``../shared/corpus/generated``) and here into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    made_here = {"manual-8p.pdf": out / "manual-8p.pdf", "blank-200p.pdf": out / "blank-200p.pdf",
                 "scan-en-8p.pdf": out / "scan-en-8p.pdf"}
    if not made_here["manual-8p.pdf"].exists():  # the case: contents with dot leaders, code, a table
        embedded_font_pdf(made_here["manual-8p.pdf"], manual_pages())
    if not made_here["blank-200p.pdf"].exists():
        blank_pdf(made_here["blank-200p.pdf"], 200)
    kinds = ("clean", "noise", "shadow", "phone")
    scans = [corpus / f"{lang}-f0-{kind}.png" for kind in kinds for lang in ("en", "zh")]
    if not made_here["scan-en-8p.pdf"].exists():  # English only: every degradation of the English pages, once
        scan_pdf(made_here["scan-en-8p.pdf"], sorted(corpus.glob("en-f0-*.png"))[:8])
    english = " ".join((corpus / f"en-f0-{kind}.gt.txt").read_text() for kind in kinds)
    lines = [line.encode("ascii", "replace").decode() for line in _wrap(english)]
    text_pages = [lines[i : i + 45] for i in range(0, min(len(lines), 45 * 8), 45)]
    samples = {
        "scan-8p.pdf": out / "scan-8p.pdf",
        "digital.pdf": out / "digital.pdf",
        "mixed.pdf": out / "mixed.pdf",
        "large.png": out / "large.png",
    }
    if all(path.exists() for path in samples.values()):
        return samples | made_here
    scan_pdf(samples["scan-8p.pdf"], scans)
    text_pdf(samples["digital.pdf"], text_pages)
    scan_pdf(out / "scan-2p.pdf", scans[:2])
    unite(samples["mixed.pdf"], samples["digital.pdf"], out / "scan-2p.pdf")
    with Image.open(corpus / "en-f0-clean.png") as page:  # an A4 page photographed at 600 DPI
        page.convert("L").resize((page.width * 2, page.height * 2), Image.Resampling.LANCZOS).save(
            samples["large.png"], dpi=(600, 600)
        )
    return samples | made_here
