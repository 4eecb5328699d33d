"""Injected faults on the local stack (issue 12, item 4): S3 errors through a fault proxy, a crashed and a hung
Tesseract worker, a silent cloud engine, Secrets Manager down, a poison message in a batch. Each ends with
exactly one terminal record per document. The scenarios live in ``s3ocr.reliability.faults``, which the
report runs too; these tests assert what each one must come to."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from s3ocr.reliability.faults import (
    MAX_RECEIVE_COUNT,
    PAGE_TIMEOUT_S,
    SCENARIOS,
    Document,
    FaultRig,
    FaultSummary,
    KindOutcome,
    fault_rig,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultRig]:
    log_path = tmp_path_factory.mktemp("faults") / "function.log"
    with log_path.open("wb") as log, fault_rig(log=log) as running:
        yield running
        log.flush()
        print(f"function log: {log_path}")


def play(rig: FaultRig, kind: str) -> KindOutcome:
    outcome = SCENARIOS[kind](rig)
    print(outcome.line())
    return outcome


def one_record_each(outcome: KindOutcome) -> None:
    assert outcome.lost == 0 and outcome.duplicates == 0, outcome.line()


def succeeded(document: Document) -> bool:
    return document.status == "ok" and document.text and not document.reason


def failed_as_transient(outcome: KindOutcome, reason: str) -> None:
    """Retried by the queue, never a success; the last delivery leaves the error record and the message is
    dead-lettered."""
    (document,) = outcome.documents
    assert document.reason == reason and "retries exhausted" in document.message, outcome.line()
    assert not document.status and not document.text
    assert outcome.deliveries == MAX_RECEIVE_COUNT and outcome.dead_lettered == 1


@pytest.mark.parametrize("kind", ["s3-read-throttled", "s3-read-reset", "s3-write-throttled"])
def test_transient_s3_errors_are_recovered_by_the_sdk_within_one_delivery(rig, kind):
    # GIVEN the first two requests of one S3 call answered 503 SlowDown or a connection reset
    # WHEN the document is delivered
    outcome = play(rig, kind)
    # THEN botocore's retries absorb them: one delivery, one success record
    one_record_each(outcome)
    assert succeeded(outcome.documents[0]) and outcome.deliveries == 1


def test_reset_in_the_middle_of_the_body_is_retried_by_the_queue(rig):
    # GIVEN GetObject's answer cut by a reset halfway through the body (the SDK does not retry a stream)
    outcome = play(rig, "s3-read-reset-mid-body")
    # THEN the delivery fails as transient and the redelivery reads the document
    one_record_each(outcome)
    assert succeeded(outcome.documents[0]) and outcome.deliveries == 2 and outcome.dead_lettered == 0


def test_s3_read_down_fails_as_transient_with_an_error_record_on_the_last_delivery(rig):
    outcome = play(rig, "s3-read-down")
    one_record_each(outcome)
    failed_as_transient(outcome, "storage_unavailable")


@pytest.mark.parametrize("kind", ["s3-write-txt-down", "s3-write-json-down"])
def test_s3_write_down_never_leaves_a_success_without_its_outputs(rig, kind):
    # GIVEN every PutObject of the .txt (500) or of the .json (connection reset) failing
    outcome = play(rig, kind)
    # THEN no .json says ok without its .txt and no .txt is left without its .json: one error record
    one_record_each(outcome)
    failed_as_transient(outcome, "storage_unavailable")


def test_s3_write_denied_gets_an_error_record_once(rig):
    # GIVEN PutObject of the .txt denied (403 AccessDenied: permanent, retrying changes nothing)
    outcome = play(rig, "s3-write-txt-denied")
    # THEN the document gets an access_denied error record on its first delivery and is not retried
    one_record_each(outcome)
    (document,) = outcome.documents
    assert document.reason == "access_denied" and outcome.deliveries == 1 and outcome.dead_lettered == 0


def test_s3_delete_down_leaves_one_record(rig):
    # GIVEN DeleteObject failing always, so neither the stale .error.json nor the stale outputs can be removed
    # THEN the last delivery leaves the reading it wrote, with no error record beside it
    outcome = play(rig, "s3-delete-down")
    one_record_each(outcome)


def test_crashed_tesseract_worker_is_replaced_and_the_page_read(rig):
    # GIVEN the worker that got the page's request killed with SIGKILL
    outcome = play(rig, "tesseract-worker-crash")
    one_record_each(outcome)
    page, following = outcome.documents
    assert outcome.details["struck"] == 1
    # THEN the pool asks another worker and the page is read, in the same delivery
    assert succeeded(page) and outcome.deliveries == 1
    # AND the next document is read too
    assert succeeded(following)


def test_hung_tesseract_worker_costs_the_page_budget_then_the_pool_recovers(rig):
    outcome = play(rig, "tesseract-worker-hang")
    one_record_each(outcome)
    page, following = outcome.documents
    assert outcome.details["struck"] >= 1
    assert page.reason == "no_page_read" and "page_timeout" in page.message and outcome.deliveries == 1
    assert succeeded(following)


def test_cloud_engine_timing_out_is_retried_within_the_page_budget(rig):
    # GIVEN the Baidu fake silent past the page budget on the first delivery
    outcome = play(rig, "cloud-engine-timeout")
    one_record_each(outcome)
    (document,) = outcome.documents
    # THEN the first delivery gives up at the budget (transient), the redelivery is read by Baidu
    assert outcome.details["first_delivery_s"] < 2 * PAGE_TIMEOUT_S
    assert succeeded(document) and document.engine == "baidu" and outcome.deliveries == 2


def test_secrets_manager_down_fails_as_transient(rig):
    outcome = play(rig, "secrets-manager-down")
    one_record_each(outcome)
    failed_as_transient(outcome, "engine_unavailable")


def test_poison_message_does_not_fail_the_rest_of_its_batch(rig):
    # GIVEN one batch: two S3 notifications and a body that is not JSON
    outcome = play(rig, "poison-message")
    details = outcome.details
    assert details["batch"] == 3 and not details["function_error"]
    # THEN the valid records are acknowledged and their documents written once each
    assert details["valid_failed"] == 0 and details["text_writes"] == [1, 1]
    one_record_each(outcome)
    assert all(succeeded(document) for document in outcome.documents)


def test_summary_line_counts_lost_and_duplicate_outputs():
    ok = Document("a", text=True, status="ok", engine="tesseract", reason="", message="")
    lost = Document("b", text=False, status="ok", engine="tesseract", reason="", message="")
    both = Document("c", text=True, status="ok", engine="tesseract", reason="storage_unavailable", message="")
    summary = FaultSummary([KindOutcome("x", "f", [ok, lost]), KindOutcome("y", "g", [both])])
    assert summary.line() == "faults: 2 kinds → 1 lost, 1 duplicate outputs"
