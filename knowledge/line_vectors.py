"""Sentence vectors of catalog lines (an attribute "key: value", a selling point, a description sentence),
computed at ingest and kept on disk, so answering a question embeds only the question.

Vectors are keyed by the line's text (a SHA-1 of it) and the embedder's name, so a line shared by many
products is embedded once and a changed line gets a new vector. A line the cache has not seen (a product
written after the last ingest) is embedded on first use and kept.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from knowledge.models import Product

Embed = Callable[[Sequence[str]], np.ndarray]

#: Where a sentence ends: after Chinese or Latin end punctuation, or after a full stop and a space.
SENTENCE_END = re.compile(r"(?<=[。！？!?；;])\s*|(?<=\.)\s+")


def product_lines(product: Product) -> list[tuple[str, str, str]]:
    """(field, key, text) for every line of a product that can answer a question about it.

    `text` is what is shown and embedded ("容量: 35L"); `key` is the attribute's key ("" for selling points
    and description sentences).
    """
    lines: list[tuple[str, str, str]] = []
    for key, value in product.attributes.items():
        lines.append(("attributes", str(key), f"{key}: {value}"))
    for point in product.selling_points:
        if point.strip():
            lines.append(("selling_points", "", point.strip()))
    for sentence in split_sentences(product.description):
        lines.append(("description", "", sentence))
    return lines


def line_texts(product: Product) -> list[str]:
    """Every text of a product the aspect matcher embeds: each line, and each attribute's key and value
    on their own (a question meets "防风" in "防风: 内置防风圈" by the key as much as by the whole line)."""
    texts: list[str] = []
    for _field, key, text in product_lines(product):
        texts.append(text)
        if key:
            texts.extend((key, text.split(": ", 1)[1]))
    return texts


def split_sentences(text: str) -> list[str]:
    """Sentences of a description, stripped; empty pieces dropped."""
    return [part.strip() for part in SENTENCE_END.split(text) if part.strip()]


def _key(embedder: str, text: str) -> str:
    return hashlib.sha1(f"{embedder}\x00{text}".encode()).hexdigest()


class LineVectors:
    """A text → vector cache for catalog lines, persisted as one .npz file (cheap to construct)."""

    def __init__(self, embed: Embed, embedder_name: str, path: Path | None = None) -> None:
        self._embed = embed
        self.embedder_name = embedder_name
        self.path = path
        self._vectors: dict[str, np.ndarray] | None = None
        self._lock = threading.Lock()
        self._dirty = False

    def _load(self) -> dict[str, np.ndarray]:
        if self._vectors is not None:
            return self._vectors
        vectors: dict[str, np.ndarray] = {}
        if self.path is not None and self.path.is_file():
            try:
                with np.load(self.path, allow_pickle=False) as data:
                    keys = data["keys"]
                    matrix = data["vectors"]
                    vectors = {str(k): matrix[i] for i, k in enumerate(keys)}
            except (OSError, KeyError, ValueError):
                vectors = {}  # a damaged cache is rebuilt, never trusted
        self._vectors = vectors
        return vectors

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors for `texts`, in order; unseen texts are embedded (in one batch) and kept."""
        with self._lock:
            cache = self._load()
            keys = [_key(self.embedder_name, t) for t in texts]
            missing = list(dict.fromkeys(t for t, k in zip(texts, keys, strict=True) if k not in cache))
            if missing:
                fresh = np.asarray(self._embed(missing), dtype=np.float32)
                for text, vector in zip(missing, fresh, strict=True):
                    norm = float(np.linalg.norm(vector)) or 1.0
                    cache[_key(self.embedder_name, text)] = (vector / norm).astype(np.float32)
                self._dirty = True
            if not keys:
                return np.zeros((0, 0), dtype=np.float32)
            return np.stack([cache[k] for k in keys])

    def prime(self, products: Iterable[Product]) -> int:
        """Embed every line (and attribute key and value) of `products` not yet cached (at ingest) and save; returns how many were new."""
        texts = list(dict.fromkeys(text for p in products for text in line_texts(p)))
        with self._lock:
            cache = self._load()
            before = len(cache)
        for start in range(0, len(texts), 256):
            self.vectors(texts[start : start + 256])
        self.save()
        return len(self._load()) - before

    def save(self) -> None:
        """Write the cache atomically when it changed."""
        if self.path is None:
            return
        with self._lock:
            if not self._dirty or self._vectors is None:
                return
            keys = np.array(list(self._vectors), dtype="<U40")
            matrix = (
                np.stack(list(self._vectors.values()))
                if self._vectors
                else np.zeros((0, 1), dtype=np.float32)
            )
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".tmp{os.getpid()}.npz")
            np.savez(tmp, keys=keys, vectors=matrix)
            os.replace(tmp, self.path)
            self._dirty = False
