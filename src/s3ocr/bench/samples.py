"""Benchmark inputs built from the evaluation corpus: a multi-page scanned PDF, a born-digital PDF, a
mixed PDF and one large image. Written once into a cache folder; nothing here runs in the pipeline."""

from __future__ import annotations

import subprocess
from pathlib import Path

from PIL import Image


def text_pdf(path: Path, pages: list[list[str]], size: int = 11) -> Path:
    """A born-digital PDF: one US-letter page per list of ASCII lines, in the standard Helvetica font."""
    count = len(pages)
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(count)).encode()
    objects.append(b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % count)
    font_ref = 3 + 2 * count
    for i, lines in enumerate(pages):
        body = "\n".join(
            f"BT /F1 {size} Tf 72 {740 - j * (size + 5)} Td ({_escape(line)}) Tj ET" for j, line in enumerate(lines)
        )
        stream = body.encode("latin-1", errors="replace")
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (4 + 2 * i, font_ref)
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
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


def scan_pdf(path: Path, images: list[Path], dpi: int = 300, quality: int = 85) -> Path:
    """A scanned PDF: each image as a grayscale JPEG page at ``dpi`` (what office scanners produce)."""
    frames = [Image.open(image).convert("L") for image in images]
    frames[0].save(path, "PDF", resolution=dpi, save_all=True, append_images=frames[1:], quality=quality)
    return path


def unite(path: Path, *parts: Path) -> Path:
    subprocess.run(["pdfunite", *map(str, parts), str(path)], check=True)
    return path


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _wrap(text: str, width: int = 95) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines():
        words, line = paragraph.split(), ""
        for word in words:
            if len(line) + len(word) + 1 > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}".strip()
        lines.append(line)
    return lines


def long_scan(out: Path, pages: int, text_image: Path) -> Path:
    """A ``pages``-page scanned PDF of full A4 pages at 300 DPI, each with a few lines of text: for memory
    and /tmp measurements, where the page count matters and the OCR time should not dominate."""
    path = out / f"scan-{pages}p.pdf"
    if path.exists():
        return path
    page = Image.new("L", (2481, 3507), 255)
    with Image.open(text_image) as text:
        page.paste(text.convert("L").crop((0, 250, min(text.width, 2300), min(text.height, 950))), (100, 250))
    single = out / "scan-1p.pdf"
    page.save(single, "PDF", resolution=300, quality=85)
    unite(path, *([single] * pages))
    return path


def build_samples(corpus: Path, out: Path) -> dict[str, Path]:
    """The four benchmark inputs, made from ``corpus`` (``../shared/corpus/generated``) into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    kinds = ("clean", "noise", "shadow", "phone")
    scans = [corpus / f"{lang}-f0-{kind}.png" for kind in kinds for lang in ("en", "zh")]
    english = " ".join((corpus / f"en-f0-{kind}.gt.txt").read_text() for kind in kinds)
    lines = [line.encode("ascii", "replace").decode() for line in _wrap(english)]
    text_pages = [lines[i : i + 45] for i in range(0, min(len(lines), 45 * 8), 45)]
    samples = {
        "scan-8p.pdf": out / "scan-8p.pdf",
        "digital.pdf": out / "digital.pdf",
        "mixed.pdf": out / "mixed.pdf",
        "large.png": out / "large.png",
    }
    if all(path.exists() for path in samples.values()):
        return samples
    scan_pdf(samples["scan-8p.pdf"], scans)
    text_pdf(samples["digital.pdf"], text_pages)
    scan_pdf(out / "scan-2p.pdf", scans[:2])
    unite(samples["mixed.pdf"], samples["digital.pdf"], out / "scan-2p.pdf")
    with Image.open(corpus / "en-f0-clean.png") as page:  # an A4 page photographed at 600 DPI
        page.convert("L").resize((page.width * 2, page.height * 2), Image.Resampling.LANCZOS).save(
            samples["large.png"], dpi=(600, 600)
        )
    return samples
