"""One merchant's persisted search index: FAISS vectors, BM25, the passage table and the product table.

Layout under ``<root>/<merchant>/``::

    CURRENT              name of the live generation ("gen-000007"), replaced atomically
    gen-000007/          manifest.json, passages.json, products.json, vectors.npy (raw float32),
                         vectors.faiss (flat, or SQ8 above 20k passages), bm25/
    gen-000008.tmp/      a build in progress (or a crashed one: ignored, removed by the next sync)
    .lock                held while a sync builds

`sync()` writes a complete new generation into a ``.tmp`` directory, renames it, then points CURRENT at
it with `os.replace`; a crash at any moment leaves the previous generation loadable. The embedding of
every passage is kept with its cache key ``sha1(embedder name + text)``, so a sync embeds only passages
whose text changed, and an unchanged catalog costs no rebuild at all.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.embedders import Embedder
from knowledge.generation import (
    Generation,
    GenerationError,
    PassageRecord,
    fsync_dir,
    fsync_file,
    read_generation,
    vector_index,
    write_json,
)
from knowledge.lexical import LexicalIndex
from knowledge.lookup import ProductEntry
from knowledge.models import Document, IndexSyncStats, Product, ProgressFn
from knowledge.passages import CatalogPassage, catalog_passages
from knowledge.tokenize import TOKENIZER_VERSION, tokenize

FORMAT_VERSION = 1
_MERCHANT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_GEN_RE = re.compile(r"^gen-(\d{6,})$")
_QUERY_CACHE = 2048


class IndexMismatchError(RuntimeError):
    """The index on disk was built by another embedder (or an older format) than the one offered."""


class IndexNotBuiltError(RuntimeError):
    """Searching a merchant whose index has never been built."""


def _rebuild_hint(merchant: str) -> str:
    return f"run `anchor index rebuild --merchant {merchant}` (or `anchor ingest --rebuild-index`)"


def cache_key(embedder_name: str, text: str) -> str:
    """The embedding cache key of a passage text for one embedder."""
    return hashlib.sha1(f"{embedder_name}\x00{text}".encode()).hexdigest()


class CatalogIndex:
    """A merchant's index on disk and, once loaded or synced, in memory.

    Args:
        root: the index directory (``<data_dir>/index``).
        merchant: the merchant id; one directory each, no query crosses merchants.
        embedder: the embedder that builds and queries the vectors.
        embed_batch: passages per embedder call while syncing (progress is reported per call).
    """

    def __init__(self, root: Path, merchant: str, embedder: Embedder, *, embed_batch: int = 256) -> None:
        if not _MERCHANT_RE.match(merchant):
            raise ValueError(
                f"merchant id {merchant!r} cannot name an index directory: use letters, digits, '_', '-', '.'"
            )
        self.root = Path(root)
        self.merchant = merchant
        self.embedder = embedder
        self.embed_batch = max(1, embed_batch)
        self.directory = self.root / merchant
        self._gen: Generation | None = None
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

    # ---------- state ----------
    @property
    def generation(self) -> Generation:
        """The loaded generation; loads it on first use."""
        if self._gen is None and not self.load():
            raise IndexNotBuiltError(
                f"no search index for merchant {self.merchant!r} under {self.root}; "
                f"{_rebuild_hint(self.merchant)}"
            )
        assert self._gen is not None
        return self._gen

    @property
    def loaded(self) -> bool:
        return self._gen is not None

    def current_name(self) -> str | None:
        """The generation CURRENT points at, if it exists on disk."""
        try:
            name = (self.directory / "CURRENT").read_text(encoding="ascii").strip()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return name if _GEN_RE.match(name) and (self.directory / name).is_dir() else None

    def exists(self) -> bool:
        return self.current_name() is not None

    def warm_up(self) -> None:
        """Load the index, the tokenizer and the embedder now rather than on the first question."""
        from knowledge.tokenize import warm_up as warm_tokenizer

        warm_tokenizer()
        warm = getattr(self.embedder, "warm_up", None)
        if callable(warm):
            warm()
        self.load()

    # ---------- loading ----------
    def load(self) -> bool:
        """Load the current generation. False when none exists.

        Raises:
            IndexMismatchError: the index was built by another embedder or in another format.
        """
        name = self.current_name()
        if name is None:
            return False
        if self._gen is not None and self._gen.name == name:
            return True
        path = self.directory / name
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        self._check_manifest(manifest)
        try:
            self._gen = read_generation(path, manifest)
        except GenerationError as exc:
            raise IndexMismatchError(f"{exc}: {_rebuild_hint(self.merchant)}") from exc
        return True

    def reload_if_changed(self) -> bool:
        """Pick up a generation another process swapped in. True when a new one was loaded."""
        name = self.current_name()
        if name is None or (self._gen is not None and self._gen.name == name):
            return False
        return self.load()

    def _check_manifest(self, manifest: dict[str, Any]) -> None:
        built_by = manifest.get("embedder")
        if manifest.get("format") != FORMAT_VERSION:
            raise IndexMismatchError(
                f"the index of merchant {self.merchant!r} has format {manifest.get('format')}, this version "
                f"reads format {FORMAT_VERSION}; {_rebuild_hint(self.merchant)}"
            )
        if built_by != self.embedder.name or int(manifest.get("dim", -1)) != self.embedder.dim:
            raise IndexMismatchError(
                f"the index of merchant {self.merchant!r} was built with embedder {built_by!r} "
                f"({manifest.get('dim')}-d) but the configured embedder is {self.embedder.name!r} "
                f"({self.embedder.dim}-d); {_rebuild_hint(self.merchant)}"
            )

    # ---------- querying primitives ----------
    def embed_query(self, text: str) -> np.ndarray:
        """The (dim,) vector of a question, from a small LRU cache when asked before."""
        with self._cache_lock:
            hit = self._query_cache.get(text)
            if hit is not None:
                self._query_cache.move_to_end(text)
                return hit
        vector: np.ndarray = np.asarray(self.embedder.embed([text])[0], dtype=np.float32)
        with self._cache_lock:
            self._query_cache[text] = vector
            if len(self._query_cache) > _QUERY_CACHE:
                self._query_cache.popitem(last=False)
        return vector

    def dense_search(
        self, vector: np.ndarray, k: int, rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k passage rows by exact inner product, optionally among `rows` only. Returns (rows, scores).

        FAISS finds the candidates; their scores are recomputed from the raw vectors, so a quantised
        index never changes a score a caller sees.
        """
        gen = self.generation
        if len(gen) == 0 or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if rows is None:
            query = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
            _, ids = gen.vectors.search(query, min(k, len(gen)))
            rows = ids[0][ids[0] >= 0].astype(np.int64)
        scores = self.exact_scores(vector, rows)
        order = np.argsort(-scores, kind="stable")[:k]
        return rows[order], scores[order]

    def exact_scores(self, vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Inner products of the query vector with the given passage rows."""
        if not rows.size:
            return np.zeros(0, dtype=np.float32)
        gen = self.generation
        picked = np.asarray(gen.raw[np.asarray(rows, dtype=np.int64)], dtype=np.float32)
        return np.asarray(picked @ np.asarray(vector, dtype=np.float32), dtype=np.float32)

    def rows_for_skus(self, skus: Collection[str]) -> np.ndarray:
        gen = self.generation
        parts = [gen.rows_by_sku[s] for s in skus if s in gen.rows_by_sku]
        if not parts:
            return np.zeros(0, dtype=np.int64)
        return np.asarray(np.concatenate(parts), dtype=np.int64)

    # ---------- building ----------
    def sync(
        self,
        products: Sequence[Product],
        documents: Sequence[Document] = (),
        progress: ProgressFn | None = None,
    ) -> IndexSyncStats:
        """Bring the index up to date with the catalog, embedding only passages not embedded before.

        A catalog identical to the live generation's (same passages, same product table, same embedder)
        returns at once without writing anything.
        """
        started = time.perf_counter()
        report = progress or (lambda stage, done, total: None)
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._build_lock():
            self._remove_stray_builds()
            catalog = catalog_passages(products, documents)
            entries = [ProductEntry.from_product(p) for p in products]
            records = [
                PassageRecord(cp.passage, cp.sku, cache_key(self.embedder.name, cp.passage.text))
                for cp in catalog
            ]
            report("passages", len(records), len(records))
            fingerprint = self._fingerprint(records, entries)
            if self._current_fingerprint() == fingerprint:
                # Nothing changed: the live generation stays, loaded now or on first search.
                return IndexSyncStats(len(records), 0, len(records), time.perf_counter() - started)
            previous = self._previous_generation()
            vectors, embedded, reused = self._vectors_for(records, catalog, previous, report)
            report("tokenize", 0, len(records))
            lexical = LexicalIndex.build([tokenize(r.passage.text) for r in records])
            report("tokenize", len(records), len(records))
            manifest = {
                "format": FORMAT_VERSION,
                "merchant": self.merchant,
                "embedder": self.embedder.name,
                "dim": self.embedder.dim,
                "tokenizer": TOKENIZER_VERSION,
                "passages": len(records),
                "products": len(entries),
                "fingerprint": fingerprint,
                "created_at": time.time(),
            }
            search_index = vector_index(vectors)
            name = self._write_generation(manifest, records, entries, vectors, search_index, lexical)
            report("index", len(records), len(records))
            self._gen = Generation(name, manifest, records, entries, vectors, search_index, lexical)
            self._cleanup(keep={name, previous.name if previous else ""})
        return IndexSyncStats(len(records), embedded, reused, time.perf_counter() - started)

    def matches(self, products: Sequence[Product], documents: Sequence[Document] = ()) -> bool:
        """True when the live generation was built from exactly this catalog (and this embedder)."""
        catalog = catalog_passages(products, documents)
        records = [
            PassageRecord(cp.passage, cp.sku, cache_key(self.embedder.name, cp.passage.text))
            for cp in catalog
        ]
        entries = [ProductEntry.from_product(p) for p in products]
        current = self._current_fingerprint()
        return current is not None and current == self._fingerprint(records, entries)

    def _fingerprint(self, records: list[PassageRecord], entries: list[ProductEntry]) -> str:
        digest = hashlib.sha1()
        digest.update(
            f"{FORMAT_VERSION}|{TOKENIZER_VERSION}|{self.embedder.name}|{self.embedder.dim}".encode()
        )
        for record in records:
            digest.update(f"|{record.passage.passage_id}|{record.sku}|{record.key}".encode())
        for entry in entries:
            digest.update(json.dumps(entry.to_dict(), ensure_ascii=False, sort_keys=True).encode())
        return digest.hexdigest()

    def _current_fingerprint(self) -> str | None:
        """The live generation's catalog fingerprint, if built by this embedder."""
        name = self.current_name()
        if name is None:
            return None
        if self._gen is not None and self._gen.name == name:
            return str(self._gen.manifest.get("fingerprint"))
        try:
            manifest = json.loads((self.directory / name / "manifest.json").read_text(encoding="utf-8"))
            self._check_manifest(manifest)
        except (IndexMismatchError, OSError, ValueError):
            return None
        return str(manifest.get("fingerprint"))

    def _previous_generation(self) -> Generation | None:
        """The live generation if it was built by this embedder (its vectors can be reused)."""
        name = self.current_name()
        if name is None:
            return None
        if self._gen is not None and self._gen.name == name:
            return self._gen
        try:
            manifest = json.loads((self.directory / name / "manifest.json").read_text(encoding="utf-8"))
            self._check_manifest(manifest)
            return read_generation(self.directory / name, manifest)
        except (IndexMismatchError, GenerationError, OSError, ValueError, KeyError):
            return None  # nothing reusable: the rebuild embeds everything

    def _vectors_for(
        self,
        records: list[PassageRecord],
        catalog: list[CatalogPassage],
        previous: Generation | None,
        report: ProgressFn,
    ) -> tuple[np.ndarray, int, int]:
        dim = self.embedder.dim
        vectors = np.zeros((len(records), dim), dtype=np.float32)
        cached_rows: dict[str, int] = {}
        if previous is not None:
            cached_rows = {r.key: i for i, r in enumerate(previous.records)}
        todo: dict[str, list[int]] = {}
        texts: dict[str, str] = {}
        reused = 0
        reuse_from: list[int] = []
        reuse_to: list[int] = []
        for row, record in enumerate(records):
            source_row = cached_rows.get(record.key)
            if source_row is not None:
                reuse_from.append(source_row)
                reuse_to.append(row)
                reused += 1
            else:
                todo.setdefault(record.key, []).append(row)
                texts[record.key] = catalog[row].passage.text
        if reuse_from and previous is not None:
            vectors[reuse_to] = previous.raw[np.asarray(reuse_from, dtype=np.int64)]
        keys = list(todo)
        total = len(keys)
        report("embed", 0, total)
        for start in range(0, total, self.embed_batch):
            chunk = keys[start : start + self.embed_batch]
            embedded = self.embedder.embed([texts[k] for k in chunk])
            if embedded.shape != (len(chunk), dim):
                raise ValueError(
                    f"embedder {self.embedder.name!r} returned shape {embedded.shape}, "
                    f"expected {(len(chunk), dim)}"
                )
            for key, vector in zip(chunk, embedded, strict=True):
                vectors[todo[key]] = vector
            report("embed", min(start + len(chunk), total), total)
        embedded_count = sum(len(rows) for rows in todo.values())
        return vectors, embedded_count, reused

    # ---------- files ----------
    @contextlib.contextmanager
    def _build_lock(self) -> Iterator[None]:
        with open(self.directory / ".lock", "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _generation_names(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(p.name for p in self.directory.iterdir() if _GEN_RE.match(p.name))

    def _remove_stray_builds(self) -> None:
        """Builds that died before their rename (we hold the lock: nobody else is building)."""
        for path in self.directory.glob("gen-*.tmp"):
            shutil.rmtree(path, ignore_errors=True)

    def _write_generation(
        self,
        manifest: dict[str, Any],
        records: list[PassageRecord],
        entries: list[ProductEntry],
        vectors: np.ndarray,
        search_index: Any,
        lexical: LexicalIndex,
    ) -> str:
        import faiss

        existing = [int(_GEN_RE.match(n).group(1)) for n in self._generation_names()]  # type: ignore[union-attr]
        name = f"gen-{(max(existing) + 1 if existing else 1):06d}"
        tmp = self.directory / f"{name}.tmp"
        tmp.mkdir()
        try:
            write_json(tmp / "passages.json", [r.to_dict() for r in records])
            write_json(tmp / "products.json", [e.to_dict() for e in entries])
            np.save(tmp / "vectors.npy", vectors)
            faiss.write_index(search_index, str(tmp / "vectors.faiss"))
            lexical.save(tmp / "bm25")
            write_json(tmp / "manifest.json", manifest)  # written last: its presence marks completeness
            for path in tmp.rglob("*"):
                if path.is_file():
                    fsync_file(path)
            fsync_dir(tmp / "bm25")
            fsync_dir(tmp)
            final = self.directory / name
            os.replace(tmp, final)
            fsync_dir(self.directory)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        pointer = self.directory / "CURRENT.tmp"
        with open(pointer, "w", encoding="ascii") as fh:
            fh.write(name)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(pointer, self.directory / "CURRENT")
        fsync_dir(self.directory)
        return name

    def _cleanup(self, keep: set[str]) -> None:
        """Remove old generations; the previous one stays for readers that are still loading it."""
        for name in self._generation_names():
            if name not in keep:
                shutil.rmtree(self.directory / name, ignore_errors=True)
