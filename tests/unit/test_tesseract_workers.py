"""The long-lived Tesseract workers: same text as the command, reused, and a failure costs one page only."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import cv2
import pytest

from s3ocr.engines import tesseract_pool
from s3ocr.engines.tesseract import TesseractEngine
from s3ocr.engines.tesseract_pool import POOL, Worker, WorkerFailure, WorkerPool
from s3ocr.errors import EngineError, PageTimeoutError
from s3ocr.models import PageImage


@pytest.fixture
def crop(resources: Path, tmp_path: Path) -> PageImage:
    image = cv2.imread(str(resources / "linn.png"), cv2.IMREAD_GRAYSCALE)[0:700, :]
    path = tmp_path / "000001_page.pgm"
    cv2.imwrite(str(path), image)
    return PageImage(1, path, image.shape[1], image.shape[0], 300)


def worker_pids() -> set[int]:
    return {worker.process.pid for worker in POOL._idle}


@pytest.mark.parametrize("languages", ["eng", "chi_sim+eng"])
def test_a_worker_reads_exactly_what_the_command_reads(crop, languages):
    # GIVEN the same page  WHEN read by a worker and by the tesseract command
    by_worker = TesseractEngine(backend="api").recognize(crop, languages, timeout=60)
    by_command = TesseractEngine(backend="cli").recognize(crop, languages, timeout=60)
    # THEN text, lines, boxes and confidences are the same
    assert "LinnSequencer" in by_worker.text
    assert by_worker == by_command


def test_the_worker_is_kept_and_reused_across_pages_and_languages(crop):
    engine = TesseractEngine(backend="api")
    engine.recognize(crop, "eng", timeout=60)
    kept = worker_pids()
    engine.recognize(crop, "chi_sim+eng", timeout=60)
    engine.recognize(crop, "eng", timeout=60)
    assert kept and worker_pids() == kept


def test_a_file_that_is_no_image_fails_the_page_and_keeps_the_worker(crop, tmp_path):
    engine = TesseractEngine(backend="api")
    engine.recognize(crop, "eng", timeout=60)
    kept = worker_pids()
    junk = tmp_path / "000002_page.pgm"
    junk.write_bytes(b"P5 not really")
    with pytest.raises(EngineError, match="could not read an image"):
        engine.recognize(PageImage(2, junk, 10, 10, 300), "eng", timeout=60)
    assert worker_pids() == kept


def test_a_worker_killed_mid_page_is_replaced_and_the_page_read(crop, resources):
    # GIVEN a worker that dies (as from the OOM killer) while it reads a whole page (seconds of work)
    engine = TesseractEngine(backend="api")
    engine.recognize(crop, "eng", timeout=60)
    (victim,) = worker_pids()
    image = cv2.imread(str(resources / "linn.png"), cv2.IMREAD_GRAYSCALE)
    threading.Timer(0.3, os.kill, (victim, signal.SIGKILL)).start()
    # WHEN that page is waited for  THEN a fresh worker reads it
    page = PageImage(2, resources / "linn.png", image.shape[1], image.shape[0], 300)
    assert "LinnSequencer" in engine.recognize(page, "eng", timeout=60).text
    assert victim not in worker_pids()


def test_a_page_that_kills_every_worker_it_meets_fails_on_the_second(crop, monkeypatch):
    # GIVEN workers that die on this page (as on an image that crashes Tesseract's native code)
    calls = []

    def dies(self, request, timeout):
        calls.append(request["path"])
        raise WorkerFailure("died", "the Tesseract worker exited (killed by signal 11)")

    engine = TesseractEngine(backend="api")
    engine.recognize(crop, "eng", timeout=60)  # a worker is up
    monkeypatch.setattr(Worker, "call", dies)
    # WHEN the page is read  THEN it is asked twice, and fails with what happened to the worker
    with pytest.raises(EngineError, match="signal 11"):
        engine.recognize(crop, "eng", timeout=60)
    assert len(calls) == 2


def test_an_overrun_stops_within_the_budget_and_the_next_page_is_read(crop):
    engine = TesseractEngine(backend="api")
    engine.recognize(crop, "chi_sim+eng", timeout=60)  # a warm worker: the budget is all recognition
    with pytest.raises(PageTimeoutError):
        engine.recognize(crop, "chi_sim+eng", timeout=0.05)
    assert "LinnSequencer" in engine.recognize(crop, "eng", timeout=60).text


def test_without_the_c_library_the_engine_falls_back_to_the_command(crop, monkeypatch):
    monkeypatch.setenv("S3OCR_LIBTESSERACT", "libtesseract-that-is-not-here.so")
    engine = TesseractEngine(backend="api")
    pool = WorkerPool()
    monkeypatch.setattr("s3ocr.engines.tesseract_pool.POOL", pool)
    result = engine.recognize(crop, "eng", timeout=60)
    assert "LinnSequencer" in result.text
    assert engine.backend == "cli"
    assert pool._idle == []


def read_at_once(pool: WorkerPool, page: PageImage, count: int) -> list[str]:
    """The texts of ``count`` readings of ``page`` through ``pool``, all started at once."""
    request = {"path": str(page.path), "languages": "eng", "psm": 3, "dpi": 300}
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(pool.read(request, 60)["text"])) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_pages_beyond_the_pool_size_wait_for_a_worker_and_are_all_read(crop):
    # GIVEN a pool of two workers and four pages read at once
    pool = WorkerPool(size=2)
    peak, lent = 0, []
    original = pool._borrow

    def borrow(timeout: float):
        nonlocal peak
        worker = original(timeout)
        lent.append(worker)
        peak = max(peak, pool._lent)
        return worker

    pool._borrow = borrow  # type: ignore[method-assign]
    results = read_at_once(pool, crop, 4)
    # THEN all four were read, never more than two workers at once, and two processes did it all
    assert len(results) == 4 and all("LinnSequencer" in text for text in results)
    assert peak == 2
    assert len({worker.process.pid for worker in lent}) == 2
    pool.close()


def test_a_page_that_finds_no_free_worker_within_its_budget_times_out(crop):
    pool = WorkerPool(size=1)
    request = {"path": str(crop.path), "languages": "eng", "psm": 3, "dpi": 300}
    pool.read(request, 60)
    worker = pool._borrow(60)  # the only worker, busy elsewhere
    with pytest.raises(WorkerFailure, match="no Tesseract worker came free"):
        pool.read(request, 0.2)
    pool._release(worker)
    assert "LinnSequencer" in pool.read(request, 60)["text"]
    pool.close()


def test_a_one_page_document_read_in_bands_reads_as_the_whole_page(resources, tmp_path):
    # GIVEN linn.png, a one-page scan, and two cores' worth of workers
    from s3ocr.bench.scoring import cer
    from s3ocr.models import DocumentRef
    from s3ocr.pipeline import process_local_file
    from s3ocr.settings import Settings

    def read(workers: int):
        settings = Settings(work_dir=tmp_path / f"work{workers}", workers=workers, languages="eng")
        return process_local_file(resources / "linn.png", DocumentRef("", "linn.png"), settings,
                                  TesseractEngine(backend="api")).pages[0]

    # WHEN it is read with one worker and with two
    whole, banded = read(1), read(2)
    # THEN the two-worker reading was made in bands, with the same text, and page coordinates in order
    assert "bands" not in whole.preprocessing
    cut = banded.preprocessing["bands"][0][1]
    assert len(banded.preprocessing["bands"]) == 2
    assert cer(whole.text, banded.text) < 0.005
    assert all(line.box.top + line.box.height <= banded.height for line in banded.lines)
    lower = [line for line in banded.lines if line.box.top >= cut]
    assert lower and all(line.box.top >= cut for line in banded.lines[-len(lower):])


def bytes_read(worker: Worker) -> int:
    for line in Path(f"/proc/{worker.process.pid}/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar")


def test_a_worker_started_with_languages_has_their_models_loaded_when_it_greets():
    # GIVEN a worker started bare and one started for chi_sim+eng  WHEN both have greeted
    bare, ready = Worker(), Worker("chi_sim+eng")
    for worker in (bare, ready):
        worker.start(30)
    # THEN the second has read both models (6.6 MB) before its first page; the first has read neither
    listing = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True, check=True).stdout
    tessdata = Path(listing.split('"')[1])  # List of available languages in "/usr/share/.../tessdata/" (3):
    models = (tessdata / "chi_sim.traineddata").stat().st_size + (tessdata / "eng.traineddata").stat().st_size
    assert bytes_read(ready) - bytes_read(bare) >= models
    for worker in (bare, ready):
        worker.stop()


def test_a_page_that_asks_while_the_pool_prewarms_waits_for_a_prewarmed_worker(crop, monkeypatch):
    # GIVEN a pool of two, prewarming for English
    started: list[Worker] = []

    class CountedWorker(Worker):
        def __init__(self, languages: str | None = None) -> None:
            super().__init__(languages)
            started.append(self)

    monkeypatch.setattr(tesseract_pool, "Worker", CountedWorker)
    pool = WorkerPool(size=2)
    pool.prewarm("eng", 2)
    # WHEN two pages are read at once right away
    results = read_at_once(pool, crop, 2)
    # THEN both were read by the two prewarmed workers; no third was started, and a second prewarm is a no-op
    assert len(results) == 2 and all("LinnSequencer" in text for text in results)
    pool.prewarm("eng", 2)
    assert len(started) == 2 and sorted(id(w) for w in pool._idle) == sorted(id(w) for w in started)
    assert pool._lent == 0
    pool.close()


def test_a_prewarm_that_cannot_start_workers_gives_their_places_back(crop, monkeypatch):
    # GIVEN no C library: the prewarmed workers cannot start
    monkeypatch.setenv("S3OCR_LIBTESSERACT", "libtesseract-that-is-not-here.so")
    pool = WorkerPool(size=2)
    monkeypatch.setattr("s3ocr.engines.tesseract_pool.POOL", pool)
    engine = TesseractEngine(backend="api")
    engine.prewarm("eng", 2)
    # WHEN a page is read  THEN it is read by the command, and the pool holds nothing lent or idle
    assert "LinnSequencer" in engine.recognize(crop, "eng", timeout=60).text
    assert engine.backend == "cli"
    deadline = time.monotonic() + 30
    while pool._lent and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pool._lent == 0 and pool._idle == []


def _leptonica_equal(api, first: int, second: int) -> bool:
    import ctypes

    from s3ocr.engines.tesseract_worker import _bind

    pix_equal = _bind(ctypes.CDLL("liblept.so.5"), "pixEqual", ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                      ctypes.POINTER(ctypes.c_int))
    same = ctypes.c_int(0)
    assert pix_equal(first, second, ctypes.byref(same)) == 0
    return bool(same.value)


@pytest.mark.parametrize("width", [1000, 1001, 1003])
def test_a_pgm_page_is_copied_into_the_same_image_leptonica_reads(tmp_path, width):
    import ctypes

    import numpy as np

    from s3ocr.engines.tesseract_worker import TesseractApi, pix_from_pgm

    # GIVEN a binary PGM of noise, its rows a whole number of 32-bit words long or not, with a comment
    pixels = np.random.default_rng(width).integers(0, 256, size=(37, width), dtype=np.uint8)
    path = tmp_path / "000001_page.pgm"
    path.write_bytes(f"P5\n# written by hand\n{width} 37\n255\n".encode() + pixels.tobytes())
    api = TesseractApi()
    # WHEN the worker copies it in, and Leptonica reads it
    copied, read = ctypes.c_void_p(pix_from_pgm(api, str(path))), ctypes.c_void_p(api.pix_read(str(path).encode()))
    # THEN the two images are the same, pixel for pixel
    try:
        assert copied and read and _leptonica_equal(api, copied.value, read.value)
        assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED).shape == (37, width)
    finally:
        api.pix_destroy(ctypes.byref(copied))
        api.pix_destroy(ctypes.byref(read))


@pytest.mark.parametrize("content", [
    b"P2\n2 1\n255\n0 255\n",  # the text form
    b"P5\n2 1\n65535\n\x00\x00\xff\xff",  # 16-bit
    b"P5\n4 4\n255\n\x00\x01",  # cut short
    b"P5\n0 4\n255\n",  # no pixels
    b"\x89PNG\r\n\x1a\n",
])
def test_every_file_but_a_whole_8_bit_binary_pgm_is_left_to_leptonica(tmp_path, content):
    from s3ocr.engines.tesseract_worker import TesseractApi, pix_from_pgm

    path = tmp_path / "page"
    path.write_bytes(content)
    assert pix_from_pgm(TesseractApi(), str(path)) is None
