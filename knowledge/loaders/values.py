"""Parsing one cell into a typed value.

Each parser raises `ValueProblem` with a message a merchant can act on.
"""

from __future__ import annotations

import json
import math
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Literal

from knowledge.loaders.text import clean_text, normalise_number_text, shorten

#: Prices above this are almost certainly a typo (an order id or a barcode pasted into the price).
MAX_PRICE = Decimal("10000000")
MAX_STOCK = 1_000_000_000
_CENT = Decimal("0.01")

ListKind = Literal["selling_points", "tags", "images"]


class ValueProblem(ValueError):
    """A cell that cannot become the value its column promises. `str()` is the message."""


def type_name(value: object) -> str:
    """The JSON name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not clean_text(value))


# Currency marks written around a price, and the ISO code each implies.
_CURRENCY_MARKS: tuple[tuple[str, str], ...] = (
    ("人民币", "CNY"),
    ("美元", "USD"),
    ("港币", "HKD"),
    ("港元", "HKD"),
    ("欧元", "EUR"),
    ("rmb", "CNY"),
    ("cny", "CNY"),
    ("元", "CNY"),
    ("¥", "CNY"),
    ("us$", "USD"),
    ("usd", "USD"),
    ("hk$", "HKD"),
    ("hkd", "HKD"),
    ("$", "USD"),
    ("eur", "EUR"),
    ("€", "EUR"),
    ("gbp", "GBP"),
    ("£", "GBP"),
)
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_GROUPED_NUMBER = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?")
_RANGE = re.compile(r"\d+(\.\d+)?[-~～至]\d+(\.\d+)?")


def _number_text(value: str) -> tuple[str, str | None]:
    """Strip currency marks and thousands separators; return the bare number and the implied currency."""
    text = normalise_number_text(value)
    currency: str | None = None
    lowered = text.casefold()
    for mark, code in _CURRENCY_MARKS:
        if mark in lowered:
            lowered = lowered.replace(mark, "")
            currency = currency or code
    if _GROUPED_NUMBER.fullmatch(lowered):
        lowered = lowered.replace(",", "")
    return lowered, currency


def parse_price(raw: object, what: str = "price") -> tuple[Decimal | None, str | None]:
    """A price as Decimal with two places, plus the currency its text implies ("$19.99" → USD).

    Blank is None (price not listed). Negative, non-numeric and absurdly large values are problems.
    """
    if is_blank(raw):
        return None, None
    currency: str | None = None
    if isinstance(raw, bool) or not isinstance(raw, str | int | float | Decimal):
        raise ValueProblem(f"expected a number or numeric string, got {type_name(raw)}")
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise ValueProblem(f"{what} {raw} is not a number")
        amount = Decimal(repr(raw))
    elif isinstance(raw, int | Decimal):
        amount = Decimal(raw)
    else:
        text, currency = _number_text(raw)
        if _RANGE.fullmatch(text):
            raise ValueProblem(
                f"{what} '{shorten(raw)}' is a range; give one price (put different prices on variants)"
            )
        if not _PLAIN_NUMBER.fullmatch(text):
            raise ValueProblem(f"{what} '{shorten(raw)}' is not a number")
        try:
            amount = Decimal(text)
        except InvalidOperation as exc:  # pragma: no cover - the pattern above admits only numbers
            raise ValueProblem(f"{what} '{shorten(raw)}' is not a number") from exc
    if amount < 0:
        raise ValueProblem(f"{what} must not be negative (got {shorten(str(raw))})")
    if amount > MAX_PRICE:
        raise ValueProblem(f"{what} {shorten(str(raw))} is over {MAX_PRICE:,}; check the number")
    return amount.quantize(_CENT, rounding=ROUND_HALF_UP), currency


def parse_stock(raw: object, what: str = "stock") -> int | None:
    """A whole, non-negative number of items. "12" and "12.0" are fine; "12.5" and "many" are not."""
    if is_blank(raw):
        return None
    if isinstance(raw, bool) or not isinstance(raw, str | int | float | Decimal):
        raise ValueProblem(f"expected a whole number, got {type_name(raw)}")
    shown = shorten(str(raw))
    if isinstance(raw, str):
        text = normalise_number_text(raw).casefold()
        text = re.sub(r"(件|个|pcs|pc)$", "", text)
        if _GROUPED_NUMBER.fullmatch(text):
            text = text.replace(",", "")
        if not _PLAIN_NUMBER.fullmatch(text):
            raise ValueProblem(f"{what} '{shown}' is not a whole number")
        number = Decimal(text)
    elif isinstance(raw, float):
        if not math.isfinite(raw):
            raise ValueProblem(f"{what} {raw} is not a whole number")
        number = Decimal(repr(raw))
    else:
        number = Decimal(raw)
    if number != number.to_integral_value():
        raise ValueProblem(f"{what} '{shown}' is not a whole number")
    if number < 0:
        raise ValueProblem(f"{what} must not be negative (got {shown})")
    if number > MAX_STOCK:
        raise ValueProblem(f"{what} {shown} is over {MAX_STOCK:,}; check the number")
    return int(number)


def parse_text(raw: object) -> str:
    """A text cell. Numbers are accepted (a numeric sku), written without a spurious '.0'."""
    if raw is None:
        return ""
    if isinstance(raw, str):
        return clean_text(raw)
    if isinstance(raw, bool):
        raise ValueProblem(f"expected text, got {type_name(raw)}")
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, int | float | Decimal):
        return str(raw)
    raise ValueProblem(f"expected text, got {type_name(raw)}")


_LIST_SPLIT = re.compile(r"[\n|;；]+")
_TAG_SPLIT = re.compile(r"[\n|;；,，、]+")
# A number is list numbering only when a separator follows it: "1. 透气" or "1、透气", never "1.75L".
_BULLET = re.compile(r"^\s*(?:[-*•·●▪]\s*|\d{1,2}(?:[.)]\s+|[、）)])\s*|[（(]\d{1,2}[)）]\s*)")


def parse_list(raw: object, kind: ListKind) -> list[str]:
    """A list cell: a JSON list, or text split on new lines, '|' and ';' (tags also on ',' and '、').

    Leading bullets and numbering ("1、", "- ") are dropped; empty and repeated items are left out.
    """
    if is_blank(raw):
        return []
    if isinstance(raw, list | tuple):
        items: list[str] = []
        for position, item in enumerate(raw, start=1):
            if isinstance(item, bool) or not isinstance(item, str | int | float):
                raise ValueProblem(f"item {position} of the list: expected text, got {type_name(item)}")
            items.append(parse_text(item))
    elif isinstance(raw, str):
        text = clean_text(raw)
        if text.startswith("[") and text.endswith("]"):
            try:
                decoded = json.loads(text)
            except json.JSONDecodeError:
                decoded = None
            if isinstance(decoded, list):
                return parse_list(decoded, kind)
        splitter = _TAG_SPLIT if kind == "tags" else _LIST_SPLIT
        items = splitter.split(text)
    else:
        raise ValueProblem(f"expected a list or text, got {type_name(raw)}")
    seen: set[str] = set()
    result: list[str] = []
    for item in items:
        cleaned = clean_text(_BULLET.sub("", item) if kind == "selling_points" else item)
        if kind == "tags":
            cleaned = cleaned.lstrip("#")
        if cleaned and cleaned not in seen:
            seen.add(cleaned)
            result.append(cleaned)
    return result


_PAIR_SPLIT = re.compile(r"[\n|;；]+")
_KEY_VALUE = re.compile(r"^([^:：=]+)[:：=](.*)$", re.DOTALL)


def parse_attributes(raw: object) -> dict[str, str]:
    """Attributes as a JSON object or as text "材质:棉; 产地:浙江" (pairs split on ';', '|' or new lines)."""
    if is_blank(raw):
        return {}
    if isinstance(raw, str):
        text = clean_text(raw)
        if text.startswith("{"):
            try:
                decoded = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueProblem(f"attributes look like JSON but are not valid JSON ({exc.msg})") from exc
            return parse_attributes(decoded)
        result: dict[str, str] = {}
        for piece in _PAIR_SPLIT.split(text):
            piece = clean_text(piece)
            if not piece:
                continue
            match = _KEY_VALUE.match(piece)
            if match is None or not clean_text(match.group(1)):
                raise ValueProblem(f"attribute '{shorten(piece)}' is not written as 'name: value'")
            result[clean_text(match.group(1))] = clean_text(match.group(2))
        return result
    if isinstance(raw, dict):
        result = {}
        for key, value in raw.items():
            if isinstance(value, list | dict):
                raise ValueProblem(f"attribute '{key}': expected text, got {type_name(value)}")
            result[clean_text(str(key))] = "" if value is None else parse_text(value)
        return result
    raise ValueProblem(f"expected an object or 'name: value' text, got {type_name(raw)}")


_CURRENCY_WORDS = {
    "人民币": "CNY",
    "元": "CNY",
    "rmb": "CNY",
    "¥": "CNY",
    "美元": "USD",
    "$": "USD",
    "us$": "USD",
    "港币": "HKD",
    "港元": "HKD",
    "欧元": "EUR",
    "€": "EUR",
    "英镑": "GBP",
    "£": "GBP",
    "日元": "JPY",
}


def parse_currency(raw: object) -> str | None:
    """An ISO 4217 code ("CNY", "usd", "人民币" → "CNY"); None when blank."""
    text = normalise_number_text(parse_text(raw))
    if not text:
        return None
    code = _CURRENCY_WORDS.get(text.casefold(), text.upper())
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise ValueProblem(f"currency '{shorten(text)}' is not a 3-letter code such as CNY or USD")
    return code


_LOCALE_WORDS = {
    "中文": "zh",
    "简体中文": "zh",
    "汉语": "zh",
    "chinese": "zh",
    "英文": "en",
    "英语": "en",
    "english": "en",
}


def parse_locale(raw: object) -> str | None:
    """A language tag ("zh", "en", "zh-CN"; "中文"/"English" are understood); None when blank."""
    text = parse_text(raw)
    if not text:
        return None
    word = _LOCALE_WORDS.get(text.casefold())
    if word:
        return word
    if not re.fullmatch(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*", text):
        raise ValueProblem(f"locale '{shorten(text)}' is not a language tag such as zh or en")
    primary, *rest = re.split(r"[-_]", text)
    return "-".join([primary.lower(), *(part.upper() if len(part) == 2 else part for part in rest)])
