"""How much of a PDF page's text is drawn visibly.

``pdftotext`` gives every character a page carries, drawn or not; ``pdftohtml`` leaves out text in render mode
3 (neither filled nor stroked: how OCR layers are laid invisibly over scans) unless it is asked for it with
``-hidden``. Counting the characters ``pdftohtml`` keeps tells which text a reader of the page sees.
"""

from __future__ import annotations

import html
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

_PAGE = re.compile(rb'<page number="(\d+)"')
_TEXT = re.compile(rb"<text\b[^>]*>(.*?)</text>", re.DOTALL)
_TAG = re.compile(r"<[^>]+>")

Runner = Callable[[list[str]], subprocess.CompletedProcess[bytes]]


def _run(command: list[str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(command, capture_output=True, timeout=120, check=False)


def visible_chars(path: Path, first: int, last: int, run: Runner = _run) -> dict[int, int] | None:
    """Non-space characters of visible text on each page ``first``..``last``; None when Poppler cannot tell."""
    try:
        proc = run(["pdftohtml", "-xml", "-i", "-q", "-stdout", "-f", str(first), "-l", str(last), str(path)])
    except subprocess.TimeoutExpired:
        return None
    if proc.returncode != 0:
        return None
    counts: dict[int, int] = {}
    parts = _PAGE.split(proc.stdout)  # [preamble, number, page, number, page, ...]
    for number, page in zip(parts[1::2], parts[2::2], strict=True):
        text = "".join(html.unescape(_TAG.sub("", m.decode("utf-8", errors="replace"))) for m in _TEXT.findall(page))
        counts[int(number)] = sum(not c.isspace() for c in text)
    return counts
