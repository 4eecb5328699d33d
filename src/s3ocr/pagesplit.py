"""Cut a page into horizontal bands at blank rows, so that idle cores can read one page together.

Pages are read one per core; the last page of a document (or a document's only page) then leaves the other
cores idle while it is read: on two cores a single 600-dpi image took 1.55x the CPU-per-core bound. Cut into
as many bands as there are cores, it is read by all of them at once.

A cut is only made where it cannot change the text:
- across a run of blank rows (no ink over the page's whole width), the tallest near each cut's target so
  paragraph gaps win over line gaps;
- never on a page with columns (a blank vertical gutter running through the text): Tesseract reads a
  column to its end before the next, a band would read across them instead;
- bands carry equal shares of the ink (what recognition time follows), and a page with too little text
  for each band to hold a few lines is left whole.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import cv2
import numpy as np

from s3ocr.orientation import runs

# Measured on a copy this many times smaller: 300-dpi text lines stay 8+ rows apart.
SCALE = 4
# Rows count as blank with at most this share of their pixels inked (scanner specks, a ruled margin).
BLANK_ROW_INK = 0.002
# A gap between bands is at least this tall on the page (a line gap at 300 dpi is ~10-30 px).
MIN_GAP_PX = 8
# A cut may land this far (share of the text's height) from its target.
WINDOW = 0.2
# An empty vertical run at least this wide (share of the text's width) inside the text is a column gutter.
GUTTER = 0.03
# Bands shorter than this, or with fewer text lines, are not worth a process of their own.
MIN_BAND_PX = 200
MIN_BAND_LINES = 3


@dataclass(frozen=True)
class Band:
    top: int
    bottom: int  # exclusive


def has_columns(ink: np.ndarray) -> bool:
    """Whether a blank vertical gutter runs through the text from its top to its bottom."""
    cols: np.ndarray = np.asarray(ink.any(axis=0))
    inked = np.flatnonzero(cols)
    if len(inked) < 2:
        return False
    left, right = inked[0], inked[-1] + 1
    widest = max((end - start for start, end in runs(~cols[left:right])), default=0)
    return widest >= GUTTER * (right - left)


def bands(gray: np.ndarray, parts: int) -> list[Band]:
    """``parts`` bands covering the page, cut at blank rows; the whole page as one band when it cannot be cut
    safely (see the module doc)."""
    height, width = gray.shape[:2]
    whole = [Band(0, height)]
    if parts <= 1 or height < parts * MIN_BAND_PX:
        return whole
    small = cv2.resize(gray, (max(1, width // SCALE), max(1, height // SCALE)), interpolation=cv2.INTER_AREA)
    _, binary = cv2.threshold(small, 0, 1, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    ink = binary.astype(bool)
    rows = ink.sum(axis=1)
    text = rows > BLANK_ROW_INK * ink.shape[1]
    text_rows = np.flatnonzero(text)
    if len(text_rows) < 2 or has_columns(ink[text_rows[0]:text_rows[-1] + 1]):
        return whole
    top, bottom = int(text_rows[0]), int(text_rows[-1]) + 1
    gaps = [(top + start, top + end) for start, end in runs(~text[top:bottom]) if (end - start) * SCALE >= MIN_GAP_PX]
    mass = np.cumsum(rows[top:bottom])
    cuts: list[int] = []
    for k in range(1, parts):
        target = top + int(np.searchsorted(mass, mass[-1] * k / parts))
        window = WINDOW * (bottom - top)
        near = [gap for gap in gaps if abs((gap[0] + gap[1]) / 2 - target) <= window and
                (not cuts or gap[0] * SCALE > cuts[-1])]
        if not near:
            return whole
        start, end = max(near, key=lambda gap: (gap[1] - gap[0], -abs((gap[0] + gap[1]) / 2 - target)))
        cuts.append((start + end) // 2 * SCALE)
    edges = [0, *cuts, height]
    result = [Band(a, b) for a, b in itertools.pairwise(edges)]
    if any(band.bottom - band.top < MIN_BAND_PX or
           len(runs(text[band.top // SCALE:band.bottom // SCALE])) < MIN_BAND_LINES for band in result):
        return whole
    return result
