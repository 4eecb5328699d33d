"""The accuracy benchmark's tables (Markdown): per group, per page or kind, and the checks against the bare
engines that the goals are stated in."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from s3ocr.bench.accuracy import PageScore

BARE = ("bare-tesseract", "bare-ppocr")
# A page may read this much worse than bare Tesseract on it before the check names it (single-page noise).
F1_SLACK = 0.03
CER_SLACK = 0.10


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values) if values else float("nan")


def _cell(value: float, digits: int = 3) -> str:
    return "—" if value != value else f"{value:.{digits}f}"  # NaN: nothing to average


def summary_table(scores: Sequence[PageScore], configs: Sequence[str]) -> str:
    """Means per group of pages (language and set) and config."""
    lines = ["| pages | config | bag-F1 | CER | CER, truth in reading order | recall | s/page | CPU-s/page |",
             "|---|---|---|---|---|---|---|---|"]
    groups = list(dict.fromkeys((s.lang, s.set) for s in scores))
    for lang, kind in groups:
        for config in configs:
            pages = [s for s in scores if (s.lang, s.set, s.config) == (lang, kind, config)]
            ordered = [s.cer for s in pages if s.ordered_truth]
            lines.append(f"| {lang} {kind} ({len(pages)}) | {config} | {_cell(_mean(s.f1 for s in pages))} | "
                         f"{_cell(_mean(s.cer for s in pages))} | {_cell(_mean(ordered))} | "
                         f"{_cell(_mean(s.recall for s in pages))} | {_cell(_mean(s.seconds for s in pages), 1)} | "
                         f"{_cell(_mean(s.cpu_seconds for s in pages), 1)} |")
    return "\n".join(lines)


def page_table(scores: Sequence[PageScore], configs: Sequence[str]) -> str:
    """Per page: bag-F1 / CER for each config (CER in italics where the truth's order is a heuristic)."""
    lines = ["| page | kind | " + " | ".join(configs) + " |", "|" + "---|" * (len(configs) + 2)]
    by = {(s.image, s.config): s for s in scores}
    for image in dict.fromkeys(s.image for s in scores):
        first = by[image, configs[0]]
        cells = []
        for config in configs:
            s = by[image, config]
            error = f"{s.cer:.3f}" if s.ordered_truth else f"*{s.cer:.3f}*"
            cells.append(f"{s.f1:.3f} / {error}{'' if s.status == 'ok' else ' ' + s.status}")
        lines.append(f"| {image} | {first.kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def kind_table(scores: Sequence[PageScore], configs: Sequence[str]) -> str:
    """Rendered pages: CER per language x degradation x config, a mean row per language (kinds weigh the same)."""
    lines = ["| lang | degradation | " + " | ".join(configs) + " |", "|" + "---|" * (len(configs) + 2)]
    cells: dict[tuple[str, str, str], list[float]] = {}
    for s in scores:
        cells.setdefault((s.lang, s.kind, s.config), []).append(s.cer)
    for lang in dict.fromkeys(s.lang for s in scores):
        kinds = list(dict.fromkeys(s.kind for s in scores if s.lang == lang))
        for kind in kinds:
            lines.append(f"| {lang} | {kind} | " + " | ".join(_cell(_mean(cells.get((lang, kind, c), [])))
                                                              for c in configs) + " |")
        means = [_mean(_mean(cells.get((lang, k, c), [])) for k in kinds) for c in configs]
        lines.append(f"| {lang} | **mean** | " + " | ".join(f"**{_cell(m)}**" for m in means) + " |")
    for label, field in (("seconds/page", "seconds"), ("CPU-s/page", "cpu_seconds")):
        values = [_mean(getattr(s, field) for s in scores if s.config == c) for c in configs]
        lines.append(f"| all | {label} | " + " | ".join(_cell(v, 1) for v in values) + " |")
    return "\n".join(lines)


def checks(scores: Sequence[PageScore], configs: Sequence[str]) -> list[str]:
    """For each config that is not bare: the pages it reads worse than bare Tesseract by more than the slack
    (bag-F1; CER where the truth is in reading order), and the pages it leaves without text that a bare
    engine reads."""
    by = {(s.image, s.config): s for s in scores}
    found = []
    for config in (c for c in configs if c not in BARE):
        worse, blank = [], []
        for s in (s for s in scores if s.config == config):
            bare = by.get((s.image, "bare-tesseract"))
            if bare is not None and s.f1 < bare.f1 - F1_SLACK:
                worse.append(f"{s.image} bag-F1 {s.f1:.3f} < {bare.f1:.3f}")
            if bare is not None and s.ordered_truth and s.cer > bare.cer + CER_SLACK:
                worse.append(f"{s.image} CER {s.cer:.3f} > {bare.cer:.3f}")
            readers = [b for b in BARE if (b_score := by.get((s.image, b))) is not None and b_score.text.strip()]
            if not s.text.strip() and readers:
                blank.append(f"{s.image} (read by {', '.join(readers)})")
        found.append(f"- {config}: {len(worse)} page(s) worse than bare Tesseract beyond the slack"
                     + (": " + "; ".join(worse) if worse else ""))
        found.append(f"- {config}: {len(blank)} page(s) without text that a bare engine reads"
                     + (": " + "; ".join(blank) if blank else ""))
    return found


def report(scores: Sequence[PageScore], configs: Sequence[str]) -> str:
    """All tables for one corpus: rendered pages by kind, real pages by group and page, and the checks."""
    parts = []
    if all(s.set == "rendered" for s in scores):
        parts.append(kind_table(scores, configs))
    else:
        parts += [summary_table(scores, configs), page_table(scores, configs)]
    if "bare-tesseract" in configs:
        parts.append("\n".join(checks(scores, configs)))
    return "\n\n".join(parts) + "\n"
