"""Born-digital PDF pages: take the text Poppler extracts instead of OCRing the page.

A page's own text is used when it is real text: no replacement or private-use characters (a broken
font encoding), mostly letters/digits/punctuation, and words that look like words. A page covered by
a scanned image whose text is an invisible OCR layer is only trusted when that layer reads well; the
garbage layers some scanners write ("sw | \\ + 400 +") fail the word test and the page is OCRed.
Pages with no text at all (scans, or text drawn as outlines) are always OCRed.
"""

from __future__ import annotations

import re
import subprocess
import unicodedata
from dataclasses import dataclass
from pathlib import Path

# A page whose images cover less than this share of it is treated as a drawn page, not a scan.
SCAN_COVERAGE = 0.5
MIN_SCAN_LAYER_CHARS = 50
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
    """Every page's text exactly as ``pdftotext`` prints it, pages split on its form feeds."""
    proc = subprocess.run(["pdftotext", "-enc", "UTF-8", "-l", str(last_page), str(path), "-"],
                          capture_output=True, timeout=timeout, check=False)
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
