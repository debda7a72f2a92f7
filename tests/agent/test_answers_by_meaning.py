"""Answers that find the fact however it is asked, through the whole pipeline with the real embedder, on a
small catalog written here (keys unlike the question's words, variants named in many styles).

Expected values are read from the catalog below, never typed twice.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from agent.pipeline import AnswerResult
from agent.variants import match_variants
from api.services import Services
from api.settings import Settings
from knowledge.models import Product

pytestmark = [pytest.mark.integration, pytest.mark.slow]

M = "shop"
CATALOG: list[dict[str, Any]] = [
    {
        "sku": "LUG-1",
        "title": "行旅家 铝框拉杆箱",
        "brand": "行旅家",
        "category": "箱包/拉杆箱",
        "price": "329.00",
        "currency": "CNY",
        "variants": [
            {"sku": "LUG-1-20", "options": {"规格": "20寸登机箱"}, "price": "329.00", "stock": 14},
            {"sku": "LUG-1-24", "options": {"规格": "24寸托运箱"}, "price": "399.00", "stock": 0},
        ],
        "attributes": {"容量": "20寸约35L；24寸约62L", "箱体": "PC材质，铝合金框", "净重": "20寸约3.6kg"},
        "selling_points": ["铝框不怕挤压", "静音万向轮"],
        "description": "铝框拉杆箱，PC箱体。",
        "locale": "zh",
    },
    {
        "sku": "WAT-1",
        "title": "Tidewell Dive Watch 42 mm",
        "brand": "Tidewell",
        "category": "Watches",
        "price": "189.00",
        "currency": "USD",
        "stock": 12,
        "attributes": {"rating": "20 ATM, good for swimming and snorkelling", "Case": "316L steel, 42 mm"},
        "selling_points": ["Sapphire crystal"],
        "description": "A steel dive watch with a sapphire crystal.",
        "locale": "en",
    },
    {
        "sku": "BED-1",
        "title": "眠眠 全棉四件套",
        "brand": "眠眠",
        "category": "家纺/四件套",
        "price": "199.00",
        "currency": "CNY",
        "variants": [
            {
                "sku": "BED-1-15",
                "options": {"size": "1.5m床", "颜色": "月光白"},
                "price": "199.00",
                "stock": 3,
            },
            {
                "sku": "BED-1-18",
                "options": {"size": "1.8m床", "颜色": "月光白"},
                "price": "229.00",
                "stock": 0,
            },
            {
                "sku": "BED-1-20",
                "options": {"size": "2.0m床", "颜色": "月光白"},
                "price": "259.00",
                "stock": 9,
            },
        ],
        "attributes": {"面料": "100%棉，60支", "工艺": "活性印染"},
        "selling_points": ["亲肤透气"],
        "description": "全棉四件套。",
        "locale": "zh",
    },
    {
        "sku": "CRM-1",
        "title": "Softbay Night Cream 50 ml",
        "brand": "Softbay",
        "category": "Skincare/Creams",
        "price": "24.00",
        "currency": "USD",
        "stock": 30,
        "attributes": {
            "Key ingredients": "Ceramides, squalane",
            "shelf life (opened)": "use within 6 months of opening",
        },
        "selling_points": ["Fragrance-free moisturising night cream"],
        "description": "A rich night cream with ceramides.",
        "locale": "en",
    },
]


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    data_dir = tmp_path_factory.mktemp("meaning-var")
    catalog = data_dir / "catalog.jsonl"
    catalog.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in CATALOG), encoding="utf-8")
    services = Services(Settings(data_dir=data_dir, embedder="use-multilingual", database_url=None))
    report = services.ingest([catalog], M)
    assert report.applied, report.errors
    yield services
    services.close()


_n = iter(range(1_000_000))


def ask(services: Services, text: str) -> AnswerResult:
    return asyncio.run(services.pipeline.answer(M, f"c-{next(_n)}", text, channel="chat"))


def product(sku: str) -> Product:
    return Product.from_dict(next(p for p in CATALOG if p["sku"] == sku))


def test_line_vectors_are_computed_at_ingest(services: Services) -> None:
    path = services.settings.data_dir / "index" / "line_vectors.npz"
    assert path.is_file()


@pytest.mark.parametrize(
    ("question", "sku", "key"),
    [
        ("行旅家拉杆箱能装多少东西", "LUG-1", "容量"),
        ("Tidewell手表能戴着游泳吗", "WAT-1", "rating"),
        ("can I swim with the Tidewell dive watch?", "WAT-1", "rating"),
        (
            "is the Softbay night cream still good a few months after I open it?",
            "CRM-1",
            "shelf life (opened)",
        ),
    ],
)
def test_the_fact_is_found_though_its_key_is_not_repeated(
    services: Services, question: str, sku: str, key: str
) -> None:
    result = ask(services, question)
    value = product(sku).attributes[key]
    assert not result.refused, result.answer
    assert value.split("，")[0].split(",")[0] in result.answer
    assert any(c.sku == sku and c.field == "attributes" for c in result.citations)


def test_a_unit_asked_in_another_unit_is_converted(services: Services) -> None:
    result = ask(services, "行旅家拉杆箱有几斤重")
    assert "3.6kg" in result.answer
    assert "7.2斤" in result.answer  # 3.6 kg, derived; the guard accepts it


def test_what_the_listing_does_not_state_is_said_so(services: Services) -> None:
    result = ask(services, "Tidewell dive watch: where is it made?")
    assert result.refused
    assert "doesn't state" in result.answer
    for line in ("Sapphire", "316L", "20 ATM"):
        assert line not in result.answer  # no other fact stands in for it


def test_an_efficacy_question_gets_a_lawful_answer(services: Services) -> None:
    result = ask(services, "will the Softbay night cream cure my eczema?")
    assert "not a medicine" in result.answer
    assert "cure" not in result.answer.lower().replace("cure my", "")
    assert not result.refused


def test_a_variant_named_in_other_words_gets_its_own_price_and_stock(services: Services) -> None:
    result = ask(services, "眠眠四件套两米的床用哪个，多少钱")
    assert "¥259" in result.answer
    assert "¥199" not in result.answer  # not the product's price range


def test_every_option_is_listed_with_its_state(services: Services) -> None:
    result = ask(services, "眠眠四件套有几种尺寸")
    for value in ("1.5m床", "1.8m床", "2.0m床"):
        assert value in result.answer
    assert "1.8m床已售罄" in result.answer
    assert "1.5m床仅剩3件" in result.answer
    assert "size" not in result.answer  # a natural label, never the raw key


def test_availability_asked_in_other_words(services: Services) -> None:
    result = ask(services, "can I still get the Tidewell dive watch?")
    assert "in stock" in result.answer
    result = ask(services, "行旅家拉杆箱24寸的还能买到吗")
    assert "已经售罄" in result.answer


@pytest.mark.parametrize(
    ("question", "sku"),
    [
        ("两米的", "BED-1-20"),
        ("一米八的还有吗", "BED-1-18"),
        ("200cm的", "BED-1-20"),
        ("大的那个", "BED-1-20"),
    ],
)
def test_variant_resolution(question: str, sku: str) -> None:
    assert [v.sku for v in match_variants(product("BED-1"), question).matched] == [sku]


def test_a_variant_that_does_not_exist_is_said_so() -> None:
    assert match_variants(product("BED-1"), "2.2米的有吗").missing == ("2.2米",)
