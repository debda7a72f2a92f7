"""Chat normalisation, language detection and the offset-keeping fold."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from agent.textnorm import T2S, detect_language, fold, normalize_message

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # full-width → half-width, Chinese punctuation kept
        ("ＸＬ有吗", "XL有吗"),
        ("１０００元", "1000元"),
        ("３号链接", "3号链接"),
        ("ｌｉｎｋ　３", "link 3"),
        ("多少钱？", "多少钱？"),
        ("包邮吗，亲！", "包邮吗，亲！"),
        ("５０％ｏｆｆ", "50%off"),
        # traditional → simplified
        ("這個多少錢", "这个多少钱"),
        ("還有貨嗎", "还有货吗"),
        ("尺碼顏色", "尺码颜色"),
        ("可以退貨嗎", "可以退货吗"),
        ("什麼時候發貨", "什么时候发货"),
        ("運費", "运费"),
        ("號", "号"),
        # repeated characters
        ("多少钱钱钱钱", "多少钱"),
        ("？？？？", "？"),
        ("!!!!", "!"),
        ("hiiiii", "hii"),
        ("谢谢", "谢谢"),
        ("看看", "看看"),
        ("哈哈哈哈哈", "哈"),
        # numbers and sizes never change
        ("1000", "1000"),
        ("666", "666"),
        ("88888", "88888"),
        ("XXL", "XXL"),
        ("XXXL有吗", "XXXL有吗"),
        ("3.5折", "3.5折"),
        # emoji, stickers, invisible characters
        ("👍👍🎉", ""),
        ("❤️❤️", ""),
        ("🇨🇳", ""),
        ("[赞][玫瑰]", ""),
        ("好看😍😍", "好看"),
        ("1️⃣号链接", "1号链接"),
        ("多\u200b少\u200d钱", "多少钱"),
        ("\ufeff包邮吗", "包邮吗"),
        ("x\ud800y", "xy"),
        # whitespace
        ("  多   少  钱  ", "多少钱"),
        ("link   3\tprice?", "link 3 price?"),
        ("有 XL 吗", "有 XL 吗"),
        ("", ""),
    ],
)
def test_normalize_message(raw: str, expected: str) -> None:
    assert normalize_message(raw) == expected


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("XL有吗", "zh"),
        ("3号链接多少钱", "zh"),
        ("iPhone 15 Pro Max 有货吗", "zh"),
        ("link 3 price?", "en"),
        ("how much is this", "en"),
        ("Can I get the 红色 one in size M please", "en"),
        ("👍👍", "zh"),
        ("666", "zh"),
        ("", "zh"),
        ("ok", "en"),
    ],
)
def test_detect_language(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_detect_language_default_is_configurable() -> None:
    assert detect_language("123", default="en") == "en"


def test_t2s_table_is_a_few_hundred_characters_with_no_chains() -> None:
    assert len(T2S) >= 300
    assert all(ord(simplified) not in T2S for simplified in T2S.values())
    assert all(chr(code) != simplified for code, simplified in T2S.items())


def test_fold_maps_spans_back_to_the_original() -> None:
    text = "Ａ\u200b價格ＢＥＳＴ"
    folded = fold(text)
    assert folded.text == "a价格best"
    start = folded.text.index("best")
    assert folded.span(start, start + 4) == (4, 8)
    assert folded.span(0, 3) == (0, 4)


def test_fold_expansions_map_to_their_source_character() -> None:
    text = "5㎏装"  # ㎏ folds to "kg"
    folded = fold(text)
    assert folded.text == "5kg装"
    assert folded.span(1, 3) == (1, 2)


def test_fold_without_lower_or_simplify() -> None:
    assert fold("ＸＬ價", lower=False, simplify=False).text == "XL價"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
@example("\uf907")  # a compatibility ideograph whose NFKC form (龜) is traditional
def test_normalize_is_idempotent_and_total(text: str) -> None:
    once = normalize_message(text)
    assert normalize_message(once) == once
    assert once == once.strip()
    assert "  " not in once


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"[0-9]{1,12}", fullmatch=True), st.sampled_from(["元", "号链接", "件", " ", "？？"]))
def test_numbers_are_never_changed(number: str, tail: str) -> None:
    assert normalize_message(number + tail).startswith(number)
