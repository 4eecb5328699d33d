"""Object keys are written by whoever may upload: they reach log lines, terminals, local paths and output keys only
through this module.

- ``printable``: a key in a log line or a terminal message, its control characters escaped, so that a key cannot
  forge a log line or move a terminal's cursor.
- ``local_path``: a key as a path inside a folder, or ``UnsafeKeyError`` (``..``, an absolute key): a bucket's
  content never decides where a file lands outside the folder it was asked to fill.
- ``fit``: an output name kept within a length limit (S3 keys are at most 1,024 bytes, a file name 255); a name
  that would pass it is cut and given a digest of the whole, so that it stays unique and the same on every run.
"""

from __future__ import annotations

import hashlib
from pathlib import Path, PurePosixPath

from s3ocr.errors import UnsafeKeyError

S3_KEY_BYTES = 1024
FILE_NAME_BYTES = 255
_DIGEST_CHARS = 16


def printable(text: str) -> str:
    """``text`` with every character that is not printable escaped as Python writes it (``\\n``, ``\\x1b``,
    ``\\u202e``); a plain space stays."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else ascii(ch)[1:-1] for ch in text)


def is_folder_marker(key: str) -> bool:
    """A zero-content object whose key ends in ``/``: the console's "create folder" makes them. Not a document."""
    return key.endswith("/")


def local_path(folder: Path, key: str) -> Path:
    """Where ``key`` lands inside ``folder``; raises ``UnsafeKeyError`` for a key that would leave it."""
    parts = key.split("/")
    if key.startswith("/") or "\0" in key or any(part in ("", ".", "..") for part in parts):
        raise UnsafeKeyError(f"the key {printable(key)!r} is not a relative path inside the output folder "
                             "(an absolute path, '..', '.' or an empty part); nothing was written for it")
    return folder.joinpath(*PurePosixPath(*parts).parts)


def fit(name: str, limit: int) -> str:
    """``name`` itself when it has at most ``limit`` UTF-8 bytes, else its head cut at a character boundary,
    ``~`` and a digest of the whole name, ``limit`` bytes in all."""
    encoded = name.encode("utf-8")
    if len(encoded) <= limit:
        return name
    digest = hashlib.sha256(encoded).hexdigest()[:_DIGEST_CHARS]
    keep = limit - len(digest) - 1
    if keep < 0:
        raise ValueError(f"a limit of {limit} bytes leaves no room for a digest")
    head = encoded[:keep].decode("utf-8", errors="ignore")  # a character cut in half is dropped whole
    return f"{head}~{digest}"
