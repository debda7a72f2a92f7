from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from knowledge.embedders import HashEmbedder
from knowledge.index import CatalogIndex, IndexMismatchError, IndexNotBuiltError
from knowledge.models import Product
from knowledge.passages import build_passages, chunk_text, product_passages
from knowledge.retriever import HybridRetriever
from tests.knowledge.retrieval_catalog import documents, products

pytestmark = pytest.mark.unit


class CountingEmbedder(HashEmbedder):
    """The hash embedder, counting texts; optionally failing on the n-th call (a crash mid-build)."""

    def __init__(self, dim: int = 64, fail_on_call: int | None = None) -> None:
        super().__init__(dim)
        self.calls = 0
        self.texts = 0
        self.fail_on_call = fail_on_call

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        if self.fail_on_call is not None and self.calls >= self.fail_on_call:
            raise RuntimeError("embedder died mid-build")
        self.texts += len(texts)
        return super().embed(texts)


def _index(root: Path, emb: HashEmbedder | None = None, **kw: int) -> CatalogIndex:
    return CatalogIndex(root, "shop-1", emb or CountingEmbedder(), **kw)


def test_passages_carry_their_source_and_know_their_product() -> None:
    passages = build_passages(products(), documents())
    ids = [p.passage_id for p in passages]
    assert len(ids) == len(set(ids))
    blender = [p for p in passages if p.source.sku == "BL-200"]
    assert {p.source.field for p in blender} >= {"summary", "selling_points", "description", "variants"}
    assert all(p.text.startswith("Vita Pro Countertop Blender:") for p in blender)
    assert all("Red" in p.text for p in blender if p.source.field == "variants")
    # prices and stock are read from the store at answer time, never from passage text
    assert not any("299" in p.text for p in passages if p.source.sku == "EB-X3")
    policy = [p for p in passages if p.source.doc_id == "returns-zh"]
    assert policy[0].text.startswith("退货政策 — 七天无理由退货:")
    assert policy[0].passage_id == "d:returns-zh:0"
    assert policy[0].locale == "zh"


def test_brand_is_not_repeated_when_the_title_starts_with_it() -> None:
    (summary, *_) = product_passages(products()[2])
    assert summary.text.startswith("花语 清透防晒霜 SPF50:")


def test_long_description_is_chunked_at_sentence_ends() -> None:
    text = "。".join(f"第{i}句介绍这款产品的一个特点" for i in range(60)) + "。"
    chunks = chunk_text(text, limit=120)
    assert len(chunks) > 3
    assert all(len(c) <= 120 for c in chunks)
    assert "".join(chunks) == text


def test_sync_builds_a_generation_another_instance_can_load(tmp_path: Path) -> None:
    index = _index(tmp_path)
    assert not index.exists()
    stats = index.sync(products(), documents())
    assert stats.passages == stats.embedded > 0
    assert stats.reused == 0
    assert index.exists()
    fresh = _index(tmp_path)
    assert fresh.load()
    assert len(fresh.generation) == stats.passages
    hits = HybridRetriever(fresh).search_products("EB-X3-RED", k=1)
    assert hits[0].sku == "EB-X3"


def test_unchanged_catalog_costs_no_embedding_and_no_new_generation(tmp_path: Path) -> None:
    emb = CountingEmbedder()
    index = _index(tmp_path, emb)
    index.sync(products(), documents())
    first = index.current_name()
    embedded_before = emb.texts
    stats = _index(tmp_path, emb).sync(products(), documents())
    assert stats.embedded == 0
    assert stats.reused == stats.passages
    assert emb.texts == embedded_before
    assert index.current_name() == first


def test_edit_embeds_only_changed_passages(tmp_path: Path) -> None:
    emb = CountingEmbedder()
    index = _index(tmp_path, emb)
    index.sync(products(), documents())
    edited = products()
    edited[1] = dataclasses.replace(edited[1], description="A quieter 1000 W blender with a glass jar.")
    before = emb.texts
    stats = index.sync(edited, documents())
    assert stats.embedded == 1  # the blender's one description passage
    assert emb.texts - before == 1
    assert stats.reused == stats.passages - 1
    hit = HybridRetriever(index).search("quieter 1000 W blender", k=1)[0]
    assert hit.passage.passage_id == "p:BL-200:description:0"


def test_removed_product_disappears_and_old_generations_are_cleaned(tmp_path: Path) -> None:
    index = _index(tmp_path)
    catalog = products()
    for n in range(4):
        index.sync(catalog[: len(catalog) - n], documents())
    gens = sorted(p.name for p in (tmp_path / "shop-1").iterdir() if p.name.startswith("gen-"))
    assert len(gens) <= 2
    assert index.current_name() == gens[-1]
    assert "EN-TEA-4" not in HybridRetriever(index).lookup("Highland Earl Grey Black Tea, 50 Bags")


def test_index_built_by_another_embedder_is_refused_with_the_rebuild_command(tmp_path: Path) -> None:
    _index(tmp_path, HashEmbedder(64)).sync(products(), documents())
    other = _index(tmp_path, HashEmbedder(128))
    with pytest.raises(
        IndexMismatchError, match=r"hash-64.*hash-128.*anchor index rebuild --merchant shop-1"
    ):
        other.load()
    # the rebuild with the new embedder works and re-embeds everything
    stats = other.sync(products(), documents())
    assert stats.embedded == stats.passages
    assert other.load()


def test_crash_mid_build_leaves_the_previous_generation_usable(tmp_path: Path) -> None:
    _index(tmp_path).sync(products(), documents())
    before = _index(tmp_path).current_name()
    edited = [dataclasses.replace(p, description=p.description + " Updated.") for p in products()]
    dying = _index(tmp_path, CountingEmbedder(fail_on_call=2), embed_batch=2)
    with pytest.raises(RuntimeError, match="died mid-build"):
        dying.sync(edited, documents())
    assert not list((tmp_path / "shop-1").glob("*.tmp"))
    survivor = _index(tmp_path)
    assert survivor.current_name() == before
    assert survivor.load()
    hits = HybridRetriever(survivor).search("Black tea with bergamot oil", k=1)
    assert hits[0].passage.text.endswith("Black tea with bergamot oil. Caffeinated.")


def test_stray_build_directory_is_ignored_then_removed(tmp_path: Path) -> None:
    index = _index(tmp_path)
    index.sync(products(), documents())
    stray = tmp_path / "shop-1" / "gen-000099.tmp"
    stray.mkdir()
    (stray / "passages.json").write_text("half written", encoding="utf-8")
    fresh = _index(tmp_path)
    assert fresh.load()
    assert fresh.current_name() == index.current_name()
    fresh.sync(products()[:3], documents())
    assert not stray.exists()


def test_empty_catalog_and_missing_index(tmp_path: Path) -> None:
    index = _index(tmp_path)
    with pytest.raises(IndexNotBuiltError, match="anchor index rebuild --merchant shop-1"):
        HybridRetriever(index).search("anything")
    index.sync([], [])
    retriever = HybridRetriever(index)
    assert retriever.search("anything") == []
    assert retriever.search_products("anything") == []


def test_merchant_id_must_be_a_safe_directory_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="merchant id"):
        CatalogIndex(tmp_path, "../etc", HashEmbedder())


def test_progress_is_reported(tmp_path: Path) -> None:
    seen: list[tuple[str, int, int]] = []
    _index(tmp_path, embed_batch=4).sync(products(), documents(), progress=lambda *a: seen.append(a))
    stages = {s for s, _, _ in seen}
    assert {"passages", "embed", "index"} <= stages
    embed = [(d, t) for s, d, t in seen if s == "embed"]
    assert embed[-1][0] == embed[-1][1] > 0


def test_products_arg_overrides_the_stored_table(tmp_path: Path) -> None:
    index = _index(tmp_path)
    index.sync(products(), documents())
    only_tea: list[Product] = [p for p in products() if p.sku == "EN-TEA-4"]
    assert HybridRetriever(index, only_tea).lookup("EB-X3") == []
    assert HybridRetriever(index).lookup("EB-X3") == ["EB-X3"]


def test_quantised_index_for_large_catalogs_finds_the_same_neighbours() -> None:
    from knowledge.embedders import l2_normalise
    from knowledge.generation import vector_index

    rng = np.random.default_rng(3)
    vectors = l2_normalise(rng.normal(size=(500, 64)).astype(np.float32))
    query = vectors[17] + 0.05 * rng.normal(size=64).astype(np.float32)
    exact = vector_index(vectors)
    quantised = vector_index(vectors, flat_limit=100)
    assert type(exact).__name__ == "IndexFlatIP"
    assert type(quantised).__name__ == "IndexScalarQuantizer"
    _, exact_ids = exact.search(query.reshape(1, -1), 10)
    _, sq_ids = quantised.search(query.reshape(1, -1), 10)
    assert exact_ids[0][0] == sq_ids[0][0] == 17
    assert len(set(exact_ids[0][:5]) & set(sq_ids[0][:10])) == 5
