"""Text normalisation before speech, for Chinese and English live-commerce scripts.

Prices, discounts, ranges, sizes, units, model numbers, dates, times and percentages are rewritten the
way an anchor says them; emoji, URLs and decoration are removed; repeated punctuation is collapsed. Each
rewrite looks at the characters around it to choose Chinese or English wording, so a mixed line
("iPhone 15 只要 ¥5999, $799 in the US") reads naturally in both parts.

`normalize` never raises and never turns speakable text into nothing: if the rewrites leave nothing
speakable, the text is returned with only emoji and URLs removed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from voice.language import detect_language, is_cjk

_NUM = r"\d+(?:\.\d+)?"
_Sub = Callable[[re.Match[str]], str]

# --- context -------------------------------------------------------------------------------------------


def _lang_at(text: str, start: int, end: int, default: str) -> str:
    """ "zh" when Han characters sit next to ``text[start:end]``, "en" when only Latin letters do."""
    around = text[max(0, start - 8) : start] + text[end : end + 8]
    if any(is_cjk(ch) for ch in around):
        return "zh"
    if any(ch.isascii() and ch.isalpha() for ch in around):
        return "en"
    return default


def _rewrite(pattern: re.Pattern[str], text: str, default: str, zh: _Sub, en: _Sub) -> str:
    def repl(m: re.Match[str]) -> str:
        return zh(m) if _lang_at(m.string, m.start(), m.end(), default) == "zh" else en(m)

    return pattern.sub(repl, text)


def _plain(number: str) -> str:
    """ "199.00" → "199", "19.90" → "19.9"."""
    if "." in number:
        number = number.rstrip("0").rstrip(".")
    return number or "0"


def _plural(number: str, singular: str, plural: str) -> str:
    return f"{number} {singular if _plain(number) == '1' else plural}"


# --- removal -------------------------------------------------------------------------------------------

_URL = re.compile(r"(?:https?://|www\.)[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


_KEEP_SYMBOLS = frozenset("°℃")


def _drop_emoji(text: str) -> str:
    out = []
    for ch in text:
        o = ord(ch)
        cat = unicodedata.category(ch)
        if ch in _KEEP_SYMBOLS:
            out.append(ch)
        elif cat in ("So", "Cs", "Co", "Me") or o in (0xFE0F, 0xFE0E, 0x200D) or 0x1F3FB <= o <= 0x1F3FF:
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def _halfwidth(text: str) -> str:
    """Full-width digits, Latin letters and money symbols → ASCII; Chinese punctuation is kept."""
    out = []
    for ch in text:
        o = ord(ch)
        if 0xFF10 <= o <= 0xFF19 or 0xFF21 <= o <= 0xFF3A or 0xFF41 <= o <= 0xFF5A:
            out.append(chr(o - 0xFEE0))
        else:
            out.append({"％": "%", "＄": "$", "￥": "¥", "＆": "&", "＋": "+"}.get(ch, ch))
    return "".join(out)


# --- numbers and money ---------------------------------------------------------------------------------

_LONG_DIGITS = re.compile(r"(?<![\d,.¥$€£])\d{7,}(?![\d,.]|\s*(?:元|块|万|亿))")
_THOUSANDS = re.compile(r"(?<![\d.])\d{1,3}(?:,\d{3})+(?![\d])")

_CURRENCY = {
    "¥": ("元", "yuan", "yuan"),
    "$": ("美元", "dollar", "dollars"),
    "€": ("欧元", "euro", "euros"),
    "£": ("英镑", "pound", "pounds"),
}
_CUR_SYM = r"(?P<sym>[¥$€£]|RMB|CNY|USD)"
_CUR_RANGE = re.compile(
    rf"{_CUR_SYM}\s*(?P<a>{_NUM})\s*(?:-|~|～|–|—|至|到|to)\s*(?:[¥$€£]|RMB|CNY|USD)?\s*(?P<b>{_NUM})"
)
_CUR_PREFIX = re.compile(rf"{_CUR_SYM}\s*(?P<a>{_NUM})")
_CUR_SUFFIX = re.compile(rf"(?P<a>{_NUM})\s*(?P<sym>[¥€£]|RMB|CNY)(?![A-Za-z])")


def _symbol(m: re.Match[str]) -> tuple[str, str, str]:
    sym = m.group("sym")
    return _CURRENCY[{"RMB": "¥", "CNY": "¥", "USD": "$"}.get(sym, sym)]


def _money_en(amount: str, sym: tuple[str, str, str]) -> str:
    amount = _plain(amount)
    if sym[1] in ("dollar", "euro", "pound") and "." in amount:
        whole, cents = amount.split(".", 1)
        cents = (cents + "0")[:2]
        sub = "cents" if sym[1] != "pound" else "pence"
        if whole == "0":
            return f"{int(cents)} {sub}"
        return f"{_plural(whole, sym[1], sym[2])} and {int(cents)} {sub}"
    return _plural(amount, sym[1], sym[2])


def _currency(text: str, lang: str) -> str:
    text = _rewrite(
        _CUR_RANGE,
        text,
        lang,
        lambda m: f"{_plain(m['a'])}到{_plain(m['b'])}{_symbol(m)[0]}",
        lambda m: f"{_plain(m['a'])} to {_plain(m['b'])} {_symbol(m)[2]}",
    )
    for pattern in (_CUR_PREFIX, _CUR_SUFFIX):
        text = _rewrite(
            pattern,
            text,
            lang,
            lambda m: f"{_plain(m['a'])}{_symbol(m)[0]}",
            lambda m: _money_en(m["a"], _symbol(m)),
        )
    return text


# --- dates and times -----------------------------------------------------------------------------------

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_ISO_DATE = re.compile(r"(?<![\d.])(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?![\d])")
_SHORT_DATE = re.compile(r"(?<![\d/.])(\d{1,2})/(\d{1,2})(?![\d/])")
_TIME = re.compile(r"(?<![\d:.])([01]?\d|2[0-3])[:：]([0-5]\d)(?![\d:])")


def _dates(text: str, lang: str) -> str:
    def iso_zh(m: re.Match[str]) -> str:
        y, mo, d = m.groups()
        if not (1 <= int(mo) <= 12 and 1 <= int(d) <= 31):
            return m.group(0)
        return f"{y}年{int(mo)}月{int(d)}日"

    def iso_en(m: re.Match[str]) -> str:
        y, mo, d = m.groups()
        if not (1 <= int(mo) <= 12 and 1 <= int(d) <= 31):
            return m.group(0)
        return f"{_MONTHS[int(mo) - 1]} {int(d)}, {y}"

    def short_zh(m: re.Match[str]) -> str:
        mo, d = m.groups()
        if not (1 <= int(mo) <= 12 and 1 <= int(d) <= 31):
            return m.group(0)
        return f"{int(mo)}月{int(d)}日"

    def time_zh(m: re.Match[str]) -> str:
        h, mi = int(m.group(1)), int(m.group(2))
        return f"{h}点" if mi == 0 else f"{h}点{mi}分"

    def time_en(m: re.Match[str]) -> str:
        h, mi = int(m.group(1)), int(m.group(2))
        half = "AM" if h < 12 else "PM"
        h12 = h % 12 or 12
        if mi == 0:
            return f"{h12} {half}"
        return f"{h12} {'oh ' if mi < 10 else ''}{mi} {half}"

    text = _rewrite(_ISO_DATE, text, lang, iso_zh, iso_en)
    text = _rewrite(_SHORT_DATE, text, lang, short_zh, lambda m: m.group(0))
    return _rewrite(_TIME, text, lang, time_zh, time_en)


# --- percentages and discounts ---------------------------------------------------------------------------

_PCT_RANGE = re.compile(rf"(?P<a>{_NUM})%?\s*(?:-|~|～|–|—|至|到)\s*(?P<b>{_NUM})%")
_PCT = re.compile(rf"(?P<a>{_NUM})\s*%")
_ZHE = re.compile(r"(?<![\d.])(?P<a>\d(?:\.\d)?)\s*折")


def _percentages(text: str, lang: str) -> str:
    text = _rewrite(
        _PCT_RANGE,
        text,
        lang,
        lambda m: f"百分之{m['a']}到{m['b']}",
        lambda m: f"{m['a']} to {m['b']} percent",
    )
    text = _rewrite(_PCT, text, lang, lambda m: f"百分之{m['a']}", lambda m: f"{m['a']} percent")

    def zhe_en(m: re.Match[str]) -> str:
        off = round(100 - float(m["a"]) * 10)
        return f"{off} percent off" if 0 < off < 100 else m.group(0)

    return _rewrite(_ZHE, text, lang, lambda m: f"{m['a']}折", zhe_en)


# --- units, sizes, ranges, model numbers ---------------------------------------------------------------

_UNITS: dict[str, tuple[str, str, str]] = {
    "mAh": ("毫安时", "milliamp hour", "milliamp hours"),
    "ml": ("毫升", "milliliter", "milliliters"),
    "mL": ("毫升", "milliliter", "milliliters"),
    "ML": ("毫升", "milliliter", "milliliters"),
    "L": ("升", "liter", "liters"),
    "l": ("升", "liter", "liters"),
    "kg": ("千克", "kilogram", "kilograms"),
    "KG": ("千克", "kilogram", "kilograms"),
    "mg": ("毫克", "milligram", "milligrams"),
    "g": ("克", "gram", "grams"),
    "km": ("公里", "kilometer", "kilometers"),
    "cm": ("厘米", "centimeter", "centimeters"),
    "mm": ("毫米", "millimeter", "millimeters"),
    "m": ("米", "meter", "meters"),
    "kW": ("千瓦", "kilowatt", "kilowatts"),
    "W": ("瓦", "watt", "watts"),
    "V": ("伏", "volt", "volts"),
    "Hz": ("赫兹", "hertz", "hertz"),
    "GB": ("G", "gigabyte", "gigabytes"),
    "TB": ("T", "terabyte", "terabytes"),
    "MB": ("兆", "megabyte", "megabytes"),
    "min": ("分钟", "minute", "minutes"),
    "pcs": ("件", "piece", "pieces"),
    "oz": ("盎司", "ounce", "ounces"),
    "°C": ("摄氏度", "degree Celsius", "degrees Celsius"),
    "℃": ("摄氏度", "degree Celsius", "degrees Celsius"),
    "°": ("度", "degree", "degrees"),
}
_UNIT = re.compile(
    rf"(?<![A-Za-z\d.])(?P<a>{_NUM})\s?(?P<u>"
    + "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
    + r")(?![A-Za-z])"
)

_SIZE_WORDS = {
    "XS": "extra small",
    "XXS": "double extra small",
    "XL": "extra large",
    "XXL": "double extra large",
    "XXXL": "triple extra large",
    "S": "small",
    "M": "medium",
    "L": "large",
}
_SIZE = re.compile(r"(?<![A-Za-z\d])(?P<s>[2-6]XL|X{1,3}L|X{1,2}S)(?![A-Za-z])")
_SIZE_LETTER = re.compile(r"(?i:\bsize\s+)(?P<s>[SML])\b|(?<![A-Za-z])(?P<z>[SML])(?=码|号)")

_RANGE = re.compile(
    rf"(?<![A-Za-z\d.\-])(?P<a>{_NUM})(?P<u>元|块|天|个|件|小时|分钟|岁|年|月|号|斤)?"
    rf"\s*(?:-|~|～|–|—)\s*(?P<b>{_NUM})(?![\d.]|-\d)"
)
_MODEL_HYPHEN = re.compile(r"(?<=[A-Za-z0-9])-(?=[A-Za-z0-9])")
_LETTER_DIGIT = re.compile(r"(?<=[A-Za-z])(?=\d)|(?<=\d)(?!XL(?![A-Za-z]))(?=[A-Za-z]{2,})")


def _sizes(text: str, lang: str) -> str:
    def canonical(s: str) -> str:
        if s.startswith("XX") and s.endswith("L"):
            return f"{s.count('X')}XL"
        return s

    def size_en(m: re.Match[str]) -> str:
        s = canonical(m["s"])
        if s[0].isdigit():
            return {"2": "double", "3": "triple"}.get(s[0], s[0] + " times") + " extra large"
        return _SIZE_WORDS.get(s, s)

    text = _rewrite(_SIZE, text, lang, lambda m: canonical(m["s"]), size_en)

    def letter(m: re.Match[str]) -> str:
        if m["s"]:
            return m.group(0)[: m.start("s") - m.start()] + _SIZE_WORDS[m["s"].upper()]
        return m.group(0)

    return _rewrite(_SIZE_LETTER, text, lang, lambda m: m.group(0), letter)


def _units(text: str, lang: str) -> str:
    return _rewrite(
        _UNIT,
        text,
        lang,
        lambda m: f"{m['a']}{_UNITS[m['u']][0]}",
        lambda m: _plural(m["a"], *_UNITS[m["u"]][1:]),
    )


def _ranges(text: str, lang: str) -> str:
    return _rewrite(
        _RANGE,
        text,
        lang,
        lambda m: f"{m['a']}{m['u'] or ''}到{m['b']}",
        lambda m: f"{m['a']}{m['u'] or ''} to {m['b']}",
    )


def _model_numbers(text: str) -> str:
    """ "RTX4090" → "RTX 4090", "XR-2000" → "XR 2000": letters and digits read as separate words."""
    text = _MODEL_HYPHEN.sub(" ", text)
    return _LETTER_DIGIT.sub(" ", text)


# --- symbols and punctuation ---------------------------------------------------------------------------

_REPEAT = re.compile(r"([!?！？。，,、;；~～\-_*=#])\1+")
_MIXED_END = re.compile(r"[!?！？]{2,}")
_ELLIPSIS = re.compile(r"\.{3,}|。{2,}|…+|(?:\.\s){2,}\.")
_SPACES = re.compile(r"[ \t\u3000\u00a0]+")
_SPACE_NEAR_CJK = re.compile(r"(?<=[\u4e00-\u9fff，。！？；：、]) (?=[\u4e00-\u9fff，。！？；：、])")


_AMPERSAND = re.compile(r"\s*&\s*")


def _symbols(text: str, lang: str) -> str:
    text = _rewrite(_AMPERSAND, text, lang, lambda m: "和", lambda m: " and ")
    text = re.sub(r"[#＃]+(?=\S)", "", text)
    text = re.sub(r"(?<![\w])@(?=\w)", "", text)
    text = re.sub(r"[【】\[\]{}<>《》|*_^=\\`]", " ", text)
    return re.sub(r"[~～]+", " ", text)


def _punctuation(text: str) -> str:
    text = _ELLIPSIS.sub("…", text)
    text = _MIXED_END.sub(lambda m: m.group(0)[0], text)
    text = _REPEAT.sub(r"\1", text)
    text = _SPACES.sub(" ", text)
    text = _SPACE_NEAR_CJK.sub("", text)
    text = re.sub(r" ?\n ?", "\n", text)
    text = re.sub(r"\n{2,}", "\n", text)
    text = re.sub(r"^[\s,，、;；:：.。!！?？…]+", "", text)
    return text.strip()


def has_speech(text: str) -> bool:
    """True when ``text`` has something to say: a letter or a digit of any script."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)


def strip_unspeakable(text: str) -> str:
    """Only the removals: URLs, e-mail addresses and emoji; whitespace collapsed."""
    text = _EMAIL.sub(" ", _URL.sub(" ", text))
    return _SPACES.sub(" ", _drop_emoji(text)).strip()


def normalize(text: str, lang: str | None = None) -> str:
    """Rewrite ``text`` the way an anchor would say it.

    Args:
        text: a line of script or an answer, Chinese, English or mixed.
        lang: "zh" or "en" for symbols with no language around them; detected from ``text`` if None.

    Returns:
        Speakable text ("¥199" → "199元", "$19.99" → "19 dollars and 99 cents"); "" if nothing is speakable.
    """
    try:
        stripped = strip_unspeakable(text)
        if not has_speech(stripped):
            return ""
        default = lang or detect_language(stripped)
        out = _halfwidth(stripped)
        out = _LONG_DIGITS.sub(lambda m: " ".join(m.group(0)), out)
        out = _THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), out)
        out = _currency(out, default)
        out = _dates(out, default)
        out = _percentages(out, default)
        out = _units(out, default)
        out = _sizes(out, default)
        out = _ranges(out, default)
        out = _model_numbers(out)
        out = _symbols(out, default)
        out = _punctuation(out)
    except Exception:  # a rewrite bug must not silence the room: fall back to the plain text
        out = ""
    if not has_speech(out):
        return _punctuation(stripped)
    return out
