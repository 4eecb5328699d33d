"""Where a page's words lie on the page as rendered, for the formats drawn over the page itself (hOCR, the TSV of
words, the searchable PDF); and how two words of a line join, for the formats that rebuild text from words.

The ``.json`` keeps each box in the pixels of the image that was read, and in a page's ``placement`` the matrix
onto the page as rendered (``s3ocr.geometry``): the image read may have been turned a quarter, deskewed or scaled.
A page without one (read from its text layer, empty, or written before placements were) lies on the image read
as it is. An axis-aligned box mapped through a turn or a tilt is no longer axis-aligned: formats that can only
hold axis-aligned boxes take the bounding box of its four mapped corners.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from s3ocr.geometry import Matrix, Placement

# What a page of unknown resolution is taken to be: the resolution Tesseract assumes, and the pipeline renders at.
DEFAULT_DPI = 300
Point = tuple[float, float]


def page_placement(page: dict[str, Any]) -> Placement:
    """The page's placement, or the identity onto the image read when the page has none."""
    found = page.get("placement")
    if found:
        a, b, c, d, e, f = (float(value) for value in found["matrix"])
        return Placement(found["width"], found["height"], found["dpi"] or DEFAULT_DPI, (a, b, c, d, e, f))
    return Placement(page["width"], page["height"], page["dpi"] or DEFAULT_DPI)


def map_point(matrix: Matrix, x: float, y: float) -> Point:
    a, b, c, d, e, f = matrix
    return a * x + b * y + c, d * x + e * y + f


def box_corners(matrix: Matrix, box: dict[str, int]) -> tuple[Point, Point, Point, Point]:
    """A ``.json`` box's corners through ``matrix``: its top-left, top-right, bottom-right and bottom-left as read
    (on the page they may face any way)."""
    left, top = box["left"], box["top"]
    right, bottom = left + box["width"], top + box["height"]
    return (map_point(matrix, left, top), map_point(matrix, right, top),
            map_point(matrix, right, bottom), map_point(matrix, left, bottom))


@dataclass(frozen=True)
class PageBox:
    """An axis-aligned box on the page as rendered, by its edges, in whole pixels inside the page."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top


def page_box(placement: Placement, box: dict[str, int]) -> PageBox:
    """The box's bounding box on the page as rendered, rounded outwards (it holds the whole box) and cut to the
    page (a deskewed corner can fall a pixel outside it)."""
    xs, ys = zip(*box_corners(placement.matrix, box), strict=True)
    return PageBox(_edge(min(xs), math.floor, placement.width), _edge(min(ys), math.floor, placement.height),
                   _edge(max(xs), math.ceil, placement.width), _edge(max(ys), math.ceil, placement.height))


def _edge(value: float, rounding: Callable[[float], int], limit: int) -> int:
    # rounded to 6 places first: a scale of 1.32 puts 13.2 at 13.200000000000001, which is not a pixel more
    return min(max(rounding(round(value, 6)), 0), limit)


@dataclass(frozen=True)
class PlacedWord:
    text: str
    confidence: float  # 0..1
    box: PageBox


@dataclass(frozen=True)
class PlacedLine:
    box: PageBox
    words: tuple[PlacedWord, ...]


def placed_lines(page: dict[str, Any]) -> Iterator[PlacedLine]:
    """The page's lines in reading order, their boxes and their words' on the page as rendered."""
    placement = page_placement(page)
    for line in page["lines"]:
        words = tuple(PlacedWord(word["text"], word["confidence"], page_box(placement, word["box"]))
                      for word in line["words"])
        yield PlacedLine(page_box(placement, line["box"]), words)


def _wide(character: str) -> bool:
    """Whether a character is set full-width: CJK ideographs, kana, Hangul, full-width and CJK punctuation."""
    return unicodedata.east_asian_width(character) in ("W", "F")


def joins_tight(left: str, right: str) -> bool:
    """Whether two neighbouring words of a line join without a space: between full-width characters there is
    none ("打印" "匹配"), between Latin words, or Latin and CJK, there is one ("使用 Shell 命令")."""
    return bool(left) and bool(right) and _wide(left[-1]) and _wide(right[0])


def join_words(texts: Iterable[str]) -> str:
    parts: list[str] = []
    for text in texts:
        if parts and not joins_tight(parts[-1], text):
            parts.append(" ")
        parts.append(text)
    return "".join(parts)
