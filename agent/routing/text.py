"""Preparing a chat message for rule matching: width folding, case, typos, pinyin shorthands."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_CJK = re.compile(r"[\u3400-\u9fff]")
_SPACES = re.compile(r"\s+")
_LATIN_WORD = re.compile(r"[a-z]+")

# Common English misspellings seen in shop chat, mapped to the word the lexicons know.
_TYPOS: dict[str, str] = {
    "oder": "order",
    "odrer": "order",
    "ordr": "order",
    "recieved": "received",
    "recieve": "receive",
    "recived": "received",
    "wher": "where",
    "whre": "where",
    "refound": "refund",
    "refun": "refund",
    "pakage": "package",
    "packege": "package",
    "adress": "address",
    "addres": "address",
    "cancle": "cancel",
    "cancell": "cancel",
    "delivred": "delivered",
    "arived": "arrived",
    "thx": "thanks",
    "thnx": "thanks",
    "pls": "please",
    "plz": "please",
    "u": "you",
    "ur": "your",
}

# Pinyin initials that shoppers type instead of the Chinese word (tk = 退款 and so on).
_PINYIN_SHORTHANDS: dict[str, str] = {
    "tk": "退款",
    "th": "退货",
    "wl": "物流",
    "kf": "客服",
    "zb": "主播",
    "bzd": "不知道",
}


@dataclass(frozen=True, slots=True)
class PreparedText:
    """A message ready for matching.

    Attributes:
        raw: The text as received (stripped).
        text: NFKC-folded, lower-cased, whitespace-collapsed, typos and shorthands expanded.
        lang: "zh" when the message contains Chinese characters (or the caller said so), else "en".
    """

    raw: str
    text: str
    lang: str


def _fix_latin_word(match: re.Match[str]) -> str:
    word = match.group(0)
    if word in _PINYIN_SHORTHANDS:
        return _PINYIN_SHORTHANDS[word]
    return _TYPOS.get(word, word)


def prepare(text: str, lang: str | None = None) -> PreparedText:
    """Fold width and case, collapse spaces and expand known typos and pinyin shorthands."""
    raw = text.strip()
    folded = unicodedata.normalize("NFKC", raw).lower()
    folded = _SPACES.sub(" ", folded).strip()
    folded = _LATIN_WORD.sub(_fix_latin_word, folded)
    detected = "zh" if _CJK.search(folded) else "en"
    return PreparedText(raw=raw, text=folded, lang=lang or detected)


def is_symbol_only(text: str) -> bool:
    """True when the text has no letters, digits or CJK characters (emoji, punctuation, spaces)."""
    return not any(ch.isalnum() for ch in text)


def has_emoji(text: str) -> bool:
    """True when the text contains at least one emoji or pictographic symbol."""
    return any(unicodedata.category(ch) == "So" or 0x1F000 <= ord(ch) <= 0x1FAFF for ch in text)


_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def is_keyboard_mash(text: str) -> bool:
    """True for one latin token typed along a single keyboard row with almost no vowels ("asdfghjkl")."""
    token = text.strip()
    if len(token) < 4 or len(set(token)) < 3 or not token.isascii() or not token.isalpha():
        return False
    vowels = sum(ch in "aeiouy" for ch in token)
    if vowels == 0 and len(token) >= 5:
        return True
    if vowels / len(token) > 0.25:
        return False
    return any(set(token) <= set(row) for row in _KEYBOARD_ROWS)
