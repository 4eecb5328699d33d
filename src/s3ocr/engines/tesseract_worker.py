"""A long-lived Tesseract process: the models are loaded once, then pages are read through the C API.

Started by ``TesseractEngine`` (``python -m s3ocr.engines.tesseract_worker [LANGUAGES]``), one per page read
at once; given ``LANGUAGES`` it loads their models before greeting. Running
``tesseract`` once per page loads the language models every time (0.08 s of CPU for ``eng``, 0.2 s for
``chi_sim+eng``, before the first pixel is read); this process pays that once and then, under Lambda, for as
long as the execution environment stays warm. It stays a separate process, as ``tesseract`` was: a crash
or a hang in native code costs one page, never the function, and a page that overruns its budget is
stopped by killing the process.

It does what the ``tesseract`` command does for ``tesseract IMAGE OUT -l LANG --psm N --dpi D txt tsv``:
read the file into a Leptonica image, set ``user_defined_dpi``, recognise, and return ``GetUTF8Text`` and
``GetTSVText``; the page's text is the same. The pages s3ocr writes are binary PGM (``P5``), which Leptonica's
``pixRead`` reads a byte at a time (80 ms for 8.5 megapixels, 3 % of the magazine page's reading); this process copies
their rows into the image itself (``pix_from_pgm``, 8 ms) and leaves every other file to ``pixRead``.

Protocol on stdin/stdout: a 4-byte big-endian length, then that many bytes of UTF-8 JSON, each way.
Request ``{"path", "languages", "psm", "dpi", "timeout_ms"}``; reply ``{"text", "tsv"}`` or
``{"error", "kind"}`` with kind ``timeout`` (the deadline stopped recognition), ``unreadable`` (no image
in the file), ``languages`` (models missing) or ``failed``. Standard library only: it starts in ~30 ms.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import struct
import sys
from array import array
from typing import Any, BinaryIO

HEADER = struct.Struct(">I")
# The header row `tesseract ... tsv` writes (its TSV renderer adds it; GetTSVText gives the rows only).
TSV_COLUMNS = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"
_P = ctypes.c_void_p
_INT = ctypes.c_int
_STR = ctypes.c_char_p


class WorkerError(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _bind(lib: ctypes.CDLL, name: str, restype: Any, *argtypes: Any) -> Any:
    function = getattr(lib, name)
    function.restype = restype
    function.argtypes = list(argtypes)
    return function


class TesseractApi:
    """The few C API calls a page needs (tesseract/capi.h, leptonica/allheaders.h)."""

    def __init__(self, tesseract: str = "libtesseract.so.5", leptonica: str = "liblept.so.5") -> None:
        tess = ctypes.CDLL(tesseract)
        lept = ctypes.CDLL(leptonica)
        self.version = _bind(tess, "TessVersion", _STR)
        self.create = _bind(tess, "TessBaseAPICreate", _P)
        self.init = _bind(tess, "TessBaseAPIInit3", _INT, _P, _STR, _STR)
        self.set_psm = _bind(tess, "TessBaseAPISetPageSegMode", None, _P, _INT)
        self.set_variable = _bind(tess, "TessBaseAPISetVariable", _INT, _P, _STR, _STR)
        self.set_image = _bind(tess, "TessBaseAPISetImage2", None, _P, _P)
        self.recognize = _bind(tess, "TessBaseAPIRecognize", _INT, _P, _P)
        self.utf8_text = _bind(tess, "TessBaseAPIGetUTF8Text", _P, _P)
        self.tsv_text = _bind(tess, "TessBaseAPIGetTsvText", _P, _P, _INT)
        self.delete_text = _bind(tess, "TessDeleteText", None, _P)
        self.clear = _bind(tess, "TessBaseAPIClear", None, _P)
        self.end = _bind(tess, "TessBaseAPIEnd", None, _P)
        self.monitor_create = _bind(tess, "TessMonitorCreate", _P)
        self.monitor_delete = _bind(tess, "TessMonitorDelete", None, _P)
        self.monitor_deadline = _bind(tess, "TessMonitorSetDeadlineMSecs", None, _P, _INT)
        self.pix_read = _bind(lept, "pixRead", _P, _STR)
        self.pix_create = _bind(lept, "pixCreateNoInit", _P, _INT, _INT, _INT)
        self.pix_data = _bind(lept, "pixGetData", _P, _P)
        self.pix_wpl = _bind(lept, "pixGetWpl", _INT, _P)
        # glibc keeps the freed page buffers for reuse; handing them back keeps an idle worker at the size
        # of its models (a process per page never had to care).
        libc = ctypes.CDLL(None)
        self.malloc_trim = _bind(libc, "malloc_trim", _INT, ctypes.c_size_t) if hasattr(libc, "malloc_trim") else None
        self.pix_destroy = _bind(lept, "pixDestroy", None, ctypes.POINTER(_P))


def pgm_raster(data: bytes) -> tuple[int, int, int] | None:
    """``(width, height, offset of the first pixel)`` of a binary 8-bit PGM (``P5``, maxval 255, whole); None
    for anything else."""
    if data[:2] != b"P5":
        return None
    fields: list[int] = []
    at = 2
    while len(fields) < 3:
        while at < len(data) and data[at] in b" \t\r\n":
            at += 1
        if data[at:at + 1] == b"#":  # a comment runs to the end of its line
            while at < len(data) and data[at] not in b"\r\n":
                at += 1
            continue
        start = at
        while at < len(data) and 48 <= data[at] <= 57:
            at += 1
        if at == start:
            return None
        fields.append(int(data[start:at]))
    width, height, maxval = fields
    at += 1  # the single whitespace character after maxval
    if maxval != 255 or width <= 0 or height <= 0 or len(data) - at < width * height:
        return None
    return width, height, at


def pix_from_pgm(api: TesseractApi, path: str) -> int | None:
    """A Leptonica image of the binary PGM at ``path``, or None when it is not one (``pgm_raster``).

    Leptonica keeps 8-bit pixels in 32-bit words, each row padded to whole words, the first pixel in the most
    significant byte: the rows are padded and each word's bytes swapped on a little-endian machine."""
    with open(path, "rb") as file:
        data = file.read()
    raster = pgm_raster(data)
    if raster is None or array("I").itemsize != 4:
        return None
    width, height, at = raster
    pix = api.pix_create(width, height, 8)
    if not pix:
        return None
    stride = api.pix_wpl(pix) * 4
    if stride == width:
        rows = data[at:at + width * height]
    else:
        pad = bytes(stride - width)
        rows = b"".join(data[start:start + width] + pad for start in range(at, at + width * height, width))
    words = array("I", rows)
    if sys.byteorder == "little":
        words.byteswap()
    ctypes.memmove(api.pix_data(pix), words.buffer_info()[0], stride * height)
    return int(pix)


class Reader:
    """One TessBaseAPI handle, initialised for one language list at a time."""

    def __init__(self, api: TesseractApi) -> None:
        self.api = api
        self.handle = api.create()
        self.languages: str | None = None

    def _take_text(self, pointer: int | None) -> str:
        if not pointer:
            return ""
        try:
            return ctypes.string_at(pointer).decode("utf-8", errors="replace")
        finally:
            self.api.delete_text(pointer)

    def use(self, languages: str) -> None:
        if languages == self.languages:
            return
        self.languages = None
        if self.api.init(self.handle, None, languages.encode()) != 0:
            raise WorkerError("languages", f"Tesseract could not load the language data for {languages!r}")
        self.languages = languages

    def read(self, path: str, languages: str, psm: int, dpi: int, timeout_ms: int) -> dict[str, str]:
        api = self.api
        self.use(languages)
        api.set_psm(self.handle, psm)
        # What `tesseract --dpi N` sets; 0 (its default) lets Tesseract estimate the resolution itself.
        api.set_variable(self.handle, b"user_defined_dpi", str(max(0, dpi)).encode())
        try:
            pix = _P(pix_from_pgm(api, path) or api.pix_read(path.encode()))
        except OSError:
            pix = _P(None)
        if not pix:
            raise WorkerError("unreadable", f"Leptonica could not read an image from {os.path.basename(path)}")
        monitor = api.monitor_create()
        try:
            api.set_image(self.handle, pix)
            api.monitor_deadline(monitor, max(1, timeout_ms))
            if api.recognize(self.handle, monitor) != 0:
                raise WorkerError("timeout", f"recognition stopped at its {timeout_ms} ms deadline")
            return {"text": self._take_text(api.utf8_text(self.handle)),
                    "tsv": TSV_COLUMNS + self._take_text(api.tsv_text(self.handle, 0))}
        finally:
            api.monitor_delete(monitor)
            api.clear(self.handle)
            api.pix_destroy(ctypes.byref(pix))
            if api.malloc_trim is not None:
                api.malloc_trim(0)


def read_frame(stream: BinaryIO) -> bytes | None:
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (size,) = HEADER.unpack(header)
    return stream.read(size)


def write_frame(stream: BinaryIO, payload: bytes) -> None:
    stream.write(HEADER.pack(len(payload)) + payload)
    stream.flush()


def serve(requests: BinaryIO, replies: BinaryIO, languages: str | None = None) -> None:
    """Answer requests until ``requests`` closes; with ``languages``, their models are loaded before the
    greeting (a worker started ahead of its first page)."""
    try:
        api = TesseractApi(os.environ.get("S3OCR_LIBTESSERACT", "libtesseract.so.5"))
    except (OSError, AttributeError) as e:
        write_frame(replies, json.dumps({"kind": "unavailable", "error": f"libtesseract C API: {e}"}).encode())
        return
    reader = Reader(api)
    if languages:
        # Missing models are reported to the first page that asks for them, in its own error record.
        with contextlib.suppress(WorkerError):
            reader.use(languages)
    write_frame(replies, json.dumps({"version": api.version().decode()}).encode())
    while (frame := read_frame(requests)) is not None:
        request = json.loads(frame)
        try:
            reply: dict[str, str] = reader.read(request["path"], request["languages"], int(request["psm"]),
                                                int(request["dpi"]), int(request["timeout_ms"]))
        except WorkerError as e:
            reply = {"kind": e.kind, "error": str(e)}
        write_frame(replies, json.dumps(reply, ensure_ascii=False).encode())


def main() -> int:
    # The protocol owns the real stdout; anything native code prints there goes to stderr instead.
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    serve(sys.stdin.buffer, replies, sys.argv[1] if len(sys.argv) > 1 else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
