"""hOCR 1.2 (XHTML): the reading as the tools built around Tesseract's hOCR take it (hocr-tools, OCRmyPDF's
``hocrtransform``, search-highlighting viewers).

One ``ocr_page`` per page, one ``ocr_line`` per line and one ``ocrx_word`` per word, each with a ``bbox`` on the
page as rendered (``s3ocr.sinks.placement``: the boxes of an image read turned or scaled are mapped back), so a
box drawn on the page image the document renders to covers its word. A page read from its own text layer has text
but no boxes: its text is kept in ``ocr_par`` paragraphs, which need none; its page ``bbox`` is ``0 0 0 0`` when
its size is not in the ``.json``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import escape, quoteattr

from s3ocr.sinks.placement import PageBox, joins_tight, page_placement, placed_lines

CAPABILITIES = "ocr_page ocr_par ocr_line ocrx_word ocrp_wconf"
# Tesseract's language codes (what ``languages`` holds) as BCP 47 tags; another code of two or three letters is
# a valid tag as it is, and the others (a script model, orientation, equations) say nothing of the language.
LANGUAGE_TAGS = {
    "eng": "en", "chi_sim": "zh-Hans", "chi_sim_vert": "zh-Hans", "chi_tra": "zh-Hant", "chi_tra_vert": "zh-Hant",
    "jpn": "ja", "jpn_vert": "ja", "kor": "ko", "kor_vert": "ko", "deu": "de", "fra": "fr", "spa": "es",
    "ita": "it", "por": "pt", "rus": "ru", "nld": "nl", "pol": "pl", "tur": "tr", "ara": "ar", "heb": "he",
    "hin": "hi", "vie": "vi", "tha": "th", "ukr": "uk", "ces": "cs", "swe": "sv", "dan": "da", "fin": "fi",
    "nor": "no", "ell": "el", "hun": "hu", "ron": "ro", "ind": "id",
}
_PLAIN_CODE = re.compile(r"[a-z]{2,3}")
NOT_LANGUAGES = ("osd", "equ")
# Characters XML 1.0 cannot hold (controls, lone surrogates, U+FFFE/U+FFFF): an engine can return any of them.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
 "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang={lang} lang={lang}>
<head>
<title>{title}</title>
<meta http-equiv="Content-Type" content="text/html; charset=utf-8"/>
<meta name="ocr-system" content={system}/>
<meta name="ocr-capabilities" content="{capabilities}"/>
<meta name="ocr-number-of-pages" content="{pages}"/>
<meta name="ocr-langs" content={langs}/>
</head>
<body>
"""


def language_tags(languages: str) -> list[str]:
    """The BCP 47 tags of Tesseract-style ``languages`` (``chi_sim+eng`` -> ``["zh-Hans", "en"]``), in order."""
    tags: list[str] = []
    for code in languages.split("+"):
        tag = LANGUAGE_TAGS.get(code) or (code if _PLAIN_CODE.fullmatch(code) and code not in NOT_LANGUAGES else None)
        if tag and tag not in tags:
            tags.append(tag)
    return tags


def _text(text: str) -> str:
    return escape(_NOT_XML.sub("\ufffd", text))


def _attribute(text: str) -> str:
    return quoteattr(_NOT_XML.sub("\ufffd", text))


def _bbox(box: PageBox) -> str:
    return f"bbox {box.left} {box.top} {box.right} {box.bottom}"


def _head(head: dict[str, Any]) -> str:
    tags = language_tags(head.get("languages") or "")
    engine = head.get("engine") or {}
    name, version = engine.get("name", ""), engine.get("version", "")
    # "auto" names itself in its version ("auto: rapidocr ..., tesseract ..."): said once
    system = f"{head.get('producer', 's3ocr')} ({version if version.startswith(name) else f'{name} {version}'})"
    return _HEAD.format(lang=_attribute(tags[0] if tags else "und"), title=_text(head["source"]["key"]),
                        system=_attribute(system), capabilities=CAPABILITIES, pages=head["pages_processed"],
                        langs=_attribute(" ".join(tags)))


def _ocr_lines(page: dict[str, Any]) -> Iterator[str]:
    number = page["number"]
    for i, line in enumerate(placed_lines(page), start=1):
        yield f'<span class="ocr_line" id="line_{number}_{i}" title="{_bbox(line.box)}">'
        previous = ""
        for j, word in enumerate(line.words, start=1):
            if previous and not joins_tight(previous, word.text):
                yield " "
            yield (f'<span class="ocrx_word" id="word_{number}_{i}_{j}" title="{_bbox(word.box)}; '
                   f'x_wconf {round(word.confidence * 100)}">{_text(word.text)}</span>')
            previous = word.text
        yield "</span>\n"


def _paragraphs(page: dict[str, Any]) -> Iterator[str]:
    """A text-layer page's text, a paragraph to each run of lines between blank lines."""
    paragraphs = [part.strip("\n") for part in re.split(r"\n\s*\n", page["text"]) if part.strip()]
    for k, paragraph in enumerate(paragraphs, start=1):
        lines = "<br/>\n".join(_text(line) for line in paragraph.split("\n"))
        yield f'<p class="ocr_par" id="par_{page["number"]}_{k}">{lines}</p>\n'


def _page(page: dict[str, Any]) -> str:
    placement = page_placement(page)
    number = page["number"]
    title = (f"bbox 0 0 {placement.width} {placement.height}; ppageno {number - 1}; "
             f"scan_res {placement.dpi} {placement.dpi}")
    body = _paragraphs(page) if page["source"] == "text_layer" else _ocr_lines(page)
    return f'<div class="ocr_page" id="page_{number}" title="{title}">\n{"".join(body)}</div>\n'


def write_hocr(head: dict[str, Any], pages: Iterable[dict[str, Any]], source: Path | None, media_type: str,
               out: IO[bytes]) -> None:
    """Write the hOCR of a reading, a page at a time (``source`` and ``media_type`` are not needed: it is drawn
    from the ``.json`` alone)."""
    out.write(_head(head).encode("utf-8"))
    for page in pages:
        out.write(_page(page).encode("utf-8"))
    out.write(b"</body>\n</html>\n")
