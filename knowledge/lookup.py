"""Structured product lookup: a question that names a product (sku, title, model number, brand + type)
finds it without any similarity search.

The product table is small per product (sku, title, brand, category, tags, variants) and lives in the
index generation, so a loaded index alone can answer. Matches come in tiers; `ProductLookup.match`
returns only the strongest tier present, so "Acme X3 earbuds" gives the X3 (model number), not every
Acme product.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from knowledge.glossary import expansion_tokens
from knowledge.models import Product
from knowledge.passages import passage_lang, variant_options
from knowledge.tokenize import is_cjk, normalize, tokenize

_SKU_RUN_RE = re.compile(r"[a-z0-9](?:[a-z0-9\-_./#]*[a-z0-9])?")
_COMPACT_DROP_RE = re.compile(r"[\s\W_]+")
_MEASURE_RE = re.compile(
    r"^\d+(?:\.\d+)?(?:ml|l|g|kg|mg|mah|w|v|cm|mm|m|in|inch|oz|lb|gb|tb|hz|db|h|pcs|x)?$"
)
_HAS_ALPHA_RE = re.compile(r"[a-z]")
_HAS_DIGIT_RE = re.compile(r"\d")

#: Strength of each kind of match; a lookup answers with its strongest kind only.
STRENGTH = {"sku": 1.0, "title": 0.95, "model": 0.85, "brand": 0.7}
#: Share of a title's (IDF-weighted) words a question must contain to name it nearly exactly.
NEAR_TITLE_COVERAGE = 0.8
#: A model number shared by more products than this does not identify one.
MODEL_MAX_PRODUCTS = 3


@dataclass(frozen=True, slots=True)
class ProductEntry:
    """What lookups and ranking need of a product; stored in the index generation."""

    sku: str
    title: str
    brand: str = ""
    category: str = ""
    tags: tuple[str, ...] = ()
    variant_skus: tuple[str, ...] = ()
    options: dict[str, tuple[str, ...]] = field(default_factory=dict)
    lang: str = ""

    @classmethod
    def from_product(cls, product: Product) -> ProductEntry:
        return cls(
            sku=product.sku,
            title=product.title,
            brand=product.brand,
            category=product.category,
            tags=tuple(product.tags),
            variant_skus=tuple(v.sku for v in product.variants),
            options={k: tuple(v) for k, v in variant_options(product).items()},
            lang=passage_lang(product.locale, f"{product.title} {product.description[:200]}"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "title": self.title,
            "brand": self.brand,
            "category": self.category,
            "tags": list(self.tags),
            "variant_skus": list(self.variant_skus),
            "options": {k: list(v) for k, v in self.options.items()},
            "lang": self.lang,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProductEntry:
        return cls(
            sku=data["sku"],
            title=data["title"],
            brand=data.get("brand", ""),
            category=data.get("category", ""),
            tags=tuple(data.get("tags", ())),
            variant_skus=tuple(data.get("variant_skus", ())),
            options={k: tuple(v) for k, v in (data.get("options") or {}).items()},
            lang=data.get("lang", ""),
        )


@dataclass(frozen=True, slots=True)
class LookupMatch:
    sku: str
    method: str  # "sku" | "title" | "model" | "brand"
    strength: float


def compact(text: str) -> str:
    """Normalised text without spaces and punctuation: "Acme X-3 Pro" → "acmex3pro"."""
    return _COMPACT_DROP_RE.sub("", normalize(text))


def _is_model_token(token: str) -> bool:
    return (
        len(token) >= 2
        and bool(_HAS_ALPHA_RE.search(token))
        and bool(_HAS_DIGIT_RE.search(token))
        and not _MEASURE_RE.match(token)
    )


class ProductLookup:
    """Exact and near-exact product naming over a product table."""

    def __init__(self, entries: Sequence[ProductEntry]) -> None:
        self.entries = list(entries)
        self._by_sku: dict[str, str] = {}
        for entry in self.entries:
            for code in (entry.sku, *entry.variant_skus):
                norm = normalize(code).strip()
                if _sku_is_specific(norm):
                    self._by_sku.setdefault(norm, entry.sku)
        self._titles = [(compact(e.title), e.sku) for e in self.entries]
        self._title_tokens = [set(tokenize(e.title)) for e in self.entries]
        df: dict[str, int] = defaultdict(int)
        for tokens in self._title_tokens:
            for token in tokens:
                df[token] += 1
        n = max(1, len(self.entries))
        self._idf = {t: math.log(1.0 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        self._title_idf = [sum(self._idf[t] for t in tokens) for tokens in self._title_tokens]
        self._products_with: dict[str, list[int]] = defaultdict(list)
        for i, tokens in enumerate(self._title_tokens):
            for token in tokens:
                self._products_with[token].append(i)
        self._models: dict[str, list[int]] = defaultdict(list)
        for i, tokens in enumerate(self._title_tokens):
            for token in tokens:
                if _is_model_token(token):
                    self._models[token].append(i)
        self._brands: dict[str, list[int]] = defaultdict(list)
        for i, entry in enumerate(self.entries):
            brand = normalize(entry.brand).strip()
            if brand:
                self._brands[brand].append(i)
        self._brand_res = {b: _brand_pattern(b) for b in self._brands}
        self._type_tokens = [
            (set(tokenize(f"{e.category} {e.title}")) - set(tokenize(e.brand))) for e in self.entries
        ]

    def match(self, query: str) -> list[LookupMatch]:
        """The products the question names, strongest kind of match only; [] when it names none."""
        norm = normalize(query)
        for method, found in (
            ("sku", self._match_sku(norm)),
            ("title", self._match_title(norm)),
            ("model", self._match_model(norm)),
            ("brand", self._match_brand(norm)),
        ):
            if found:
                return [LookupMatch(sku, method, STRENGTH[method]) for sku in found]
        return []

    def _match_sku(self, norm: str) -> list[str]:
        found: list[str] = []
        for run in _SKU_RUN_RE.findall(norm):
            sku = self._by_sku.get(run)
            if sku is not None and sku not in found:
                found.append(sku)
        return found

    def _match_title(self, norm: str) -> list[str]:
        query_compact = compact(norm)
        tokens = set(tokenize(norm))
        candidates: set[int] = set()
        for token in tokens:
            candidates.update(self._products_with.get(token, ()))
        # A title the question contains shares at least one word with it: check those titles only.
        exact = [self._titles[i] for i in candidates if len(self._titles[i][0]) >= 4]
        exact = [(t, s) for t, s in exact if t in query_compact]
        if exact:
            # "X3" and "X3 Pro" both occur in "x3pro": keep titles no other match contains.
            longest = [s for t, s in exact if not any(t != o and t in o for o, _ in exact)]
            return _unique(longest)
        near: list[tuple[float, str]] = []
        for i in candidates:
            title_tokens = self._title_tokens[i]
            total = self._title_idf[i]
            if total <= 0 or len(title_tokens) < 2:
                continue
            covered = sum(self._idf[t] for t in title_tokens & tokens)
            if covered / total >= NEAR_TITLE_COVERAGE:
                near.append((covered / total, self.entries[i].sku))
        near.sort(key=lambda pair: -pair[0])
        return [sku for _, sku in near]

    def _match_model(self, norm: str) -> list[str]:
        found: list[str] = []
        for token in tokenize(norm):
            products = self._models.get(token)
            if products and len(products) <= MODEL_MAX_PRODUCTS:
                found.extend(self.entries[i].sku for i in products)
        return _unique(found)

    def _match_brand(self, norm: str) -> list[str]:
        named = [b for b, pattern in self._brand_res.items() if pattern.search(norm)]
        if not named:
            return []
        tokens = set(tokenize(norm)) | set(expansion_tokens(norm))
        found: list[str] = []
        for brand in named:
            products = self._brands[brand]
            scored = []
            for i in products:
                matched = self._type_tokens[i] & tokens
                weight = sum(self._idf.get(t, 1.0) for t in matched)
                if weight > 0:
                    scored.append((weight, i))
            if scored:
                best = max(w for w, _ in scored)
                found.extend(self.entries[i].sku for w, i in scored if w >= best - 1e-9)
            elif len(products) == 1:
                found.append(self.entries[products[0]].sku)
        return _unique(found)


def _sku_is_specific(code: str) -> bool:
    """A code specific enough to trust inside free text (not "3", not "a1")."""
    if len(code) >= 4:
        return True
    return len(code) == 3 and bool(_HAS_ALPHA_RE.search(code)) and bool(_HAS_DIGIT_RE.search(code))


def _brand_pattern(brand: str) -> re.Pattern[str]:
    if any(is_cjk(ch) for ch in brand):
        return re.compile(re.escape(brand))
    return re.compile(r"(?<![a-z0-9])" + re.escape(brand) + r"(?![a-z0-9])")


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
