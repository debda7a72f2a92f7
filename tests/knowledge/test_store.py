"""CatalogStore on real SQLite and PostgreSQL: round-trips, paging, tenant isolation, atomic apply."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from knowledge.db import MAX_PRICE, create_engine_for
from knowledge.models import DocSection, Document, Product, Variant
from knowledge.store import CatalogStore

pytestmark = pytest.mark.integration


def rich_product(sku: str = "TS-001", title: str = "纯棉圆领T恤 Classic Tee") -> Product:
    return Product(
        sku=sku,
        title=title,
        brand="棉语 Cotton&Co",
        category="服饰/T恤",
        price=Decimal("79.90"),
        currency="CNY",
        list_price=Decimal("129.00"),
        stock=None,
        variants=[
            Variant(f"{sku}-W-M", {"颜色": "白色", "尺码": "M"}, Decimal("79.90"), 12),
            Variant(f"{sku}-B-XL", {"尺码": "XL", "颜色": "黑色"}, None, 0),
        ],
        # Deliberately not in sorted order: the store must keep the merchant's order.
        attributes={"面料": "100%棉", "适用季节": "春夏", "Fit": "regular", "产地": "新疆"},
        selling_points=["不起球 💯", "可机洗"],
        description="第一行\n第二行 — “quoted” 'single' \\ backslash",
        tags=["新品", "夏季"],
        images=["https://img.example.com/ts-001/1.jpg"],
        url="https://shop.example.com/p/TS-001",
        locale="zh-CN",
    )


def plain_product(sku: str, title: str, *, brand: str = "Acme", category: str = "家居") -> Product:
    return Product(sku=sku, title=title, brand=brand, category=category, price=Decimal("10.00"))


def faq_document(doc_id: str = "returns", answer: str = "7天无理由退货。") -> Document:
    return Document(
        doc_id=doc_id,
        title="退换货政策",
        kind="faq",
        locale="zh-CN",
        source="policies/returns.md",
        sections=[
            DocSection("可以退货吗？", answer),
            DocSection("尺码不合适怎么办", "可换货一次。", sku="TS-001"),
        ],
    )


def test_product_round_trip_is_lossless(store: CatalogStore) -> None:
    product = rich_product()
    store.apply("m1", upsert_products=[product])

    loaded = store.get_product("m1", "TS-001")

    assert loaded == product
    assert loaded is not None
    assert list(loaded.attributes) == ["面料", "适用季节", "Fit", "产地"]
    assert list(loaded.variants[1].options) == ["尺码", "颜色"]
    assert loaded.price == Decimal("79.90")
    assert isinstance(loaded.price, Decimal)
    assert loaded.content_hash() == product.content_hash()
    assert store.product_hashes("m1") == {"TS-001": product.content_hash()}


def test_extreme_values_round_trip(store: CatalogStore) -> None:
    big = Product(sku="BIG", title="x", price=MAX_PRICE, list_price=Decimal("0.01"), stock=2**40)
    bare = Product(sku="BARE", title="只有标题")
    store.apply("m1", upsert_products=[big, bare])

    assert store.get_product("m1", "BIG") == big
    assert store.get_product("m1", "BARE") == bare


def test_price_is_stored_to_the_cent_like_the_content_hash(store: CatalogStore) -> None:
    product = Product(sku="P", title="t", price=Decimal("12.5"))
    store.apply("m1", upsert_products=[product])

    loaded = store.get_product("m1", "P")

    assert loaded is not None
    assert loaded.price == Decimal("12.50")
    assert loaded.content_hash() == product.content_hash()


def test_document_round_trip(store: CatalogStore) -> None:
    document = faq_document()
    store.apply("m1", upsert_documents=[document])

    assert store.documents("m1") == [document]
    assert store.get_document("m1", "returns") == document
    assert store.get_document("m1", "missing") is None
    assert store.document_hashes("m1") == {"returns": document.content_hash()}


def test_list_search_and_paging(store: CatalogStore) -> None:
    products = [plain_product(f"SKU-{i:02d}", f"商品 {i}") for i in range(25)]
    products += [
        plain_product("LAMP-1", "Desk LAMP 护眼台灯", brand="Lumi", category="灯具"),
        plain_product("CUP-1", "保温杯 100% steel", brand="Thermo", category="厨具"),
    ]
    store.apply("m1", upsert_products=products)

    first = store.list_products("m1", limit=10)
    second = store.list_products("m1", offset=10, limit=10)
    everything = store.list_products("m1", limit=100)

    assert [p.sku for p in everything] == sorted(p.sku for p in products)
    assert [p.sku for p in first + second] == [p.sku for p in everything[:20]]
    assert store.list_products("m1", offset=27) == []
    assert store.count_products("m1") == 27
    assert [p.sku for p in store.list_products("m1", search="lamp")] == ["LAMP-1"]
    assert [p.sku for p in store.list_products("m1", search="台灯")] == ["LAMP-1"]
    assert [p.sku for p in store.list_products("m1", search="THERMO")] == ["CUP-1"]
    assert [p.sku for p in store.list_products("m1", search="sku-0", limit=3)] == [
        "SKU-00",
        "SKU-01",
        "SKU-02",
    ]
    # LIKE wildcards in the search term are literal characters.
    assert [p.sku for p in store.list_products("m1", search="100%")] == ["CUP-1"]
    assert store.list_products("m1", search="_") == []
    assert [p.sku for p in store.list_products("m1", category="灯具")] == ["LAMP-1"]
    assert store.count_products("m1", search="sku") == 25
    assert store.count_products("m1", category="厨具") == 1
    assert store.categories("m1") == sorted(["家居", "灯具", "厨具"])
    assert set(store.get_products("m1", ["CUP-1", "NOPE", "SKU-03"])) == {"CUP-1", "SKU-03"}
    assert len(store.all_products("m1")) == 27
    with pytest.raises(ValueError, match="limit"):
        store.list_products("m1", limit=0)


def test_tenant_isolation(store: CatalogStore) -> None:
    store.apply(
        "alpha",
        upsert_products=[plain_product("SAME", "Alpha 的商品"), plain_product("A-ONLY", "只在A")],
        upsert_documents=[faq_document("shipping", "A 包邮")],
    )
    store.apply(
        "beta",
        upsert_products=[plain_product("SAME", "Beta 的商品")],
        upsert_documents=[faq_document("shipping", "B 不包邮")],
    )

    alpha_same = store.get_product("alpha", "SAME")
    beta_same = store.get_product("beta", "SAME")
    assert alpha_same is not None
    assert alpha_same.title == "Alpha 的商品"
    assert beta_same is not None
    assert beta_same.title == "Beta 的商品"
    assert store.get_product("beta", "A-ONLY") is None
    assert store.get_products("beta", ["A-ONLY", "SAME"]).keys() == {"SAME"}
    assert [p.sku for p in store.list_products("beta", search="商品")] == ["SAME"]
    assert store.list_products("beta", search="只在") == []
    assert store.count_products("beta") == 1
    assert set(store.product_hashes("beta")) == {"SAME"}
    assert [d.sections[0].text for d in store.documents("beta")] == ["B 不包邮"]
    assert store.merchants() == ["alpha", "beta"]

    # Deleting in one merchant never touches the other.
    assert store.delete_product("beta", "SAME") is True
    assert store.delete_product("beta", "A-ONLY") is False
    store.apply("beta", delete_doc_ids=["shipping"])
    assert store.get_product("alpha", "SAME") == alpha_same
    assert store.get_product("alpha", "A-ONLY") is not None
    assert [d.doc_id for d in store.documents("alpha")] == ["shipping"]
    assert store.documents("beta") == []
    assert store.catalog_version("alpha") == 1
    assert store.catalog_version("beta") == 3


def test_apply_updates_deletes_and_counts_versions(store: CatalogStore) -> None:
    assert store.catalog_version("m1") == 0
    v1 = store.apply("m1", upsert_products=[rich_product("A"), rich_product("B")])
    changed = rich_product("A", title="新标题")
    changed.attributes["新属性"] = "值"
    v2 = store.apply("m1", upsert_products=[changed], delete_skus=["B", "NEVER-EXISTED"])

    assert (v1, v2) == (1, 2)
    assert store.catalog_version("m1") == 2
    assert store.get_product("m1", "A") == changed
    assert store.get_product("m1", "B") is None
    assert store.count_products("m1") == 1
    assert store.delete_product("m1", "A") is True
    assert store.catalog_version("m1") == 3
    assert store.delete_product("m1", "A") is False
    assert store.catalog_version("m1") == 3


def test_apply_is_all_or_nothing(store: CatalogStore) -> None:
    original = [rich_product("KEEP"), rich_product("GONE")]
    store.apply("m1", upsert_products=original, upsert_documents=[faq_document()])
    hashes = store.product_hashes("m1")
    version = store.catalog_version("m1")

    # The last item collides with an earlier one in the same batch: a unique-constraint violation.
    batch = [
        rich_product("KEEP", title="改了"),
        rich_product("NEW"),
        rich_product("DUP"),
        rich_product("DUP"),
    ]
    with pytest.raises(IntegrityError):
        store.apply(
            "m1",
            upsert_products=batch,
            delete_skus=["GONE"],
            upsert_documents=[faq_document("returns", "改了")],
        )

    assert store.product_hashes("m1") == hashes
    assert store.catalog_version("m1") == version
    assert store.get_document("m1", "returns") == faq_document()

    # Documents are written after products: a failure there undoes the products too.
    with pytest.raises(IntegrityError):
        store.apply(
            "m1",
            upsert_products=[rich_product("NEW")],
            upsert_documents=[faq_document("x"), faq_document("x")],
        )
    assert store.get_product("m1", "NEW") is None
    assert store.catalog_version("m1") == version


def test_concurrent_applies_serialise(store: CatalogStore) -> None:
    def write(worker: int) -> list[int]:
        versions = []
        for i in range(5):
            # Every writer also upserts one shared sku, so the writers contend for the same rows.
            batch = [plain_product(f"W{worker}-{i}", "并发"), plain_product("SHARED", f"by {worker}")]
            versions.append(store.apply("m1", upsert_products=batch))
        return versions

    with ThreadPoolExecutor(max_workers=4) as pool:
        versions = [v for result in pool.map(write, range(4)) for v in result]

    assert sorted(versions) == list(range(1, 21))
    assert store.catalog_version("m1") == 20
    assert store.count_products("m1") == 21


def test_merchant_registration(store: CatalogStore) -> None:
    store.ensure_merchant("shop-1", "一号店")
    store.ensure_merchant("shop-1", "renamed later is ignored")
    store.create_schema()  # idempotent

    assert store.merchants() == ["shop-1"]
    assert store.catalog_version("shop-1") == 0
    assert store.all_products("shop-1") == []
    for bad in ("", "   ", "x" * 65):
        with pytest.raises(ValueError, match="merchant id"):
            store.get_product(bad, "sku")


def test_sqlite_connections_are_configured(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'nested' / 'dir' / 'anchor.db'}")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 10_000
        assert (tmp_path / "nested" / "dir" / "anchor.db").exists()
    finally:
        engine.dispose()


def test_bare_postgresql_url_uses_psycopg3() -> None:
    engine = create_engine_for("postgresql://someone@127.0.0.1:1/none")
    assert engine.dialect.driver == "psycopg"
    engine.dispose()
