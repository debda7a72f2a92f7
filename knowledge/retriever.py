"""Hybrid retrieval over one merchant's index: structured lookup first, then dense + lexical fusion.

Order of evidence for "which product is this question about":
1. a structured lookup (sku, exact or near-exact title, model number, brand + product type): a question
   that names a product finds it every time, ahead of anything similar;
2. the fused score: the dense (cosine) score of the product's best passage plus a bounded bonus for the
   share of the question's terms the product contains (see `knowledge.fusion`).

`mode` selects a single signal for measurement: "dense", "lexical" (BM25), "rrf" (reciprocal-rank
fusion of the two, for comparison) or "hybrid" (the default, described above).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from knowledge.fusion import (
    LANG_CODES,
    FusionConfig,
    fair_coverage,
    lang_codes,
    lexical_bonus,
    passage_coverage,
    product_coverage,
    query_terms,
)
from knowledge.generation import Generation
from knowledge.index import CatalogIndex
from knowledge.lookup import LookupMatch, ProductEntry, ProductLookup
from knowledge.models import Passage, Product
from knowledge.tokenize import script_of, tokenize

Mode = Literal["hybrid", "dense", "lexical", "rrf"]
_RRF_K = 60
_STRUCTURED_BONUS = 10.0
_BEST_PASSAGES = 3


@dataclass(frozen=True, slots=True)
class Hit:
    """A retrieved passage. `sku` is the product it speaks about (None for a general document)."""

    passage: Passage
    score: float
    sku: str | None
    method: str  # "sku" | "title" | "model" | "brand" | "dense" | "lexical" | "fused" | "rrf"


@dataclass(frozen=True, slots=True)
class ProductHit:
    """A product ranked for a question, with its best passages."""

    sku: str
    score: float
    method: str
    passages: tuple[Hit, ...]


class HybridRetriever:
    """Search one merchant's catalog index.

    Args:
        index: the merchant's index (loaded lazily on the first search).
        products: the product table for lookups; by default the one stored in the index.
        mode: which signal ranks (see module docs); "hybrid" outside measurements.
        config: fusion parameters.
    """

    def __init__(
        self,
        index: CatalogIndex,
        products: Sequence[Product] | None = None,
        *,
        mode: Mode = "hybrid",
        config: FusionConfig | None = None,
    ) -> None:
        self.index = index
        self.mode: Mode = mode
        self.config = config or FusionConfig()
        self._explicit = [ProductEntry.from_product(p) for p in products] if products is not None else None
        self._state: _Tables | None = None

    # ---------- public API ----------
    def lookup(self, query: str) -> list[str]:
        """Skus the question names by sku, title, model number or brand + type; [] when none."""
        return [m.sku for m in self._tables().lookup.match(query)]

    def product_language(self, sku: str) -> str:
        """The language of a product's listing ("zh", "en", … or "" when unknown)."""
        tables = self._tables()
        return tables.entry_langs.get(sku, "")

    def product_category(self, sku: str) -> str:
        """A product's category path ("美妆护肤/防晒"; "" when unknown)."""
        return self._tables().entry_categories.get(sku, "")

    def search(self, query: str, k: int = 5, *, skus: Collection[str] | None = None) -> list[Hit]:
        """The k best passages for the question, optionally only those of the given products."""
        tables = self._tables()
        gen = tables.gen
        if not len(gen) or k <= 0:
            return []
        qv = self.index.embed_query(query)
        if skus is not None:
            rows = self.index.rows_for_skus(skus)
            dense = self.index.exact_scores(qv, rows)
        else:
            rows, dense = self.index.dense_search(qv, self.config.dense_candidates)
        structured: dict[str, LookupMatch] = {}
        if skus is None and self.mode == "hybrid":
            structured = {m.sku: m for m in tables.lookup.match(query)}
            extra = self.index.rows_for_skus(structured)
            extra = extra[~np.isin(extra, rows)]
            if extra.size:
                rows = np.concatenate([rows, extra])
                dense = np.concatenate([dense, self.index.exact_scores(qv, extra)])
        if self.mode == "dense" or not rows.size:
            scores, methods = dense, ["dense"] * len(rows)
        elif self.mode == "lexical":
            bm25 = gen.lexical.scores(tokenize(query))
            if skus is None:
                top = np.argsort(-bm25)[: self.config.dense_candidates]
                rows = top[bm25[top] > 0]
            scores, methods = bm25[rows], ["lexical"] * len(rows)
        else:
            query_lang = script_of(query)
            terms = query_terms(query, gen.lexical, self.config)
            coverage = self._fair(
                passage_coverage(terms, gen.lexical, self.config.bound_weight),
                tables.passage_langs,
                query_lang,
            )
            if skus is None:
                rows, dense = self._add_lexical_rows(gen, qv, rows, dense, coverage)
            bonus = lexical_bonus(coverage[rows], self.config)
            scores = self._shift(dense, tables.passage_langs[rows], query_lang) + bonus
            methods = ["fused" if b > 0 else "dense" for b in bonus]
        hits = []
        for row, score, method in zip(rows.tolist(), np.asarray(scores).tolist(), methods, strict=True):
            record = gen.records[row]
            match = structured.get(record.sku) if record.sku is not None else None
            if match is not None:
                score, method = score + _STRUCTURED_BONUS * match.strength, match.method
            hits.append(Hit(record.passage, float(score), record.sku, method))
        hits.sort(key=lambda h: -h.score)
        return hits[:k]

    def search_products(self, query: str, k: int = 5) -> list[ProductHit]:
        """Products ranked for the question: named products first, then by fused score."""
        tables = self._tables()
        gen = tables.gen
        if not tables.skus or k <= 0:
            return []
        qv = self.index.embed_query(query)
        rows, dense = self.index.dense_search(qv, self.config.dense_candidates)
        owners = tables.row_product[rows] if rows.size else np.zeros(0, dtype=np.int64)
        keep = owners >= 0
        rows, dense, owners = rows[keep], dense[keep], owners[keep]
        if self.mode == "dense":
            return self._rank(tables, rows, dense, owners, {}, "dense", k)
        if self.mode == "lexical":
            return self._rank_lexical(tables, query, k)
        if self.mode == "rrf":
            return self._rank_rrf(tables, query, rows, dense, owners, k)
        query_lang = script_of(query)
        matches = {m.sku: m for m in tables.lookup.match(query)}
        terms = query_terms(query, gen.lexical, self.config)
        coverage = self._fair(
            product_coverage(
                terms, gen.lexical, tables.row_product, len(tables.skus), self.config.bound_weight
            ),
            tables.product_langs,
            query_lang,
        )
        bonus = lexical_bonus(coverage, self.config)
        # Products lexical evidence or a lookup brings in, whose passages the dense top-N missed.
        have = set(owners.tolist())
        kth = _kth_best(self._shift(dense, tables.passage_langs[rows], query_lang), owners, k)
        floor = float(dense.min()) + max(0.0, self.config.cross_lingual_offset) if dense.size else 0.0
        wanted = [tables.index_of[s] for s in matches if s in tables.index_of]
        order = np.argsort(-coverage)[: self.config.lexical_candidates]
        wanted += [int(p) for p in order if coverage[p] > 0 and floor + bonus[p] >= kth]
        missing = [p for p in dict.fromkeys(wanted) if p not in have]
        if missing:
            extra = self.index.rows_for_skus([tables.skus[p] for p in missing])
            rows = np.concatenate([rows, extra])
            dense = np.concatenate([dense, self.index.exact_scores(qv, extra)])
            owners = np.concatenate([owners, tables.row_product[extra]])
        dense = self._shift(dense, tables.passage_langs[rows], query_lang)
        passage_cov = self._fair(
            passage_coverage(terms, gen.lexical, self.config.bound_weight), tables.passage_langs, query_lang
        )
        passage_bonus = lexical_bonus(passage_cov[rows], self.config)
        return self._rank(
            tables, rows, dense, owners, matches, "fused", k, product_bonus=bonus, passage_bonus=passage_bonus
        )

    # ---------- fusion helpers ----------
    def _fair(
        self, coverages: tuple[np.ndarray, np.ndarray], langs: np.ndarray, query_lang: str
    ) -> np.ndarray:
        if self.config.language_fair:
            return fair_coverage(coverages, langs, query_lang)
        return coverages[0]

    def _shift(self, dense: np.ndarray, langs: np.ndarray, query_lang: str) -> np.ndarray:
        """Dense scores with the cross-lingual offset added to texts in the other language."""
        offset = self.config.cross_lingual_offset
        if not offset or query_lang not in ("zh", "en") or not dense.size:
            return dense
        code = LANG_CODES[query_lang]
        other = (langs != code) & (langs != 0)
        return np.asarray(dense + offset * other, dtype=np.float32)

    # ---------- ranking ----------
    def _rank(
        self,
        tables: _Tables,
        rows: np.ndarray,
        dense: np.ndarray,
        owners: np.ndarray,
        matches: dict[str, LookupMatch],
        method: str,
        k: int,
        *,
        product_bonus: np.ndarray | None = None,
        passage_bonus: np.ndarray | None = None,
    ) -> list[ProductHit]:
        best: dict[int, float] = {}
        counts: dict[int, int] = {}
        for owner, score in zip(owners.tolist(), dense.tolist(), strict=True):
            counts[owner] = counts.get(owner, 0) + 1
            if score > best.get(owner, -np.inf):
                best[owner] = score
        scored: list[tuple[float, float, int, str]] = []
        for owner, score in best.items():
            fused = score
            row_method = method
            if product_bonus is not None:
                fused += float(product_bonus[owner])
                if product_bonus[owner] <= 0:
                    row_method = "dense"
            fused += self.config.extra_passage_bonus * min(2, counts[owner] - 1)
            match = matches.get(tables.skus[owner])
            tier = match.strength if match is not None else 0.0
            scored.append((tier, fused, owner, match.method if match is not None else row_method))
        scored.sort(key=lambda item: (-item[0], -item[1]))
        passage_scores = dense + passage_bonus if passage_bonus is not None else dense
        out = []
        for tier, fused, owner, how in scored[:k]:
            mine = np.flatnonzero(owners == owner)
            mine = mine[np.argsort(-passage_scores[mine])][:_BEST_PASSAGES]
            hits = tuple(
                Hit(
                    tables.gen.records[int(rows[i])].passage,
                    float(passage_scores[i]),
                    tables.skus[owner],
                    how,
                )
                for i in mine
            )
            out.append(ProductHit(tables.skus[owner], fused + _STRUCTURED_BONUS * tier, how, hits))
        return out

    def _rank_lexical(self, tables: _Tables, query: str, k: int) -> list[ProductHit]:
        bm25 = tables.gen.lexical.scores(tokenize(query))
        rows = np.flatnonzero(bm25 > 0)
        owners = tables.row_product[rows]
        keep = owners >= 0
        return self._rank(tables, rows[keep], bm25[rows[keep]], owners[keep], {}, "lexical", k)

    def _rank_rrf(
        self, tables: _Tables, query: str, rows: np.ndarray, dense: np.ndarray, owners: np.ndarray, k: int
    ) -> list[ProductHit]:
        dense_rank = _product_order(owners, dense)
        bm25 = tables.gen.lexical.scores(tokenize(query))
        lex_rows = np.flatnonzero(bm25 > 0)
        lex_owners = tables.row_product[lex_rows]
        keep = lex_owners >= 0
        lexical_rank = _product_order(lex_owners[keep], bm25[lex_rows[keep]])
        fused: dict[int, float] = {}
        for ranking in (dense_rank, lexical_rank):
            for rank, owner in enumerate(ranking):
                fused[owner] = fused.get(owner, 0.0) + 1.0 / (_RRF_K + rank + 1)
        ordered = sorted(fused.items(), key=lambda item: -item[1])[:k]
        return [ProductHit(tables.skus[o], s, "rrf", ()) for o, s in ordered]

    def _add_lexical_rows(
        self, gen: Generation, qv: np.ndarray, rows: np.ndarray, dense: np.ndarray, coverage: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Add the passages with the best lexical coverage that the dense top-N did not reach."""
        order = np.argsort(-coverage)[: self.config.lexical_candidates]
        order = order[coverage[order] > 0]
        extra = order[~np.isin(order, rows)]
        if not extra.size:
            return rows, dense
        return np.concatenate([rows, extra]), np.concatenate([dense, self.index.exact_scores(qv, extra)])

    # ---------- tables ----------
    def _tables(self) -> _Tables:
        gen = self.index.generation
        if self._state is None or self._state.gen is not gen:
            entries = self._explicit if self._explicit is not None else gen.products
            self._state = _Tables(gen, entries)
        return self._state


class _Tables:
    """Per-generation lookup structures: the product lookup and row → product arrays."""

    def __init__(self, gen: Generation, entries: Sequence[ProductEntry]) -> None:
        self.gen = gen
        self.lookup = ProductLookup(entries)
        self.skus = [e.sku for e in entries]
        self.index_of = {sku: i for i, sku in enumerate(self.skus)}
        self.product_langs = lang_codes([e.lang for e in entries])
        self.entry_langs = {e.sku: e.lang[:2] for e in entries}
        self.entry_categories = {e.sku: e.category for e in entries}
        self.passage_langs = lang_codes([r.passage.locale for r in gen.records])
        self.row_product = np.array(
            [self.index_of.get(r.sku, -1) if r.sku is not None else -1 for r in gen.records], dtype=np.int64
        )


def _kth_best(scores: np.ndarray, owners: np.ndarray, k: int) -> float:
    """The k-th best per-product max score (−inf when fewer products)."""
    best: dict[int, float] = {}
    for owner, score in zip(owners.tolist(), scores.tolist(), strict=True):
        best[owner] = max(score, best.get(owner, -np.inf))
    ordered = sorted(best.values(), reverse=True)
    return ordered[k - 1] if len(ordered) >= k else -np.inf


def _product_order(owners: np.ndarray, scores: np.ndarray) -> list[int]:
    best: dict[int, float] = {}
    for owner, score in zip(owners.tolist(), scores.tolist(), strict=True):
        best[owner] = max(score, best.get(owner, -np.inf))
    return [o for o, _ in sorted(best.items(), key=lambda item: -item[1])]
