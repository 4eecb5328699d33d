"""What ``s3ocr`` shows people: a progress bar while documents are read, a line per document, a summary table.

On a terminal (stderr a TTY and ``TERM`` not ``dumb``) the bar is redrawn in place, at most ten times a second, and
each document's line is written above it; anywhere else (a log, a pipe, CI) only the lines, which a log keeps
readable. Standard library only: the CLI starts in Lambda's image too, where tqdm or rich would be dead weight.

Only a document's page count is known, and only once it is opened, so the estimate of the time left (ETA) counts
the pages left in the open document, and for the documents not yet opened the mean page count of those that were,
at the pages per second measured so far.
"""

from __future__ import annotations

import contextlib
import os
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from s3ocr.errors import S3OcrError, TransientError
from s3ocr.keys import printable
from s3ocr.models import DocumentFailure, DocumentRef, DocumentResult, PageResult, quality_of
from s3ocr.pipeline import NullObserver

# A document that was not read at all: its line is shown even with -q.
UNREAD = frozenset({"failed", "refused", "transient"})
REDRAW_SECONDS = 0.1
CLEAR_LINE = "\r\x1b[K"
BAR_CELLS = 20
MIN_BAR_CELLS = 5  # narrower than this, a bar says nothing: it is left out
# Columns the bar leaves to the figures beside it and to the document's name: on a terminal narrower than these
# and the bar, the bar gives up cells, the same number each time it is drawn.
STATS_ROOM = 56
NAME_ROOM = 24
_WIDE = frozenset({"W", "F"})  # East Asian wide and full-width characters


@dataclass(frozen=True)
class Row:
    """One document as the summary table and ``--json`` show it.

    ``status``: ``ok``, ``partial`` (a page failed, a page with ink gave no text, or the page cap cut it),
    ``failed`` (recorded, not worth a retry), ``refused`` (not read: its key would leave the output folder) or
    ``transient`` (worth a retry later).
    """

    key: str
    source: str  # the local path or s3:// URI it was read from
    status: str
    pages: int = 0
    seconds: float = 0.0
    mean_confidence: float | None = None  # over every word of the document, 0..1 (``models.Quality``)
    words: int = 0  # the weight of the mean in a total
    no_text_pages: int = 0
    engine: str = ""
    reason: str = ""
    message: str = ""
    outputs: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` record: a line of JSON Lines per document."""
        record: dict[str, Any] = {
            "key": self.key, "source": self.source, "status": self.status, "pages": self.pages,
            "seconds": self.seconds, "mean_confidence": self.mean_confidence, "no_text_pages": self.no_text_pages,
            "engine": self.engine, "outputs": dict(self.outputs),
        }
        if self.reason:
            record.update(reason=self.reason, message=self.message)
        return record


def _partial_reason(result: DocumentResult) -> tuple[str, str]:
    """Why a reading is partial, as reason codes and in words."""
    codes, words = [], []
    failed = [page for page in result.pages if page.status == "failed"]
    if failed:
        causes = sorted({page.error["reason"] for page in failed if page.error})
        codes.append("pages_failed")
        words.append(f"{len(failed)} page(s) failed ({', '.join(causes)})")
    no_text = sum(page.status == "no_text_found" for page in result.pages)
    if no_text:
        codes.append("no_text_found")
        words.append(f"no text found on {no_text} page(s) with ink")
    if result.truncated:
        codes.append("truncated")
        words.append(f"cut at {len(result.pages)} of {result.page_count} pages")
    return ",".join(codes), "; ".join(words)


def row_of(outcome: DocumentResult | DocumentFailure, source: str, outputs: Mapping[str, str]) -> Row:
    seconds = outcome.timings.get("total", 0.0)
    if isinstance(outcome, DocumentFailure):
        return Row(outcome.source.key, source, "failed", seconds=seconds, reason=outcome.reason,
                   message=outcome.message, outputs=outputs)
    quality = quality_of(outcome)
    reason, message = _partial_reason(outcome) if outcome.status == "partial" else ("", "")
    return Row(outcome.source.key, source, outcome.status, pages=len(outcome.pages), seconds=seconds,
               mean_confidence=quality.mean_confidence, words=quality.words, no_text_pages=quality.no_text_pages,
               engine=outcome.engine.name, reason=reason, message=message, outputs=outputs)


def error_row(key: str, source: str, error: S3OcrError | OSError) -> Row:
    """A document that raised instead of giving an outcome: missing, unlistable, or a transient failure."""
    if isinstance(error, S3OcrError):
        status = "transient" if isinstance(error, TransientError) else "failed"
        return Row(key, source, status, reason=error.reason, message=str(error))
    reason = "not_found" if isinstance(error, FileNotFoundError) else "unreadable"
    return Row(key, source, "failed", reason=reason, message=str(error))


def _percent(value: float | None) -> str:
    return f"{value * 100:.1f}%" if value is not None else "-"


def status_line(row: Row) -> str:
    """``name: ok, 3 page(s), 1.2 s, confidence 93.1%``, or ``name: failed (reason): message``."""
    name = printable(row.key)
    if row.status in UNREAD:
        retry = "; retry later" if row.status == "transient" else ""
        return f"{name}: {row.status} ({row.reason}): {printable(row.message)}{retry}"
    line = f"{name}: {row.status}, {row.pages} page(s), {row.seconds:.1f} s"
    if row.mean_confidence is not None:
        line += f", confidence {_percent(row.mean_confidence)}"
    return line + (f" ({printable(row.message)})" if row.message else "")


# --- widths as a terminal shows them -----------------------------------------------------------------------------


def display_width(text: str) -> int:
    """Columns ``text`` takes on a terminal: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in _WIDE else 0 if unicodedata.combining(ch) else 1
               for ch in text)


def keep_end(text: str, width: int, ellipsis: str = "…") -> str:
    """``text`` cut from the left to ``width`` columns: a path's end says more than its start."""
    if display_width(text) <= width:
        return text
    kept = ""
    for ch in reversed(text):
        if display_width(ch + kept) + display_width(ellipsis) > width:
            break
        kept = ch + kept
    return (ellipsis + kept) if width >= display_width(ellipsis) else ""


def keep_start(text: str, width: int) -> str:
    """``text`` cut from the right to ``width`` columns."""
    kept = ""
    for ch in text:
        if display_width(kept + ch) > width:
            break
        kept += ch
    return kept


def _pad(text: str, width: int, right: bool = False) -> str:
    space = " " * max(0, width - display_width(text))
    return space + text if right else text + space


# --- the summary table --------------------------------------------------------------------------------------------

_HEADER = ("document", "status", "pages", "seconds", "confidence", "no text", "reason")
_RIGHT = {2, 3, 4, 5}  # numbers line up on the right


def _cells(row: Row) -> tuple[str, ...]:
    return (printable(row.key), row.status, str(row.pages), f"{row.seconds:.1f}", _percent(row.mean_confidence),
            str(row.no_text_pages), row.reason)


def _totals(rows: Sequence[Row]) -> tuple[str, ...]:
    weight = sum(row.words for row in rows)
    confidence = (sum((row.mean_confidence or 0.0) * row.words for row in rows) / weight
                  if weight else None)
    return ("total", "", str(sum(row.pages for row in rows)), f"{sum(row.seconds for row in rows):.1f}",
            _percent(confidence), str(sum(row.no_text_pages for row in rows)), "")


def _counts(rows: Sequence[Row]) -> str:
    counts = Counter(row.status for row in rows)
    return f"{len(rows)} document(s): {', '.join(f'{n} {status}' for status, n in counts.items())}"


def summary_table(rows: Sequence[Row]) -> str:
    """Documents, one per line, under a header and over a totals row and the count of each status; columns
    aligned for a terminal's font."""
    table = [_HEADER, *(_cells(row) for row in rows), _totals(rows)]
    widths = [max(display_width(cells[i]) for cells in table) for i in range(len(_HEADER))]
    lines = ["  ".join(_pad(cell, widths[i], i in _RIGHT) for i, cell in enumerate(cells)).rstrip()
             for cells in table]
    rule = "-" * max(display_width(line) for line in lines)
    return "\n".join([lines[0], rule, *lines[1:-1], rule, lines[-1], _counts(rows)])


# --- progress ------------------------------------------------------------------------------------------------------


def is_terminal(stream: TextIO) -> bool:
    return stream.isatty() and os.environ.get("TERM", "") != "dumb"


class QuietProgress(NullObserver):
    """``-q``: no bar, no summary; a line only for a document that could not be read. A pipeline ``Observer``."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def start(self, name: str) -> None:
        """The document ``name`` is about to be read."""

    def finished(self, row: Row) -> None:
        if row.status in UNREAD:
            self._say(row)

    def close(self) -> None:
        """The run is over (or interrupted): leave the terminal as it was found."""

    def _say(self, row: Row) -> None:
        print(f"s3ocr: {status_line(row)}", file=self.stream, flush=True)


class LineProgress(QuietProgress):
    """A line per document as it finishes: what a log or a pipe gets."""

    def finished(self, row: Row) -> None:
        self._say(row)


class BarProgress(LineProgress):
    """A line per document, and under them a bar redrawn in place: documents done, pages of the open document,
    pages per second and the time left."""

    def __init__(self, stream: TextIO, documents: int, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(stream)
        self.documents, self.clock = documents, clock
        self.started = clock()
        self.last_draw: float | None = None
        self.drawn = False
        self.done = self.opened = self.pages_opened = self.pages_done = 0
        self.name, self.step = "", ""
        self.page = 0
        self.pages: int | None = None  # pages of the open document; None until it is opened
        glyphs = ("█", "░", "—", "…")
        self.full, self.empty, self.unknown, self.ellipsis = glyphs if _encodes(stream, "".join(glyphs)) else (
            "#", "-", "?", ".")

    def start(self, name: str) -> None:
        self.name, self.step, self.page, self.pages = name, "", 0, None
        self._draw()

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.step = name
        self._draw()
        yield

    def document_opened(self, ref: DocumentRef, pages: int) -> None:
        self.page, self.pages = 0, pages
        self.opened += 1
        self.pages_opened += pages
        self._draw()

    def page_done(self, page: PageResult) -> None:
        self.page += 1
        self.pages_done += 1
        self._draw()

    def finished(self, row: Row) -> None:
        self.done += 1
        self.name, self.step, self.page, self.pages = "", "", 0, None
        self._clear()
        super().finished(row)
        self._draw(force=True)

    def close(self) -> None:
        self._clear()

    def rate(self) -> float | None:
        """Pages per second since the run started; None before the first page."""
        elapsed = self.clock() - self.started
        return self.pages_done / elapsed if self.pages_done and elapsed > 0 else None

    def eta(self) -> float | None:
        """Seconds left, or None while there is nothing to estimate from."""
        rate = self.rate()
        if rate is None or not self.opened:
            return None
        left_here = self.pages - self.page if self.pages is not None else 0
        unopened = self.documents - self.done - (self.pages is not None)
        return (left_here + unopened * self.pages_opened / self.opened) / rate

    def line(self, width: int) -> str:
        """The bar as drawn in ``width`` columns: on a narrow terminal the graphic gives way to the name."""
        rate, eta = self.rate(), self.eta()
        parts = [f"{self.done}/{self.documents} docs",
                 f"page {self.page}/{self.pages if self.pages is not None else self.unknown}",
                 f"{rate:.1f} pages/s" if rate is not None else "- pages/s",
                 f"ETA {_clock(eta) if eta is not None else self.unknown}"]
        if self.step:
            parts.append(self.step)
        cells = min(BAR_CELLS, width - STATS_ROOM - NAME_ROOM)
        if cells >= MIN_BAR_CELLS:
            parts.insert(1, self._bar(cells))
        name = printable(self.name)
        head = keep_start("  ".join(parts), width)
        room = width - display_width(head) - 2
        name = keep_end(name, room, self.ellipsis) if name and room > 0 else ""
        return f"{head}  {name}" if name else head

    def _bar(self, cells: int) -> str:
        share = (self.done + (self.page / self.pages if self.pages else 0.0)) / max(1, self.documents)
        filled = min(cells, int(share * cells))
        return self.full * filled + self.empty * (cells - filled)

    def _draw(self, force: bool = False) -> None:
        now = self.clock()
        if not force and self.last_draw is not None and now - self.last_draw < REDRAW_SECONDS:
            return
        self.last_draw = now
        self.drawn = True  # before the write: Ctrl-C may land between the two, and the bar must still be cleared
        self.stream.write(CLEAR_LINE + self.line(_columns(self.stream) - 1))
        self.stream.flush()

    def _clear(self) -> None:
        if self.drawn:
            self.stream.write(CLEAR_LINE)
            self.stream.flush()
            self.drawn = False


def _encodes(stream: TextIO, text: str) -> bool:
    encoding = getattr(stream, "encoding", None)
    if not encoding:  # a stream of str that is never encoded (a StringIO)
        return True
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _columns(stream: TextIO) -> int:
    """The terminal's width; a fresh pseudo-terminal says 0, which means nobody set it: 80."""
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError):
        columns = 0
    return columns or 80


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def progress_for(stream: TextIO, quiet: bool, documents: int) -> QuietProgress:
    """The bar on a terminal, lines elsewhere, next to nothing with ``-q``."""
    if quiet:
        return QuietProgress(stream)
    if is_terminal(stream):
        return BarProgress(stream, documents)
    return LineProgress(stream)
