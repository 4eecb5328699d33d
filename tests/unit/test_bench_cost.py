"""The cost benchmark's arithmetic and its choice of pages for the loading rounds (the readings themselves are
``bench.accuracy``'s and ``bench.loading``'s, tested with them)."""

from __future__ import annotations

import pytest

from s3ocr.bench.accuracy import PageScore
from s3ocr.bench.cost import Language, cpu_seconds_for, loading_pages, per_thousand, report


def score(image: str, cpu_seconds: float, read: dict, config: str = "auto") -> PageScore:
    return PageScore(image=image, lang="en", kind="", set="document", ordered_truth=False, config=config, cer=0.0,
                     f1=1.0, recall=1.0, seconds=cpu_seconds, cpu_seconds=cpu_seconds, status="ok",
                     report={"read": read}, text="")


def test_a_cpu_second_is_priced_at_a_vcpus_memory():
    # 1,769 MB is one vCPU: a CPU-second is 1.7275 GB-s, US$0.0000288 at x86 and US$0.0000230 at arm64
    assert per_thousand(1.0) == pytest.approx(0.0288, abs=1e-4)
    assert per_thousand(1.0, "arm64") == pytest.approx(0.0230, abs=1e-4)
    assert cpu_seconds_for(0.03) == pytest.approx(1.042, abs=1e-3)


def test_the_loading_is_measured_on_the_cheapest_pages_both_engines_read():
    scores = [score("clean.png", 0.2, {}), score("receipt-a.jpg", 0.9, {"second_opinion": "rapidocr"}),
              score("form.png", 0.5, {"second_opinion": "rapidocr", "asked_first": True}),
              score("receipt-b.jpg", 1.4, {"second_opinion": "rapidocr"}),
              score("receipt-c.jpg", 2.0, {"second_opinion": "rapidocr"}),
              score("clean.png", 0.1, {}, config="bare-tesseract")]
    # English: Tesseract first, so the pages PP-OCRv6 gave a second opinion on (not those it read alone)
    assert loading_pages(scores, "eng") == ["receipt-a.jpg", "receipt-b.jpg"]
    # Chinese: PP-OCRv6 first, so any page: the cheapest
    assert loading_pages(scores, "chi_sim+eng") == ["clean.png", "form.png"]
    # too few such pages: the cheapest others make up the count
    assert loading_pages(scores[:3], "eng") == ["receipt-a.jpg", "clean.png"]


def test_the_report_adds_the_loading_over_a_range_and_says_where_the_goal_holds():
    found = Language("en", 9, warm=0.93, reference=0.69, init=0.30, loading=0.87,
                     loading_pages=("a.jpg", "b.jpg"))
    text = report(found, range_pages=16)
    # 0.93 + 1.17 / 16 = 1.00 CPU-s a page: US$0.029 at x86, within US$0.03
    assert "a page: 1.00 CPU-s: US$0.029 per 1,000 pages at x86 (goal US$0.03: met)" in text
    # the same code on a CPU that reads the reference in 0.69 * 1.042 / 1.003 s: the goal's edge
    assert "bare Tesseract reads these pages in 0.72 CPU-s a page or less (here 0.69)" in text
    slower = Language("en", 9, warm=1.26, reference=0.92, init=0.53, loading=1.22, loading_pages=("a.jpg",))
    assert "goal US$0.03: NOT met" in report(slower, range_pages=16)
