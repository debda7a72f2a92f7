"""Sentence splitting for Chinese and English, so long text is spoken sentence by sentence.

Chinese sentences end at 。！？；… and English ones at . ! ? followed by a space or the end; decimals
(3.5), abbreviations (Mr., e.g., U.S.) and closing quotes or brackets stay with their sentence. A sentence
longer than ``max_chars`` is cut at its last comma (or space) before the limit so the first audio of a long
answer still starts early.
"""

from __future__ import annotations

import re

from voice.language import is_cjk

_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "vs",
        "etc",
        "e.g",
        "i.e",
        "no",
        "approx",
        "dept",
        "est",
        "fig",
        "inc",
        "ltd",
        "co",
        "corp",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
        "sat",
        "sun",
        "u.s",
        "u.k",
        "a.m",
        "p.m",
    ]
)
_CLOSERS = "\"'”’」』）)]】》"
_ZH_END = "。！？；…!?;"
_SOFT_BREAKS = "，、,：:"


def _ends_sentence(text: str, i: int) -> bool:
    """Whether the character at ``i`` ends a sentence."""
    ch = text[i]
    if ch in _ZH_END or ch == "\n":
        return True
    if ch != ".":
        return False
    nxt = text[i + 1] if i + 1 < len(text) else ""
    if nxt.isdigit() or (nxt and nxt not in _CLOSERS and not nxt.isspace() and not is_cjk(nxt)):
        return False  # 3.5, example.com, U.S.A inside
    j = i
    while j > 0 and (text[j - 1].isalpha() or text[j - 1] == "."):
        j -= 1
    word = text[j:i].lower()
    if word in _ABBREVIATIONS:
        return False
    # A lone capital ("J. Smith") is an initial, not a sentence.
    return not (len(word) == 1 and text[i - 1].isupper() and nxt.isspace())


def _cut_long(sentence: str, max_chars: int) -> list[str]:
    parts: list[str] = []
    rest = sentence
    while len(rest) > max_chars:
        window = rest[:max_chars]
        cut = max((window.rfind(c) for c in _SOFT_BREAKS), default=-1)
        if cut < max_chars // 4:
            cut = window.rfind(" ")
        if cut < max_chars // 4:
            cut = max_chars - 1
        parts.append(rest[: cut + 1].strip())
        rest = rest[cut + 1 :]
    parts.append(rest.strip())
    return [p for p in parts if p]


def split_first_phrase(sentences: list[str], max_chars: int = 16) -> list[str]:
    """Cut a long first sentence at its first comma so the first audio starts sooner.

    ``["这款面霜今天只要199元，比平时便宜一百块。", ...]`` → ``["这款面霜今天只要199元，", "比平时便宜一百块。", ...]``;
    a first sentence of at most ``max_chars`` characters, or one with no comma after its first four
    characters, is left alone.
    """
    if not sentences or len(sentences[0]) <= max_chars:
        return sentences
    first = sentences[0]
    cuts = [i for i, ch in enumerate(first) if ch in _SOFT_BREAKS and 4 <= i < len(first) - 4]
    if not cuts:
        return sentences
    return [first[: cuts[0] + 1], first[cuts[0] + 1 :].strip(), *sentences[1:]]


def split_sentences(text: str, max_chars: int = 120) -> list[str]:
    """Split ``text`` into sentences, in order, none empty, whitespace trimmed.

    Args:
        text: Chinese, English or mixed text.
        max_chars: sentences longer than this are cut at a comma or space (0 disables).
    """
    sentences: list[str] = []
    start = 0
    i = 0
    n = len(text)
    while i < n:
        if _ends_sentence(text, i):
            j = i + 1
            while j < n and (text[j] in _ZH_END or text[j] == "." or text[j] in _CLOSERS):
                j += 1
            piece = text[start:j].strip()
            if piece:
                sentences.append(piece)
            start = i = j
        else:
            i += 1
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    if max_chars > 0:
        sentences = [part for s in sentences for part in _cut_long(s, max_chars)]
    return [s for s in sentences if re.search(r"\S", s)]
