"""Page sources: a document turned into page images lazily, one page on disk at a time.

The type is decided by magic bytes, never by the file name: a ``.pdf`` holding random bytes is
``unsupported_type``; a PNG named ``scan.pdf`` is read as a PNG.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from s3ocr.errors import EmptyFileError, UnsupportedTypeError
from s3ocr.models import PageImage

# (offset, signature, media type); PDF headers may start anywhere in the first 1024 bytes.
_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"II*\x00", "image/tiff"),
    (0, b"MM\x00*", "image/tiff"),
    (0, b"BM", "image/bmp"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
)
SUPPORTED_MEDIA_TYPES = (
    "application/pdf", "image/jpeg", "image/png", "image/tiff", "image/bmp", "image/webp", "image/gif",
)


def detect_media_type(path: Path) -> str:
    """The document's media type from its first bytes; raises a ``PermanentError`` when unreadable."""
    with path.open("rb") as f:
        head = f.read(1024)
    if not head:
        raise EmptyFileError("the object has no bytes")
    if b"%PDF-" in head:
        return "application/pdf"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    for offset, signature, media_type in _SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return media_type
    raise UnsupportedTypeError(
        f"not a supported document type (first bytes {head[:8]!r}); supported: {', '.join(SUPPORTED_MEDIA_TYPES)}"
    )


class PageSource(Protocol):
    """A document's pages, rendered on demand into a work dir that the caller owns."""

    @property
    def page_count(self) -> int: ...

    def render(self, number: int, work_dir: Path) -> PageImage:
        """Write page ``number`` (1-based) into ``work_dir`` as an 8-bit image file."""
        ...

    def text_layer(self, number: int) -> str | None:
        """The page's own text when the document carries real text for it, else None."""
        ...

    def known_blank(self, number: int) -> bool:
        """Whether the document itself shows the page is blank, before it is rendered (False: not known)."""
        ...

    @property
    def flags(self) -> tuple[str, ...]:
        """What the document carries that a reader should know of (a PDF's JavaScript, an XFA form, an owner
        password), as names the output's ``flags`` lists."""
        ...


def open_pages(path: Path, media_type: str, dpi: int, max_page_pixels: int, max_pages: int = 100_000,
               use_text_layer: bool = True) -> PageSource:
    """The page source for a detected media type."""
    if media_type == "application/pdf":
        from s3ocr.pages.pdf import PdfPages

        return PdfPages(path, dpi=dpi, max_page_pixels=max_page_pixels, max_pages=max_pages,
                        use_text_layer=use_text_layer)
    from s3ocr.pages.images import ImagePages

    return ImagePages(path, max_page_pixels=max_page_pixels)


__all__ = ["SUPPORTED_MEDIA_TYPES", "PageSource", "detect_media_type", "open_pages"]
