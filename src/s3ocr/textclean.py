"""Text clean-up after recognition: CJK spacing and punctuation width.

Tesseract's Chinese models put a space between every two characters ("命 令 解 释"), and read the
full-width colon and semicolon as ASCII. The rules, applied to each line (newlines and blank lines
between paragraphs are kept as they are):

1. Spaces between two CJK characters are removed, and so are spaces on either side of full-width
   punctuation (it carries its own spacing) and between CJK text and an ASCII bracket or mark that
   hugs it ("二 世 ) 是" -> "二世) 是"). Spaces between CJK and Latin text stay ("使用 Shell 命令"),
   as they are common in Chinese technical prose and harmless elsewhere.
2. Punctuation width follows the script before it, for the marks Tesseract cannot tell apart by width:
   ``: ; ! ?`` directly after a CJK character become ``：；！？`` (GB/T 15834; in the Chinese manual pages
   the corpus comes from, 1111 of 1343 colons after a CJK character are full-width); ``：；！？``
   between ASCII letters or digits become ASCII. Commas, full stops and brackets keep the form Tesseract
   read: it does tell ``，`` from ``,`` and ``。`` from ``.`` by shape, and Chinese text uses both kinds of
   brackets.
3. ``〈`` followed on its line by a closing parenthesis is ``（`` (Tesseract's usual misreading of it).
4. Full-width Latin letters and digits (``Ａ``, ``１``) become ASCII, and a lone ``…`` between Latin text
   becomes ``...`` (the man-page ellipsis); ``……`` stays.
5. A page without a single CJK character is not Chinese, whatever the languages it was read with: its CJK
   punctuation (an English page read with ``chi_sim+eng`` gets ``es。`` for a bullet) becomes the Latin mark
   of the same shape (``latin_punctuation``).
"""

from __future__ import annotations

import functools
import re

# Han ideographs (with extension A and compatibility), kana, Hangul, bopomofo.
_CJK = r"\u2e80-\u2fdf\u3040-\u30ff\u3100-\u312f\u3190-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_WIDE = _CJK + r"\u2014\u2026\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"


class _Patterns:
    """The rules' expressions, compiled on first use: their CJK ranges take ~16 ms to compile, which a command
    reading a born-digital document (its text layer is never cleaned) would otherwise pay as it starts."""

    def __init__(self) -> None:
        wide, cjk = _WIDE, _CJK
        self.space_between_cjk = re.compile(rf"(?<=[{wide}])[ \t\u3000]+(?=[{wide}])")
        self.space_before_full_punct = re.compile(
            r"[ \t\u3000]+(?=[\u3001\u3002\uff01\uff09\uff0c\uff1a\uff1b\uff1f\u300b\u300d\u300f\u3011])")
        self.space_after_full_punct = re.compile(
            r"(?<=[\u3001\u3002\uff08\uff0c\uff1a\uff1b\u300a\u300c\u300e\u3010])[ \t\u3000]+")
        # ASCII brackets and marks between CJK text: "二 世 ) 是" -> "二世) 是", "( 成 功" -> "(成功",
        # "件 . 文" -> "件.文".
        self.space_before_ascii_close = re.compile(rf"(?<=[{wide}])[ \t]+(?=[)\]}}.,;:!?%])")
        self.space_after_ascii_open = re.compile(rf"(?<=[(\[{{])[ \t]+(?=[{wide}])")
        self.space_after_ascii_mark_in_cjk = re.compile(rf"(?<=[{wide}][.,;:!?])[ \t]+(?=[{wide}])")
        self.ascii_after_cjk = re.compile(rf"(?<=[{cjk}])[ \t]*([:;!?])")
        self.full_between_ascii = re.compile(r"(?<=[A-Za-z0-9])([\uff1a\uff1b\uff01\uff1f])(?=[A-Za-z0-9])")
        self.lone_ellipsis = re.compile(r"(?<![\u2026])\u2026(?![\u2026])(?=[^\u2026" + cjk + r"]|$)")
        # Tesseract reads the full-width opening parenthesis as a single angle quote; one that a closing
        # parenthesis follows on the line (and no closing angle quote does) was a parenthesis.
        self.angle_as_paren = re.compile(r"\u3008(?=[^\u3009]*[)\uff09])")


@functools.cache
def _patterns() -> _Patterns:
    return _Patterns()


_CJK_LETTER = re.compile(rf"[{_CJK}]")


_TO_FULL = str.maketrans({":": "\uff1a", ";": "\uff1b", "!": "\uff01", "?": "\uff1f"})
_TO_ASCII = str.maketrans({"\uff1a": ":", "\uff1b": ";", "\uff01": "!", "\uff1f": "?"})
# Full-width letters and digits U+FF10-FF19, FF21-FF3A, FF41-FF5A sit 0xFEE0 above ASCII.
_FULL_ALNUM = {
    code: code - 0xFEE0
    for r in ((0xFF10, 0xFF19), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A))
    for code in range(r[0], r[1] + 1)
}

# CJK punctuation (and full-width ASCII punctuation) -> the Latin mark of the same role.
_TO_LATIN = str.maketrans({
    "\u3002": ".", "\u3001": ",", "\u300c": '"', "\u300d": '"', "\u300e": '"', "\u300f": '"', "\u3010": "[",
    "\u3011": "]", "\u300a": "<", "\u300b": ">", "\u3008": "<", "\u3009": ">", "\u3000": " ",
    **{chr(code): chr(code - 0xFEE0) for code in range(0xFF01, 0xFF5F)},
})


def has_cjk(text: str) -> bool:
    """Whether the text holds a CJK character (ideograph, kana, Hangul)."""
    return _CJK_LETTER.search(text) is not None


def latin_punctuation(text: str) -> str:
    """CJK and full-width punctuation as Latin marks: for pages with no CJK text (rule 5)."""
    return text.translate(_TO_LATIN)


def clean_line(line: str) -> str:
    """Apply the module's rules to one line of text (no newlines inside)."""
    rules = _patterns()
    line = rules.angle_as_paren.sub("\uff08", line.translate(_FULL_ALNUM))
    line = rules.ascii_after_cjk.sub(lambda m: m.group(1).translate(_TO_FULL), line)
    line = rules.full_between_ascii.sub(lambda m: m.group(1).translate(_TO_ASCII), line)
    for wide_spacing in (rules.space_between_cjk, rules.space_before_full_punct, rules.space_after_full_punct):
        line = wide_spacing.sub("", line)
    # After the wide spacing, so that "… …" is seen as one "……"; before the ASCII spacing, which the
    # "..." it may produce takes part in.
    line = rules.lone_ellipsis.sub("...", line)
    for ascii_spacing in (rules.space_before_ascii_close, rules.space_after_ascii_open,
                          rules.space_after_ascii_mark_in_cjk):
        line = ascii_spacing.sub("", line)
    return line


def clean_text(text: str) -> str:
    """Clean recognised text line by line, keeping line breaks and paragraph breaks."""
    return "\n".join(clean_line(line) for line in text.split("\n"))
