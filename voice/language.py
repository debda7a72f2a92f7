"""Which language a text is in, by script: enough to choose a voice."""

from __future__ import annotations


def is_cjk(ch: str) -> bool:
    """True for a Han ideograph (CJK unified ideographs and extension A, compatibility ideographs)."""
    o = ord(ch)
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF


def _is_kana(ch: str) -> bool:
    return 0x3040 <= ord(ch) <= 0x30FF


def _is_hangul(ch: str) -> bool:
    o = ord(ch)
    return 0xAC00 <= o <= 0xD7AF or 0x1100 <= o <= 0x11FF


def detect_language(text: str, default: str = "en") -> str:
    """Guess the language of ``text`` from its script: "zh", "ja", "ko" or "en".

    A Han character carries about a word, a Latin letter a fraction of one, so Chinese wins once Han
    characters are a fifth of the letters ("iPhone 15 只要 5999 元" is Chinese).
    """
    han = kana = hangul = latin = 0
    for ch in text:
        if is_cjk(ch):
            han += 1
        elif _is_kana(ch):
            kana += 1
        elif _is_hangul(ch):
            hangul += 1
        elif ch.isascii() and ch.isalpha():
            latin += 1
    if kana and kana + han >= latin / 5:
        return "ja"
    if hangul and hangul >= latin / 5:
        return "ko"
    if han and han >= (han + latin) / 5:
        return "zh"
    if latin:
        return "en"
    return default
