"""Page geometry, and which way up a page is: decided here and nowhere else.

Two questions, answered with different evidence:

1. *Axis and skew* from the ink alone (``estimate_skew``): text lines make the ink's projection onto the axis
   across the lines sharply peaked (lines, then gaps). Scoring projections at angles within ±15° around both
   the horizontal and the vertical axis tells whether lines run across or down the page and how far they are
   tilted. No OCR is needed, so it is cheap and works for any script. What it yields is a hypothesis
   (``quarter_turn``, ``usable_skew``): an axis barely sharper than the other, or a tilt at the edge of the
   search, is no measurement at all and is not acted on.
2. *Which way up*, for Latin script, from the ink too (``ascender_lean``): ascenders (b d f h k l t,
   capitals, the dot of an i) stand above a line's x-height band more often than descenders (g j p q y) hang
   below it, so the ink leans up on an upright line and down on one upside down. Measured on the real
   English pages: +0.26 to +0.50 upright, -0.23 to -0.55 the same pages turned over. It decides only which
   way the page is read first, and only for Latin languages: CJK characters have no such lean (measured
   anyway, an upright Chinese signboard and handwritten notes lean -0.41 and -0.52).
3. *Which reading is the right way up* (``best_way``): the page is read as planned; when that reading is
   unsure, the other ways are read (turned 180 degrees, standing as it came, as it came), and the surest
   reading wins. Reading decides: a wrong first guess costs a reading, never the page.

Angles: ``rotation`` is the clockwise turn, in degrees, applied to make the page upright; ``skew`` is the
counter-clockwise tilt of the text lines that was removed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from s3ocr.models import Recognition

MAX_SKEW_DEG = 15.0
# The coarse search's step: a tilt within this of the edge of the search is where the search stopped, not a
# measurement (a slide on a grey background, a signboard, a magazine page of pictures: "15.5°").
COARSE_STEP_DEG = 0.5
# Lines run down the page only when that axis is clearly the sharper: upright text pages measure 1.3-3.6
# times sharper across than down; photos, slides and pages of pictures near 1.1.
AXIS_MARGIN = 1.25
# Ink pixels the coarse angle search scores (a random sample): an A4 page of text has 20-50 thousand at the
# analysis size. With samples of 4,000 to 20,000 the answer (axis and angle, after the fine search over all
# the ink) was the same as without sampling on all 120 corpus pages; 8,000 leaves a margin.
COARSE_SAMPLE_POINTS = 8_000
# Analysis size: ~700 px across keeps a 300 dpi page's lines resolvable and the search fast.
ANALYSIS_WIDTH = 700
_QUARTER = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


@dataclass(frozen=True)
class Skew:
    """Text-line direction: ``vertical`` when lines run down the page; ``angle`` tilt in degrees (CCW)."""

    vertical: bool
    angle: float
    sharpness: float  # best projection score over the other axis' best: the further above 1, the clearer

    @property
    def at_edge(self) -> bool:
        """The tilt is where the search ran out (within a coarse step of ±15°): not a measurement."""
        return abs(self.angle) >= MAX_SKEW_DEG - COARSE_STEP_DEG

    @property
    def clear_axis(self) -> bool:
        """One axis is clearly sharper than the other: the lines' direction is measured, not guessed."""
        return self.sharpness >= AXIS_MARGIN


def ink_mask(gray: np.ndarray) -> np.ndarray:
    """Dark-on-light ink as a boolean mask (Otsu threshold)."""
    _, binary = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    return binary > 0


def _downscale(gray: np.ndarray, width: int) -> tuple[np.ndarray, float]:
    scale = min(1.0, width / max(gray.shape[:2]))
    if scale == 1.0:
        return gray, 1.0
    return cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), scale


def projection_score(ys: np.ndarray, xs: np.ndarray, angle_deg: float) -> float:
    """How peaked the ink's projection across lines tilted by ``angle_deg`` (CCW) is.

    The mean of the squared profile over its squared mean, taken over the span holding the ink:
    1 for ink spread evenly, 2 for lines as tall as the gaps between them. Dividing by the span keeps
    a tall text block from scoring lower than a wide one, so the two axes can be compared.
    """
    theta = np.deg2rad(angle_deg)
    # Row coordinate after rotating the page clockwise by the tilt, i.e. along the lines' normal.
    rows = ys * np.cos(theta) + xs * np.sin(theta)
    low, high = _trimmed_span(rows)
    rows = rows[(rows >= low) & (rows <= high)]
    hist = np.bincount((rows - low).astype(np.int64))
    return float(np.dot(hist, hist)) * len(hist) / max(len(rows), 1) ** 2


# The share of the ink left out at each end of a projection: specks, a stray mark in the margin.
_TRIM = np.array([0.5, 99.5]) / 100


def _trimmed_span(rows: np.ndarray) -> tuple[float, float]:
    """``np.percentile(rows, [0.5, 99.5])``, to the last bit (its default, linear method), in less time: it is
    asked 143 times a page, mostly of 8,000 points, where numpy's own overhead was two thirds of its time."""
    count = len(rows)
    if count < 2:
        low, high = np.percentile(rows, _TRIM * 100)
        return float(low), float(high)
    virtual = (count - 1) * _TRIM
    below = np.floor(virtual)
    gamma = virtual - below
    first = below.astype(np.intp)
    ordered = np.partition(rows, np.unique(np.concatenate((first, first + 1))))
    a, b = ordered[first], ordered[first + 1]
    span = b - a
    # As numpy interpolates: from the nearer order statistic, so that the result is exact at both ends.
    values = np.where(gamma >= 0.5, b - span * (1 - gamma), a + span * gamma)
    return float(values[0]), float(values[1])


def _best_angle(ys: np.ndarray, xs: np.ndarray, angles: np.ndarray) -> tuple[float, float]:
    scores = [projection_score(ys, xs, a) for a in angles]
    best = int(np.argmax(scores))
    return float(angles[best]), scores[best]


def estimate_skew(gray: np.ndarray, max_angle: float = MAX_SKEW_DEG) -> Skew:
    """Line direction and tilt from projection profiles of the ink (coarse 0.5° search, then 0.05°)."""
    small, _ = _downscale(gray, ANALYSIS_WIDTH)
    ys, xs = np.nonzero(ink_mask(small))
    if len(ys) < 50:
        return Skew(vertical=False, angle=0.0, sharpness=0.0)
    ys, xs = ys.astype(np.float64), xs.astype(np.float64)
    coarse = np.arange(-max_angle, max_angle + 0.01, COARSE_STEP_DEG)
    # The coarse search (122 projections) looks at a sample of the ink, the fine one (21) at all of it. The
    # sample is random (seeded: same page, same answer): every k-th pixel in raster order is a lattice, and
    # a lattice has sharp projections of its own at the angles of its rows.
    some_ys, some_xs = ys, xs
    if len(ys) > COARSE_SAMPLE_POINTS:
        chosen = np.random.default_rng(0).choice(len(ys), COARSE_SAMPLE_POINTS, replace=False)
        some_ys, some_xs = ys[chosen], xs[chosen]
    h_angle, h_score = _best_angle(some_ys, some_xs, coarse)
    # Vertical lines: swap the roles of x and y (a transposed page), same search.
    v_angle, v_score = _best_angle(some_xs, some_ys, coarse)
    vertical = v_score > h_score
    angle = v_angle if vertical else h_angle
    a, b = (xs, ys) if vertical else (ys, xs)
    angle, _ = _best_angle(a, b, np.arange(angle - 0.5, angle + 0.51, 0.05))
    sharpness = max(h_score, v_score) / max(min(h_score, v_score), 1e-12)
    # Transposing mirrors the tilt's sense; report it in the frame of the page turned upright.
    return Skew(vertical=vertical, angle=round(-angle if vertical else angle, 2), sharpness=round(sharpness, 3))


# An ascender lean at or below minus this, over at least ``LEAN_MIN_LINES`` lines, and the page is read turned
# over first. Real English pages measure +0.26 to +0.50 upright (receipts, forms, faxes, filings, a magazine
# page), the rendered ones +0.36 to +0.60; the same pages upside down -0.23 to -0.63.
LEAN_UPSIDE_DOWN = 0.15
LEAN_MIN_LINES = 5
# Analysis size: ~1,400 px across keeps a 300 dpi page's x-height near 10 px; strips this wide keep the
# lines of neighbouring columns, which need not share baselines, apart.
LEAN_WIDTH = 1400
LEAN_STRIP = 160
# A line band whose densest rows (the x-height band) fill more than this share of it has no distinct band:
# capitals or digits only, or lines run together. It says nothing either way.
LEAN_CORE_MAX = 0.7


@dataclass(frozen=True)
class Lean:
    """Ink above the x-height bands of the lines minus ink below them, over both (-1..1); ``lines`` counted."""

    value: float
    lines: int

    @property
    def upside_down(self) -> bool:
        return self.lines >= LEAN_MIN_LINES and self.value <= -LEAN_UPSIDE_DOWN


def runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of each run of True in a 1-D array, end exclusive: bands of inked rows, gaps, gutters."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], flags.astype(np.int8), [0]))))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True))


def ascender_lean(gray: np.ndarray) -> Lean:
    """Which way the ink of a page's text lines leans (lines across, deskewed): see the module doc, point 2.
    Pictures, rules and specks are left out (blobs far taller or wider than the typical one, or tiny)."""
    small, _ = _downscale(gray, LEAN_WIDTH)
    mask = ink_mask(small).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return Lean(0.0, 0)
    heights, widths, areas = (stats[:, index] for index in (cv2.CC_STAT_HEIGHT, cv2.CC_STAT_WIDTH, cv2.CC_STAT_AREA))
    typical = float(np.median(heights[1:][areas[1:] > 4])) if np.any(areas[1:] > 4) else 0.0
    letters = (heights <= 4 * typical) & (widths <= 8 * typical) & (areas > 3)
    letters[0] = False  # the background
    ink = letters[labels]
    above = below = 0.0
    lines = 0
    for left in range(0, ink.shape[1], LEAN_STRIP):
        rows = ink[:, left:left + LEAN_STRIP].sum(axis=1).astype(np.float64)
        for start, end in runs(rows > 0):
            band = rows[start:end]
            if end - start < 4 or band.sum() < 20:
                continue
            core = np.flatnonzero(band >= 0.5 * band.max())
            if core[-1] - core[0] > LEAN_CORE_MAX * (end - start):
                continue
            above += float(band[:core[0]].sum())
            below += float(band[core[-1] + 1:].sum())
            lines += 1
    total = above + below
    return Lean(round((above - below) / total, 3) if total else 0.0, lines)


def rotate_quarter(image: np.ndarray, rotation: int) -> np.ndarray:
    """Turn an image clockwise by 0, 90, 180 or 270 degrees (lossless)."""
    rotation %= 360
    return image if rotation == 0 else cv2.rotate(image, _QUARTER[rotation])


def rotate_small(image: np.ndarray, angle_deg: float) -> np.ndarray:
    """Rotate by a small angle (CCW positive) about the centre, growing the canvas, filling with paper."""
    if abs(angle_deg) < 1e-3:
        return image
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle_deg, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_w, new_h = int(h * sin + w * cos + 0.5), int(h * cos + w * sin + 0.5)
    matrix[0, 2] += new_w / 2 - w / 2
    matrix[1, 2] += new_h / 2 - h / 2
    paper = int(np.percentile(image, 90))
    return cv2.warpAffine(
        image, matrix, (new_w, new_h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT, borderValue=paper
    )


@dataclass(frozen=True)
class Way:
    """One way a page was read: its name, the clockwise turn from the page as it came, and the reading."""

    name: str  # "as_planned", "standing", "turned_180", "as_came"
    rotation: int
    reading: Recognition


def quality(reading: Recognition) -> float:
    """How much a reading says, surely: characters of its words weighted by their confidence, words under
    even odds left out (sideways or upside-down text reads as many short words of low confidence)."""
    return sum(word.confidence * len(word.text) for line in reading.lines for word in line.words
               if word.confidence >= 0.5)


def is_sure(reading: Recognition, sure_confidence: float) -> bool:
    """A reading taken as it is: some text, at the engine's confidence of an upright page."""
    return bool(reading.text.strip()) and (reading.mean_confidence or 0.0) >= sure_confidence


def best_way(ways: Sequence[Way], settled: Callable[[Way], bool]) -> Way:
    """The reading to keep: the first settled one in the order tried (the plan first), else the one that says
    most, surely (``quality``); ties keep the earlier."""
    for way in ways:
        if settled(way):
            return way
    return max(ways, key=lambda way: (quality(way.reading), -ways.index(way)))
