"""Fit a page image to an OCR service's documented limits before it is sent.

Services reject what they cannot take (Baidu: error 216202; Textract: ``DocumentTooLargeException``)
and charge for nothing, but the page is lost. So the engines send an image that already fits: a
format the service accepts, sides within its bounds, encoded size under its cap. ``scale`` records how
the sent image relates to the page, so boxes come back in the page image's own pixel coordinates.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from PIL import Image, UnidentifiedImageError

from s3ocr.errors import EngineError, RejectedInputError
from s3ocr.models import Box, PageImage

T = TypeVar("T")


def raw_size(data: bytes) -> int:
    return len(data)


def base64_size(data: bytes) -> int:
    return 4 * math.ceil(len(data) / 3)


@dataclass(frozen=True)
class ImageLimits:
    """What one service accepts for one synchronous request."""

    max_bytes: int  # as measured by ``encoded_size`` (raw bytes, base64, base64 + urlencode...)
    max_side: int
    min_side: int = 1
    formats: tuple[str, ...] = ("PNG", "JPEG")  # in order of preference; PNG first keeps the scan lossless
    encoded_size: Callable[[bytes], int] = raw_size


@dataclass(frozen=True)
class FittedImage:
    data: bytes
    format: str  # "PNG" | "JPEG"
    width: int  # of the image sent, padding included
    height: int
    scale: float  # sent pixels per page pixel (<= 1 when downscaled)

    def box_to_page(self, left: float, top: float, width: float, height: float, page: PageImage) -> Box:
        """A box in the sent image's pixels, in the page image's pixels, clipped to the page (the sent
        image may carry padding the page does not have)."""
        x0 = min(max(0, round(left / self.scale)), page.width)
        y0 = min(max(0, round(top / self.scale)), page.height)
        x1 = min(max(x0, round((left + width) / self.scale)), page.width)
        y1 = min(max(y0, round((top + height) / self.scale)), page.height)
        return Box(x0, y0, x1 - x0, y1 - y0)

    def relative_box_to_page(self, left: float, top: float, width: float, height: float, page: PageImage) -> Box:
        """A box given as fractions (0..1) of the sent image, in the page image's pixels."""
        return self.box_to_page(left * self.width, top * self.height, width * self.width, height * self.height,
                                page)


JPEG_QUALITIES = (90, 75, 60)
# After the service rejected the fitted image once, send one that is clearly inside every bound.
STRICT_SHRINK = 0.7


def fit_image(path: Path, limits: ImageLimits, *, strict: bool = False) -> FittedImage:
    """Encode the page at ``path`` to fit ``limits``; ``strict`` is the second try after a rejection.

    Raises ``EngineError`` if the page image cannot be read, ``RejectedInputError`` if no encoding fits.
    """
    try:
        with Image.open(path) as opened:
            image = _normalise_mode(opened)
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise EngineError(f"cannot read page image {path.name}: {e}") from e
    width, height = image.size
    scale = min(1.0, limits.max_side / max(width, height))
    if strict:
        scale *= STRICT_SHRINK
    formats = ("JPEG",) if strict and "JPEG" in limits.formats else limits.formats
    # Each pass shrinks by the square root of the overshoot: bytes grow roughly with the pixel count.
    for _ in range(6):
        sent = _resized(image, scale)
        sent = _padded(sent, limits.min_side)
        for data, fmt in _encodings(sent, formats):
            if limits.encoded_size(data) <= limits.max_bytes:
                return FittedImage(data, fmt, sent.width, sent.height, scale)
        overshoot = limits.encoded_size(data) / limits.max_bytes
        scale *= min(0.9, 1 / math.sqrt(overshoot))
        if min(width, height) * scale < limits.min_side:
            break
    raise RejectedInputError(
        f"page image {width}x{height} cannot be encoded under {limits.max_bytes} bytes within the service limits"
    )


def _normalise_mode(image: Image.Image) -> Image.Image:
    """Grey or RGB, 8 bits: what every service and every format here accepts."""
    if image.mode in ("L", "RGB"):
        return image.copy()
    if image.mode in ("1", "I;16", "I", "F") or (image.mode == "P" and _palette_is_grey(image)):
        return image.convert("L")
    return image.convert("RGB")


def _palette_is_grey(image: Image.Image) -> bool:
    palette = image.getpalette() or []
    return all(palette[i] == palette[i + 1] == palette[i + 2] for i in range(0, len(palette) - 2, 3))


def _resized(image: Image.Image, scale: float) -> Image.Image:
    if scale >= 1.0:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def _padded(image: Image.Image, min_side: int) -> Image.Image:
    """White padding at the right and bottom: unlike upscaling it leaves coordinates unchanged."""
    if min(image.size) >= min_side:
        return image
    canvas = Image.new(image.mode, (max(image.width, min_side), max(image.height, min_side)), "white")
    canvas.paste(image, (0, 0))
    return canvas


def _encodings(image: Image.Image, formats: tuple[str, ...]) -> Iterator[tuple[bytes, str]]:
    for fmt in formats:
        qualities = JPEG_QUALITIES if fmt == "JPEG" else (None,)
        for quality in qualities:
            buffer = io.BytesIO()
            if quality is None:
                image.save(buffer, format=fmt)
            else:
                image.save(buffer, format=fmt, quality=quality)
            yield buffer.getvalue(), fmt


def send_fitted(path: Path, limits: ImageLimits, send: Callable[[FittedImage], T]) -> tuple[T, FittedImage]:
    """Send the page fitted to a service's limits; when the service rejects it, once more fitted strictly
    (smaller, as JPEG); a second rejection is the page's ``RejectedInputError``."""
    rejection: RejectedInputError | None = None
    for strict in (False, True):
        image = fit_image(path, limits, strict=strict)
        try:
            return send(image), image
        except RejectedInputError as e:
            rejection = e
    raise RejectedInputError(f"{rejection}; also after re-encoding the page as {image.format} "
                             f"at {image.width}x{image.height}") from rejection
