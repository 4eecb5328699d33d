"""The type comes from the bytes, never from the name."""

from __future__ import annotations

import pytest

from s3ocr.errors import EmptyFileError, UnsupportedTypeError
from s3ocr.pages import detect_media_type


@pytest.mark.parametrize(
    ("head", "media_type"),
    [
        (b"%PDF-1.7\n", "application/pdf"),
        (b"\x00\x00junk before the header %PDF-1.4", "application/pdf"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"),
        (b"II*\x00\x08\x00", "image/tiff"),
        (b"MM\x00*\x00\x08", "image/tiff"),
        (b"BM6\x00\x00", "image/bmp"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
    ],
)
def test_magic_bytes(tmp_path, head, media_type):
    path = tmp_path / "document.bin"
    path.write_bytes(head + b"\x00" * 32)
    assert detect_media_type(path) == media_type


def test_png_named_pdf_is_a_png(tmp_path, resources):
    path = tmp_path / "scan.pdf"
    path.write_bytes((resources / "linn.png").read_bytes())
    assert detect_media_type(path) == "image/png"


def test_random_bytes_named_pdf_are_unsupported(tmp_path):
    path = tmp_path / "random.pdf"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(UnsupportedTypeError):
        detect_media_type(path)


def test_zero_bytes_is_empty(tmp_path):
    path = tmp_path / "empty.pdf"
    path.write_bytes(b"")
    with pytest.raises(EmptyFileError):
        detect_media_type(path)
