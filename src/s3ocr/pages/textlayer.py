"""Born-digital PDF pages: take the text Poppler extracts instead of OCRing the page.

Whether a page's text is its own is judged from the PDF itself, not from the shape of its words: text that is
drawn visibly in fonts whose text extracts reliably (``pdffonts``) is the page's text exactly as ``pdftotext``
gives it, whatever it looks like: contents with dot leaders, code, tables, columns of numbers.

The shape of the words (``text_quality``: no replacement or private-use characters, mostly letters, digits and
punctuation, tokens that look like words) still decides where the PDF cannot vouch for its text:
- an invisible OCR layer (text that ``pdftohtml`` does not see drawn, or in Tesseract's ``GlyphLessFont``) is a
  reading of the scan under it, as good as the engine that made it: the garbage layers some scanners write
  ("sw | \\ + 400 +") fail the test and the page is OCRed;
- text in fonts that do not map their glyphs to Unicode (Identity-H with no ToUnicode map, custom encodings).
A scan with a few stray glyphs of text is OCRed, and so is a page with no text at all (scans, outlined text).
"""

from __future__ import annotations

import re
import subprocess
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from s3ocr.pages.pdffonts import PageFonts

# A page whose images cover less than this share of it is treated as a drawn page, not a scan.
SCAN_COVERAGE = 0.5
MIN_SCAN_LAYER_CHARS = 50
# Text of which less than this share is drawn visibly is an invisible layer over the page (an OCR layer).
MIN_VISIBLE_SHARE = 0.5
# Replacement, private-use or control characters that a page in reliable fonts may hold (an icon font mapped
# into the private-use area) before its fonts' Unicode maps are not believed.
MAX_BAD_SHARE = 0.01
_WORD = re.compile(r"^[\w'’.,;:!?()\-–—/%&\"“”«»]+$")


@dataclass(frozen=True)
class TextQuality:
    chars: int  # non-space characters
    good: float  # share of letters, digits, common punctuation
    bad: int  # replacement, private-use, control or unassigned characters
    wordlike: float  # share of tokens that look like words or numbers

    def is_real_text(self) -> bool:
        return self.chars > 0 and self.bad == 0 and self.good >= 0.9 and self.wordlike >= 0.6


def text_quality(text: str) -> TextQuality:
    chars = [c for c in text if not c.isspace()]
    if not chars:
        return TextQuality(0, 0.0, 0, 0.0)
    bad = sum(c == "\ufffd" or unicodedata.category(c) in ("Co", "Cc", "Cn", "Cs") for c in chars)
    good = sum(unicodedata.category(c)[0] in "LNP" for c in chars) / len(chars)
    tokens = text.split()
    wordlike = sum(_is_wordlike(token) for token in tokens) / len(tokens)
    return TextQuality(len(chars), round(good, 3), bad, round(wordlike, 3))


def _is_wordlike(token: str) -> bool:
    letters = sum(c.isalpha() for c in token)
    digits = sum(c.isdigit() for c in token)
    if any(unicodedata.east_asian_width(c) in "WF" and c.isalpha() for c in token):
        return True  # CJK runs have no spaces to split words by
    return bool(_WORD.match(token)) and (letters >= 2 or (digits >= 1 and letters == 0) or token.lower() in "aio")


def extract_page_texts(path: Path, last_page: int, timeout: float = 120) -> list[str]:
    """Every page's text exactly as ``pdftotext`` prints it, pages split on its form feeds; none when Poppler
    cannot extract it in ``timeout`` (every page is then OCRed)."""
    try:
        proc = subprocess.run(["pdftotext", "-enc", "UTF-8", "-l", str(last_page), str(path), "-"],
                              capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return []
    if proc.returncode != 0:
        return []
    return proc.stdout.decode("utf-8", errors="replace").split("\f")[:last_page]


def usable_text(text: str, coverage: float) -> str | None:
    """The page's text when it should be used instead of OCR, else None."""
    quality = text_quality(text)
    if not quality.is_real_text():
        return None
    if coverage >= SCAN_COVERAGE and quality.chars < MIN_SCAN_LAYER_CHARS:
        return None  # a scan with a few stray glyphs of an OCR layer: read the scan
    return text


@dataclass(frozen=True)
class PageTextEvidence:
    """What the PDF itself shows about one page's text."""

    text: str  # as pdftotext gives it
    coverage: float  # share of the page its images cover
    fonts: PageFonts
    visible_share: float | None  # share of the text drawn visibly; None: Poppler could not tell


@dataclass(frozen=True)
class TextVerdict:
    """The page's own text when it is used instead of OCR (else None), and why."""

    text: str | None
    reason: str


def judge_page_text(evidence: PageTextEvidence) -> TextVerdict:
    """Whether a PDF page's text is used as it is (see the module's docstring)."""
    quality = text_quality(evidence.text)
    if quality.chars == 0:
        return TextVerdict(None, "no_text")
    visible = evidence.visible_share
    if evidence.fonts.ocr_layer or (visible is not None and visible < MIN_VISIBLE_SHARE):
        return _by_word_shape(evidence, "ocr_layer")
    scan = evidence.coverage >= SCAN_COVERAGE
    if scan and visible is None:
        return _by_word_shape(evidence, "text_on_scan")  # maybe an OCR layer: Poppler could not tell
    if scan and quality.chars < MIN_SCAN_LAYER_CHARS:
        return TextVerdict(None, "stray_text_on_scan")
    if not evidence.fonts.reliable:
        return _by_word_shape(evidence, "unreliable_fonts")
    if quality.bad > MAX_BAD_SHARE * quality.chars:  # Unicode maps to U+FFFD or private use: not believed
        return TextVerdict(None, "broken_characters")
    return TextVerdict(evidence.text, "pdf_text")


def _by_word_shape(evidence: PageTextEvidence, kind: str) -> TextVerdict:
    text = usable_text(evidence.text, evidence.coverage)
    return TextVerdict(text, f"{kind}_reads_well" if text is not None else f"{kind}_reads_badly")
