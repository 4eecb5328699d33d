"""Every hostile input of ``s3ocr.reliability.inputs`` on the local stack: the promised outcome, no document lost.

The same cases make ``make reliability-report``'s "inputs" line and the README's table.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from s3ocr.reliability.inputs import CASES, Case, InputsSummary, Trial, Verdict, run_case, trial

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def deployment() -> Iterator[Trial]:
    with trial() as current:
        yield current


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_input_gets_its_promised_outcome(deployment, case):
    verdict = run_case(deployment, case)
    assert verdict.handled and not verdict.lost, verdict.outcome


def test_the_summary_counts_what_was_not_handled_and_what_was_lost():
    case = CASES[0]
    summary = InputsSummary(((case, Verdict("fine", True)), (case, Verdict("x", False)),
                             (case, Verdict("gone", False, lost=True))))
    assert summary.line() == "inputs: 3 cases → 2 unhandled, 1 lost"
    assert summary.markdown().count("✗") == 2


def test_a_case_that_raises_is_unhandled_not_a_crash(deployment):
    def explode(_: Trial) -> Verdict:
        raise RuntimeError("boom")

    verdict = run_case(deployment, Case("explodes", "-", "-", explode))
    assert not verdict.handled and "RuntimeError: boom" in verdict.outcome
