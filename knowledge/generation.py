"""A generation of a merchant's index on disk: its passage table, vectors, BM25 and the file helpers.

`CatalogIndex` (knowledge.index) decides when to build and which generation is live; this module knows
how one generation is laid out, written durably and read back.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.lexical import LexicalIndex
from knowledge.lookup import ProductEntry
from knowledge.models import Passage, Source


class GenerationError(RuntimeError):
    """A generation on disk is incomplete or inconsistent."""


def set_faiss_threads() -> None:
    import faiss

    faiss.omp_set_num_threads(1)


@dataclass(frozen=True, slots=True)
class PassageRecord:
    """A passage in the generation's table: the passage, the product it is about, its cache key."""

    passage: Passage
    sku: str | None
    key: str

    def to_dict(self) -> dict[str, Any]:
        src = self.passage.source
        return {
            "id": self.passage.passage_id,
            "text": self.passage.text,
            "locale": self.passage.locale,
            "sku": self.sku,
            "src_sku": src.sku,
            "field": src.field,
            "doc": src.doc_id,
            "heading": src.heading,
            "key": self.key,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PassageRecord:
        source = Source(sku=data["src_sku"], field=data["field"], doc_id=data["doc"], heading=data["heading"])
        passage = Passage(data["id"], data["text"], source, data["locale"])
        return cls(passage, data["sku"], data["key"])


#: Up to this many passages the vector index is exact (IndexFlatIP); above it, 8-bit scalar-quantised
#: (a quarter of the memory traffic per search), with candidates re-scored exactly from the raw vectors.
FLAT_LIMIT = 20_000


class Generation:
    """A loaded generation: everything a search needs.

    `raw` holds every passage's float32 vector (memory-mapped from ``vectors.npy`` when read from disk):
    the embedding cache of the next sync and the exact scores of search candidates. `vectors` is the
    FAISS index that finds the candidates.
    """

    def __init__(
        self,
        name: str,
        manifest: dict[str, Any],
        records: list[PassageRecord],
        products: list[ProductEntry],
        raw: np.ndarray,
        vectors: Any,
        lexical: LexicalIndex,
    ) -> None:
        self.name = name
        self.manifest = manifest
        self.records = records
        self.products = products
        self.raw = raw
        self.vectors = vectors
        self.lexical = lexical
        rows_by_sku: dict[str, list[int]] = {}
        for row, record in enumerate(records):
            if record.sku is not None:
                rows_by_sku.setdefault(record.sku, []).append(row)
        self.rows_by_sku = {sku: np.asarray(rows, dtype=np.int64) for sku, rows in rows_by_sku.items()}
        self.row_of = {r.passage.passage_id: i for i, r in enumerate(records)}

    def __len__(self) -> int:
        return len(self.records)


def vector_index(vectors: np.ndarray, flat_limit: int = FLAT_LIMIT) -> Any:
    """The FAISS inner-product index over L2-normalised vectors: exact up to `flat_limit`, else SQ8."""
    import faiss

    set_faiss_threads()
    data = np.ascontiguousarray(vectors, dtype=np.float32)
    dim = data.shape[1]
    index: Any
    if len(data) <= flat_limit:
        index = faiss.IndexFlatIP(dim)
    else:
        index = faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
        index.train(data)
    if len(data):
        index.add(data)
    return index


def read_generation(path: Path, manifest: dict[str, Any]) -> Generation:
    import faiss

    set_faiss_threads()
    records = [PassageRecord.from_dict(d) for d in json.loads((path / "passages.json").read_text("utf-8"))]
    products = [ProductEntry.from_dict(d) for d in json.loads((path / "products.json").read_text("utf-8"))]
    raw = np.load(path / "vectors.npy", mmap_mode="r")
    vectors = faiss.read_index(str(path / "vectors.faiss"))
    lexical = LexicalIndex.load(path / "bm25")
    if not (vectors.ntotal == len(raw) == lexical.num_docs == len(records)):
        raise GenerationError(f"index generation {path} is inconsistent; rebuild it")
    return Generation(path.name, manifest, records, products, raw, vectors, lexical)


def write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fsync_file(path)
