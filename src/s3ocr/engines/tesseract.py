"""Tesseract: pages read by long-lived workers through its C API (``tesseract_pool``), or by the ``tesseract``
command through pytesseract, one process per page; text and TSV from a single reading either way.

pytesseract (which imports numpy, ~0.1-0.2 s) is imported by the calls that use it, not with this module:
the Lambda handler builds this engine at cold start, and a born-digital document never needs it.
"""

from __future__ import annotations

import csv
import functools
import os
import subprocess
import tempfile
from pathlib import Path

from s3ocr.engines.base import BaseEngine, Capabilities
from s3ocr.errors import ConfigurationError, EngineError, PageTimeoutError
from s3ocr.models import Box, Line, PageImage, Recognition, Word, mean_word_confidence
from s3ocr.settings import uses_cjk

# OpenMP inside Tesseract fights the pipeline's own one-process-per-core parallelism: on a 2-core
# machine one page took 10.7 s with OpenMP threads instead of 1.9 s without.
os.environ["OMP_THREAD_LIMIT"] = "1"


# Large text is read at this line pitch (px): Tesseract's layout analysis costs grow with the pixels while its
# line recogniser sees every line at a fixed height anyway. On the corpus pages (lines 60-102 px apart at 300
# dpi), reading them at 50 px took 10-20 % less CPU and the mean CER did not rise (README, Accuracy). Capital
# letters are then ~25 px tall, where Tesseract's own advice puts the start of the accuracy drop.
READ_PITCH_PX = 50.0
# Mean word confidence of readings of upright pages: 0.7-0.96 on the corpus; the same pages upside down or
# sideways 0.15-0.45.
SURE_CONFIDENCE = 0.6
# Small text: lines closer than this (px; body text at ~95 dpi) Tesseract reads mostly unsure, and worse than
# PP-OCRv6, which scales every line to its recogniser's height. The real and rendered English pages scaled down so
# that their lines lie 14-30 px apart (``bench.accuracy --pitch``, README, Accuracy): at 14 and 18 px Tesseract
# read 24 of 32 pages less sure than ``auto`` keeps without a second opinion and 30 of them worse than PP-OCRv6,
# which read 31 sure; at 22 px 5 of 15 were unsure, at 26-30 px 2-4. Real forms scanned at 75 dpi: 15-16 px.
MIN_PITCH_PX = 20.0
# Vertical CJK writing: Tesseract's ``<lang>_vert`` models (Debian's tesseract-ocr-chi-sim-vert), on a
# single block of vertical text (--psm 5). A vertical page read with chi_sim+eng and psm 3: CER 1.0 either
# way up; with chi_sim_vert and psm 5: 0.064 (psm 3: 0.104; +eng: the same CER at 1.8x the time).
VERTICAL_PSM = 5


@functools.cache
def tesseract_version() -> str:
    """``5.3.0`` from ``tesseract --version`` (as pytesseract reads it, without importing numpy for it)."""
    try:
        out = subprocess.run(["tesseract", "--version"], capture_output=True, text=True, timeout=30, check=True)
    except FileNotFoundError as e:
        raise ConfigurationError("the tesseract binary is not installed or not on PATH") from e
    except (OSError, subprocess.SubprocessError) as e:
        raise ConfigurationError(f"tesseract --version failed: {e}") from e
    words = (out.stdout or out.stderr).split()
    return words[1].lstrip("v") if len(words) > 1 else "unknown"


@functools.cache
def installed_languages() -> frozenset[str]:
    import pytesseract

    return frozenset(pytesseract.get_languages(config=""))


def vertical_languages(languages: str) -> str | None:
    """The installed vertical-writing models for the CJK languages of ``chi_sim+eng`` (``chi_sim_vert``);
    None when there are none."""
    installed = installed_languages()
    vertical = [f"{language}_vert" for language in languages.split("+")
                if uses_cjk(language) and f"{language}_vert" in installed]
    return "+".join(vertical) or None


def parse_tsv(tsv: str) -> tuple[Line, ...]:
    """Lines with word boxes and confidences from Tesseract's TSV output (level 5 rows are words)."""
    lines: dict[tuple[int, int, int, int], list[Word]] = {}
    for row in csv.DictReader(tsv.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE):
        if row.get("level") != "5":
            continue
        text = (row.get("text") or "").strip()
        confidence = float(row.get("conf") or -1)
        if not text or confidence < 0:
            continue
        key = (int(row["page_num"]), int(row["block_num"]), int(row["par_num"]), int(row["line_num"]))
        box = Box(int(row["left"]), int(row["top"]), int(row["width"]), int(row["height"]))
        lines.setdefault(key, []).append(Word(text=text, box=box, confidence=round(confidence / 100, 4)))
    result = []
    for words in lines.values():
        box = functools.reduce(Box.union, (word.box for word in words))
        confidence = round(sum(word.confidence for word in words) / len(words), 4)
        result.append(Line(text=" ".join(w.text for w in words), box=box, confidence=confidence, words=tuple(words)))
    return tuple(result)


class TesseractEngine(BaseEngine):
    """The default engine: Tesseract 5 with the LSTM models from the Debian language packs.

    Two ways to run it, same text: ``api`` (default) lends each page to a long-lived worker process that
    keeps the models loaded (``tesseract_pool``); ``cli`` runs the ``tesseract`` command once per page,
    for platforms where ``libtesseract.so.5`` cannot be loaded (``TESSERACT_BACKEND=cli``). When the
    library is missing, ``api`` falls back to ``cli`` by itself.
    """

    name = "tesseract"

    def __init__(self, psm: int = 3, backend: str | None = None) -> None:
        self.psm = psm
        self.backend = (backend or os.environ.get("TESSERACT_BACKEND", "") or "api").strip().lower()
        if self.backend not in ("api", "cli"):
            raise ConfigurationError(f"TESSERACT_BACKEND is api or cli, not {self.backend!r}")

    @property
    def version(self) -> str:
        return tesseract_version()

    def config(self, page: PageImage, psm: int | None = None) -> str:
        """Command-line options; the resolution only when known (``--dpi 0`` would make Tesseract assume 70)."""
        dpi = f" --dpi {page.dpi}" if page.dpi > 0 else ""
        return f"--psm {psm or self.psm}{dpi} -c tessedit_create_tsv=1"

    def check_languages(self, languages: str) -> None:
        missing = sorted(set(languages.split("+")) - installed_languages())
        if missing:
            raise ConfigurationError(f"Tesseract language data missing: {', '.join(missing)}")

    def capabilities(self, languages: str) -> Capabilities:
        # Local and free per call: pages may be read again and in bands (see s3ocr.reading, s3ocr.pagesplit).
        return Capabilities(local=True, read_pitch=READ_PITCH_PX, sure_confidence=SURE_CONFIDENCE,
                            min_pitch=MIN_PITCH_PX)

    def prewarm(self, languages: str, count: int) -> None:
        """Start up to ``count`` workers with ``languages`` loaded, in the background (``api`` backend)."""
        if self.backend == "api":
            from s3ocr.engines.tesseract_pool import POOL

            POOL.prewarm(languages, count)

    def recognize(self, page: PageImage, languages: str, timeout: float) -> Recognition:
        return self._recognize(page, languages, timeout, self.psm)

    def recognize_vertical(self, page: PageImage, languages: str, timeout: float) -> Recognition:
        """Read a page of vertical CJK writing as it stands (columns top to bottom, right to left), with the
        vertical models of ``languages`` when they are installed."""
        vertical = vertical_languages(languages)
        if vertical is None:
            return self.recognize(page, languages, timeout)
        return self._recognize(page, vertical, timeout, VERTICAL_PSM)

    def _recognize(self, page: PageImage, languages: str, timeout: float, psm: int) -> Recognition:
        self.check_languages(languages)
        read = self._read_api(page, languages, timeout, psm) if self.backend == "api" else None
        text, tsv = read if read is not None else self._read_cli(page, languages, timeout, psm)
        lines = parse_tsv(tsv)
        return Recognition(text=text.rstrip("\n\f").strip("\n"), lines=lines,
                           mean_confidence=mean_word_confidence(lines))

    def _read_api(self, page: PageImage, languages: str, timeout: float, psm: int) -> tuple[str, str] | None:
        """Text and TSV from a worker process; ``None`` when the C API is not available here."""
        from s3ocr.engines.tesseract_pool import POOL, WorkerFailure

        request = {"path": str(page.path), "languages": languages, "psm": psm, "dpi": max(0, page.dpi)}
        try:
            reply = POOL.read(request, timeout)
        except WorkerFailure as e:
            if e.kind == "unavailable":
                self.backend = "cli"
                return None
            if e.kind == "timeout":
                raise PageTimeoutError(f"tesseract exceeded {timeout:g} s on page {page.number}") from e
            if e.kind == "languages":
                raise ConfigurationError(str(e)) from e
            raise EngineError(f"tesseract failed on page {page.number}: {e}") from e
        except OSError as e:
            raise EngineError(f"could not start a tesseract worker: {e}") from e
        return str(reply["text"]), str(reply["tsv"])

    def _read_cli(self, page: PageImage, languages: str, timeout: float, psm: int) -> tuple[str, str]:
        import pytesseract
        from pytesseract import pytesseract as pytesseract_core

        with tempfile.TemporaryDirectory(prefix="tess-", dir=page.path.parent) as tmp:
            base = Path(tmp) / "out"
            try:
                pytesseract_core.run_tesseract(
                    str(page.path),
                    str(base),
                    extension="txt",
                    lang=languages,
                    config=self.config(page, psm),
                    timeout=timeout,
                )
            except RuntimeError as e:
                # pytesseract signals its timeout with a bare RuntimeError (TesseractError is a subclass).
                if isinstance(e, pytesseract.TesseractError):
                    raise EngineError(f"tesseract failed on page {page.number}: {e.message}") from e
                raise PageTimeoutError(f"tesseract exceeded {timeout:.0f} s on page {page.number}") from e
            except (OSError, subprocess.SubprocessError) as e:
                raise EngineError(f"could not run tesseract: {e}") from e
            return (base.with_suffix(".txt")).read_text(encoding="utf-8"), \
                (base.with_suffix(".tsv")).read_text(encoding="utf-8")
