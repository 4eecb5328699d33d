"""Cutting a page into bands: only across blank rows, never through columns, with equal shares of ink."""

from __future__ import annotations

import numpy as np
import pytest

from s3ocr.pagesplit import MIN_BAND_PX, bands


def page(height: int = 3000, width: int = 2000) -> np.ndarray:
    return np.full((height, width), 240, np.uint8)


def text_lines(image: np.ndarray, top: int, count: int, left: int = 100, right: int = 1900,
               pitch: int = 60, height: int = 30) -> np.ndarray:
    """Lines of 'text': dark bars with letter gaps, ``pitch`` px apart."""
    for i in range(count):
        y = top + i * pitch
        image[y:y + height, left:right] = 20
        image[y:y + height, left:right:37] = 240  # gaps between letters
    return image


def test_two_paragraphs_are_cut_in_the_blank_rows_between_them():
    image = text_lines(text_lines(page(), 200, 20), 1600, 20)  # 200-1370 and 1600-2770, a 230 px gap
    result = bands(image, 2)
    assert len(result) == 2
    assert (result[0].top, result[-1].bottom) == (0, 3000)
    cut = result[0].bottom
    assert result[1].top == cut
    assert 1370 <= cut < 1600  # inside the paragraph gap, not between two lines of one paragraph
    assert (image[cut - 2:cut + 2] == 240).all()


def test_cuts_never_cross_ink_and_shares_are_even():
    image = text_lines(page(), 100, 45)  # one even block: cuts fall between lines
    result = bands(image, 3)
    assert len(result) == 3
    for band in result[1:]:
        assert (image[band.top] == 240).all(), band
    ink = [(image[band.top:band.bottom] < 128).sum() for band in result]
    assert max(ink) / min(ink) < 1.25


def test_a_page_with_columns_is_left_whole():
    image = text_lines(text_lines(page(), 200, 40, left=100, right=950), 200, 40, left=1050, right=1900)
    assert bands(image, 2) == bands(image, 1)
    assert len(bands(image, 2)) == 1


@pytest.mark.parametrize("image", [
    page(),  # blank
    text_lines(page(), 1000, 2),  # too little text for two bands
    text_lines(page(MIN_BAND_PX, 2000), 20, 2),  # too short a page
    np.full((3000, 2000), 20, np.uint8),  # all ink, nowhere to cut
], ids=["blank", "two-lines", "short", "dark"])
def test_pages_that_cannot_be_cut_safely_stay_whole(image):
    result = bands(image, 2)
    assert [(band.top, band.bottom) for band in result] == [(0, image.shape[0])]
