"""Page clean-up before recognition: named, pure steps (``ndarray -> ndarray``), fixed recipes of them, and
the measurements that ``s3ocr.plan`` decides the ``auto`` recipe from.

A recipe is a name from ``RECIPES`` or a comma-separated list of step names from ``STEPS``; ``auto`` is the
page plan's (``s3ocr.plan``). The seed article's recipe (gray -> Gaussian blur 5x5 -> global threshold 127,
kept as ``seed`` for comparison) cures salt-and-pepper noise but turns Chinese phone photos from CER 0.02
into 0.94: no fixed chain helps every kind of damage. Binarising (Otsu, threshold 127) and enlarging
(``upscale_2x``) are left to explicit recipes: on the corpus they never beat Tesseract's own binarisation,
and enlarging small text did worse than telling Tesseract its true resolution.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from s3ocr import orientation
from s3ocr.errors import ConfigurationError

Step = Callable[[np.ndarray], np.ndarray]

# Isolated dark pixels (no dark neighbour) per pixel: 0 to 0.0011 on clean, noisy, shadowed and phone pages
# (JPEG ringing), 0.015-0.019 with 5 % salt-and-pepper noise. Above this the page is denoised.
IMPULSE_NOISE_MIN = 0.004
# Largest blob (px) ``despeckle`` removes: salt-and-pepper clusters; a full stop at 300 dpi is ~30 px.
SPECK_MAX_PX = 5
# Spread of the paper's brightness, (p98 - p2) / p98 of the background estimate: 0 to 0.01 on evenly lit
# pages, 0.25 under a shadow. Above this the page is divided by its background.
UNEVEN_LIGHT_MIN = 0.08
# Tilt (degrees) below which deskewing costs more (resampling blur) than the tilt does: Tesseract reads
# 0.3° (10 px of drift across a 300 dpi line) unharmed, and noise alone can measure 0.15°.
SKEW_MIN_DEG = 0.3
# Body text, 11 pt on 1.4 spacing, at 300 dpi: lines 64 px apart. The corpus pages measure 67-92 px,
# phone shots at half resolution 34 px.
BODY_TEXT_DPI = 300
BODY_TEXT_PITCH_PX = 64
SMALL_TEXT_PITCH_PX = 48  # three quarters of body text
# Large text is read smaller when the engine names the line pitch it reads at (``read_pitch``): a page whose
# lines are more than this much further apart is scaled down to that pitch; closer to it, resampling costs
# more than it saves.
LARGE_TEXT_MARGIN = 1.1
# Resolutions reported for small text: Tesseract's results move with small dpi changes, so the estimate is
# snapped to the nearest (in ratio) of the usual scan resolutions: a page and its rotated twin agree.
RESOLUTIONS = (75, 100, 150, 200, 300)
# Blank-page test, on a copy this wide (an A4 page at ~120 dpi): a blank page has fewer than
# ``BLANK_MAX_MARKS`` marks, dark blobs at least ``MARK_MIN_PX`` in area and ``MARK_MIN_HEIGHT`` tall (0.6 mm:
# a full stop at 10 pt is one), after the paper's own shading is divided out. Dust, scanner noise and JPEG
# ringing make smaller blobs or paler ones.
INK_ANALYSIS_WIDTH = 1000
INK_DARKNESS = 0.75  # ink is darker than this share of the paper around it (pencil, faded print: 0.5-0.7)
MARK_MIN_PX = 6
MARK_MIN_HEIGHT = 3
BLANK_MAX_MARKS = 3
BLANK_MAX_INK = 0.001
# Ink lying wholly within this share of the page's width or height from an edge: a scanner's shadow.
EDGE_STRIP = 0.05


def grayscale(image: np.ndarray) -> np.ndarray:
    """One 8-bit channel; colour pages are converted with OpenCV's luma weights."""
    if image.ndim == 2:
        return image
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def gaussian_blur(image: np.ndarray) -> np.ndarray:
    """5x5 Gaussian blur (the seed recipe's denoise)."""
    return cv2.GaussianBlur(image, (5, 5), 0)


def median_denoise(image: np.ndarray) -> np.ndarray:
    """3x3 median filter: removes impulse (salt-and-pepper) noise, keeps stroke edges."""
    return cv2.medianBlur(image, 3)


def despeckle(image: np.ndarray) -> np.ndarray:
    """Remove specks only: dark or light blobs of at most ``SPECK_MAX_PX`` pixels take their 3x3 median.

    Unlike a median over the whole page it leaves thin strokes alone (serif CJK faces have 2 px
    horizontals that a 3x3 median erases), but specks touching a letter stay.
    """
    gray = grayscale(image)
    specks = np.zeros(gray.shape, bool)
    for blobs in (gray < 128, gray >= 128):
        _, labels, stats, _ = cv2.connectedComponentsWithStats(blobs.astype(np.uint8), connectivity=8)
        small = stats[:, cv2.CC_STAT_AREA] <= SPECK_MAX_PX
        specks |= small[labels] & blobs
    return np.where(specks, cv2.medianBlur(gray, 3), gray)


def threshold_127(image: np.ndarray) -> np.ndarray:
    """Global threshold at 127 (the seed recipe's binarisation)."""
    return cv2.threshold(grayscale(image), 127, 255, cv2.THRESH_BINARY)[1]


def otsu_binarize(image: np.ndarray) -> np.ndarray:
    """Global threshold chosen by Otsu's method."""
    return cv2.threshold(grayscale(image), 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)[1]


def small_background(gray: np.ndarray) -> np.ndarray:
    """The paper without the ink, at a quarter size: a grey closing wider than any stroke, smoothed."""
    h, w = gray.shape[:2]
    small = cv2.resize(gray, (max(1, w // 4), max(1, h // 4)), interpolation=cv2.INTER_AREA)
    # 15 px at quarter size = 60 px on the page: wider than any stroke, so closing paints ink over with paper.
    closed = cv2.morphologyEx(small, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (15, 15)))
    return cv2.medianBlur(closed, 21) if min(closed.shape[:2]) > 21 else closed


def estimate_background(gray: np.ndarray) -> np.ndarray:
    """The paper without the ink, at the page's size."""
    h, w = gray.shape[:2]
    return cv2.resize(small_background(gray), (w, h), interpolation=cv2.INTER_LINEAR)


def normalize_background(image: np.ndarray) -> np.ndarray:
    """Divide the page by its background so paper becomes white and shadows vanish, ink keeps its contrast."""
    gray = grayscale(image)
    # 8-bit division with the scale folded in (saturating, rounded): no float copies of the page, which
    # cost ~105 MB per 300 dpi A4 page and set the pipeline's memory peak.
    return cv2.divide(gray, np.maximum(estimate_background(gray), 1), scale=255)


def deskew(image: np.ndarray) -> np.ndarray:
    """Rotate the text lines level (tilts within ±15°; the page's quarter turn is left alone)."""
    gray = grayscale(image)
    skew = orientation.estimate_skew(gray)
    if skew.vertical or skew.at_edge or abs(skew.angle) < SKEW_MIN_DEG:
        return gray
    return orientation.rotate_small(gray, -skew.angle)


def upscale_2x(image: np.ndarray) -> np.ndarray:
    """Enlarge twice (bicubic): small text, as in phone shots, is read better at a larger size."""
    return cv2.resize(image, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC)


STEPS: dict[str, Step] = {
    "grayscale": grayscale,
    "gaussian_blur": gaussian_blur,
    "median_denoise": median_denoise,
    "despeckle": despeckle,
    "threshold_127": threshold_127,
    "otsu_binarize": otsu_binarize,
    "normalize_background": normalize_background,
    "deskew": deskew,
    "upscale_2x": upscale_2x,
}

RECIPES: dict[str, tuple[str, ...]] = {
    # ``auto`` chooses among these per page (and turns the page upright); see ``prepare``.
    "auto": ("grayscale", "median_denoise", "despeckle", "normalize_background", "deskew"),
    "none": ("grayscale",),
    "seed": ("grayscale", "gaussian_blur", "threshold_127"),
}


def resolve_recipe(recipe: str) -> tuple[str, ...]:
    """Step names for a recipe name or a comma-separated list of steps."""
    if recipe in RECIPES:
        return RECIPES[recipe]
    names = tuple(name.strip() for name in recipe.split(",") if name.strip())
    unknown = [name for name in names if name not in STEPS]
    if unknown or not names:
        raise ConfigurationError(
            f"unknown preprocessing recipe or step {recipe!r}; recipes: {sorted(RECIPES)}, steps: {sorted(STEPS)}"
        )
    return names


def apply_steps(image: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    for name in names:
        image = STEPS[name](image)
    return image


@dataclass(frozen=True)
class Ink:
    """The marks on a page (see ``INK_ANALYSIS_WIDTH``) and the share of the page they cover."""

    marks: int
    share: float

    @property
    def blank(self) -> bool:
        """Paper alone: fewer than ``BLANK_MAX_MARKS`` marks covering less than ``BLANK_MAX_INK`` of it, so
        nothing an engine could read, and none is asked. A ruled form with nothing written on it is not blank:
        it is one mark, but a large one."""
        return self.marks < BLANK_MAX_MARKS and self.share < BLANK_MAX_INK


def ink(gray: np.ndarray) -> Ink:
    """The page's marks. Strips of ink hugging an edge (a scanner's dark border) are no marks."""
    height, width = gray.shape[:2]
    scale = min(1.0, INK_ANALYSIS_WIDTH / max(width, 1))
    small = gray if scale == 1.0 else cv2.resize(gray, (max(1, round(width * scale)), max(1, round(height * scale))),
                                                  interpolation=cv2.INTER_AREA)
    if int(small.min()) >= INK_DARKNESS * int(small.max()):
        return Ink(0, 0.0)  # nothing on the page is dark against the lightest paper: blank, in a millisecond
    paper = cv2.resize(small_background(small), (small.shape[1], small.shape[0]), interpolation=cv2.INTER_LINEAR)
    dark = (small.astype(np.float32) < INK_DARKNESS * np.maximum(paper, 1).astype(np.float32)).astype(np.uint8)
    _, _, stats, _ = cv2.connectedComponentsWithStats(dark, connectivity=8)
    left, top, wide, tall, area = (stats[1:, i] for i in (cv2.CC_STAT_LEFT, cv2.CC_STAT_TOP, cv2.CC_STAT_WIDTH,
                                                          cv2.CC_STAT_HEIGHT, cv2.CC_STAT_AREA))
    h, w = small.shape[:2]
    edge_x, edge_y = EDGE_STRIP * w, EDGE_STRIP * h
    on_edge = ((left + wide <= edge_x) | (left >= w - edge_x) | (top + tall <= edge_y) | (top >= h - edge_y))
    kept = (area >= MARK_MIN_PX) & (tall >= MARK_MIN_HEIGHT) & ~on_edge
    return Ink(int(np.count_nonzero(kept)), float(area[kept].sum()) / (h * w))


def impulse_noise_fraction(gray: np.ndarray) -> float:
    """Share of pixels that are dark with no dark neighbour: salt-and-pepper specks, never real strokes."""
    dark = cv2.threshold(gray, 127, 1, cv2.THRESH_BINARY_INV)[1]  # 1 where gray < 128
    # Dark pixels in each 3x3 window (8-bit sums, at most 9): a dark pixel whose window holds only itself.
    window = cv2.boxFilter(dark, -1, (3, 3), normalize=False, borderType=cv2.BORDER_REPLICATE)
    isolated = np.count_nonzero(window * dark == 1)
    return isolated / max(gray.size, 1)


def uneven_light(gray: np.ndarray) -> float:
    """How much the paper's brightness varies over the page: (p98 - p2) / p98 of the background."""
    # The quarter-size background has the same distribution, at 1/16 of the cost (no full-size float copy).
    background = small_background(gray)
    low, high = np.percentile(background, [2, 98])
    return float((high - low) / max(high, 1.0))


def line_pitch(gray: np.ndarray) -> float:
    """Text line pitch (px, baseline to baseline) of a page with level lines; 0 when there are no lines.

    The median distance between the starts of successive bands of inked rows: paragraph gaps are
    outliers the median ignores, and lines whose ascenders touch the line above only lengthen a band.
    """
    profile = orientation.ink_mask(gray).sum(axis=1).astype(np.float64)
    rows = profile > 0.1 * np.percentile(profile, 95)
    starts = [start for start, end in orientation.runs(rows) if end - start >= 3]  # rules and specks are not lines
    return float(np.median(np.diff(starts))) if len(starts) >= 3 else 0.0


def estimated_resolution(pitch: float) -> int | None:
    """The resolution (dpi) at which lines ``pitch`` px apart are ordinary body text, snapped to the nearest
    (in ratio) of ``RESOLUTIONS``; None without text lines. Told to Tesseract for files that state no
    resolution (``dpi`` 0), and for small text (``resolution_for_pitch``)."""
    if pitch <= 0:
        return None
    dpi = BODY_TEXT_DPI * pitch / BODY_TEXT_PITCH_PX
    return min(RESOLUTIONS, key=lambda r: abs(np.log(dpi / r)))


def resolution_for_pitch(pitch: float) -> int | None:
    """For small text, the resolution (dpi) at which its lines are ordinary body text; else None.

    Tesseract sizes its noise and layout filters by the dpi it is told; a phone shot with half-size text
    told "300 dpi" loses underscores, dots and short words (CER 0.035 instead of 0.006 in English).
    Normal and large text read the same at any claimed dpi give or take noise, so the source's is kept.
    """
    return estimated_resolution(pitch) if pitch < SMALL_TEXT_PITCH_PX else None


def reading_scale(pitch: float, read_pitch: float | None) -> float:
    """The scale (<= 1) at which a page whose lines are ``pitch`` px apart is read by an engine that reads
    lines ``read_pitch`` px apart best: 1 for all but text larger than that."""
    if not read_pitch or pitch <= read_pitch * LARGE_TEXT_MARGIN:
        return 1.0
    return round(read_pitch / pitch, 4)


