"""Which of a product's variants a question names ("有XL吗", "does it come in red", "黑色M码还有吗")."""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge.models import Product, Variant

# Colour words across the two languages, so "红色" finds a variant named "Red" and back.
_COLOURS: dict[str, tuple[str, ...]] = {
    "red": ("红", "红色", "red"),
    "black": ("黑", "黑色", "black"),
    "white": ("白", "白色", "white"),
    "blue": ("蓝", "蓝色", "blue", "navy", "藏青", "藏蓝"),
    "pink": ("粉", "粉色", "粉红", "pink"),
    "grey": ("灰", "灰色", "grey", "gray"),
    "green": ("绿", "绿色", "green"),
    "yellow": ("黄", "黄色", "yellow"),
    "purple": ("紫", "紫色", "purple"),
    "beige": ("米色", "米白", "杏色", "beige", "cream"),
    "brown": ("棕", "棕色", "咖啡色", "brown"),
    "orange": ("橙", "橙色", "orange"),
    "khaki": ("卡其", "卡其色", "khaki"),
    "silver": ("银", "银色", "silver"),
    "gold": ("金", "金色", "gold"),
}
_SIZE = re.compile(r"(?<![A-Za-z])(XXS|XS|S|M|L|XL|XXL|XXXL|[2-5]XL)(?![A-Za-z])", re.I)
_LONE_SML = re.compile(r"^[sml]$", re.I)


def _colour_family(text: str) -> str | None:
    lowered = text.lower()
    for family, words in _COLOURS.items():
        if any(w in lowered for w in words):
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
    return sizes


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

    def option_hit(variant: Variant) -> bool:
        checks: list[bool] = []
        for value in variant.options.values():
            v = value.strip()
            if v.upper() in {"XXS", "XS", "S", "M", "L", "XL", "XXL", "XXXL"} or re.fullmatch(
                r"[2-5]XL", v.upper()
            ):
                if sizes:
                    checks.append(v.upper() in sizes)
            elif colour is not None and _colour_family(v) is not None:
                checks.append(_colour_family(v) == colour)
            elif len(v) >= 2 and v.lower() in lowered:
                checks.append(True)
        return bool(checks) and all(checks)

    matched = tuple(v for v in product.variants if option_hit(v))
    # Other option values named literally ("原味", "500g", "Matcha").
    for variant in matched:
        for value in variant.options.values():
            if value not in named and len(value) >= 2 and value.lower() in lowered:
                named.append(value)
    missing: list[str] = []
    all_values = [val for v in product.variants for val in v.options.values()]
    for size in sizes:
        if all(val.upper() != size for val in all_values) and any(_SIZE.fullmatch(val) for val in all_values):
            missing.append(size)
    has_colours = any(_colour_family(val) for val in all_values)
    if colour is not None and has_colours and not any(_colour_family(val) == colour for val in all_values):
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
