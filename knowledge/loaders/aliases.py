"""Header aliases: which spreadsheet column means which product field.

Matching ignores case, spaces, underscores, hyphens and full-width forms, and a trailing note in
brackets or a required-marker star ("*商品名称", "价格（元）"). docs/catalog-formats.md lists this table;
keep the two in step.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

#: Canonical field → the headers merchants use for it (canonical name included).
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "sku": (
        "sku",
        "商品编码",
        "货号",
        "商品ID",
        "款号",
        "product id",
        "商品编号",
        "产品编码",
        "编码",
        "商家编码",
        "spu",
        "item id",
    ),
    "title": (
        "title",
        "商品名称",
        "标题",
        "名称",
        "商品标题",
        "name",
        "product name",
        "产品名称",
        "品名",
        "商品名",
    ),
    "brand": ("brand", "品牌", "品牌名称", "vendor"),
    "category": ("category", "类目", "分类", "品类", "type", "商品类目", "商品分类", "product type"),
    "price": (
        "price",
        "价格",
        "售价",
        "现价",
        "到手价",
        "促销价",
        "sale price",
        "直播价",
        "单价",
        "销售价",
        "活动价",
    ),
    "list_price": (
        "list_price",
        "原价",
        "划线价",
        "吊牌价",
        "市场价",
        "compare at price",
        "msrp",
        "建议零售价",
        "original price",
        "rrp",
    ),
    "currency": ("currency", "币种", "货币"),
    "stock": ("stock", "库存", "数量", "inventory", "qty", "quantity", "库存数量", "可售库存", "库存量"),
    "variants": ("variants", "变体", "多规格"),
    "attributes": ("attributes", "属性", "参数", "商品属性", "规格参数"),
    "selling_points": (
        "selling_points",
        "卖点",
        "亮点",
        "产品卖点",
        "商品卖点",
        "核心卖点",
        "features",
        "highlights",
    ),
    "description": (
        "description",
        "描述",
        "详情",
        "商品描述",
        "简介",
        "body",
        "商品详情",
        "产品描述",
        "desc",
        "介绍",
    ),
    "tags": ("tags", "标签", "keywords", "关键词", "tag"),
    "images": ("images", "图片", "主图", "image", "image url", "图片链接", "主图链接", "商品图片"),
    "url": ("url", "链接", "商品链接", "link", "购买链接", "product url"),
    "locale": ("locale", "语言", "language", "lang"),
}

#: Per-variant columns for files with one row per variant.
VARIANT_ALIASES: dict[str, tuple[str, ...]] = {
    "variant_sku": ("variant_sku", "规格编码", "sku编码", "规格货号", "规格ID"),
    "variant_price": ("variant_price", "规格价格", "规格售价", "sku价格"),
    "variant_stock": ("variant_stock", "规格库存", "sku库存"),
}

#: Headers that are a variant option themselves (the header is the option's name).
OPTION_HEADERS: tuple[str, ...] = (
    "颜色",
    "颜色分类",
    "color",
    "colour",
    "尺码",
    "尺寸",
    "size",
    "规格",
    "款式",
    "style",
    "口味",
    "flavor",
    "flavour",
    "容量",
)

ATTRIBUTE_PREFIXES: tuple[str, ...] = ("attr:", "attribute:", "属性:", "参数:")
OPTION_PREFIXES: tuple[str, ...] = ("option:", "opt:", "规格:")

RoleKind = Literal["field", "variant", "attribute", "option", "unknown", "blank"]


@dataclass(frozen=True, slots=True)
class ColumnRole:
    """What one column of a sheet carries. `name` is the field, variant key, attribute or option name."""

    kind: RoleKind
    name: str
    header: str


def header_key(header: str) -> str:
    """The comparable form of a header: NFKC, case-folded, without spaces, '_' or '-'."""
    text = unicodedata.normalize("NFKC", header).replace("\ufeff", "").casefold()
    return re.sub(r"[\s_\-\u200b]+", "", text)


def _loose_key(header: str) -> str:
    """`header_key` without required-markers and a trailing bracketed note: '*价格（元）' → '价格'."""
    key = header_key(header).strip("*")
    return re.sub(r"\([^()]*\)$", "", key).strip("*")


def _build_index() -> dict[str, tuple[RoleKind, str]]:
    index: dict[str, tuple[RoleKind, str]] = {}
    for field, aliases in FIELD_ALIASES.items():
        for alias in aliases:
            index[header_key(alias)] = ("field", field)
    for key, aliases in VARIANT_ALIASES.items():
        for alias in aliases:
            index[header_key(alias)] = ("variant", key)
    return index


_INDEX = _build_index()
_OPTION_KEYS = frozenset(header_key(h) for h in OPTION_HEADERS)


def _prefixed(header: str, prefixes: tuple[str, ...]) -> str | None:
    """The name after a known prefix ('attr:材质' → '材质'), as the merchant wrote it."""
    text = unicodedata.normalize("NFKC", header).strip()
    folded = text.casefold()
    for prefix in prefixes:
        if folded.startswith(prefix):
            return text[len(prefix) :].strip()
    return None


def column_role(header: str) -> ColumnRole:
    """Classify one header cell."""
    text = unicodedata.normalize("NFKC", header).replace("\ufeff", "").strip()
    if not text:
        return ColumnRole("blank", "", header)
    for key in (header_key(text), _loose_key(text)):
        hit = _INDEX.get(key)
        if hit is not None:
            return ColumnRole(hit[0], hit[1], text)
    attribute = _prefixed(text, ATTRIBUTE_PREFIXES)
    if attribute:
        return ColumnRole("attribute", attribute, text)
    option = _prefixed(text, OPTION_PREFIXES)
    if option:
        return ColumnRole("option", option, text)
    if header_key(text) in _OPTION_KEYS or _loose_key(text) in _OPTION_KEYS:
        return ColumnRole("option", text.strip("*"), text)
    return ColumnRole("unknown", text, text)
