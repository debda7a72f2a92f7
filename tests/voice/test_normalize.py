from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voice.normalize import has_speech, normalize, strip_unspeakable

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("raw", "spoken"),
    [
        ("今天只要¥199！！！", "今天只要199元！"),
        ("原价￥1,299.00，现在¥999", "原价1299元，现在999元"),
        ("到手价199¥", "到手价199元"),
        ("美国卖$19.99", "美国卖19.99美元"),
        ("全场3.5折", "全场3.5折"),
        ("立减50%", "立减百分之50"),
        ("优惠10%-20%", "优惠百分之10到20"),
        ("价格区间100-200元", "价格区间100到200元"),
        ("3-5天发货", "3到5天发货"),
        ("¥100-¥200都有", "100到200元都有"),
        ("XXL码有货", "2XL码有货"),
        ("500ml大瓶装", "500毫升大瓶装"),
        ("净含量50g", "净含量50克"),
        ("10000mAh充电宝", "10000毫安时充电宝"),
        ("长度120cm", "长度120厘米"),
        ("RTX4090显卡", "RTX 4090显卡"),
        ("XR-2000型号", "XR 2000型号"),
        ("2024-06-18开抢", "2024年6月18日开抢"),
        ("6/18大促", "6月18日大促"),
        ("晚上20:00开播", "晚上20点开播"),
        ("晚上20：30开播", "晚上20点30分开播"),
        ("气温25℃", "气温25摄氏度"),
        ("订单号2024061812345", "订单号2 0 2 4 0 6 1 8 1 2 3 4 5"),
        ("😀😀好物推荐🔥🔥 https://shop.example.com/p?id=1 快来", "好物推荐快来"),
        ("买吗？？！！", "买吗？"),
        ("好......", "好…"),
        ("宝宝们~~~", "宝宝们"),
        ("１２３元", "123元"),
    ],
)
def test_chinese_table(raw: str, spoken: str) -> None:
    assert normalize(raw) == spoken


@pytest.mark.parametrize(
    ("raw", "spoken"),
    [
        ("Only $19.99 today", "Only 19 dollars and 99 cents today"),
        ("Just $20 each", "Just 20 dollars each"),
        ("Add-ons from $0.99", "Add ons from 99 cents"),
        ("It costs $1.50", "It costs 1 dollar and 50 cents"),
        ("Only ¥199 in China", "Only 199 yuan in China"),
        ("50% off everything!!!", "50 percent off everything!"),
        ("3.5折 for everyone", "65 percent off for everyone"),
        ("Ships in 3-5 days", "Ships in 3 to 5 days"),
        ("We have XXL and 3XL", "We have double extra large and triple extra large"),
        ("size M is sold out", "size medium is sold out"),
        ("a 500ml bottle", "a 500 milliliters bottle"),
        ("weighs 1 kg", "weighs 1 kilogram"),
        ("a 10000mAh power bank", "a 10000 milliamp hours power bank"),
        ("the iPhone15 Pro", "the iPhone 15 Pro"),
        ("Sale on 2024-06-18", "Sale on June 18, 2024"),
        ("live at 20:30 tonight", "live at 8 30 PM tonight"),
        ("starts at 9:05 sharp", "starts at 9 oh 5 AM sharp"),
        ("M&M candy", "M and M candy"),
        ("see https://example.com/x?y=1 now", "see now"),
    ],
)
def test_english_table(raw: str, spoken: str) -> None:
    assert normalize(raw) == spoken


def test_language_hint_decides_symbols_with_no_words_around() -> None:
    assert normalize("¥199", "zh") == "199元"
    assert normalize("¥199", "en") == "199 yuan"


def test_nothing_speakable_gives_empty_text() -> None:
    assert normalize("😀🔥👍") == ""
    assert normalize("https://a.example.com/x") == ""
    assert normalize("！！！。。。") == ""


def test_impossible_dates_are_left_alone() -> None:
    assert "13" in normalize("编号2024-13-45")
    assert normalize("比分3:2") == "比分3:2"


_speech_chars = st.sampled_from(list("你好今天只要元折件买送满减abcXYZ0123456789"))
_noise = st.sampled_from(
    [
        "¥",
        "$",
        "%",
        "-",
        "~",
        "!",
        "！",
        "？",
        "。",
        "…",
        ".",
        ",",
        "，",
        "😀",
        "🔥",
        "&",
        "#",
        "@",
        " ",
        "/",
        ":",
        "ml",
        "XL",
        "折",
        "mAh",
        "℃",
        "\n",
        "https://x.cn/a",
        "【",
        "】",
        "\u200d",
        "\ufe0f",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_speech_chars, _noise), max_size=40).map("".join))
def test_never_raises_and_never_empties_speakable_text(text: str) -> None:
    out = normalize(text)
    assert isinstance(out, str)
    if has_speech(strip_unspeakable(text)):
        assert has_speech(out), (text, out)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_never_raises_on_any_unicode(text: str) -> None:
    out = normalize(text)
    if has_speech(strip_unspeakable(text)):
        assert has_speech(out)
