"""Accuracy on real and rendered pages: s3ocr's own page path beside the bare engines, in one run.

Usage: ``python -m s3ocr.bench.accuracy CORPUS_DIR... [--configs bare-tesseract,bare-ppocr,auto] [--jobs 2]``.

A corpus is a folder with ``manifest.json`` (entries: ``image``, ``truth``, ``lang``, and ``kind`` and ``set``
for real pages or ``degradation`` for rendered ones). Every page is read by every config:

- ``bare-tesseract``: the ``tesseract`` command as it ships, on the image file (``chi_sim+eng`` for Chinese
  pages, ``eng`` for English ones);
- ``bare-ppocr``: PP-OCRv6 small through RapidOCR as it ships (``RapidOCR()``), its lines in its own order;
- ``RECIPE@ENGINE`` (or just ``ENGINE``, or ``auto``): the pipeline's page path (``pipeline.read_page``:
  render, plan, read, confirm, order, clean up) with that engine and preprocessing recipe (``raw`` is none);
  a one-page document, so read in bands by all cores when it can be.

``--warm`` reads each page once, untimed, before the reading that is timed and scored: the figures are then
those of a warm instance, without the loading of models and Tesseract's workers that a process's first pages
pay once (measured apart: the scaling model adds it per instance).

``--turned 90,180,270`` reads every page turned clockwise by each of those degrees instead (a scanner fed the
page the wrong way round): the same truths, so the scores say what a wrong way up costs.

``--pitch 14,18,22`` reads every page scaled down so that its text lines lie each of those px apart instead (the
page scanned at a lower resolution, as the plan measures its lines): what small text costs each engine.

Scores (``s3ocr.bench.scoring``): CER, bag-of-characters F1 and recall, per page, per kind and per language.
CER counts only where the truth is in reading order (``ORDERED_TRUTH``); elsewhere the bag F1 does. Seconds
are wall time, CPU seconds those of the process tree (Tesseract's worker processes included).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from s3ocr.bench.scoring import bag_of_characters, cer
from s3ocr.proctree import tree_cpu_seconds

if TYPE_CHECKING:
    import numpy as np

    from s3ocr.engines.base import Engine

LANGUAGES = {"zh": "chi_sim+eng", "en": "eng"}
DEFAULT_CONFIGS = ("bare-tesseract", "bare-ppocr", "auto")
PAGE_TIMEOUT_S = 600.0
# The cores a page may use in the pipeline (0: every core, the page read in bands as a one-page document is).
# ``--workers 1`` with ``--jobs 1`` measures what a page costs on one core with nothing beside it.
WORKERS = {"page": 0}
# Real pages whose truth is in the annotators' reading order (their sources' README): CER is meaningful there.
# Elsewhere (receipts, forms, scene text) the truth's order is a heuristic of its own.
ORDERED_TRUTH = ("tess-", "omni-")


@dataclass(frozen=True)
class Sample:
    """One corpus page: its image, truth, language, and what kind of page it is."""

    image: Path
    truth: Path
    lang: str
    kind: str
    set: str = "document"  # "document", "scene" (signboard photos: scored by recall), or "rendered"

    @property
    def ordered_truth(self) -> bool:
        return self.set == "rendered" or self.image.name.startswith(ORDERED_TRUTH)


@dataclass(frozen=True)
class PageScore:
    image: str
    lang: str
    kind: str
    set: str
    ordered_truth: bool
    config: str
    cer: float
    f1: float
    recall: float
    seconds: float
    cpu_seconds: float
    status: str
    report: dict
    text: str


def load_corpus(corpus_dir: Path) -> list[Sample]:
    """Samples listed in ``manifest.json``: real pages (``kind``, ``set``) or rendered ones (``degradation``)."""
    entries = json.loads((corpus_dir / "manifest.json").read_text(encoding="utf-8"))
    return [Sample(image=corpus_dir / e["image"], truth=corpus_dir / e["truth"], lang=e["lang"],
                   kind=e.get("degradation") or e.get("kind", ""),
                   set="rendered" if "degradation" in e else e.get("set", "document"))
            for e in entries]


def _pixels(sample: Sample) -> np.ndarray:
    """The sample's image as OpenCV reads it, as it is (depth and channels kept)."""
    import cv2

    image = cv2.imread(str(sample.image), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise SystemExit(f"{sample.image}: not an image OpenCV reads")
    return image


def turned(samples: Sequence[Sample], turns: Sequence[int], folder: Path) -> list[Sample]:
    """Copies of ``samples`` turned clockwise by each of ``turns`` (90, 180, 270), written to ``folder``."""
    import cv2

    from s3ocr.orientation import rotate_quarter

    copies = []
    for sample in samples:
        image = _pixels(sample)
        for turn in turns:
            path = folder / f"{sample.image.stem}-turned{turn}.png"
            cv2.imwrite(str(path), rotate_quarter(image, turn))
            copies.append(replace(sample, image=path, kind=f"{sample.kind}, turned {turn}"))
    return copies


def resampled(samples: Sequence[Sample], pitches: Sequence[float], folder: Path) -> list[Sample]:
    """Copies of ``samples`` scaled down so that their text lines lie each of ``pitches`` px apart, as the page
    plan measures them (a page scanned at a lower resolution); none for a pitch the page's lines are closer than
    already, or for a page with no lines found."""
    import cv2

    from s3ocr.engines.base import Capabilities
    from s3ocr.plan import prepare_auto

    copies = []
    for sample in samples:
        image = _pixels(sample)
        measured = prepare_auto(image, LANGUAGES[sample.lang], Capabilities()).plan.measurements
        pitch = measured.line_pitch if measured is not None else 0.0
        for target in pitches:
            if not 0 < target < pitch:
                continue
            path = folder / f"{sample.image.stem}-pitch{target:g}.png"
            cv2.imwrite(str(path), cv2.resize(image, None, fx=target / pitch, fy=target / pitch,
                                              interpolation=cv2.INTER_AREA))
            copies.append(replace(sample, image=path, kind=f"{sample.kind}, lines {pitch:g} -> {target:g} px apart"))
    return copies


def recipe_for(config: str) -> str:
    """The preprocessing recipe a ``RECIPE@ENGINE`` config names (``auto`` when it names none)."""
    recipe = config.partition("@")[0] if "@" in config else "auto"
    return {"raw": "none", "": "auto"}.get(recipe, recipe.replace("+", ","))


def engine_for(config: str) -> str:
    """The engine a ``RECIPE@ENGINE`` config names: after ``@``, or the config itself."""
    return config.partition("@")[2] if "@" in config else config


def read_bare_tesseract(sample: Sample) -> tuple[str, str, dict]:
    """The ``tesseract`` command as it ships on the image file (one thread, as s3ocr runs it)."""
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    proc = subprocess.run(["tesseract", str(sample.image), "-", "-l", LANGUAGES[sample.lang]], capture_output=True,
                          text=True, env=env, timeout=PAGE_TIMEOUT_S, check=False)
    return proc.stdout, "ok" if proc.stdout.strip() else "empty", {}


_ppocr = None


def read_bare_ppocr(sample: Sample) -> tuple[str, str, dict]:
    """PP-OCRv6 small through RapidOCR 3.10 as it ships: default parameters, its lines in its own order."""
    global _ppocr
    if _ppocr is None:
        os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
        from rapidocr import RapidOCR

        _ppocr = RapidOCR(params={"Global.log_level": "warning"})
    result = _ppocr(str(sample.image))
    text = "\n".join(getattr(result, "txts", None) or ())  # an image with no text gives an empty output type
    return text, "ok" if text.strip() else "empty", {}


def read_pipeline(sample: Sample, config: str) -> tuple[str, str, dict]:
    """The page through ``pipeline.read_page`` as a one-page document, with the config's engine and recipe."""
    from s3ocr.engines import get_engine
    from s3ocr.page import PageContext, read_page
    from s3ocr.pages.images import ImagePages
    from s3ocr.settings import Settings

    with tempfile.TemporaryDirectory(prefix="s3ocr-bench-") as tmp:
        settings = Settings(languages=LANGUAGES[sample.lang], preprocess=recipe_for(config),
                            page_timeout=PAGE_TIMEOUT_S, work_dir=Path(tmp), workers=WORKERS["page"])
        source = ImagePages(sample.image, max_page_pixels=settings.max_page_pixels)
        # A one-page document: its page is the last, read by all cores at once when it can be.
        context = PageContext(source, Path(tmp), settings, _engine(engine_for(config), get_engine))
        page = read_page(context, 1)
    if page.status == "failed":
        raise SystemExit(f"{sample.image}: {page.error}")
    return page.text, page.status, page.preprocessing


_engines: dict[str, Engine] = {}


def _engine(name: str, make: Callable[[str], Engine]) -> Engine:
    """One engine per name per process: models load once, as in a warm Lambda."""
    if name not in _engines:
        _engines[name] = make(name)
    return _engines[name]


def read(sample: Sample, config: str) -> tuple[str, str, dict]:
    if config == "bare-tesseract":
        return read_bare_tesseract(sample)
    if config == "bare-ppocr":
        return read_bare_ppocr(sample)
    return read_pipeline(sample, config)


def score_page(sample: Sample, config: str, warm: bool = False) -> PageScore:
    """``sample`` read by ``config`` and scored; ``warm``: read once before, untimed, so that what the page
    needs is loaded (models, Tesseract's workers), as in a warm instance, and only the page is timed."""
    if warm:
        read(sample, config)
    started, cpu = time.perf_counter(), tree_cpu_seconds()
    text, status, report = read(sample, config)
    seconds, cpu_seconds = time.perf_counter() - started, tree_cpu_seconds() - cpu
    truth = sample.truth.read_text(encoding="utf-8")
    bag = bag_of_characters(truth, text)
    return PageScore(image=sample.image.name, lang=sample.lang, kind=sample.kind, set=sample.set,
                     ordered_truth=sample.ordered_truth, config=config, cer=round(cer(truth, text), 4),
                     f1=round(bag.f1, 4), recall=round(bag.recall, 4), seconds=round(seconds, 2),
                     cpu_seconds=round(cpu_seconds, 2), status=status, report=report, text=text)


def _score_job(job: tuple[Sample, str, bool]) -> PageScore:
    return score_page(*job)


def run(samples: Sequence[Sample], configs: Sequence[str], jobs: int, warm: bool = False) -> list[PageScore]:
    """Every page by every config; configs in separate processes so that each warms its own engines."""
    work = [(sample, config, warm) for config in configs for sample in samples]
    if jobs <= 1:
        return [_score_job(job) for job in work]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(_score_job, work))


def main(argv: Sequence[str] | None = None) -> int:
    from s3ocr.bench.tables import report

    parser = argparse.ArgumentParser(prog="python -m s3ocr.bench.accuracy", description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, nargs="+", help="folders with manifest.json, page images and truths")
    parser.add_argument("--configs", default=",".join(DEFAULT_CONFIGS), help="comma list (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=2, help="pages in parallel (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=0,
                        help="cores a page may use in the pipeline (default: every core, in bands)")
    parser.add_argument("--warm", action="store_true",
                        help="read each page once untimed before the timed reading: the seconds are a warm "
                             "instance's, without the loading of models and workers the first pages pay")
    parser.add_argument("--only", default="", help="only pages whose image name contains this text")
    parser.add_argument("--lang", choices=sorted(LANGUAGES), help="only pages in this language")
    parser.add_argument("--details", type=Path, help="write every page's score, report and text as JSON")
    parser.add_argument("--languages", help="read every page with these languages (e.g. chi_sim+eng, the default "
                                            "OCR_LANGUAGES) instead of chi_sim+eng for Chinese, eng for English")
    parser.add_argument("--turned", default="", help="read every page turned clockwise by each of these degrees "
                                                     "instead (e.g. 90,180,270)")
    parser.add_argument("--pitch", default="", help="read every page scaled down so that its lines lie each of "
                                                    "these px apart instead (e.g. 14,18,22)")
    args = parser.parse_args(argv)
    turns = [int(turn) for turn in args.turned.split(",") if turn.strip()]
    if any(turn % 90 or not 0 < turn < 360 for turn in turns):
        parser.error("--turned takes 90, 180 and 270")
    pitches = [float(pitch) for pitch in args.pitch.split(",") if pitch.strip()]
    if args.languages:
        LANGUAGES.update(zh=args.languages, en=args.languages)
    WORKERS["page"] = args.workers
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    scores: list[PageScore] = []
    with tempfile.TemporaryDirectory(prefix="s3ocr-copies-") as folder:
        for corpus_dir in args.corpus:
            samples = [s for s in load_corpus(corpus_dir)
                       if args.only in s.image.name and args.lang in (None, s.lang)]
            if turns:
                samples = turned(samples, turns, Path(folder))
            if pitches:
                samples = resampled(samples, pitches, Path(folder))
            found = run(samples, configs, args.jobs, args.warm)
            scores.extend(found)
            changed = (", turned " + args.turned if turns else "") + (", lines " + args.pitch + " px apart"
                                                                         if pitches else "")
            print(f"## {corpus_dir} ({len(samples)} pages{changed})\n", flush=True)
            print(report(found, configs), flush=True)
    if args.details:
        args.details.write_text(json.dumps([asdict(s) for s in scores], ensure_ascii=False, indent=1),
                                encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
