"""RapidOCR (PP-OCRv4 detection + recognition as ONNX models, run by onnxruntime) as a local engine.

Offline: the models ship inside the ``rapidocr-onnxruntime`` wheel, nothing is downloaded at run time.
The models read simplified Chinese and Latin text (one recogniser for both).

Input size: RapidOCR shrinks every image so that its longer side is at most ``max_side_len`` (2000 px by
default) before detection and cuts lines out of that copy, so an A4 page at 300 dpi (2480 x 3508) would be
read at about 170 dpi. We raise the cap to ``MAX_SIDE`` so a 300-dpi A4 page is read at full resolution;
the detector then sees the whole page (its own floor, ``limit_side_len`` 736 on the shorter side, only
matters for small images). Larger pages are reduced to ``MAX_SIDE``.

Concurrency: onnxruntime would otherwise start one thread per core for every page; the pipeline already
runs one page per core, so each session gets one intra-op thread. Readers (the loaded models, ~60 MB each)
are pooled: as many are built as pages are read at once, and each is reused.

Timeout: inference runs in-process and cannot be interrupted, so it runs on a thread of its own and the
caller stops waiting when the page budget is spent (``PageTimeoutError``). The abandoned inference finishes
in the background and hands its reader back to the pool.
"""

from __future__ import annotations

import functools
import os
import queue
import threading
from importlib import metadata
from typing import Any

from s3ocr.engines.wordboxes import split_words
from s3ocr.errors import ConfigurationError, EngineError, PageTimeoutError
from s3ocr.models import Box, Line, PageImage, Recognition

MAX_SIDE = 3600
# Tesseract-style language codes these models read. Anything else is a configuration error, not a
# silently wrong reading.
LANGUAGES = frozenset({"chi_sim", "eng", "osd"})

NOT_INSTALLED = ("the rapidocr engine is not installed: pip install 's3ocr[rapidocr]' and then "
                 "pip install --no-deps 'rapidocr-onnxruntime==1.4.4'")

_readers: queue.SimpleQueue[Any] = queue.SimpleQueue()


@functools.cache
def rapidocr_version() -> str:
    try:
        return metadata.version("rapidocr-onnxruntime")
    except metadata.PackageNotFoundError as e:
        raise ConfigurationError(NOT_INSTALLED) from e


@functools.cache
def _reader_class() -> Any:
    # onnxruntime's usage telemetry: nothing to send it to, and it warns at start-up when it cannot store
    # a device id (Lambda's disk is read-only). Read when onnxruntime loads, so set before the import.
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as e:
        raise ConfigurationError(NOT_INSTALLED) from e
    return RapidOCR


def _borrow_reader() -> Any:
    try:
        return _readers.get_nowait()
    except queue.Empty:
        return _reader_class()(intra_op_num_threads=1, inter_op_num_threads=1, max_side_len=MAX_SIDE)


def polygon_box(points: Any, page: PageImage) -> Box:
    """The axis-aligned box around a detector quadrilateral, clipped to the page."""
    xs = [float(p[0]) for p in points]
    ys = [float(p[1]) for p in points]
    left = min(max(0, round(min(xs))), page.width)
    top = min(max(0, round(min(ys))), page.height)
    right = min(max(left, round(max(xs))), page.width)
    bottom = min(max(top, round(max(ys))), page.height)
    return Box(left, top, right - left, bottom - top)


def parse(result: Any, page: PageImage) -> Recognition:
    """RapidOCR's ``[[quad, text, score], ...]`` (or ``None`` for no text) as a Recognition."""
    lines = []
    for quad, text, score in result or ():
        text = str(text).strip()
        if not text:
            continue
        box = polygon_box(quad, page)
        confidence = round(float(score), 4)
        lines.append(Line(text=text, box=box, confidence=confidence, words=split_words(text, box, confidence)))
    mean = round(sum(line.confidence for line in lines) / len(lines), 4) if lines else None
    return Recognition(text="\n".join(line.text for line in lines), lines=tuple(lines), mean_confidence=mean)


class RapidOcrEngine:
    name = "rapidocr"

    @property
    def version(self) -> str:
        return rapidocr_version()

    def check_languages(self, languages: str) -> None:
        unknown = sorted(set(languages.split("+")) - LANGUAGES)
        if unknown:
            raise ConfigurationError(f"the rapidocr models do not read {', '.join(unknown)} (they read chi_sim, eng)")

    def recognize(self, page: PageImage, languages: str, timeout: float) -> Recognition:
        self.check_languages(languages)
        _reader_class()  # a missing install is a configuration error here, in the caller's thread
        outcome: dict[str, Any] = {}

        def infer() -> None:
            reader = _borrow_reader()
            try:
                outcome["result"], _elapsed = reader(str(page.path))
            except Exception as e:  # onnxruntime and OpenCV raise their own types
                outcome["error"] = e
            finally:
                _readers.put(reader)

        worker = threading.Thread(target=infer, name=f"rapidocr-page-{page.number}", daemon=True)
        worker.start()
        worker.join(timeout)
        if worker.is_alive():
            raise PageTimeoutError(f"rapidocr exceeded {timeout:g} s on page {page.number}")
        if "error" in outcome:
            e = outcome["error"]
            raise EngineError(f"rapidocr failed on page {page.number}: {type(e).__name__}: {e}") from e
        return parse(outcome.get("result"), page)
