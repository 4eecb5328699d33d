"""Document jobs (``s3ocr.jobs``) on moto's in-process DynamoDB: claims, leases, duplicates and event order.

The whole path (several deliveries through the queue to the function) is in tests/integration.
"""

from __future__ import annotations

import pytest

from s3ocr.devstack.stack import JOBS_TABLE
from s3ocr.jobs import JobLedger, LatestOnlySink, Start, SupersededError, job_for, normalise_sequencer
from s3ocr.models import DocumentFailure, DocumentRef
from s3ocr.settings import Settings
from tests.fakes import FakeClock, RecordingSink

SETTINGS = Settings(output_bucket="out")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ledger(dynamodb, clock) -> JobLedger:
    return JobLedger(dynamodb, JOBS_TABLE, clock=clock)


def ref(version: str = "v1", sequencer: str | None = "0055AED6DCD90281E5") -> DocumentRef:
    return DocumentRef("in", "scans/a.pdf", version_id=version, etag="abc", sequencer=sequencer)


def test_a_job_is_an_object_version_read_with_the_settings_that_shape_its_output():
    assert job_for(ref(), SETTINGS).id == job_for(ref(sequencer="0055AED6DCD90281E6"), SETTINGS).id
    assert job_for(ref(), SETTINGS).id != job_for(ref(version="v2"), SETTINGS).id
    assert job_for(ref(), SETTINGS).id != job_for(ref(), Settings(output_bucket="out", languages="eng")).id
    assert job_for(ref(), SETTINGS).id == job_for(ref(), Settings(output_bucket="out", workers=7)).id


def test_of_two_runs_of_one_job_one_runs_and_the_other_finds_it_in_progress_then_done(ledger):
    job = job_for(ref(), SETTINGS)
    assert ledger.begin(job, "first", lease_seconds=900) is Start.RUN
    assert ledger.begin(job, "second", lease_seconds=900) is Start.IN_PROGRESS
    ledger.finish(job, "first", "ok")
    assert ledger.begin(job, "third", lease_seconds=900) is Start.DONE


def test_a_run_killed_without_a_word_leaves_a_lease_that_expires(ledger, clock):
    job = job_for(ref(), SETTINGS)
    assert ledger.begin(job, "killed", lease_seconds=900) is Start.RUN
    clock.sleep(899)
    assert ledger.begin(job, "redelivery", lease_seconds=900) is Start.IN_PROGRESS
    clock.sleep(2)
    assert ledger.begin(job, "redelivery", lease_seconds=900) is Start.RUN
    ledger.finish(job, "killed", "ok")  # a run whose lease passed settles nothing
    assert ledger.begin(job, "another", lease_seconds=900) is Start.IN_PROGRESS
    ledger.finish(job, "redelivery", "ok")
    assert ledger.begin(job, "another", lease_seconds=900) is Start.DONE


def test_a_transient_failure_lets_the_next_delivery_claim_the_job_at_once(ledger):
    job = job_for(ref(), SETTINGS)
    assert ledger.begin(job, "first", lease_seconds=900) is Start.RUN
    ledger.release(job, "first", "storage_unavailable")
    assert ledger.begin(job, "second", lease_seconds=900) is Start.RUN


def test_an_event_older_than_one_seen_for_the_key_is_stale(ledger):
    newer = job_for(ref(version="v2", sequencer="0055AED6DCD90281F0"), SETTINGS)
    older = job_for(ref(version="v1", sequencer="0055AED6DCD90281E5"), SETTINGS)
    assert ledger.begin(newer, "a", lease_seconds=900) is Start.RUN
    assert ledger.begin(older, "b", lease_seconds=900) is Start.STALE


def test_sequencers_of_different_lengths_compare_right_padded():
    assert normalise_sequencer("1") > normalise_sequencer("0FFFFFFFFF")  # "1000..." follows "0FFF..."
    assert normalise_sequencer("0055aed6") == normalise_sequencer("0055AED600")
    assert normalise_sequencer(None) == ""


def test_a_run_overtaken_by_a_newer_event_writes_nothing(ledger):
    older = job_for(ref(version="v1", sequencer="0055AED6DCD90281E5"), SETTINGS)
    newer = job_for(ref(version="v2", sequencer="0055AED6DCD90281F0"), SETTINGS)
    assert ledger.begin(older, "slow", lease_seconds=900) is Start.RUN
    assert ledger.begin(newer, "fast", lease_seconds=900) is Start.RUN  # arrives while the older one reads
    sink = RecordingSink()
    with pytest.raises(SupersededError):
        LatestOnlySink(sink, ledger, older).write_failure(
            DocumentFailure(older.ref, "corrupt_document", "CorruptDocumentError", "x"))
    LatestOnlySink(sink, ledger, newer).write_failure(
        DocumentFailure(newer.ref, "corrupt_document", "CorruptDocumentError", "x"))
    assert sink.written == ["failure"]


def test_an_event_without_a_sequencer_is_never_judged_stale(ledger):
    job = job_for(ref(sequencer=None), SETTINGS)
    assert ledger.begin(job, "a", lease_seconds=900) is Start.RUN
    assert not ledger.superseded(job)
