"""The fuzzer's inputs: 16 small valid documents (PNG, JPEG, TIFF, GIF, BMP, WebP; born-digital, scanned, mixed,
rotated and blank PDFs) and nine seeded mutators of their bytes. A case is a function of ``(seed, index)`` alone.
"""

from __future__ import annotations

import functools
import io
import random
import re
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from s3ocr.bench.samples import DEJAVU

WORDS = ("Fuzzing the pipeline", "seed 42 quick fox")

# --- seeds: small valid documents (OCR stays cheap: 400 x 200 px, a few words) ---------------------------------


def _text_image(lines: Sequence[str] = WORDS) -> Any:
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (400, 200), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(DEJAVU / "DejaVuSans.ttf"), 30)
    for row, line in enumerate(lines):
        draw.text((16, 40 + 70 * row), line, fill=0, font=font)
    return image


def _saved(image: Any, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _pdf(objects: Sequence[bytes]) -> bytes:
    """A PDF of ``objects`` (object 1 the catalog, 2 the page tree), with its cross-reference table."""
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, obj)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d%s >>\nstream\n%s\nendstream" % (len(data), extra, data)


def _pages_pdf(pages: Sequence[tuple[bytes, bytes, bytes]]) -> bytes:
    """One page per (content stream, image XObject or b"", page box and rotation); the font is object 3."""
    kids = b" ".join(b"%d 0 R" % (4 + 3 * i) for i in range(len(pages)))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(pages)),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"]
    for i, (content, image, box) in enumerate(pages):
        n = 4 + 3 * i
        xobject = b" /XObject << /Im0 %d 0 R >>" % (n + 2) if image else b""
        objects += [b"<< /Type /Page /Parent 2 0 R %s /Contents %d 0 R /Resources << /Font << /F1 3 0 R >>%s >> >>"
                    % (box, n + 1, xobject), _stream(content), image or b"null"]
    return _pdf(objects)


def _image_xobject(image: Any, encoding: bytes) -> bytes:
    data = _saved(image, "JPEG", quality=80) if encoding == b"DCTDecode" else zlib.compress(image.tobytes())
    return _stream(data, b" /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
                         b"/BitsPerComponent 8 /Filter /%s" % (image.width, image.height, encoding))


# The text each seed must read as, unmutated: a word of it ("" for a document of blank pages).
SEED_WORDS = {"blank.pdf": "", "born-digital.pdf": "layer", "mixed.pdf": "Second", "text-on-picture.pdf": "picture"}


@functools.cache
def seed_documents() -> dict[str, bytes]:
    """The seeds by name, built the same way each time: every format the pipeline reads, and the ways into it (a
    text layer, text over a picture, a JPEG taken as it is, a rendered page, a rotated page, blank pages, EXIF
    orientation, transparency, 16 bits, several frames)."""
    from PIL import Image, ImageOps

    page, second = _text_image(), _text_image(("Second page here", "numbers 1234"))
    sideways = page.transpose(Image.Transpose.ROTATE_90)  # upright again on a page with /Rotate 90
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to show": a phone photo
    alpha = Image.new("RGBA", page.size, (0, 0, 0, 0))
    alpha.putalpha(ImageOps.invert(page))
    text = b"BT /F1 9 Tf 4 30 Td (Fuzzing the text layer) Tj 0 -14 Td (seed 42 quick fox) Tj ET"
    box = b"/MediaBox [0 0 96 48]"  # 400 x 200 px at 300 dpi
    seeds = {
        "text.png": _saved(page, "PNG", dpi=(300, 300)),
        "alpha.png": _saved(alpha, "PNG"),
        "gray16.png": _saved(Image.frombytes("I;16", page.size, bytes(b for v in page.tobytes() for b in (v, v))),
                             "PNG"),
        "text.jpg": _saved(page, "JPEG", quality=80),
        "exif.jpg": _saved(page.transpose(Image.Transpose.ROTATE_90), "JPEG", quality=80, exif=exif.tobytes()),
        "text.tif": _saved(page, "TIFF", compression="tiff_lzw", dpi=(300, 300)),
        "pages.tif": _saved(page.convert("1"), "TIFF", compression="group4", save_all=True,
                            append_images=[second.convert("1")]),
        "text.gif": _saved(page, "GIF"),
        "text.bmp": _saved(page, "BMP"),
        "text.webp": _saved(page, "WEBP", quality=80),
        "born-digital.pdf": _pages_pdf([(text, b"", box)]),
        "scan.pdf": _pages_pdf([(b"q 96 0 0 48 0 0 cm /Im0 Do Q", _image_xobject(page, b"DCTDecode"), box)]),
        "mixed.pdf": _pages_pdf([(text, b"", box),
                                 (b"q 96 0 0 48 0 0 cm /Im0 Do Q", _image_xobject(second, b"FlateDecode"), box)]),
        "rotated-scan.pdf": _pages_pdf([(b"q 48 0 0 96 0 0 cm /Im0 Do Q", _image_xobject(sideways, b"FlateDecode"),
                                         b"/MediaBox [0 0 48 96] /Rotate 90")]),
    }
    pale = Image.linear_gradient("L").resize((100, 50)).point(lambda v: 200 + v // 5)
    seeds["text-on-picture.pdf"] = _pages_pdf([(b"q 96 0 0 48 0 0 cm /Im0 Do Q BT /F1 9 Tf 4 20 Td (Text on a picture)"
                                                b" Tj ET", _image_xobject(pale, b"DCTDecode"), box)])
    seeds["blank.pdf"] = _pages_pdf([(b"", b"", box), (b"1 g 0 0 96 48 re f", b"", box)])
    return seeds


# --- mutators: (rng, data) -> (data, what was done), deterministic in the rng ------------------------------------

INTERESTING = (0, 1, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)
PDF_NUMBERS = (b"0", b"1", b"-1", b"2", b"255", b"65536", b"2147483647", b"-2147483648", b"4294967296", b"0.0001",
               b"99999999999999999999", b"14400", b"200000", b"3.5", b"-96")
# The numbers a PDF dictionary gives meaning to, and the arrays of page boxes (each of their numbers a target).
_PDF_KEYED = re.compile(rb"/(?:Length|Width|Height|Count|BitsPerComponent|Size|Rotate|N|Columns|Colors|Predictor)"
                        rb"\s+(-?[\d.]+)|/(?:MediaBox|CropBox)\s*(\[[-\d. ]*\])")
_PDF_ANY = re.compile(rb"(?<![\w/.#-])-?\d+(?:\.\d+)?")
PDF_TOKENS = (b"endstream", b"endobj", b"stream", b"obj", b"xref", b"trailer", b"startxref", b"/Root", b"/Pages",
              b"/Kids", b"/Type", b"/Page", b"/Contents", b"/Resources", b"/Filter", b"/FlateDecode", b"R", b"<<",
              b">>")
_PDF_TOKEN = re.compile(rb"endstream|endobj|startxref|stream|obj|xref|trailer|/[A-Za-z]+|<<|>>")
Mutator = Callable[[random.Random, bytes], tuple[bytes, str]]
Order = Literal["big", "little"]


def flip_bits(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """One to eight bits flipped anywhere."""
    out = bytearray(data)
    bits = [rng.randrange(len(out) * 8) for _ in range(rng.randint(1, 8))]
    for bit in bits:
        out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out), f"flip_bits {sorted(bits)}"


def interesting_bytes(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """One to four 1-, 2- or 4-byte runs overwritten with boundary values (0, 0x7f, 0x80, 0xffff, 2**31...)."""
    out, done = bytearray(data), []
    for _ in range(rng.randint(1, 4)):
        width = rng.choice((1, 2, 4))
        value = rng.choice(INTERESTING) & ((1 << (8 * width)) - 1)
        at = rng.randrange(max(1, len(out) - width))
        out[at : at + width] = value.to_bytes(width, rng.choice(("big", "little")))
        done.append(f"{at}={value:#x}/{width}")
    return bytes(out[: len(data)]), f"interesting_bytes {' '.join(done)}"


def duplicate_chunk(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """A chunk of up to 4 KiB copied in at another offset."""
    start = rng.randrange(len(data))
    size = rng.randint(1, min(4096, len(data) - start))
    at = rng.randrange(len(data) + 1)
    return data[:at] + data[start : start + size] + data[at:], f"duplicate_chunk {start}+{size}@{at}"


def delete_chunk(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """A chunk of up to 4 KiB cut out."""
    start = rng.randrange(len(data))
    size = rng.randint(1, max(1, min(4096, (len(data) - start) // 2 or 1)))
    return data[:start] + data[start + size :], f"delete_chunk {start}+{size}"


def truncate(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """The document cut at a random offset: at least one byte kept, at least one lost."""
    at = rng.randrange(1, len(data)) if len(data) > 1 else 0
    return data[:at], f"truncate {at}/{len(data)}"


def header_garbage(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """The first 8 to 128 bytes kept (the magic bytes and header), random bytes after them."""
    keep = min(len(data), rng.choice((8, 16, 32, 64, 128)))
    size = rng.choice((len(data) - keep, rng.randrange(4096)))
    return data[:keep] + rng.randbytes(max(0, size)), f"header_garbage keep={keep} random={size}"


def swap_token(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """A PDF keyword or name removed or swapped for another (``endstream``, ``/Root``, ``<<``...)."""
    spots = [match.span() for match in _PDF_TOKEN.finditer(data)]
    if not spots:
        return delete_chunk(rng, data)
    start, end = rng.choice(spots)
    new = rng.choice((b"", *PDF_TOKENS))
    return data[:start] + new + data[end:], f"swap_token {data[start:end].decode()}->{new.decode() or '-'}@{start}"


def splice(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """The head of this document, the tail of another seed (a PDF header before a PNG, a JPEG after a PDF...)."""
    seeds = seed_documents()
    name = rng.choice(sorted(seeds))
    at, tail = rng.randrange(len(data) + 1), rng.randrange(len(seeds[name]))
    return data[:at] + seeds[name][tail:], f"splice {at} + {name}[{tail}:]"


def change_number(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """A number the format gives meaning to: a PDF dictionary value, MediaBox or any PDF number; a PNG, JPEG,
    BMP or GIF header's width, height or depth (PNG's CRC made right again); a TIFF tag's value."""
    if b"%PDF-" in data[:1024]:
        keyed = [span for match in _PDF_KEYED.finditer(data) for span in _number_spans(match)]
        numbers = keyed if keyed and rng.random() < 0.7 else [match.span() for match in _PDF_ANY.finditer(data)]
        if not numbers:
            return interesting_bytes(rng, data)
        start, end = rng.choice(numbers)
        number = rng.choice(PDF_NUMBERS)
        what = f"change_number pdf {data[start:end].decode()}->{number.decode()}@{start}"
        return data[:start] + number + data[end:], what
    fields = _image_fields(data)
    if not fields:
        return interesting_bytes(rng, data)
    name, at, width, order = rng.choice(fields)
    value = rng.choice(INTERESTING) & ((1 << (8 * width)) - 1)
    out = bytearray(data)
    out[at : at + width] = value.to_bytes(width, order)
    if data.startswith(b"\x89PNG") and at < 29:
        out[29:33] = struct.pack(">I", zlib.crc32(bytes(out[12:29])))
    return bytes(out), f"change_number {name}@{at}={value:#x}"


def _number_spans(match: re.Match[bytes]) -> list[tuple[int, int]]:
    if match.group(1) is not None:
        return [match.span(1)]
    offset = match.start(2)
    return [(offset + m.start(), offset + m.end()) for m in re.finditer(rb"-?[\d.]+", match.group(2))]


def _image_fields(data: bytes) -> list[tuple[str, int, int, Order]]:
    """(name, offset, width, byte order) of the header numbers of a PNG, JPEG, BMP, GIF or TIFF."""
    if data.startswith(b"\x89PNG") and len(data) >= 33:
        return [("width", 16, 4, "big"), ("height", 20, 4, "big"), ("depth", 24, 1, "big"), ("color", 25, 1, "big"),
                ("interlace", 28, 1, "big")]
    if data.startswith(b"\xff\xd8"):
        sof = re.search(rb"\xff[\xc0-\xc2]", data)
        return [("height", sof.start() + 5, 2, "big"), ("width", sof.start() + 7, 2, "big"),
                ("components", sof.start() + 9, 1, "big")] if sof and sof.start() + 10 < len(data) else []
    if data.startswith(b"BM") and len(data) >= 30:
        return [("width", 18, 4, "little"), ("height", 22, 4, "little"), ("bpp", 28, 2, "little")]
    if data.startswith(b"GIF") and len(data) >= 10:
        return [("width", 6, 2, "little"), ("height", 8, 2, "little")]
    if data[:4] in (b"II*\x00", b"MM\x00*") and len(data) >= 8:
        order: Order = "little" if data[:2] == b"II" else "big"
        ifd = int.from_bytes(data[4:8], order)
        if ifd + 2 > len(data):
            return []
        count = int.from_bytes(data[ifd : ifd + 2], order)
        entries = range(ifd + 2, min(len(data) - 12, ifd + 2 + 12 * count), 12)
        return [(f"tag{int.from_bytes(data[e:e + 2], order)}", e + 8, 4, order) for e in entries]
    return []


MUTATORS: dict[str, Mutator] = {
    "flip_bits": flip_bits, "interesting_bytes": interesting_bytes, "duplicate_chunk": duplicate_chunk,
    "delete_chunk": delete_chunk, "truncate": truncate, "header_garbage": header_garbage,
    "change_number": change_number, "swap_token": swap_token, "splice": splice,
}


@dataclass(frozen=True)
class Case:
    """One input of the run: its bytes and how they were made."""

    index: int
    seed_name: str
    data: bytes
    mutations: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"case-{self.index:05d}-{self.seed_name}"


def make_case(seed: int, index: int) -> Case:
    """Case ``index`` of the run ``seed``: the seeds themselves first, then one to three mutations of one."""
    seeds = seed_documents()
    names = sorted(seeds)
    if index < len(names):
        return Case(index, names[index], seeds[names[index]])
    rng = random.Random(f"s3ocr-fuzz/{seed}/{index}")
    name = rng.choice(names)
    data, done = seeds[name], []
    for mutator in rng.choices(list(MUTATORS), k=rng.choice((1, 1, 1, 2, 2, 3))):
        if data:
            data, what = MUTATORS[mutator](rng, data)
            done.append(what)
    return Case(index, name, data, tuple(done))
