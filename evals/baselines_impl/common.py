"""What the baseline Q&A systems share: their answer value and plain renderings of catalog facts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from evals.scoring import Observed
from knowledge.models import Product

_CJK_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_CURRENCY_SIGNS = {"CNY": "¥", "RMB": "¥", "USD": "$"}


@dataclass(frozen=True, slots=True)
class BaselineAnswer:
    """A baseline's answer and what it was about.

    Attributes:
        answer: The text the shopper would see.
        refused: The system said it does not know.
        focus_sku: The product the answer is about (the matched entry's, or the top retrieved one's).
        citations: Sources as the scorer reads them: ``{"sku", "field"}`` or ``{"document", "heading"}``.
        timings_ms: Stage timings (``retrieve``, ``llm``, ``match`` …), milliseconds.
    """

    answer: str
    refused: bool
    focus_sku: str | None = None
    citations: tuple[dict[str, str], ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_observed(self, *, wall_ms: float) -> Observed:
        """The answer in the form `evals.scoring.score_case` checks."""
        return Observed(
            answer=self.answer,
            language="zh" if is_cjk(self.answer) else "en",
            citations=[dict(c) for c in self.citations],
            refused=self.refused,
            focus_sku=self.focus_sku,
            timings_ms=dict(self.timings_ms),
            wall_ms=wall_ms,
        )


def is_cjk(text: str) -> bool:
    """True when `text` holds Chinese characters."""
    return bool(_CJK_RE.search(text))


def product_is_zh(product: Product) -> bool:
    """The product's language: its locale, else the script of its title."""
    locale = product.locale.lower()
    if locale:
        return locale.startswith("zh")
    return is_cjk(product.title)


def money(value: Decimal, currency: str) -> str:
    """``¥159.00``, ``$34.99``, or ``12.00 EUR`` for a currency without a sign here."""
    sign = _CURRENCY_SIGNS.get(currency.upper())
    return f"{sign}{value}" if sign else f"{value} {currency}"


def stock_phrase(stock: int, zh: bool) -> str:
    """``有货（12件）`` / ``售罄``; ``in stock (12)`` / ``sold out``."""
    if zh:
        return f"有货（{stock}件）" if stock > 0 else "售罄"
    return f"in stock ({stock})" if stock > 0 else "sold out"


def short_name(product: Product) -> str:
    """The name shoppers use: the title without its brand; for a spaced Chinese title, its longest piece.

    "暖禾 女款加绒连帽卫衣 宽松落肩" → "女款加绒连帽卫衣"; "Northloom Fleece-Lined Full-Zip Hoodie" →
    "Fleece-Lined Full-Zip Hoodie".
    """
    title = product.title.strip()
    brand = product.brand.strip()
    if brand and title.lower().startswith(brand.lower()):
        title = title[len(brand) :].strip(" ,-")
    if is_cjk(title) and " " in title:
        title = max(title.split(), key=len)
    return title or product.title
