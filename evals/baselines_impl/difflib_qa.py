"""Baseline: a local Q&A table matched with ``difflib``, as popular open-source virtual anchors do it.

Those tools keep a "local Q&A library" of question → answer pairs that the streamer writes by hand, and
answer a viewer's comment with the stored answer of the most similar stored question when the
``difflib`` similarity ratio reaches a cutoff, otherwise they fall through ("I don't know" here).

`qa_pairs_from_catalog` writes the table the way a merchant using such a tool would, from the catalog
alone (never from evaluation answers): per product a few template questions in the product's language —
price, each option (颜色, 尺码 …), stock, each attribute, an introduction — each asked with the full title
and with the short name shoppers use; and every policy section's heading → the section's text. Answers
state the catalog's values as they were when the table was written, like a hand-written table does.
"""

from __future__ import annotations

import difflib
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from evals.baselines_impl.common import (
    BaselineAnswer,
    is_cjk,
    money,
    product_is_zh,
    short_name,
    stock_phrase,
)
from knowledge.models import Document, Product
from knowledge.passages import variant_options

#: ``difflib.get_close_matches``' own default cutoff.
DEFAULT_CUTOFF = 0.6
IDK_ZH = "抱歉，这个问题我还不知道。"
IDK_EN = "Sorry, I don't know the answer to that."

_NOISE_RE = re.compile(r"[\s\W_]+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class QAPair:
    """One row of the Q&A table and the catalog entry its answer was written from."""

    question: str
    answer: str
    sku: str | None = None
    document: str | None = None
    heading: str | None = None

    def citation(self) -> dict[str, str]:
        if self.sku is not None:
            return {"sku": self.sku, "field": "qa"}
        if self.document is not None:
            return {"document": self.document, "heading": self.heading or ""}
        return {}


def normalise(text: str) -> str:
    """Lower-case without spaces or punctuation: what the similarity ratio is computed on."""
    return _NOISE_RE.sub("", text.lower())


def _product_pairs(product: Product) -> list[QAPair]:
    zh = product_is_zh(product)
    title = product.title.strip()
    names = list(dict.fromkeys([title, short_name(product)]))
    options = variant_options(product)
    stock = product.total_stock()
    pairs: list[tuple[str, str]] = []
    for name in names:
        if zh:
            if product.price is not None:
                answer = f"{title}现在{money(product.price, product.currency)}"
                if product.list_price is not None:
                    answer += f"，原价{money(product.list_price, product.currency)}"
                pairs.append((f"{name}多少钱", answer))
            for option, values in options.items():
                pairs.append((f"{name}有什么{option}", f"{title}的{option}有：{'、'.join(values)}"))
            if stock is not None:
                pairs.append((f"{name}有货吗", f"{title}{stock_phrase(stock, zh=True)}"))
            for key, value in product.attributes.items():
                pairs.append((f"{name}的{key}是什么", f"{title}的{key}：{value}"))
            if product.selling_points:
                pairs.append((f"介绍一下{name}", f"{title}：{'；'.join(product.selling_points)}"))
        else:
            if product.price is not None:
                answer = f"{title} is now {money(product.price, product.currency)}"
                if product.list_price is not None:
                    answer += f", list price {money(product.list_price, product.currency)}"
                pairs.append((f"How much is the {name}", answer))
            for option, values in options.items():
                pairs.append(
                    (
                        f"What {option.lower()} does the {name} come in",
                        f"{title} {option}: {', '.join(values)}",
                    )
                )
            if stock is not None:
                pairs.append((f"Is the {name} in stock", f"{title}: {stock_phrase(stock, zh=False)}"))
            for key, value in product.attributes.items():
                pairs.append((f"What is the {key.lower()} of the {name}", f"{title} {key}: {value}"))
            if product.selling_points:
                pairs.append((f"Tell me about the {name}", f"{title}: {'; '.join(product.selling_points)}"))
    return [QAPair(q, a, sku=product.sku) for q, a in pairs]


def qa_pairs_from_catalog(products: Iterable[Product], documents: Sequence[Document] = ()) -> list[QAPair]:
    """The Q&A table a merchant would write for this catalog (see the module docstring)."""
    pairs: list[QAPair] = []
    for product in products:
        pairs += _product_pairs(product)
    for document in documents:
        for section in document.sections:
            heading = section.heading.strip()
            if heading and section.text.strip():
                pairs.append(QAPair(heading, section.text.strip(), document=document.doc_id, heading=heading))
    return pairs


class DifflibQA:
    """Answer with the stored answer of the closest stored question, or "I don't know".

    Args:
        pairs: The Q&A table; a later pair with the same normalised question is ignored.
        cutoff: Least ``difflib.SequenceMatcher`` ratio (0–1) that counts as a match.
    """

    name = "difflib_qa"

    def __init__(self, pairs: Iterable[QAPair], *, cutoff: float = DEFAULT_CUTOFF) -> None:
        if not 0.0 <= cutoff <= 1.0:
            raise ValueError(f"cutoff {cutoff} must be between 0 and 1")
        self.cutoff = cutoff
        self._by_key: dict[str, QAPair] = {}
        for pair in pairs:
            key = normalise(pair.question)
            if key and key not in self._by_key:
                self._by_key[key] = pair
        self._keys = list(self._by_key)

    @classmethod
    def from_catalog(
        cls,
        products: Iterable[Product],
        documents: Sequence[Document] = (),
        *,
        cutoff: float = DEFAULT_CUTOFF,
    ) -> DifflibQA:
        return cls(qa_pairs_from_catalog(products, documents), cutoff=cutoff)

    def __len__(self) -> int:
        return len(self._keys)

    def match(self, question: str) -> tuple[QAPair, float] | None:
        """The closest stored pair and its similarity ratio, or None below the cutoff."""
        key = normalise(question)
        if not key:
            return None
        found = difflib.get_close_matches(key, self._keys, n=1, cutoff=self.cutoff)
        if not found:
            return None
        ratio = difflib.SequenceMatcher(None, key, found[0]).ratio()
        return self._by_key[found[0]], ratio

    def answer(self, question: str) -> BaselineAnswer:
        start = time.perf_counter()
        matched = self.match(question)
        elapsed = {"match": (time.perf_counter() - start) * 1000}
        if matched is None:
            text = IDK_ZH if is_cjk(question) else IDK_EN
            return BaselineAnswer(answer=text, refused=True, timings_ms=elapsed)
        pair, _ = matched
        cite = pair.citation()
        return BaselineAnswer(
            answer=pair.answer,
            refused=False,
            focus_sku=pair.sku,
            citations=(cite,) if cite else (),
            timings_ms=elapsed,
        )
