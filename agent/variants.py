"""Which of a product's variants a question names ("有XL吗", "does it come in red", "黑色M码还有吗")."""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge.models import Product, Variant

# Colour words across the two languages, so "红色" finds a variant named "Red" and back.
# Chinese forms carry 色 (or are two-character names) so 口红 (lipstick) is not "red" and 白菜 not "white".
_COLOURS: dict[str, tuple[str, ...]] = {
    "red": ("红色", "大红", "正红", "酒红", "red", "burgundy"),
    "black": ("黑色", "纯黑", "曜石黑", "black"),
    "white": ("白色", "纯白", "米白", "奶白", "white", "ivory"),
    "blue": ("蓝色", "深蓝", "浅蓝", "天蓝", "藏青", "藏蓝", "blue", "navy"),
    "pink": ("粉色", "粉红", "樱花粉", "pink"),
    "grey": ("灰色", "浅灰", "深灰", "grey", "gray"),
    "green": ("绿色", "墨绿", "军绿", "green", "olive", "sage"),
    "yellow": ("黄色", "姜黄", "yellow", "mustard"),
    "purple": ("紫色", "香芋紫", "purple", "lavender", "lilac"),
    "beige": ("米色", "杏色", "燕麦色", "beige", "cream", "oatmeal"),
    "brown": ("棕色", "咖啡色", "驼色", "brown", "camel", "tan"),
    "orange": ("橙色", "橘色", "orange"),
    "khaki": ("卡其", "卡其色", "khaki"),
    "silver": ("银色", "silver"),
    "gold": ("金色", "gold"),
}
_WORD = re.compile(r"[a-z]+")
# An option value such as 石墨黑 or 雾霾蓝 names its family by its last character.
_VALUE_TAIL = {
    "红": "red",
    "黑": "black",
    "白": "white",
    "蓝": "blue",
    "粉": "pink",
    "灰": "grey",
    "绿": "green",
    "黄": "yellow",
    "紫": "purple",
    "棕": "brown",
    "橙": "orange",
    "金": "gold",
    "银": "silver",
}
_SIZE = re.compile(r"(?<![A-Za-z0-9])(XXS|XS|S|M|L|XL|XXL|XXXL|[2-5]XL)(?![A-Za-z0-9])", re.I)
# Numeric sizes: "27码", "44号", "size 9", "US 10.5", "EU42".
_NUMERIC_SIZE = re.compile(
    r"(\d{1,2}(?:\.5)?)\s*(?:码|号|寸)|\b(?:size|us|eu|uk)\s*(\d{1,2}(?:\.5)?)\b", re.I
)
_LONE_SML = re.compile(r"^[sml]$", re.I)


def _value_family(value: str) -> str | None:
    """The colour family of an option value ("石墨黑" → black, "Rose Gold" → gold)."""
    family = _colour_family(value)
    if family is not None:
        return family
    tail = value.strip().removesuffix("色")[-1:]
    return _VALUE_TAIL.get(tail)


def _colour_family(text: str) -> str | None:
    lowered = text.lower()
    latin = set(_WORD.findall(lowered))
    for family, words in _COLOURS.items():
        for w in words:
            if (w in latin) if w.isascii() else (w in lowered):
                return family
    return None


@dataclass(frozen=True, slots=True)
class VariantQuery:
    """The variants a question asks for, and the named options the product lacks."""

    matched: tuple[Variant, ...]
    missing: tuple[str, ...]
    named: tuple[str, ...]


def _sizes_in(question: str) -> set[str]:
    sizes: set[str] = set()
    for match in _SIZE.finditer(question):
        token = match.group(1)
        # A lone lowercase s/m/l is an English word far more often than a size.
        if _LONE_SML.match(token) and not token.isupper():
            before = question[max(0, match.start() - 6) : match.start()].lower()
            after = question[match.end() : match.end() + 1]
            if "size" not in before and after != "码":
                continue
        sizes.add(token.upper())
    for match in _NUMERIC_SIZE.finditer(question):
        sizes.add(match.group(1) or match.group(2))
    return sizes


_PART = re.compile(r"[\s/()（）,，·|+-]+")


def _names_value(value: str, lowered_question: str) -> bool:
    """True when the question names the option value or a distinctive part of it ("豆沙" of "M05 豆沙")."""
    v = value.lower()
    if len(v) >= 2 and v in lowered_question:
        return True
    parts = [p for p in _PART.split(v) if len(p) >= 2 and not p.isdigit()]
    return any(p in lowered_question for p in parts)


def _size_key(value: str) -> str:
    """ "XL", "44", "9.5" from an option value such as "XL", "44码", "US 9.5"."""
    v = value.strip().upper()
    match = re.search(r"(\d{1,2}(?:\.5)?)", v)
    if match and not re.search(r"[A-Z]{2,}", v.replace("US", "").replace("EU", "").replace("UK", "")):
        return match.group(1)
    return v


def _is_size_value(value: str) -> bool:
    v = value.strip().upper()
    if v in {"XXS", "XS", "S", "M", "L", "XL", "XXL", "XXXL"} or re.fullmatch(r"[2-5]XL", v):
        return True
    return bool(re.fullmatch(r"(?:US|EU|UK)?\s*\d{1,2}(?:\.5)?\s*(?:码|号)?", v))


def match_variants(product: Product, question: str) -> VariantQuery:
    """Variants of `product` whose options the question names; sizes, colours, and other values."""
    if not product.variants:
        return VariantQuery((), (), ())
    sizes = _sizes_in(question)
    colour = _colour_family(question)
    lowered = question.lower()
    named: list[str] = sorted(sizes)
    if colour:
        named.append(colour)

    def value_named(value: str) -> bool:
        v = value.strip()
        if _is_size_value(v):
            return bool(sizes) and _size_key(v) in sizes
        if _names_value(v, lowered):
            return True
        family = _value_family(v)
        return colour is not None and family == colour

    # For every option the question names a value of (colour, size, flavour …), the variant must
    # have one of the named values: "black 32x32" is Black/32x32, not every black or every 32x32.
    named_by_option: dict[str, set[str]] = {}
    for variant in product.variants:
        for option, value in variant.options.items():
            if value_named(value):
                named_by_option.setdefault(option, set()).add(value)
    matched = tuple(
        v
        for v in product.variants
        if named_by_option and all(v.options.get(o) in values for o, values in named_by_option.items())
    )
    # Other option values named literally ("原味", "500g", "Matcha").
    for variant in matched:
        for value in variant.options.values():
            if value not in named and len(value) >= 2 and value.lower() in lowered:
                named.append(value)
    missing: list[str] = []
    all_values = [val for v in product.variants for val in v.options.values()]
    for size in sizes:
        known = any(_is_size_value(val) for val in all_values)
        if known and all(_size_key(val) != size for val in all_values):
            missing.append(size)
    has_colours = any(_value_family(val) for val in all_values)
    if colour is not None and has_colours and not any(_value_family(val) == colour for val in all_values):
        missing.append(colour)
    return VariantQuery(matched, tuple(missing), tuple(named))


def option_values(product: Product) -> dict[str, list[str]]:
    """Option name → distinct values, in catalog order (e.g. {"尺码": ["S", "M", "L"]})."""
    values: dict[str, list[str]] = {}
    for variant in product.variants:
        for name, value in variant.options.items():
            bucket = values.setdefault(name, [])
            if value not in bucket:
                bucket.append(value)
    return values


def available_values(product: Product) -> dict[str, list[str]]:
    """Like `option_values`, keeping only values with at least one variant in stock (or stock unknown)."""
    values: dict[str, list[str]] = {}
    for variant in product.variants:
        if variant.stock is not None and variant.stock <= 0:
            continue
        for name, value in variant.options.items():
            bucket = values.setdefault(name, [])
            if value not in bucket:
                bucket.append(value)
    return values
