"""Quantities in catalog text and conversions between the units shoppers ask in.

"承重30kg" asked "能承重多少斤" → 60斤; "12 oz" asked in ml → 355 ml; "500°F" asked in ℃ → 260℃. A
conversion is derived from a number the catalog states, so an answer may say it; nothing else is invented.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

# unit → (dimension, factor to the base unit: gram, millilitre, centimetre; temperature is special)
_UNITS: dict[str, tuple[str, Decimal]] = {
    "mg": ("mass", Decimal("0.001")),
    "g": ("mass", Decimal(1)),
    "克": ("mass", Decimal(1)),
    "kg": ("mass", Decimal(1000)),
    "公斤": ("mass", Decimal(1000)),
    "千克": ("mass", Decimal(1000)),
    "斤": ("mass", Decimal(500)),
    "两": ("mass", Decimal(50)),
    "lb": ("mass", Decimal("453.592")),
    "lbs": ("mass", Decimal("453.592")),
    "pound": ("mass", Decimal("453.592")),
    "pounds": ("mass", Decimal("453.592")),
    "oz": ("mass", Decimal("28.3495")),
    "ounce": ("mass", Decimal("28.3495")),
    "ounces": ("mass", Decimal("28.3495")),
    "ml": ("volume", Decimal(1)),
    "毫升": ("volume", Decimal(1)),
    "l": ("volume", Decimal(1000)),
    "升": ("volume", Decimal(1000)),
    "litre": ("volume", Decimal(1000)),
    "liter": ("volume", Decimal(1000)),
    "litres": ("volume", Decimal(1000)),
    "liters": ("volume", Decimal(1000)),
    "fl oz": ("volume", Decimal("29.5735")),
    "floz": ("volume", Decimal("29.5735")),
    "cup": ("volume", Decimal("236.588")),
    "cups": ("volume", Decimal("236.588")),
    "mm": ("length", Decimal("0.1")),
    "毫米": ("length", Decimal("0.1")),
    "cm": ("length", Decimal(1)),
    "厘米": ("length", Decimal(1)),
    "公分": ("length", Decimal(1)),
    "m": ("length", Decimal(100)),
    "米": ("length", Decimal(100)),
    "in": ("length", Decimal("2.54")),
    "inch": ("length", Decimal("2.54")),
    "inches": ("length", Decimal("2.54")),
    "英寸": ("length", Decimal("2.54")),
    '"': ("length", Decimal("2.54")),
    "ft": ("length", Decimal("30.48")),
    "feet": ("length", Decimal("30.48")),
    "foot": ("length", Decimal("30.48")),
    "°c": ("temperature", Decimal(1)),
    "℃": ("temperature", Decimal(1)),
    "°f": ("temperature", Decimal(1)),
    "℉": ("temperature", Decimal(1)),
}

# How a unit is written in an answer, by language.
_SHOW: dict[str, dict[str, str]] = {
    "g": {"zh": "克", "en": "g"},
    "kg": {"zh": "公斤", "en": "kg"},
    "斤": {"zh": "斤", "en": "jin"},
    "lb": {"zh": "磅", "en": "lb"},
    "oz": {"zh": "盎司", "en": "oz"},
    "ml": {"zh": "毫升", "en": "ml"},
    "l": {"zh": "升", "en": "L"},
    "fl oz": {"zh": "液量盎司", "en": "fl oz"},
    "cup": {"zh": "杯", "en": "cups"},
    "mm": {"zh": "毫米", "en": "mm"},
    "cm": {"zh": "厘米", "en": "cm"},
    "m": {"zh": "米", "en": "m"},
    "in": {"zh": "英寸", "en": "in"},
    "ft": {"zh": "英尺", "en": "ft"},
    "°c": {"zh": "℃", "en": "°C"},
    "°f": {"zh": "℉", "en": "°F"},
}

_CANONICAL = {
    "克": "g",
    "公斤": "kg",
    "千克": "kg",
    "lbs": "lb",
    "pound": "lb",
    "pounds": "lb",
    "ounce": "oz",
    "ounces": "oz",
    "毫升": "ml",
    "升": "l",
    "litre": "l",
    "liter": "l",
    "litres": "l",
    "liters": "l",
    "floz": "fl oz",
    "cups": "cup",
    "毫米": "mm",
    "厘米": "cm",
    "公分": "cm",
    "米": "m",
    "inch": "in",
    "inches": "in",
    "英寸": "in",
    '"': "in",
    "feet": "ft",
    "foot": "ft",
    "℃": "°c",
    "℉": "°f",
}

_UNIT_ALT = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True) if u not in ("两",)).replace(
    r"fl\ oz", r"fl\.?\s?oz"
)
_QUANTITY = re.compile(
    rf"(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>{_UNIT_ALT})(?![a-zA-Z])|(?P<num2>\d+(?:\.\d+)?)\s*(?P<deg>度|°)(?![cCfF])",
    re.I,
)

# The unit a question asks in ("多少斤", "how many pounds", "in ml", "华氏").
_ASKED: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"几斤|多少斤|斤"), "斤"),
    (re.compile(r"公斤|千克|\bkgs?\b|kilos?|kilograms?", re.I), "kg"),
    (re.compile(r"(?<![a-z])(?:pounds?|lbs?)(?![a-z])", re.I), "lb"),
    (re.compile(r"fl\.?\s?oz|fluid ounces?", re.I), "fl oz"),
    (re.compile(r"(?<![a-z])(?:ounces?|oz)(?![a-z])|盎司", re.I), "oz"),
    (re.compile(r"(?<![a-z])(?:grams?|g)(?![a-z])|多少克|几克", re.I), "g"),
    (re.compile(r"毫升|(?<![a-z])ml(?![a-z])|millilit", re.I), "ml"),
    (re.compile(r"(?<![a-z])(?:litres?|liters?)(?![a-z])|几升|多少升", re.I), "l"),
    (re.compile(r"(?<![a-z])cups?(?![a-z])", re.I), "cup"),
    (re.compile(r"英寸|(?<![a-z])inch(?:es)?(?![a-z])", re.I), "in"),
    (re.compile(r"(?<![a-z])(?:feet|foot|ft)(?![a-z])|英尺", re.I), "ft"),
    (re.compile(r"厘米|公分|(?<![a-z])(?:cm|centimet(?:re|er)s?)(?![a-z])", re.I), "cm"),
    (re.compile(r"毫米|(?<![a-z])(?:mm|millimet(?:re|er)s?)(?![a-z])", re.I), "mm"),
    (re.compile(r"华氏|fahrenheit|°f|℉", re.I), "°f"),
    (re.compile(r"摄氏|celsius|°c|℃", re.I), "°c"),
]


@dataclass(frozen=True, slots=True)
class Quantity:
    value: Decimal
    unit: str  # canonical unit
    text: str

    @property
    def dimension(self) -> str:
        return _UNITS[self.unit][0]


def canonical_unit(unit: str) -> str:
    u = unit.lower().replace(".", "").strip()
    if u in ("fl oz", "floz", "fl  oz"):
        return "fl oz"
    return _CANONICAL.get(u, _CANONICAL.get(unit, u))


def quantities(text: str) -> list[Quantity]:
    """Number-and-unit pairs in `text` ("30kg", "1.5 L", "500°F", "20 寸" is not a unit we convert)."""
    out: list[Quantity] = []
    for match in _QUANTITY.finditer(text):
        if match.group("num") is not None:
            unit = canonical_unit(match.group("unit"))
            if unit not in _UNITS:
                continue
            out.append(Quantity(Decimal(match.group("num")), unit, match.group(0)))
        else:
            # "260度" or "500°" without a scale: Celsius in Chinese text, else unknown.
            if match.group("deg") == "度":
                out.append(Quantity(Decimal(match.group("num2")), "°c", match.group(0)))
    return out


def asked_unit(question: str) -> str | None:
    """The unit a question asks in, or None."""
    for pattern, unit in _ASKED:
        if pattern.search(question):
            return unit
    return None


def convert(quantity: Quantity, target: str) -> Decimal | None:
    """`quantity` in `target` units, or None when the dimensions differ (or it is already in them)."""
    target = canonical_unit(target)
    if target == quantity.unit:
        return None
    if quantity.unit not in _UNITS or target not in _UNITS:
        return None
    dim_from, f_from = _UNITS[quantity.unit]
    dim_to, f_to = _UNITS[target]
    if quantity.unit == "oz" and dim_to == "volume":
        # "12 oz" on a bottle or a cup is fluid ounces.
        return convert(Quantity(quantity.value, "fl oz", quantity.text), target)
    if dim_from == "mass" and target == "fl oz":
        return None
    if dim_from != dim_to:
        # "oz" asked about a volume means fluid ounces.
        if dim_from == "volume" and target == "oz":
            return convert(quantity, "fl oz")
        return None
    if dim_from == "temperature":
        if quantity.unit == "°c" and target == "°f":
            return quantity.value * Decimal("1.8") + 32
        if quantity.unit == "°f" and target == "°c":
            return (quantity.value - 32) / Decimal("1.8")
        return None
    return quantity.value * f_from / f_to


def rounded(value: Decimal) -> Decimal:
    """A converted value rounded as a person would say it (3 significant figures, at most 1 decimal)."""
    if value == 0:
        return Decimal(0)
    magnitude = abs(value)
    places = Decimal("1") if magnitude >= 100 else Decimal("0.1") if magnitude >= 1 else Decimal("0.01")
    return value.quantize(places, rounding=ROUND_HALF_UP).normalize()


def show_unit(unit: str, lang: str) -> str:
    return _SHOW.get(unit, {}).get("zh" if lang == "zh" else "en", unit)


@dataclass(frozen=True, slots=True)
class Conversion:
    source: str  # "30kg", "105×68×17mm"
    values: tuple[Decimal, ...]  # (60,)
    unit: str  # "斤"

    @property
    def value(self) -> Decimal:
        return self.values[0]

    def text(self, lang: str) -> str:
        number = "×".join(format(v, "f") for v in self.values)
        unit = show_unit(self.unit, lang)
        if lang == "zh":
            return f"{self.source}约合{number}{unit}"
        return f"{self.source} is about {number} {unit}"


_TRIPLE = re.compile(
    rf"(?P<a>\d+(?:\.\d+)?)\s*[×xX*]\s*(?P<b>\d+(?:\.\d+)?)(?:\s*[×xX*]\s*(?P<c>\d+(?:\.\d+)?))?\s*"
    rf"(?P<unit>{_UNIT_ALT})(?![a-zA-Z])",
    re.I,
)


def conversions_for(question: str, text: str) -> list[Conversion]:
    """Conversions of the quantities in `text` into the unit the question asks in (at most three); none
    when the text already states that unit."""
    target = asked_unit(question)
    if target is None:
        return []
    found = quantities(text)
    if any(q.unit == target for q in found):
        return []
    out: list[Conversion] = []
    covered: list[tuple[int, int]] = []
    for match in _TRIPLE.finditer(text):
        unit = canonical_unit(match.group("unit"))
        numbers = [match.group(g) for g in ("a", "b", "c") if match.group(g)]
        values = [convert(Quantity(Decimal(n), unit, n), target) for n in numbers]
        if all(v is not None for v in values):
            out.append(
                Conversion(match.group(0).strip(), tuple(rounded(v) for v in values if v is not None), target)
            )
            covered.append(match.span())
    for q in found:
        if any(q.text in text[a:b] for a, b in covered):
            continue
        value = convert(q, target)
        if value is None:
            continue
        unit = (
            "fl oz"
            if q.dimension in ("volume", "mass") and q.unit in ("ml", "l", "fl oz") and target == "oz"
            else target
        )
        out.append(Conversion(q.text.strip(), (rounded(value),), unit))
    return out[:3]
