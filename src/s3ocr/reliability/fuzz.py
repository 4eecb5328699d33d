"""Fuzzing the document path: seeded byte mutations and truncations of small valid PDFs and images, each read
by ``process_local_file`` into a ``LocalSink`` as the CLI (and, from S3, the Lambda) reads a document.

A case is a function of ``(seed, index)`` alone: the first cases are the seeds themselves (controls that must read
``ok`` with their words), the rest one to three mutations of a seed. Each case runs in its own forked process
(its own process group), so a crash, a hang or the memory of one case is that case's alone. Invariants: no
exception escapes; exactly one terminal record (``.txt`` + ``.json``, or ``.error.json``) with valid JSON whose
statuses agree (no ``ok`` page without text); the work dir is left empty; the time and the memory stay under caps.

Memory is the case process's peak RSS (``VmHWM``: the pipeline's Python process with its imports) plus the peak
of its largest child process (``RUSAGE_CHILDREN``: the Tesseract worker, pdftoppm, pdfinfo...), exact when one
child works at a time, as with one page worker. ``python -m s3ocr.reliability.fuzz --cases N --seed S``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import multiprocessing
import os
import random
import re
import resource
import select
import shutil
import signal
import struct
import sys
import tempfile
import time
import traceback
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from s3ocr.errors import PermanentError

MAX_SECONDS = 60.0  # per case: every seed is one or two small pages of a few words
MAX_RSS_MB = 1536.0  # per case: half of the function's 3008 MB (it reads two pages at once)
HARD_LIMIT_S = 300.0  # a case still running then is killed: a hang (an escape)
WORDS = ("Fuzzing the pipeline", "seed 42 quick fox")
PROBLEM_KINDS = ("escape", "lost", "invalid", "slow", "memory", "leftover")
PAGE_STATUSES = {"ok", "empty", "no_text_found", "failed"}

# --- seeds: small valid documents (OCR stays cheap: 400 x 200 px, a few words) ---------------------------------


def _text_image(lines: Sequence[str] = WORDS) -> Any:
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (400, 200), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 30)
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


# --- one case: run in a forked process, then judged by what it left in its output folder ------------------------


@dataclass(frozen=True)
class CaseOutcome:
    """What one case came to, the invariants it broke, and what it took."""

    index: int
    seed_name: str
    mutations: tuple[str, ...]
    outcome: str  # "ok" | "partial" | a failure's reason code | "escape" | "crashed" | "hung"
    problems: tuple[str, ...] = ()  # "kind: detail", kind one of PROBLEM_KINDS
    seconds: float = 0.0
    rss_mb: float = 0.0
    detail: str = ""  # the traceback of an escape

    def kinds(self) -> set[str]:
        return {problem.split(":", 1)[0] for problem in self.problems}


def _permanent_reasons() -> set[str]:
    classes, reasons = [PermanentError], set()
    while classes:
        cls = classes.pop()
        reasons.add(cls.reason)
        classes += cls.__subclasses__()
    return reasons


@dataclass(frozen=True)
class Caps:
    """Per case: the time and memory it may take, and when it is killed as hung."""

    seconds: float = MAX_SECONDS
    rss_mb: float = MAX_RSS_MB
    hard_limit: float = HARD_LIMIT_S


def judge(case: Case, out_dir: Path, work_dir: Path, escaped: str = "", seconds: float = 0.0, rss_mb: float = 0.0,
          caps: Caps = Caps()) -> CaseOutcome:
    """The case's outcome and the invariants it broke, from what the run left behind."""
    problems, outcome, detail = [], "escape" if escaped else "", escaped
    if escaped:
        problems.append(f"escape: {escaped.strip().splitlines()[-1]}")
    names = sorted(p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*") if p.is_file())
    success, failure = {case.key + ".txt", case.key + ".json"}, case.key + ".error.json"
    if set(names) == success:
        read, said = _check_result(out_dir / (case.key + ".json"), out_dir / (case.key + ".txt"), problems)
    elif names == [failure]:
        read, said = _check_failure(out_dir / failure, problems)
    else:
        read, said = "", ""
        problems.append(f"lost: {len(names)} outputs {names} instead of one terminal record")
    outcome, detail = outcome or read or "invalid", detail or said
    if not case.mutations and not problems:  # a seed as it is: a control of the fuzz itself
        word = SEED_WORDS.get(case.seed_name, "quick")
        text = (out_dir / (case.key + ".txt")).read_text() if outcome == "ok" else ""
        if outcome != "ok" or word not in text or (not word and text.strip()):
            problems.append(f"invalid: the seed reads {outcome} {text[:60]!r}, not ok with {word!r}")
    if work_dir.exists() and any(work_dir.iterdir()):
        problems.append(f"leftover: {sorted(p.name for p in work_dir.iterdir())} in the work dir")
    if seconds > caps.seconds:
        problems.append(f"slow: {seconds:.1f} s > {caps.seconds:g} s")
    if rss_mb > caps.rss_mb:
        problems.append(f"memory: {rss_mb:.0f} MB > {caps.rss_mb:g} MB")
    return CaseOutcome(case.index, case.seed_name, case.mutations, outcome, tuple(problems), round(seconds, 3),
                       round(rss_mb, 1), detail)


def _load(path: Path, problems: list[str]) -> dict[str, Any] | None:
    try:
        document = json.loads(path.read_bytes())
    except (ValueError, OSError) as e:
        problems.append(f"invalid: {path.name} is not JSON ({e})")
        return None
    if not isinstance(document, dict):
        problems.append(f"invalid: {path.name} holds {type(document).__name__}, not an object")
        return None
    return document


def _check_failure(path: Path, problems: list[str]) -> tuple[str, str]:
    """(reason, message) of an error record."""
    document = _load(path, problems)
    if document is None:
        return "", ""
    reason = document.get("reason")
    if document.get("status") != "failed" or reason not in _permanent_reasons():
        problems.append(f"invalid: error record status={document.get('status')!r} reason={reason!r}")
    return str(reason), str(document.get("message"))


def _check_result(json_path: Path, text_path: Path, problems: list[str]) -> tuple[str, str]:
    """(status, the reasons of its failed pages) of a reading."""
    document = _load(json_path, problems)
    if document is None:
        return "", ""
    status, pages = document.get("status"), document.get("pages") or []
    statuses = [page.get("status") for page in pages]
    unread = [s for s in statuses if s in ("failed", "no_text_found")]
    texts = [page.get("text") or "" for page in pages]
    broken = [
        (not pages, "a success without pages"),
        (status not in ("ok", "partial"), f"document status {status!r}"),
        (not set(statuses) <= PAGE_STATUSES, f"page statuses {statuses}"),
        (any(s == "ok" and not t.strip() for s, t in zip(statuses, texts, strict=True)), "an ok page without text"),
        (status == "ok" and bool(unread or document.get("truncated")), f"ok with pages {statuses}"),
        (status == "partial" and not (unread or document.get("truncated")), f"partial with pages {statuses}"),
        (bool(pages) and statuses.count("failed") == len(pages), "a success where every page failed"),
        (document.get("pages_processed") != len(pages), "pages_processed is not the number of pages"),
        (text_path.read_bytes() != "\f".join(texts).encode(), "the .txt is not the pages' text"),
    ]
    problems += [f"invalid: {what}" for bad, what in broken if bad]
    return str(status), " ".join(f"page {p.get('number')}: {p['error'].get('reason')}" for p in pages if p.get("error"))


def _peak_rss_mb() -> float:
    with open("/proc/self/status") as status:
        own = next((int(line.split()[1]) for line in status if line.startswith("VmHWM:")), 0)
    return (own + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024


class _Runner:
    """Runs cases in a worker process: settings, engine and imports built once, each case in a fork of it."""

    def __init__(self, root: Path, caps: Caps, page_workers: int) -> None:
        import cv2  # noqa: F401  (loaded once, before the forks, as in a warm function)

        from s3ocr import page, pagesplit, plan, preprocess  # noqa: F401
        from s3ocr.engines.tesseract import tesseract_version
        from s3ocr.pages import images, pdf  # noqa: F401
        from s3ocr.routing import EngineChooser
        from s3ocr.settings import Settings

        self.root, self.caps = root, caps
        # The defaults but for the engine and language (cheap) and the page workers: two cases already run at once.
        self.settings = Settings(engine="tesseract", languages="eng", workers=page_workers, work_dir=root / "work")
        self.engine = EngineChooser(self.settings).default
        tesseract_version()
        seed_documents()

    def run(self, case: Case) -> CaseOutcome:
        folder = Path(tempfile.mkdtemp(prefix=f"{case.index:05d}-", dir=self.root))
        source, out_dir = folder / "in" / case.key, folder / "out"
        source.parent.mkdir()
        out_dir.mkdir()
        source.write_bytes(case.data)
        settings = replace(self.settings, work_dir=folder / "work")
        read, write = os.pipe()
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:  # the case process: reports on the pipe and never returns into the pool's code
            code = 4
            try:
                os.close(read)
                os.setpgid(0, 0)
                os.dup2(os.open(folder / "stderr", os.O_WRONLY | os.O_CREAT, 0o600), 2)  # libjpeg's and Poppler's
                code = _run_in_child(source, case.key, out_dir, settings, self.engine, write)
            finally:
                os._exit(code)
        os.close(write)
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)  # as the case process does itself: whichever comes first
        report, hung = _read_report(read, pid, started + self.caps.hard_limit)
        _, status, _ = os.wait4(pid, 0)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)  # whatever the case started and left behind
        cause = "" if report is not None else "hung" if hung else "crashed"
        if report is None:
            what = f"killed after {self.caps.hard_limit:g} s" if hung else f"the case process died ({_status(status)})"
            stderr = (folder / "stderr").read_bytes()[-2000:].decode(errors="replace")
            what = f"{stderr}\n{what}" if stderr.strip() else what
            report = {"escaped": what, "seconds": time.monotonic() - started, "rss_mb": 0.0}
        outcome = judge(case, out_dir, folder / "work", report["escaped"], report["seconds"], report["rss_mb"],
                        self.caps)
        shutil.rmtree(folder, ignore_errors=True)  # a case is made again from (seed, index) to look at it
        return replace(outcome, outcome=cause) if cause else outcome


def _run_in_child(source: Path, key: str, out_dir: Path, settings: Any, engine: Any, pipe: int) -> int:
    from s3ocr.engines.tesseract_pool import POOL
    from s3ocr.models import DocumentRef
    from s3ocr.pipeline import process_local_file
    from s3ocr.sinks.local import LocalSink

    started, escaped = time.perf_counter(), ""
    try:
        process_local_file(source, DocumentRef("", key, size=len(source.read_bytes())), settings, engine,
                           LocalSink(out_dir))
    except BaseException:
        escaped = traceback.format_exc()
    seconds = time.perf_counter() - started
    try:
        POOL.close()  # the Tesseract workers are reaped, so their peak counts in RUSAGE_CHILDREN
        report = {"escaped": escaped, "seconds": seconds, "rss_mb": _peak_rss_mb()}
        with os.fdopen(pipe, "wb") as out:
            out.write(json.dumps(report).encode())
        return 0
    except BaseException:
        return 3


def _read_report(fd: int, pid: int, deadline: float) -> tuple[dict[str, Any] | None, bool]:
    chunks = []
    with os.fdopen(fd, "rb", buffering=0) as pipe:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([pipe], [], [], left)[0]:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                return None, True
            chunk = pipe.read(65536)
            if not chunk:
                break
            chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks)), False
    except ValueError:
        return None, False


def _status(status: int) -> str:
    return f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"exit {os.WEXITSTATUS(status)}"


# --- the run ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KnownFinding:
    """A bug the fuzzer found in core code, reported with its case and a proposed fix, awaiting that fix: the
    cases it matches are counted and shown, and do not fail the run. Remove it with the fix."""

    name: str
    example: tuple[int, int]  # (seed, index) of a case that shows it
    matches: Callable[[CaseOutcome], bool]


KNOWN_FINDINGS: tuple[KnownFinding, ...] = (
    # Found by this fuzzer and fixed: Pillow's TIFF reader raising TypeError / KeyError (seed 1 case 63; now
    # corrupt_document, pages/images.PILLOW_ERRORS), and PDF images declaring 2**31 pixels (seed 9 case 1133; now
    # decompression_bomb before pdftoppm runs, pages/pdf.PdfPages.render).
)


def known_finding(outcome: CaseOutcome) -> str | None:
    """The name of the known finding a case that broke an invariant shows, if any."""
    return next((finding.name for finding in KNOWN_FINDINGS if finding.matches(outcome)), None)


@dataclass
class FuzzSummary:
    """Counts over a run: outcomes, cases by broken invariant (known findings included) and the maxima."""

    seed: int
    caps: Caps = Caps()
    workers: int = 2
    cases: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    problems: Counter[str] = field(default_factory=Counter)
    known: Counter[str] = field(default_factory=Counter)
    known_first: dict[str, int] = field(default_factory=dict)  # the first case of each known finding in the run
    failures: list[CaseOutcome] = field(default_factory=list)  # broke an invariant, no known finding
    max_rss_mb: float = 0.0
    max_seconds: float = 0.0
    max_rss_mb_unknown: float = 0.0  # over the cases of no known finding
    max_seconds_unknown: float = 0.0
    wall_seconds: float = 0.0

    def add(self, outcome: CaseOutcome) -> None:
        self.cases += 1
        self.outcomes[outcome.outcome] += 1
        self.problems.update(outcome.kinds())
        self.max_rss_mb, self.max_seconds = max(self.max_rss_mb, outcome.rss_mb), max(self.max_seconds, outcome.seconds)
        finding = known_finding(outcome) if outcome.problems else None
        if finding:
            self.known[finding] += 1
            self.known_first[finding] = min(outcome.index, self.known_first.get(finding, outcome.index))
            return
        self.max_rss_mb_unknown = max(self.max_rss_mb_unknown, outcome.rss_mb)
        self.max_seconds_unknown = max(self.max_seconds_unknown, outcome.seconds)
        if outcome.problems:
            self.failures.append(outcome)

    @property
    def escapes(self) -> int:
        return self.problems["escape"]

    @property
    def lost(self) -> int:
        return self.problems["lost"]

    @property
    def passed(self) -> bool:
        """Every case kept every invariant, but for the cases of known findings."""
        return not self.failures

    @property
    def clean(self) -> bool:
        """Every case kept every invariant, known findings included: the line shows the zeros it promises."""
        return not self.problems

    def line(self) -> str:
        return (f"fuzz: {self.cases} cases \u2192 {self.escapes} escapes, {self.lost} lost, "
                f"max RSS {self.max_rss_mb:.0f} MB, max {self.max_seconds:.1f} s")

    def lines(self) -> list[str]:
        outcomes = ", ".join(f"{name} {count}" for name, count in self.outcomes.most_common())
        other = ", ".join(f"{kind} {self.problems[kind]}" for kind in PROBLEM_KINDS[2:])
        lines = [self.line(), f"  outcomes: {outcomes}",
                 f"  caps {self.caps.rss_mb:g} MB, {self.caps.seconds:g} s a case; {other}; "
                 f"seed {self.seed}, {self.wall_seconds:.0f} s with {self.workers} workers"]
        if self.known:
            known = ", ".join(f"{name} {count} (first: case {self.known_first[name]})"
                              for name, count in sorted(self.known.items()))
            lines.append(f"  known findings (core bugs awaiting their fix): {known}; the other cases: "
                         f"max RSS {self.max_rss_mb_unknown:.0f} MB, max {self.max_seconds_unknown:.1f} s")
        for failure in self.failures[:20]:
            how = "; ".join(failure.mutations) or "unmutated"
            lines.append(f"  case {failure.index} ({failure.seed_name}; {how}): {' | '.join(failure.problems)}")
        return lines


_RUNNER: _Runner | None = None


def _start_worker(root: str, caps: Caps, page_workers: int) -> None:
    global _RUNNER
    _RUNNER = _Runner(Path(root), caps, page_workers)


def _run_one(task: tuple[int, int]) -> CaseOutcome:
    assert _RUNNER is not None
    return _RUNNER.run(make_case(*task))


def run_outcomes(tasks: Sequence[tuple[int, int]], workers: int = 2, caps: Caps = Caps(),
                 page_workers: int = 1) -> Iterator[CaseOutcome]:
    """The outcomes of cases ``(seed, index)``, as they finish, from ``workers`` processes."""
    with tempfile.TemporaryDirectory(prefix="s3ocr-fuzz-") as root:
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: nothing inherited from the caller
        with context.Pool(workers, _start_worker, (root, caps, page_workers)) as pool:
            yield from pool.imap_unordered(_run_one, tasks)


def run(cases: int, seed: int, workers: int = 2, caps: Caps = Caps(), page_workers: int = 1,
        progress: Callable[[FuzzSummary], None] | None = None) -> FuzzSummary:
    """Run cases ``0..cases-1`` of run ``seed``, ``workers`` at a time, each with ``page_workers`` page workers."""
    summary, started = FuzzSummary(seed, caps, workers), time.monotonic()
    for outcome in run_outcomes([(seed, index) for index in range(cases)], workers, caps, page_workers):
        summary.add(outcome)
        summary.wall_seconds = time.monotonic() - started
        if progress is not None:
            progress(summary)
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m s3ocr.reliability.fuzz", description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="cases at once (default 2)")
    parser.add_argument("--max-seconds", type=float, default=MAX_SECONDS, help="time cap per case")
    parser.add_argument("--max-rss-mb", type=float, default=MAX_RSS_MB, help="memory cap per case")
    parser.add_argument("--strict", action="store_true", help="fail on the cases of known findings too")
    parser.add_argument("--save", type=int, metavar="INDEX", help="write case INDEX's bytes into --to, say how made")
    parser.add_argument("--to", type=Path, default=Path("."))
    args = parser.parse_args(argv)
    if args.save is not None:
        case = make_case(args.seed, args.save)
        path = args.to / case.key
        path.write_bytes(case.data)
        print(f"{path}: {case.seed_name}; {'; '.join(case.mutations) or 'unmutated'}")
        return 0

    def progress(summary: FuzzSummary) -> None:
        if summary.cases % 250 == 0:
            print(f"  {summary.cases}/{args.cases} cases, {summary.wall_seconds:.0f} s, "
                  f"{len(summary.failures)} broke an invariant ({sum(summary.known.values())} more: known findings)",
                  file=sys.stderr, flush=True)

    caps = Caps(args.max_seconds, args.max_rss_mb)
    summary = run(args.cases, args.seed, args.workers, caps, progress=progress)
    print("\n".join(summary.lines()))
    return 0 if summary.clean or (summary.passed and not args.strict) else 1


if __name__ == "__main__":
    sys.exit(main())
