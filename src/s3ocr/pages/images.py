"""Raster documents through Pillow: JPEG, PNG, TIFF (every frame), BMP, WebP, GIF (every frame).

Every frame becomes one page, written as 8-bit grayscale PGM. EXIF orientation (phone photos) is
applied; transparency is flattened onto white, as a reader would see the page.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from s3ocr.errors import CorruptDocumentError, DecompressionBombError
from s3ocr.models import PageImage

# What Pillow may decode: the types ``detect_media_type`` admits, and no other (EPS would run Ghostscript).
PILLOW_FORMATS = ("JPEG", "PNG", "TIFF", "BMP", "WEBP", "GIF")
# What Pillow raises on a damaged file: besides OSError and SyntaxError, its TIFF reader raises TypeError ("Missing
# dimensions") and KeyError (an unknown compression) while it walks the frames (found by s3ocr.reliability.fuzz).
PILLOW_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, TypeError, KeyError, IndexError, EOFError)
# Beyond this many times the pixel cap the image is refused outright; between 1x and this it is decoded
# and scaled down to the cap.
_REFUSE_FACTOR = 4
# Scans above this resolution are brought down to OCR_DPI: Tesseract reads 300 dpi text as well as 600 dpi
# text, in a quarter of the time (a 600 dpi A4 page: 35 megapixels).
MAX_OCR_DPI = 400
OCR_DPI = 300


def to_gray(frame: Image.Image) -> np.ndarray:
    """An 8-bit grayscale array of a frame of any mode, alpha flattened onto white."""
    if frame.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(frame, dtype=np.uint32)
        peak = int(array.max()) or 1
        return (array * 255 // peak).astype(np.uint8) if peak > 255 else array.astype(np.uint8)
    if frame.mode in ("RGBA", "LA", "PA") or (frame.mode == "P" and "transparency" in frame.info):
        rgba = frame.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        frame = Image.alpha_composite(background, rgba)
    return np.asarray(frame.convert("L"))


def _dpi(image: Image.Image) -> int:
    dpi = image.info.get("dpi")
    try:
        value = round(float(dpi[0])) if dpi else 0
    except (TypeError, ValueError, IndexError):
        value = 0
    return value if 50 <= value <= 2400 else 0


class ImagePages:
    """A raster file's frames as pages. ``dpi`` is 0 when the file does not say."""

    def __init__(self, path: Path, max_page_pixels: int) -> None:
        self.path = path
        self.max_page_pixels = max_page_pixels
        try:
            with Image.open(path, formats=PILLOW_FORMATS) as image:
                self._count = getattr(image, "n_frames", 1)
                self._check_size(image.size)
        except Image.DecompressionBombError as e:
            raise DecompressionBombError(f"the image is too large to decode safely: {e}") from e
        except PILLOW_ERRORS as e:
            raise CorruptDocumentError(f"the image cannot be read: {type(e).__name__}") from e

    def _check_size(self, size: tuple[int, int]) -> None:
        if size[0] * size[1] > self.max_page_pixels * _REFUSE_FACTOR:
            raise DecompressionBombError(
                f"{size[0]}x{size[1]} pixels exceeds {_REFUSE_FACTOR}x the page cap of {self.max_page_pixels}"
            )

    @property
    def page_count(self) -> int:
        return self._count

    def text_layer(self, number: int) -> str | None:
        return None  # a raster has no text of its own

    def known_blank(self, number: int) -> bool:
        return False  # only its pixels can tell: the pipeline looks at them

    @property
    def flags(self) -> tuple[str, ...]:
        return ()

    def render(self, number: int, work_dir: Path) -> PageImage:
        import cv2

        try:
            with Image.open(self.path, formats=PILLOW_FORMATS) as image:
                frame = ImageSequence.Iterator(image)[number - 1]
                self._check_size(frame.size)
                dpi = _dpi(image)
                gray = to_gray(ImageOps.exif_transpose(frame))
        except PILLOW_ERRORS as e:
            raise CorruptDocumentError(f"frame {number} of the image cannot be decoded: {type(e).__name__}") from e
        pixels = gray.shape[0] * gray.shape[1]
        scale = min(1.0, (self.max_page_pixels / pixels) ** 0.5, OCR_DPI / dpi if dpi > MAX_OCR_DPI else 1.0)
        if scale < 1.0:
            size = (max(1, int(gray.shape[1] * scale)), max(1, int(gray.shape[0] * scale)))
            gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
            dpi = round(dpi * scale) if dpi else 0
        path = work_dir / f"{number:06d}_page.pgm"
        if not cv2.imwrite(str(path), gray):
            raise CorruptDocumentError(f"could not write page {number} to the work dir")
        return PageImage(number=number, path=path, width=gray.shape[1], height=gray.shape[0], dpi=dpi)
