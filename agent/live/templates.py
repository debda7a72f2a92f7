"""The live-selling sentence templates, in Chinese and English, several variants per slot.

A slot is one thing the host says (the hook, the price with its saving, the call to action …). The
script builder picks one variant per slot from the room's seed, the loop and the link, so a looping
room does not repeat itself word for word. A template may hold several sentences separated by "\\n".

Placeholders are filled only with catalog facts: `{title}`, `{brand}`, `{leaf}` (the last part of the
category), `{link}`, `{price}`, `{list}`, `{saving}`, `{n}` (stock), `{name}`/`{names}` (option names),
`{values}`, `{label}`, `{key}`/`{value}` (an attribute) and `{point}` (a selling point). No template
makes a claim of its own: no superlative, no ranking, no urgency the catalog does not back.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from decimal import Decimal
from typing import Literal

from agent.compliance import split_sentences
from agent.evidence import stock_state
from agent.textnorm import detect_language
from agent.variants import available_values, option_values
from agent.writers.default import money
from knowledge.models import Product
from knowledge.tokenize import chinese_words

Lang = Literal["zh", "en"]
SegmentName = Literal["hook", "intro", "selling_points", "specs", "price_offer", "call_to_action"]
_CNY = ("CNY", "RMB")

TEMPLATES: dict[Lang, dict[str, tuple[str, ...]]] = {
    "zh": {
        "hook.open": (
            "家人们看过来，今天给大家带来的是{title}！",
            "来，{link}号链接，{title}。",
            "宝宝们注意啦，接下来这款是{title}。",
            "直播间的朋友们，现在上的是{link}号链接，{title}。",
        ),
        "hook.promo": (
            "这款现在有优惠价，先别走开。",
            "这款现在有活动价，喜欢的别走开。",
            "这款现在有优惠。",
        ),
        # Said only when the price follows in this product's presentation (a promise that is kept).
        "hook.promo_later": (
            "这款现在有活动价，价格一会儿告诉大家。",
            "这款现在有优惠，价格马上说。",
        ),
        "intro.brand_leaf": (
            "这款是{brand}家的{leaf}。",
            "先简单介绍一下，这是{brand}的{leaf}。",
            "给大家介绍一下，{brand}家的这款{leaf}。",
        ),
        "intro.brand": (
            "这款是{brand}家的。",
            "先简单介绍一下，这是{brand}家的产品。",
            "给大家介绍一下{brand}家的这款。",
        ),
        "intro.leaf": (
            "先简单介绍一下这款{leaf}。",
            "给大家介绍一下这款{leaf}。",
            "来看看这款{leaf}。",
        ),
        "points.first": (
            "先说亮点，{point}。",
            "大家看，{point}。",
            "首先，{point}。",
        ),
        "points.next": (
            "还有，{point}。",
            "{point}。",
            "另外，{point}。",
            "{point}，这一点大家可以留意一下。",
            "再一个，{point}。",
            "而且{point}。",
        ),
        "points.foreign": (
            "这款的卖点详情页里都写着，大家点开{link}号链接看看。",
            "卖点介绍在{link}号链接的详情页里，大家可以点开看。",
            "具体卖点大家点开{link}号链接，详情页里都有。",
        ),
        "specs.option": (
            "{name}有{values}可以选。",
            "{name}这边有{values}。",
            "现在{name}有{values}。",
        ),
        "specs.sold_values": (
            "{values}已经卖完了。",
            "{values}目前没货了。",
            "{values}暂时断货了。",
        ),
        "specs.attribute": (
            "这款的{key}是{value}。",
            "说一下{key}，它是{value}。",
            "{key}的话，是{value}。",
        ),
        "specs.question_attribute": ("{key}？{value}。",),
        "specs.foreign": (
            "详细参数可以点开{link}号链接看看。",
            "具体参数在{link}号链接的详情页里。",
            "参数细节大家点开{link}号链接看。",
        ),
        "price.offer": (
            "原价{list}，现在直播间到手价{price}。\n相当于直接便宜了{saving}。",
            "现在直播间到手价{price}，比原价便宜{saving}。",
            "原价要{list}，现在只要{price}。",
        ),
        "price.plain": (
            "直播间价格是{price}。",
            "这款到手价{price}。",
            "{price}就能带回家。",
        ),
        "price.variant": (
            "选{label}的话是{price}。",
            "{label}是{price}。",
            "要{label}的话，价格是{price}。",
        ),
        "price.none": (
            "价格以{link}号链接里显示的为准，大家点开看一下。",
            "价格大家点开{link}号链接看，以链接里的为准。",
            "具体价格请看{link}号链接。",
        ),
        "price.low_stock": (
            "库存不多了，只剩最后{n}件。",
            "数量不多，现在只剩{n}件了。",
            "只剩{n}件了，需要的宝宝留意一下。",
        ),
        "cta.buy": (
            "喜欢的宝宝直接拍{link}号链接。",
            "想要的家人们，去拍{link}号链接。",
            "{link}号链接，喜欢的可以下单了。",
            "看中了就点{link}号链接下单。",
        ),
        "cta.options": (
            "拍的时候记得选好{names}。",
            "下单前选好{names}就行。",
            "拍之前看好{names}。",
        ),
        "cta.no_price": (
            "感兴趣的宝宝点开{link}号链接看看。",
            "想了解的家人们点开{link}号链接。",
            "{link}号链接，大家点开看看。",
        ),
        "cta.sold_out": (
            "{link}号链接{title}已经售罄了，大家可以看看其他链接。",
            "{title}暂时卖完了，{link}号链接先不推荐，大家看看其他链接。",
            "{link}号链接{title}已售罄，大家看看别的链接。",
        ),
    },
    "en": {
        "hook.open": (
            "Hey everyone, take a look at this one: {title}!",
            "Next up, link {link}: {title}.",
            "Alright friends, here's {title}.",
            "Coming up on link {link}: {title}.",
        ),
        "hook.promo": (
            "There's a deal on this one right now, so stay with me.",
            "This one is on offer right now.",
            "It's on promotion right now.",
        ),
        "hook.promo_later": (
            "This one is on offer right now; the price is coming up.",
            "It's on promotion right now, price in a moment.",
        ),
        "intro.brand_leaf": (
            "This one comes from {brand}.",
            "It's made by {brand}.",
            "A quick intro: this is from {brand}.",
        ),
        "intro.brand": (
            "This one comes from {brand}.",
            "It's made by {brand}.",
            "A quick intro: this is from {brand}.",
        ),
        "intro.leaf": (
            "Let me tell you about this one.",
            "Here's a quick intro.",
            "Let's have a closer look.",
        ),
        "points.first": (
            "Here's the highlight: {point}.",
            "First up: {point}.",
            "Check this out: {point}.",
        ),
        "points.next": (
            "Also: {point}.",
            "{point}.",
            "Plus: {point}.",
            "{point}, which is worth knowing.",
            "On top of that: {point}.",
            "And another thing: {point}.",
        ),
        "points.foreign": (
            "The highlights are on the product page; open link {link} to read them.",
            "Tap link {link} to see all the highlights on the product page.",
            "Open link {link} for the full list of highlights.",
        ),
        "specs.option": (
            "You can pick the {name}: {values}.",
            "{Name} options are {values}.",
            "For {name}, we have {values}.",
        ),
        "specs.sold_values": (
            "Sold out right now: {values}.",
            "{values}: already sold out.",
            "We're out of {values} for now.",
        ),
        "specs.attribute": (
            "The {key_lower} is {value}.",
            "About the {key_lower}: it's {value}.",
            "As for the {key_lower}, {value}.",
        ),
        "specs.question_attribute": ("{key}: {value}.",),
        "specs.foreign": (
            "The full specs are on the page for link {link}.",
            "Open link {link} for all the specs.",
            "All the details are on the product page, link {link}.",
        ),
        "price.offer": (
            "The list price is {list}, and here it's {price}.\nThat's {saving} off.",
            "Right now in the live room it's {price}, down from {list}.",
            "You save {saving}: it's {price} instead of {list}.",
        ),
        "price.plain": (
            "It's {price} here.",
            "The price is {price}.",
            "You can take it home for {price}.",
        ),
        "price.variant": (
            "The {label} option is {price}.",
            "{label} is {price}.",
            "If you want {label}, that's {price}.",
        ),
        "price.none": (
            "Check link {link} for the current price.",
            "The price is shown on link {link}; please check it there.",
            "Open link {link} to see today's price.",
        ),
        "price.low_stock": (
            "Only {n} left in stock.",
            "Stock is low: {n} left.",
            "There are just {n} left.",
        ),
        "cta.buy": (
            "Like it? Link {link} in the bag.",
            "Grab it from link {link} in the shopping bag.",
            "Tap link {link} to order.",
            "Want one? Link {link} is in the bag.",
        ),
        "cta.options": (
            "Pick your {names} when you order.",
            "Just choose your {names} at checkout.",
            "Remember to select your {names}.",
        ),
        "cta.no_price": (
            "Interested? Open link {link} to take a look.",
            "Curious? Tap link {link}.",
            "Have a look at link {link}.",
        ),
        "cta.sold_out": (
            "{title} on link {link} is sold out right now; have a look at the other links.",
            "Link {link}, {title}, is sold out, so check out the other links.",
            "Link {link} ({title}) is sold out for now; the other links are still open.",
        ),
    },
}

#: Option names across the two languages, for a product listed in the other language.
OPTION_NAMES: dict[Lang, dict[str, str]] = {
    "en": {
        "颜色": "colour",
        "尺码": "size",
        "鞋码": "shoe size",
        "腰围尺码": "waist size",
        "尺寸": "size",
        "规格": "option",
        "口味": "flavour",
        "色号": "shade",
        "容量": "capacity",
        "款式": "style",
    },
    "zh": {
        "color": "颜色",
        "colour": "颜色",
        "size": "尺码",
        "flavor": "口味",
        "flavour": "口味",
        "shade": "色号",
        "scent": "香型",
        "style": "款式",
        "capacity": "容量",
        "pack": "规格",
        "weight": "规格",
    },
}


class ProductLines:
    """Fills the templates for one product: the raw lines of each segment, before any checking.

    Args:
        product: the catalog record; every number in a line comes from it.
        lang: the room language; catalog text in the other language is not read out (titles are
            quoted as given, options and values named as given).
        link: the product's link number in the room.
        seed: the room's variant seed.
        loop_index: the loop being built; it shifts every slot to its next variant.
    """

    def __init__(
        self,
        product: Product,
        lang: Lang,
        *,
        link: int,
        seed: int,
        loop_index: int,
        price_follows: bool = True,
    ) -> None:
        self.product = product
        self.lang: Lang = lang
        self.link = link
        self.seed = seed
        self.loop = loop_index
        self.sold_out = stock_state(product.total_stock()) == "sold_out"
        #: Whether this product's presentation goes on to say its price (a promise may point to it).
        self.price_follows = price_follows and product.price is not None
        self._used: dict[str, set[int]] = {}  # variants of each slot already said for this product
        available = {v for values in available_values(product).values() for v in values}
        # The words of sold-out option values ("M05 豆沙" → "M05", "豆沙"): a line naming one is no reason to buy.
        self._sold_words = sorted(
            {
                word
                for values in option_values(product).values()
                for v in values
                if v not in available
                for word in v.split()
                if len(word) >= 2
            }
        )

    def segment(self, kind: SegmentName) -> list[str]:
        """The lines of one segment (for a sold-out product, call_to_action says it is sold out)."""
        if kind == "hook":
            return self._hook()
        if kind == "intro":
            return self._intro()
        if kind == "selling_points":
            return self._points()
        if kind == "specs":
            return self._specs()
        if kind == "price_offer":
            return self._price()
        return self._call_to_action()

    # -- templates -------------------------------------------------------------------------------
    def pick(self, slot: str, *, offset: int = 0, **values: object) -> list[str]:
        """One variant of `slot`, chosen from seed, link and slot and shifted by the loop index.

        `offset` moves along the variants for repeated uses of a slot within one segment.
        """
        variants = TEMPLATES[self.lang][slot]
        base = zlib.crc32(f"{self.seed}:{self.link}:{slot}".encode())
        used = self._used.setdefault(slot, set())
        index = (base + self.loop + offset) % len(variants)
        if len(used) < len(variants):  # no variant twice within one product while others are left
            while index in used:
                index = (index + 1) % len(variants)
        used.add(index)
        template = variants[index]
        lines = [s for s in template.format(link=self.link, **values).split("\n") if s]
        return [line[:1].upper() + line[1:] for line in lines] if self.lang == "en" else lines

    def same_language(self, text: str) -> bool:
        return detect_language(text, default=self.lang) == self.lang

    def title(self) -> str:
        """What the host calls the product: its short spoken name (`spoken_name`), not the listing title."""
        return spoken_name(self.product, self.lang)

    def mentions_sold_out(self, text: str) -> bool:
        """Whether ``text`` names a sold-out option value (or a word of one: "豆沙" of "M05 豆沙"); such a
        selling point or description line is never said (a sold-out variant is no reason to buy)."""
        return any(word in text for word in self._sold_words)

    def amount(self, value: Decimal) -> str:
        if self.lang == "zh" and self.product.currency.upper() in _CNY:
            return money(value, "CNY").removeprefix("¥") + "元"
        return money(value, self.product.currency)

    def join(self, items: Sequence[str]) -> str:
        if self.lang == "zh":
            return "和".join(items) if len(items) == 2 else "、".join(items)
        if len(items) <= 1:
            return "".join(items)
        return ", ".join(items[:-1]) + " and " + items[-1]

    def option_name(self, name: str) -> str:
        if self.same_language(name):
            return name if self.lang == "zh" else name.lower()
        return OPTION_NAMES[self.lang].get(name.strip().lower(), "规格" if self.lang == "zh" else "option")

    # -- segments --------------------------------------------------------------------------------
    def _hook(self) -> list[str]:
        lines = self.pick("hook.open", title=self.title())
        product = self.product
        on_offer = (
            product.price is not None
            and product.list_price is not None
            and product.list_price > product.price
        )
        if on_offer and not self.sold_out:
            lines += self.pick("hook.promo_later" if self.price_follows else "hook.promo")
        return lines

    def _intro(self) -> list[str]:
        brand = self.product.brand.strip()
        leaf = self.product.category.split("/")[-1].strip()
        if leaf and not self.same_language(leaf):
            leaf = ""
        if brand and leaf:
            lines = self.pick("intro.brand_leaf", brand=brand, leaf=leaf)
        elif brand:
            lines = self.pick("intro.brand", brand=brand)
        elif leaf:
            lines = self.pick("intro.leaf", leaf=leaf)
        else:
            lines = []
        description = self.product.description
        sentences = [description[a:b].strip() for a, b in split_sentences(description)]
        lines += [s for s in sentences if s and self.same_language(s) and not self.mentions_sold_out(s)][:2]
        return lines

    def _points(self) -> list[str]:
        points = [_bare(p) for p in self.product.selling_points if p.strip() and self.same_language(p)]
        points = [p for p in points if p and not self.mentions_sold_out(p)]
        if not points:
            return self.pick("points.foreign") if self.product.selling_points else []
        start = self.loop % len(points)
        ordered = points[start:] + points[:start]
        lines = self.pick("points.first", point=ordered[0])
        for index, point in enumerate(ordered[1:], start=1):
            lines += self.pick("points.next", offset=index - 1, point=point)
        return lines

    def _specs(self) -> list[str]:
        product = self.product
        lines: list[str] = []
        available = available_values(product)
        sold: list[str] = []
        for name, values in list(option_values(product).items())[:3]:
            in_stock = [v for v in values if v in available.get(name, [])]
            sold += [v for v in values if v not in in_stock]
            if not in_stock:
                continue
            label = self.option_name(name)
            shown = in_stock[:8]
            if len(in_stock) > 8:
                shown[-1] += "等" if self.lang == "zh" else " and more"
            lines += self.pick(
                "specs.option", name=label, Name=label[:1].upper() + label[1:], values=self.join(shown)
            )
        if sold:
            lines += self.pick("specs.sold_values", values=self.join(sold[:4]))
        option_keys = {name.strip().lower() for name in option_values(product)}
        attributes = [
            (k.strip(), _bare(v))
            for k, v in product.attributes.items()
            if k.strip().lower() not in option_keys and _bare(v) and self.same_language(f"{k} {v}")
        ]
        if attributes:
            start = (self.loop * 2) % len(attributes)
            for offset, (key, value) in enumerate((attributes[start:] + attributes[:start])[:2]):
                slot = "specs.question_attribute" if key.startswith("是否") else "specs.attribute"
                lines += self.pick(slot, offset=offset, key=key, key_lower=key.lower(), value=value)
        elif product.attributes:
            lines += self.pick("specs.foreign")
        return lines

    def _price(self) -> list[str]:
        product = self.product
        if product.price is None:
            return self.pick("price.none")
        price = product.price
        if product.list_price is not None and product.list_price > price:
            lines = self.pick(
                "price.offer",
                price=self.amount(price),
                list=self.amount(product.list_price),
                saving=self.amount(product.list_price - price),
            )
        else:
            lines = self.pick("price.plain", price=self.amount(price))
        seen: set[Decimal] = {price}
        for variant in product.variants:
            if (
                variant.price is None
                or variant.price in seen
                or (variant.stock is not None and variant.stock <= 0)
            ):
                continue
            seen.add(variant.price)
            label = " ".join(variant.options.values()) or variant.sku
            lines += self.pick("price.variant", label=label, price=self.amount(variant.price))
            if len(seen) > 2:
                break
        total = product.total_stock()
        if total is not None and stock_state(total) == "low":
            lines += self.pick("price.low_stock", n=total)
        return lines

    def _call_to_action(self) -> list[str]:
        if self.sold_out:
            return self.pick("cta.sold_out", title=self.title())
        if self.product.price is None:
            return self.pick("cta.no_price")
        lines = self.pick("cta.buy")
        names = list(dict.fromkeys(self.option_name(n) for n in available_values(self.product)))[:2]
        if names:
            lines += self.pick("cta.options", names=self.join(names))
        return lines


_BRACKETED = re.compile(r"[【\[（(「『《<][^】\]）)」』》>]*[】\]）)」』》>]")
_SPEC_TOKEN = re.compile(
    r"\d+(?:\.\d+)?\s*(?:ml|mL|ML|g|kg|KG|cm|mm|m|L|l|寸|英寸|片|支|只|件|个|瓶|盒|袋|包|W|mAh|GB|TB|码|cm)?"
    r"|20\d\d年?|[A-Za-z]*\d+[A-Za-z]*"
)
#: Listing words a host does not say when naming a product (season, fashion and shop words).
_LISTING_WORDS_ZH = (
    "新款", "秋冬", "春夏", "春秋", "冬季", "夏季", "秋季", "春季", "男女同款", "情侣款", "男女", "官方", "旗舰店",
    "正品", "爆款", "网红", "同款", "现货", "包邮", "特价", "限量", "款式", "时尚", "百搭", "韩版", "ins",
)  # fmt: skip
_HAN_RUN = re.compile(r"[\u4e00-\u9fff]+")


def spoken_name(product: Product, lang: Lang) -> str:
    """The product's short spoken name: brand and core noun ("暖禾加绒卫衣"), not the listing title
    ("暖禾2024新款秋冬加绒卫衣男女同款宽松【送袜子】"): brackets, specs, years and listing words go, the
    category's noun is kept with up to two characters before it. A title in the other language is not read
    out: the brand and the category's noun stand in, or "this one" ("这款")."""
    title = product.title.strip()
    brand = product.brand.strip()
    leaf = product.category.split("/")[-1].strip() if product.category else ""
    if lang == "zh":
        return _spoken_name_zh(title, brand, leaf)
    return _spoken_name_en(title, brand, leaf)


def _spoken_name_zh(title: str, brand: str, leaf: str) -> str:
    han_leaf = leaf if _HAN_RUN.fullmatch(leaf or "-") else ""
    cleaned = _SPEC_TOKEN.sub(" ", _BRACKETED.sub(" ", title))
    for word in _LISTING_WORDS_ZH:
        cleaned = cleaned.replace(word, " ")
    said_brand = brand if brand and (_HAN_RUN.search(brand) or brand in title) else ""
    if said_brand:
        cleaned = cleaned.replace(said_brand, " ")
    runs = _HAN_RUN.findall(cleaned)
    core = ""
    for run in reversed(runs):
        at = run.rfind(han_leaf) if han_leaf else -1
        if at >= 0:
            core = _core_noun(run, at, at + len(han_leaf))
            break
    if not core and runs:
        run = max(runs, key=len)
        last = chinese_words(run)[-1]
        core = _core_noun(run, len(run) - len(last), len(run))
    if not core:
        core = han_leaf
    if not core:
        return f"{said_brand}这款" if said_brand else "这款"
    name = f"{said_brand}{core}" if said_brand and not core.startswith(said_brand) else core
    return name if len(name) <= 12 else core


_NEGATIONS = ("非", "无", "不", "免")


def _core_noun(run: str, start: int, end: int) -> str:
    """The noun at ``run[start:end]`` widened to whole words (jieba's): to the end of the word it ends in
    ("收纳" in "收纳箱"), with the words just before it up to three characters ("加绒卫衣", "水感防晒"), and
    a negation before those kept ("非油炸", "不粘")."""
    bounds: list[tuple[int, int]] = []
    at = 0
    for word in chinese_words(run):
        bounds.append((at, at + len(word)))
        at += len(word)
    start = next((a for a, b in bounds if a <= start < b), start)
    end = next((b for a, b in bounds if a < end <= b), end)
    after = [(a, b) for a, b in bounds if a >= end]
    if after and after[0][1] - after[0][0] == 1:  # a one-character word finishing the noun ("收纳" "箱")
        end = after[0][1]
    before = [(a, b) for a, b in bounds if b <= start]
    begin = start
    while before and start - before[-1][0] <= 3:
        begin = before.pop()[0]
        if start - begin >= 2:
            break
    if before and run[before[-1][0] : before[-1][1]] in _NEGATIONS:
        begin = before[-1][0]
    return run[begin:end]


def _spoken_name_en(title: str, brand: str, leaf: str) -> str:
    latin_title = not _HAN_RUN.search(title)
    if latin_title:
        words = _SPEC_TOKEN.sub(" ", _BRACKETED.sub(" ", title)).replace(",", " ").split()
        return " ".join(words[:5]) if words else "this one"
    latin_leaf = leaf if leaf and not _HAN_RUN.search(leaf) else ""
    latin_brand = brand if brand and not _HAN_RUN.search(brand) else ""
    name = " ".join(p for p in (latin_brand, latin_leaf.lower()) if p)
    return name or "this one"


def _bare(text: str) -> str:
    """Catalog text without trailing punctuation, ready to go into a template."""
    return text.strip().rstrip("。.！!；;，,、 ")


__all__ = ["OPTION_NAMES", "TEMPLATES", "Lang", "ProductLines", "SegmentName", "spoken_name"]
