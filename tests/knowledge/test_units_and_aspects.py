"""Units (quantities, conversions a person would say), the aspect vocabulary as data, and line vectors kept
on disk."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from knowledge.aspect_vocab import AspectVocabulary, AspectVocabularyError
from knowledge.line_vectors import LineVectors, product_lines
from knowledge.models import Product
from knowledge.units import asked_unit, conversions_for, quantities


@pytest.mark.parametrize(
    ("question", "line", "expected"),
    [
        ("能承重多少斤", "承重: 30kg", ["30kg约合60斤"]),
        ("how many ml is it", "Capacity: 12 oz", ["12 oz is about 355 ml"]),
        ("how many oz", "Capacity: 750 ml", ["750 ml is about 25.4 fl oz"]),
        ("what is that in fahrenheit", "耐温: 260℃", ["260℃ is about 500 °F"]),
        ("how many inches", "尺寸: 105×68×17mm", ["105×68×17mm is about 4.1×2.7×0.67 in"]),
        ("多少斤", "Weight: About 380 g", ["380 g约合0.76斤"]),
    ],
)
def test_conversions_into_the_unit_asked(question: str, line: str, expected: list[str]) -> None:
    lang = "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in question) else "en"
    assert [c.text(lang) for c in conversions_for(question, line)] == expected


def test_no_conversion_when_the_line_already_says_it_or_nothing_is_asked() -> None:
    assert conversions_for("多少摄氏度", "Oven safe: Up to 500°F (260°C)") == []
    assert conversions_for("重吗", "重量: 3kg") == []
    assert conversions_for("how many pounds", "Material: cotton") == []
    assert asked_unit("is it heavy?") is None


def test_quantities_read_merchant_writing() -> None:
    found = {(q.value, q.unit) for q in quantities("净重约1.2kg，容量35L，12 oz，15.6 inch")}
    assert (Decimal("1.2"), "kg") in found
    assert (Decimal("35"), "l") in found
    assert (Decimal("12"), "oz") in found
    assert (Decimal("15.6"), "in") in found


@pytest.mark.parametrize(
    ("question", "aspect"),
    [
        ("行李箱能装多少东西", "capacity"),
        ("手表能戴着游泳吗", "waterproof"),
        ("how much does the jar hold?", "capacity"),
        ("is it still good a week after I open it?", "shelf_life"),
        ("哪里产的", "origin"),
        ("can I still get one?", "availability"),
        ("AirBuds 2 支持无线充电吗", "wireless_charging"),
    ],
)
def test_questions_name_aspects_in_other_words(question: str, aspect: str) -> None:
    assert aspect in AspectVocabulary.load().asked(question)


def test_longer_phrase_and_product_words_win() -> None:
    vocab = AspectVocabulary.load()
    assert vocab.asked("支持无线充电吗") == ("wireless_charging",)
    assert "insulation" not in vocab.asked("Everkeep保温瓶是哪里产的")  # 保温瓶 names the product


def test_lines_by_key_and_by_unit() -> None:
    vocab = AspectVocabulary.load()
    assert "capacity" in vocab.of_line("jar", "1.5 L")
    assert "waterproof" in vocab.of_line("防水等级", "5ATM")
    assert "weight" in vocab.of_line("Weight", "About 380 g")
    assert vocab.efficacy_terms("will this cure my acne?") == ("cure", "acne")


def test_a_merchant_extends_the_vocabulary(tmp_path: Path) -> None:
    extra = tmp_path / "aspects.yaml"
    extra.write_text(
        "aspects:\n  thread_count:\n    label: {zh: 支数, en: thread count}\n"
        "    ask: [支数, thread count]\n    keys: [支数, thread count]\n",
        encoding="utf-8",
    )
    vocab = AspectVocabulary.load(extra)
    assert vocab.asked("床单的支数高吗") == ("thread_count",)
    assert vocab.label("thread_count", "en") == "thread count"


def test_a_broken_vocabulary_names_the_file_and_entry(tmp_path: Path) -> None:
    bad = tmp_path / "aspects.yaml"
    bad.write_text("aspects:\n  size:\n    ask: 多大\n", encoding="utf-8")
    with pytest.raises(AspectVocabularyError, match=r"aspects\.yaml.*'size'.*'ask'"):
        AspectVocabulary.load(bad)


def test_line_vectors_are_kept_and_reused(tmp_path: Path) -> None:
    calls: list[int] = []

    def embed(texts: Sequence[str]) -> np.ndarray:
        calls.append(len(texts))
        return np.array([[float(len(t)), 1.0, 0.0] for t in texts], dtype=np.float32)

    product = Product.from_dict(
        {
            "sku": "P1",
            "title": "Jar",
            "attributes": {"Capacity": "1.5 L"},
            "selling_points": ["Keeps food hot"],
            "description": "A jar. It is steel.",
        }
    )
    assert [t for _, _, t in product_lines(product)] == [
        "Capacity: 1.5 L",
        "Keeps food hot",
        "A jar.",
        "It is steel.",
    ]
    path = tmp_path / "lines.npz"
    first = LineVectors(embed, "fake", path)
    # Every line, and each attribute's key and value on their own ("Capacity", "1.5 L").
    assert first.prime([product]) == 6
    assert path.is_file()
    again = LineVectors(embed, "fake", path)  # a restart: read from disk, nothing embedded
    vectors = again.vectors(["Capacity: 1.5 L", "Keeps food hot", "Capacity", "1.5 L"])
    assert calls == [6]
    assert vectors.shape == (4, 3)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    path.write_bytes(b"not an npz")  # a damaged cache is rebuilt, never trusted
    assert LineVectors(embed, "fake", path).vectors(["Keeps food hot"]).shape == (1, 3)
