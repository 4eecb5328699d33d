"""Markdown of a reading: paragraphs, headings and tables where the layout of the lines shows them.

The lines come in reading order; their boxes give the rest, measured against the page's median line height (a
line box's height: the text size, give or take ascenders and descenders):

- a short line clearly taller than the body text (``HEADING`` times the median), its words of one size, is a
  heading, ``#`` when it is twice as tall, ``##`` otherwise;
- a gap between two lines of a third of a line height or more starts a paragraph (the lines of a paragraph are
  set closer than that, paragraphs and list items further apart), and so does a line that goes back up the page
  (the next column);
- at least ``TABLE_ROWS`` consecutive lines that each split, at gaps of ``CELL_GAP`` line heights or more between
  words, into the same number of cells (two or more), with the cells of each column clear of the next column's
  in every row, are a table: a GitHub pipe table, its first row the header.

Everything else is a paragraph of its lines' own text (``line["text"]``: its spacing, CJK or Latin, is kept);
cells are the only text rebuilt from words. Text is escaped so that it reads as text, not markup. Each page opens
with ``<!-- page N -->`` (and its status when it is not ``ok``), and pages are separated by a rule. A page read
from its text layer has no boxes: its text is split into paragraphs at blank lines.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from s3ocr.sinks.placement import join_words, joins_tight

HEADING = 1.4  # a heading is at least this many times the median line height
TITLE = 2.0  # ... and a first-level heading this many
SHORT_LINE = 60  # characters: a longer line is text, however tall
MIXED_SIZES = 1.6  # a line whose tallest word is more than this many times its shortest is no heading
PARAGRAPH_GAP = 1 / 3  # line heights between two lines that start a paragraph
CELL_GAP = 1.5  # line heights between two words that split cells
TABLE_ROWS = 3

_INLINE = re.compile(r"([\\`*_\[\]<>|~]|&(?=#?\w+;))")
# "54.3%" opens no list: a number's mark is a list's only with a space (or nothing) after it
_LINE_START = re.compile(r"^([#+=-])|^(\d+)([.)])(?=\s|$)")


def escape(text: str) -> str:
    """``text`` as literal Markdown: inline marks escaped, and what would open a block at the start of a line."""
    text = _INLINE.sub(r"\\\1", text.strip())
    return _LINE_START.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", text)


def _join_lines(texts: list[str]) -> str:
    """A paragraph's lines, a soft break between them, or nothing where the text runs on in CJK (a renderer makes
    a soft break a space)."""
    joined = texts[0]
    for text in texts[1:]:
        joined += text if joins_tight(joined, text) else "\n" + text
    return joined


@dataclass(frozen=True)
class _Block:
    kind: str  # "heading1", "heading2", "paragraph" or "table"
    lines: list[dict[str, Any]]


def _top(line: dict[str, Any]) -> int:
    return int(line["box"]["top"])


def _bottom(line: dict[str, Any]) -> int:
    return int(line["box"]["top"] + line["box"]["height"])


def _cells(line: dict[str, Any], gap: float) -> list[list[dict[str, Any]]]:
    """The line's words, in runs split where the space between two words is ``gap`` pixels or more."""
    cells: list[list[dict[str, Any]]] = []
    for word in line["words"]:
        if cells and word["box"]["left"] - _right(cells[-1][-1]) < gap:
            cells[-1].append(word)
        else:
            cells.append([word])
    return cells


def _right(word: dict[str, Any]) -> int:
    return int(word["box"]["left"] + word["box"]["width"])


def _table_length(rows: list[list[list[dict[str, Any]]]]) -> int:
    """How many rows from the first make one table: the same number of cells, two or more, each column clear of
    the next in all of them."""
    count = len(rows[0])
    if count < 2:
        return 0
    rights = [0] * count  # the rightmost edge of each column so far
    lefts = [float("inf")] * count  # the leftmost edge of each column so far
    length = 0
    for cells in rows:
        if len(cells) != count:
            break
        rights = [max(r, _right(cell[-1])) for r, cell in zip(rights, cells, strict=True)]
        lefts = [min(le, cell[0]["box"]["left"]) for le, cell in zip(lefts, cells, strict=True)]
        if any(rights[j] >= lefts[j + 1] for j in range(count - 1)):
            break
        length += 1
    return length


def _one_size(line: dict[str, Any]) -> bool:
    """Whether a line's words are of one size: a heading's are. A stamp or a handwritten mark beside body text
    makes a line tall without making it a heading."""
    heights = [word["box"]["height"] for word in line["words"]]
    return len(heights) < 2 or max(heights) <= MIXED_SIZES * min(heights)


def _kind(line: dict[str, Any], median: float) -> str:
    ratio = line["box"]["height"] / median
    if ratio >= HEADING and len(line["text"]) <= SHORT_LINE and _one_size(line):
        return "heading1" if ratio >= TITLE else "heading2"
    return "paragraph"


def _blocks(lines: list[dict[str, Any]], median: float) -> Iterator[_Block]:
    rows = [_cells(line, CELL_GAP * median) for line in lines]
    i = 0
    paragraph: list[dict[str, Any]] = []
    while i < len(lines):
        table = _table_length(rows[i:])
        kind = "table" if table >= TABLE_ROWS else _kind(lines[i], median)
        if paragraph and (kind != "paragraph" or _starts_paragraph(paragraph[-1], lines[i], median)):
            yield _Block("paragraph", paragraph)
            paragraph = []
        if kind == "paragraph":
            paragraph.append(lines[i])
        else:
            yield _Block(kind, lines[i: i + table] if kind == "table" else [lines[i]])
        i += table if kind == "table" else 1
    if paragraph:
        yield _Block("paragraph", paragraph)


def _starts_paragraph(previous: dict[str, Any], line: dict[str, Any], median: float) -> bool:
    return _top(line) < _top(previous) or _top(line) - _bottom(previous) >= PARAGRAPH_GAP * median


def _table(lines: list[dict[str, Any]], median: float) -> str:
    rows = [[escape(join_words(word["text"] for word in cell)) for cell in _cells(line, CELL_GAP * median)]
            for line in lines]
    header, *body = (f"| {' | '.join(cells)} |" for cells in rows)
    return "\n".join([header, f"|{' --- |' * len(rows[0])}", *body])


def _render(block: _Block, median: float) -> str:
    if block.kind == "table":
        return _table(block.lines, median)
    text = _join_lines([escape(line["text"]) for line in block.lines])
    return {"heading1": "# ", "heading2": "## "}.get(block.kind, "") + text


def _ocr_page(lines: list[dict[str, Any]]) -> list[str]:
    median = statistics.median(line["box"]["height"] for line in lines) or 1
    return [_render(block, median) for block in _blocks(lines, median)]


def _text_layer_page(text: str) -> list[str]:
    paragraphs = (part.strip() for part in re.split(r"\n\s*\n", text))
    return [_join_lines([escape(line) for line in part.split("\n")]) for part in paragraphs if part]


def _page(page: dict[str, Any]) -> str:
    status = "" if page["status"] == "ok" else f" ({page['status']})"
    lines = [line for line in page["lines"] if line["text"].strip()]
    blocks = _ocr_page(lines) if lines else _text_layer_page(page["text"])
    return "\n\n".join([f"<!-- page {page['number']}{status} -->", *blocks]) + "\n"


def write_markdown(head: dict[str, Any], pages: Iterable[dict[str, Any]], source: Path | None, media_type: str,
                   out: IO[bytes]) -> None:
    """Write the Markdown of a reading, a page at a time (``head``, ``source`` and ``media_type`` are not
    needed)."""
    for n, page in enumerate(pages):
        out.write(("\n---\n\n" if n else "").encode("utf-8") + _page(page).encode("utf-8"))
