"""The claim classifier: training (on a small labelled set, with the hash embedder: words shared → vectors
alike), its file, its cuts, and its findings beside the word rules'."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from agent.compliance import check
from agent.compliance.claims import LABELS, ClaimModel, ClaimModelError, claim_findings
from agent.compliance.claims_train import Labelled, load_labelled, train_claims
from knowledge.embedders import HashEmbedder

CLAIMS = {
    "efficacy": [
        "敷完第二天痘痘就消了",
        "用了一周斑点全没了",
        "this will clear your skin in days",
        "your acne disappears overnight",
    ],
    "investment": [
        "放几年价格就能翻上去",
        "买了就是存钱升级",
        "it only goes up in value",
        "a piece that pays you back later",
    ],
    "superstition": [
        "戴上它运气变好",
        "放在家里挡住坏运气",
        "keeps bad energy out of your home",
        "wear it and fortune follows",
    ],
}
NONE = [
    "这款卫衣是纯棉的，洗的时候建议手洗",
    "今天下单明天发货，包邮到家",
    "尺码偏大，建议拍小一码",
    "this jacket packs into its own pocket",
    "the mug holds 350 ml and is dishwasher safe",
    "ships from our warehouse within two days",
    "颜色有白色和黑色两种",
    "the strap is adjustable from 60 to 90 cm",
]


def _items() -> list[Labelled]:
    items: list[Labelled] = []
    for label, texts in CLAIMS.items():
        for repeat in range(3):  # a few copies so the held-out split keeps every label
            for i, text in enumerate(texts):
                items.append(Labelled(f"{label}-{repeat}-{i}", "zh" if i < 2 else "en", label, text))
    for repeat in range(3):
        for i, text in enumerate(NONE):
            items.append(Labelled(f"none-{repeat}-{i}", "zh" if i % 2 == 0 else "en", "none", text))
    return items


@pytest.fixture(scope="module")
def model() -> ClaimModel:
    embedder = HashEmbedder()
    trained, report = train_claims(_items(), embedder.embed, embedder=embedder.name, held_out=0.34)
    assert report["dev_sentences"] > 0
    return trained


def test_trained_model_reads_claims_and_passes_ordinary_lines(model: ClaimModel) -> None:
    embed = HashEmbedder().embed
    assert 0.3 <= model.review_cut <= model.drop_cut <= 0.99
    found = claim_findings("家人们，敷完第二天痘痘就消了！", embed, language="zh", model=model)
    assert [f.category for f in found] == ["health_efficacy"]
    assert found[0].word == "家人们，敷完第二天痘痘就消了！"  # the whole sentence goes
    assert found[0].article.startswith("广告法")
    assert claim_findings("今天下单明天发货，包邮到家", embed, language="zh", model=model) == []


def test_word_rules_decide_where_they_fire(model: ClaimModel) -> None:
    embed = HashEmbedder().embed
    text = "敷完第二天痘痘就消了，治疗痘痘"
    words = check(text).findings
    assert words  # 治疗 is a listed word
    assert claim_findings(text, embed, language="zh", word_findings=words, model=model) == []


def test_model_file_round_trip_and_refusal(model: ClaimModel, tmp_path: Path) -> None:
    path = tmp_path / "claims.npz"
    model.save(path)
    loaded = ClaimModel.load(path)
    assert loaded.labels == LABELS
    assert (loaded.drop_cut, loaded.review_cut) == (model.drop_cut, model.review_cut)
    vectors = np.eye(1, model.weights.shape[1])
    assert np.allclose(loaded.probabilities(vectors), model.probabilities(vectors), atol=1e-5)
    (tmp_path / "bad.npz").write_bytes(b"not a model")
    with pytest.raises(ClaimModelError, match=r"bad\.npz"):
        ClaimModel.load(tmp_path / "bad.npz")


def test_labelled_file_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    good = json.dumps({"id": "a", "lang": "zh", "label": "none", "text": "你好"}, ensure_ascii=False)
    path.write_text(good + "\n" + json.dumps({"id": "b", "lang": "zh", "label": "wow", "text": "x"}) + "\n")
    with pytest.raises(ValueError, match=r"train.jsonl:2: unknown label"):
        load_labelled(path)
