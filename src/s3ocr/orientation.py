"""Page geometry: which way is up (0/90/180/270) and how far the text lines are tilted (skew).

Two questions, answered separately because they need different evidence:

1. *Axis and skew* from the ink alone: text lines make the ink's projection onto the axis across the lines
   sharply peaked (lines, then gaps). Scoring projections at angles within ±15° around both the horizontal
   and the vertical axis tells whether lines run across or down the page and how far they are tilted.
   No OCR is needed, so it is cheap and works for any script.
2. *Up or down* needs reading: Tesseract's orientation detection (OSD) on a copy scaled to a comfortable
   text size; when OSD is unsure (little text, or CJK, where its confidence is low), the two candidate
   orientations are read on a crop and the one Tesseract is more confident about wins.

Angles: ``rotation`` is the clockwise turn, in degrees, applied to make the page upright (Tesseract OSD's
"Rotate"); ``skew`` is the counter-clockwise tilt of the text lines that was removed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import cv2
import numpy as np
import pytesseract

# OSD and the confidence probe run their own Tesseract; one thread each, like the engine (see there why).
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

MAX_SKEW_DEG = 15.0
# Ink pixels the coarse angle search scores (a random sample): an A4 page of text has 20-50 thousand at the
# analysis size. With samples of 4,000 to 20,000 the answer (axis and angle, after the fine search over all
# the ink) was the same as without sampling on all 120 corpus pages; 8,000 leaves a margin.
COARSE_SAMPLE_POINTS = 8_000
# Analysis size: ~700 px across keeps a 300 dpi page's lines resolvable and the search fast.
ANALYSIS_WIDTH = 700
# OSD's orientation confidence above which its answer is taken without a second opinion; Latin pages
# score 3-20, Han pages 1-3 even when right, so CJK pages usually get the confidence probe.
OSD_CONFIDENT = 4.0
# Line pitch (px) that OSD and the probe are run at: big enough to read, small enough to be quick.
PROBE_PITCH_PX = 40
# The probe reads a few lines of a crop twice (upright and flipped); the confidence gap between the two
# is 50-75 points on the corpus pages, so three lines are plenty and keep a CJK page's probe under a second.
PROBE_LINES = 3
PROBE_WIDTH = 1200
_QUARTER = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


@dataclass(frozen=True)
class Skew:
    """Text-line direction: ``vertical`` when lines run down the page; ``angle`` tilt in degrees (CCW)."""

    vertical: bool
    angle: float
    sharpness: float  # best projection score over the other axis' best: the further above 1, the clearer


@dataclass(frozen=True)
class Orientation:
    """Which way up a page is, and how sure: OSD's orientation confidence, or the probe's confidence gap."""

    rotation: int  # clockwise degrees to turn: 0 or 180 here (the quarter turn comes from ``Skew``)
    method: str  # "osd", "probe", or "none" when there are no text lines to read
    confidence: float


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
    low, high = np.percentile(rows, [0.5, 99.5])
    rows = rows[(rows >= low) & (rows <= high)]
    hist = np.bincount((rows - low).astype(np.int64))
    return float(np.dot(hist, hist)) * len(hist) / max(len(rows), 1) ** 2


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
    coarse = np.arange(-max_angle, max_angle + 0.01, 0.5)
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


def _osd(gray: np.ndarray) -> tuple[int, float] | None:
    try:
        result = pytesseract.image_to_osd(
            gray, config="--psm 0 -c min_characters_to_try=10", output_type=pytesseract.Output.DICT, timeout=30
        )
    except (RuntimeError, OSError):
        # Too few characters for OSD (a TesseractError) or a timeout: let the probe decide.
        return None
    return int(result["rotate"]) % 360, float(result["orientation_conf"])


def densest_band(gray: np.ndarray, rows: int) -> int:
    """First row of the horizontal band of ``rows`` rows holding the most ink."""
    if gray.shape[0] <= rows:
        return 0
    ink = ink_mask(gray).sum(axis=1).astype(np.float64)
    return int(np.argmax(np.convolve(ink, np.ones(rows), mode="valid")))


def text_crop(gray: np.ndarray, rows: int) -> np.ndarray:
    """The horizontal band of ``rows`` rows holding the most ink (an upright page assumed)."""
    top = densest_band(gray, rows)
    return gray[top : top + rows]


def read_confidence(gray: np.ndarray, languages: str) -> float:
    """Mean word confidence (0-100) Tesseract gives a crop, weighted by word length; 0 if nothing read."""
    try:
        data = pytesseract.image_to_data(
            gray, lang=languages, config="--psm 6", output_type=pytesseract.Output.DICT, timeout=60
        )
    except (RuntimeError, OSError):
        return 0.0
    total = weight = 0.0
    for text, conf in zip(data["text"], data["conf"], strict=False):
        text, conf = str(text).strip(), float(conf)
        if text and conf >= 0:
            total += conf * len(text)
            weight += len(text)
    return total / weight if weight else 0.0


def detect_orientation(gray: np.ndarray, languages: str, pitch: float) -> Orientation:
    """Upright or upside down, for a page whose lines already run across (see module docstring)."""
    if pitch <= 0:
        return Orientation(rotation=0, method="none", confidence=0.0)  # no text lines: nothing to read
    scale = min(2.0, PROBE_PITCH_PX / pitch)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    sized = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=interpolation)
    osd = _osd(sized)
    if osd is not None and osd[0] in (0, 180) and osd[1] >= OSD_CONFIDENT:
        return Orientation(rotation=osd[0], method="osd", confidence=round(osd[1], 2))
    crop = text_crop(sized, rows=PROBE_PITCH_PX * PROBE_LINES)[:, :PROBE_WIDTH]
    upright = read_confidence(crop, languages)
    flipped = read_confidence(rotate_quarter(crop, 180), languages)
    rotation = 180 if flipped > upright else 0
    return Orientation(rotation=rotation, method="probe", confidence=round(abs(flipped - upright), 2))
