"""The one contract every engine passes: Tesseract for real, the cloud engines against loopback fakes.

As OCRmyPDF states it for its engines: an engine raises only s3ocr errors, adds no parallelism of its
own and honours the page timeout. On top of that, s3ocr's normalised schema: lines with words, boxes in
the pixel coordinates of the page image, confidences 0..1, and the cloud failure classes mapped alike.
"""

from __future__ import annotations

import io
import itertools
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from PIL import Image

from s3ocr.engines.base import Engine
from s3ocr.engines.ratelimit import limiter_for
from s3ocr.engines.retry import FAST_BACKOFF, Backoff
from s3ocr.errors import (
    EngineQuotaError,
    EngineUnavailableError,
    PageTimeoutError,
    RejectedInputError,
    S3OcrError,
    TransientError,
)
from s3ocr.models import Box, PageImage

SLACK = 1.5  # seconds an engine may take beyond its budget to notice and clean up


def inside(inner: Box, outer: Box, tolerance: int = 1) -> bool:
    return (inner.left >= outer.left - tolerance and inner.top >= outer.top - tolerance
            and inner.left + inner.width <= outer.left + outer.width + tolerance
            and inner.top + inner.height <= outer.top + outer.height + tolerance)


def test_engine_satisfies_the_protocol(engine_case):
    # GIVEN an engine  WHEN it is checked against the Protocol  THEN it has a name and a version
    engine = engine_case.engine
    assert isinstance(engine, Engine)
    assert engine.name and isinstance(engine.name, str)
    assert engine.version.strip()


def test_real_page_gives_text_lines_words_and_boxes_in_the_page(engine_case, page: PageImage):
    # GIVEN a crop of a real scan  WHEN the engine reads it
    result = engine_case.engine.recognize(page, engine_case.languages, timeout=60)
    # THEN the text is there, every box lies in the page, every word in its line, confidences are 0..1
    assert "LinnSequencer" in result.text
    assert result.lines
    assert result.engine in ("", engine_case.engine.name, *engine_case.delegates)
    assert result.mean_confidence is not None and 0 <= result.mean_confidence <= 1
    page_box = Box(0, 0, page.width, page.height)
    for line in result.lines:
        assert line.text.strip()
        assert inside(line.box, page_box, tolerance=0), line
        assert line.box.width > 0 and line.box.height > 0
        assert 0 <= line.confidence <= 1
        assert line.words, line
        for word in line.words:
            assert inside(word.box, line.box), (word, line.box)
            assert 0 <= word.confidence <= 1
            assert word.text in line.text


def test_unreadable_page_raises_an_s3ocr_error(engine_case, tmp_path):
    # GIVEN a page file that is not an image
    path = tmp_path / "000001_ocr.pgm"
    path.write_bytes(b"P5 this is not a picture")
    page = PageImage(number=1, path=path, width=100, height=100, dpi=300)
    # WHEN it is read  THEN the failure is an s3ocr error, never a library's own
    with pytest.raises(S3OcrError):
        engine_case.engine.recognize(page, engine_case.languages, timeout=30)


def test_the_page_timeout_bounds_the_call(engine_case, page: PageImage):
    # GIVEN a service slower than the page budget (Tesseract: a budget too small for any page)
    engine_case.make_slow(5.0)
    timeout = 0.3 if engine_case.fake else 0.001
    started = time.monotonic()
    # WHEN the page is read  THEN the engine gives up within the budget, with a page or transient failure
    with pytest.raises((PageTimeoutError, TransientError)):
        engine_case.engine.recognize(page, engine_case.languages, timeout=timeout)
    assert time.monotonic() - started < timeout + SLACK


# --- the failure classes every cloud engine maps the same way ----------------------------------------------


def test_throttling_is_retried_then_succeeds(cloud_case, page):
    # GIVEN a service that throttles the first request
    cloud_case.fake.fail_next("throttled")
    # WHEN the page is read  THEN the engine backs off, retries and reads it
    assert "LinnSequencer" in cloud_case.engine.recognize(page, cloud_case.languages, timeout=30).text
    assert len(cloud_case.fake.ocr_requests) == 2


@pytest.mark.parametrize("kind", ["throttled", "server_error"])
def test_persistent_throttling_or_outage_is_transient(cloud_case, page, kind):
    # GIVEN a service that throttles or fails every request
    cloud_case.fake.fail_next(kind, times=100)
    # WHEN the page is read  THEN the engine retries up to its limit, then reports a transient failure
    with pytest.raises(EngineUnavailableError):
        cloud_case.engine.recognize(page, cloud_case.languages, timeout=30)
    assert len(cloud_case.fake.ocr_requests) == FAST_BACKOFF.max_attempts


def test_retries_stop_when_the_page_budget_runs_out(cloud_case, page):
    # GIVEN throttling that never ends, and a backoff that would allow 50 attempts
    cloud_case.fake.fail_next("throttled", times=1000)
    cloud_case.engine.backoff = Backoff(base=0.05, cap=0.1, max_attempts=50, min_attempt_time=0.0)
    started = time.monotonic()
    # WHEN a page with a 0.5 s budget is read  THEN the engine gives up inside the budget
    with pytest.raises(EngineUnavailableError, match=r"in a 0\.5 s budget"):
        cloud_case.engine.recognize(page, cloud_case.languages, timeout=0.5)
    assert time.monotonic() - started < 1.5
    assert 2 <= len(cloud_case.fake.ocr_requests) < 50


def test_quota_is_not_retried(cloud_case, page):
    # GIVEN a service whose quota is used up
    cloud_case.fake.fail_next("quota", times=100)
    # WHEN the page is read  THEN one request, and a quota error (a fallback engine may take over)
    with pytest.raises(EngineQuotaError) as raised:
        cloud_case.engine.recognize(page, cloud_case.languages, timeout=30)
    assert raised.value.reason == "quota"
    assert len(cloud_case.fake.ocr_requests) == 1


def test_rejected_image_is_re_encoded_once(cloud_case, page):
    # GIVEN a service that rejects the first image it gets
    cloud_case.fake.fail_next("rejected")
    # WHEN the page is read  THEN the engine sends a smaller JPEG once more, and the boxes still fit the page
    result = cloud_case.engine.recognize(page, cloud_case.languages, timeout=30)
    first, second = (Image.open(io.BytesIO(data)) for data in cloud_case.fake.received_images())
    assert (first.format, second.format) == ("PNG", "JPEG")
    assert second.width < first.width
    assert "LinnSequencer" in result.text
    assert all(inside(line.box, Box(0, 0, page.width, page.height), 0) for line in result.lines)


def test_image_rejected_twice_is_rejected_input(cloud_case, page):
    # GIVEN a service that rejects every image
    cloud_case.fake.fail_next("rejected", times=100)
    # WHEN the page is read  THEN exactly one re-encoded retry, then a permanent rejected_input
    with pytest.raises(RejectedInputError) as raised:
        cloud_case.engine.recognize(page, cloud_case.languages, timeout=30)
    assert raised.value.reason == "rejected_input"
    assert len(cloud_case.fake.ocr_requests) == 2


def test_requests_keep_to_the_rate_budget_across_threads(cloud_case, page, monkeypatch):
    # GIVEN an engine that has made its client (and token) already, and a budget of 8 requests/s for this
    # engine shared by 2 instances: 4/s here, one every 0.25 s
    cloud_case.engine.recognize(page, cloud_case.languages, timeout=30)
    warm_up = len(cloud_case.fake.ocr_requests)
    monkeypatch.setenv("OCR_ENGINE_QPS", f"{cloud_case.engine.name}=8,other-engine=1000")
    monkeypatch.setenv("OCR_ENGINE_INSTANCES", "2")
    limiter_for.cache_clear()
    limiter = limiter_for(cloud_case.engine.name)
    slots: list[float] = []
    reserve = limiter._reserve

    def reserve_and_note() -> float:
        wait = reserve()
        slots.append(time.monotonic() + wait)
        return wait

    monkeypatch.setattr(limiter, "_reserve", reserve_and_note)
    # WHEN two threads read three pages each, and the service throttles one request (a retry costs a slot too)
    cloud_case.fake.fail_next("throttled")
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: cloud_case.engine.recognize(page, cloud_case.languages, timeout=30),
                                range(6)))
    # THEN every page is read; the 7 requests (6 pages and the retry) took 7 slots a quarter second apart;
    # and no request reached the service before its slot: the k-th arrival comes after the k-th slot (a
    # request's trip from its slot to the service only ever delays it, by however much a busy machine adds)
    assert all("LinnSequencer" in result.text for result in results)
    arrivals = sorted(request.received_at for request in cloud_case.fake.ocr_requests[warm_up:])
    slots.sort()
    assert len(arrivals) == len(slots) == 7
    gaps = [later - earlier for earlier, later in itertools.pairwise(slots)]
    assert min(gaps) >= 0.25 - 0.01, gaps
    assert all(arrival >= slot - 0.01 for arrival, slot in zip(arrivals, slots, strict=True)), (arrivals, slots)


def test_a_rate_slot_beyond_the_page_budget_is_transient_without_a_request(cloud_case, page, monkeypatch):
    # GIVEN a budget of one request every 10 s, just spent on a first page
    monkeypatch.setenv("OCR_ENGINE_QPS", "0.1")
    cloud_case.engine.recognize(page, cloud_case.languages, timeout=30)
    started = time.monotonic()
    # WHEN a second page with a 2 s budget is read
    with pytest.raises(EngineUnavailableError, match="request-rate budget"):
        cloud_case.engine.recognize(page, cloud_case.languages, timeout=2)
    # THEN it fails as transient at once, and the service saw no second request
    assert time.monotonic() - started < 1.0
    assert len(cloud_case.fake.ocr_requests) == 1


def test_unreachable_service_is_transient(cloud_case, page):
    # GIVEN a service that is down (nothing listens on its port any more)
    cloud_case.fake.stop()
    # WHEN the page is read  THEN a transient failure, not a connection error from the HTTP library
    with pytest.raises(EngineUnavailableError):
        cloud_case.engine.recognize(page, cloud_case.languages, timeout=10)


def test_downscaled_page_gives_boxes_in_page_coordinates(cloud_case, page):
    # GIVEN the page read at full size, and an engine whose service takes at most half the page's width
    full = cloud_case.engine.recognize(page, cloud_case.languages, timeout=30)
    engine = cloud_case.engine
    engine.limits = replace(engine.limits, max_side=page.width // 2)
    # WHEN the page is read through the downscaled image
    half = engine.recognize(page, cloud_case.languages, timeout=30)
    # THEN the service got the small image, and the boxes were scaled back onto the page
    sent = Image.open(io.BytesIO(cloud_case.fake.received_images()[-1]))
    assert max(sent.size) <= page.width // 2
    title_full = next(line for line in full.lines if "LinnSequencer" in line.text)
    title_half = next(line for line in half.lines if "LinnSequencer" in line.text)
    for a, b in zip((title_full.box.left, title_full.box.top, title_full.box.width, title_full.box.height),
                    (title_half.box.left, title_half.box.top, title_half.box.width, title_half.box.height),
                    strict=True):
        assert abs(a - b) <= 8
