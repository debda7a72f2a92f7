"""ScriptBuilder over a real SQLite catalog: compliance, grounding, variation, stock, pinned lines, positions."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from agent.compliance import check
from agent.evidence import Evidence, numbers_in
from agent.guard import check_grounding
from agent.live.events import Position
from agent.live.plan import RoomPlan
from agent.live.rewrite import LLMLineRewriter
from agent.live.script import (
    BUDGET_S,
    EN_MAX_WORDS,
    ZH_MAX_CHARS,
    Script,
    ScriptBuilder,
    fit,
    line_seconds,
    line_size,
)
from agent.live.templates import Lang, spoken_name
from evals.fakes import FakeOpenAIServer, Reply
from knowledge.db import create_engine_for
from knowledge.models import Product, Variant
from knowledge.store import CatalogStore

pytestmark = pytest.mark.unit

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "demo"
MERCHANT = "demo"
HAN = re.compile(r"[\u4e00-\u9fff]")

# Products added to the sample catalog for edge cases.
NO_PRICE = Product(
    sku="T-NOPRICE", title="手工陶瓷杯", brand="窑趣", category="家居/杯子", price=None, stock=20,
    selling_points=["手工拉坯，每只纹路不同"], attributes={"容量": "350ml"},
)  # fmt: skip
HOODIE = Product(
    sku="T-HOODIE", title="加绒卫衣", brand="暖禾", category="服装/卫衣", price=Decimal("199"),
    list_price=Decimal("299"),
    variants=[
        Variant("T-HOODIE-M", {"尺码": "M"}, Decimal("199"), 10),
        Variant("T-HOODIE-L", {"尺码": "L"}, Decimal("199"), 0),
    ],
    selling_points=["加绒内里，冬天穿很暖和"],
)  # fmt: skip

CLAIMY = Product(
    sku="T-CLAIM", title="保温杯", brand="暖杯", category="家居/水杯", price=Decimal("59"), stock=40,
    selling_points=["保温效果最好，全网最低价", "喝了可以治疗失眠", "杯盖可拆洗"],
)  # fmt: skip


def _products() -> list[Product]:
    lines = (SAMPLES / "products.jsonl").read_text(encoding="utf-8").splitlines()
    return [Product.from_dict(json.loads(line)) for line in lines if line.strip()]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CatalogStore]:
    path = tmp_path_factory.mktemp("script") / "x.db"
    engine = create_engine_for(f"sqlite:///{path}")
    catalog = CatalogStore(engine)
    catalog.create_schema()
    catalog.apply(
        MERCHANT,
        upsert_products=[*_products(), NO_PRICE, HOODIE, CLAIMY],
        delete_skus=[],
        upsert_documents=[],
        delete_doc_ids=[],
    )
    yield catalog
    engine.dispose()


def _plan(items: list[dict[str, Any]], **extra: Any) -> RoomPlan:
    return RoomPlan.model_validate({"room_id": "r1", "merchant": MERCHANT, "items": items, **extra})


def _texts(script: Script) -> list[str]:
    return [text for _, _, _, text in script.lines()]


def _segment(script: Script, link: int, kind: str) -> list[str]:
    item = next(i for i in script.items if i.link == link)
    return next((s.sentences for s in item.segments if s.kind == kind), [])


# -- every sentence, every sample product, both languages, three loops ---------------------------


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_sentence_is_compliant_grounded_and_line_sized(store: CatalogStore, language: Lang) -> None:
    products = _products()
    plan = _plan([{"link": i + 1, "sku": p.sku} for i, p in enumerate(products)], language=language)
    builder = ScriptBuilder(store)
    limit = ZH_MAX_CHARS if language == "zh" else EN_MAX_WORDS
    for loop in range(3):
        script = builder.build(plan, loop_index=loop)
        # A Chinese room refuses the products priced in dollars, with the reason; nothing else is wrong.
        refused = [p for p in products if language == "zh" and p.currency.upper() not in ("CNY", "RMB")]
        assert len(script.problems) == len(refused)
        assert all("priced in USD" in problem for problem in script.problems)
        assert script.notes == []
        assert [item.sku for item in script.items] == [p.sku for p in products]
        for _, item, _, text in script.lines():
            assert item.product is not None
            evidence = Evidence(product=item.product, extra_numbers={Decimal(item.link)})
            assert text.strip() == text
            assert text, item.sku
            assert check(text).ok, (item.sku, text, check(text).findings)
            assert check_grounding(text, evidence) == [], (item.sku, text)
            assert line_size(text, language) <= limit, (item.sku, text)
            assert text[-1] in "。！？!?.…", (item.sku, text)
            if language == "zh":
                assert HAN.search(text), (item.sku, text)
            else:
                rest = text.replace(f'"{item.product.title}"', "").replace(item.product.brand, "")
                for variant in item.product.variants:
                    for value in variant.options.values():
                        rest = rest.replace(value, "")
                assert not HAN.search(rest), (item.sku, text)
        order = ["hook", "intro", "selling_points", "specs", "price_offer", "call_to_action"]
        for item in script.items:
            kinds = [segment.kind for segment in item.segments]
            if item.sku in {p.sku for p in refused}:
                assert kinds == []
            elif item.sold_out:
                assert kinds == ["call_to_action"]  # one honest line, and the show moves on
            else:
                # In order; a segment whose every line repeated an earlier one may be gone, never these.
                assert kinds == [k for k in order if k in kinds]
                assert {"hook", "price_offer", "call_to_action"} <= set(kinds)
            seconds = sum(line_seconds(s, language) for seg in item.segments for s in seg.sentences)
            assert seconds <= BUDGET_S, (item.sku, seconds)


def test_prices_savings_and_link_come_from_the_catalog(store: CatalogStore) -> None:
    plan = _plan([{"link": 4, "sku": "T-HOODIE"}])
    said = {
        n
        for loop in range(3)
        for t in _texts(ScriptBuilder(store).build(plan, loop_index=loop))
        for n in numbers_in(t)
    }
    assert {Decimal(199), Decimal(299), Decimal(100), Decimal(4)} <= said
    assert said <= {Decimal(199), Decimal(299), Decimal(100), Decimal(4)}
    price = " ".join(_segment(ScriptBuilder(store).build(plan), 4, "price_offer"))
    assert "199元" in price
    cta = " ".join(_segment(ScriptBuilder(store).build(plan), 4, "call_to_action"))
    assert "4号链接" in cta


def test_english_room_uses_symbols_and_english_for_a_chinese_listing(store: CatalogStore) -> None:
    script = ScriptBuilder(store).build(_plan([{"link": 2, "sku": "T-HOODIE"}], language="en"))
    hook = " ".join(_segment(script, 2, "hook"))
    assert "link 2" in hook.lower() or "this one" in hook  # the Chinese title is not read out
    assert not HAN.search(hook)
    price = " ".join(_segment(script, 2, "price_offer"))
    assert "¥199" in price
    assert "link 2" in " ".join(_segment(script, 2, "call_to_action")).lower()


# -- variation -----------------------------------------------------------------------------------


def test_loops_are_worded_differently_and_rebuilds_are_identical(store: CatalogStore) -> None:
    products = _products()[:20]
    plan = _plan([{"link": i + 1, "sku": p.sku} for i, p in enumerate(products)])
    loop0 = ScriptBuilder(store).build(plan, loop_index=0)
    again = ScriptBuilder(store).build(plan, loop_index=0)
    loop1 = ScriptBuilder(store).build(plan, loop_index=1)
    assert loop0.to_dict() == again.to_dict()
    for first, second in zip(loop0.items, loop1.items, strict=True):
        a = [s.sentences for s in first.segments]
        b = [s.sentences for s in second.segments]
        assert a != b, first.sku
    hooks0 = [s for i in loop0.items for s in i.segments[0].sentences]
    hooks1 = [s for i in loop1.items for s in i.segments[0].sentences]
    assert hooks0 != hooks1
    reseeded = ScriptBuilder(store).build(plan.model_copy(update={"variant_seed": 5}), loop_index=0)
    assert _texts(reseeded) != _texts(loop0)


# -- stock and price -----------------------------------------------------------------------------


@pytest.mark.parametrize(("language", "marker"), [("zh", "售罄|卖完"), ("en", "sold out")])
def test_a_sold_out_product_is_never_pushed(store: CatalogStore, language: str, marker: str) -> None:
    plan = _plan([{"link": 7, "sku": "ZH-AP-005"}], language=language)
    for loop in range(3):
        script = ScriptBuilder(store).build(plan, loop_index=loop)
        item = script.items[0]
        assert item.sold_out
        # One honest line naming the product, and the show moves on.
        assert [s.kind for s in item.segments] == ["call_to_action"]
        (line,) = item.segments[0].sentences
        assert re.search(marker, line)
        assert "7" in line
        if language == "zh":
            assert "羽绒服" in line
        text = " ".join(_texts(script))
        assert "899" not in text
        assert "1299" not in text
        assert "拍7号" not in text


def test_sold_out_values_are_named_and_not_offered(store: CatalogStore) -> None:
    script = ScriptBuilder(store).build(_plan([{"link": 1, "sku": "ZH-BE-005"}]))
    specs = _segment(script, 1, "specs")
    offered = next(s for s in specs if "色号" in s)
    assert "M05" not in offered
    assert "M01 正红" in offered
    assert any("M05 豆沙" in s and "M01" not in s for s in specs)


def test_a_product_without_price_sends_viewers_to_the_link(store: CatalogStore) -> None:
    for language, word in (("zh", "3号链接"), ("en", "link 3")):
        script = ScriptBuilder(store).build(_plan([{"link": 3, "sku": "T-NOPRICE"}], language=language))
        price = _segment(script, 3, "price_offer")
        assert price
        assert all(numbers_in(s) <= {Decimal(3)} for s in price)
        assert word in " ".join(price)
        assert word in " ".join(_segment(script, 3, "call_to_action"))


def test_low_stock_is_said_with_the_stored_count_only(store: CatalogStore) -> None:
    low = ScriptBuilder(store).build(_plan([{"link": 1, "sku": "ZH-BE-002"}]))  # stock 4
    assert any("4件" in s for s in _segment(low, 1, "price_offer"))
    plenty = ScriptBuilder(store).build(_plan([{"link": 1, "sku": "ZH-BE-001"}]))  # stock 230
    assert not any("件" in s for s in _segment(plenty, 1, "price_offer"))
    english = ScriptBuilder(store).build(_plan([{"link": 1, "sku": "ZH-BE-002"}], language="en"))
    assert any("4 left" in s for s in _segment(english, 1, "price_offer"))


def test_catalog_text_with_forbidden_claims_is_enforced(store: CatalogStore) -> None:
    script = ScriptBuilder(store).build(_plan([{"link": 1, "sku": "T-CLAIM"}]))
    points = _segment(script, 1, "selling_points")
    assert all(check(t).ok for t in _texts(script))
    assert not any("治疗" in t or "最" in t for t in _texts(script))
    assert any("很好" in p for p in points)
    assert any("杯盖可拆洗" in p for p in points)
    assert any("compliance fixed" in note and "治疗" in note for note in script.notes)


# -- pinned lines and fillers -----------------------------------------------------------------------


def test_pinned_lines_replace_their_segment_and_bad_ones_are_rejected(store: CatalogStore) -> None:
    plan = _plan(
        [
            {
                "link": 1,
                "sku": "T-HOODIE",
                "pinned_lines": {
                    "hook": ["家人们，降温了，加绒卫衣安排上！"],
                    "selling_points": ["这款卫衣是加绒的，冬天穿很暖和。", "全网最低价，错过再等一年！"],
                    "price_offer": ["只要99元！"],
                },
            }
        ],
        fillers=["点点关注不迷路。", "点击领奖，人人有份。"],
    )
    script = ScriptBuilder(store).build(plan)
    hook = script.items[0].segments[0]
    assert hook.kind == "hook"
    assert hook.sentences == ["家人们，降温了，加绒卫衣安排上！"]
    assert hook.pinned == 1
    assert _segment(script, 1, "selling_points") == ["这款卫衣是加绒的，冬天穿很暖和。"]
    # Every pinned price line was rejected, so the generated price lines are used.
    price = next(s for s in script.items[0].segments if s.kind == "price_offer")
    assert price.pinned == 0
    assert any("199元" in s for s in price.sentences)
    assert script.fillers == ["点点关注不迷路。"]

    found = {(f.segment, f.rule, f.word) for f in script.findings}
    assert ("selling_points", "absolute.superlative", "全网最低价") in found
    assert ("selling_points", "scarcity.false", "错过再等") in found
    assert ("price_offer", "grounding.number", "99") in found
    assert ("filler", "scarcity.false", "点击领奖") in found
    assert all(f.link == 1 and f.sku == "T-HOODIE" for f in script.findings if f.segment != "filler")
    assert all(f.reason for f in script.findings)
    spoken = " ".join([*_texts(script), *script.fillers])
    assert "全网最低价" not in spoken
    assert not re.search(r"(?<!\d)99元", spoken)
    assert "点击领奖" not in spoken


def test_no_pinned_line_of_a_sold_out_product_is_used(store: CatalogStore) -> None:
    plan = _plan(
        [
            {
                "link": 2,
                "sku": "ZH-AP-005",
                "pinned_lines": {"intro": ["长款羽绒服，过膝。"], "call_to_action": ["喜欢的拍2号链接。"]},
            }
        ]
    )
    script = ScriptBuilder(store).build(plan)
    assert _segment(script, 2, "intro") == []  # a sold-out product gets its one line only
    assert "长款羽绒服，过膝。" not in _texts(script)
    assert "喜欢的拍2号链接。" not in _texts(script)
    assert script.findings == []
    assert any("sold out" in note for note in script.notes)


# -- optional rewrite ------------------------------------------------------------------------------


def test_a_rewrite_is_used_only_when_it_passes_the_guard(store: CatalogStore) -> None:
    plan = _plan([{"link": 1, "sku": "T-HOODIE"}])
    plain = ScriptBuilder(store).build(plan)

    def invent_price(line: str, lang: str, product: Product) -> str:
        return "只要9元，三件包邮！"

    assert _texts(ScriptBuilder(store, rewriter=invent_price).build(plan)) == _texts(plain)

    def excited(line: str, lang: str, product: Product) -> str:
        return line.rstrip("。！") + "，真的最暖和！"

    rewritten = _texts(ScriptBuilder(store, rewriter=excited).build(plan))
    assert rewritten != _texts(plain)
    assert all(check(t).ok for t in rewritten)
    assert any("很暖和" in t for t in rewritten)


def _line_of(body: dict[str, Any]) -> str:
    """The template line a rewrite request carries (the last line of its user message)."""
    return str(body["messages"][-1]["content"]).rsplit("\n", 1)[-1]


def test_the_llm_rewriter_rewords_lines_and_the_guard_checks_each(store: CatalogStore) -> None:
    plan = _plan([{"link": 1, "sku": "T-HOODIE"}])
    plain = _texts(ScriptBuilder(store).build(plan))
    with FakeOpenAIServer(lambda body: Reply(text="宝宝们，" + _line_of(body))) as server:
        rewriter = LLMLineRewriter.from_settings(base_url=server.base_url, timeout=5.0)
        texts = _texts(ScriptBuilder(store, rewriter=rewriter).build(plan))
    assert rewriter.calls == len(server.requests) >= len(plain)
    assert any(t.startswith("宝宝们，") for t in texts)
    assert all(check(t).ok for t in texts)
    # The model is told the rules and sees the product's facts and the line, nothing else.
    first = server.requests[0]["messages"]
    assert first[0]["role"] == "system"
    assert "只用给出的商品信息" in first[0]["content"]
    assert "title: " in first[1]["content"]
    assert _line_of(server.requests[0]) in plain

    # A rewrite with a number the catalog does not hold is dropped: the template lines stay.
    with FakeOpenAIServer([Reply(text="今天只要9块9，手慢无！")]) as server:
        rewriter = LLMLineRewriter.from_settings(base_url=server.base_url, timeout=5.0)
        assert _texts(ScriptBuilder(store, rewriter=rewriter).build(plan)) == plain


def test_a_failing_model_is_asked_once_and_the_template_lines_stay(store: CatalogStore) -> None:
    plan = _plan([{"link": 1, "sku": "T-HOODIE"}])
    plain = _texts(ScriptBuilder(store).build(plan))
    with FakeOpenAIServer([Reply(status=500)]) as server:
        rewriter = LLMLineRewriter.from_settings(base_url=server.base_url, timeout=5.0)
        assert _texts(ScriptBuilder(store, rewriter=rewriter).build(plan)) == plain
    # One failure rests the model for cooldown_s: fifty lines do not wait for fifty failures.
    assert len(server.requests) == 1
    assert (rewriter.calls, rewriter.failures) == (1, 1)


# -- unknown products and navigation ---------------------------------------------------------------


def test_unknown_sku_is_a_problem_and_keeps_item_indexes(store: CatalogStore) -> None:
    plan = _plan(
        [{"link": 1, "sku": "T-HOODIE"}, {"link": 2, "sku": "NOPE"}, {"link": 3, "sku": "T-NOPRICE"}]
    )
    script = ScriptBuilder(store).build(plan)
    assert [item.link for item in script.items] == [1, 2, 3]
    assert script.items[1].segments == []
    assert script.problems == ["items.1 (link 2): sku 'NOPE' is not in merchant 'demo''s catalog"]
    last_of_first = Position(
        0, 0, len(script.items[0].segments) - 1, len(script.items[0].segments[-1].sentences) - 1
    )
    assert script.next_position(last_of_first) == Position(0, 2, 0, 0)
    assert script.position_of_link(2) == Position(0, 2, 0, 0)


def test_positions_walk_the_whole_script_in_order(store: CatalogStore) -> None:
    plan = _plan([{"link": 1, "sku": "T-HOODIE"}, {"link": 2, "sku": "ZH-BE-002"}])
    script = ScriptBuilder(store).build(plan, loop_index=4)
    expected = [pos for pos, _, _, _ in script.lines()]
    assert expected[0] == Position(4, 0, 0, 0)
    walked: list[Position] = []
    pos = script.first_position()
    while pos is not None:
        walked.append(pos)
        assert script.sentence(pos) is not None
        pos = script.next_position(pos)
    assert walked == expected

    first_item = script.items[0]
    hook_len = len(first_item.segments[0].sentences)
    # Across a segment boundary.
    assert script.next_position(Position(4, 0, 0, hook_len - 1)) == Position(4, 0, 1, 0)
    # Across an item boundary.
    last_seg = len(first_item.segments) - 1
    last_sentence = len(first_item.segments[last_seg].sentences) - 1
    assert script.next_position(Position(4, 0, last_seg, last_sentence)) == Position(4, 1, 0, 0)
    # The end of the script.
    assert script.next_position(expected[-1]) is None
    assert script.sentence(Position(4, 0, 0, 99)) is None
    assert script.sentence(Position(4, 5, 0, 0)) is None
    assert script.sentence(Position(4, 0, 0, 0)) == first_item.segments[0].sentences[0]
    # A stale position (e.g. after the catalog changed) resolves to the next sentence that exists.
    assert script.resolve(Position(4, 0, 0, 99)) == Position(4, 0, 1, 0)
    assert script.resolve(Position(4, 9, 0, 0)) is None
    assert script.position_of_link(2) == Position(4, 1, 0, 0)
    assert script.position_of_link(9) is None


def test_fit_cuts_long_lines_at_clause_breaks() -> None:
    long_zh = "这款卫衣内里是加绒摇粒绒，面料为棉和聚酯纤维，手感柔软，宽松落肩版型配抽绳连帽和袋鼠口袋，适合秋冬单穿或叠穿。"
    pieces = fit(long_zh, "zh")
    assert len(pieces) > 1
    assert all(line_size(p, "zh") <= ZH_MAX_CHARS for p in pieces)
    assert "".join(p.rstrip("。") for p in pieces).replace("，", "") == long_zh.rstrip("。").replace("，", "")
    assert fit("短句。", "zh") == ["短句。"]
    long_en = ", ".join(["this sentence keeps going"] * 10) + "."
    assert all(line_size(p, "en") <= EN_MAX_WORDS for p in fit(long_en, "en"))
    assert fit("10,000 mm hydrostatic head.", "en") == ["10,000 mm hydrostatic head."]


# -- sounding like a host ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "brand", "category", "said"),
    [
        ("暖禾2024新款秋冬加绒卫衣男女同款宽松【送袜子】", "暖禾", "服装/卫衣", "暖禾加绒卫衣"),
        ("麦香村 非油炸方便面 5连包", "麦香村", "食品/方便面", "麦香村非油炸方便面"),
        ("木言 可叠加翻盖收纳箱 PP材质", "木言", "家居/收纳", "木言翻盖收纳箱"),
        ("家悦 不粘炒锅 32cm 带玻璃盖", "家悦", "家居/锅具", "家悦不粘炒锅"),
        ("Auralis AirBuds Pro Wireless Earbuds (Black)", "Auralis", "数码/耳机", "Auralis耳机"),
    ],
)
def test_products_are_named_as_a_host_says_them(title: str, brand: str, category: str, said: str) -> None:
    product = Product(sku="X", title=title, brand=brand, category=category, price=Decimal("1"))
    assert spoken_name(product, "zh") == said
    assert not HAN.search(spoken_name(product, "en"))


def test_a_price_is_promised_only_when_it_follows_and_connectors_do_not_repeat(store: CatalogStore) -> None:
    on_offer = [
        p for p in _products() if p.currency == "CNY" and p.list_price and p.price and p.list_price > p.price
    ]
    promise = re.compile("一会儿|马上说")
    for loop in range(3):
        without_price = _plan(
            [
                {"link": i + 1, "sku": p.sku, "segments": ["hook", "intro", "call_to_action"]}
                for i, p in enumerate(on_offer)
            ]
        )
        for item in ScriptBuilder(store).build(without_price, loop_index=loop).items:
            assert not any(promise.search(s) for seg in item.segments for s in seg.sentences), item.sku
        full = ScriptBuilder(store).build(
            _plan([{"link": i + 1, "sku": p.sku} for i, p in enumerate(on_offer)]), loop_index=loop
        )
        for item in full.items:
            lines = [s for seg in item.segments for s in seg.sentences]
            promised = [i for i, s in enumerate(lines) if promise.search(s)]
            assert len(promised) <= 1
            if promised:  # the price comes later in the same presentation
                assert any("元" in s for s in lines[promised[0] + 1 :]), item.sku
            openings = [m.group(1) for s in lines if (m := re.match(r"^(还有|另外|再一个|而且|首先)", s))]
            assert len(openings) == len(set(openings)), (item.sku, openings)


def test_a_chinese_room_refuses_a_product_priced_in_dollars_with_the_reason(store: CatalogStore) -> None:
    script = ScriptBuilder(store).build(
        _plan([{"link": 1, "sku": "ZH-AP-001"}, {"link": 2, "sku": "EN-EL-001"}])
    )
    (problem,) = script.problems
    assert problem.startswith("items.1 (link 2): EN-EL-001: priced in USD")
    assert script.items[1].segments == []
    assert "$" not in " ".join(_texts(script))
    english = ScriptBuilder(store).build(_plan([{"link": 2, "sku": "EN-EL-001"}], language="en"))
    assert english.problems == []


def test_a_sold_out_variant_is_never_a_selling_point(store: CatalogStore) -> None:
    script = ScriptBuilder(store).build(_plan([{"link": 4, "sku": "ZH-BE-005"}]))
    pitched = _segment(script, 4, "intro") + _segment(script, 4, "selling_points")
    assert not any("豆沙" in line for line in pitched)
    assert any(
        "豆沙" in line and ("没货" in line or "卖完" in line or "断货" in line)
        for line in _segment(script, 4, "specs")
    )
