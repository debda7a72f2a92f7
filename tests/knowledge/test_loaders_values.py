"""Cell parsers and header aliases."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from knowledge.loaders.aliases import column_role
from knowledge.loaders.delimited import sniff_delimiter
from knowledge.loaders.html_text import html_to_text
from knowledge.loaders.text import decode_bytes, guess_locale, slugify
from knowledge.loaders.values import (
    ValueProblem,
    parse_attributes,
    parse_currency,
    parse_list,
    parse_locale,
    parse_price,
    parse_stock,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("raw", "amount", "currency"),
    [
        ("199", "199.00", None),
        ("199.00", "199.00", None),
        ("¥199", "199.00", "CNY"),
        ("￥1,299.00", "1299.00", "CNY"),
        ("199元", "199.00", "CNY"),
        ("$19.99", "19.99", "USD"),
        ("RMB 199", "199.00", "CNY"),
        ("１９９．５", "199.50", None),
        ("19.999", "20.00", None),
        (19.9, "19.90", None),
        (0, "0.00", None),
    ],
)
def test_prices(raw: object, amount: str, currency: str | None) -> None:
    assert parse_price(raw) == (Decimal(amount), currency)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("abc", "'abc' is not a number"),
        ("-5", "must not be negative"),
        ("99-199", "is a range"),
        ("12345678901", "over 10,000,000"),
        ("1,5", "not a number"),
        (True, "got boolean"),
        ([1], "got list"),
        (float("nan"), "not a number"),
    ],
)
def test_bad_prices(raw: object, fragment: str) -> None:
    with pytest.raises(ValueProblem, match=fragment):
        parse_price(raw)


def test_blank_price_is_not_listed() -> None:
    assert parse_price("  ") == (None, None)
    assert parse_price(None) == (None, None)


@given(st.decimals(min_value=0, max_value=9_999_999, places=2, allow_nan=False))
def test_price_text_round_trips(amount: Decimal) -> None:
    assert parse_price(f"¥{amount:,.2f}")[0] == amount


@pytest.mark.parametrize(
    ("raw", "count"), [("12", 12), ("12.0", 12), (12.0, 12), ("1,200", 1200), ("３件", 3)]
)
def test_stock(raw: object, count: int) -> None:
    assert parse_stock(raw) == count


@pytest.mark.parametrize("raw", ["12.5", "many", "-1", 2.5, True, "1e3"])
def test_bad_stock(raw: object) -> None:
    with pytest.raises(ValueProblem):
        parse_stock(raw)


def test_lists() -> None:
    assert parse_list("1、纯棉\n2. 透气|3）显瘦", "selling_points") == ["纯棉", "透气", "显瘦"]
    assert parse_list("夏季, 短袖、#百搭;夏季", "tags") == ["夏季", "短袖", "百搭"]
    assert parse_list("https://a/1.jpg, x|https://a/2.jpg", "images") == [
        "https://a/1.jpg, x",
        "https://a/2.jpg",
    ]
    assert parse_list('["a", "b"]', "tags") == ["a", "b"]


def test_attributes() -> None:
    assert parse_attributes("材质:棉; 产地：浙江\n重量=200g") == {
        "材质": "棉",
        "产地": "浙江",
        "重量": "200g",
    }
    assert parse_attributes('{"材质": "棉", "克重": 200}') == {"材质": "棉", "克重": "200"}
    with pytest.raises(ValueProblem, match="not valid JSON"):
        parse_attributes("{broken")


def test_currency_and_locale() -> None:
    assert parse_currency("人民币") == "CNY"
    assert parse_currency("usd") == "USD"
    with pytest.raises(ValueProblem):
        parse_currency("dollars")
    assert parse_locale("中文") == "zh"
    assert parse_locale("zh_cn") == "zh-CN"
    with pytest.raises(ValueProblem):
        parse_locale("简体 中文 字")


@pytest.mark.parametrize(
    ("header", "kind", "name"),
    [
        ("商品名称", "field", "title"),
        ("Product Name", "field", "title"),
        ("*价格（元）", "field", "price"),
        ("ＳＫＵ", "field", "sku"),
        ("Compare_At_Price", "field", "list_price"),
        ("attr:材质", "attribute", "材质"),
        ("属性：产地", "attribute", "产地"),
        ("规格:容量", "option", "容量"),
        ("颜色", "option", "颜色"),
        ("规格编码", "variant", "variant_sku"),
        ("备注", "unknown", "备注"),
        ("  ", "blank", ""),
    ],
)
def test_header_aliases(header: str, kind: str, name: str) -> None:
    role = column_role(header)
    assert (role.kind, role.name) == (kind, name)


def test_text_helpers() -> None:
    assert decode_bytes("价格".encode("gbk")) is not None
    assert decode_bytes("价格".encode("gbk")).text == "价格"  # type: ignore[union-attr]
    assert decode_bytes("价格".encode("utf-16")).text == "价格"  # type: ignore[union-attr]
    assert guess_locale("纯棉T恤 Cotton") == "zh"
    assert guess_locale("Cotton tee, 纯") == "en"
    assert guess_locale("123") == ""
    assert slugify("退货 Policy (2024)!") == "退货-policy-2024"
    assert sniff_delimiter('"a,b"\tc\td\n') == "\t"
    assert html_to_text("<p>A&amp;B</p><script>x()</script><p>C</p>") == "A&B\n\nC"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (["1.75L高硼硅玻璃杯，耐热可视"], ["1.75L高硼硅玻璃杯，耐热可视"]),
        (["3.5折优惠", "2.4GHz无线"], ["3.5折优惠", "2.4GHz无线"]),
        ("1. 透气\n2. 速干", ["透气", "速干"]),
        ("1、透气|2、速干", ["透气", "速干"]),
    ],
)
def test_selling_points_keep_leading_decimals(raw: object, expected: list[str]) -> None:
    assert parse_list(raw, "selling_points") == expected
