"""A long-lived Tesseract process: the models are loaded once, then pages are read through the C API.

Started by ``TesseractEngine`` (``python -m s3ocr.engines.tesseract_worker [LANGUAGES]``), one per page read
at once; given ``LANGUAGES`` it loads their models before greeting. Running
``tesseract`` once per page loads the language models every time (0.08 s of CPU for ``eng``, 0.2 s for
``chi_sim+eng``, before the first pixel is read); this process pays that once and then, under Lambda, for as
long as the execution environment stays warm. It stays a separate process, as ``tesseract`` was: a crash
or a hang in native code costs one page, never the function, and a page that overruns its budget is
stopped by killing the process.

It does what the ``tesseract`` command does for ``tesseract IMAGE OUT -l LANG --psm N --dpi D txt tsv``:
``pixRead`` the file with Leptonica, set ``user_defined_dpi``, recognise, and return ``GetUTF8Text`` and
``GetTSVText``; the page's text is the same.

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
        # glibc keeps the freed page buffers for reuse; handing them back keeps an idle worker at the size
        # of its models (a process per page never had to care).
        libc = ctypes.CDLL(None)
        self.malloc_trim = _bind(libc, "malloc_trim", _INT, ctypes.c_size_t) if hasattr(libc, "malloc_trim") else None
        self.pix_destroy = _bind(lept, "pixDestroy", None, ctypes.POINTER(_P))


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
        pix = _P(api.pix_read(path.encode()))
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
