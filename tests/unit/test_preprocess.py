"""Preprocessing: each step and measurement on small synthetic pages, and the auto recipe's plan."""

from __future__ import annotations

import numpy as np
import pytest

from s3ocr import orientation, preprocess
from s3ocr.engines.base import Capabilities
from s3ocr.errors import ConfigurationError
from s3ocr.plan import Prepared, prepare
from s3ocr.preprocess import resolve_recipe
from s3ocr.settings import uses_cjk


def text_page(height: int = 600, width: int = 500, pitch: int = 30) -> np.ndarray:
    """White page with rows of dark 'words' every ``pitch`` px."""
    page = np.full((height, width), 255, np.uint8)
    for top in range(40, height - 40, pitch):
        for left in range(40, width - 60, 45):
            page[top : top + pitch // 2, left : left + 35] = 0
    return page


def with_specks(page: np.ndarray, share: float = 0.03, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noisy = page.copy()
    hits = rng.random(page.shape)
    noisy[hits < share / 2] = 0
    noisy[hits > 1 - share / 2] = 255
    return noisy


def shadowed(page: np.ndarray) -> np.ndarray:
    light = np.linspace(1.0, 0.55, page.shape[1], dtype=np.float32)[None, :]
    return (page.astype(np.float32) * light).astype(np.uint8)


def test_grayscale_converts_colour_and_keeps_gray():
    gray = np.full((4, 5), 7, np.uint8)
    assert preprocess.grayscale(gray) is gray
    assert preprocess.grayscale(np.zeros((4, 5, 3), np.uint8)).shape == (4, 5)
    assert preprocess.grayscale(np.zeros((4, 5, 4), np.uint8)).shape == (4, 5)


def test_median_denoise_removes_a_speck_and_keeps_a_stroke():
    page = np.full((20, 20), 255, np.uint8)
    page[3, 3] = 0  # speck
    page[10:15, 5:15] = 0  # stroke
    clean = preprocess.median_denoise(page)
    assert clean[3, 3] == 255
    assert (clean[11:14, 6:14] == 0).all()


def test_impulse_noise_is_measured_only_on_specks():
    # GIVEN a clean page and the same page with salt-and-pepper noise
    page = text_page()
    # THEN only the noisy one measures above the median filter's threshold
    assert preprocess.impulse_noise_fraction(page) == 0.0
    assert preprocess.impulse_noise_fraction(with_specks(page)) > preprocess.IMPULSE_NOISE_MIN


def test_normalize_background_whitens_paper_and_keeps_ink():
    # GIVEN a page darkening to 55 % brightness on its right
    page = shadowed(text_page())
    assert preprocess.uneven_light(page) > preprocess.UNEVEN_LIGHT_MIN
    # WHEN the background is divided out
    flat = preprocess.normalize_background(page)
    # THEN the paper is white on both sides, the ink still dark, and the light measures even
    assert flat[5:30, 5:30].min() > 240 and flat[5:30, -30:-5].min() > 240
    assert flat[40:50, 400:430].max() < 60
    assert preprocess.uneven_light(flat) < preprocess.UNEVEN_LIGHT_MIN


def test_evenly_lit_page_measures_even():
    assert preprocess.uneven_light(text_page()) < 0.01


@pytest.mark.parametrize("pitch", [24, 30, 64])
def test_line_pitch_is_the_line_spacing(pitch):
    assert preprocess.line_pitch(text_page(height=900, pitch=pitch)) == pytest.approx(pitch, abs=1)


def test_line_pitch_of_a_blank_page_is_zero():
    assert preprocess.line_pitch(np.full((100, 100), 255, np.uint8)) == 0.0


@pytest.mark.parametrize(
    ("pitch", "dpi"), [(32, 150), (44, 200), (40, 200), (20, 100), (5, 75), (0, None), (48, None), (200, None)]
)
def test_resolution_for_pitch(pitch, dpi):
    assert preprocess.resolution_for_pitch(pitch) == dpi


@pytest.mark.parametrize(("pitch", "dpi"), [(64, 300), (70, 300), (92, 300), (48, 200), (32, 150), (0, None)])
def test_estimated_resolution_treats_any_text_as_body_text(pitch, dpi):
    assert preprocess.estimated_resolution(pitch) == dpi


def test_deskew_step_levels_tilted_lines():
    tilted = orientation.rotate_small(text_page(), 4.0)
    level = preprocess.deskew(tilted)
    assert abs(orientation.estimate_skew(level).angle) < 0.3
    assert preprocess.deskew(text_page()).shape == text_page().shape  # level pages are not resampled


def test_despeckle_removes_specks_of_both_kinds_and_keeps_thin_strokes():
    # GIVEN a 3 px stroke with a light speck in it, a hairline, and a dark speck on the paper
    page = np.full((20, 20), 255, np.uint8)
    page[8:11, 2:18] = 0
    page[9, 10] = 255
    page[15, 2:18] = 0
    page[3, 3] = 0
    # WHEN despeckled THEN both specks are gone and both strokes are whole
    clean = preprocess.despeckle(page)
    assert clean[3, 3] == 255
    assert (clean[8:11, 3:17] == 0).all()
    assert (clean[15, 2:18] == 0).all()
    # (where a 3x3 median erases the hairline)
    assert (preprocess.median_denoise(page)[15, 3:17] == 255).all()


def test_upscale_2x_doubles_size():
    assert preprocess.upscale_2x(np.zeros((3, 4), np.uint8)).shape == (6, 8)


def test_resolve_recipe_names_and_lists():
    assert resolve_recipe("seed") == ("grayscale", "gaussian_blur", "threshold_127")
    assert resolve_recipe("grayscale, median_denoise") == ("grayscale", "median_denoise")
    with pytest.raises(ConfigurationError):
        resolve_recipe("grayscale,sharpen")
    with pytest.raises(ConfigurationError):
        resolve_recipe(" , ")


def test_every_recipe_names_known_steps():
    for steps in preprocess.RECIPES.values():
        assert set(steps) <= set(preprocess.STEPS)


def test_fixed_recipe_applies_its_steps_and_reports_them():
    page = np.dstack([text_page()] * 3)
    prepared = prepare(page, "seed")
    assert isinstance(prepared, Prepared)
    assert prepared.image.ndim == 2
    assert set(np.unique(prepared.image)) <= {0, 255}
    assert prepared.plan.steps == ("grayscale", "gaussian_blur", "threshold_127")
    assert prepared.plan.rotation == 0 and not prepared.plan.rejected


def test_auto_leaves_a_clean_page_of_body_text_alone():
    page = text_page(height=900, pitch=64)
    prepared = prepare(page, "auto", "eng")
    assert prepared.plan.steps == ("grayscale",) and not prepared.plan.changes_page
    assert np.array_equal(prepared.image, page)
    assert (prepared.plan.rotation, prepared.plan.skew) == (0, 0.0)


@pytest.mark.parametrize(("languages", "denoise"), [("chi_sim+eng", "despeckle"), ("eng", "median_denoise")])
def test_auto_denoises_flattens_and_deskews_only_when_measured(languages, denoise):
    # GIVEN a tilted, shadowed page with salt-and-pepper noise
    page = with_specks(shadowed(orientation.rotate_small(text_page(), 3.0)))
    # WHEN prepared
    prepared = prepare(page, "auto", languages)
    report = prepared.plan.report()
    # THEN each remedy was applied (the denoiser that spares CJK strokes for CJK), with its measurement
    assert report["steps"] == ["grayscale", denoise, "normalize_background", "deskew"]
    assert report["measurements"]["impulse_noise"] > preprocess.IMPULSE_NOISE_MIN
    assert report["measurements"]["uneven_light"] > preprocess.UNEVEN_LIGHT_MIN
    assert report["skew"] == pytest.approx(3.0, abs=0.3)
    assert preprocess.impulse_noise_fraction(prepared.image) < preprocess.IMPULSE_NOISE_MIN
    # AND for an engine that reads under uneven light, the light is left as it is
    light = prepare(page, "auto", languages, Capabilities(reads_uneven_light=True)).plan
    assert "normalize_background" not in light.steps and "deskew" in light.steps


@pytest.mark.parametrize(
    ("languages", "cjk"), [("chi_sim+eng", True), ("eng+jpn", True), ("kor", True), ("eng", False), ("deu+fra", False)]
)
def test_uses_cjk(languages, cjk):
    assert uses_cjk(languages) is cjk


def test_auto_turns_a_page_whose_lines_clearly_run_down_a_quarter():
    # GIVEN a page turned 90 degrees  WHEN prepared  THEN turned back a quarter (up or down is the reading's)
    prepared = prepare(orientation.rotate_quarter(text_page(), 270), "auto", "eng")
    assert prepared.plan.rotation == 90 and prepared.plan.lines_down
    assert prepared.image.shape == text_page().shape  # its lines run across again
    assert "rotate_90" in prepared.plan.steps


def test_a_tilt_at_the_edge_of_the_search_is_no_measurement_and_is_not_removed():
    # GIVEN a page of lines tilted 16 degrees: beyond the ±15 degree search, which then stops at its edge
    page = np.full((900, 900), 255, np.uint8)
    for top in range(60, 840, 40):
        page[top:top + 18, 60:840] = 0
    page = orientation.rotate_small(page, 16.0)
    # WHEN prepared  THEN nothing is deskewed, and the plan says which decision it refused and why
    plan = prepare(page, "auto", "eng").plan
    assert "deskew" not in plan.steps and plan.skew == 0.0
    assert [(r.decision, r.reason) for r in plan.rejected] == [("deskew", "at the edge of the ±15° search")]
    assert abs(plan.measurements.skew) >= 14.5


def test_an_axis_barely_sharper_down_than_across_does_not_turn_the_page():
    # GIVEN a grid of square blobs: as sharp down the page as across it
    page = np.full((600, 600), 255, np.uint8)
    for top in range(40, 560, 40):
        for left in range(40, 560, 40):
            page[top:top + 20, left:left + 20] = 0
    plan = prepare(page, "auto", "eng").plan
    # THEN no quarter turn, whichever way the measurement leant
    assert plan.rotation == 0 and "rotate_90" not in plan.steps
    assert plan.measurements.line_axis_sharpness < orientation.AXIS_MARGIN


def test_auto_reads_large_text_at_the_pitch_asked_for_and_leaves_the_rest_alone():
    large = prepare(text_page(height=1200, width=1000, pitch=100), "auto", "eng", Capabilities(read_pitch=50))
    assert large.plan.scale == 0.5 and "downscale" in large.plan.steps
    assert large.image.shape == (600, 500)
    for pitch, read_pitch in ((52, 50), (100, None)):  # within 10 % of the pitch asked for; no pitch asked for
        page = prepare(text_page(height=1200, width=1000, pitch=pitch), "auto", "eng",
                       Capabilities(read_pitch=read_pitch))
        assert page.plan.scale == 1.0 and "downscale" not in page.plan.steps
        assert page.image.shape == (1200, 1000)


def test_auto_reports_small_text_as_low_resolution():
    assert prepare(text_page(height=900, pitch=32), "auto", "eng").plan.dpi == 150
    assert prepare(text_page(height=900, pitch=64), "auto", "eng").plan.dpi is None
    # ... and still estimates the resolution, for files that do not state theirs
    assert prepare(text_page(height=900, pitch=64), "auto", "eng").plan.dpi_estimate == 300


def test_a_blank_page_is_known_blank_and_a_page_with_a_word_is_not():
    paper = np.full((3508, 2480), 235, np.uint8)
    assert preprocess.ink(paper).blank
    # scanner dust and noise are not marks
    rng = np.random.default_rng(3)
    dusty = np.clip(paper.astype(np.int16) + rng.normal(0, 6, paper.shape), 0, 255).astype(np.uint8)
    dusty[1000:1003, 500:503] = 60
    assert preprocess.ink(dusty).blank
    # one short word is
    word = paper.copy()
    for left in range(1000, 1200, 45):
        word[1700:1750, left:left + 30] = 30
    assert not preprocess.ink(word).blank
