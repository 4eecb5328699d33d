"""How a page's text is scored against its truth, as ``../shared/corpus/real/README.md`` says.

Both sides are normalised with Unicode NFKC and every whitespace character is removed (Tesseract spaces
CJK characters; layout is not what is scored). Then:

- CER: Levenshtein distance over the truth's length. Reading order counts: a page read column by column
  the wrong way round scores badly even with every character right.
- Bag-of-characters F1: the characters matched as a multiset, order ignored. For truths assembled from
  boxed annotations, whose order is itself a heuristic (receipts, forms).
- Recall: the share of the truth's characters found, for scene text (a photo has more than its labels).
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass


def normalise(text: str) -> str:
    """NFKC, whitespace removed."""
    return "".join(unicodedata.normalize("NFKC", text).split())


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


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate of the normalised texts."""
    ref, hyp = normalise(reference), normalise(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return levenshtein(ref, hyp) / len(ref)


@dataclass(frozen=True)
class BagScore:
    precision: float
    recall: float

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


def bag_of_characters(reference: str, hypothesis: str) -> BagScore:
    """Precision and recall of the normalised characters as multisets (order ignored)."""
    ref, hyp = Counter(normalise(reference)), Counter(normalise(hypothesis))
    matched = sum((ref & hyp).values())
    if not ref:
        return BagScore(1.0 if not hyp else 0.0, 1.0)
    return BagScore(matched / sum(hyp.values()) if hyp else 0.0, matched / sum(ref.values()))
