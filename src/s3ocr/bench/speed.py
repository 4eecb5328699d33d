"""Speed and memory: s3ocr against OCRmyPDF and bare Tesseract on the same inputs, same cores.

Tools run alternately, several rounds, and the table shows medians and ratios measured in this run
(these machines are noisy; absolute seconds mean little, ratios from one run do). Peak memory is the
resident set summed over the whole process tree (Python and its Tesseract/Poppler children).

Usage: ``python -m s3ocr.bench.speed [--corpus DIR] [--rounds 3] [--ocrmypdf PATH] [--lang chi_sim+eng]``.
The recognition-only bound is the sum of bare ``tesseract`` CPU time over pre-rendered pages divided by
the cores: no tool that runs Tesseract on every page can beat it.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from s3ocr.bench.samples import build_samples, long_scan
from s3ocr.proctree import descendants
from s3ocr.settings import available_cpus

REPO_ROOT = Path(__file__).resolve().parents[3]
FORCE_OCR_INPUTS = ("digital.pdf", "manual-8p.pdf")  # also read with --force-ocr: what the text layer saves
BLANK_INPUTS = {"blank-200p.pdf": 200}  # pages; s3ocr alone (no engine has anything to read), per page


def tree_rss_bytes(root: int) -> int:
    """Resident memory of ``root`` and all its descendants, from /proc."""
    total = 0
    for pid in [root, *descendants(root)]:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
                    break
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


@dataclass
class Run:
    seconds: float
    cpu_seconds: float
    peak_rss: int


@dataclass
class Measurements:
    runs: dict[tuple[str, str], list[Run]] = field(default_factory=dict)

    def add(self, sample: str, tool: str, run: Run) -> None:
        self.runs.setdefault((sample, tool), []).append(run)

    def median(self, sample: str, tool: str) -> float | None:
        runs = self.runs.get((sample, tool))
        return statistics.median(r.seconds for r in runs) if runs else None

    def round_ratios(self, sample: str, tool: str, reference: str) -> list[float]:
        """``tool`` over ``reference`` within each round: both were measured minutes apart at most, so a
        machine that slows down between rounds (a noisy neighbour) moves both."""
        ours, theirs = self.runs.get((sample, tool), []), self.runs.get((sample, reference), [])
        return [a.seconds / b.seconds for a, b in zip(ours, theirs, strict=False) if b.seconds > 0]

    def peak(self, sample: str, tool: str) -> int:
        return max((r.peak_rss for r in self.runs.get((sample, tool), [])), default=0)


def run_measured(command: list[str], env: dict[str, str] | None = None, sample_every: float = 0.05,
                 succeeded: tuple[int, ...] = (0,)) -> Run:
    """Run a command to completion; wall time, children's CPU time and peak tree RSS. An exit status outside
    ``succeeded`` is an error (the s3ocr CLI exits 3 for a document read in part)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, tree_rss_bytes(process.pid))
            stop.wait(sample_every)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    stop.set()
    sampler.join()
    seconds = time.perf_counter() - started
    if process.returncode not in succeeded:
        raise RuntimeError(f"{command[0]} failed ({process.returncode}): {stderr.decode(errors='replace')[-500:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(seconds=seconds, cpu_seconds=cpu, peak_rss=peak)


def compile_package() -> None:
    """Write s3ocr's bytecode, as an installed copy has it: pip compiles a wheel's modules as it installs them, and
    the image compiles at build time. A checkout installed in editable mode has none, and with
    ``PYTHONDONTWRITEBYTECODE`` set (as on these machines) every command would compile the package from source
    first: 0.06 s of each born-digital run's 0.3. Stale files are never read (Python checks the source's time)."""
    import s3ocr

    compileall.compile_dir(Path(s3ocr.__file__).parent, quiet=1)


def s3ocr_command(sample: Path, out: Path, lang: str, force_ocr: bool = False) -> list[str]:
    command = [sys.executable, "-m", "s3ocr.cli", "extract", "-q", "--lang", lang, "-o", str(out), str(sample)]
    return [*command, "--force-ocr"] if force_ocr else command


def ocrmypdf_command(ocrmypdf: str, sample: Path, out: Path, lang: str, jobs: int) -> list[str]:
    command = [
        ocrmypdf,
        "-q",
        "-l",
        lang,
        "--jobs",
        str(jobs),
        "--output-type",
        "none",
        "--skip-text",  # pages that already have text are not OCRed, as s3ocr does with born-digital pages
        "--sidecar",
        str(out / "sidecar.txt"),
    ]
    if sample.suffix != ".pdf":
        command += ["--image-dpi", "300"]
    return [*command, str(sample), "-"]


def recognition_bound(sample: Path, lang: str, cores: int, work: Path) -> Run:
    """Bare Tesseract on every page, pages pre-rendered (not timed): CPU seconds / cores."""
    pages = work / "bound"
    shutil.rmtree(pages, ignore_errors=True)
    pages.mkdir()
    if sample.suffix == ".pdf":
        subprocess.run(["pdftoppm", "-gray", "-r", "300", str(sample), str(pages / "p")], check=True)
        images = sorted(pages.glob("p*.pgm"))
    else:
        images = [sample]
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    cpu = 0.0
    for image in images:
        cpu += run_measured(["tesseract", str(image), str(pages / "out"), "-l", lang], env=env).cpu_seconds
    return Run(seconds=cpu / cores, cpu_seconds=cpu, peak_rss=0)


def directory_bytes(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(FileNotFoundError):  # pages come and go while we count
                total += (Path(root) / name).stat().st_size
    return total


def memory_run(sample: Path, lang: str, work: Path) -> tuple[Run, int]:
    """s3ocr on ``sample`` with its work dir watched: the run, and the peak bytes in the work dir."""
    work_dir = work / "s3ocr-tmp"
    work_dir.mkdir(exist_ok=True)
    peak_disk = 0
    stop = threading.Event()

    def watch() -> None:
        nonlocal peak_disk
        while not stop.is_set():
            peak_disk = max(peak_disk, directory_bytes(work_dir))
            stop.wait(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    out = work / f"memory-{sample.stem}"
    out.mkdir(exist_ok=True)
    try:
        run = run_measured(s3ocr_command(sample, out, lang), env={**os.environ, "S3OCR_WORK_DIR": str(work_dir)},
                           succeeded=(0, 3))
    finally:
        stop.set()
        watcher.join()
    return run, peak_disk


def memory_table(page_counts: list[int], corpus: Path, samples_dir: Path, lang: str) -> str:
    """Peak RSS (process tree) and peak work-dir bytes as the page count grows: flat is the goal."""
    rows = ["| pages | wall s | peak RSS MB (tree) | peak work dir MB | source PDF MB |", "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory(prefix="s3ocr-memory-") as tmp:
        for count in page_counts:
            sample = long_scan(samples_dir, count, corpus / "en-f0-clean.png")
            run, disk = memory_run(sample, lang, Path(tmp))
            rows.append(
                f"| {count} | {run.seconds:.1f} | {run.peak_rss / 2**20:.0f} | {disk / 2**20:.1f} | "
                f"{sample.stat().st_size / 2**20:.1f} |"
            )
            print(rows[-1], flush=True)
    return "\n".join(rows)


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def table(measurements: Measurements, samples: list[str], ocrmypdf: bool) -> str:
    rows = [
        "| input | s3ocr s | s3ocr --force-ocr s | OCRmyPDF s | Tesseract bound s | s3ocr / OCRmyPDF "
        "| s3ocr / bound | force-ocr / s3ocr | peak RSS MB s3ocr / OCRmyPDF "
        "| per round: s3ocr / OCRmyPDF, s3ocr / bound |",
        "|" + "---|" * 10,
    ]
    for sample in samples:
        ours = measurements.median(sample, "s3ocr")
        forced = measurements.median(sample, "s3ocr-force")
        theirs = measurements.median(sample, "ocrmypdf") if ocrmypdf else None
        bound = measurements.median(sample, "bound")
        rows.append(
            f"| {sample} | {_fmt(ours)} | {_fmt(forced)} | {_fmt(theirs)} | {_fmt(bound)} | "
            f"{_ratio(ours, theirs)} | {_ratio(ours, bound)} | {_ratio(forced, ours)} | "
            f"{measurements.peak(sample, 's3ocr') / 2**20:.0f} / {measurements.peak(sample, 'ocrmypdf') / 2**20:.0f} | "
            f"{_spread(measurements.round_ratios(sample, 's3ocr', 'ocrmypdf'))}; "
            f"{_spread(measurements.round_ratios(sample, 's3ocr', 'bound'))} |"
        )
    return "\n".join(rows)


def _spread(ratios: list[float]) -> str:
    """Median of the per-round ratios, and their range."""
    if not ratios:
        return "—"
    return f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"


def _ratio(numerator: float | None, denominator: float | None) -> str:
    return f"{numerator / denominator:.2f}" if numerator and denominator else "—"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="s3ocr speed benchmark")
    parser.add_argument("--corpus", type=Path, default=REPO_ROOT.parent / "shared" / "corpus" / "generated")
    parser.add_argument("--samples-dir", type=Path, default=REPO_ROOT / "build" / "bench-samples")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lang", default="chi_sim+eng")
    parser.add_argument("--ocrmypdf", default=shutil.which("ocrmypdf") or "")
    parser.add_argument("--only", help="comma list of inputs (scan-8p.pdf,scan-en-8p.pdf,digital.pdf,mixed.pdf,"
                                       "large.png,manual-8p.pdf,blank-200p.pdf)")
    parser.add_argument("--memory", help="instead: page counts for the memory table, e.g. 30,300")
    args = parser.parse_args(argv)
    if args.memory:
        counts = [int(n) for n in args.memory.split(",")]
        print(f"memory: s3ocr on {counts} page scans at 300 DPI, {available_cpus()} CPUs, languages eng", flush=True)
        print(memory_table(counts, args.corpus, args.samples_dir, "eng"))
        return 0
    samples = build_samples(args.corpus, args.samples_dir)
    compile_package()
    names = [n for n in samples if not args.only or n in args.only.split(",")]
    cores = available_cpus()
    print(
        f"machine: {cores} CPUs available, {os.uname().machine}, Python {sys.version.split()[0]}; "
        f"tesseract {subprocess.run(['tesseract', '--version'], capture_output=True, text=True).stdout.split()[1]}; "
        f"OCRmyPDF: {args.ocrmypdf or 'not installed'}; {args.rounds} rounds, languages {args.lang}",
        flush=True,
    )
    measurements = Measurements()
    with tempfile.TemporaryDirectory(prefix="s3ocr-bench-") as tmp:
        work = Path(tmp)
        tools: dict[str, Callable[[Path, Path], list[str]]] = {
            "s3ocr": lambda sample, out: s3ocr_command(sample, out, args.lang)
        }
        if args.ocrmypdf:
            tools["ocrmypdf"] = lambda sample, out: ocrmypdf_command(args.ocrmypdf, sample, out, args.lang, cores)
        for round_number in range(args.rounds):
            for name in names:
                runs = {"s3ocr": tools["s3ocr"]} if name in BLANK_INPUTS else dict(tools)
                if name not in BLANK_INPUTS:  # measured every round: one measurement drifted by 8% between runs
                    bound = recognition_bound(samples[name], args.lang, cores, work)
                    measurements.add(name, "bound", bound)
                    print(f"round {round_number + 1} {name:12} {'bound':9} {bound.seconds:7.2f} s", flush=True)
                if name in FORCE_OCR_INPUTS:  # how much faster the text layer is than OCRing the same pages
                    runs["s3ocr-force"] = lambda sample, out: s3ocr_command(sample, out, args.lang, force_ocr=True)
                for tool, command in runs.items():
                    out = work / f"{tool}-{round_number}-{name}"
                    out.mkdir()
                    exits = (0, 3) if tool.startswith("s3ocr") else (0,)
                    run = run_measured(command(samples[name], out), succeeded=exits)
                    measurements.add(name, tool, run)
                    print(
                        f"round {round_number + 1} {name:12} {tool:9} {run.seconds:7.2f} s "
                        f"peak {run.peak_rss / 2**20:6.0f} MB",
                        flush=True,
                    )
    print()
    print(table(measurements, names, bool(args.ocrmypdf)))
    for name in (n for n in names if n in BLANK_INPUTS):
        print(f"{name}: s3ocr {(measurements.median(name, 's3ocr') or 0) / BLANK_INPUTS[name]:.4f} s a blank page")
    return 0


if __name__ == "__main__":
    sys.exit(main())
