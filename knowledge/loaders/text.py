"""Text helpers shared by the loaders: decoding bytes, cleaning cells, guessing a language."""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass

from charset_normalizer import from_bytes

#: Zero-width and invisible characters that spreadsheets and web copy-paste leave behind.
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded file: its text, the encoding used and whether that encoding was only a guess."""

    text: str
    encoding: str
    guessed: bool = False


def decode_bytes(data: bytes) -> Decoded | None:
    """Decode a merchant's file: BOMs first, then strict UTF-8, then GB18030, then a statistical guess.

    GB18030 is a superset of GBK and GB2312, the encodings Excel uses for CSV on Chinese Windows.
    Returns None when nothing decodes the bytes.
    """
    if data.startswith(codecs.BOM_UTF8):
        try:
            return Decoded(data[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig")
        except UnicodeDecodeError:
            return None
    for bom, name in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if data.startswith(bom):
            try:
                return Decoded(data[len(bom) :].decode(name), "utf-16")
            except UnicodeDecodeError:
                return None
    for name in ("utf-8", "gb18030"):
        try:
            return Decoded(data.decode(name), name)
        except UnicodeDecodeError:
            continue
    best = from_bytes(data).best()
    if best is None:
        return None
    return Decoded(str(best), best.encoding, guessed=True)


def clean_text(value: str) -> str:
    """Trim, drop invisible characters, turn non-breaking spaces into spaces, unify line ends."""
    value = _INVISIBLE.sub("", value).replace("\u00a0", " ").replace("\u3000", " ")
    return value.replace("\r\n", "\n").replace("\r", "\n").strip()


def normalise_number_text(value: str) -> str:
    """Full-width digits, signs and currency marks to their ASCII forms; spaces removed."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", clean_text(value)))


def cjk_ratio(text: str) -> float:
    """Share of CJK ideographs among the letters of `text` (0.0 when it has none of either)."""
    cjk = len(_CJK.findall(text))
    latin = len(_LATIN.findall(text))
    total = cjk + latin
    # One Chinese character carries about as much as a short English word.
    return 0.0 if total == 0 else cjk * 4 / (cjk * 4 + latin)


def guess_locale(text: str) -> str:
    """ "zh" when the text is mostly Chinese, "en" when mostly latin letters, "" when it has neither."""
    if not _CJK.search(text) and not _LATIN.search(text):
        return ""
    return "zh" if cjk_ratio(text) >= 0.5 else "en"


def slugify(value: str) -> str:
    """A stable id from a name: lower-case ASCII letters, digits and CJK kept, other runs become '-'."""
    value = unicodedata.normalize("NFKC", value).lower()
    slug = re.sub(r"[^a-z0-9\u3400-\u4dbf\u4e00-\u9fff]+", "-", value).strip("-")
    return slug or "document"


def shorten(value: str, limit: int = 40) -> str:
    """A value quoted in a message, cut so a huge cell never floods a report."""
    value = value.replace("\n", " ")
    return value if len(value) <= limit else value[: limit - 1] + "…"
