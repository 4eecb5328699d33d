"""The placement undoes exactly what the pixels went through: a mark drawn on a page is found, through the steps the
pipeline applies (``orientation.rotate_quarter``, ``rotate_small``, ``cv2.resize``), and mapped back onto itself."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from s3ocr import orientation
from s3ocr.geometry import placement


def _mark_centre(image: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(image < 128)
    return float(xs.mean()) + 0.5, float(ys.mean()) + 0.5  # edge coordinates of the pixels' centres


@pytest.mark.parametrize(("turn", "skew", "scale", "turn_after"), [
    (0, 0.0, 1.0, 0), (90, 0.0, 1.0, 0), (0, 4.5, 1.0, 0), (90, -3.0, 0.5, 0), (0, 2.0, 0.75, 180),
    (90, 1.5, 1.0, 270), (0, 0.0, 1.0, 180),
])
def test_a_mark_maps_back_to_where_it_was_drawn(turn: int, skew: float, scale: float, turn_after: int) -> None:
    page = np.full((600, 400), 255, np.uint8)
    cv2.rectangle(page, (300, 80), (320, 100), 0, -1)  # off centre, so every turn moves it
    expected = _mark_centre(page)
    image = orientation.rotate_quarter(page, turn)
    image = orientation.rotate_small(image, -skew)
    if scale != 1.0:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    image = orientation.rotate_quarter(image, turn_after)
    x, y = _mark_centre(image)
    a, b, c, d, e, f = placement(400, 600, 300, turn, skew, scale, turn_after).matrix
    assert (a * x + b * y + c, d * x + e * y + f) == pytest.approx(expected, abs=2.0)



@pytest.mark.parametrize(("quarter", "skew", "scale"), [(0, 3.0, 1.0), (90, -2.0, 0.5), (0, 0.0, 0.75)])
def test_a_page_turned_over_after_its_deskew_maps_back_as_if_turned_first(quarter: int, skew: float,
                                                                          scale: float) -> None:
    # GIVEN the plan's order for a Latin page whose ink leans down: the quarter turn, the deskew, then the half
    # turn, then the scale (plan.prepare_auto), and a plan that records one turn of quarter + 180
    page = np.full((600, 400), 255, np.uint8)
    cv2.rectangle(page, (300, 80), (320, 100), 0, -1)
    expected = _mark_centre(page)
    image = orientation.rotate_small(orientation.rotate_quarter(page, quarter), -skew)
    image = orientation.rotate_quarter(image, 180)
    if scale != 1.0:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    # WHEN its mark is mapped back by the placement of that plan  THEN it lands where it was drawn: the half
    # turn about the centre commutes with the deskew
    x, y = _mark_centre(image)
    a, b, c, d, e, f = placement(400, 600, 300, quarter + 180, skew, scale).matrix
    assert (a * x + b * y + c, d * x + e * y + f) == pytest.approx(expected, abs=2.0)

def test_no_steps_is_the_identity() -> None:
    assert placement(400, 600, 300).to_dict() == {"width": 400, "height": 600, "dpi": 300,
                                                  "matrix": [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]}
