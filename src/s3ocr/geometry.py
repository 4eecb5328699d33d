"""Where a page's boxes lie on the page as it came.

The boxes an engine returns are in the pixels of the image it read, which may be the rendered page turned a
quarter, deskewed and scaled, then turned again (``s3ocr.reading``: a page read upside down, or standing for
vertical writing). Formats that draw on the page itself (hOCR, the searchable PDF) need the boxes on the page as
rendered: ``Placement`` is that map, an affine matrix, composed from the same decisions the pixels went through.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Matrix = tuple[float, float, float, float, float, float]  # x' = a*x + b*y + c, y' = d*x + e*y + f
IDENTITY: Matrix = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def then(first: Matrix, second: Matrix) -> Matrix:
    """The map ``first``, then ``second``."""
    a, b, c, d, e, f = second
    p, q, r, s, t, u = first
    return (a * p + b * s, a * q + b * t, a * r + b * u + c, d * p + e * s, d * q + e * t, d * r + e * u + f)


def inverse(matrix: Matrix) -> Matrix:
    a, b, c, d, e, f = matrix
    det = a * e - b * d
    return (e / det, -b / det, (b * f - c * e) / det, -d / det, a / det, (c * d - a * f) / det)


@dataclass(frozen=True)
class Placement:
    """The page as rendered (``width`` × ``height`` pixels at ``dpi``) and the matrix taking a point of the image
    read onto it."""

    width: int
    height: int
    dpi: int
    matrix: Matrix = IDENTITY

    def to_dict(self) -> dict[str, object]:
        return {"width": self.width, "height": self.height, "dpi": self.dpi,
                "matrix": [round(value, 6) + 0.0 for value in self.matrix]}  # + 0.0: no "-0.0"


def _quarter(turn: int, width: float, height: float) -> tuple[Matrix, float, float]:
    """A clockwise turn of a ``width`` × ``height`` image by 0/90/180/270 degrees (``orientation.rotate_quarter``),
    as a matrix on edge coordinates, and the turned size."""
    turn %= 360
    if turn == 90:
        return (0.0, -1.0, height, 1.0, 0.0, 0.0), height, width
    if turn == 180:
        return (-1.0, 0.0, width, 0.0, -1.0, height), width, height
    if turn == 270:
        return (0.0, 1.0, 0.0, -1.0, 0.0, width), height, width
    return IDENTITY, width, height


def _deskew(angle: float, width: float, height: float) -> tuple[Matrix, float, float]:
    """``orientation.rotate_small(image, angle)``: about the centre, onto a canvas grown to hold the corners."""
    if abs(angle) < 1e-3:
        return IDENTITY, width, height
    radians = math.radians(angle)
    cos, sin = math.cos(radians), math.sin(radians)
    new_w, new_h = int(height * abs(sin) + width * abs(cos) + 0.5), int(height * abs(cos) + width * abs(sin) + 0.5)
    cx, cy = width / 2, height / 2
    # cv2.getRotationMatrix2D(centre, angle, 1), then moved to the grown canvas's centre.
    matrix = (cos, sin, (1 - cos) * cx - sin * cy + new_w / 2 - cx,
              -sin, cos, sin * cx + (1 - cos) * cy + new_h / 2 - cy)
    return matrix, new_w, new_h


def placement(width: int, height: int, dpi: int, turn: int = 0, skew: float = 0.0, scale: float = 1.0,
              turn_after: int = 0) -> Placement:
    """The placement of an image made from the rendered page (``width`` × ``height``) by a clockwise ``turn``, the
    removal of ``skew`` degrees of tilt (counter-clockwise), a ``scale`` and a clockwise ``turn_after``: the
    inverse of those steps, in that order."""
    forward, w, h = _quarter(turn, width, height)
    step, w, h = _deskew(-skew, w, h)
    forward = then(then(forward, step), (scale, 0.0, 0.0, 0.0, scale, 0.0))
    step, _, _ = _quarter(turn_after, w * scale, h * scale)
    return Placement(width, height, dpi, inverse(then(forward, step)))
