"""A TSV of words, one row each, for tools that want words and boxes without parsing JSON or hOCR (a spreadsheet,
``awk``, a redaction or indexing step).

Columns: ``page line word left top width height confidence text``. ``page`` is the page number, ``line`` and
``word`` count from 1 within the page and the line, in reading order. The box is on the page as rendered, in its
pixels (``s3ocr.sinks.placement``), as in hOCR; ``confidence`` is 0-100 with one decimal. In ``text`` a backslash
is written ``\\\\``, a tab ``\\t``, a newline ``\\n`` and a carriage return ``\\r``, so that every row is one line of
nine fields; no other character is changed. Pages without words (read from a text layer, empty, failed) have no
rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from s3ocr.sinks.placement import placed_lines

HEADER = "page\tline\tword\tleft\ttop\twidth\theight\tconfidence\ttext\n"
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _rows(page: dict[str, Any]) -> str:
    rows = []
    for i, line in enumerate(placed_lines(page), start=1):
        for j, word in enumerate(line.words, start=1):
            box = word.box
            rows.append(f"{page['number']}\t{i}\t{j}\t{box.left}\t{box.top}\t{box.width}\t{box.height}\t"
                        f"{word.confidence * 100:.1f}\t{word.text.translate(_ESCAPES)}\n")
    return "".join(rows)


def write_tsv(head: dict[str, Any], pages: Iterable[dict[str, Any]], source: Path | None, media_type: str,
              out: IO[bytes]) -> None:
    """Write the words of a reading, a page at a time (``head``, ``source`` and ``media_type`` are not needed)."""
    out.write(HEADER.encode("utf-8"))
    for page in pages:
        out.write(_rows(page).encode("utf-8"))
