"""Recommendations ("推荐一款适合油皮的", "a gift for dad under 200") and comparisons ("A和B哪个好").

Both pick products with the retriever and read their facts from the store; the writer states only
those facts (never "A is better": the shopper is told what each one offers).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from decimal import Decimal

from knowledge.models import Product
from knowledge.retriever import HybridRetriever, ProductHit
from knowledge.store import CatalogStore

_BUDGET = re.compile(
    r"(?:under|below|less than|max|within|up to|不超过|低于|少于|以内|以下|预算)\s*[¥$￥]?\s*(\d+(?:\.\d+)?)|"
    r"[¥$￥]?\s*(\d+(?:\.\d+)?)\s*(?:元|块)?\s*(?:以内|以下|之内|左右)",
    re.I,
)
_SPLIT = re.compile(r"\s*(?:和|跟|与|还是|对比|比较|比|vs\.?|versus|or|and|compared to)\s*", re.I)
_COMPARE_NOISE = re.compile(
    r"哪个好|哪个更好|哪款好|哪个更|有什么区别|有啥区别|区别|什么不同|有什么不同|哪个划算|选哪个|"
    r"which is better|which one|difference between|what'?s the difference|better|difference|\?|？",
    re.I,
)


def budget_of(question: str) -> Decimal | None:
    match = _BUDGET.search(question)
    if match is None:
        return None
    value = match.group(1) or match.group(2)
    return Decimal(value) if value else None


def budget_currency(question: str, lang: str) -> str:
    """The currency a budget is in: written (¥/元/块 or $), else the question's language's."""
    if re.search(r"[¥￥]|元|块|rmb|cny", question, re.I):
        return "CNY"
    if re.search(r"\$|usd|dollar", question, re.I):
        return "USD"
    return "CNY" if lang == "zh" else "USD"


def _in_stock(product: Product) -> bool:
    stock = product.total_stock()
    return stock is None or stock > 0


def recommend_products(
    question: str,
    retriever: HybridRetriever,
    store: CatalogStore,
    merchant: str,
    *,
    lang: str = "zh",
    limit: int = 3,
    prefer: Collection[str] | None = None,
) -> list[Product]:
    """Up to `limit` in-stock products matching the request and its budget, best first.

    ``prefer``: skus to recommend from when any of them matches (a live room's products, which viewers
    can buy from its shopping bag); otherwise the whole catalog.
    """
    ranked = retriever.search_products(question, k=max(12, 4 * len(prefer or ())))
    if prefer:
        # Only as good a match as the catalog's best: a room of hoodies answers a tea question with tea.
        wanted = set(prefer)
        top = ranked[0].score if ranked else 0.0
        room = [h for h in ranked if h.sku in wanted]
        picked = _pick(question, room, store, merchant, lang=lang, limit=limit, top=top)
        if picked:
            return picked
    return _pick(question, ranked[:12], store, merchant, lang=lang, limit=limit)


def _pick(
    question: str,
    ranked: list[ProductHit],
    store: CatalogStore,
    merchant: str,
    *,
    lang: str,
    limit: int,
    top: float | None = None,
) -> list[Product]:
    found = store.get_products(merchant, [h.sku for h in ranked])
    budget = budget_of(question)
    currency = budget_currency(question, lang)
    picked: list[Product] = []
    if top is None:
        top = ranked[0].score if ranked else 0.0
    for hit in ranked:
        product = found.get(hit.sku)
        if product is None or not _in_stock(product):
            continue
        if budget is not None and (
            product.price is None or product.price > budget or product.currency.upper() != currency
        ):
            continue
        if hit.score < top - 0.12:  # far below the best match: not what was asked for
            break
        picked.append(product)
        if len(picked) >= limit:
            break
    return picked


def compare_products(
    question: str, retriever: HybridRetriever, store: CatalogStore, merchant: str
) -> list[Product]:
    """The two (or more) products a comparison names, in the order named; [] when fewer than two."""
    body = _COMPARE_NOISE.sub(" ", question)
    sides = [s for s in _SPLIT.split(body) if s and s.strip()]
    skus: list[str] = []
    for side in sides:
        named = retriever.lookup(side)
        if named:
            sku = named[0]
        else:
            ranked = retriever.search_products(side, k=1)
            if not ranked:
                continue
            sku = ranked[0].sku
        if sku not in skus:
            skus.append(sku)
    if len(skus) < 2:
        return []
    found = store.get_products(merchant, skus)
    return [found[s] for s in skus if s in found]
