"""Which product a message is about: link number, sku, name, "这个/it", or the best search match.

Order: an explicit link number ("3号链接", "link 3") in a room; a structured lookup (sku, title, model,
brand + type); a deictic or bare question ("这个多少钱", "有XL吗") takes the conversation's focus or the
product on screen; otherwise the retriever's product ranking, accepted when clear, turned into a short
clarifying question when two products are close, and "not found" when nothing matches well.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from agent.aspects import category_leaves
from agent.writers.lines import content_terms
from knowledge.retriever import HybridRetriever, ProductHit

FocusMethod = Literal["link", "lookup", "pinned", "memory", "room", "search", "none"]

_LINK = re.compile(
    r"(?:^|[^\d])(\d{1,3})\s*号(?:链接|连接|宝贝|商品)|(?:链接|连接)\s*(\d{1,3})|"
    r"\blink\s*(?:no\.?|number|#)?\s*(\d{1,3})\b",
    re.I,
)
# In a room, a bare "3号" / "#3" / "no. 3" is a link number too (outside one, "44号" is a shoe size).
_ROOM_LINK = re.compile(r"(?:^|[^\d])(\d{1,3})\s*号(?![码])|#\s*(\d{1,3})\b|\bno\.\s*(\d{1,3})\b", re.I)
_DEICTIC = re.compile(
    r"这个|这款|这件|这条|这双|这套|这瓶|这盒|这只|这台|那个|那款|它|该款|此款|主播身上|身上这|手上|"
    r"\b(?:this|it|that|this one|that one|the one you|yours)\b",
    re.I,
)
# Words that only ask about an aspect: a message made of these alone refers to the focus.
_ASPECT_ONLY = frozenset(
    [
        "多少",
        "钱",
        "多少钱",
        "价格",
        "价钱",
        "几块",
        "贵",
        "便宜",
        "优惠",
        "有货",
        "没货",
        "现货",
        "库存",
        "还有",
        "卖完",
        "售罄",
        "尺码",
        "尺寸",
        "码",
        "码数",
        "颜色",
        "规格",
        "款式",
        "几种",
        "种",
        "几款",
        "哪些",
        "什么",
        "哪种",
        "come",
        "comes",
        "they",
        "them",
        "those",
        "these",
        "ones",
        "red",
        "black",
        "white",
        "blue",
        "navy",
        "pink",
        "grey",
        "gray",
        "green",
        "beige",
        "brown",
        "silver",
        "gold",
        "口味",
        "发货",
        "包邮",
        "运费",
        "快递",
        "物流",
        "退货",
        "退换",
        "换货",
        "保修",
        "质保",
        "材质",
        "面料",
        "成分",
        "适合",
        "链接",
        "号",
        "有",
        "吗",
        "呢",
        "啊",
        "能",
        "可以",
        "亲",
        "主播",
        "宝宝",
        "xs",
        "s",
        "m",
        "l",
        "xl",
        "xxl",
        "xxxl",
        "2xl",
        "3xl",
        "红色",
        "黑色",
        "白色",
        "蓝色",
        "粉色",
        "灰色",
        "绿色",
        "黄色",
        "紫色",
        "米色",
        "how",
        "much",
        "price",
        "cost",
        "stock",
        "available",
        "size",
        "sizes",
        "color",
        "colour",
        "colors",
        "colours",
        "ship",
        "shipping",
        "return",
        "returns",
        "warranty",
        "material",
        "left",
        "sold",
        "out",
        "in",
        "still",
        "any",
        "have",
        "has",
        "does",
        "do",
        "is",
        "it",
        "this",
        "one",
    ]
)


@dataclass(frozen=True, slots=True)
class RoomContext:
    """What a live room knows: link numbers and the product on screen."""

    link_map: Mapping[int, str] = field(default_factory=dict)
    current_sku: str | None = None


@dataclass(frozen=True, slots=True)
class Focus:
    sku: str | None
    method: FocusMethod
    candidates: tuple[str, ...] = ()
    link_number: int | None = None
    #: A link number was asked for that the room does not have.
    unknown_link: bool = False
    score: float = 0.0
    #: The message names no product and nothing is in focus ("多少钱" as a first message).
    needs_product: bool = False


@dataclass(frozen=True, slots=True)
class FocusOptions:
    """Acceptance thresholds on the retriever's fused product score (cosine + lexical bonus)."""

    min_score: float = 0.32
    clarify_margin: float = 0.02
    #: Within this distance of the best match, a listing in the question's language is preferred.
    language_margin: float = 0.05


def link_number(text: str, *, in_room: bool = False) -> int | None:
    """The link number a message asks about. Bare "3号" and "#3" count only in a live room."""
    match = _LINK.search(text) or (_ROOM_LINK.search(text) if in_room else None)
    if match is None:
        return None
    for group in match.groups():
        if group:
            return int(group)
    return None


def without_link(text: str, *, in_room: bool = False) -> str:
    """``text`` with the link reference `link_number` reads removed ("3号链接有L码吗" → " 有L码吗"), so the
    link number is not taken for anything else (a size: "3号")."""
    match = _LINK.search(text) or (_ROOM_LINK.search(text) if in_room else None)
    if match is None:
        return text
    # The first group's pattern starts with the character before the number (or the start of the text).
    start = match.start(1) if match.group(1) else match.start()
    return text[:start] + " " + text[match.end() :]


def _names_another_kind(question: str, retriever: HybridRetriever, sku: str, remembered: str) -> bool:
    """True when ``question`` names a kind of product (a part of its category: "耳机", "hoodie") that
    ``sku`` is and ``remembered`` is not."""
    lowered = question.lower()
    own = set(category_leaves(retriever.product_category(remembered)))
    for kind in category_leaves(retriever.product_category(sku)):
        said = kind in lowered or (kind.isascii() and len(kind) > 3 and kind.rstrip("s") in lowered)
        if said and kind not in own:
            return True
    return False


def _is_bare(question: str) -> bool:
    """True when the message names no product, only an aspect ("多少钱", "有XL吗", "in stock?")."""
    terms = content_terms(question)
    return all(t in _ASPECT_ONLY or t.isdigit() or len(t) == 1 for t in terms)


def resolve_focus(
    question: str,
    retriever: HybridRetriever | None,
    *,
    memory_sku: str | None = None,
    pinned_sku: str | None = None,
    room: RoomContext | None = None,
    options: FocusOptions | None = None,
    language: str = "",
) -> Focus:
    """Decide the product in focus for `question`. Pure apart from the retriever calls."""
    opts = options or FocusOptions()
    number = link_number(question, in_room=room is not None)
    if number is not None:
        sku = room.link_map.get(number) if room is not None else None
        if sku is not None:
            return Focus(sku, "link", link_number=number, score=1.0)
        return Focus(None, "none", link_number=number, unknown_link=True)
    if retriever is None:
        if pinned_sku is not None:
            return Focus(pinned_sku, "pinned", score=1.0)
        return Focus(memory_sku, "memory" if memory_sku else "none")
    named = retriever.lookup(question)
    if pinned_sku is not None and (not named or pinned_sku in named):
        # The chat sits on a product page: that product, unless the words name another one.
        return Focus(pinned_sku, "pinned", score=1.0)
    if len(named) == 1:
        return Focus(named[0], "lookup", score=1.0)
    if len(named) > 1:
        preferred = [s for s in named if s in (memory_sku, room.current_sku if room else None)]
        if preferred:
            return Focus(preferred[0], "lookup", candidates=tuple(named), score=1.0)
        return Focus(None, "lookup", candidates=tuple(named[:4]))
    deictic = bool(_DEICTIC.search(question))
    bare = _is_bare(question)
    remembered = memory_sku or (room.current_sku if room is not None else None)
    remembered_method: FocusMethod = "memory" if memory_sku else "room"
    if bare:
        if remembered is not None:
            return Focus(remembered, remembered_method, score=1.0)
        return Focus(None, "none", needs_product=True)
    ranked: list[ProductHit] = retriever.search_products(question, k=3)
    # "这个耳机防水吗": keep the product in focus unless the words clearly name another one.
    keeps_focus = not ranked or ranked[0].score < opts.min_score or any(h.sku == remembered for h in ranked)
    if deictic and remembered is not None and not keeps_focus:
        # Naming another one means naming its kind ("耳机"); "这个是纯棉的吗" asks about an attribute
        # of the product on screen, however well "纯棉" matches some other listing.
        keeps_focus = not _names_another_kind(question, retriever, ranked[0].sku, remembered)
    if deictic and remembered is not None and keeps_focus:
        return Focus(remembered, remembered_method, score=1.0)
    if not ranked or ranked[0].score < opts.min_score:
        return Focus(None, "none", score=ranked[0].score if ranked else 0.0)
    top = ranked[0]
    if memory_sku is not None and any(h.sku == memory_sku for h in ranked[:2]):
        near = next(h for h in ranked if h.sku == memory_sku)
        if top.score - near.score <= opts.clarify_margin:
            return Focus(memory_sku, "memory", score=near.score)
    if len(ranked) > 1 and language:
        # Twin listings in two languages ("轻薄羽绒服" and "packable down jacket") score alike: a
        # close call goes to the listing in the shopper's language.
        close = [h for h in ranked if top.score - h.score < opts.language_margin]
        own = [h for h in close if retriever.product_language(h.sku) == language]
        if len(close) > 1 and len(own) == 1:
            return Focus(own[0].sku, "search", score=own[0].score)
    if len(ranked) > 1 and top.score - ranked[1].score < opts.clarify_margin:
        return Focus(top.sku, "search", candidates=tuple(h.sku for h in ranked[:3]), score=top.score)
    return Focus(top.sku, "search", score=top.score)
