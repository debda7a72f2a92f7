"""Generic CSV/TSV loader: encodings, delimiters, aliases, validation, variants."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from knowledge.loaders import load_file
from knowledge.models import ImportLimits, Product
from tests.knowledge.loader_helpers import places, write

pytestmark = pytest.mark.unit

ZH_CSV = (
    "商品编码,商品名称,品牌,类目,价格,原价,库存,卖点,标签,图片\n"
    'T-01,纯棉短袖T恤,优品,女装,￥99.00,￥159,120,"1、新疆长绒棉\n2、不起球",夏季|短袖,https://img/1.jpg\n'
    'B-02,帆布托特包,优品,箱包,199元,,８,大容量；可手洗,"包,通勤",\n'
)


def products(result) -> dict[str, Product]:
    return {sp.product.sku: sp.product for sp in result.products}


def test_chinese_headers_and_values_are_read(tmp_path: Path) -> None:
    result = load_file(write(tmp_path / "商品.csv", ZH_CSV))
    assert result.errors == []
    got = products(result)
    tee = got["T-01"]
    assert (tee.title, tee.brand, tee.category) == ("纯棉短袖T恤", "优品", "女装")
    assert (tee.price, tee.list_price, tee.stock) == (Decimal("99.00"), Decimal("159.00"), 120)
    assert tee.selling_points == ["新疆长绒棉", "不起球"]
    assert tee.tags == ["夏季", "短袖"]
    assert tee.images == ["https://img/1.jpg"]
    assert tee.locale == "zh"
    assert tee.currency == "CNY"
    bag = got["B-02"]
    assert bag.stock == 8  # full-width digit
    assert bag.selling_points == ["大容量", "可手洗"]
    assert bag.tags == ["包", "通勤"]
    assert [sp.row for sp in result.products] == [2, 3]


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig", "utf-8"])
def test_encodings_are_detected(tmp_path: Path, encoding: str) -> None:
    result = load_file(write(tmp_path / "p.csv", ZH_CSV, encoding))
    assert result.problems == []
    assert products(result)["T-01"].title == "纯棉短袖T恤"


def test_bom_does_not_stick_to_the_first_header(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfsku,title\nA,Apple\n")
    result = load_file(path)
    assert result.problems == []
    assert products(result)["A"].title == "Apple"


def test_undecodable_bytes_are_a_problem_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "bin.csv"
    path.write_bytes(bytes(range(256)) * 20)
    result = load_file(path)
    assert result.products == []
    assert result.errors


@pytest.mark.parametrize(("name", "text"), [
    ("p.tsv", "sku\ttitle\tprice\nA\tApple, red\t5\n"),
    ("p.csv", "sku\ttitle\tprice\nA\tApple, red\t5\n"),
    ("p.csv", "sku;title;price\nA;Apple, red;5\n"),
])  # fmt: skip
def test_delimiters_are_sniffed(tmp_path: Path, name: str, text: str) -> None:
    result = load_file(write(tmp_path / name, text))
    assert result.problems == []
    assert products(result)["A"].title == "Apple, red"
    assert products(result)["A"].price == Decimal("5.00")


def test_english_aliases_and_header_spelling_are_tolerated(tmp_path: Path) -> None:
    text = (
        "Product ID,PRODUCT NAME,Sale Price,Compare-At Price,QTY,Features,Language,*Brand\n"
        "E1,Desk Lamp,$19.99,29.99,3,Warm light|USB-C,English,Lumi\n"
    )
    result = load_file(write(tmp_path / "en.csv", text))
    assert result.problems == []
    lamp = products(result)["E1"]
    assert (lamp.title, lamp.price, lamp.list_price, lamp.stock) == (
        "Desk Lamp",
        Decimal("19.99"),
        Decimal("29.99"),
        3,
    )
    assert lamp.currency == "USD"
    assert lamp.locale == "en"
    assert lamp.brand == "Lumi"
    assert lamp.selling_points == ["Warm light", "USB-C"]


def test_full_width_headers_match(tmp_path: Path) -> None:
    result = load_file(write(tmp_path / "fw.csv", "ＳＫＵ，title\n".replace("，", ",") + "A,Apple\n"))
    assert result.problems == []
    assert "A" in products(result)


def test_every_bad_row_is_reported_with_row_and_column(tmp_path: Path) -> None:
    text = (
        "sku,title,price,stock\n"
        "A,Apple,5,1\n"  # row 2 fine
        "B,,5,1\n"  # row 3 missing title
        "C,Cherry,abc,1\n"  # row 4 garbage price
        "D,Date,-3,1\n"  # row 5 negative price
        "E,Elder,5,12.5\n"  # row 6 fractional stock
        "F,Fig,5,many\n"  # row 7 text stock
        ",Grape,5,1\n"  # row 8 missing sku
        "H,Ham,999999999,-1\n"  # row 9 absurd price and negative stock
    )
    result = load_file(write(tmp_path / "bad.csv", text))
    assert [sp.product.sku for sp in result.products] == ["A"]
    assert places(result.errors) == [
        (3, "title"),
        (4, "price"),
        (5, "price"),
        (6, "stock"),
        (7, "stock"),
        (8, "sku"),
        (9, "price"),
        (9, "stock"),
    ]
    assert result.rejected_rows == 7
    messages = [str(p) for p in result.errors]
    assert messages[0] == "bad.csv row 3, column title: missing title"
    assert "'abc' is not a number" in messages[1]
    assert "negative" in messages[2]
    assert "'12.5' is not a whole number" in messages[3]
    assert "over 10,000,000" in messages[6]


def test_price_formats_merchants_write(tmp_path: Path) -> None:
    prices = ["199", "199.00", "¥199", "￥1,299.00", "199元", "$19.99", "RMB 199", "１９９", ""]
    rows = "".join(f'S{i},Item {i},"{p}"\n' for i, p in enumerate(prices))
    result = load_file(write(tmp_path / "prices.csv", "sku,title,price\n" + rows))
    assert result.errors == []
    got = [products(result)[f"S{i}"].price for i in range(len(prices))]
    assert got == [Decimal(v) if v else None for v in
                   ["199.00", "199.00", "199.00", "1299.00", "199.00", "19.99", "199.00", "199.00", ""]]  # fmt: skip


def test_duplicate_sku_names_the_first_row(tmp_path: Path) -> None:
    text = "sku,title\nA,Apple\nB,Banana\nA,Apricot\n"
    result = load_file(write(tmp_path / "dup.csv", text))
    assert [sp.product.title for sp in result.products] == ["Apple", "Banana"]
    (error,) = result.errors
    assert (error.row, error.column) == (4, "sku")
    assert "duplicate sku 'A'" in error.message
    assert "row 2" in error.message


def test_unknown_columns_are_listed_as_warnings(tmp_path: Path) -> None:
    text = "sku,title,备注,internal code,\nA,Apple,x,y,\n"
    result = load_file(write(tmp_path / "u.csv", text))
    assert result.errors == []
    assert places(result.warnings) == [(1, "备注"), (1, "internal code")]
    assert all("unknown column" in w.message for w in result.warnings)
    assert len(result.products) == 1


def test_two_columns_with_one_meaning_read_the_first(tmp_path: Path) -> None:
    result = load_file(write(tmp_path / "two.csv", "sku,title,价格,售价\nA,Apple,5,6\n"))
    assert products(result)["A"].price == Decimal("5.00")
    (warning,) = result.warnings
    assert warning.column == "售价"


def test_missing_required_column_is_a_file_problem(tmp_path: Path) -> None:
    result = load_file(write(tmp_path / "nosku.csv", "title,price\nApple,5\n"))
    assert result.products == []
    (error,) = result.errors
    assert "no sku column" in error.message
    assert error.row == 1


def test_header_only_and_empty_files(tmp_path: Path) -> None:
    header_only = load_file(write(tmp_path / "h.csv", "sku,title,price\n"))
    assert header_only.products == []
    assert [e.message for e in header_only.errors] == ["the file has a header row but no data rows"]
    empty = load_file(write(tmp_path / "e.csv", ""))
    assert [str(e) for e in empty.errors] == ["e.csv: the file is empty"]
    blank = load_file(write(tmp_path / "b.csv", "\ufeff\n \n"))
    assert blank.errors[0].message == "the file is empty"


def test_huge_fields_hit_the_limits(tmp_path: Path) -> None:
    limits = ImportLimits()
    long_title = "长" * (limits.max_title_chars + 1)
    long_description = "x" * (limits.max_description_chars + 5)
    text = f"sku,title,description\nA,{long_title},ok\nB,Fine,{long_description}\nC,Fine,ok\n"
    result = load_file(write(tmp_path / "huge.csv", text), limits)
    assert [sp.product.sku for sp in result.products] == ["C"]
    assert places(result.errors) == [(2, "title"), (3, "description")]
    assert f"the limit is {limits.max_title_chars}" in result.errors[0].message


def test_a_cell_beyond_the_csv_reader_limit_is_reported(tmp_path: Path) -> None:
    text = "sku,title,description\nA,Apple,ok\nB,Big," + "y" * 200_000 + "\n"
    result = load_file(write(tmp_path / "giant.csv", text))
    assert any(e.row == 3 and "characters" in e.message for e in result.errors)
    assert "B" not in products(result)


def test_list_items_and_counts_are_limited(tmp_path: Path) -> None:
    limits = ImportLimits(max_list_items=3)
    text = "sku,title,tags\nA,Apple,a|b|c|d\nB,Berry,a|b\n"
    result = load_file(write(tmp_path / "tags.csv", text), limits)
    assert list(products(result)) == ["B"]
    assert places(result.errors) == [(2, "tags")]


def test_row_limit(tmp_path: Path) -> None:
    rows = "".join(f"S{i},Item {i}\n" for i in range(6))
    result = load_file(write(tmp_path / "rows.csv", "sku,title\n" + rows), ImportLimits(max_rows=5))
    assert result.products == []
    assert "more than 5 rows" in result.errors[0].message


def test_attributes_from_prefixed_columns_and_a_pairs_column(tmp_path: Path) -> None:
    text = 'sku,title,attr:产地,属性:季节,attributes\nA,Apple,浙江,夏,"材质:棉; 重量：200g"\n'
    result = load_file(write(tmp_path / "attr.csv", text))
    assert result.problems == []
    assert products(result)["A"].attributes == {"材质": "棉", "重量": "200g", "产地": "浙江", "季节": "夏"}


def test_bad_attributes_text_is_an_error(tmp_path: Path) -> None:
    result = load_file(write(tmp_path / "attr.csv", 'sku,title,attributes\nA,Apple,"纯棉; 产地:浙江"\n'))
    assert places(result.errors) == [(2, "attributes")]


def test_invisible_characters_and_spaces_are_stripped(tmp_path: Path) -> None:
    result = load_file(write(tmp_path / "zw.csv", "sku,title\n\u200bA\u200b , \u00a0Apple\u3000\n"))
    assert products(result)["A"].title == "Apple"


def test_variants_from_a_json_column(tmp_path: Path) -> None:
    variants = '[{""sku"": ""T-R-M"", ""options"": {""颜色"": ""红"", ""尺码"": ""M""}, ""price"": ""99"", ""stock"": 3},'
    variants += ' {""sku"": ""T-R-L"", ""颜色"": ""红"", ""尺码"": ""L"", ""stock"": ""0""}]'
    text = f'sku,title,price,variants\nT,T恤,99,"{variants}"\nU,Bad,1,"[{{""sku"": ""U-1"", ""stock"": ""x""}}]"\n'
    result = load_file(write(tmp_path / "v.csv", text))
    tee = products(result)["T"]
    assert [(v.sku, v.options, v.price, v.stock) for v in tee.variants] == [
        ("T-R-M", {"颜色": "红", "尺码": "M"}, Decimal("99.00"), 3),
        ("T-R-L", {"颜色": "红", "尺码": "L"}, None, 0),
    ]
    assert tee.total_stock() == 3
    (error,) = result.errors
    assert (error.row, error.column) == (3, "variants")
    assert "variant 1 stock" in error.message


def test_variants_from_grouped_rows_with_per_row_price_and_stock(tmp_path: Path) -> None:
    text = (
        "商品编码,商品名称,颜色,尺码,价格,库存\n"
        "T-01,纯棉T恤,白,M,99,10\n"
        "T-01,纯棉T恤,白,L,109,0\n"
        ",,黑,M,99,4\n"  # blank sku continues the product above (merged cells)
        "S-02,袜子,,,19,50\n"
    )
    result = load_file(write(tmp_path / "grouped.csv", text))
    assert result.problems == []
    tee = products(result)["T-01"]
    assert [(v.sku, v.options, v.price, v.stock) for v in tee.variants] == [
        ("T-01-白-M", {"颜色": "白", "尺码": "M"}, Decimal("99.00"), 10),
        ("T-01-白-L", {"颜色": "白", "尺码": "L"}, Decimal("109.00"), 0),
        ("T-01-黑-M", {"颜色": "黑", "尺码": "M"}, Decimal("99.00"), 4),
    ]
    assert tee.price == Decimal("99.00")  # the lowest variant price
    assert tee.total_stock() == 14
    socks = products(result)["S-02"]
    assert (socks.variants, socks.price, socks.stock) == ([], Decimal("19.00"), 50)


def test_grouped_rows_with_explicit_variant_columns(tmp_path: Path) -> None:
    text = (
        "sku,title,price,variant_sku,option:size,variant_price,variant_stock\n"
        "P,Pants,120,P-S,S,,2\n"
        "P,Pants (new name),120,P-M,M,125,x\n"
        "Q,Quilt,300,Q-1,,,1\n"
        "Q,Quilt,300,P-S,,,1\n"
    )
    result = load_file(write(tmp_path / "explicit.csv", text))
    assert result.products == []  # P has a bad variant row; Q reuses P's variant sku
    assert places(result.errors) == [(3, "variant_stock"), (5, "variant_sku")]
    assert "first used in row 2" in result.errors[1].message
    # product fields on later rows that differ are ignored, with a warning
    assert any(w.row == 3 and "title differ" in w.message for w in result.warnings)


def test_grouped_rows_product_level_price_kept_with_variant_price_column(tmp_path: Path) -> None:
    text = (
        "sku,title,price,stock,variant_sku,option:size,variant_price,variant_stock\n"
        "P,Pants,120,,P-S,S,,2\n"
        "P,Pants,,,P-M,M,125,3\n"
    )
    result = load_file(write(tmp_path / "explicit.csv", text))
    assert result.problems == []
    pants = products(result)["P"]
    assert pants.price == Decimal("120.00")
    assert [(v.sku, v.price, v.stock) for v in pants.variants] == [
        ("P-S", None, 2),
        ("P-M", Decimal("125.00"), 3),
    ]


def test_repeated_sku_without_variant_data_is_a_duplicate(tmp_path: Path) -> None:
    text = "sku,title,颜色\nT,Tee,红\nT,Tee,\n"
    result = load_file(write(tmp_path / "d.csv", text))
    assert places(result.errors) == [(3, "sku")]


@pytest.mark.parametrize(
    ("text", "row", "reason"),
    [
        ('sku,title\nA,Apple\nB,"Banana\nC,Cherry\n', 3, "never closed"),
        ('sku,title\nA,"12" pizza",x\nB,Bun\n', 2, "written twice"),
    ],
)
def test_broken_quoting_is_reported_not_garbled(tmp_path: Path, text: str, row: int, reason: str) -> None:
    result = load_file(write(tmp_path / "q.csv", text))
    (error,) = result.errors
    assert error.row == row
    assert reason in error.message
    assert "B" not in products(result)


def test_quote_inside_an_unquoted_cell_is_kept(tmp_path: Path) -> None:
    result = load_file(write(tmp_path / "q.csv", 'sku,title\nA,12" pizza\n'))
    assert result.problems == []
    assert products(result)["A"].title == '12" pizza'
