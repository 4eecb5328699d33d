"""Page geometry: line axis and skew from projections, quarter turns, and the up/down decision."""

from __future__ import annotations

import shutil

import cv2
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


def test_text_crop_takes_the_inked_band():
    page = np.full((300, 50), 255, np.uint8)
    page[200:230, 5:45] = 0
    crop = orientation.text_crop(page, rows=40)
    assert crop.shape == (40, 50)
    assert (crop < 128).sum() == 30 * 40


def test_confident_osd_is_taken(monkeypatch):
    # GIVEN OSD sure the page is upside down
    monkeypatch.setattr(orientation, "_osd", lambda gray: (180, 9.5))
    monkeypatch.setattr(orientation, "read_confidence", lambda *a: pytest.fail("probe must not run"))
    # WHEN orientation is detected THEN OSD's answer is used
    result = orientation.detect_orientation(striped_page(), "eng", pitch=30)
    assert (result.rotation, result.method) == (180, "osd")


@pytest.mark.parametrize("osd", [None, (0, 1.2), (90, 8.0)])
@pytest.mark.parametrize(("upright", "flipped", "expected"), [(40.0, 90.0, 180), (85.0, 30.0, 0)])
def test_unsure_osd_falls_back_to_reading_both_ways(monkeypatch, osd, upright, flipped, expected):
    # GIVEN OSD has no answer, a weak one, or one contradicting the measured line axis
    monkeypatch.setattr(orientation, "_osd", lambda gray: osd)
    # AND Tesseract reads the crop as it is, then flipped, with these confidences
    answers = iter([upright, flipped])
    monkeypatch.setattr(orientation, "read_confidence", lambda crop, languages: next(answers))
    # WHEN detected THEN the better read orientation wins
    result = orientation.detect_orientation(striped_page(), "eng", pitch=30)
    assert (result.rotation, result.method) == (expected, "probe")
    assert result.confidence == abs(flipped - upright)


def test_page_without_lines_is_left_as_it_is(monkeypatch):
    monkeypatch.setattr(orientation, "_osd", lambda gray: pytest.fail("OSD must not run"))
    result = orientation.detect_orientation(np.full((50, 50), 255, np.uint8), "eng", pitch=0.0)
    assert (result.rotation, result.method) == (0, "none")


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="needs the tesseract binary")
def test_upside_down_text_is_found_with_real_tesseract():
    # GIVEN a line of real text, rendered and turned upside down
    from PIL import Image, ImageDraw, ImageFont

    try:
        font = ImageFont.truetype("DejaVuSans.ttf", 40)
    except OSError:
        pytest.skip("DejaVu font not installed")
    image = Image.new("L", (1400, 400), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(["The quick brown fox jumps over", "the lazy dog near the riverbank", "every single day"]):
        draw.text((40, 40 + 60 * i), line, font=font, fill=0)
    page = cv2.rotate(np.array(image), cv2.ROTATE_180)
    # WHEN orientation is detected THEN it must be turned 180 degrees
    assert orientation.detect_orientation(page, "eng", pitch=60).rotation == 180
