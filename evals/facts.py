"""Checks of one answer against the store: stated facts, and whether every number is supported.

The expected value of a fact is read from the `Reference` at check time (a price fact expects the
store's current price), so a dataset never hard-codes a price or a stock count.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from agent.evidence import LOW_STOCK
from evals.dataset import FactSpec
from evals.reference import Reference
from knowledge.models import Product, Variant
from knowledge.units import convert, quantities, rounded

StockState = str  # "in_stock" | "low" | "sold_out" | "unknown"

#: Words that express a stock state, per answer language.
STOCK_WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "zh": {
        "sold_out": ("售罄", "卖完", "没货", "缺货", "无货", "断货", "抢光", "没有库存", "暂无库存"),
        "low": ("仅剩", "只剩", "剩", "紧张", "不多", "少量"),
        "in_stock": ("有货", "现货", "有库存", "还有", "在售", "可以拍", "可选"),
    },
    "en": {
        "sold_out": ("sold out", "out of stock", "unavailable", "none left", "not available", "no stock"),
        "low": ("left", "low", "only", "remaining", "last"),
        "in_stock": ("in stock", "available", "can order", "have it"),
    },
}

# Sentence ends: Chinese and English punctuation, and a full stop that is not a decimal point.
_CLAUSE = re.compile(r"[。！？!?；;\n]|\.(?=\s|$)")
# Numbers anywhere, also right after a letter or a Chinese character ("仅剩4件", "SPF50", "42dB").
_NUMBER = re.compile(r"(?<![\d.,])(\d+(?:[.,]\d+)*)(?!\d)")
# Pieces of an attribute value that an answer may state on their own.
_VALUE_PIECES = re.compile(r"[，,；;、（()）/]")


def numbers(text: str) -> set[Decimal]:
    """Every number written in `text`, normalised (``1,299.00`` → 1299; "3,5" also as 3.5).

    Unlike a word-boundary match this finds numbers glued to letters or Chinese characters, which is
    how Chinese answers write them ("仅剩4件", "约200g").
    """
    found: set[Decimal] = set()
    for match in _NUMBER.finditer(text):
        raw = match.group(1)
        candidates = {raw.replace(",", "")}
        if raw.count(",") == 1 and "." not in raw:
            candidates.add(raw.replace(",", "."))
        for candidate in candidates:
            try:
                found.add(Decimal(candidate).normalize())
            except InvalidOperation:
                continue
    return found


@dataclass(frozen=True, slots=True)
class FactCheck:
    """The outcome of one fact: what was expected (from the store) and whether the answer states it."""

    kind: str
    sku: str
    ok: bool
    expected: str
    detail: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "sku": self.sku,
            "ok": self.ok,
            "expected": self.expected,
            "detail": self.detail,
        }


def stock_state(stock: int | None) -> StockState:
    if stock is None:
        return "unknown"
    if stock <= 0:
        return "sold_out"
    if stock <= LOW_STOCK:
        return "low"
    return "in_stock"


def _fold(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def _has_any(text: str, words: Iterable[str]) -> bool:
    folded = _fold(text)
    return any(w in folded for w in words)


def expresses_state(text: str, state: StockState, count: int | None, lang: str) -> bool:
    """True when `text` says `state` in `lang`: in stock; low with the count; sold out."""
    words = STOCK_WORDS["zh" if lang == "zh" else "en"]
    sold_out = _has_any(text, words["sold_out"])
    if state == "sold_out":
        return sold_out
    if sold_out:
        return False
    if state == "low":
        has_count = count is not None and Decimal(count) in numbers(text)
        return has_count and (_has_any(text, words["low"]) or _has_any(text, words["in_stock"]))
    if state == "in_stock":
        return _has_any(text, words["in_stock"])
    return True


def clauses(text: str) -> list[str]:
    return [c for c in (p.strip() for p in _CLAUSE.split(text)) if c]


def _money(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _check_price(answer: str, fact: FactSpec, ref: Reference, list_price: bool) -> FactCheck:
    product = ref.product(fact.sku)
    variant = ref.variant(fact.sku)
    if product is None:
        return FactCheck(fact.kind, fact.sku, False, "?", "sku not in the store")
    if list_price:
        value = product.list_price
    else:
        value = variant.price if variant is not None and variant.price is not None else product.price
    if value is None:
        return FactCheck(fact.kind, fact.sku, True, "not listed", "the store lists no value; not checked")
    ok = value.normalize() in numbers(answer)
    return FactCheck(fact.kind, fact.sku, ok, _money(value), "" if ok else f"{_money(value)} not stated")


def _check_stock(answer: str, fact: FactSpec, ref: Reference, lang: str) -> FactCheck:
    product = ref.product(fact.sku)
    variant = ref.variant(fact.sku)
    if product is None:
        return FactCheck(fact.kind, fact.sku, False, "?", "sku not in the store")
    count = variant.stock if variant is not None else product.total_stock()
    state = stock_state(count)
    expected = f"{state} ({count})" if state == "low" else state
    ok = expresses_state(answer, state, count, lang)
    return FactCheck(fact.kind, fact.sku, ok, expected, "" if ok else f"answer does not say {expected}")


def _targets(product: Product, fact: FactSpec, ref: Reference) -> list[Variant]:
    variant = ref.variant(fact.sku)
    if variant is not None:
        return [variant]
    wanted = _fold(fact.value or "")
    return [v for v in product.variants if any(_fold(o) == wanted for o in v.options.values())]


def _variant_said(answer: str, variant: Variant, lang: str) -> bool:
    values = [_fold(v) for v in variant.options.values()]
    state = stock_state(variant.stock)
    for clause in clauses(answer):
        folded = _fold(clause)
        if all(v in folded for v in values) and expresses_state(clause, state, variant.stock, lang):
            return True
    return False


def _check_variant(answer: str, fact: FactSpec, ref: Reference, lang: str) -> FactCheck:
    product = ref.product(fact.sku)
    if product is None:
        return FactCheck(fact.kind, fact.sku, False, "?", "sku not in the store")
    targets = _targets(product, fact, ref)
    if not targets:
        return FactCheck(fact.kind, fact.sku, False, "?", f"no variant with option {fact.value!r}")
    states = {stock_state(v.stock) for v in targets}
    expected = ", ".join(f"{'/'.join(v.options.values())}: {stock_state(v.stock)}" for v in targets)
    if all(_variant_said(answer, v, lang) for v in targets):
        return FactCheck(fact.kind, fact.sku, True, expected)
    # One shared state may be said once for the asked option value ("XL有货").
    if len(states) == 1 and fact.value:
        state = next(iter(states))
        counts = {v.stock for v in targets}
        count = next(iter(counts)) if len(counts) == 1 else None
        for clause in clauses(answer):
            if _fold(fact.value) in _fold(clause) and expresses_state(
                clause, "in_stock" if state == "low" and count is None else state, count, lang
            ):
                return FactCheck(fact.kind, fact.sku, True, expected)
    return FactCheck(fact.kind, fact.sku, False, expected, "variant stock not stated correctly")


def _tokens(text: str) -> set[str]:
    """Latin words of three or more letters and Chinese character pairs, lower-cased."""
    folded = _fold(text)
    words = set(re.findall(r"[a-z]{3,}", folded))
    for run in re.findall(r"[\u4e00-\u9fff]+", folded):
        words |= {run[i : i + 2] for i in range(max(1, len(run) - 1))}
    return words


def _piece_stated(piece: str, answer: str) -> bool:
    """`piece` is in `answer` verbatim, or at least 3/4 of its words are (a paraphrase that keeps them)."""
    if _fold(piece) in _fold(answer):
        return True
    wanted = _tokens(piece)
    return len(wanted) >= 2 and len(wanted & _tokens(answer)) >= 0.75 * len(wanted)


def _check_attribute(answer: str, fact: FactSpec, ref: Reference) -> FactCheck:
    """The answer states the attribute's headline: the numbers of its first piece (all of its numbers,
    or the first piece itself, also do), or, for a value without numbers, any piece of it
    ("不能加热", "not waterproof")."""
    product = ref.product(fact.sku)
    name = fact.field or ""
    if product is None:
        return FactCheck(fact.kind, fact.sku, False, "?", "sku not in the store")
    value = product.attributes.get(name)
    if value is None:
        return FactCheck(fact.kind, fact.sku, False, "?", f"the store has no attribute {name!r}")
    pieces = [p.strip() for p in _VALUE_PIECES.split(value) if len(p.strip()) >= 2] or [value]
    stated = numbers(answer)
    if numbers(value):
        head = numbers(pieces[0])
        ok = (bool(head) and head <= stated) or numbers(value) <= stated or _piece_stated(pieces[0], answer)
    else:
        ok = any(_piece_stated(p, answer) for p in pieces)
    return FactCheck(fact.kind, fact.sku, ok, f"{name}: {value}", "" if ok else "not stated")


def option_values(product: Product, option: str) -> list[str]:
    """The distinct values of one option (``颜色``) over the product's variants, in catalog order."""
    wanted = _fold(option)
    found: list[str] = []
    for variant in product.variants:
        for name, value in variant.options.items():
            if _fold(name) == wanted and value not in found:
                found.append(value)
    return found


def _names_value(answer: str, value: str) -> bool:
    """`value` is written in `answer`; a value that starts or ends with a letter or digit must not run
    on into another one ("XL" is not named by "XXL", "M" not by "Medium")."""
    folded = _fold(value)
    if not folded:
        return True
    before = r"(?<![a-z0-9])" if re.match(r"[a-z0-9]", folded) else ""
    after = r"(?![a-z0-9])" if re.search(r"[a-z0-9]$", folded) else ""
    return re.search(before + re.escape(folded) + after, _fold(answer)) is not None


def _check_options(answer: str, fact: FactSpec, ref: Reference) -> FactCheck:
    """An enumeration ("有哪些颜色"): the answer names every value the store lists for the option."""
    product = ref.product(fact.sku)
    option = fact.field or ""
    if product is None:
        return FactCheck(fact.kind, fact.sku, False, "?", "sku not in the store")
    values = option_values(product, option)
    if not values:
        return FactCheck(fact.kind, fact.sku, False, "?", f"the store has no option {option!r}")
    missing = [v for v in values if not _names_value(answer, v)]
    expected = f"{option}: {', '.join(values)}"
    return FactCheck(
        fact.kind, fact.sku, not missing, expected, f"not named: {', '.join(missing)}" if missing else ""
    )


def check_fact(answer: str, fact: FactSpec, ref: Reference, lang: str) -> FactCheck:
    """Check one fact of `answer` (written in `lang`) against the store."""
    if fact.kind in ("price", "list_price"):
        return _check_price(answer, fact, ref, fact.kind == "list_price")
    if fact.kind == "option_values":
        return _check_options(answer, fact, ref)
    if fact.kind == "stock_state":
        return _check_stock(answer, fact, ref, lang)
    if fact.kind in ("variant_available", "variant_sold_out"):
        return _check_variant(answer, fact, ref, lang)
    return _check_attribute(answer, fact, ref)


# -- groundedness ----------------------------------------------------------------------------------
def product_numbers(product: Product) -> set[Decimal]:
    """Every number the product's store record states, plus its derived figures (saving, total stock)."""
    record = json.dumps(product.to_dict(), ensure_ascii=False)
    found = numbers(record)
    for value in (product.price, product.list_price):
        if value is not None:
            found.add(value.normalize())
    if product.price is not None and product.list_price is not None and product.list_price > product.price:
        found.add((product.list_price - product.price).normalize())
    total = product.total_stock()
    if total is not None:
        found.add(Decimal(total))
    for variant in product.variants:
        if variant.price is not None:
            found.add(variant.price.normalize())
    return found | converted_numbers(record)


_TARGET_UNITS = (
    "g",
    "kg",
    "斤",
    "lb",
    "oz",
    "ml",
    "l",
    "fl oz",
    "cup",
    "mm",
    "cm",
    "m",
    "in",
    "ft",
    "°c",
    "°f",
)


def converted_numbers(text: str) -> set[Decimal]:
    """The catalog's quantities in every other unit, rounded as the answers round them: an answer may
    state "3.6kg约合7.2斤" (derived evidence), and nothing else new."""
    out: set[Decimal] = set()
    for quantity in quantities(text):
        for unit in _TARGET_UNITS:
            value = convert(quantity, unit)
            if value is not None:
                out.add(rounded(value))
    return out


def unsupported_numbers(
    answer: str,
    citations: Sequence[dict[str, str]],
    ref: Reference,
    *,
    context: Sequence[str] = (),
    focus_sku: str | None = None,
    ignore: Sequence[str] = (),
) -> list[str]:
    """Numbers in `answer` found neither in the cited products and documents nor in `context`.

    Args:
        answer: The answer text.
        citations: The answer's citations (``{"sku", "field"}`` or ``{"document", "heading"}``).
        ref: The store's products and documents.
        context: Texts the answer may repeat numbers from (the conversation's own messages).
        focus_sku: The product in focus, treated as cited.
        ignore: Substrings removed before the check (e.g. the ticket id).
    """
    text = answer
    for piece in ignore:
        if piece:
            text = text.replace(piece, " ")
    stated = numbers(text)
    if not stated:
        return []
    supported: set[Decimal] = set()
    for message in context:
        supported |= numbers(message)
    skus = {c["sku"] for c in citations if c.get("sku")}
    if focus_sku:
        skus.add(focus_sku)
    for sku in skus:
        product = ref.product(sku)
        if product is not None:
            supported |= product_numbers(product)
    for cite in citations:
        doc = cite.get("document")
        if doc:
            supported |= numbers(ref.section_text(doc, cite.get("heading")))
    return sorted(_money(n) for n in stated - supported)
