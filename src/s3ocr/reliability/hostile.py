"""Hostile documents, made in code: PDFs with an owner password, JavaScript, an XFA form or a page too large to
render, and files of types s3ocr does not read (HEIC, SVG, EPS).

Each PDF is one page of Helvetica text ("Hostile input, read safely.") plus what makes it hostile; the text is
real, so a PDF that is read comes back with that text from its own text layer.
"""

from __future__ import annotations

import hashlib
import struct
import tempfile
from pathlib import Path

from s3ocr.bench.samples import stream, write_pdf

TEXT = "Hostile input, read safely."
HELVETICA = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
LETTER = b"[0 0 612 792]"
# The PDF standard security handler's padding string (ISO 32000-1, 7.6.3.3, algorithm 2).
_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")
_NOTHING_ALLOWED = -64  # /P: bits 3-6 (print, modify, copy, annotate) clear, the reserved bits set


def _text_content(text: str = TEXT) -> bytes:
    return b"BT /F1 24 Tf 72 700 Td (%s) Tj ET" % text.encode("latin-1")


def _pdf(objects: list[bytes], trailer: bytes = b"") -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        return write_pdf(Path(folder) / "doc.pdf", objects, trailer).read_bytes()


def _one_page(content: bytes = b"", catalog: bytes = b"", media_box: bytes = LETTER) -> list[bytes]:
    """Objects 1-5: catalog, pages, page, its content stream, Helvetica; more may follow as object 6..."""
    return [
        b"<< /Type /Catalog /Pages 2 0 R%s >>" % catalog,
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox %s /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>"
        % media_box,
        stream(content or _text_content()),
        HELVETICA,
    ]


def _rc4(key: bytes, data: bytes) -> bytes:
    state = list(range(256))
    j = 0
    for i in range(256):
        j = (j + state[i] + key[i % len(key)]) % 256
        state[i], state[j] = state[j], state[i]
    out = bytearray()
    i = j = 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + state[i]) % 256
        state[i], state[j] = state[j], state[i]
        out.append(byte ^ state[(state[i] + state[j]) % 256])
    return bytes(out)


def owner_password_pdf(owner: bytes = b"owner") -> bytes:
    """Encrypted with the standard handler, revision 2 (40-bit RC4), an empty user password and an owner password
    that withholds printing and copying: any reader opens it, as Poppler does."""
    file_id = hashlib.md5(b"s3ocr hostile input").digest()
    owner_entry = _rc4(hashlib.md5((owner + _PAD)[:32]).digest()[:5], _PAD)
    key = hashlib.md5(_PAD + owner_entry + struct.pack("<i", _NOTHING_ALLOWED) + file_id).digest()[:5]
    user_entry = _rc4(key, _PAD)
    content_key = hashlib.md5(key + (4).to_bytes(3, "little") + (0).to_bytes(2, "little")).digest()[:10]
    objects = _one_page()
    objects[3] = stream(_rc4(content_key, _text_content()))
    objects.append(b"<< /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P %d >>"
                   % (owner_entry.hex().encode(), user_entry.hex().encode(), _NOTHING_ALLOWED))
    identifier = file_id.hex().encode()
    return _pdf(objects, b" /Encrypt 6 0 R /ID [<%s> <%s>]" % (identifier, identifier))


def javascript_pdf(where: str = "names") -> bytes:
    """A script run when the document opens: document-level (the ``/Names`` tree), or the ``/OpenAction``."""
    catalog = b" /OpenAction 6 0 R" if where == "open_action" else b" /Names << /JavaScript << /Names [(s) 6 0 R] >> >>"
    objects = _one_page(catalog=catalog)
    objects.append(b"<< /S /JavaScript /JS (app.alert\\('opened'\\);) >>")
    return _pdf(objects)


def xfa_pdf() -> bytes:
    """An AcroForm carrying an XFA form (XML forms, which only some readers draw)."""
    xdp = (b'<xdp:xdp xmlns:xdp="http://ns.adobe.com/xdp/"><template xmlns="http://www.xfa.org/schema/xfa-template/3.3/">'
           b'<subform name="form1"><field name="name"/></subform></template></xdp:xdp>')
    objects = _one_page(catalog=b" /AcroForm << /Fields [] /XFA 6 0 R >>")
    objects.append(stream(xdp))
    return _pdf(objects)


def giant_page_pdf() -> bytes:
    """Two pages: a letter page of text, then a page of 200,000 points a side (2,778 inches) with a drawing on it.
    Poppler renders such a page as 1 x 1 pixels and exits 0."""
    drawing = stream(b"0 0 0 rg 1000 1000 50000 50000 re f")
    return _pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R 6 0 R] /Count 2 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox %s /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>"
        % LETTER,
        stream(_text_content()),
        HELVETICA,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200000 200000] /Contents 7 0 R >>",
        drawing,
    ])


HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00\x00\x00\x08free" + bytes(64)
SVG = (b'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="400" height="100">'
       b'<text x="10" y="50" font-size="24">Hostile input</text></svg>\n')
EPS = (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 400 100\n"
       b"/Helvetica findfont 24 scalefont setfont 10 50 moveto (Hostile input) show\nshowpage\n%%EOF\n")
