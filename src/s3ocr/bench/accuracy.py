"""Character error rate of the pipeline's recognition path on a corpus of generated pages.

Each page goes through exactly what the pipeline does: ``prepare()`` -> the prepared image written as PGM
into a temp dir -> the engine's ``recognize()`` -> ``clean_text()``. CER is the Levenshtein distance
over the reference length after removing all whitespace from both, so layout is not scored.

Usage: ``python -m s3ocr.bench.accuracy CORPUS_DIR [--configs raw,seed,auto] [--jobs 2]``. A config is a
recipe name, ``raw`` (the page as it is, grayscale, no rotation) or steps joined by ``+``, optionally followed
by ``@engine`` (``auto@rapidocr``); without one the engine is Tesseract.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

LANGUAGES = {"zh": "chi_sim+eng", "en": "eng"}
DEFAULT_CONFIGS = ("raw", "seed", "auto")
PAGE_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Sample:
    """One corpus page: its image, ground truth and how it was made."""

    image: Path
    truth: Path
    lang: str
    degradation: str
    font: str = ""


@dataclass(frozen=True)
class PageScore:
    image: str
    lang: str
    degradation: str
    config: str
    cer: float
    seconds: float
    report: dict[str, Any]
    text: str


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions all cost 1)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def strip_whitespace(text: str) -> str:
    return "".join(text.split())


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate with all whitespace removed from both texts."""
    ref, hyp = strip_whitespace(reference), strip_whitespace(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return levenshtein(ref, hyp) / len(ref)


def load_corpus(corpus_dir: Path) -> list[Sample]:
    """Samples listed in ``manifest.json`` (entries: image, truth, lang, degradation, font)."""
    entries = json.loads((corpus_dir / "manifest.json").read_text(encoding="utf-8"))
    return [
        Sample(
            image=corpus_dir / e["image"],
            truth=corpus_dir / e["truth"],
            lang=e["lang"],
            degradation=e["degradation"],
            font=e.get("font", ""),
        )
        for e in entries
    ]


def recipe_for(config: str) -> str:
    """The ``prepare`` recipe behind a benchmark config name (``recipe`` or ``recipe@engine``)."""
    recipe = config.partition("@")[0]
    if recipe == "raw":
        return "none"
    return recipe.replace("+", ",")


def engine_for(config: str) -> str:
    """The engine a config names after ``@`` (Tesseract when it names none)."""
    return config.partition("@")[2] or "tesseract"


def score_page(sample: Sample, config: str) -> PageScore:
    """Run one page through the pipeline's own page path (``read_page``: decode, prepare, recognise,
    clean up) and score it."""
    # Imported here so that worker processes pick up OMP_THREAD_LIMIT=1 from the engine module.
    from s3ocr.engines import get_engine
    from s3ocr.pages.images import ImagePages
    from s3ocr.pipeline import read_page
    from s3ocr.settings import Settings

    languages = LANGUAGES[sample.lang]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="s3ocr-bench-") as tmp:
        settings = Settings(languages=languages, preprocess=recipe_for(config), page_timeout=PAGE_TIMEOUT_S,
                            work_dir=Path(tmp))
        source = ImagePages(sample.image, max_page_pixels=settings.max_page_pixels)
        # A one-page document: the pipeline lets all cores read it in bands when it can (see pagesplit).
        page = read_page(source, 1, Path(tmp), settings, get_engine(engine_for(config)), parts=settings.worker_count)
    if page.status == "failed":
        raise SystemExit(f"{sample.image}: {page.error}")
    text = page.text
    report = page.preprocessing
    seconds = time.perf_counter() - started
    truth = sample.truth.read_text(encoding="utf-8")
    return PageScore(
        image=sample.image.name,
        lang=sample.lang,
        degradation=sample.degradation,
        config=config,
        cer=round(cer(truth, text), 4),
        seconds=round(seconds, 2),
        report=report,
        text=text,
    )


def _score_job(job: tuple[Sample, str]) -> PageScore:
    return score_page(*job)


def run(samples: Sequence[Sample], configs: Sequence[str], jobs: int) -> list[PageScore]:
    work = [(sample, config) for sample in samples for config in configs]
    if jobs <= 1:
        return [_score_job(job) for job in work]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(_score_job, work))


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values) if values else float("nan")


def markdown_table(scores: Sequence[PageScore], configs: Sequence[str]) -> str:
    """CER per language x degradation x config, a mean row per language and mean seconds per page."""
    header = "| lang | degradation | " + " | ".join(configs) + " |"
    lines = [header, "|" + "---|" * (len(configs) + 2)]
    cells: dict[tuple[str, str, str], list[float]] = {}
    for s in scores:
        cells.setdefault((s.lang, s.degradation, s.config), []).append(s.cer)
    langs = list(dict.fromkeys(s.lang for s in scores))
    for lang in langs:
        kinds = list(dict.fromkeys(s.degradation for s in scores if s.lang == lang))
        for kind in kinds:
            row = [f"{_mean(cells.get((lang, kind, c), [])):.3f}" for c in configs]
            lines.append(f"| {lang} | {kind} | " + " | ".join(row) + " |")
        # Mean over kinds (each kind weighs the same whatever the number of pages of that kind).
        means = [_mean(_mean(cells.get((lang, k, c), [])) for k in kinds) for c in configs]
        lines.append(f"| {lang} | **mean** | " + " | ".join(f"**{m:.3f}**" for m in means) + " |")
    seconds = [_mean(s.seconds for s in scores if s.config == c) for c in configs]
    lines.append("| all | seconds/page | " + " | ".join(f"{t:.1f}" for t in seconds) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m s3ocr.bench.accuracy", description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, help="directory with manifest.json, page images and *.gt.txt")
    parser.add_argument("--configs", default=",".join(DEFAULT_CONFIGS), help="comma list (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=2, help="pages in parallel (default: %(default)s)")
    parser.add_argument("--only", default="", help="only pages whose image name contains this text")
    parser.add_argument("--details", type=Path, help="write every page's score, report and text as JSON")
    args = parser.parse_args(argv)
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    samples = [s for s in load_corpus(args.corpus) if args.only in s.image.name]
    scores = run(samples, configs, args.jobs)
    print(markdown_table(scores, configs))
    if args.details:
        args.details.write_text(json.dumps([asdict(s) for s in scores], ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
