"""The progress bar and the summary table, checked without a screenshot: the real CLI runs in a pseudo-terminal and
what it draws is replayed the way a terminal would show it; the bar's arithmetic runs on a fake clock."""

from __future__ import annotations

import fcntl
import io
import os
import signal
import struct
import subprocess
import sys
import termios

import pytest

from s3ocr.cli import main
from s3ocr.console import (
    CLEAR_LINE,
    BarProgress,
    LineProgress,
    QuietProgress,
    Row,
    display_width,
    summary_table,
)
from s3ocr.models import DocumentRef, PageResult
from tests.conftest import sigint_as_default
from tests.fakes import FakeClock


def run_in_terminal(args: list[str], env: dict[str, str], columns: int = 100,
                    interrupt_on: str | None = None) -> tuple[str, str, int]:
    """The real ``s3ocr`` with its stderr on a pseudo-terminal ``columns`` wide; returns what was drawn there, the
    stdout (a pipe) and the exit status. ``interrupt_on``: press Ctrl-C (SIGINT) once that text has been drawn."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    process = subprocess.Popen([sys.executable, "-m", "s3ocr.cli", *args], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=slave, env={**os.environ, **env},
                               preexec_fn=sigint_as_default)
    os.close(slave)
    drawn = b""
    while True:  # until the child closes the terminal: Linux then says EIO
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        drawn += chunk
        if interrupt_on and interrupt_on.encode() in drawn:
            process.send_signal(signal.SIGINT)
            interrupt_on = None
    os.close(master)
    stdout = process.stdout.read() if process.stdout else b""
    return drawn.decode(), stdout.decode(), process.wait(60)


def screen(drawn: str) -> list[str]:
    """The lines a terminal shows after ``drawn``: a carriage return goes back to the line's start, ESC[K clears
    to its end, anything else is written over what is there."""
    lines, line, column, i = [], [], 0, 0
    while i < len(drawn):
        if drawn.startswith(CLEAR_LINE[1:], i):
            del line[column:]
            i += len(CLEAR_LINE) - 1
            continue
        ch = drawn[i]
        if ch == "\r":
            column = 0
        elif ch == "\n":
            lines.append("".join(line))
            line, column = [], 0
        else:
            line[column:column + 1] = [ch]
            column += 1
        i += 1
    return [*lines, "".join(line)] if line else lines


@pytest.fixture
def documents(resources):
    # born-digital and blank pages: no OCR, so the run is quick and the same each time
    return [str(resources / "manual.pdf"), str(resources / "blank-pages.pdf")]


def test_the_bar_is_drawn_in_place_on_a_terminal_and_leaves_only_lines_and_the_table(documents):
    # GIVEN two documents  WHEN they are extracted with stderr on a terminal 100 columns wide
    drawn, stdout, status = run_in_terminal(["extract", *documents], {"TERM": "xterm"})
    # THEN the bar was drawn in place (carriage return, clear line), starting at the first document
    assert status == 0 and CLEAR_LINE in drawn
    frames = [frame.split("\r")[0] for frame in drawn.split(CLEAR_LINE)[1:]]
    assert any(frame.startswith("0/2 docs") and frame.endswith("manual.pdf") for frame in frames)
    assert any(frame.startswith("2/2 docs") for frame in frames)
    assert all(display_width(frame) < 100 for frame in frames)
    # and the terminal is left with a line per document and the summary table, the bar cleared away
    shown = [line for line in screen(drawn) if line]
    assert shown[0].startswith("s3ocr: manual.pdf: ok, 8 page(s)")
    assert shown[1].startswith("s3ocr: blank-pages.pdf: ok, 3 page(s)")
    assert shown[2].split() == ["document", "status", "pages", "seconds", "confidence", "no", "text", "reason"]
    assert shown[-2].split()[:2] == ["total", "11"] and shown[-1] == "2 document(s): 2 ok"
    assert not any("pages/s" in line for line in shown)
    # and stdout, a pipe, got the text and no terminal control at all
    assert "\x1b" not in stdout and "\r" not in stdout and "==> manual.pdf <==" in stdout


def test_ctrl_c_clears_the_bar_and_exits_130(resources):
    # GIVEN a scan being read (OCR: seconds a page)  WHEN Ctrl-C is pressed once the bar is drawn
    drawn, _, status = run_in_terminal(["extract", "--lang", "eng", str(resources / "scan-text-layers.pdf")],
                                       {"TERM": "xterm"}, interrupt_on="0/1 docs")
    # THEN the run stops with 130, says so, and leaves no bar behind
    shown = [line for line in screen(drawn) if line]
    assert status == 130 and shown == ["s3ocr: interrupted"]


def test_a_dumb_terminal_gets_plain_lines(documents):
    drawn, _, status = run_in_terminal(["extract", *documents], {"TERM": "dumb"})
    assert status == 0 and "\x1b" not in drawn
    assert [line for line in drawn.split("\r\n") if line.startswith("s3ocr:")] == [
        line for line in screen(drawn) if line.startswith("s3ocr:")]


def test_quiet_draws_nothing_on_a_terminal(documents):
    drawn, _, status = run_in_terminal(["extract", "-q", *documents], {"TERM": "xterm"})
    assert status == 0 and drawn == ""


def test_without_a_terminal_there_is_a_plain_line_per_document_and_the_table(documents, capsys):
    assert main(["extract", *documents]) == 0
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\r" not in err
    lines = err.splitlines()
    assert lines[0].startswith("s3ocr: manual.pdf: ok, 8 page(s), ")
    assert lines[1].startswith("s3ocr: blank-pages.pdf: ok, 3 page(s), ")
    assert lines[-1] == "2 document(s): 2 ok"


# --- the bar's arithmetic, on a fake clock --------------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _page(number: int) -> PageResult:
    return PageResult(number=number, status="ok", mean_confidence=0.9)


def test_pages_per_second_and_the_time_left_come_from_the_pages_read():
    # GIVEN a bar over two documents, on a clock that only moves when told
    clock = FakeClock()
    bar = BarProgress(Terminal(), documents=2, clock=clock)
    bar.start("a.pdf")
    # THEN before a page is read there is nothing to estimate from
    assert bar.rate() is None and bar.eta() is None and "ETA —" in bar.line(200)
    # WHEN the first document opens with 10 pages and 5 are read in 5 s
    bar.document_opened(DocumentRef("", "a.pdf"), 10)
    for number in range(1, 6):
        clock.sleep(1.0)
        bar.page_done(_page(number))
    # THEN it reads 1 page/s, and the time left is its 5 pages plus, for the unopened document, as many pages as
    # the opened ones had on average (10)
    assert bar.rate() == pytest.approx(1.0) and bar.eta() == pytest.approx(15.0)
    line = bar.line(200)
    assert line.startswith("0/2 docs") and "page 5/10" in line and "1.0 pages/s" in line and "ETA 0:15" in line
    # WHEN the first document is done and the second opens with 2 pages
    for number in range(6, 11):
        clock.sleep(1.0)
        bar.page_done(_page(number))
    bar.finished(Row("a.pdf", "a.pdf", "ok", pages=10))
    bar.start("b.pdf")
    bar.document_opened(DocumentRef("", "b.pdf"), 2)
    # THEN only its pages are left
    assert bar.eta() == pytest.approx(2.0) and "1/2 docs" in bar.line(200)


def test_the_bar_is_redrawn_at_most_ten_times_a_second():
    clock, stream = FakeClock(), Terminal()
    bar = BarProgress(stream, documents=1, clock=clock)
    bar.start("a.pdf")
    bar.document_opened(DocumentRef("", "a.pdf"), 1000)
    for number in range(1, 101):  # a hundred pages in the same instant: one redraw (the first) at most
        bar.page_done(_page(number))
    assert stream.getvalue().count(CLEAR_LINE) == 1
    clock.sleep(0.11)
    bar.page_done(_page(101))
    assert stream.getvalue().count(CLEAR_LINE) == 2 and "page 101/1000" in stream.getvalue()


def test_the_bar_fits_the_terminal_and_cuts_a_long_name_from_its_start():
    bar = BarProgress(Terminal(), documents=3, clock=FakeClock())
    bar.start("扫描件/二〇二四年/第一季度/发票-00017.pdf")
    line = bar.line(60)
    assert display_width(line) <= 60 and line.endswith("发票-00017.pdf") and "…" in line
    # a wide terminal has room for the bar's graphic and the whole name
    assert bar.line(200).endswith("扫描件/二〇二四年/第一季度/发票-00017.pdf") and "░" * 20 in bar.line(200)


def test_an_ascii_only_stream_gets_ascii_glyphs():
    stream = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    bar = BarProgress(stream, documents=1, clock=FakeClock())
    bar.start("a.pdf")
    line = bar.line(80)
    line.encode("ascii")
    assert "ETA ?" in line


def test_quiet_says_only_what_could_not_be_read():
    stream = io.StringIO()
    progress = QuietProgress(stream)
    for row in (Row("a.pdf", "a.pdf", "ok", pages=1), Row("b.pdf", "b.pdf", "partial", pages=1),
                Row("c.pdf", "c.pdf", "failed", reason="corrupt_document", message="bad"),
                Row("d.pdf", "d.pdf", "transient", reason="engine_unavailable", message="down")):
        progress.finished(row)
    assert stream.getvalue().splitlines() == ["s3ocr: c.pdf: failed (corrupt_document): bad",
                                              "s3ocr: d.pdf: transient (engine_unavailable): down; retry later"]
    lines = io.StringIO()
    LineProgress(lines).finished(Row("a.pdf", "a.pdf", "ok", pages=2, seconds=1.25, mean_confidence=0.9312))
    assert lines.getvalue() == "s3ocr: a.pdf: ok, 2 page(s), 1.2 s, confidence 93.1%\n"


# --- the summary table ----------------------------------------------------------------------------------------------


def test_the_summary_table_lines_up_wide_characters_and_totals_the_documents():
    rows = [Row("scan.pdf", "scan.pdf", "ok", pages=3, seconds=2.0, mean_confidence=0.9, words=3),
            Row("发票.pdf", "发票.pdf", "partial", pages=1, seconds=1.0, mean_confidence=0.5, words=1,
                no_text_pages=1, reason="no_text_found"),
            Row("bad.pdf", "bad.pdf", "failed", reason="corrupt_document")]
    lines = summary_table(rows).splitlines()
    # every row's columns start where the header's do, counting a CJK character as two columns
    status_column = lines[0].index("status")
    for line in (lines[2], lines[3], lines[4]):
        assert display_width(line[: line.index(line.split()[1])]) == status_column
    assert "no_text_found" in lines[3] and "corrupt_document" in lines[4]
    # the totals: pages and seconds summed, confidence weighted by the pages that have one: (3*0.9 + 0.5) / 4
    assert lines[-2].split() == ["total", "4", "3.0", "80.0%", "1"]
    assert lines[-1] == "3 document(s): 1 ok, 1 partial, 1 failed"
