"""What ``pdffonts`` says about the fonts a PDF's pages draw with: whether their text extracts reliably.

A font's text extracts reliably when the font maps its glyphs to Unicode (a ToUnicode map: TeX with its
Unicode maps, browsers, office suites, cairo), when it is a CID font in one of the predefined Unicode CMaps
(``UniGB-UCS2-H``...), or when it is a simple, non-symbolic font in a standard encoding (WinAnsi, MacRoman,
Standard). Identity-H fonts with no ToUnicode map give glyph ids, not text; Type 3 and custom or built-in
encodings may give anything. ``GlyphLessFont`` is the font Tesseract (and OCRmyPDF) write invisible OCR layers
in: its text is a reading of a scan, not the document's own.

One ``pdffonts`` call covers the document; pages are asked one by one only when its fonts disagree (some
reliable, some not): then the answer differs from page to page.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

_TYPES = ("CID Type 0C (OT)", "CID Type 0C", "CID Type 0", "CID TrueType (OT)", "CID TrueType", "Type 1C (OT)",
          "Type 1C", "Type 1", "Type 3", "TrueType (OT)", "TrueType", "unknown")
_ROW = re.compile(
    r"^(?P<name>.*?)\s+(?P<type>" + "|".join(re.escape(t) for t in _TYPES) + r")\s+(?P<encoding>\S+)\s+"
    r"(?P<emb>yes|no)\s+(?P<sub>yes|no)\s+(?P<uni>yes|no)\s+\d+\s+\d+\s*$",
    re.MULTILINE,
)
STANDARD_ENCODINGS = frozenset({"WinAnsi", "MacRoman", "Standard"})
_SYMBOLIC = re.compile(r"symbol|dingbat|wingding|webding", re.IGNORECASE)
OCR_LAYER_FONTS = ("GlyphLessFont",)

Runner = Callable[[list[str]], subprocess.CompletedProcess[bytes]]


@dataclass(frozen=True)
class FontInfo:
    name: str  # without the subset tag ("ABCDEF+")
    type: str  # Type 1, TrueType, CID TrueType, Type 3 ...
    encoding: str  # WinAnsi, Identity-H, Custom, Builtin ...
    embedded: bool
    unicode_map: bool  # the font has a ToUnicode map

    @property
    def extracts_reliably(self) -> bool:
        """Whether Poppler turns this font's glyphs into the characters they show."""
        if self.unicode_map:
            return True
        if self.type.startswith("CID"):
            return self.encoding.startswith("Uni")  # predefined Unicode CMaps; Identity-H gives glyph ids
        if self.type == "Type 3" or _SYMBOLIC.search(self.name):
            return False
        return self.encoding in STANDARD_ENCODINGS

    @property
    def is_ocr_layer(self) -> bool:
        """Whether only OCR layers are written in this font (its glyphs draw nothing)."""
        return self.name in OCR_LAYER_FONTS


@dataclass(frozen=True)
class PageFonts:
    """What a page's fonts say about its text."""

    reliable: bool  # Poppler listed fonts, and every one extracts reliably
    ocr_layer: bool  # some font is an OCR layer's


UNKNOWN_FONTS = PageFonts(reliable=False, ocr_layer=False)


def _run(command: list[str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(command, capture_output=True, timeout=60, check=False)


def parse_fonts(listing: str) -> tuple[FontInfo, ...]:
    """The fonts in ``pdffonts`` output."""
    return tuple(
        FontInfo(name=m["name"].strip().split("+", 1)[-1], type=m["type"], encoding=m["encoding"],
                 embedded=m["emb"] == "yes", unicode_map=m["uni"] == "yes")
        for m in _ROW.finditer(listing)
    )


def list_fonts(path: Path, first: int, last: int, run: Runner = _run) -> tuple[FontInfo, ...] | None:
    """The fonts pages ``first``..``last`` draw with; None when Poppler cannot list them."""
    try:
        proc = run(["pdffonts", "-f", str(first), "-l", str(last), str(path)])
    except subprocess.TimeoutExpired:
        return None
    if proc.returncode != 0:
        return None
    return parse_fonts(proc.stdout.decode("utf-8", errors="replace"))


def judge_fonts(fonts: tuple[FontInfo, ...] | None) -> PageFonts:
    if fonts is None:
        return UNKNOWN_FONTS
    return PageFonts(reliable=bool(fonts) and all(font.extracts_reliably for font in fonts),
                     ocr_layer=any(font.is_ocr_layer for font in fonts))


class DocumentFonts:
    """Each page's ``PageFonts``: one ``pdffonts`` for the whole document when that answers for every page."""

    def __init__(self, path: Path, last_page: int, run: Runner = _run) -> None:
        self.path = path
        self._run = run
        fonts = list_fonts(path, 1, last_page, run)
        self.document = judge_fonts(fonts)
        # When every font in the document says the same (all reliable, say), every page that draws text says it
        # too; when they differ, only a page's own listing tells which of them it uses. When Poppler could not
        # list the document's fonts, it cannot list a page's either.
        self.answers_every_page = fonts is None or len({judge_fonts((font,)) for font in fonts}) <= 1
        self._pages: dict[int, PageFonts] = {}

    def page(self, number: int) -> PageFonts:
        """The fonts of page ``number``, which draws text."""
        if self.answers_every_page:
            return self.document
        if number not in self._pages:  # pages are judged from worker threads: a race only repeats a listing
            self._pages[number] = judge_fonts(list_fonts(self.path, number, number, self._run))
        return self._pages[number]
