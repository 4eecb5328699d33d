"""What ``pdfimages -list`` says about a PDF's images: one call per document, used to judge whether a
page is a scan (for the text layer) and whether its scan can be taken as it is (no rendering)."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

_ROW = re.compile(
    rb"^\s*(\d+)\s+\d+\s+(\w+)\s+(\d+)\s+(\d+)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\S+)\s+\S+\s+\d+\s+\d+\s+(\d+)\s+(\d+)",
    re.MULTILINE,
)


@dataclass(frozen=True)
class ImageInfo:
    page: int
    kind: str  # image | mask | smask | stencil
    width: int
    height: int
    color: str  # gray | rgb | cmyk | icc | index ...
    components: int
    bits: int
    encoding: str  # jpeg | image (raw/flate) | ccitt | jbig2 | jpx ...
    x_ppi: int
    y_ppi: int


def list_images(path: Path, last_page: int, timeout: float = 120) -> dict[int, list[ImageInfo]]:
    """The images drawn on each page (up to ``last_page``); empty when Poppler cannot list them in ``timeout``."""
    images: dict[int, list[ImageInfo]] = {}
    try:
        proc = subprocess.run(["pdfimages", "-list", "-l", str(last_page), str(path)],
                              capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return images  # not known: every page is rendered and judged by its pixels
    if proc.returncode != 0:
        return images
    for m in _ROW.finditer(proc.stdout):
        info = ImageInfo(page=int(m.group(1)), kind=m.group(2).decode(), width=int(m.group(3)),
                         height=int(m.group(4)), color=m.group(5).decode(), components=int(m.group(6)),
                         bits=int(m.group(7)), encoding=m.group(8).decode(), x_ppi=int(m.group(9)),
                         y_ppi=int(m.group(10)))
        images.setdefault(info.page, []).append(info)
    return images


def coverage(images: list[ImageInfo], size_pt: tuple[float, float]) -> float:
    """Share of a page covered by its images (from their size and resolution), at most 1."""
    page_in2 = max(size_pt[0] / 72 * size_pt[1] / 72, 1e-6)
    covered = sum((i.width / i.x_ppi) * (i.height / i.y_ppi) for i in images
                  if i.kind == "image" and i.x_ppi and i.y_ppi)
    return min(1.0, covered / page_in2)


def single_jpeg_scan(images: list[ImageInfo], size_pt: tuple[float, float], min_ppi: int = 240,
                     max_ppi: int = 400) -> ImageInfo | None:
    """The page's scan when the page is exactly one gray/RGB JPEG filling it at a usable, square
    resolution: then the JPEG itself is the page, with no rendering and no resampling."""
    if len(images) != 1:
        return None  # masks, overlays, several strips: let Poppler compose the page
    image = images[0]
    if image.kind != "image" or image.encoding != "jpeg" or image.components not in (1, 3) or image.bits != 8:
        return None
    if abs(image.x_ppi - image.y_ppi) > 1 or not min_ppi <= image.x_ppi <= max_ppi:
        return None
    return image if 0.97 <= coverage(images, size_pt) <= 1.0 else None
