"""Tiny born-digital PDFs for tests: text in the standard Helvetica font, no dependencies."""

from __future__ import annotations

import subprocess
from pathlib import Path

from PIL import Image


def text_pdf(path: Path, lines: list[str], size: int = 12) -> Path:
    """A one-page US-letter PDF showing ``lines`` (ASCII) in Helvetica."""
    body = "\n".join(f"BT /F1 {size} Tf 72 {720 - i * (size + 6)} Td ({_escape(line)}) Tj ET"
                     for i, line in enumerate(lines))
    stream = body.encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def scan_pdf(path: Path, image: Path, dpi: int = 300) -> Path:
    """A one-page PDF holding ``image`` as a scan (no text)."""
    with Image.open(image) as picture:
        picture.convert("L").save(path, "PDF", resolution=dpi)
    return path


def unite(path: Path, *parts: Path) -> Path:
    subprocess.run(["pdfunite", *map(str, parts), str(path)], check=True)
    return path


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
