"""Fuzzing the document path: seeded byte mutations and truncations of small valid PDFs and images, each read
by ``process_local_file`` into a ``LocalSink`` as the CLI (and, from S3, the Lambda) reads a document.

A case is a function of ``(seed, index)`` alone: the first cases are the seeds themselves (controls that must read
``ok`` with their words), the rest one to three mutations of a seed. Each case runs in its own forked process
(its own process group), so a crash, a hang or the memory of one case is that case's alone. Invariants: no
exception escapes; exactly one terminal record (``.txt`` + ``.json``, or ``.error.json``) with valid JSON whose
statuses agree (no ``ok`` page without text); the work dir is left empty; the time and the memory stay under caps.

Memory is the case process's peak RSS (``VmHWM``: the pipeline's Python process with its imports) plus the peak
of its largest child process (``RUSAGE_CHILDREN``: the Tesseract worker, pdftoppm, pdfinfo...), exact when one
child works at a time, as with one page worker. ``python -m s3ocr.reliability.fuzz --cases N --seed S``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import resource
import select
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from s3ocr.errors import PermanentError
from s3ocr.reliability.mutations import (
    SEED_WORDS,
    Case,
    make_case,
    seed_documents,
)

MAX_SECONDS = 60.0  # per case: every seed is one or two small pages of a few words
MAX_RSS_MB = 1536.0  # per case: half of the function's 3008 MB (it reads two pages at once)
HARD_LIMIT_S = 300.0  # a case still running then is killed: a hang (an escape)
PROBLEM_KINDS = ("escape", "lost", "invalid", "slow", "memory", "leftover")
PAGE_STATUSES = {"ok", "empty", "no_text_found", "failed"}

# --- one case: run in a forked process, then judged by what it left in its output folder ------------------------


@dataclass(frozen=True)
class CaseOutcome:
    """What one case came to, the invariants it broke, and what it took."""

    index: int
    seed_name: str
    mutations: tuple[str, ...]
    outcome: str  # "ok" | "partial" | a failure's reason code | "escape" | "crashed" | "hung"
    problems: tuple[str, ...] = ()  # "kind: detail", kind one of PROBLEM_KINDS
    seconds: float = 0.0
    rss_mb: float = 0.0
    detail: str = ""  # the traceback of an escape

    def kinds(self) -> set[str]:
        return {problem.split(":", 1)[0] for problem in self.problems}


def _permanent_reasons() -> set[str]:
    classes, reasons = [PermanentError], set()
    while classes:
        cls = classes.pop()
        reasons.add(cls.reason)
        classes += cls.__subclasses__()
    return reasons


@dataclass(frozen=True)
class Caps:
    """Per case: the time and memory it may take, and when it is killed as hung."""

    seconds: float = MAX_SECONDS
    rss_mb: float = MAX_RSS_MB
    hard_limit: float = HARD_LIMIT_S


def judge(case: Case, out_dir: Path, work_dir: Path, escaped: str = "", seconds: float = 0.0, rss_mb: float = 0.0,
          caps: Caps = Caps()) -> CaseOutcome:
    """The case's outcome and the invariants it broke, from what the run left behind."""
    problems, outcome, detail = [], "escape" if escaped else "", escaped
    if escaped:
        problems.append(f"escape: {escaped.strip().splitlines()[-1]}")
    names = sorted(p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*") if p.is_file())
    success, failure = {case.key + ".txt", case.key + ".json"}, case.key + ".error.json"
    if set(names) == success:
        read, said = _check_result(out_dir / (case.key + ".json"), out_dir / (case.key + ".txt"), problems)
    elif names == [failure]:
        read, said = _check_failure(out_dir / failure, problems)
    else:
        read, said = "", ""
        problems.append(f"lost: {len(names)} outputs {names} instead of one terminal record")
    outcome, detail = outcome or read or "invalid", detail or said
    if not case.mutations and not problems:  # a seed as it is: a control of the fuzz itself
        word = SEED_WORDS.get(case.seed_name, "quick")
        text = (out_dir / (case.key + ".txt")).read_text() if outcome == "ok" else ""
        if outcome != "ok" or word not in text or (not word and text.strip()):
            problems.append(f"invalid: the seed reads {outcome} {text[:60]!r}, not ok with {word!r}")
    if work_dir.exists() and any(work_dir.iterdir()):
        problems.append(f"leftover: {sorted(p.name for p in work_dir.iterdir())} in the work dir")
    if seconds > caps.seconds:
        problems.append(f"slow: {seconds:.1f} s > {caps.seconds:g} s")
    if rss_mb > caps.rss_mb:
        problems.append(f"memory: {rss_mb:.0f} MB > {caps.rss_mb:g} MB")
    return CaseOutcome(case.index, case.seed_name, case.mutations, outcome, tuple(problems), round(seconds, 3),
                       round(rss_mb, 1), detail)


def _load(path: Path, problems: list[str]) -> dict[str, Any] | None:
    try:
        document = json.loads(path.read_bytes())
    except (ValueError, OSError) as e:
        problems.append(f"invalid: {path.name} is not JSON ({e})")
        return None
    if not isinstance(document, dict):
        problems.append(f"invalid: {path.name} holds {type(document).__name__}, not an object")
        return None
    return document


def _check_failure(path: Path, problems: list[str]) -> tuple[str, str]:
    """(reason, message) of an error record."""
    document = _load(path, problems)
    if document is None:
        return "", ""
    reason = document.get("reason")
    if document.get("status") != "failed" or reason not in _permanent_reasons():
        problems.append(f"invalid: error record status={document.get('status')!r} reason={reason!r}")
    return str(reason), str(document.get("message"))


def _check_result(json_path: Path, text_path: Path, problems: list[str]) -> tuple[str, str]:
    """(status, the reasons of its failed pages) of a reading."""
    document = _load(json_path, problems)
    if document is None:
        return "", ""
    status, pages = document.get("status"), document.get("pages") or []
    statuses = [page.get("status") for page in pages]
    unread = [s for s in statuses if s in ("failed", "no_text_found")]
    texts = [page.get("text") or "" for page in pages]
    broken = [
        (not pages, "a success without pages"),
        (status not in ("ok", "partial"), f"document status {status!r}"),
        (not set(statuses) <= PAGE_STATUSES, f"page statuses {statuses}"),
        (any(s == "ok" and not t.strip() for s, t in zip(statuses, texts, strict=True)), "an ok page without text"),
        (status == "ok" and bool(unread or document.get("truncated")), f"ok with pages {statuses}"),
        (status == "partial" and not (unread or document.get("truncated")), f"partial with pages {statuses}"),
        (bool(pages) and statuses.count("failed") == len(pages), "a success where every page failed"),
        (document.get("pages_processed") != len(pages), "pages_processed is not the number of pages"),
        (text_path.read_bytes() != "\f".join(texts).encode(), "the .txt is not the pages' text"),
    ]
    problems += [f"invalid: {what}" for bad, what in broken if bad]
    return str(status), " ".join(f"page {p.get('number')}: {p['error'].get('reason')}" for p in pages if p.get("error"))


def _peak_rss_mb() -> float:
    with open("/proc/self/status") as status:
        own = next((int(line.split()[1]) for line in status if line.startswith("VmHWM:")), 0)
    return (own + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024


class _Runner:
    """Runs cases in a worker process: settings, engine and imports built once, each case in a fork of it."""

    def __init__(self, root: Path, caps: Caps, page_workers: int) -> None:
        import cv2  # noqa: F401  (loaded once, before the forks, as in a warm function)

        from s3ocr import page, pagesplit, plan, preprocess  # noqa: F401
        from s3ocr.engines.tesseract import tesseract_version
        from s3ocr.pages import images, pdf  # noqa: F401
        from s3ocr.routing import EngineChooser
        from s3ocr.settings import Settings

        self.root, self.caps = root, caps
        # The defaults but for the engine and language (cheap) and the page workers: two cases already run at once.
        self.settings = Settings(engine="tesseract", languages="eng", workers=page_workers, work_dir=root / "work")
        self.engine = EngineChooser(self.settings).default
        tesseract_version()
        seed_documents()

    def run(self, case: Case) -> CaseOutcome:
        folder = Path(tempfile.mkdtemp(prefix=f"{case.index:05d}-", dir=self.root))
        source, out_dir = folder / "in" / case.key, folder / "out"
        source.parent.mkdir()
        out_dir.mkdir()
        source.write_bytes(case.data)
        settings = replace(self.settings, work_dir=folder / "work")
        read, write = os.pipe()
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:  # the case process: reports on the pipe and never returns into the pool's code
            code = 4
            try:
                os.close(read)
                os.setpgid(0, 0)
                os.dup2(os.open(folder / "stderr", os.O_WRONLY | os.O_CREAT, 0o600), 2)  # libjpeg's and Poppler's
                code = _run_in_child(source, case.key, out_dir, settings, self.engine, write)
            finally:
                os._exit(code)
        os.close(write)
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)  # as the case process does itself: whichever comes first
        report, hung = _read_report(read, pid, started + self.caps.hard_limit)
        _, status, _ = os.wait4(pid, 0)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)  # whatever the case started and left behind
        cause = "" if report is not None else "hung" if hung else "crashed"
        if report is None:
            what = f"killed after {self.caps.hard_limit:g} s" if hung else f"the case process died ({_status(status)})"
            stderr = (folder / "stderr").read_bytes()[-2000:].decode(errors="replace")
            what = f"{stderr}\n{what}" if stderr.strip() else what
            report = {"escaped": what, "seconds": time.monotonic() - started, "rss_mb": 0.0}
        outcome = judge(case, out_dir, folder / "work", report["escaped"], report["seconds"], report["rss_mb"],
                        self.caps)
        shutil.rmtree(folder, ignore_errors=True)  # a case is made again from (seed, index) to look at it
        return replace(outcome, outcome=cause) if cause else outcome


def _run_in_child(source: Path, key: str, out_dir: Path, settings: Any, engine: Any, pipe: int) -> int:
    from s3ocr.engines.tesseract_pool import POOL
    from s3ocr.models import DocumentRef
    from s3ocr.pipeline import process_local_file
    from s3ocr.sinks.local import LocalSink

    started, escaped = time.perf_counter(), ""
    try:
        process_local_file(source, DocumentRef("", key, size=len(source.read_bytes())), settings, engine,
                           LocalSink(out_dir))
    except BaseException:
        escaped = traceback.format_exc()
    seconds = time.perf_counter() - started
    try:
        POOL.close()  # the Tesseract workers are reaped, so their peak counts in RUSAGE_CHILDREN
        report = {"escaped": escaped, "seconds": seconds, "rss_mb": _peak_rss_mb()}
        with os.fdopen(pipe, "wb") as out:
            out.write(json.dumps(report).encode())
        return 0
    except BaseException:
        return 3


def _read_report(fd: int, pid: int, deadline: float) -> tuple[dict[str, Any] | None, bool]:
    chunks = []
    with os.fdopen(fd, "rb", buffering=0) as pipe:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([pipe], [], [], left)[0]:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                return None, True
            chunk = pipe.read(65536)
            if not chunk:
                break
            chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks)), False
    except ValueError:
        return None, False


def _status(status: int) -> str:
    return f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"exit {os.WEXITSTATUS(status)}"


# --- the run ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KnownFinding:
    """A bug the fuzzer found in core code, reported with its case and a proposed fix, awaiting that fix: the
    cases it matches are counted and shown, and do not fail the run. Remove it with the fix."""

    name: str
    example: tuple[int, int]  # (seed, index) of a case that shows it
    matches: Callable[[CaseOutcome], bool]


KNOWN_FINDINGS: tuple[KnownFinding, ...] = (
    # Found by this fuzzer and fixed: Pillow's TIFF reader raising TypeError / KeyError (seed 1 case 63; now
    # corrupt_document, pages/images.PILLOW_ERRORS), and PDF images declaring 2**31 pixels (seed 9 case 1133; now
    # decompression_bomb before pdftoppm runs, pages/pdf.PdfPages.render).
)


def known_finding(outcome: CaseOutcome) -> str | None:
    """The name of the known finding a case that broke an invariant shows, if any."""
    return next((finding.name for finding in KNOWN_FINDINGS if finding.matches(outcome)), None)


@dataclass
class FuzzSummary:
    """Counts over a run: outcomes, cases by broken invariant (known findings included) and the maxima."""

    seed: int
    caps: Caps = Caps()
    workers: int = 2
    cases: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    problems: Counter[str] = field(default_factory=Counter)
    known: Counter[str] = field(default_factory=Counter)
    known_first: dict[str, int] = field(default_factory=dict)  # the first case of each known finding in the run
    failures: list[CaseOutcome] = field(default_factory=list)  # broke an invariant, no known finding
    max_rss_mb: float = 0.0
    max_seconds: float = 0.0
    max_rss_mb_unknown: float = 0.0  # over the cases of no known finding
    max_seconds_unknown: float = 0.0
    wall_seconds: float = 0.0

    def add(self, outcome: CaseOutcome) -> None:
        self.cases += 1
        self.outcomes[outcome.outcome] += 1
        self.problems.update(outcome.kinds())
        self.max_rss_mb, self.max_seconds = max(self.max_rss_mb, outcome.rss_mb), max(self.max_seconds, outcome.seconds)
        finding = known_finding(outcome) if outcome.problems else None
        if finding:
            self.known[finding] += 1
            self.known_first[finding] = min(outcome.index, self.known_first.get(finding, outcome.index))
            return
        self.max_rss_mb_unknown = max(self.max_rss_mb_unknown, outcome.rss_mb)
        self.max_seconds_unknown = max(self.max_seconds_unknown, outcome.seconds)
        if outcome.problems:
            self.failures.append(outcome)

    @property
    def escapes(self) -> int:
        return self.problems["escape"]

    @property
    def lost(self) -> int:
        return self.problems["lost"]

    @property
    def passed(self) -> bool:
        """Every case kept every invariant, but for the cases of known findings."""
        return not self.failures

    @property
    def clean(self) -> bool:
        """Every case kept every invariant, known findings included: the line shows the zeros it promises."""
        return not self.problems

    def line(self) -> str:
        return (f"fuzz: {self.cases} cases \u2192 {self.escapes} escapes, {self.lost} lost, "
                f"max RSS {self.max_rss_mb:.0f} MB, max {self.max_seconds:.1f} s")

    def lines(self) -> list[str]:
        outcomes = ", ".join(f"{name} {count}" for name, count in self.outcomes.most_common())
        other = ", ".join(f"{kind} {self.problems[kind]}" for kind in PROBLEM_KINDS[2:])
        lines = [self.line(), f"  outcomes: {outcomes}",
                 f"  caps {self.caps.rss_mb:g} MB, {self.caps.seconds:g} s a case; {other}; "
                 f"seed {self.seed}, {self.wall_seconds:.0f} s with {self.workers} workers"]
        if self.known:
            known = ", ".join(f"{name} {count} (first: case {self.known_first[name]})"
                              for name, count in sorted(self.known.items()))
            lines.append(f"  known findings (core bugs awaiting their fix): {known}; the other cases: "
                         f"max RSS {self.max_rss_mb_unknown:.0f} MB, max {self.max_seconds_unknown:.1f} s")
        for failure in self.failures[:20]:
            how = "; ".join(failure.mutations) or "unmutated"
            lines.append(f"  case {failure.index} ({failure.seed_name}; {how}): {' | '.join(failure.problems)}")
        return lines


_RUNNER: _Runner | None = None


def _start_worker(root: str, caps: Caps, page_workers: int) -> None:
    global _RUNNER
    _RUNNER = _Runner(Path(root), caps, page_workers)


def _run_one(task: tuple[int, int]) -> CaseOutcome:
    assert _RUNNER is not None
    return _RUNNER.run(make_case(*task))


def run_outcomes(tasks: Sequence[tuple[int, int]], workers: int = 2, caps: Caps = Caps(),
                 page_workers: int = 1) -> Iterator[CaseOutcome]:
    """The outcomes of cases ``(seed, index)``, as they finish, from ``workers`` processes."""
    with tempfile.TemporaryDirectory(prefix="s3ocr-fuzz-") as root:
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: nothing inherited from the caller
        with context.Pool(workers, _start_worker, (root, caps, page_workers)) as pool:
            yield from pool.imap_unordered(_run_one, tasks)


def run(cases: int, seed: int, workers: int = 2, caps: Caps = Caps(), page_workers: int = 1,
        progress: Callable[[FuzzSummary], None] | None = None) -> FuzzSummary:
    """Run cases ``0..cases-1`` of run ``seed``, ``workers`` at a time, each with ``page_workers`` page workers."""
    summary, started = FuzzSummary(seed, caps, workers), time.monotonic()
    for outcome in run_outcomes([(seed, index) for index in range(cases)], workers, caps, page_workers):
        summary.add(outcome)
        summary.wall_seconds = time.monotonic() - started
        if progress is not None:
            progress(summary)
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m s3ocr.reliability.fuzz", description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="cases at once (default 2)")
    parser.add_argument("--max-seconds", type=float, default=MAX_SECONDS, help="time cap per case")
    parser.add_argument("--max-rss-mb", type=float, default=MAX_RSS_MB, help="memory cap per case")
    parser.add_argument("--strict", action="store_true", help="fail on the cases of known findings too")
    parser.add_argument("--save", type=int, metavar="INDEX", help="write case INDEX's bytes into --to, say how made")
    parser.add_argument("--to", type=Path, default=Path("."))
    args = parser.parse_args(argv)
    if args.save is not None:
        case = make_case(args.seed, args.save)
        path = args.to / case.key
        path.write_bytes(case.data)
        print(f"{path}: {case.seed_name}; {'; '.join(case.mutations) or 'unmutated'}")
        return 0

    def progress(summary: FuzzSummary) -> None:
        if summary.cases % 250 == 0:
            print(f"  {summary.cases}/{args.cases} cases, {summary.wall_seconds:.0f} s, "
                  f"{len(summary.failures)} broke an invariant ({sum(summary.known.values())} more: known findings)",
                  file=sys.stderr, flush=True)

    caps = Caps(args.max_seconds, args.max_rss_mb)
    summary = run(args.cases, args.seed, args.workers, caps, progress=progress)
    print("\n".join(summary.lines()))
    return 0 if summary.clean or (summary.passed and not args.strict) else 1


if __name__ == "__main__":
    sys.exit(main())
