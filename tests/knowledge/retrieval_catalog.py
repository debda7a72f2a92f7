"""A small bilingual catalog for the retrieval tests (products in Chinese and English, two policies)."""

from __future__ import annotations

from decimal import Decimal

from knowledge.models import DocSection, Document, Product, Variant


def products() -> list[Product]:
    return [
        Product(
            sku="EB-X3",
            title="Acme Wireless Earbuds X3",
            brand="Acme",
            category="Electronics/Earbuds",
            price=Decimal("299"),
            description="Bluetooth 5.3 earbuds with active noise cancelling and a 30 hour battery.",
            selling_points=["IPX5 waterproof for workouts", "Fast charging: 10 minutes for 2 hours"],
            attributes={"Bluetooth": "5.3", "Battery": "30 h"},
            variants=[
                Variant("EB-X3-BLK", {"Color": "Black"}),
                Variant("EB-X3-RED", {"Color": "Red"}),
            ],
            locale="en-US",
        ),
        Product(
            sku="BL-200",
            title="Vita Pro Countertop Blender",
            brand="Vita",
            category="Kitchen/Blenders",
            description="A 1200 W blender for smoothies, soups and crushed ice, with a 1.8 L glass jar.",
            selling_points=["Six speeds and pulse", "Dishwasher-safe jar"],
            variants=[Variant("BL-200-R", {"Color": "Red"}), Variant("BL-200-W", {"Color": "White"})],
            locale="en-US",
        ),
        Product(
            sku="ZH-SS-01",
            title="花语 清透防晒霜 SPF50",
            brand="花语",
            category="美妆/防晒",
            description="温和配方，敏感肌可用，清爽不油腻，适合日常通勤。",
            selling_points=["无酒精", "无香精", "防水防汗"],
            locale="zh-CN",
        ),
        Product(
            sku="ZH-HD-09",
            title="北风 男士纯棉连帽卫衣",
            brand="北风",
            category="服装/卫衣",
            description="加绒加厚，宽松版型，秋冬保暖。",
            attributes={"面料": "纯棉", "版型": "宽松"},
            variants=[
                Variant("ZH-HD-09-L", {"尺码": "L"}),
                Variant("ZH-HD-09-XL", {"尺码": "XL"}),
            ],
            locale="zh-CN",
        ),
        Product(
            sku="ZH-PB-10",
            title="能量方 PB-10000 磁吸充电宝",
            brand="能量方",
            category="数码/充电宝",
            description="10000mAh 大容量，支持20W快充，磁吸无线充电。",
            locale="zh-CN",
        ),
        Product(
            sku="EN-TEA-4",
            title="Highland Earl Grey Black Tea, 50 Bags",
            brand="Highland",
            category="Food/Tea",
            description="Black tea with bergamot oil. Caffeinated.",
            locale="en-US",
        ),
    ]


def documents() -> list[Document]:
    return [
        Document(
            doc_id="returns-zh",
            title="退货政策",
            locale="zh-CN",
            sections=[
                DocSection("七天无理由退货", "签收后7天内，商品未使用且不影响二次销售，可申请无理由退货。"),
                DocSection("退款时效", "仓库收到退货后3个工作日内退款。"),
            ],
        ),
        Document(
            doc_id="faq-en",
            title="Product FAQ",
            kind="faq",
            locale="en-US",
            sections=[
                DocSection("Can I crush ice with the blender?", "Yes, use the pulse setting.", "BL-200")
            ],
        ),
    ]
