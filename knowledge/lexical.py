"""BM25 over our tokens (bm25s), read token by token so fusion can see which query words matched.

bm25s precomputes every (token, passage) BM25 weight into a sparse column matrix. We build and persist
with bm25s and read its columns directly: one posting list per query token, which gives both the BM25
score of each passage and how rare each matched token is (its share of the query's IDF mass).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True, slots=True)
class TokenPostings:
    """The passages one query token occurs in, with their BM25 weights for it."""

    token: str
    rows: np.ndarray  # int passage rows
    weights: np.ndarray  # float32 BM25 weights, aligned with rows
    idf: float


class LexicalIndex:
    """BM25 index over tokenised passages; rows are passage positions in the generation."""

    def __init__(self, bm25: Any, num_docs: int) -> None:
        self._bm25 = bm25  # None for an empty catalog
        self.num_docs = num_docs
        self._vocab: dict[str, int] = dict(bm25.vocab_dict) if bm25 is not None else {}
        empty = np.zeros(0, dtype=np.float32)
        self._data: np.ndarray = np.asarray(bm25.scores["data"]) if bm25 is not None else empty
        self._indices: np.ndarray = np.asarray(bm25.scores["indices"]) if bm25 is not None else empty
        self._indptr: np.ndarray = np.asarray(bm25.scores["indptr"]) if bm25 is not None else empty

    @classmethod
    def build(cls, token_lists: Sequence[list[str]]) -> LexicalIndex:
        import bm25s

        if not token_lists:
            return cls(None, 0)
        bm25 = bm25s.BM25(k1=1.2, b=0.75)
        # An empty passage still needs a row so rows stay aligned with passages.
        corpus = [tokens or [""] for tokens in token_lists]
        bm25.index(corpus, show_progress=False)
        return cls(bm25, len(token_lists))

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        if self._bm25 is not None:
            self._bm25.save(str(directory), show_progress=False)
        (directory / "rows.json").write_text(json.dumps({"num_docs": self.num_docs}), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        import bm25s

        meta = json.loads((directory / "rows.json").read_text(encoding="utf-8"))
        num_docs = int(meta["num_docs"])
        if num_docs == 0:
            return cls(None, 0)
        return cls(bm25s.BM25.load(str(directory), show_progress=False), num_docs)

    def idf(self, df: int) -> float:
        """Lucene-style IDF for a token found in `df` passages."""
        return math.log(1.0 + (self.num_docs - df + 0.5) / (df + 0.5))

    def rows_of(self, token: str) -> np.ndarray | None:
        """Passage rows containing the token (sorted), or None when no passage does."""
        col = self._vocab.get(token)
        if col is None or not token:
            return None
        return self._indices[int(self._indptr[col]) : int(self._indptr[col + 1])].astype(np.int64)

    def token_idf(self, token: str) -> float | None:
        """IDF of a token, or None when no passage contains it."""
        col = self._vocab.get(token)
        if col is None or not token:
            return None
        return self.idf(int(self._indptr[col + 1]) - int(self._indptr[col]))

    def postings(self, tokens: Sequence[str]) -> list[TokenPostings]:
        """One entry per distinct query token the index knows (unknown tokens match nothing)."""
        out: list[TokenPostings] = []
        seen: set[str] = set()
        for token in tokens:
            if token in seen or not token:
                continue
            seen.add(token)
            col = self._vocab.get(token)
            if col is None:
                continue
            start, end = int(self._indptr[col]), int(self._indptr[col + 1])
            rows = self._indices[start:end]
            out.append(TokenPostings(token, rows, self._data[start:end], self.idf(end - start)))
        return out

    def scores(self, tokens: Sequence[str]) -> np.ndarray:
        """Plain BM25 score of every passage for the query tokens."""
        total = np.zeros(self.num_docs, dtype=np.float32)
        for posting in self.postings(tokens):
            total[posting.rows] += posting.weights  # rows are distinct within one posting list
        return total
