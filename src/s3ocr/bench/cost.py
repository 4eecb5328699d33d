"""What 1,000 pages cost on Lambda, from the real pages read here: ``make bench-cost``.

Usage: ``python -m s3ocr.bench.cost CORPUS_DIR [--rounds 3] [--range-pages 16]``.

For each language of the corpus's documents (scene photos are not documents), in one run:

1. every page read warm by ``auto``, one core a page, as ``bench.accuracy --warm --jobs 1 --workers 1`` reads
   them; the English pages also by bare Tesseract, the reference: this machine's speed drifts by a third between
   sittings, and the cost moves with it;
2. what a new instance pays before its pages cost a warm one's (``bench.loading``, ``--rounds`` fresh
   processes, the median), on the two cheapest pages of the language that both engines read (for English,
   pages PP-OCRv6 gave a second opinion on), since a range of such pages loads both;
3. the CPU-seconds of a page: the warm reading plus the loading shared by a range's pages, as when every range
   starts an instance of its own (a 1,000-page job's ranges all start at once).

A CPU-second is priced at Lambda's 1,769 MB a vCPU (``GB_S_PER_CPU_S``) at the list prices of x86 and arm64
(us-east-1), and compared with the issue's goals. For English it also prints the bare-Tesseract speed at which
the goal holds: the figure that carries over from this machine to another CPU, as far as both readings scale
alike.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from s3ocr.bench.accuracy import PageScore

GB_S_PER_CPU_S = 1.7275  # 1,769 MB of memory is one vCPU
PRICE_PER_GB_S = {"x86": 0.0000166667, "arm64": 0.0000133334}  # US$, us-east-1 list prices
GOALS = {"en": 0.03, "zh": 0.10}  # US$ per 1,000 pages at x86 (issue 13)
LOADING_PAGES = 2  # pages read at once by the loading rounds, as an instance of two cores reads them


def per_thousand(cpu_seconds_a_page: float, architecture: str = "x86") -> float:
    """US$ for 1,000 pages at ``cpu_seconds_a_page``."""
    return 1000 * cpu_seconds_a_page * GB_S_PER_CPU_S * PRICE_PER_GB_S[architecture]


def cpu_seconds_for(goal: float, architecture: str = "x86") -> float:
    """The CPU-seconds a page that cost ``goal`` US$ per 1,000 pages."""
    return goal / per_thousand(1.0, architecture)


@dataclass(frozen=True)
class Language:
    lang: str
    pages: int
    warm: float  # CPU-s a page, auto, warm
    reference: float | None  # CPU-s a page, bare Tesseract (English)
    init: float  # CPU-s an instance: start and the handler's import
    loading: float  # CPU-s an instance: the first reading minus the second
    loading_pages: tuple[str, ...]

    def a_page(self, range_pages: int) -> float:
        return self.warm + (self.init + self.loading) / range_pages


def loading_pages(scores: Sequence[PageScore], languages: str, count: int = LOADING_PAGES) -> list[str]:
    """The ``count`` cheapest pages (by their warm ``auto`` reading) that both engines read: under ``auto``,
    every page when PP-OCRv6 reads the language first, else the pages it gave a second opinion on after
    Tesseract's reading; the cheapest pages of all when too few are."""
    from s3ocr.engines.auto import engine_name_for

    first_ppocr = engine_name_for(languages) == "rapidocr"
    ranked = sorted((s for s in scores if s.config == "auto"), key=lambda s: s.cpu_seconds)

    def both(score: PageScore) -> bool:
        read = score.report.get("read", {})
        return first_ppocr or ("second_opinion" in read and not read.get("asked_first"))

    chosen = [s.image for s in ranked if both(s)][:count]
    return chosen + [s.image for s in ranked if s.image not in chosen][:count - len(chosen)]


def measure(corpus: Path, lang: str, rounds: int) -> Language:
    from s3ocr.bench import accuracy, loading

    samples = [s for s in accuracy.load_corpus(corpus) if s.lang == lang and s.set == "document"]
    if not samples:
        raise SystemExit(f"{corpus}: no {lang} documents")
    accuracy.WORKERS["page"] = 1
    configs = ["auto", "bare-tesseract"] if lang == "en" else ["auto"]
    scores = accuracy.run(samples, configs, jobs=1, warm=True)

    def a_page(config: str) -> float:
        return sum(s.cpu_seconds for s in scores if s.config == config) / len(samples)

    names = loading_pages(scores, accuracy.LANGUAGES[lang])
    figures = loading.measure([corpus / name for name in names], accuracy.LANGUAGES[lang], LOADING_PAGES, rounds)
    return Language(lang, len(samples), a_page("auto"), a_page("bare-tesseract") if lang == "en" else None,
                    statistics.median(f["init"] for f in figures), statistics.median(f["loading"] for f in figures),
                    tuple(names))


def report(found: Language, range_pages: int) -> str:
    total = found.a_page(range_pages)
    goal = GOALS[found.lang]
    lines = [f"## {found.lang} documents ({found.pages} pages)",
             f"- warm, auto: {found.warm:.2f} CPU-s a page"
             + (f"; bare Tesseract {found.reference:.2f} (auto {found.warm / found.reference:.2f} times)"
                if found.reference else ""),
             f"- a new instance (median of the loading rounds, on {', '.join(found.loading_pages)}): init "
             f"{found.init:.2f} + loading {found.loading:.2f} CPU-s, over a range of {range_pages} pages "
             f"{(found.init + found.loading) / range_pages:.3f} a page",
             f"- a page: {total:.2f} CPU-s: US${per_thousand(total):.3f} per 1,000 pages at x86 (goal "
             f"US${goal:.2f}: {'met' if per_thousand(total) <= goal else 'NOT met'}), "
             f"US${per_thousand(total, 'arm64'):.3f} at arm64"]
    if found.reference:
        # Everything scales with the CPU: the goal's CPU-seconds over this run's, times the reference's.
        holds_at = found.reference * cpu_seconds_for(goal) / total
        lines.append(f"- the goal holds on a CPU where bare Tesseract reads these pages in {holds_at:.2f} CPU-s a "
                     f"page or less (here {found.reference:.2f})")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    from s3ocr.settings import Settings

    parser = argparse.ArgumentParser(prog="python -m s3ocr.bench.cost", description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, help="a folder of real pages with manifest.json")
    parser.add_argument("--rounds", type=int, default=3, help="loading processes a language (default: %(default)s)")
    parser.add_argument("--range-pages", type=int, default=Settings.range_pages,
                        help="pages a range task reads (default: RANGE_PAGES's default, %(default)s)")
    parser.add_argument("--lang", choices=sorted(GOALS), action="append", help="only this language (repeatable)")
    args = parser.parse_args(argv)
    for lang in args.lang or sorted(GOALS):
        print(report(measure(args.corpus, lang, args.rounds), args.range_pages) + "\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
