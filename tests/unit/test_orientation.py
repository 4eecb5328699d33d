"""Page geometry: line axis and skew from projections, quarter turns, and the up/down decision."""

from __future__ import annotations

import numpy as np
import pytest

from s3ocr import orientation


def striped_page(height: int = 600, width: int = 500, pitch: int = 30) -> np.ndarray:
    """White page with dark 'text lines': short bars in rows, like words on lines."""
    page = np.full((height, width), 255, np.uint8)
    for top in range(40, height - 40, pitch):
        for left in range(40, width - 60, 45):
            page[top : top + pitch // 2, left : left + 35] = 0
    return page


def test_level_lines_measure_no_skew():
    # GIVEN a page with level lines WHEN its skew is estimated THEN the lines run across, untilted
    skew = orientation.estimate_skew(striped_page())
    assert not skew.vertical
    assert abs(skew.angle) < 0.2


@pytest.mark.parametrize("tilt", [3.0, -2.5, 9.0])
def test_tilted_lines_measure_their_tilt(tilt):
    # GIVEN a page turned counter-clockwise by ``tilt`` degrees
    page = orientation.rotate_small(striped_page(), tilt)
    # WHEN its skew is estimated THEN the tilt is found with its sign
    skew = orientation.estimate_skew(page)
    assert not skew.vertical
    assert skew.angle == pytest.approx(tilt, abs=0.3)
    # AND turning back by the estimate levels the lines
    assert abs(orientation.estimate_skew(orientation.rotate_small(page, -skew.angle)).angle) < 0.3


def test_lines_running_down_the_page_are_vertical():
    # GIVEN a page turned a quarter WHEN measured THEN its lines are found to run down the page
    page = orientation.rotate_quarter(striped_page(), 270)
    assert orientation.estimate_skew(page).vertical


def test_tilt_of_a_vertical_page_is_given_in_the_upright_frame():
    # GIVEN a tilted page then turned a quarter counter-clockwise
    page = orientation.rotate_quarter(orientation.rotate_small(striped_page(), 3.0), 270)
    # WHEN measured THEN turning it 90 clockwise and removing the reported tilt levels it
    skew = orientation.estimate_skew(page)
    assert skew.vertical
    level = orientation.rotate_small(orientation.rotate_quarter(page, 90), -skew.angle)
    assert abs(orientation.estimate_skew(level).angle) < 0.3


def test_blank_page_has_no_skew():
    skew = orientation.estimate_skew(np.full((100, 100), 255, np.uint8))
    assert (skew.vertical, skew.angle) == (False, 0.0)


def test_rotate_quarter_turns_clockwise():
    # GIVEN a 2x3 image with a marked top-left pixel
    image = np.zeros((2, 3), np.uint8)
    image[0, 0] = 255
    # WHEN turned 90 clockwise THEN it is 3x2 and the mark is at the top right
    turned = orientation.rotate_quarter(image, 90)
    assert turned.shape == (3, 2)
    assert turned[0, 1] == 255
    assert orientation.rotate_quarter(image, 360) is image


def test_rotate_small_grows_canvas_and_fills_with_paper():
    page = np.full((100, 200), 250, np.uint8)
    turned = orientation.rotate_small(page, 10.0)
    assert turned.shape[0] > 100 and turned.shape[1] > 200
    assert turned[0, 0] == 250  # the new corners are paper, not black
    assert orientation.rotate_small(page, 0.0) is page


def way(name: str, text: str, confidence: float) -> orientation.Way:
    from s3ocr.models import Box, Line, Recognition, Word

    words = tuple(Word(token, Box(0, 0, 1, 1), confidence) for token in text.split())
    lines = (Line(text, Box(0, 0, 1, 1), confidence, words),) if text else ()
    return orientation.Way(name, 0, Recognition(text, lines, confidence if text else None))


def test_the_first_sure_reading_is_kept_in_the_order_tried():
    ways = [way("as_planned", "ʇxǝʇ uʍop ǝpısdn", 0.3), way("turned_180", "upside down text", 0.9),
            way("as_came", "upside down text too", 0.95)]
    settled = lambda way: orientation.is_sure(way.reading, 0.6)  # noqa: E731
    assert orientation.best_way(ways, settled).name == "turned_180"


def test_without_a_sure_reading_the_one_saying_most_surely_is_kept():
    # GIVEN garbage read at low confidence, and fewer words read at better than even odds
    ways = [way("as_planned", "a b c d e f g h", 0.45), way("as_came", "several real words", 0.55)]
    # THEN the words under even odds count for nothing, and the surer reading wins
    assert orientation.quality(ways[0].reading) == 0
    assert orientation.best_way(ways, lambda way: orientation.is_sure(way.reading, 0.6)).name == "as_came"
    # AND an empty reading is never sure, even at full confidence
    assert not orientation.is_sure(way("x", "", 1.0).reading, 0.6)


def test_latin_text_leans_up_and_turned_over_leans_down(resources):
    # GIVEN a real English scan
    import cv2

    page = cv2.imread(str(resources / "linn.png"), cv2.IMREAD_GRAYSCALE)
    # WHEN the lean of its lines' ink is measured, upright and turned over
    upright, over = orientation.ascender_lean(page), orientation.ascender_lean(orientation.rotate_quarter(page, 180))
    # THEN ascenders outweigh descenders upright, the other way round turned over, past the margin, on many lines
    assert upright.value > orientation.LEAN_UPSIDE_DOWN and not upright.upside_down
    assert over.value < -orientation.LEAN_UPSIDE_DOWN and over.upside_down
    assert upright.lines >= 50


def test_bars_without_ascenders_and_a_blank_page_lean_neither_way():
    # GIVEN "text" of even bars (no x-height band to stand above or hang below), and a blank page
    bars, blank = striped_page(), np.full((300, 300), 255, np.uint8)
    # WHEN measured  THEN neither is taken for a page upside down
    assert not orientation.ascender_lean(bars[::-1]).upside_down
    assert orientation.ascender_lean(blank) == orientation.Lean(0.0, 0)


@pytest.mark.parametrize("size", [2, 3, 50, 201, 8_000, 117_829])
def test_the_trimmed_span_is_numpys_percentile_to_the_last_bit(size):
    # GIVEN ink row coordinates as the skew search makes them: spread, shifted, sometimes whole numbers with ties
    rng = np.random.default_rng(size)
    for whole in (False, True):
        rows = rng.normal(size=size) * rng.uniform(1, 900) + rng.uniform(-400, 400)
        rows = np.round(rows) if whole else rows
        # WHEN the 0.5 % and 99.5 % points are taken  THEN they are exactly np.percentile's
        assert orientation._trimmed_span(rows) == tuple(np.percentile(rows, [0.5, 99.5]))
