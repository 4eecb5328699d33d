"""What the fakes "recognise": the real Tesseract run on the image the fake received.

So a fake's lines, words and boxes are where the text really is in the image that was sent, which makes
the contract checks on geometry (boxes inside the image, words inside lines, rescaling after a
downscale) meaningful. Results are cached by image digest: error tests resend the same image.
"""

from __future__ import annotations

import functools
import hashlib
import io

import pytesseract
from PIL import Image

from s3ocr.engines.tesseract import parse_tsv
from s3ocr.models import Line


@functools.lru_cache(maxsize=32)
def _read(digest: str, data: bytes, lang: str) -> tuple[tuple[Line, ...], tuple[int, int]]:
    image = Image.open(io.BytesIO(data))
    image.load()
    tsv = pytesseract.image_to_data(image, lang=lang, config="--psm 3")
    return parse_tsv(tsv), image.size


def read_image(data: bytes, lang: str = "eng") -> tuple[tuple[Line, ...], tuple[int, int]]:
    """Lines (with words, boxes in the image's pixels, confidence 0..1) and the image's (width, height)."""
    return _read(hashlib.sha256(data).hexdigest(), data, lang)


def image_format(data: bytes) -> str | None:
    """The format by magic bytes, as a service checks it: "PNG", "JPEG", "BMP" or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"BM"):
        return "BMP"
    return None
