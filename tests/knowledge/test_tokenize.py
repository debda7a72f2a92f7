from __future__ import annotations

import pytest

from knowledge.tokenize import normalize, script_of, tokenize

pytestmark = pytest.mark.unit


def test_full_width_is_folded_and_latin_lowercased() -> None:
    assert normalize("ＰＢ－２００００ ＡＢＣ") == "pb-20000 abc"
    assert tokenize("AirBuds") == ["airbuds"]


def test_model_numbers_are_kept_whole_and_in_useful_parts() -> None:
    tokens = tokenize("ＰＢ－２００００ 20000mAh IPX5 X3")
    for expected in ("pb-20000", "pb20000", "20000", "20000mah", "ipx5", "x3"):
        assert expected in tokens
    # a lone letter or digit split off a model number matches too much to keep
    assert "x" not in tokens
    assert "5" not in tokens


def test_chinese_is_cut_and_function_words_dropped() -> None:
    tokens = tokenize("这款蓝牙耳机有红色的吗？")
    assert "蓝牙" in tokens
    assert "耳机" in tokens
    assert "红色" in tokens
    for stop in ("的", "吗", "有", "这款"):
        assert stop not in tokens


def test_english_stopwords_dropped_product_words_and_sizes_kept() -> None:
    assert tokenize("Does the blender come in red?") == ["blender", "red"]
    assert "xl" in tokenize("这款有XL吗")
    assert "m" in tokenize("size M please")


def test_word_missing_from_dictionary_still_meets_the_question() -> None:
    # 卫衣 is not in jieba's dictionary: the bigram of its characters joins passage and question.
    passage = set(tokenize("男士纯棉连帽卫衣加绒"))
    question = set(tokenize("卫衣有XL吗"))
    assert "卫衣" in passage & question


def test_same_text_same_tokens() -> None:
    text = "素肌 清透水感防晒乳 SPF50+ 敏感肌可用"
    assert tokenize(text) == tokenize(text)


@pytest.mark.parametrize(
    ("text", "script"),
    [
        ("适合敏感肌吗", "zh"),
        ("does the blender come in red", "en"),
        ("Acme 无线蓝牙耳机", "zh"),
        ("12345 !!", "none"),
    ],
)
def test_script_of(text: str, script: str) -> None:
    assert script_of(text) == script
