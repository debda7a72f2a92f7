"""Search at scale: a synthetic bilingual catalog of 10,000 products (2,000 with --quick).

Measures, with the default embedder (USE multilingual):
- raw encode throughput of the embedder on the catalog's passages;
- ingest throughput (`CatalogIndex.sync` on an empty index: passages, embeddings, BM25, FAISS, files)
  and its ratio to the raw encode throughput;
- re-import of the unchanged catalog (a fresh process-like `CatalogIndex`, i.e. read from disk);
- a sync after editing 1% of the products;
- load time, search latency p50/p95/p99 over a few hundred distinct questions after warm-up, for
  product ranking, passage search and passage search restricted to one product;
- peak resident memory.

Run: ``python -m evals.bench.search_bench [--quick] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from evals.bench.common import machine_info, peak_rss_mib, percentiles, write_result
from knowledge.embedders import make_embedder
from knowledge.index import CatalogIndex
from knowledge.models import Product, Variant
from knowledge.passages import build_passages
from knowledge.retriever import HybridRetriever

# (zh category, en category, zh type words, en type words, option name zh/en, option values)
_KINDS = [
    ("服装/卫衣", "Apparel/Hoodies", "卫衣", "Hoodie", ("尺码", "Size"), ("S", "M", "L", "XL", "XXL")),
    ("服装/T恤", "Apparel/T-Shirts", "T恤", "T-Shirt", ("尺码", "Size"), ("S", "M", "L", "XL")),
    ("服装/羽绒服", "Apparel/Jackets", "羽绒服", "Down Jacket", ("尺码", "Size"), ("M", "L", "XL")),
    ("服装/牛仔裤", "Apparel/Jeans", "牛仔裤", "Jeans", ("尺码", "Size"), ("28", "30", "32", "34")),
    ("鞋/运动鞋", "Shoes/Sneakers", "跑步鞋", "Running Shoes", ("尺码", "Size"), ("38", "39", "40", "41")),
    ("美妆/防晒", "Beauty/Sunscreen", "防晒霜", "Sunscreen", ("规格", "Size"), ("30ml", "50ml")),
    ("美妆/面霜", "Beauty/Moisturizer", "面霜", "Moisturizer", ("规格", "Size"), ("50g", "100g")),
    ("美妆/口红", "Beauty/Lipstick", "口红", "Lipstick", ("颜色", "Color"), ("正红", "豆沙", "枫叶")),
    (
        "数码/耳机",
        "Electronics/Earbuds",
        "蓝牙耳机",
        "Wireless Earbuds",
        ("颜色", "Color"),
        ("黑", "白", "蓝"),
    ),
    ("数码/充电宝", "Electronics/Power Banks", "充电宝", "Power Bank", ("容量", "Capacity"), ("10000mAh",)),
    ("家电/破壁机", "Kitchen/Blenders", "破壁机", "Blender", ("颜色", "Color"), ("红", "白", "灰")),
    ("家居/保温杯", "Home/Drinkware", "保温杯", "Water Bottle", ("容量", "Capacity"), ("500ml", "750ml")),
    ("家居/枕头", "Home/Pillows", "枕头", "Pillow", ("款式", "Style"), ("标准", "加高")),
    ("食品/咖啡", "Food/Coffee", "咖啡", "Coffee", ("规格", "Pack"), ("10包", "20包")),
    ("食品/坚果", "Food/Nuts", "坚果", "Mixed Nuts", ("规格", "Pack"), ("250g", "500g")),
    ("家居/收纳", "Home/Storage", "收纳箱", "Storage Box", ("规格", "Size"), ("小号", "大号")),
]
_ZH_ADJ = [
    "轻薄",
    "加厚",
    "宽松",
    "修身",
    "便携",
    "大容量",
    "静音",
    "防水",
    "透气",
    "温和",
    "无香",
    "有机",
    "经典",
]
_EN_ADJ = ["Lightweight", "Heavyweight", "Relaxed", "Slim", "Portable", "Large", "Quiet", "Waterproof"]
_EN_ADJ += ["Breathable", "Gentle", "Unscented", "Organic", "Classic"]
_ZH_POINTS = [
    "做工精细",
    "耐用不变形",
    "适合日常通勤",
    "送礼自用两相宜",
    "敏感肌可用",
    "一年质保",
    "快充",
    "易清洗",
]
_EN_POINTS = ["Carefully made", "Durable build", "Great for commuting", "Gift-ready packaging"]
_EN_POINTS += ["Safe for sensitive skin", "One-year warranty", "Fast charging", "Easy to clean"]
_SYLLABLES = ["lu", "mo", "ka", "ri", "ven", "sol", "tor", "na", "el", "dor", "qi", "zen", "pa", "vio", "rex"]
_ZH_BRAND_CHARS = "云山禾光悦行森语木川北南风月星源栖暖素清朗"


def synthetic_catalog(n: int, seed: int = 7) -> list[Product]:
    """`n` varied products, half Chinese and half English listings, with variants and attributes."""
    rng = random.Random(seed)
    brands_en = sorted(
        {"".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))).title() for _ in range(300)}
    )
    brands_zh = sorted({"".join(rng.sample(_ZH_BRAND_CHARS, 2)) for _ in range(300)})
    out: list[Product] = []
    for i in range(n):
        zh_cat, en_cat, zh_type, en_type, (opt_zh, opt_en), values = rng.choice(_KINDS)
        model = f"{rng.choice('ABCDEFGHJKLMNPRSTVWXZ')}{rng.randint(1, 999)}"
        picked = rng.sample(values, k=min(len(values), rng.randint(1, len(values))))
        if i % 2 == 0:
            brand = rng.choice(brands_zh)
            adj = rng.sample(_ZH_ADJ, 2)
            title = f"{brand} {model} {''.join(adj)}{zh_type}"
            points = rng.sample(_ZH_POINTS, 3)
            desc = f"这款{zh_type}{adj[0]}{adj[1]}，{points[0]}，{points[1]}。型号{model}，第{i}批次。"
            attrs = {"型号": model, "产地": rng.choice(["浙江", "广东", "江苏", "福建"])}
            product = Product(
                sku=f"SKU-{i:06d}",
                title=title,
                brand=brand,
                category=zh_cat,
                price=None,
                variants=[Variant(f"SKU-{i:06d}-{j}", {opt_zh: v}) for j, v in enumerate(picked)],
                attributes=attrs,
                selling_points=points,
                description=desc,
                tags=adj,
                locale="zh-CN",
            )
        else:
            brand = rng.choice(brands_en)
            adj = rng.sample(_EN_ADJ, 2)
            title = f"{brand} {model} {adj[0]} {adj[1]} {en_type}"
            points = rng.sample(_EN_POINTS, 3)
            desc = f"This {adj[0].lower()} {en_type.lower()} is {adj[1].lower()}. {points[0]}. {points[1]}. "
            desc += f"Model {model}, batch {i}."
            product = Product(
                sku=f"SKU-{i:06d}",
                title=title,
                brand=brand,
                category=en_cat,
                variants=[Variant(f"SKU-{i:06d}-{j}", {opt_en: v}) for j, v in enumerate(picked)],
                attributes={"Model": model, "Origin": rng.choice(["USA", "Vietnam", "Mexico", "Portugal"])},
                selling_points=points,
                description=desc,
                tags=[a.lower() for a in adj],
                locale="en-US",
            )
        out.append(product)
    return out


def synthetic_questions(products: list[Product], n: int, seed: int = 11) -> list[str]:
    """`n` distinct questions: named products, attributes, generic needs, both languages."""
    rng = random.Random(seed)
    zh_forms = ["{t}有{v}吗", "{b}的{type}多少钱", "{m}还有货吗", "适合敏感肌的{type}", "{type}防水吗"]
    en_forms = ["does the {type} come in {v}", "is {b} {m} in stock", "{type} for travel", "how big is {m}"]
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        p = rng.choice(products)
        kind = next(k for k in _KINDS if k[0] == p.category or k[1] == p.category)
        value = rng.choice(kind[5])
        model = p.attributes.get("型号") or p.attributes.get("Model") or ""
        form = rng.choice(zh_forms + en_forms)
        type_word = kind[2] if form in zh_forms else kind[3].lower()
        text = form.format(t=p.title, v=value, b=p.brand, m=model, type=type_word)
        if text in seen:
            text = f"{text} {len(out)}"
        seen.add(text)
        out.append(text)
    return out


def run(*, quick: bool = False, embedder: str = "use-multilingual") -> dict[str, Any]:
    n_products = 2_000 if quick else 10_000
    n_queries = 200 if quick else 400
    products = synthetic_catalog(n_products)
    passages = build_passages(products)
    emb = make_embedder(embedder)
    warm = getattr(emb, "warm_up", None)
    if callable(warm):
        warm()
    texts = [p.text for p in passages]
    started = time.perf_counter()
    emb.embed(texts)
    raw_s = time.perf_counter() - started
    result: dict[str, Any] = {
        "benchmark": "search",
        "quick": quick,
        "machine": machine_info(),
        "embedder": emb.name,
        "products": n_products,
        "passages": len(passages),
        "raw_encode": {"seconds": round(raw_s, 2), "passages_per_s": round(len(texts) / raw_s, 1)},
    }
    with tempfile.TemporaryDirectory(prefix="search-bench-") as tmp:
        root = Path(tmp)
        index = CatalogIndex(root, "bench", emb)
        stats = index.sync(products, [])
        ingest_rate = stats.passages / stats.seconds
        result["ingest"] = {
            "seconds": round(stats.seconds, 2),
            "passages_per_s": round(ingest_rate, 1),
            "ratio_to_raw_encode": round(ingest_rate / (len(texts) / raw_s), 3),
        }
        resync = CatalogIndex(root, "bench", emb).sync(products, [])
        result["reimport_unchanged"] = {"seconds": round(resync.seconds, 3), "embedded": resync.embedded}
        edited = list(products)
        for i in range(0, n_products, 100):
            edited[i] = dataclasses.replace(edited[i], description=edited[i].description + " (updated)")
        edit = CatalogIndex(root, "bench", emb).sync(edited, [])
        result["sync_after_1pct_edit"] = {"seconds": round(edit.seconds, 2), "embedded": edit.embedded}

        fresh = CatalogIndex(root, "bench", emb)
        started = time.perf_counter()
        fresh.load()
        result["load_seconds"] = round(time.perf_counter() - started, 3)
        retriever = HybridRetriever(fresh)
        questions = synthetic_questions(edited, n_queries + 30)
        for q in questions[:30]:  # warm-up: model, tokenizer, lookup tables
            retriever.search_products(q, k=5)
        product_ms, passage_ms, focus_ms = [], [], []
        for i, q in enumerate(questions[30:]):
            t0 = time.perf_counter()
            retriever.search_products(q, k=5)
            t1 = time.perf_counter()
            retriever.search(q + " ?", k=5)  # a distinct text: no query-cache hit
            t2 = time.perf_counter()
            retriever.search(q + " !", k=5, skus=[edited[i % n_products].sku])
            t3 = time.perf_counter()
            product_ms.append((t1 - t0) * 1000)
            passage_ms.append((t2 - t1) * 1000)
            focus_ms.append((t3 - t2) * 1000)
        result["latency_ms"] = {
            "search_products": percentiles(product_ms),
            "search_passages": percentiles(passage_ms),
            "search_one_product": percentiles(focus_ms),
        }
        result["index_files_mib"] = round(
            sum(p.stat().st_size for p in (root / "bench").rglob("*") if p.is_file()) / 2**20, 1
        )
    result["peak_rss_mib"] = peak_rss_mib()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--embedder", default="use-multilingual")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    import json

    result = run(quick=args.quick, embedder=args.embedder)
    if args.out:
        write_result(result, args.out)
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
