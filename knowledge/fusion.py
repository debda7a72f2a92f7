"""Lexical evidence for fusion: which of a question's terms a passage (or a product) contains.

Plain BM25 added to dense scores hurts across languages: a Chinese question shares common words only with
Chinese passages, so BM25 pulls up the wrong Chinese product over the right English one. Here the
lexical signal is the IDF-weighted share of the question's *terms* a candidate contains ("coverage",
0..1), where a glossary term counts in either language (破壁机 = blender). A rare exact term (a brand, a
model number) weighs most; a question whose words the catalog does not know lends no lexical weight to
anyone. The fused score is the dense score plus a bounded bonus that grows with coverage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from knowledge.glossary import concepts
from knowledge.lexical import LexicalIndex
from knowledge.tokenize import is_cjk, tokenize


@dataclass(frozen=True, slots=True)
class FusionConfig:
    """How dense and lexical evidence combine. Defaults measured on the bilingual dev set."""

    #: Largest bonus full lexical coverage adds to a cosine score.
    lexical_weight: float = 0.3
    #: Coverage is raised to this power: partial matches of common words count little.
    coverage_power: float = 2.0
    #: Weight of a question word the catalog never uses, relative to a word used once.
    unknown_weight: float = 0.5
    #: Passages taken from the vector index before fusion.
    dense_candidates: int = 200
    #: Products pulled in by lexical coverage alone, at most.
    lexical_candidates: int = 100
    #: Added per further matching passage of the same product (capped at two).
    extra_passage_bonus: float = 0.0
    #: Added to the dense score of a text in the other language than the question: the multilingual
    #: model scores same-language pairs higher for the same meaning.
    cross_lingual_offset: float = 0.0
    #: Judge lexical coverage only on terms a text in its language could contain (see fair_coverage).
    language_fair: bool = True
    #: With `language_fair`: how much the question's plain words still count against a text in the
    #: other language (0: not at all, 1: as much as against a same-language text).
    bound_weight: float = 0.25


@dataclass(frozen=True, slots=True)
class Term:
    """One thing the question asks about: a word, or a glossary concept with its forms."""

    forms: tuple[frozenset[str], ...]
    weight: float
    #: "zh" or "en" for a plain word only that language's texts can contain; None when any text can
    #: (a glossary concept, a number, a model number).
    lang: str | None = None


def query_terms(query: str, lexical: LexicalIndex, config: FusionConfig) -> list[Term]:
    """The question's terms with IDF weights from the catalog's own vocabulary."""
    tokens = list(dict.fromkeys(tokenize(query)))
    max_idf = lexical.idf(1) if lexical.num_docs else 1.0
    terms: list[Term] = []
    claimed: set[str] = set()
    for concept in concepts(query):
        idfs = [lexical.token_idf(t) for form in concept.forms for t in form]
        known = [i for i in idfs if i is not None]
        weight = max(known) if known else max_idf * config.unknown_weight
        terms.append(Term(concept.forms, weight))
        claimed |= concept.own
    for token in tokens:
        if token in claimed:
            continue
        idf = lexical.token_idf(token)
        weight = idf if idf is not None else max_idf * config.unknown_weight
        terms.append(Term((frozenset({token}),), weight, _token_lang(token)))
    return terms


def _token_lang(token: str) -> str | None:
    if any(ch.isdigit() for ch in token):
        return None
    return "zh" if is_cjk(token) else "en"


def _coverages(
    terms: Sequence[Term], hits: list[np.ndarray], size: int, bound_weight: float
) -> tuple[np.ndarray, np.ndarray]:
    """(coverage over all terms, coverage for a text in the other language) for `size` items.

    The second counts the language-neutral terms fully and the question's plain words (which a text in
    the other language cannot contain) at `bound_weight` of their weight in the denominator.
    """
    covered_all = np.zeros(size, dtype=np.float32)
    covered_neutral = np.zeros(size, dtype=np.float32)
    total_all = sum(t.weight for t in terms)
    total_neutral = sum(t.weight for t in terms if t.lang is None)
    for term, hit in zip(terms, hits, strict=True):
        covered_all[hit] += term.weight
        if term.lang is None:
            covered_neutral[hit] += term.weight
    other_total = total_neutral + bound_weight * (total_all - total_neutral)
    all_share = covered_all / total_all if total_all > 0 else covered_all
    other_share = covered_neutral / other_total if other_total > 0 else covered_neutral
    return all_share, other_share


#: Language codes of texts for `fair_coverage`: 0 = other or mixed.
LANG_CODES = {"zh": 1, "en": 2}


def lang_codes(langs: Sequence[str]) -> np.ndarray:
    """Small integer codes of text languages (see LANG_CODES)."""
    return np.array([LANG_CODES.get(lang, 0) for lang in langs], dtype=np.int8)


def fair_coverage(
    coverages: tuple[np.ndarray, np.ndarray], item_langs: np.ndarray, query_lang: str
) -> np.ndarray:
    """Coverage judged mainly on terms each item could contain.

    A Chinese question's plain Chinese words can never occur in an English listing; counting them in
    full would favour every Chinese listing over the English one asked about. For an item in the other
    language than the question, language-neutral terms (glossary concepts, numbers, model numbers)
    count fully and plain words only partly (see `_coverages`).

    Args:
        coverages: (coverage over all terms, coverage for other-language items) per item.
        item_langs: language codes of the items (`lang_codes`).
        query_lang: the question's script ("zh", "en", "mixed", "none").
    """
    all_share, other_share = coverages
    code = LANG_CODES.get(query_lang)
    if code is None:
        return all_share
    other = (item_langs != code) & (item_langs != 0)
    return np.where(other, other_share, all_share).astype(np.float32)


def _form_rows(form: frozenset[str], lexical: LexicalIndex) -> np.ndarray:
    """Passage rows holding every token of the form."""
    rows: np.ndarray | None = None
    for token in form:
        posting = lexical.rows_of(token)
        if posting is None:
            return np.zeros(0, dtype=np.int64)
        rows = posting if rows is None else np.intersect1d(rows, posting, assume_unique=True)
        if rows.size == 0:
            break
    return rows if rows is not None else np.zeros(0, dtype=np.int64)


def passage_coverage(
    terms: Sequence[Term], lexical: LexicalIndex, bound_weight: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Coverage (0..1) of the question's terms for every passage row: (all terms, neutral terms)."""
    hits = []
    for term in terms:
        hit = np.zeros(lexical.num_docs, dtype=bool)
        for form in term.forms:
            hit[_form_rows(form, lexical)] = True
        hits.append(hit)
    return _coverages(terms, hits, lexical.num_docs, bound_weight)


def product_coverage(
    terms: Sequence[Term],
    lexical: LexicalIndex,
    row_product: np.ndarray,
    n_products: int,
    bound_weight: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Coverage (0..1) of the question's terms by each product's passages taken together."""
    hits = []
    for term in terms:
        hit = np.zeros(n_products, dtype=bool)
        for form in term.forms:
            products: np.ndarray | None = None
            for token in form:
                rows = lexical.rows_of(token)
                if rows is None:
                    products = np.zeros(0, dtype=np.int64)
                    break
                owners = np.unique(row_product[rows])
                owners = owners[owners >= 0]
                products = (
                    owners if products is None else np.intersect1d(products, owners, assume_unique=True)
                )
                if products.size == 0:
                    break
            if products is not None and products.size:
                hit[products] = True
        hits.append(hit)
    return _coverages(terms, hits, n_products, bound_weight)


def lexical_bonus(coverage: np.ndarray, config: FusionConfig) -> np.ndarray:
    """The bounded bonus a coverage earns."""
    bonus: np.ndarray = config.lexical_weight * np.power(coverage, config.coverage_power)
    return bonus.astype(np.float32)
