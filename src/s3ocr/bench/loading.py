"""What a new instance pays before its pages cost what a warm instance's do: ``make bench-loading``.

Usage: ``python -m s3ocr.bench.loading PAGE... [--languages eng] [--workers 2] [--rounds 3]``.

Each round is a process of its own, started as Lambda starts one, with the variables by which the libraries
tell that they run in Lambda (``LAMBDA_TASK_ROOT``, ``AWS_LAMBDA_FUNCTION_NAME``): outside it, Powertools'
Tracer is off and the X-Ray SDK builds a sampler that asks X-Ray for its rules, two botocore clients at import
(~0.1-0.2 CPU-s an instance that Lambda does not pay). It imports the function's handler (its module-level
set-up: boto3, Powertools, the pipeline), then reads the pages as one document (``auto``, the
default engine), ``--workers`` pages at once, twice. The first reading loads what the pages need (Tesseract's
worker processes, PP-OCRv6's readers) and the second is a warm instance's, so their difference is the
loading. Printed, in CPU seconds of the process tree (Tesseract's workers included), the median over the
rounds: the start and the handler's import (Lambda's *init*), the loading, and the warm reading a page.

The scaling model (README) adds the first two once per instance, that is once per range of pages when every
range starts an instance of its own. Pick pages that need every engine the instance would load: for
English, pages PP-OCRv6 gives a second opinion on (receipts, forms), as many as ``--workers``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from importlib import import_module
from pathlib import Path

HANDLER_DIR = Path(__file__).resolve().parents[3] / "handlers" / "ocr"


def _document(pages: Sequence[Path], folder: Path) -> Path:
    """The pages as one multi-page TIFF (grayscale, as the pipeline reads them anyway)."""
    from PIL import Image

    frames = [Image.open(page).convert("L") for page in pages]
    path = folder / "document.tif"
    frames[0].save(path, save_all=True, append_images=frames[1:], compression="tiff_deflate")
    return path


def child(pages: Sequence[Path], languages: str, workers: int) -> dict[str, float]:
    """One round, in this process: what it costs to start, to load, and to read warm."""
    from s3ocr.proctree import tree_cpu_seconds

    if not (HANDLER_DIR / "app.py").is_file():
        raise SystemExit(f"the handler is not at {HANDLER_DIR}: run this from a checkout of the repository")
    sys.path.insert(0, str(HANDLER_DIR))
    import_module("app")  # the handler's module-level set-up, as Lambda's init runs it
    from s3ocr.engines import get_engine
    from s3ocr.models import DocumentRef, DocumentResult
    from s3ocr.pipeline import process_local_file
    from s3ocr.settings import Settings

    started = tree_cpu_seconds()
    engine = get_engine("auto")
    readings = []
    with tempfile.TemporaryDirectory(prefix="s3ocr-loading-") as folder:
        document = _document(pages, Path(folder))
        settings = Settings(languages=languages, workers=workers, work_dir=Path(folder) / "work")
        for _ in range(2):
            mark = tree_cpu_seconds()
            outcome = process_local_file(document, DocumentRef("", document.name), settings, engine)
            if not isinstance(outcome, DocumentResult) or any(page.status != "ok" for page in outcome.pages):
                raise SystemExit(f"the pages did not read: {outcome}")
            readings.append(tree_cpu_seconds() - mark)
    return {"init": started, "loading": readings[0] - readings[1], "warm_page": readings[1] / len(pages)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m s3ocr.bench.loading", description=__doc__.splitlines()[0])
    parser.add_argument("pages", type=Path, nargs="+", help="page images, read as one document")
    parser.add_argument("--languages", default="eng", help="OCR languages (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="pages read at once (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="processes measured (default: %(default)s)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.pages, args.languages, args.workers)))
        return 0
    rounds = measure(args.pages, args.languages, args.workers, args.rounds)
    each = ", ".join(f"{r['init']:.2f}/{r['loading']:.2f}" for r in rounds)
    print(f"{len(args.pages)} pages, {args.languages}, {args.workers} at once; CPU-s, median of {args.rounds} "
          f"processes (init/loading by round: {each})")
    for key, label in (("init", "start and the handler's import (init)"),
                       ("loading", "loading: the first reading minus the second"),
                       ("warm_page", "a page, warm")):
        print(f"- {label}: {statistics.median(r[key] for r in rounds):.2f}")
    return 0


def measure(pages: Sequence[Path], languages: str, workers: int, rounds: int) -> list[dict[str, float]]:
    """``rounds`` fresh processes, each started as Lambda starts one: their ``child`` figures."""
    from s3ocr.bench.speed import compile_package

    compile_package()  # as installed: no module compiled from source on the way (see compile_package)
    import compileall

    compileall.compile_dir(HANDLER_DIR, quiet=1)
    # As Lambda starts a process: the libraries see these and behave as in the function (see the module doc).
    lambda_like = {**os.environ, "LAMBDA_TASK_ROOT": str(HANDLER_DIR), "AWS_LAMBDA_FUNCTION_NAME": "s3ocr-bench"}
    figures = []
    for _ in range(rounds):
        command = [sys.executable, "-m", "s3ocr.bench.loading", "--child", "--languages", languages,
                   "--workers", str(workers), *map(str, pages)]
        done = subprocess.run(command, capture_output=True, text=True, check=True, env=lambda_like)
        figures.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return figures


if __name__ == "__main__":
    sys.exit(main())
