"""PII detection, redaction and order-id extraction, with the look-alikes that must be left alone."""

from __future__ import annotations

import pytest

from agent.pii import (
    PLACEHOLDERS,
    extract_order_ids,
    find_pii,
    id_card_checksum_ok,
    luhn_ok,
    redact,
)

pytestmark = pytest.mark.unit


def _with_check_char(base17: str) -> str:
    (number,) = [base17 + c for c in "0123456789X" if id_card_checksum_ok(base17 + c)]
    return number


def _with_luhn_digit(base: str) -> str:
    (number,) = [base + c for c in "0123456789" if luhn_ok(base + c)]
    return number


VALID_ID = _with_check_char("11010519491231002")
INVALID_ID = VALID_ID[:-1] + ("1" if VALID_ID[-1] != "1" else "2")
VALID_ID_DIGIT = _with_check_char("44030519900307301")
CARD_19 = _with_luhn_digit("622202123456789012")
CARD_16 = _with_luhn_digit("622848001234567")
CARD_16_GROUPED = " ".join(CARD_16[i : i + 4] for i in range(0, 16, 4))


def _kinds(text: str) -> list[tuple[str, str]]:
    return [(span.kind, span.value) for span in find_pii(text)]


def test_reference_checksums() -> None:
    # The published sample number from GB 11643 documentation.
    assert id_card_checksum_ok("11010519491231002X")
    assert not id_card_checksum_ok("110105194912310021")
    assert luhn_ok("4111111111111111")
    assert not luhn_ok("4111111111111112")
    assert not luhn_ok("41111a1111111111")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # mobile numbers
        ("我的手机号是13812345678", [("phone", "13812345678")]),
        ("电话 138 1234 5678 谢谢", [("phone", "138 1234 5678")]),
        ("+86 138-1234-5678", [("phone", "+86 138-1234-5678")]),
        ("call 0086 15912345678", [("phone", "0086 15912345678")]),
        ("手机１３８１２３４５６７８", [("phone", "１３８１２３４５６７８")]),
        # landlines
        ("座机010-12345678", [("landline", "010-12345678")]),
        ("(021) 6123 4567", [("landline", "(021) 6123 4567")]),
        ("0755-8765432", [("landline", "0755-8765432")]),
        # ID cards
        (f"身份证{VALID_ID}", [("id_card", VALID_ID)]),
        (f"id {VALID_ID.lower()}", [("id_card", VALID_ID.lower())]),
        (f"号码{VALID_ID_DIGIT}", [("id_card", VALID_ID_DIGIT)]),
        ("身份证号：110105491231002", [("id_card", "110105491231002")]),
        # order ids
        ("订单号：202405151234567890 还没发货", [("order_id", "202405151234567890")]),
        ("订单号是 A20240515X01 麻烦查一下", [("order_id", "A20240515X01")]),
        ("order #A1234567 not arrived", [("order_id", "A1234567")]),
        ("my order number is 123456789012", [("order_id", "123456789012")]),
        ("3612345678901234 这个单子", [("order_id", "3612345678901234")]),
        # e-mail
        ("邮箱 zhang.san@example.com", [("email", "zhang.san@example.com")]),
        ("mail me: 123456789012@qq.com", [("email", "123456789012@qq.com")]),
        # bank cards
        (f"卡号{CARD_19}", [("bank_card", CARD_19)]),
        (f"card {CARD_16}", [("bank_card", CARD_16)]),
        (f"退到 {CARD_16_GROUPED}", [("bank_card", CARD_16_GROUPED)]),
        # addresses
        (
            "收货地址：广东省深圳市南山区科技园路1号3栋2单元501室",
            [("address", "广东省深圳市南山区科技园路1号3栋2单元501室")],
        ),
        ("你好我在杭州市西湖区文三路90号呢", [("address", "杭州市西湖区文三路90号")]),
        ("寄到上海市浦东新区张江路88号", [("address", "上海市浦东新区张江路88号")]),
        ("阳光花园5栋1201室", [("address", "阳光花园5栋1201室")]),
        ("I live at 123 Main St, Apt 4B", [("address", "123 Main St, Apt 4B")]),
        ("ship to 42 Baker Street please", [("address", "42 Baker Street")]),
        # names, only when introduced
        ("我叫张三，想问一下", [("name", "张三")]),
        ("我叫王小明", [("name", "王小明")]),
        ("收件人：欧阳娜娜", [("name", "欧阳娜娜")]),
        ("my name is Anna Smith", [("name", "Anna Smith")]),
        ("My name's john and I want a refund", [("name", "john")]),
    ],
)
def test_detects_personal_data(text: str, expected: list[tuple[str, str]]) -> None:
    assert _kinds(text) == expected
    for span in find_pii(text):
        assert text[span.start : span.end] == span.value


@pytest.mark.parametrize(
    "text",
    [
        "3号链接多少钱",
        "1号链接有XL吗",
        "价格199元，到手价99",
        "$19.99 and ¥1999",
        "尺码XL，身高170体重60kg",
        "2024-05-15发货",
        "20240515下的单",
        "iPhone15 Pro Max 256GB",
        "型号 XR-2000B",
        "我想知道3号多少钱",
        "4000-123-456 客服热线",
        "400-820-8820",
        f"号码{VALID_ID_DIGIT[:-1]}X 这个不对",
        "我叫了快递",
        "我叫什么你不用管",
        "my name is on the order",
        "3.5折，满300减50",
        "12345元",
        "快递在路上3天到",
    ],
)
def test_leaves_look_alikes_alone(text: str) -> None:
    assert find_pii(text) == []
    assert redact(text) == text


def test_invalid_id_checksum_is_not_an_id_card() -> None:
    assert _kinds(INVALID_ID) == [("order_id", INVALID_ID)]
    assert _kinds(VALID_ID) == [("id_card", VALID_ID)]


def test_luhn_invalid_number_after_card_word_is_an_order_id() -> None:
    bad = CARD_19[:-1] + str((int(CARD_19[-1]) + 1) % 10)
    assert _kinds(f"卡号{bad}") == [("order_id", bad)]


def test_phone_inside_a_longer_number_is_not_a_phone() -> None:
    assert _kinds("单号 202413812345678901") == [("order_id", "202413812345678901")]


def test_several_kinds_in_one_message_in_text_order() -> None:
    text = "我叫李雷，手机13912345678，订单号：123456789012345，邮箱 li@lei.cn"
    assert [s.kind for s in find_pii(text)] == ["name", "phone", "order_id", "email"]


def test_redact_zh_placeholders() -> None:
    text = "我叫张三，手机13812345678，订单号：202405151234567890，地址：杭州市西湖区文三路90号"
    assert redact(text) == "我叫[姓名]，手机[手机号]，订单号：[订单号]，地址：[地址]"


def test_redact_en_placeholders() -> None:
    text = "my name is Anna, order #A1234567, email anna@example.com, phone 13812345678"
    assert redact(text) == "my name is [name], order #[order id], email [email], phone [phone]"


def test_redact_with_forced_language_and_custom_placeholder() -> None:
    text = "13812345678"
    assert redact(text, language="en") == "[phone]"
    assert redact(text, language="zh") == "[手机号]"
    assert redact(text, placeholder=lambda kind: f"<{kind}>") == "<phone>"


def test_every_kind_has_both_placeholders() -> None:
    assert set(PLACEHOLDERS["zh"]) == set(PLACEHOLDERS["en"])
    assert all(label.startswith("[") for labels in PLACEHOLDERS.values() for label in labels.values())


def test_redacted_text_has_no_pii_left() -> None:
    text = f"身份证{VALID_ID} 卡号{CARD_19} 电话010-12345678"
    redacted = redact(text)
    assert find_pii(redacted) == []
    assert redacted == "身份证[身份证号] 卡号[银行卡号] 电话[电话]"


def test_extract_order_ids() -> None:
    text = (
        "订单号：２０２４０５１５１２３４５６７８９０，还有一个 987654321098765，订单号：202405151234567890"
    )
    assert extract_order_ids(text) == ["202405151234567890", "987654321098765"]
    assert extract_order_ids("order #A1234567 and order no. B7654321") == ["A1234567", "B7654321"]
    assert extract_order_ids("手机13812345678，199元") == []
