"""Retrieval quality on the bilingual dev set: product-level recall@1/@5 and MRR, per slice and style.

Builds the demo catalog's index with the default embedder (USE multilingual) in a temporary directory and
ranks products for every question of ``evals/datasets/retrieval_dev.jsonl`` with each retrieval mode:
dense only, BM25 only, plain reciprocal-rank fusion, and the hybrid (lookup + bounded lexical bonus).
A question counts as found at k when any of its expected skus is among the top k.

Run: ``python -m evals.bench.retrieval_bench [--quick] [--embedder SPEC] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evals.bench.common import machine_info, percentiles, write_result
from knowledge.embedders import make_embedder
from knowledge.index import CatalogIndex
from knowledge.models import Document, Product
from knowledge.retriever import HybridRetriever, Mode

ROOT = Path(__file__).resolve().parents[2]
DEV_SET = ROOT / "evals" / "datasets" / "retrieval_dev.jsonl"
CATALOG = ROOT / "samples" / "demo" / "products.jsonl"
POLICIES = ROOT / "samples" / "demo" / "policies"
MODES: tuple[Mode, ...] = ("dense", "lexical", "rrf", "hybrid")


def load_catalog(
    products_path: Path = CATALOG, policies: Path = POLICIES
) -> tuple[list[Product], list[Document]]:
    """The demo catalog: products from JSONL, documents from the policy Markdown files."""
    from knowledge.loaders import load_file

    result = load_file(products_path)
    products = [sp.product for sp in result.products]
    if not products:  # the loader refused the file: read the canonical JSON directly
        with products_path.open(encoding="utf-8") as fh:
            products = [Product.from_dict(json.loads(line)) for line in fh if line.strip()]
    documents: list[Document] = []
    for path in sorted(policies.glob("*.md")) if policies.is_dir() else []:
        documents.extend(load_file(path).documents)
    return products, documents


def load_questions(path: Path = DEV_SET) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _score(ranked: Sequence[str], expected: Sequence[str]) -> tuple[float, float, float]:
    """(found at 1, found at 5, reciprocal rank of the first expected sku)."""
    rank = next((i + 1 for i, sku in enumerate(ranked) if sku in expected), None)
    if rank is None:
        return 0.0, 0.0, 0.0
    return float(rank == 1), float(rank <= 5), 1.0 / rank


def _summarise(rows: list[tuple[float, float, float]]) -> dict[str, Any]:
    n = len(rows)
    if not n:
        return {"n": 0}
    return {
        "n": n,
        "recall@1": round(sum(r[0] for r in rows) / n, 4),
        "recall@5": round(sum(r[1] for r in rows) / n, 4),
        "mrr": round(sum(r[2] for r in rows) / n, 4),
    }


def evaluate(
    retriever: HybridRetriever, questions: list[dict[str, Any]], *, keep_misses: bool = False
) -> dict[str, Any]:
    """Metrics overall, per slice and per style for the retriever's mode."""
    overall: list[tuple[float, float, float]] = []
    by_slice: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    by_style: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    timings: list[float] = []
    misses: list[dict[str, Any]] = []
    for q in questions:
        started = time.perf_counter()
        hits = retriever.search_products(q["question"], k=5)
        timings.append((time.perf_counter() - started) * 1000)
        ranked = [h.sku for h in hits]
        row = _score(ranked, q["expected_skus"])
        overall.append(row)
        by_slice[q["slice"]].append(row)
        by_style[q["style"]].append(row)
        if keep_misses and row[0] < 1:
            misses.append(
                {
                    "id": q["id"],
                    "question": q["question"],
                    "slice": q["slice"],
                    "expected": q["expected_skus"],
                    "got": ranked[:3],
                    "method": hits[0].method if hits else None,
                }
            )
    result: dict[str, Any] = {
        "overall": _summarise(overall),
        "slices": {k: _summarise(v) for k, v in sorted(by_slice.items())},
        "styles": {k: _summarise(v) for k, v in sorted(by_style.items())},
        "latency_ms": percentiles(timings),
    }
    if keep_misses:
        result["misses"] = misses
    return result


def lookup_share(retriever: HybridRetriever, questions: list[dict[str, Any]]) -> dict[str, Any]:
    """How often a structured lookup answered, and how often its first sku was an expected one."""
    answered = correct = 0
    for q in questions:
        skus = retriever.lookup(q["question"])
        if skus:
            answered += 1
            correct += int(skus[0] in q["expected_skus"])
    n = max(1, len(questions))
    return {
        "answered": answered,
        "share": round(answered / n, 4),
        "precision": round(correct / answered, 4) if answered else None,
    }


def run(*, quick: bool = False, embedder: str = "use-multilingual") -> dict[str, Any]:
    """Build the demo index and measure every mode. `quick` uses every third question."""
    products, documents = load_catalog()
    questions = load_questions()
    if quick:
        questions = questions[::3]
    emb = make_embedder(embedder)
    with tempfile.TemporaryDirectory(prefix="retrieval-bench-") as tmp:
        index = CatalogIndex(Path(tmp), "demo", emb)
        started = time.perf_counter()
        stats = index.sync(products, documents)
        build_s = time.perf_counter() - started
        modes = {}
        for mode in MODES:
            retriever = HybridRetriever(index, mode=mode)
            retriever.search_products("warm up", k=5)
            modes[mode] = evaluate(retriever, questions, keep_misses=mode == "hybrid")
        share = lookup_share(HybridRetriever(index), questions)
    return {
        "benchmark": "retrieval",
        "quick": quick,
        "machine": machine_info(),
        "embedder": emb.name,
        "catalog": {"products": len(products), "documents": len(documents), "passages": stats.passages},
        "questions": len(questions),
        "index_build_s": round(build_s, 3),
        "modes": modes,
        "structured_lookup": share,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--embedder", default="use-multilingual")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = run(quick=args.quick, embedder=args.embedder)
    if args.out:
        write_result(result, args.out)
    table = {
        mode: {"all": r["overall"]} | {s: r["slices"].get(s, {}) for s in ("zh", "en", "cross")}
        for mode, r in result["modes"].items()
    }
    for mode, rows in table.items():
        cells = "  ".join(
            f"{name}: r@1 {row.get('recall@1', 0):.3f} r@5 {row.get('recall@5', 0):.3f}"
            for name, row in rows.items()
        )
        print(f"{mode:8} {cells}")
    print("lookup:", result["structured_lookup"])


if __name__ == "__main__":
    main()
