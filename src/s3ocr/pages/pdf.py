"""PDF pages rendered one at a time by Poppler (through pdf2image) as 8-bit grayscale PGM.

PGM, not PNG: Tesseract reads both, and PNG encoding alone costs ~1.3 s a page at 300 DPI where the
raw format costs nothing. A page whose size at the configured DPI would exceed the pixel cap is
rendered at a lower DPI instead of failing the document (``enormous.pdf``: a 30-inch page).

Before any page is rendered the document is asked, once for all its pages, what it carries: its text
(``pdftotext``), its images (``pdfimages -list``), its fonts (``pdffonts``) and, on pages that have both text
and images, which of the text is drawn visibly (``pdftohtml``). A page with real text of its own is not
rendered (``textlayer``); a page with no text and no images is rendered at ``BLANK_CHECK_DPI`` first, and
when that shows nothing drawn at all it is blank, in a few milliseconds.
"""

from __future__ import annotations

import math
import mmap
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pdf2image
import pdf2image.exceptions

from s3ocr.errors import (
    CorruptDocumentError,
    DecompressionBombError,
    EncryptedDocumentError,
    PageTimeoutError,
    RenderError,
)
from s3ocr.models import PageImage
from s3ocr.pages.pdffonts import UNKNOWN_FONTS, DocumentFonts
from s3ocr.pages.pdfimages import coverage, list_images, single_jpeg_scan
from s3ocr.pages.textlayer import (
    MIN_VISIBLE_SHARE,
    PageTextEvidence,
    TextVerdict,
    extract_page_texts,
    judge_page_text,
    text_quality,
)
from s3ocr.pages.visibletext import visible_chars

_PAGE_SIZE = re.compile(rb"^Page\s+(\d+)\s+size:\s+([\d.]+) x ([\d.]+) pts", re.MULTILINE)
_PAGE_ROTATION = re.compile(rb"^Page\s+(\d+)\s+rot:\s+(\d+)", re.MULTILINE)
_PAGES = re.compile(rb"^Pages:\s+(\d+)", re.MULTILINE)
# What pdfinfo tells of the document that the output's ``flags`` pass on: an encryption it could open without a
# password (an owner password restricting printing or copying), JavaScript, an XFA form.
_ENCRYPTED = re.compile(rb"^Encrypted:\s+yes", re.MULTILINE)
_JAVASCRIPT = re.compile(rb"^JavaScript:\s+yes", re.MULTILINE)
_XFA = re.compile(rb"^Form:\s+XFA", re.MULTILINE)
MIN_DPI = 36
REFUSE_FACTOR = 4  # as for raster images (``images._REFUSE_FACTOR``)
# A page with no text and no image is rendered this coarsely to see whether it draws anything: a letter page is
# 170 x 220 pixels, a few milliseconds. Anti-aliased, a hairline or a full stop still darkens a pixel below
# NEAR_WHITE; the pixel test of the full rendering (``preprocess.ink``) needs marks several pixels tall,
# which small text is not at this resolution, so the test here is stricter: nothing darker than paper at all.
BLANK_CHECK_DPI = 20
BLANK_CHECK_MAX_SIDE = 1000  # pixels: a poster-sized page is looked at more coarsely still
NEAR_WHITE = 250
_PAPER = bytes(range(NEAR_WHITE, 256))
_PGM_HEADER = re.compile(rb"P5\s+(\d+)\s+(\d+)\s+255\s")


@dataclass(frozen=True)
class PdfInfo:
    page_count: int
    page_sizes_pt: tuple[tuple[float, float], ...]  # (width, height) per page, in points
    page_rotations: tuple[int, ...] = ()  # /Rotate per page, degrees
    flags: tuple[str, ...] = ()  # owner_password, javascript, xfa_form


# pdfinfo sees document-level scripts, not one run by /OpenAction; uncompressed objects name theirs in the bytes.
_SCRIPT_NAME = re.compile(rb"/(?:JavaScript|JS)(?![A-Za-z0-9])")
_XFA_NAME = re.compile(rb"/XFA(?![A-Za-z0-9])")


def _flags(pdfinfo: bytes, path: Path) -> tuple[str, ...]:
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        found = {
            "owner_password": _ENCRYPTED.search(pdfinfo),
            "javascript": _JAVASCRIPT.search(pdfinfo) or _SCRIPT_NAME.search(data),
            "xfa_form": _XFA.search(pdfinfo) or _XFA_NAME.search(data),
        }
    return tuple(name for name, match in found.items() if match)


def _looks_encrypted(path: Path) -> bool:
    # pdfinfo refuses password-protected files with the same exit code as damaged ones; the file's
    # own trailer says whether it is encrypted.
    with path.open("rb") as f:
        f.seek(max(0, path.stat().st_size - 64 * 1024))
        return b"/Encrypt" in f.read()


def read_pdf_info(path: Path, max_pages: int, timeout: float = 60) -> PdfInfo:
    """Page count and page sizes from ``pdfinfo``; raises a ``PermanentError`` for unreadable files."""
    cmd = ["pdfinfo", "-f", "1", "-l", str(max_pages), str(path)]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as e:
        raise CorruptDocumentError(f"pdfinfo did not finish in {timeout:.0f} s") from e
    if proc.returncode != 0:
        if _looks_encrypted(path):
            raise EncryptedDocumentError("the PDF is encrypted and cannot be opened without a password")
        raise CorruptDocumentError(f"Poppler cannot read the PDF (pdfinfo exit {proc.returncode})")
    pages = _PAGES.search(proc.stdout)
    if not pages or int(pages.group(1)) < 1:
        raise CorruptDocumentError("the PDF has no pages")
    sizes = {int(m.group(1)): (float(m.group(2)), float(m.group(3))) for m in _PAGE_SIZE.finditer(proc.stdout)}
    rotations = {int(m.group(1)): int(m.group(2)) for m in _PAGE_ROTATION.finditer(proc.stdout)}
    count = int(pages.group(1))
    numbers = range(1, min(count, max_pages) + 1)
    return PdfInfo(count, tuple(sizes.get(n, (612.0, 792.0)) for n in numbers),
                   tuple(rotations.get(n, 0) for n in numbers), _flags(proc.stdout, path))


def page_dpi(size_pt: tuple[float, float], dpi: int, max_pixels: int) -> int:
    """The configured DPI, lowered so that the rendered page stays within ``max_pixels``, but not below ``MIN_DPI``.

    A page more than ``REFUSE_FACTOR`` times the cap even at ``MIN_DPI`` is a ``DecompressionBombError``: Poppler
    answers such a page (200,000 points a side) with a 1 x 1 image and exit 0. The largest page PDF allows without
    ``/UserUnit``, 200 inches a side, is 52 megapixels at ``MIN_DPI``, and is rendered."""
    width_in, height_in = size_pt[0] / 72, size_pt[1] / 72
    if width_in * height_in * dpi * dpi <= max_pixels:
        return dpi
    if width_in * height_in * MIN_DPI * MIN_DPI > max_pixels * REFUSE_FACTOR:
        raise DecompressionBombError(
            f"the page is {width_in:.0f} x {height_in:.0f} inches: even at {MIN_DPI} dpi it would be "
            f"{width_in * height_in * MIN_DPI * MIN_DPI / 1e6:.0f} megapixels, over {REFUSE_FACTOR} x the cap of "
            f"{max_pixels / 1e6:.0f}")
    return max(MIN_DPI, math.floor(math.sqrt(max_pixels / (width_in * height_in))))


def expected_size(size_pt: tuple[float, float], rotation: int, dpi: int) -> tuple[int, int]:
    """The pixel size Poppler renders a page of ``size_pt`` (its crop box) at, turned by its /Rotate."""
    width, height = (math.ceil(side * dpi / 72) for side in size_pt)
    return (height, width) if rotation % 180 == 90 else (width, height)


def check_rendered_size(number: int, rendered: tuple[int, int], expected: tuple[int, int]) -> None:
    """``RenderError`` unless the rendered image is the page's size (within rounding): Poppler can exit 0 with an
    image of 1 x 1 pixels, which would read as a blank page."""
    for got, want in zip(rendered, expected, strict=True):
        if abs(got - want) > 2 + want // 100:
            raise RenderError(f"page {number} rendered to {rendered[0]} x {rendered[1]} pixels where its size asks "
                              f"for {expected[0]} x {expected[1]}")


class PdfPages:
    """A PDF's pages; each ``render`` runs one ``pdftoppm`` for one page."""

    def __init__(self, path: Path, dpi: int, max_page_pixels: int, max_pages: int = 100_000,
                 use_text_layer: bool = True) -> None:
        self.path = path
        self.dpi = dpi
        self.max_page_pixels = max_page_pixels
        self.info = read_pdf_info(path, max_pages=max_pages)
        last = min(self.info.page_count, max_pages)
        self._texts: list[str] = extract_page_texts(path, last) if use_text_layer else []
        self._images = list_images(path, last)
        self._fonts = DocumentFonts(path, last) if use_text_layer else None
        self._visible = self._visible_chars()

    def _visible_chars(self) -> dict[int, int] | None:
        """Visible characters on the pages that carry both text and images: only there can text lie unseen over
        a picture of the page. One ``pdftohtml`` over the range of those pages."""
        pages = [n for n, text in enumerate(self._texts, 1) if text.strip() and self._images.get(n)]
        return visible_chars(self.path, pages[0], pages[-1]) if pages else {}

    def _size(self, number: int) -> tuple[float, float]:
        sizes = self.info.page_sizes_pt
        return sizes[number - 1] if number <= len(sizes) else (612.0, 792.0)

    def _rotation(self, number: int) -> int:
        rotations = self.info.page_rotations
        return rotations[number - 1] if number <= len(rotations) else 0

    @property
    def flags(self) -> tuple[str, ...]:
        return self.info.flags

    def text_layer(self, number: int) -> str | None:
        """The page's own text when it is real text (see ``textlayer``), else None (OCR the page)."""
        return self.judge_text(number).text

    def judge_text(self, number: int) -> TextVerdict:
        """What the document shows about page ``number``'s text, judged (``textlayer.judge_page_text``)."""
        if self._fonts is None:
            return TextVerdict(None, "text_layer_not_used")  # --force-ocr
        text = self._page_text(number)
        chars = text_quality(text).chars
        if chars == 0:
            return TextVerdict(None, "no_text")
        images = self._images.get(number, [])
        if not images:
            visible: float | None = 1.0  # nothing for text to lie unseen over: the page is its drawing
        elif self._visible is None:
            visible = None
        else:
            visible = min(1.0, self._visible.get(number, 0) / chars)
        hidden = visible is not None and visible < MIN_VISIBLE_SHARE
        fonts = UNKNOWN_FONTS if hidden else self._fonts.page(number)  # an invisible layer's fonts do not matter
        return judge_page_text(PageTextEvidence(text, coverage(images, self._size(number)), fonts, visible))

    def known_blank(self, number: int) -> bool:
        """True when the page draws nothing: no text, no image, and a coarse rendering of it is white paper."""
        if self._page_text(number).strip() or self._images.get(number):
            return False
        dpi = min(BLANK_CHECK_DPI, BLANK_CHECK_MAX_SIDE * 72 / max(*self._size(number), 1.0))
        return draws_nothing(self.path, number, dpi)

    def _page_text(self, number: int) -> str:
        return self._texts[number - 1] if number <= len(self._texts) else ""

    def _extract_scan(self, number: int, work_dir: Path) -> PageImage | None:
        """The page's JPEG as it is stored, when the page is nothing but that scan (see ``single_jpeg_scan``)."""
        scan = single_jpeg_scan(self._images.get(number, []), self._size(number))
        if scan is None or self._rotation(number) % 360 or scan.width * scan.height > self.max_page_pixels:
            return None
        prefix = work_dir / f"{number:06d}_page"
        try:
            proc = subprocess.run(["pdfimages", "-j", "-f", str(number), "-l", str(number), str(self.path),
                                   str(prefix)], capture_output=True, timeout=60, check=False)
        except subprocess.TimeoutExpired:
            return None  # the page is rendered instead
        path = prefix.with_name(prefix.name + "-000.jpg")
        if proc.returncode != 0 or not path.exists():
            return None
        return PageImage(number=number, path=path, width=scan.width, height=scan.height, dpi=scan.x_ppi)

    @property
    def page_count(self) -> int:
        return self.info.page_count

    def render(self, number: int, work_dir: Path, timeout: float = 120) -> PageImage:
        # An image that declares more pixels than a page may have holds pdftoppm for its whole timeout, and gigabytes
        # (a /Width of 2**31 - 1: found by s3ocr.reliability.fuzz): refused before anything is decoded.
        declared = sum(image.width * image.height for image in self._images.get(number, []))
        if declared > self.max_page_pixels * REFUSE_FACTOR:
            raise DecompressionBombError(f"page {number}'s images declare {declared:,} pixels, over {REFUSE_FACTOR} x "
                                         f"the page cap of {self.max_page_pixels:,}")
        scan = self._extract_scan(number, work_dir)
        if scan is not None:
            return scan
        dpi = page_dpi(self._size(number), self.dpi, self.max_page_pixels)
        try:
            paths = pdf2image.convert_from_path(
                self.path,
                dpi=dpi,
                first_page=number,
                last_page=number,
                output_folder=work_dir,
                output_file=f"{number:06d}_page",
                single_file=True,
                grayscale=True,
                fmt="ppm",  # with grayscale pdftoppm writes PGM
                use_cropbox=True,  # what a viewer shows; pdfinfo's page size is the crop box too
                paths_only=True,
                timeout=int(timeout),
            )
        except pdf2image.exceptions.PDFPopplerTimeoutError as e:
            raise PageTimeoutError(f"rendering page {number} took longer than {timeout:.0f} s") from e
        except (pdf2image.exceptions.PDFPageCountError, pdf2image.exceptions.PDFSyntaxError) as e:
            raise CorruptDocumentError(f"Poppler cannot render page {number}") from e
        path = Path(str(paths[0])) if paths else None  # paths_only: file names, not images
        if path is None or not path.exists():
            raise CorruptDocumentError(f"Poppler rendered nothing for page {number}")
        width, height = _pnm_size(path)
        check_rendered_size(number, (width, height), expected_size(self._size(number), self._rotation(number), dpi))
        return PageImage(number=number, path=path, width=width, height=height, dpi=dpi)


def draws_nothing(path: Path, number: int, dpi: float = BLANK_CHECK_DPI, timeout: float = 30) -> bool:
    """Whether page ``number`` renders at ``dpi`` to paper alone: no pixel darker than ``NEAR_WHITE``."""
    command = ["pdftoppm", "-r", f"{dpi:g}", "-gray", "-cropbox", "-f", str(number), "-l", str(number), str(path)]
    try:
        proc = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return False  # not known: the page is rendered and judged by its pixels
    header = _PGM_HEADER.match(proc.stdout)
    if proc.returncode != 0 or header is None:
        return False
    pixels = proc.stdout[header.end():]
    # Deleting the paper-white bytes leaves the pixels that show something: none on a blank page.
    return len(pixels) == int(header[1]) * int(header[2]) > 0 and not pixels.translate(None, _PAPER)


def _pnm_size(path: Path) -> tuple[int, int]:
    """Width and height from a binary PGM/PPM header (P5/P6), without decoding the pixels."""
    with path.open("rb") as f:
        header = f.read(64)
    fields = re.findall(rb"\S+", re.sub(rb"#[^\n]*\n", b"\n", header))[:3]
    return int(fields[1]), int(fields[2])
