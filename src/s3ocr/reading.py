"""One page's reading, once it is prepared: in bands at once, and the other ways up when a reading is unsure.

The pipeline hands each page here with the image on disk. A reading less sure than ``UPRIGHT_CONFIDENCE``
may be of a page the wrong way up, so the page is read again another way and the surer reading kept:
turned 180 degrees, or, for a page whose lines ran down it, as vertical CJK writing in columns.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from s3ocr.engines.base import Engine
from s3ocr.errors import CorruptDocumentError
from s3ocr.models import Line, PageImage, Recognition, mean_word_confidence
from s3ocr.settings import Settings

if TYPE_CHECKING:
    import numpy as np

    from s3ocr.pagesplit import Band

# A reading less sure than this (mean word confidence) may be of a page upside down. Measured on the
# corpus with the probe: readings of upright pages score 0.7-0.95, the same pages upside down 0.15-0.45.
UPRIGHT_CONFIDENCE = 0.6


def write_page(image: np.ndarray, number: int, kind: str, dpi: int, work_dir: Path, files: list[Path]) -> PageImage:
    """Write an image of page ``number`` to the work dir as ``000001_<kind>.pgm``, noted in ``files`` for removal."""
    import cv2

    path = work_dir / f"{number:06d}_{kind}.pgm"
    cv2.imwrite(str(path), image)
    files.append(path)
    return PageImage(number=number, path=path, width=image.shape[1], height=image.shape[0], dpi=dpi)


def read_bands(band_pages: list[PageImage], bands: list[Band], settings: Settings, engine: Engine) -> Recognition:
    """Read a page's bands at once, one thread each, and join them back into the page's reading: boxes
    shifted to page coordinates, texts in band order with a paragraph break between bands."""
    with ThreadPoolExecutor(max_workers=len(band_pages), thread_name_prefix="s3ocr-band") as pool:
        readings = list(pool.map(lambda band: engine.recognize(band, settings.languages, settings.page_timeout),
                                 band_pages))
    lines = tuple(_shifted(line, band.top) for reading, band in zip(readings, bands, strict=True)
                  for line in reading.lines)
    text = "\n\n".join(reading.text for reading in readings if reading.text.strip())
    return Recognition(text=text, lines=lines, mean_confidence=mean_word_confidence(lines), engine=readings[0].engine)


def _shifted(line: Line, dy: int) -> Line:
    return replace(line, box=replace(line.box, top=line.box.top + dy),
                   words=tuple(replace(word, box=replace(word.box, top=word.box.top + dy)) for word in line.words))


class DocumentWriting:
    """What the pages of one document read so far showed of its writing, shared by the threads reading
    them: once a page has read as vertical writing, the next pages whose lines run down are read that way
    first, not turned a quarter, read unsure and only then read in columns. (Only the cost changes: the
    readings tried and the rule that picks one are the same.)"""

    def __init__(self) -> None:
        self.vertical = False

    def expects_columns(self, report: dict[str, Any]) -> bool:
        """Whether a page prepared as ``report`` says is expected to read in columns."""
        return self.vertical and report.get("lines") == "down"


def recognize_either_way(
    prepared_report: dict[str, Any], page: PageImage, work_dir: Path, files: list[Path], settings: Settings,
    engine: Engine, first: Recognition | None = None, writing: DocumentWriting | None = None,
) -> tuple[Recognition, PageImage, dict[str, Any]]:
    """Read the page as prepared (unless ``first`` is that reading already, made in bands); when prepare()
    left "upside down?" open and the reading is unsure, read it again turned 180 degrees and keep the surer
    reading. Upright pages are read once.

    A page whose lines ran down it (turned a quarter by prepare) may instead be vertical CJK writing: when
    the engine can read that, the unsure page is first read as it stood, in columns, and that reading is
    kept if it is sure."""
    report = dict(prepared_report)
    deferred = (report.get("orientation") or {}).get("method") == "deferred"
    read_vertical = getattr(engine, "recognize_vertical", None) if report.get("lines") == "down" else None
    prepared = None  # the page as prepared, read back from the work dir once it is needed (unsure pages only)
    if deferred and read_vertical is not None and first is None and writing is not None and \
            writing.expects_columns(report):
        prepared = _read_back(page)
        found = _read_standing(prepared, report, page, work_dir, files, settings, read_vertical, None)
        if found is not None:
            return found
        read_vertical = None  # tried already
    if first is None:
        first = engine.recognize(page, settings.languages, settings.page_timeout)
    first_confidence = first.mean_confidence or 0.0
    if not deferred or first_confidence >= UPRIGHT_CONFIDENCE:
        return first, page, report
    if prepared is None:
        prepared = _read_back(page)
    if read_vertical is not None:
        found = _read_standing(prepared, report, page, work_dir, files, settings, read_vertical, first_confidence)
        if found is not None:
            if writing is not None:
                writing.vertical = True
            return found
    flipped = write_page(prepared[::-1, ::-1], page.number, "ocr180", page.dpi, work_dir, files)
    second = engine.recognize(flipped, settings.languages, settings.page_timeout)
    second_confidence = second.mean_confidence or 0.0
    report["orientation"] = {"method": "reread", "confidence": round(abs(second_confidence - first_confidence), 3),
                             "as_prepared": first_confidence, "turned_180": second_confidence}
    if second_confidence <= first_confidence:
        return first, page, report
    return second, flipped, _turned(report, 180)


def _read_back(page: PageImage) -> np.ndarray:
    import cv2

    prepared = cv2.imread(str(page.path), cv2.IMREAD_UNCHANGED)
    if prepared is None:
        raise CorruptDocumentError(f"page {page.number} could not be read back from the work dir")
    return prepared


def _read_standing(
    prepared: np.ndarray, report: dict[str, Any], page: PageImage, work_dir: Path, files: list[Path],
    settings: Settings, read_vertical: Callable[[PageImage, str, float], Recognition | None],
    as_prepared: float | None,
) -> tuple[Recognition, PageImage, dict[str, Any]] | None:
    """The page as it stood before prepare() turned it a quarter, read as vertical writing: that reading if
    it is sure, else None."""
    import cv2

    standing = write_page(cv2.rotate(prepared, cv2.ROTATE_90_COUNTERCLOCKWISE), page.number, "vertical",
                          page.dpi, work_dir, files)
    vertical = read_vertical(standing, settings.languages, settings.page_timeout)
    if vertical is None or (vertical.mean_confidence or 0.0) < UPRIGHT_CONFIDENCE:
        return None
    turned = _turned(report, 270)  # the quarter turn undone
    turned.update(writing="vertical", orientation={"method": "vertical", "as_prepared": as_prepared,
                                                   "confidence": vertical.mean_confidence})
    return vertical, standing, turned


def _turned(report: dict[str, Any], degrees: int) -> dict[str, Any]:
    """The report of a page read turned ``degrees`` further clockwise than prepared; its bands, if the
    reading as prepared was made in bands, are no longer what was read."""
    rotation = (int(report.get("rotation", 0)) + degrees) % 360
    steps = [step for step in report.get("steps", []) if not str(step).startswith("rotate_")]
    turned = {key: value for key, value in report.items() if key != "bands"}
    return {**turned, "rotation": rotation, "steps": steps + ([f"rotate_{rotation}"] if rotation else [])}
