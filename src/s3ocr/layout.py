"""Reading order from boxes, for every engine: lines grouped into rows, rows into blocks, blocks ordered as a
person reads them.

Engines hand back text lines with boxes, in an order of their own: PP-OCR in detection order (columns
interleave), a page read in bands band by band, cloud services as their layout model saw it. The page's text
is rebuilt here from the boxes alone, by a recursive XY-cut:

- A region is first cut down a *gutter*: a blank vertical strip through the whole region, with text columns on
  both sides (lines many times longer than tall, several of them). Columns are read left to right (vertical
  CJK writing: right to left). A table or a receipt also has blank vertical strips, but its cells are short:
  it is not cut there, so each of its rows reads as one line.
- Otherwise the region is cut across its widest blank horizontal gap, top part first, and each part is cut
  again. A title above two columns, or footnotes below them, come off this way, so the columns beneath can be
  found; headers come first and footnotes last because they are above and below.
- A region that no longer cuts is a block: its boxes are grouped into rows by vertical overlap, each row read
  left to right (cells of a table row, or the pieces of one line, joined by a space).

Vertical CJK writing (most boxes much taller than wide) is ordered in the frame of the page turned a quarter
counter-clockwise, where its columns become rows read top to bottom.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace

from s3ocr.models import Box, Line, mean_word_confidence

# A gutter is at least this many line heights wide. Between columns of text it is 0.5-4 line heights of ink
# to ink, but detector boxes carry a margin around the ink that can close it to a few pixels.
GUTTER_MIN_LINE_HEIGHTS = 0.1
# Text columns on both sides of a gutter: at least this many lines each, their median length at least this
# many line heights (a prose line holds 20+ characters; table cells and receipt amounts hold a few).
COLUMN_MIN_LINES = 2
COLUMN_MIN_LENGTH = 6.0
# Detector boxes (PP-OCR's, after its unclip) reach this share of their height beyond the ink on either side, so
# the boxes of two columns can overlap across a narrow gutter: gutters are looked for between boxes trimmed by it.
BOX_MARGIN = 0.25
# Boxes are on one row when they overlap vertically by at least this share of the lower one's height.
ROW_OVERLAP = 0.5
# Vertical writing: most boxes at least this many times taller than wide.
VERTICAL_ASPECT = 2.0


@dataclass(frozen=True)
class Block:
    """Rows of a block in reading order; each row is the lines on one text line, left to right."""

    rows: tuple[tuple[Line, ...], ...]


def is_vertical_writing(lines: Sequence[Line]) -> bool:
    """Whether most lines are columns of vertical writing (boxes much taller than wide, several characters)."""
    boxes = [line.box for line in lines if line.box.width > 0 and line.box.height > 0 and len(line.text) > 1]
    tall = sum(box.height >= VERTICAL_ASPECT * box.width for box in boxes)
    return bool(boxes) and tall > len(boxes) / 2


def reading_order(lines: Sequence[Line], vertical: bool | None = None) -> tuple[Block, ...]:
    """The lines as blocks of rows, in reading order (see the module doc). Lines without a box keep their
    place at the end, in the order given."""
    if vertical is None:
        vertical = is_vertical_writing(lines)
    boxed = [(i, line) for i, line in enumerate(lines) if line.box.width > 0 and line.box.height > 0]
    unboxed = [line for line in lines if line.box.width <= 0 or line.box.height <= 0]
    if not boxed:
        return (Block(rows=tuple((line,) for line in unboxed)),) if unboxed else ()
    # Work in a frame where lines run across: for vertical writing, the page turned a quarter counter-clockwise.
    right = max(line.box.left + line.box.width for _, line in boxed)
    items = [_Item(i, _turned(line.box, right) if vertical else line.box) for i, line in boxed]
    unit = statistics.median(item.height for item in items)
    blocks: list[list[list[_Item]]] = []
    _cut(items, max(unit, 1.0), blocks)
    ordered = [Block(rows=tuple(tuple(lines[item.index] for item in row) for row in rows)) for rows in blocks]
    if unboxed:
        ordered.append(Block(rows=tuple((line,) for line in unboxed)))
    return tuple(ordered)


def ordered_lines(lines: Sequence[Line], vertical: bool | None = None) -> tuple[tuple[Line, ...], str]:
    """The page's lines in reading order, each row joined into one line, and the text they make: rows on lines
    of their own, a blank line between blocks."""
    blocks = reading_order(lines, vertical)
    rows = [[_join(row) for row in block.rows] for block in blocks]
    text = "\n\n".join("\n".join(line.text for line in block) for block in rows)
    return tuple(line for block in rows for line in block), text


def _join(row: tuple[Line, ...]) -> Line:
    """One line from the pieces of a row: texts joined by a space, boxes united, words kept in order."""
    if len(row) == 1:
        return row[0]
    box = row[0].box
    for line in row[1:]:
        box = box.union(line.box)
    words = tuple(word for line in row for word in line.words)
    confidence = mean_word_confidence(row)
    if confidence is None:
        confidence = round(sum(line.confidence for line in row) / len(row), 4)
    return replace(row[0], text=" ".join(line.text for line in row), box=box, confidence=confidence, words=words)


@dataclass(frozen=True)
class _Item:
    index: int
    box: Box

    @property
    def left(self) -> int:
        return self.box.left

    @property
    def right(self) -> int:
        return self.box.left + self.box.width

    @property
    def top(self) -> int:
        return self.box.top

    @property
    def bottom(self) -> int:
        return self.box.top + self.box.height

    @property
    def height(self) -> int:
        return self.box.height

    @property
    def width(self) -> int:
        return self.box.width


def _turned(box: Box, page_right: int) -> Box:
    """The box in the frame of the page turned a quarter counter-clockwise: right-hand columns come first."""
    return Box(left=box.top, top=page_right - (box.left + box.width), width=box.height, height=box.width)


def _gaps(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Blank stretches between the covered spans (start, end), as (start, end) pairs, in order."""
    gaps = []
    spans = sorted(spans)
    reach = spans[0][1]
    for start, end in spans[1:]:
        if start > reach:
            gaps.append((reach, start))
        reach = max(reach, end)
    return gaps


def _is_column(items: list[_Item], unit: float) -> bool:
    """Prose lines: several, and long compared with their height."""
    if len(items) < COLUMN_MIN_LINES:
        return False
    return statistics.median(item.width for item in items) >= COLUMN_MIN_LENGTH * unit


def _covered(spans: list[tuple[float, float]], allowed: int) -> list[tuple[float, float]]:
    """Stretches covered by at most ``allowed`` of the spans, between the first start and the last end."""
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    runs, depth, opened = [], 0, None
    for x, step in events:
        depth += step
        if depth <= allowed and opened is None:
            opened = x
        elif depth > allowed and opened is not None:
            if x > opened:
                runs.append((opened, x))
            opened = None
    return runs


def _gutter(items: list[_Item], unit: float, crossing: int = 0) -> tuple[float, list[_Item]] | None:
    """The x of the widest gutter with text columns on both sides, and the boxes that cross it (at most
    ``crossing`` of them: a title or a footnote across the columns), or None."""
    best: tuple[float, float, list[_Item]] | None = None
    trimmed = [(item.left + margin, item.right - margin) for item in items
               for margin in [min(BOX_MARGIN * item.height, 0.25 * item.width)]]
    first, last = min(start for start, _ in trimmed), max(end for _, end in trimmed)
    for start, end in _covered(trimmed, crossing):
        if end - start < GUTTER_MIN_LINE_HEIGHTS * unit or start <= first or end >= last:
            continue
        middle = (start + end) / 2
        across = [item for (left, right), item in zip(trimmed, items, strict=True) if left < middle < right]
        left = [item for item in items if item not in across and (item.left + item.right) / 2 < middle]
        right = [item for item in items if item not in across and (item.left + item.right) / 2 >= middle]
        if _is_column(left, unit) and _is_column(right, unit) and (best is None or end - start > best[0]):
            best = (end - start, middle, across)
    return (best[1], best[2]) if best else None


def _cut(items: list[_Item], unit: float, blocks: list[list[list[_Item]]]) -> None:
    if len(items) > 1:
        found = _gutter(items, unit)
        if found is not None:
            middle = found[0]
            _cut([item for item in items if (item.left + item.right) / 2 < middle], unit, blocks)
            _cut([item for item in items if (item.left + item.right) / 2 >= middle], unit, blocks)
            return
        gaps = _gaps([(item.top, item.bottom) for item in items])
        if gaps:
            # Columns under a title, or above footnotes, that run across them: cut the region above and below
            # each of those first, so that the columns beneath are found whole.
            found = _gutter(items, unit, crossing=max(1, len(items) // 10))
            cuts = sorted({gap for across in (found[1] if found else []) for gap in _beside(across, gaps)})
            if cuts:
                edges = [-math.inf, *((start + end) / 2 for start, end in cuts), math.inf]
                for top, bottom in itertools.pairwise(edges):
                    _cut([item for item in items if top <= (item.top + item.bottom) / 2 < bottom], unit, blocks)
                return
            start, end = max(gaps, key=lambda gap: gap[1] - gap[0])
            middle = (start + end) / 2
            # Parts read as one block when the gap is no more than a line gap: they are rows of one paragraph.
            before = len(blocks)
            _cut([item for item in items if item.bottom <= middle], unit, blocks)
            _cut([item for item in items if item.top >= middle], unit, blocks)
            if end - start < unit and len(blocks) == before + 2:
                blocks[before:] = [blocks[before] + blocks[before + 1]]
            return
    blocks.append(_rows(items))


def _beside(item: _Item, gaps: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The blank gaps right above and right below a box."""
    above = [gap for gap in gaps if gap[1] <= item.top]
    below = [gap for gap in gaps if gap[0] >= item.bottom]
    return ([max(above)] if above else []) + ([min(below)] if below else [])


def _rows(items: list[_Item]) -> list[list[_Item]]:
    """Boxes grouped into rows by vertical overlap, rows top to bottom, each left to right."""
    rows: list[list[_Item]] = []
    for item in sorted(items, key=lambda item: (item.top + item.bottom) / 2):
        row = rows[-1] if rows else None
        if row is not None:
            # The row's own extent, not the union of its boxes: a union grows with every slanted or tall box
            # until it swallows the next line.
            top, bottom = statistics.median(i.top for i in row), statistics.median(i.bottom for i in row)
            overlap = min(bottom, item.bottom) - max(top, item.top)
            if overlap >= ROW_OVERLAP * min(item.height, bottom - top):
                row.append(item)
                continue
        rows.append([item])
    return [sorted(row, key=lambda item: item.left) for row in rows]
