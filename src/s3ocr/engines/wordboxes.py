"""Word boxes for engines that return lines (and sometimes per-character boxes) rather than words."""

from __future__ import annotations

import functools

from s3ocr.models import Box, Word


def split_words(text: str, line_box: Box, confidence: float,
                chars: list[tuple[Box, float]] | None = None) -> tuple[Word, ...]:
    """The line's whitespace-separated tokens as words.

    With one (box, confidence) per non-space character, a word's box joins its characters' boxes and its
    confidence is their mean. Otherwise a word's box is its share of the line box, by character position,
    and it carries the line's confidence.
    """
    tokens = text.split()
    if chars and len(chars) == sum(len(token) for token in tokens):
        words, position = [], 0
        for token in tokens:
            part = chars[position:position + len(token)]
            position += len(token)
            box = functools.reduce(Box.union, (b for b, _ in part))
            words.append(Word(token, clip(box, line_box), round(sum(c for _, c in part) / len(part), 4)))
        return tuple(words)
    words, start = [], 0
    for token in tokens:
        start = text.index(token, start)
        left = line_box.left + line_box.width * start // len(text)
        right = line_box.left + line_box.width * (start + len(token)) // len(text)
        words.append(Word(token, Box(left, line_box.top, max(1, right - left), line_box.height), confidence))
        start += len(token)
    return tuple(words)


def clip(box: Box, outer: Box) -> Box:
    """A character box can poke out of its line's polygon by a pixel or two; words stay inside lines."""
    left, top = max(box.left, outer.left), max(box.top, outer.top)
    right = min(box.left + box.width, outer.left + outer.width)
    bottom = min(box.top + box.height, outer.top + outer.height)
    return Box(left, top, max(0, right - left), max(0, bottom - top))
