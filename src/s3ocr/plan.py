"""What the ``auto`` recipe decides about a page, on what evidence, as a frozen value: the page plan.

The page is measured (``preprocess``, ``orientation``), the measurements become decisions, and the decisions
are applied in one pass. Each decision is a hypothesis the reading confirms (``s3ocr.reading``): a page that
reads unsure or empty as planned is also read as it came, and the better reading is kept. Decisions that the
evidence does not support are not taken, and the plan says so (``rejected``): a tilt at the edge of the
search, an axis barely sharper than the other. The output JSON's ``preprocessing`` is written from the plan
(``report``); nothing reads it back.

``auto``:
- impulse noise measured (isolated dark pixels) -> ``despeckle`` for CJK languages, a 3x3 median for others
  (the median erases the thin strokes of CJK glyphs);
- uneven light measured (spread of the background brightness) -> divide by the background, for engines that
  need it (``Capabilities.reads_uneven_light``);
- text lines clearly running down the page -> a quarter turn; tilted -> deskew (``s3ocr.orientation``);
- Latin text whose ink leans down (descenders above the lines' x-height bands, not ascenders) -> turned over
  (``orientation.ascender_lean``): the page is read that way first;
- the line pitch -> the resolution to tell the engine for small text (``dpi``), and for files that state none
  (``dpi_estimate``); large text is scaled down to the pitch the engine reads best at (``scale``).
Up or down is otherwise left to the reading: a page is read as planned and turned 180 degrees only when that
reading is unsure, so upright pages (nearly all) pay nothing for the question, and a Latin page the ink shows
upside down is read once, not twice.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import cv2
import numpy as np

from s3ocr import orientation, preprocess
from s3ocr.engines.base import Capabilities
from s3ocr.settings import uses_cjk


@dataclass(frozen=True)
class Measurements:
    """What the page showed before anything was decided."""

    impulse_noise: float  # share of isolated dark pixels
    uneven_light: float  # spread of the paper's brightness
    line_axis_sharpness: float  # the sharper axis' projection score over the other's
    lines_down: bool  # the sharper axis runs down the page
    skew: float  # tilt of the lines measured (degrees, counter-clockwise), whether removed or not
    line_pitch: float  # px between text lines, measured after the turn and the deskew (0: no lines found)
    ascender_lean: float | None = None  # Latin languages: which way the lines' ink leans, up > 0 (orientation)


@dataclass(frozen=True)
class Rejected:
    """A decision the evidence did not support, and why."""

    decision: str
    value: float
    reason: str


@dataclass(frozen=True)
class PagePlan:
    """The decisions for one page: steps in the order applied, and the values they were applied with."""

    recipe: str
    steps: tuple[str, ...]
    rotation: int = 0  # clockwise turn: 0 or 90, and 180 more for Latin text upside down
    skew: float = 0.0  # tilt removed, degrees counter-clockwise
    scale: float = 1.0  # the prepared image is this many times the size of the page as rendered
    dpi: int | None = None  # the resolution to tell the engine, for small text (None: the source's)
    dpi_estimate: int | None = None  # the resolution body text at this line pitch has (files that state none)
    measurements: Measurements | None = None  # None for a fixed recipe
    rejected: tuple[Rejected, ...] = ()

    @property
    def changes_page(self) -> bool:
        """Whether the page read as planned differs from the page as it came (what a bare engine reads)."""
        return self.steps != ("grayscale",) or self.dpi is not None

    @property
    def lines_down(self) -> bool:
        """The page's lines were measured running down it: sideways text (turned a quarter when the axis was
        clear) or vertical CJK writing, whose square characters make both axes look alike."""
        return self.measurements is not None and self.measurements.lines_down

    def small_text(self, min_pitch: float | None) -> bool:
        """Whether the page's lines were measured closer than ``min_pitch`` px (``Capabilities.min_pitch``);
        never for lines too close to be text (``dpi_estimate`` None) or a page not measured."""
        pitch = self.measurements.line_pitch if self.measurements is not None else 0.0
        return min_pitch is not None and self.dpi_estimate is not None and 0 < pitch < min_pitch

    def resolution(self, source_dpi: int) -> int:
        """The resolution to tell the engine for the prepared image (0: unknown, let the engine estimate)."""
        dpi = self.dpi or source_dpi or self.dpi_estimate or 0
        return round(dpi * self.scale)

    def report(self) -> dict[str, Any]:
        """The plan as recorded in the page's ``preprocessing`` (JSON)."""
        report: dict[str, Any] = {
            "recipe": self.recipe, "steps": list(self.steps), "rotation": self.rotation, "skew": self.skew,
            "dpi": self.dpi, "scale": self.scale,
        }
        if self.measurements is not None:
            report["dpi_estimate"] = self.dpi_estimate
            report["lines"] = "down" if self.measurements.lines_down else "across"
            report["measurements"] = asdict(self.measurements)
        if self.rejected:
            report["rejected"] = [asdict(rejection) for rejection in self.rejected]
        return report


@dataclass(frozen=True)
class Prepared:
    """A page ready for recognition, and its plan."""

    image: np.ndarray
    plan: PagePlan = field(default_factory=lambda: PagePlan(recipe="none", steps=("grayscale",)))


def prepare(image: np.ndarray, recipe: str = "auto", languages: str = "eng",
            capabilities: Capabilities | None = None) -> Prepared:
    """Apply a recipe to a page image (BGR or gray ``uint8``), for an engine with ``capabilities``: ``auto``
    scales pages of larger text down to its ``read_pitch``, and evens the light only for engines that need it."""
    if recipe != "auto":
        names = preprocess.resolve_recipe(recipe)
        return Prepared(preprocess.apply_steps(image, names), PagePlan(recipe=recipe, steps=names))
    return prepare_auto(image, languages, capabilities or Capabilities())


def prepare_auto(image: np.ndarray, languages: str, capabilities: Capabilities) -> Prepared:
    """Measure the page, decide, and apply only what the measurements call for."""
    gray = preprocess.grayscale(image)
    steps = ["grayscale"]
    rejected: list[Rejected] = []
    noise = round(preprocess.impulse_noise_fraction(gray), 5)
    # Denoise before any resampling: rotation smears specks into blobs no filter removes.
    if noise > preprocess.IMPULSE_NOISE_MIN:
        # A 3x3 median erases the thin strokes of CJK glyphs (serif Chinese: CER 0.04 -> 0.08-0.11 on the
        # generated pages), and does best on Latin text, where it also removes specks touching letters.
        denoise = preprocess.despeckle if uses_cjk(languages) else preprocess.median_denoise
        gray = denoise(gray)
        steps.append(denoise.__name__)
    light = round(preprocess.uneven_light(gray), 3)
    if light > preprocess.UNEVEN_LIGHT_MIN and not capabilities.reads_uneven_light:
        gray = preprocess.normalize_background(gray)
        steps.append("normalize_background")

    skew = orientation.estimate_skew(gray)
    rotation = 90 if skew.vertical and skew.clear_axis else 0
    if skew.vertical and not skew.clear_axis:
        rejected.append(Rejected("quarter_turn", 90, f"lines down the page only {skew.sharpness:.2f}x sharper "
                                                     f"than across (a turn needs {orientation.AXIS_MARGIN}x)"))
    if rotation:
        gray = orientation.rotate_quarter(gray, rotation)
        steps.append(f"rotate_{rotation}")
    # A tilt measured for the other axis than the one read is no tilt of these lines.
    tilt = skew.angle if skew.vertical == bool(rotation) else 0.0
    removed = 0.0
    if skew.at_edge and skew.vertical == bool(rotation):
        rejected.append(Rejected("deskew", skew.angle, f"at the edge of the ±{orientation.MAX_SKEW_DEG:g}° search"))
    elif abs(tilt) >= preprocess.SKEW_MIN_DEG:
        gray = orientation.rotate_small(gray, -tilt)
        steps.append("deskew")
        removed = tilt
    across = skew.vertical == bool(rotation)  # the lines run across the image now
    lean = orientation.ascender_lean(gray) if across and not uses_cjk(languages) else None
    if lean is not None and lean.upside_down:
        # Turned over after the deskew: a half turn about the centre commutes with the deskew's rotation, so
        # the plan is the same as turning first (``geometry.placement``), and the tilt needs no new measuring.
        gray = orientation.rotate_quarter(gray, 180)
        rotation = (rotation + 180) % 360
        turn = f"rotate_{rotation}"
        steps = [turn if step.startswith("rotate_") else step for step in steps]
        if turn not in steps:
            steps.insert(steps.index("deskew") if "deskew" in steps else len(steps), turn)
    elif lean is not None and lean.value <= -orientation.LEAN_UPSIDE_DOWN / 2:  # leaning down, not clearly
        rejected.append(Rejected("turn_over", lean.value, f"the ink leans down only {lean.value:+.2f} over "
                                                          f"{lean.lines} lines (a turn needs "
                                                          f"-{orientation.LEAN_UPSIDE_DOWN} over "
                                                          f"{orientation.LEAN_MIN_LINES})"))
    pitch = preprocess.line_pitch(gray)
    scale = preprocess.reading_scale(pitch, capabilities.read_pitch)
    if scale < 1.0:
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        steps.append("downscale")
    dpi = preprocess.resolution_for_pitch(pitch)
    estimate = preprocess.estimated_resolution(pitch)
    if dpi is not None and _below_scale(pitch):
        # Lines closer than the smallest resolution's body text: specks or a picture's texture, not text.
        rejected.append(Rejected("resolution", dpi, f"lines {pitch:.0f} px apart are below the smallest "
                                                    f"resolution's body text ({preprocess.RESOLUTIONS[0]} dpi)"))
        dpi = estimate = None
    measured = Measurements(impulse_noise=noise, uneven_light=light, line_axis_sharpness=skew.sharpness,
                            lines_down=skew.vertical, skew=skew.angle, line_pitch=round(pitch, 1),
                            ascender_lean=None if lean is None else lean.value)
    plan = PagePlan(recipe="auto", steps=tuple(steps), rotation=rotation, skew=removed, scale=scale, dpi=dpi,
                    dpi_estimate=estimate, measurements=measured, rejected=tuple(rejected))
    return Prepared(gray, plan)


def _below_scale(pitch: float) -> bool:
    """Whether lines this close are below the smallest resolution ``RESOLUTIONS`` can name (the estimate would
    be clamped to it): at 75 dpi body text lies 16 px apart; half of that is no text line."""
    smallest = preprocess.RESOLUTIONS[0] * preprocess.BODY_TEXT_PITCH_PX / preprocess.BODY_TEXT_DPI
    return 0 < pitch < smallest / 2
