"""PP-OCRv6 (small) through RapidOCR as a local engine: text lines found by a detection model, each read by a
recognition model, both ONNX, run by ONNX Runtime.

Offline, always: the models ship inside the ``rapidocr`` wheel and are named by path, so RapidOCR never
resolves a model by URL, never checks one by hash and never downloads one (it would otherwise fetch a
missing or changed file at run time); the recogniser's character list is inside its ONNX file.

Configured for document pages rather than as it ships:

- *Detection* runs on a copy of the page whose longer side is ``DET_MAX_SIDE`` px (0.3-0.4 s of CPU
  instead of 3-6 s on a 300-dpi page, same text on the corpus), and never on a shrunk page only: the lines
  it finds are cut out of the page at its own resolution for *recognition* (RapidOCR as it ships shrinks the
  whole page to 2000 px and reads the lines from that copy).
- No per-line 180-degree classifier: which way up a page is, is the pipeline's question (``reading``).
- Threads are the pipeline's: a page borrows a reader of its own (readers are pooled, one per page read at
  once), and every reader runs the same models (``_Models``), each input on the reading page's thread; the
  last page of a document is read in bands.
- Pages read with Latin languages only (``eng``) are recognised by a copy of the recogniser whose last layer
  knows only the characters below the CJK blocks (``REC_MODEL_LATIN``): 16 % less recognition CPU, and no
  ideograph or CJK punctuation mark in an English page's text. Their lines are found by the detector in int8
  (``DET_MODEL_LATIN``): a third of the float detector's CPU where the CPU has int8 dot-product instructions,
  and the same or better text on the real English pages.
- Lines are recognised one at a time, each at its own width: RapidOCR batches six, padded to the widest,
  which measured 26 % more CPU on the corpus pages for the same text, and pads every line to 320 px, another
  8 % (``_Reader``).

Confidences: the recogniser's per-line score; words (a CJK character, or a Latin word) carry the mean
score of their characters and a box from the character positions the recogniser decoded.

Timeout: inference runs in-process and cannot be interrupted, so it runs on a thread of its own and the
caller stops waiting when the page budget is spent (``PageTimeoutError``); the abandoned reading finishes
in the background and hands its reader back to the pool.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from s3ocr.engines.base import BaseEngine, Capabilities
from s3ocr.engines.wordboxes import clip
from s3ocr.errors import ConfigurationError, CorruptDocumentError, EngineError, PageTimeoutError
from s3ocr.models import Box, Line, PageImage, Recognition, Word, mean_word_confidence
from s3ocr.settings import available_cpus, uses_cjk
from s3ocr.textclean import has_cjk

DISTRIBUTION = "rapidocr"
DET_MODEL = "PP-OCRv6_det_small.onnx"
REC_MODEL = "PP-OCRv6_rec_small.onnx"
# The recogniser quantised to int8 at build time (``s3ocr.engines.quantize``: ``make`` writes it here, and the
# image carries only it): 45 % less recognition CPU than the float model, for the same text. Without it (a
# plain ``pip install``) the float model is read, and the engine's version says so.
REC_MODEL_INT8 = "PP-OCRv6_rec_small.int8.onnx"
# The int8 recogniser with its classifier cut to the Latin characters (``quantize.latin_only``, built by
# ``make`` too): pages read with Latin languages only, 16 % less recognition CPU on the real English pages.
REC_MODEL_LATIN = "PP-OCRv6_rec_small.latin.int8.onnx"
# The detector quantised to int8 the same way (``quantize --detector``, built by ``make`` too), for the same
# pages: on this machine's CPU (int8 dot-product instructions) a third of the float detector's time. On Chinese
# pages it found lines differently: a signboard photo lost a line's reading. They keep the float detector.
DET_MODEL_LATIN = "PP-OCRv6_det_small.int8.onnx"
QUANTISED_DIR = Path(__file__).parent / "models"
# Detection input: the page's longer side at most this (px). On the real corpus pages (up to 3,312 px) and
# the rendered A4 pages (3,508 px) the text found at 960 px is the same as at full size, for a tenth of the CPU.
DET_MAX_SIDE = 960
# A page (or band) lower than this, or more than this many times wider than tall, is padded with paper
# above and below before detection, as RapidOCR does: the detector misses lines on very flat images.
DET_MIN_HEIGHT = 30
DET_MAX_RATIO = 8
# Lines whose recognition scores below this are dropped (RapidOCR's own default, ``text_score``).
MIN_LINE_SCORE = 0.5
# Readings of upright pages score 0.86-1.0 (mean line score, real and rendered pages); the same pages upside
# down or sideways 0.58-0.68.
SURE_CONFIDENCE = 0.8
# Tesseract-style language codes these models read (one recogniser for Chinese and Latin text). Anything
# else is a configuration error, not a silently wrong reading.
LANGUAGES = frozenset({"chi_sim", "eng", "osd"})

NOT_INSTALLED = "the rapidocr engine needs the rapidocr and onnxruntime packages that s3ocr pins (pip install s3ocr)"



@functools.cache
def rapidocr_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError as e:
        raise ConfigurationError(NOT_INSTALLED) from e


@functools.cache
def model_dir() -> Path:
    """The models shipped in the wheel; a missing file is a configuration error, never a download."""
    # onnxruntime's usage telemetry: nothing to send it to, and it warns at start-up when it cannot store a
    # device id (Lambda's disk is read-only). Read when onnxruntime loads, so set before the import.
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    try:
        import rapidocr
    except ImportError as e:
        raise ConfigurationError(NOT_INSTALLED) from e
    models = Path(rapidocr.__file__).parent / "models"
    wanted = (DET_MODEL,) if quantised() else (DET_MODEL, REC_MODEL)
    missing = [name for name in wanted if not (models / name).is_file()]
    if missing:
        raise ConfigurationError(f"rapidocr {rapidocr_version()} does not ship {', '.join(missing)} in {models}")
    return models


def quantised() -> bool:
    """Whether ``make model`` built the int8 recogniser."""
    return (QUANTISED_DIR / REC_MODEL_INT8).is_file()


def recogniser_model(latin: bool = False) -> Path:
    """The recogniser for pages of Latin text only (``latin``: the Latin one, when it was built) or of any text:
    the int8 one when it was built, else the float one the wheel ships."""
    latin_path = latin_model() if latin else None
    if latin_path is not None:
        return latin_path
    return QUANTISED_DIR / REC_MODEL_INT8 if quantised() else model_dir() / REC_MODEL


def latin_model() -> Path | None:
    """The Latin recogniser, when it was built with the int8 one."""
    path = QUANTISED_DIR / REC_MODEL_LATIN
    return path if quantised() and path.is_file() else None


def latin_detector() -> Path | None:
    """The int8 detector for pages of Latin text only, when it was built with the int8 recogniser."""
    path = QUANTISED_DIR / DET_MODEL_LATIN
    return path if quantised() and path.is_file() else None


def detector_model(latin: bool) -> Path:
    """The detector for pages of Latin text only (``latin``) or of any text."""
    return (latin_detector() if latin else None) or model_dir() / DET_MODEL


def latin_only(languages: str) -> bool:
    """Whether pages read with ``languages`` hold no CJK text: the Latin recogniser reads them."""
    return not uses_cjk(languages)


_SESSION_OPTIONS = threading.Lock()
_IMPORT = threading.Lock()
# RapidOCR's registry of model URLs by engine, version and language: read at import into OmegaConf objects.
MODEL_REGISTRY = "default_models.yaml"


def import_rapidocr() -> None:
    """Import RapidOCR with its registry of model URLs read as plain data.

    RapidOCR reads ``default_models.yaml`` (85 kB) twice when imported, each time into an OmegaConf tree:
    0.75 s of CPU, most of a reader's build (0.85 s) and of every cold instance's first PP-OCRv6 page. The
    engine never looks a model up there (it names its models by path); what RapidOCR reads from it on the
    way, the language aliases and model routes, it reads with ``.get`` and ``[]``, as from a dict. Parsed by
    PyYAML (RapidOCR's own dependency, through OmegaConf) it takes 0.02 s. Only that file, only during the
    import, and once a process."""
    import sys

    with _IMPORT:
        if "rapidocr.main" in sys.modules:
            return
        import yaml
        from omegaconf import OmegaConf

        load = OmegaConf.load

        def plain_registry(source: Any) -> Any:
            if isinstance(source, (str, Path)) and Path(source).name == MODEL_REGISTRY:
                with open(source, encoding="utf-8") as file:
                    return yaml.load(file, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
            return load(source)

        setattr(OmegaConf, "load", plain_registry)  # noqa: B010
        try:
            import rapidocr.main  # noqa: F401
        finally:
            setattr(OmegaConf, "load", load)  # noqa: B010


@contextlib.contextmanager
def _without_memory_patterns() -> Iterator[None]:
    """ONNX Runtime sessions built meanwhile do not plan memory by input shape (``enable_mem_pattern``): every
    page and every line has a shape of its own, and the plans kept for them grew a reader from 175 MB to 486
    MB over the 18 real pages (peak 570 MB); without them 316 MB (peak 420 MB), in the same CPU time.
    RapidOCR builds the session options itself, so its builder is wrapped while these readers are made."""
    from rapidocr.inference_engine.onnxruntime.main import OrtInferSession

    with _SESSION_OPTIONS:
        build = OrtInferSession._init_sess_opts

        def without_patterns(config: Any) -> Any:
            options = build(config)
            options.enable_mem_pattern = False
            return options

        setattr(OrtInferSession, "_init_sess_opts", staticmethod(without_patterns))  # noqa: B010
        try:
            yield
        finally:
            setattr(OrtInferSession, "_init_sess_opts", staticmethod(build))  # noqa: B010


def _rapidocr(recogniser: Path, detector: Path | None = None) -> Any:
    """RapidOCR configured for the engine, with ``recogniser`` and ``detector`` (the float one by default); it
    builds its models when asked for them."""
    import_rapidocr()
    from rapidocr import RapidOCR

    return RapidOCR(params={
        "Global.log_level": "warning",
        "Global.use_cls": False,
        "Det.model_path": str(detector or model_dir() / DET_MODEL),
        "Rec.model_path": str(recogniser),
        # The input is sized here (``read``): RapidOCR's detector only rounds it to a multiple of 32.
        "Det.limit_type": "max",
        "Det.limit_side_len": 1_000_000,
        "Rec.rec_batch_num": 1,
        # Lines are read at their own width: RapidOCR pads every line to at least 320 px (a table cell of
        # two digits costs as much as a line of twenty characters). Measured on the real and three rendered
        # Chinese pages: the same text (mean CER 0.097 -> 0.095) for 7.6 % less CPU.
        "Rec.rec_img_shape": [3, 48, 48],
        "EngineConfig.onnxruntime.intra_op_num_threads": 1,
        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
    })


class _Models:
    """The detectors and the recognisers of a process, each built once, when a page first needs it, and used by
    every reader at once. An ONNX Runtime session runs several threads' inputs at the same time, each on its
    calling thread (one intra-op thread), and RapidOCR's detector and recogniser keep nothing between calls:
    a second reader with models of its own paid ~0.2 CPU-s to build them and their first inferences again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._configured: dict[bool, Any] = {}
        self._detectors: dict[Path, Any] = {}
        self._recognizers: dict[Path, Any] = {}

    def _rapidocr(self, latin: bool) -> Any:
        """RapidOCR configured with the models for pages of Latin text only (``latin``) or of any text; it
        builds them when asked (call with the lock)."""
        if latin not in self._configured:
            # ``_rapidocr`` imports RapidOCR (``import_rapidocr``) before anything else of it
            self._configured[latin] = _rapidocr(recogniser_model(latin), detector_model(latin))
        return self._configured[latin]

    def detector(self, latin: bool = False) -> Any:
        """The detector for pages of Latin text only (``latin``; the float one when the int8 one was not built)
        or of any text."""
        model = detector_model(latin)
        with self._lock:
            if model not in self._detectors:
                configured = self._rapidocr(latin)  # before anything else of RapidOCR is imported
                with _without_memory_patterns():
                    self._detectors[model] = configured._load_det_model()
            return self._detectors[model]

    def recognizer(self, latin: bool) -> Any:
        """The recogniser for pages of Latin text only (``latin``; the whole one when the Latin one was not
        built) or of any text."""
        model = recogniser_model(latin)
        with self._lock:
            if model not in self._recognizers:
                configured = self._rapidocr(latin)  # before anything else of RapidOCR is imported
                with _without_memory_patterns():
                    recognizer = configured._load_rec_model()
                # Read for every line; as RapidOCR keeps it (an OmegaConf list) each reading costs ~0.3 ms.
                recognizer.rec_image_shape = list(recognizer.rec_image_shape)
                self._recognizers[model] = recognizer
            return self._recognizers[model]


MODELS = _Models()


class _Reader:
    """A page's hold on a detector and a recogniser (``MODELS``, shared by every reader): for pages of any text,
    or the Latin ones (``latin_model``, ``latin_detector``) for pages read without Chinese. Building it loads the
    models the pages it is built for need, when no reader has yet (in a background thread, when prewarmed)."""

    def __init__(self, latin: bool = False) -> None:
        self.detector_for(latin)
        self.recognizer_for(latin)

    @property
    def detector(self) -> Any:
        """The detector for pages of any text."""
        return self.detector_for(latin=False)

    @staticmethod
    def detector_for(latin: bool) -> Any:
        """The detector for pages of Latin text only (``latin``) or of any text."""
        return MODELS.detector(latin)

    @property
    def recognizer(self) -> Any:
        """The recogniser of every character (Chinese and Latin)."""
        return self.recognizer_for(latin=False)

    @staticmethod
    def recognizer_for(latin: bool) -> Any:
        """The recogniser for pages of Latin text only (``latin``) or of any text."""
        return MODELS.recognizer(latin)

    def read(self, image: Any, latin: bool = False) -> list[tuple[Any, str, float, Any]]:
        """``(quadrilateral, text, score, word results)`` per line of a BGR page, in the page's pixels; ``latin``:
        read with the Latin recogniser."""
        from rapidocr.ch_ppocr_rec import TextRecInput

        quads, crops = self.lines(image, latin)
        if not crops:
            return []
        lines = self.recognizer_for(latin)(TextRecInput(img=crops, return_word_box=True))
        return [(quad, text, score, place_words(text, info, quad, stands(quad)))
                for quad, text, score, info in zip(quads, lines.txts or (), lines.scores, lines.word_results,
                                                   strict=True)]

    def lines(self, image: Any, latin: bool = False) -> tuple[list[Any], list[Any]]:
        """The text lines the detector (for pages of Latin text only, ``latin``, or of any text) finds on a BGR
        page: their quadrilaterals in the page's pixels, and each line cut out of the page at its own resolution
        (turned upright when it stands), for the recogniser."""
        import numpy as np
        from rapidocr.utils.process_img import get_rotate_crop_image

        height, width = image.shape[:2]
        small, scale, pad = detection_input(image)
        found = self.detector_for(latin)(small)
        if found.boxes is None or len(found.boxes) == 0:
            return [], []
        quads = [np.clip((box - [0, pad]) / scale, 0, [width - 1, height - 1]).astype(np.float32)
                 for box in found.boxes]
        crops = [get_rotate_crop_image(image, quad.copy()) for quad in quads]
        kept = [i for i, crop in enumerate(crops) if crop.size]
        return [quads[i] for i in kept], [crops[i] for i in kept]


def detection_input(image: Any) -> tuple[Any, float, int]:
    """A BGR page as the detector reads it: at most ``DET_MAX_SIDE`` px on its longer side, padded with paper
    above and below when it is flat; with the scale and the padding (px, each side) to map its boxes back."""
    import cv2

    height, width = image.shape[:2]
    scale = min(1.0, DET_MAX_SIDE / max(height, width))
    small = image if scale == 1.0 else cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    pad = 0
    if small.shape[0] <= DET_MIN_HEIGHT or small.shape[1] > DET_MAX_RATIO * small.shape[0]:
        pad = max(DET_MIN_HEIGHT, small.shape[1] // DET_MAX_RATIO - small.shape[0]) // 2 + 1
        small = cv2.copyMakeBorder(small, pad, pad, 0, 0, cv2.BORDER_REPLICATE)
    return small, scale, pad


def stands(quad: Any) -> bool:
    """Whether RapidOCR reads this line turned a quarter (``get_rotate_crop_image``: a crop at least 1.5 times
    taller than wide is turned counter-clockwise before recognition)."""
    import numpy as np

    width = int(max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[2] - quad[3])))
    height = int(max(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[1] - quad[2])))
    return height >= 1.5 * width


def place_words(text: str, info: Any, quad: Any, turned: bool) -> list[tuple[str, float, Any]]:
    """Words of a recognised line with their quadrilaterals on the page: a CJK character each, or a run of
    other characters between spaces, placed by the recogniser's column for each character along the line
    (``turned``: the line stood, and was read turned a quarter). Confidence: the mean of its characters'."""
    import numpy as np

    columns = [column for word in info.word_cols for column in word]
    length = float(info.line_txt_len or 0)
    characters = [(i, char) for i, char in enumerate(text) if not char.isspace()]
    if not length or len(columns) != len(characters) or len(info.confs) != len(text):
        return []
    gaps = np.diff(columns) if len(columns) > 1 else np.array([2.0])
    half = max(0.5, float(np.median(gaps)) / 2)
    first, second, third, fourth = (np.asarray(point, np.float64) for point in quad)
    start_edge, end_edge = ((first, fourth), (second, third)) if turned else ((first, second), (fourth, third))
    words: list[tuple[str, float, Any]] = []
    token: list[tuple[int, int]] = []  # (index in text, column)

    def close() -> None:
        if not token:
            return
        low = max(0.0, (token[0][1] + 0.5 - half) / length)
        high = min(1.0, (token[-1][1] + 0.5 + half) / length)
        points = [start_edge[0] + low * (start_edge[1] - start_edge[0]),
                  start_edge[0] + high * (start_edge[1] - start_edge[0]),
                  end_edge[0] + high * (end_edge[1] - end_edge[0]),
                  end_edge[0] + low * (end_edge[1] - end_edge[0])]
        confidence = sum(info.confs[i] for i, _ in token) / len(token)
        words.append(("".join(text[i] for i, _ in token), confidence, points))
        token.clear()

    previous = -1
    for (index, char), column in zip(characters, columns, strict=True):
        if index != previous + 1 or has_cjk(char) or (token and has_cjk(text[token[-1][0]])):
            close()
        token.append((index, column))
        previous = index
    close()
    return words


class ReaderPool:
    """At most ``size`` readers (one per CPU: more pages at once run no faster), kept for the next page; readers
    being built in the background (``prewarm``) count among them. A page that finds none idle waits for one
    being built or lent rather than building another beyond the size. Building threads are not daemons: a
    process that ends while one is loading its models waits for it (ONNX Runtime aborts the process if a thread
    is torn down inside it)."""

    def __init__(self, size: int | None = None) -> None:
        self.size = size or available_cpus()
        self._idle: list[_Reader] = []
        self._building = 0
        self._lent = 0
        self._changed = threading.Condition()

    def borrow(self, latin: bool = False) -> _Reader:
        with self._changed:
            while not self._idle and self._building + self._lent + len(self._idle) >= self.size:
                self._changed.wait()
            self._lent += 1
            if self._idle:
                return self._idle.pop()
        try:
            return _Reader(latin)
        except BaseException:
            with self._changed:
                self._lent -= 1
                self._changed.notify()
            raise

    def give_back(self, reader: _Reader) -> None:
        with self._changed:
            self._lent -= 1
            self._idle.append(reader)
            self._changed.notify()

    def prewarm(self, count: int, latin: bool = False) -> None:
        """Build readers in the background until ``count`` (at most ``size``) are idle, lent or on their way,
        with the recogniser for pages of Latin text only (``latin``) or of any text."""
        with self._changed:
            wanted = min(count, self.size) - len(self._idle) - self._building - self._lent
            self._building += max(0, wanted)
        for _ in range(max(0, wanted)):
            threading.Thread(target=self._build, args=(latin,), name="rapidocr-prewarm").start()

    def _build(self, latin: bool) -> None:
        reader = None
        try:
            reader = _Reader(latin)
        except Exception:  # nothing to prewarm with: the page that needs a reader builds one and says why
            reader = None
        finally:
            with self._changed:
                self._building -= 1
                if reader is not None:
                    self._idle.append(reader)
                self._changed.notify_all()


READERS = ReaderPool()


def _box(points: Any, page: PageImage) -> Box:
    """The axis-aligned box around a quadrilateral (or any points), clipped to the page."""
    xs = [float(p[0]) for p in points]
    ys = [float(p[1]) for p in points]
    left = min(max(0, round(min(xs))), page.width)
    top = min(max(0, round(min(ys))), page.height)
    right = min(max(left, round(max(xs))), page.width)
    bottom = min(max(top, round(max(ys))), page.height)
    return Box(left, top, right - left, bottom - top)


def parse(lines: list[tuple[Any, str, float, Any]], page: PageImage) -> Recognition:
    """The reader's lines as a Recognition: lines scoring under ``MIN_LINE_SCORE`` or holding no text dropped,
    words with their own boxes where the recogniser placed them (else the whole line's)."""
    result = []
    for quad, raw_text, score, words in lines:
        text = str(raw_text).strip()
        if not text or score < MIN_LINE_SCORE:
            continue
        box = _box(quad, page)
        confidence = round(float(score), 4)
        placed = [Word(str(word).strip(), clip(_box(points, page), box), round(float(conf), 4))
                  for word, conf, points in (words or ()) if str(word).strip() and points is not None]
        if not placed:
            placed = [Word(token, box, confidence) for token in text.split()]
        result.append(Line(text=text, box=box, confidence=confidence, words=tuple(placed)))
    return Recognition(text="\n".join(line.text for line in result), lines=tuple(result),
                       mean_confidence=mean_word_confidence(result))


class RapidOcrEngine(BaseEngine):
    name = "rapidocr"

    @property
    def version(self) -> str:
        precision = "int8" if recogniser_model().name == REC_MODEL_INT8 else "float32"
        latin = ", Latin-only for eng" if latin_model() is not None else ""
        detection = ", int8 detection for eng" if latin_detector() is not None else ""
        return f"{rapidocr_version()} (PP-OCRv6 small, {precision} recognition{latin}{detection})"

    def capabilities(self, languages: str) -> Capabilities:
        # Local and free per call. No reading pitch: scaled down, the Chinese pages read worse. Uneven light:
        # with the background divided out, one signboard photo read worse (recall 0.98 -> 0.96, CER 0.02 ->
        # 0.26) and no page better (make bench-accuracy, raw@rapidocr beside auto@rapidocr).
        return Capabilities(local=True, read_pitch=None, sure_confidence=SURE_CONFIDENCE, reads_uneven_light=True)

    def check_languages(self, languages: str) -> None:
        unknown = sorted(set(languages.split("+")) - LANGUAGES)
        if unknown:
            raise ConfigurationError(f"the rapidocr models do not read {', '.join(unknown)} (they read chi_sim, eng)")

    def prewarm(self, languages: str, count: int) -> None:
        """Build up to ``count`` readers in the background (their models load while pages render)."""
        READERS.prewarm(count, latin_only(languages))

    def recognize(self, page: PageImage, languages: str, timeout: float) -> Recognition:
        self.check_languages(languages)
        model_dir()  # a missing install is a configuration error here, in the caller's thread
        import cv2

        image = cv2.imread(str(page.path), cv2.IMREAD_COLOR)
        if image is None:
            raise CorruptDocumentError(f"page {page.number} is not an image OpenCV can read")
        latin = latin_only(languages)
        outcome: dict[str, Any] = {}

        def infer() -> None:
            try:
                reader = READERS.borrow(latin)
            except Exception as e:  # the models would not load
                outcome["error"] = e
                return
            try:
                outcome["lines"] = reader.read(image, latin)
            except Exception as e:  # onnxruntime and OpenCV raise their own types
                outcome["error"] = e
            finally:
                READERS.give_back(reader)

        # Not a daemon: at exit the process waits for an abandoned reading to end (see ReaderPool).
        worker = threading.Thread(target=infer, name=f"rapidocr-page-{page.number}")
        worker.start()
        worker.join(timeout)
        if worker.is_alive():
            raise PageTimeoutError(f"rapidocr exceeded {timeout:g} s on page {page.number}")
        if "error" in outcome:
            e = outcome["error"]
            raise EngineError(f"rapidocr failed on page {page.number}: {type(e).__name__}: {e}") from e
        return parse(outcome.get("lines", []), page)
