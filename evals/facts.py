"""Checks of one answer against the store: stated facts, and whether every number is supported.

The expected value of a fact is read from the `Reference` at check time (a price fact expects the
store's current price), so a dataset never hard-codes a price or a stock count.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from agent.evidence import LOW_STOCK, numbers_in
from evals.dataset import FactSpec
from evals.reference import Reference
from knowledge.models import Product, Variant

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

_CLAUSE = re.compile(r"[。！？!?；;\n]|(?<![\d])[.,，](?![\d])")


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
        has_count = count is not None and Decimal(count) in numbers_in(text)
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
    ok = value.normalize() in numbers_in(answer)
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


def _check_attribute(answer: str, fact: FactSpec, ref: Reference) -> FactCheck:
    product = ref.product(fact.sku)
    name = fact.field or ""
    if product is None:
        return FactCheck(fact.kind, fact.sku, False, "?", "sku not in the store")
    value = product.attributes.get(name)
    if value is None:
        return FactCheck(fact.kind, fact.sku, False, "?", f"the store has no attribute {name!r}")
    head = re.split(r"[，,；;（(]", value, maxsplit=1)[0].strip()
    numbers = numbers_in(value)
    ok = _fold(head) in _fold(answer) or (bool(numbers) and numbers <= numbers_in(answer))
    return FactCheck(fact.kind, fact.sku, ok, f"{name}: {value}", "" if ok else f"{head!r} not stated")


def check_fact(answer: str, fact: FactSpec, ref: Reference, lang: str) -> FactCheck:
    """Check one fact of `answer` (written in `lang`) against the store."""
    if fact.kind in ("price", "list_price"):
        return _check_price(answer, fact, ref, fact.kind == "list_price")
    if fact.kind == "stock_state":
        return _check_stock(answer, fact, ref, lang)
    if fact.kind in ("variant_available", "variant_sold_out"):
        return _check_variant(answer, fact, ref, lang)
    return _check_attribute(answer, fact, ref)


# -- groundedness ----------------------------------------------------------------------------------
def product_numbers(product: Product) -> set[Decimal]:
    """Every number the product's store record states, plus its derived figures (saving, total stock)."""
    record = json.dumps(product.to_dict(), ensure_ascii=False)
    found = numbers_in(record)
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
    return found


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
    stated = numbers_in(text)
    if not stated:
        return []
    supported: set[Decimal] = set()
    for message in context:
        supported |= numbers_in(message)
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
            supported |= numbers_in(ref.section_text(doc, cite.get("heading")))
    return sorted(_money(n) for n in stated - supported)
