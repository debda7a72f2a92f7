"""Fixtures for the evaluation harness: a tiny reference catalog, cases, and a hash-embedder services."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from api.services import Services
from api.settings import Settings
from evals.dataset import Case
from evals.reference import Reference
from evals.runner import prepare_services
from knowledge.models import DocSection, Document, Product, Variant


def make_case(**fields: Any) -> Case:
    """A case from keyword fields with sensible defaults (zh chat, one message)."""
    data: dict[str, Any] = {"id": "c1", "lang": "zh", "slice": "zh", "channel": "chat", "text": "多少钱"}
    data.update(fields)
    data.setdefault("expect", {})
    return Case.model_validate(data)


@pytest.fixture
def reference() -> Reference:
    """Two products and one policy document, small enough to check figures by hand."""
    hoodie = Product(
        sku="H-1",
        title="暖禾 加绒卫衣",
        price=Decimal("159.00"),
        list_price=Decimal("229.00"),
        variants=[
            Variant("H-1-PNK-XL", {"颜色": "粉色", "尺码": "XL"}, Decimal("159.00"), 0),
            Variant("H-1-BLK-XL", {"颜色": "黑色", "尺码": "XL"}, Decimal("159.00"), 14),
            Variant("H-1-BLK-M", {"颜色": "黑色", "尺码": "M"}, Decimal("159.00"), 3),
        ],
        attributes={"面料成分": "棉80% 聚酯纤维20%", "是否能加热": "不能加热，不可放热水"},
    )
    lamp = Product(
        sku="L-1",
        title="Clip-On LED Desk Lamp",
        price=Decimal("34.99"),
        currency="USD",
        stock=3,
        attributes={"Mount": "Clamp clips to desk edges up to 5.5 cm thick", "Flicker": "Flicker-free"},
    )
    shipping = Document(
        doc_id="shipping-zh",
        title="发货",
        sections=[DocSection("包邮条件", "单笔实付满99元包邮，不满99元收取运费8元。")],
    )
    return Reference(products={"H-1": hoodie, "L-1": lamp}, documents={"shipping-zh": shipping})


@pytest.fixture(scope="module")
def eval_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Services, Reference]]:
    """Services on a fresh data dir with the demo catalog ingested into merchant "eval" (hash embedder)."""
    data_dir = tmp_path_factory.mktemp("eval-var")
    services = Services(Settings(data_dir=data_dir, embedder="hash"))
    ref = prepare_services(services, "eval")
    try:
        yield services, ref
    finally:
        services.close()


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path
