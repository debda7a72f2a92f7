from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voice.sentences import split_first_phrase, split_sentences

pytestmark = pytest.mark.unit


def test_chinese_sentences() -> None:
    text = "欢迎来到直播间！今天这款面霜只要199元。库存有限；快下单……还有问题吗？"
    assert split_sentences(text) == [
        "欢迎来到直播间！",
        "今天这款面霜只要199元。",
        "库存有限；",
        "快下单……",
        "还有问题吗？",
    ]


def test_english_keeps_decimals_and_abbreviations_whole() -> None:
    text = "Mr. Smith paid $3.50 for it. Is that cheap? Yes! See e.g. the U.S. market... OK."
    assert split_sentences(text) == [
        "Mr. Smith paid $3.50 for it.",
        "Is that cheap?",
        "Yes!",
        "See e.g. the U.S. market...",
        "OK.",
    ]


def test_closing_quotes_stay_with_their_sentence() -> None:
    assert split_sentences("他说：“太好了！”然后走了。") == ["他说：“太好了！”", "然后走了。"]
    assert split_sentences('She said "wow." Then left.') == ['She said "wow."', "Then left."]


def test_mixed_language_and_newlines() -> None:
    assert split_sentences("第一句\nSecond one. 第三句。") == ["第一句", "Second one.", "第三句。"]


def test_long_sentence_is_cut_at_a_comma() -> None:
    text = "这是一个很长的句子，没有句号，但是有很多逗号，我们需要在逗号处切开，这样第一段音频就能更早开始"
    parts = split_sentences(text, max_chars=20)
    assert all(len(p) <= 20 for p in parts)
    assert "".join(parts) == text
    assert parts[0].endswith("，")


def test_no_terminator_is_one_sentence() -> None:
    assert split_sentences("just words") == ["just words"]
    assert split_sentences("   ") == []


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(list('你好abc 12.3。！？；….!?,，\n”"')), max_size=80).map("".join))
def test_split_keeps_every_character_in_order(text: str) -> None:
    parts = split_sentences(text, max_chars=15)
    assert all(p and p == p.strip() for p in parts)
    assert "".join(parts).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace("\n", "")


def test_a_long_first_sentence_is_cut_at_its_first_comma() -> None:
    parts = split_sentences("这款面霜今天只要199元，比平时便宜一百块。库存不多了！")
    assert split_first_phrase(parts) == ["这款面霜今天只要199元，", "比平时便宜一百块。", "库存不多了！"]
    assert split_first_phrase(["短句，好的。"]) == ["短句，好的。"]
    assert split_first_phrase(["没有逗号的一句很长很长很长很长很长很长的话。"]) == [
        "没有逗号的一句很长很长很长很长很长很长的话。"
    ]
    assert split_first_phrase([]) == []
