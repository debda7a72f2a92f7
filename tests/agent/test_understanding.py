"""The pieces of the intent model: features, the artefact, training data, noisy copies, the certain rules,
threshold choice. The trained model's quality is measured in test_router.py and by `anchor eval intents`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from agent.understanding import overrides
from agent.understanding.augment import augment
from agent.understanding.features import HASH_BUCKETS, bucket_counts, cue_names, fold, sparse_row
from agent.understanding.intents import (
    AFTER_SALES_CATEGORIES,
    AFTER_SALES_INTENTS,
    DEFINITIONS,
    INTENTS,
    category_of,
    route_of,
)
from agent.understanding.model import PACKAGED_MODEL, IntentModel, ModelArtefactError, Thresholds
from agent.understanding.train import (
    Example,
    TrainingDataError,
    choose_thresholds,
    fit_temperature,
    load_examples,
)

pytestmark = pytest.mark.unit


def test_every_intent_has_a_definition_a_route_and_after_sales_ones_a_category() -> None:
    assert set(DEFINITIONS) == set(INTENTS)
    for intent in INTENTS:
        route = route_of(intent)
        category = category_of(intent)
        assert (route == "after_sales") == (intent in AFTER_SALES_INTENTS)
        assert (category is not None) == (intent in AFTER_SALES_INTENTS)
        assert category is None or category in AFTER_SALES_CATEGORIES
    assert route_of("presale_policy") == "product_question"  # answered from the policies, no ticket


def test_features_are_deterministic_and_fold_order_numbers_and_links() -> None:
    a = fold("订单号 230918445201937766 ＸＬ退款 https://shop.example.com/x")
    assert "230918445201937766" not in a
    assert "§" in a
    assert "↗" in a
    assert "xl" in a
    assert bucket_counts(a) == bucket_counts(a)
    assert all(0 <= b < HASH_BUCKETS for b in bucket_counts(a))
    idf = np.ones(HASH_BUCKETS, dtype=np.float32)
    row = sparse_row(a, idf)
    assert abs(float(np.linalg.norm(row.values)) - 1.0) < 1e-5
    assert sparse_row("", idf).indices.size <= 3  # the boundary marks alone


def test_cues() -> None:
    assert "order_id" in cue_names("订单号230918445201937766还没到", fold("订单号230918445201937766还没到"))
    assert "phone" in cue_names("电话13812345678", fold("电话13812345678"))
    assert "link_number" in cue_names("3号链接多少钱", fold("3号链接多少钱"))
    assert "question" in cue_names("有货吗", fold("有货吗"))
    assert "no_words" in cue_names("???", fold("???"))
    assert "len_1_2" in cue_names("退", fold("退"))


def _tiny_model(k: int = 3, dim: int = 4) -> IntentModel:
    rng = np.random.default_rng(0)
    return IntentModel(
        labels=INTENTS[:k],
        w_dense=rng.normal(size=(k, dim)).astype(np.float32),
        w_sparse=rng.normal(size=(k, HASH_BUCKETS)).astype(np.float32),
        w_cue=rng.normal(size=(k, 13)).astype(np.float32),
        bias=np.zeros(k, dtype=np.float32),
        idf=np.ones(HASH_BUCKETS, dtype=np.float32),
        dense_scale=1.0,
        sparse_scale=1.0,
        cue_scale=0.3,
        temperature=1.5,
        thresholds=Thresholds(after_sales=0.4, unsure=0.2, handoff=0.3),
        embedder="test-space",
        meta={"version": "intents-test"},
    )


def test_artefact_round_trip_gives_the_same_probabilities(tmp_path: Path) -> None:
    model = _tiny_model()
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = IntentModel.load(path)
    vector = np.array([0.5, 0.5, 0.5, 0.5], dtype=np.float32)
    assert loaded.version == "intents-test"
    assert loaded.thresholds == model.thresholds
    assert loaded.predict("我要退款", vector).probs == pytest.approx(model.predict("我要退款", vector).probs)
    assert sum(loaded.predict("hello", vector).probs.values()) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "missing"),
        (b"not a zip file", "cannot be read"),
    ],
)
def test_unusable_artefact_says_how_to_rebuild(tmp_path: Path, content: bytes | None, reason: str) -> None:
    path = tmp_path / "intents.npz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelArtefactError) as err:
        IntentModel.load(path)
    assert reason in str(err.value)
    assert "anchor router train" in str(err.value)


def test_artefact_of_another_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.npz"
    np.savez(path, header=np.array(json.dumps({"format": "something-else/0"})))
    with pytest.raises(ModelArtefactError, match="format"):
        IntentModel.load(path)


def test_packaged_model_loads_and_is_versioned() -> None:
    model = IntentModel.load(PACKAGED_MODEL)
    assert model.version.startswith("intents-")
    assert set(model.labels) == set(INTENTS)
    assert model.embedder == "use-multilingual-v3"
    assert model.meta["examples"] >= 3000
    t = model.thresholds
    assert 0 < t.unsure < t.after_sales < 1


def test_training_data_errors_name_file_and_line(tmp_path: Path) -> None:
    good = tmp_path / "a.jsonl"
    good.write_text(json.dumps({"text": "我要退款", "intent": "refund_return_exchange"}) + "\n\n")
    assert load_examples([good])[0].intent == "refund_return_exchange"
    for body, reason in (
        ("{not json\n", "line 1: not JSON"),
        (json.dumps({"text": "", "intent": "other"}), "line 1: 'text' is missing"),
        (json.dumps({"text": "hi", "intent": "refund"}), "line 1: intent 'refund' is not one of"),
        ("[1, 2]", "line 1: expected an object"),
    ):
        bad = tmp_path / "bad.jsonl"
        bad.write_text(json.dumps({"text": "ok", "intent": "greeting"}) + "\n" + body + "\n")
        with pytest.raises(TrainingDataError) as err:
            load_examples([bad])
        assert str(bad) in str(err.value)
        assert reason.replace("line 1", "line 2") in str(err.value)


def test_noisy_copies_are_seeded_and_keep_the_label() -> None:
    examples = [
        Example("我要退款 快递还没收到", "refund_return_exchange"),
        Example("please cancel my order, I received nothing", "order_change"),
        Example("这个多少钱", "product_question"),
    ] * 3
    a = augment(examples, seed=3)
    assert a == augment(examples, seed=3)
    assert a != augment(examples, seed=4)
    assert all(x.text not in {e.text for e in examples} for x in a)
    for copy in a:
        if copy.intent == "product_question":  # order numbers only go into order messages
            assert not any(ch.isdigit() for ch in copy.text)


@pytest.mark.parametrize(
    "text",
    [
        "转人工",
        "人工",
        "人工客服",
        "我要找人工客服",
        "给我转个真人客服",
        "叫你们人工出来",
        "I want to talk to a real person",
        "can I speak to a human",
        "live agent please",
        "agent",
        "connect me to a customer service representative",
        "transfer me to someone who can help",
    ],
)
def test_explicit_requests_for_a_person(text: str) -> None:
    assert overrides.asks_for_person(text)


@pytest.mark.parametrize(
    "text",
    ["你是真人吗", "你们是机器人吗", "are you a real person?", "am I talking to a bot", "人工智能是什么"],
)
def test_questions_whether_it_is_a_person_are_not_requests(text: str) -> None:
    assert not overrides.asks_for_person(text)


def test_order_problem_needs_both_an_order_number_and_a_problem() -> None:
    assert overrides.order_problem("230918445201937766 还没收到", has_order_id=True)
    assert not overrides.order_problem("230918445201937766 还没收到", has_order_id=False)
    assert not overrides.order_problem("230918445201937766 谢谢", has_order_id=True)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("我要退款", "refund"),
        ("钱什么时候退给我", "refund"),
        ("我要退货 寄回去", "return"),
        ("I want to return it", "return"),
        ("能换个大一码吗", "exchange"),
        ("can I exchange it for a medium", "exchange"),
    ],
)
def test_refund_kind(text: str, kind: str) -> None:
    assert overrides.refund_kind(text) == kind


def test_temperature_fits_overconfident_logits() -> None:
    rng = np.random.default_rng(1)
    targets = rng.integers(0, 3, size=300)
    logits = rng.normal(size=(300, 3))
    logits[np.arange(300), targets] += 1.0
    assert fit_temperature(logits * 6.0, targets) > 2.0  # scaled-up logits are cooled down
    assert fit_temperature(logits * 6.0, targets) > fit_temperature(logits, targets)


def _pred(p_as: float, p_handoff: float = 0.0):
    from agent.understanding.model import IntentPrediction

    rest = max(0.0, p_as - p_handoff)
    return IntentPrediction(
        {"handoff_request": p_handoff, "refund_return_exchange": rest, "product_question": 1.0 - p_as}, ()
    )


def test_thresholds_separate_held_out_after_sales_from_pre_sale() -> None:
    preds = [_pred(p) for p in (0.9, 0.8, 0.7, 0.65)] + [_pred(p) for p in (0.05, 0.1, 0.2, 0.3, 0.35)]
    gold = ["refund_return_exchange"] * 4 + ["presale_policy"] * 5
    t = choose_thresholds(preds, gold)
    assert 0.35 < t.after_sales <= 0.65
    assert t.unsure < t.after_sales
