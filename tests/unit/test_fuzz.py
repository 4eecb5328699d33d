"""The fuzzer: its mutators are a function of their seed, its checker counts what breaks, and a fast subset of the
full run (``make reliability-fuzz``) keeps the invariants through the real pipeline (real Tesseract and Poppler)."""

from __future__ import annotations

import json
import random
import re
import zlib
from pathlib import Path

import pytest

from s3ocr.reliability import fuzz, mutations

FAST_CASES = 60  # the first cases of the full run (seed 1): every seed unmutated, then 44 mutations


@pytest.fixture(scope="module")
def fast_run() -> fuzz.FuzzSummary:
    return fuzz.run(FAST_CASES, seed=1)


# --- mutators and cases -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(mutations.MUTATORS))
def test_a_mutator_is_a_function_of_its_seed(name: str) -> None:
    # GIVEN every seed document
    for data in fuzz.seed_documents().values():
        # WHEN a mutator runs twice from the same seed, and once from another
        first = mutations.MUTATORS[name](random.Random(7), data)
        again = mutations.MUTATORS[name](random.Random(7), data)
        # THEN the same seed gives the same bytes and the same description
        assert first == again
    seed_png = fuzz.seed_documents()["text.png"]
    outputs = {mutations.MUTATORS[name](random.Random(seed), seed_png)[0] for seed in range(20)}
    assert len(outputs) > 1, "a mutator that ignores its seed"


def test_truncation_really_truncates() -> None:
    for data in fuzz.seed_documents().values():
        for seed in range(10):
            cut, what = mutations.truncate(random.Random(seed), data)
            assert 0 < len(cut) < len(data)
            assert data.startswith(cut)
            assert what == f"truncate {len(cut)}/{len(data)}"


def test_a_png_header_change_keeps_its_crc_right() -> None:
    # GIVEN a PNG whose IHDR numbers change: WHEN the CRC is checked THEN it still holds, so the change reaches
    # the decoder instead of stopping at the checksum
    png = fuzz.seed_documents()["text.png"]
    for seed in range(20):
        changed, what = mutations.change_number(random.Random(seed), png)
        assert what.startswith("change_number ")
        assert changed[29:33] == zlib.crc32(changed[12:29]).to_bytes(4, "big")


def test_pdf_number_changes_hit_the_dictionary_values() -> None:
    # GIVEN a scanned PDF: WHEN its numbers are changed from 300 seeds
    pdf = fuzz.seed_documents()["scan.pdf"]
    changed = [mutations.change_number(random.Random(seed), pdf) for seed in range(300)]
    # THEN each is described, the image's declared size is among the targets, and so is each number of the MediaBox
    assert all(what.startswith("change_number pdf ") for _, what in changed)
    assert any(b"/Width 400 " not in data for data, _ in changed)
    assert any(b"/Height 200 " not in data for data, _ in changed)
    boxes = [re.search(rb"/MediaBox \[([^\]]*)\]", data) for data, _ in changed]
    moved = {i for box in boxes if box for i, n in enumerate(box[1].split()) if n != b"0 0 96 48".split()[i]}
    assert moved == {0, 1, 2, 3}


def test_cases_are_a_function_of_seed_and_index() -> None:
    seeds = fuzz.seed_documents()
    # the first cases are the seeds themselves, the controls of the run
    for index, name in enumerate(sorted(seeds)):
        assert fuzz.make_case(1, index) == fuzz.Case(index, name, seeds[name])
    later = [fuzz.make_case(1, index) for index in range(len(seeds), len(seeds) + 50)]
    assert later == [fuzz.make_case(1, index) for index in range(len(seeds), len(seeds) + 50)]
    assert all(1 <= len(case.mutations) <= 3 for case in later)
    assert later != [fuzz.make_case(2, index) for index in range(len(seeds), len(seeds) + 50)]


# --- the checker: it must see what breaks -------------------------------------------------------------------------


def _case(key_seed: str = "text.png") -> fuzz.Case:
    return fuzz.Case(100, key_seed, b"", ("truncate 1/2",))


def _reading(out: Path, case: fuzz.Case, pages: list[dict[str, object]], status: str = "ok") -> None:
    out.mkdir(exist_ok=True)
    texts = [str(page.get("text", "")) for page in pages]
    (out / f"{case.key}.txt").write_text("\f".join(texts))
    (out / f"{case.key}.json").write_text(json.dumps({"status": status, "pages": pages,
                                                      "pages_processed": len(pages), "truncated": False}))


def _error_record(out: Path, case: fuzz.Case, reason: str = "corrupt_document") -> None:
    out.mkdir(exist_ok=True)
    (out / f"{case.key}.error.json").write_text(json.dumps({"status": "failed", "reason": reason, "message": "m"}))


def test_the_checker_accepts_one_clean_record(tmp_path: Path) -> None:
    case = _case()
    _error_record(tmp_path / "a", case)
    _reading(tmp_path / "b", case, [{"number": 1, "status": "ok", "text": "words"}])
    assert fuzz.judge(case, tmp_path / "a", tmp_path / "work").problems == ()
    assert fuzz.judge(case, tmp_path / "a", tmp_path / "work").outcome == "corrupt_document"
    assert fuzz.judge(case, tmp_path / "b", tmp_path / "work").problems == ()


def test_the_checker_counts_two_records_and_an_escape(tmp_path: Path) -> None:
    # GIVEN a case that left a reading and an error record, and one whose exception escaped with no record
    case = _case()
    _reading(tmp_path / "both", case, [{"number": 1, "status": "ok", "text": "words"}])
    _error_record(tmp_path / "both", case)
    (tmp_path / "none").mkdir()
    traceback = "Traceback (most recent call last):\n  ...\nTypeError: Missing something"
    both = fuzz.judge(case, tmp_path / "both", tmp_path / "work")
    escaped = fuzz.judge(case, tmp_path / "none", tmp_path / "work", escaped=traceback)
    # WHEN they are added up
    summary = fuzz.FuzzSummary(seed=0)
    summary.add(both)
    summary.add(escaped)
    # THEN both are counted, the run fails, and the line says so
    assert both.kinds() == {"lost"}
    assert escaped.kinds() == {"escape", "lost"} and escaped.outcome == "escape"
    assert (summary.escapes, summary.lost, summary.passed) == (1, 2, False)
    assert summary.line().startswith("fuzz: 2 cases → 1 escapes, 2 lost, ")
    assert any("TypeError: Missing something" in line for line in summary.lines())


@pytest.mark.parametrize(("pages", "status", "broken"), [
    ([{"number": 1, "status": "ok", "text": "  "}], "ok", "an ok page without text"),
    ([{"number": 1, "status": "no_text_found", "text": ""}], "ok", "ok with pages"),
    ([{"number": 1, "status": "empty", "text": ""}], "partial", "partial with pages"),
    ([{"number": 1, "status": "failed", "text": ""}], "partial", "every page failed"),
    ([], "ok", "a success without pages"),
])
def test_the_checker_sees_a_reading_that_lies(tmp_path: Path, pages: list[dict[str, object]], status: str,
                                               broken: str) -> None:
    case = _case()
    _reading(tmp_path, case, pages, status)
    outcome = fuzz.judge(case, tmp_path, tmp_path / "work")
    assert outcome.kinds() == {"invalid"}
    assert broken in outcome.problems[0]


def test_the_checker_sees_bad_json_a_retryable_reason_caps_and_leftovers(tmp_path: Path) -> None:
    case = _case()
    out, work = tmp_path / "out", tmp_path / "work"
    _error_record(out, case, reason="storage_unavailable")  # a local file records permanent reasons only
    work.mkdir()
    (work / "s3ocr-left").mkdir()
    outcome = fuzz.judge(case, out, work, seconds=9.0, rss_mb=900.0, caps=fuzz.Caps(seconds=5, rss_mb=800))
    assert outcome.kinds() == {"invalid", "leftover", "slow", "memory"}
    (out / f"{case.key}.error.json").write_text("{not json")
    assert fuzz.judge(case, out, tmp_path / "nowork").kinds() == {"invalid"}


def test_an_unmutated_seed_must_read_its_words(tmp_path: Path) -> None:
    case = fuzz.Case(0, "text.png", b"")
    _reading(tmp_path, case, [{"number": 1, "status": "ok", "text": "something else"}])
    assert fuzz.judge(case, tmp_path, tmp_path / "work").kinds() == {"invalid"}


def test_a_known_finding_is_counted_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    finding = fuzz.KnownFinding("pillow-tiff-errors-uncaught", (1, 63),
                                lambda o: "TiffImagePlugin.py" in o.detail and o.kinds() <= {"escape", "lost"})
    monkeypatch.setattr(fuzz, "KNOWN_FINDINGS", (finding,))
    outcome = fuzz.CaseOutcome(5, "pages.tif", ("truncate 9/10",), "escape",
                               ("escape: TypeError: Missing dimensions", "lost: 0 outputs"), 0.1, 50.0,
                               'Traceback ...\n  File ".../PIL/TiffImagePlugin.py", line 1504, in _setup\n'
                               "TypeError: Missing dimensions")
    summary = fuzz.FuzzSummary(seed=0)
    summary.add(outcome)
    assert fuzz.known_finding(outcome) == finding.name
    assert summary.passed and summary.known[finding.name] == 1 and summary.escapes == 1


# --- the fast subset, through the real pipeline -------------------------------------------------------------------


def test_the_fast_subset_keeps_every_invariant(fast_run: fuzz.FuzzSummary) -> None:
    assert fast_run.cases == FAST_CASES
    assert fast_run.passed, "\n".join(fast_run.lines())
    assert (fast_run.escapes, fast_run.lost) == (0, 0), "\n".join(fast_run.lines())
    # the mutations reach both ends: documents that still read and documents refused with a reason
    assert fast_run.outcomes["ok"] >= len(fuzz.seed_documents())
    assert sum(count for outcome, count in fast_run.outcomes.items() if outcome not in ("ok", "partial")) >= 10


@pytest.mark.parametrize(("case", "reason"), [
    pytest.param((1, 63), "corrupt_document", id="tiff-missing-dimensions"),  # Pillow raised TypeError
    pytest.param((7, 1326), "corrupt_document", id="tiff-unknown-compression"),  # Pillow raised KeyError
    pytest.param((9, 1133), "decompression_bomb", id="pdf-image-of-2-31-pixels"),  # held pdftoppm for 120 s
])
def test_what_the_fuzzer_found_stays_fixed(case: tuple[int, int], reason: str) -> None:
    # Cases that escaped or hung before their fixes, with tight caps so that a hang costs seconds
    (outcome,) = fuzz.run_outcomes([case], workers=1, caps=fuzz.Caps(seconds=10, hard_limit=15))
    assert outcome.problems == (), f"{outcome.problems} {outcome.detail[-300:]}"
    assert reason == outcome.outcome or reason in outcome.detail, outcome
