"""What a product question asks about: price, stock, a variant, a spec, shipping, returns …

Aspects decide which facts the writer states. A question may ask several ("XL还有货吗" is a variant and
a stock question). Detection is lexical over normalised text, in Chinese and English.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from knowledge.aspect_vocab import packaged_vocabulary

Aspect = Literal[
    "price",
    "stock",
    "variants",
    "spec",
    "shipping",
    "returns",
    "warranty",
    "payment",
    "invoice",
    "service",
    "general",
]

_PATTERNS: dict[Aspect, re.Pattern[str]] = {
    "price": re.compile(
        r"\d+(?:\.\d+)?\s*(?:元|块|刀|美元|dollars?|bucks)|"
        r"多少钱|多钱|价格|什么价|啥价|(?:^|的|号)多少[?？!！。~\s]*$|卖多少|价钱|几块|几元|多少米|售价|现价|到手价|优惠|便宜|贵不贵|贵吗|划算|折扣|打折|活动价|原价|"
        r"how much(?= (?:is|are|for|would|will|it|they|\$)|\?|$)|price|cost|\$|¥|cheap|discount|deal|on sale|expensive",
        re.I,
    ),
    "stock": re.compile(
        r"有货|没货|现货|库存|还有吗|还有没有|有没有货|卖完|售罄|断货|补货|缺货|剩|抢光|"
        r"in stock|out of stock|sold out|available|availability|left|restock|back in stock|"
        r"(?:do|does) (?:you|they) (?:still )?(?:have|sell|carry)|still have|you got",
        re.I,
    ),
    # Case-sensitive on purpose: a lone S, M or L is a size only in capitals ("有M码吗", "size M").
    "variants": re.compile(
        r"(?<![A-Za-z'])[SML](?![A-Za-z0-9'])|"
        r"(?i:尺码|尺寸|码数|(?<![a-z])(?:xxs|xs|xl|xxl|xxxl|[2-5]xl)(?![a-z])|[sml]码|大码|小码|颜色|色号|什么色|"
        r"规格|款式|口味|味道|容量|克装|"
        r"\bsizes?\b|colou?rs?|"
        r"flavou?rs?|variants?|options?|come in)"
    ),
    "shipping": re.compile(
        r"发货|包邮|邮费|运费|快递|物流|几天到|多久到|什么时候到|配送|顺丰|中通|圆通|韵达|偏远|"
        r"ship|shipping|deliver|delivery|courier|postage|arrive",
        re.I,
    ),
    "returns": re.compile(
        r"退货|退换|换货|无理由|退款|能退|可以退|包退|包换|退吗|"
        r"return|refund|exchange|money back",
        re.I,
    ),
    "warranty": re.compile(r"保修|质保|保固|坏了怎么办|售后|warranty|guarantee|repair", re.I),
    "payment": re.compile(
        r"付款|支付|花呗|分期|信用卡|微信支付|支付宝|pay|payment|installment|credit card", re.I
    ),
    "invoice": re.compile(r"发票|开票|invoice|receipt|vat", re.I),
    "service": re.compile(
        r"客服|人工|上班|营业时间|工作时间|联系方式|电话多少|customer service|opening hours|business hours|"
        r"contact (you|us)|support hours|speak to a (person|human)",
        re.I,
    ),
}


@dataclass(frozen=True, slots=True)
class AspectSet:
    """The aspects a question asks about, in a stable order; ``general`` when none matched."""

    aspects: tuple[Aspect, ...]

    def __contains__(self, aspect: object) -> bool:
        return aspect in self.aspects

    @property
    def policy(self) -> bool:
        """True when the question is about a shop policy rather than a product fact."""
        return any(
            a in self.aspects for a in ("shipping", "returns", "warranty", "payment", "invoice", "service")
        )


def detect_aspects(text: str) -> AspectSet:
    """Aspects of a (normalised) question."""
    found: list[Aspect] = [aspect for aspect, pattern in _PATTERNS.items() if pattern.search(text)]
    if "stock" not in found and "availability" in packaged_vocabulary().asked(text):
        # "还能买到吗", "can I still get one?": availability in any words (the aspect vocabulary's).
        found.append("stock")
    # "有XL吗" asks whether a size is available: a stock question about a variant.
    if (
        "variants" in found
        and "stock" not in found
        and re.search(r"有.{0,6}吗|还有|有没有|available|have", text, re.I)
    ):
        found.append("stock")
    if _FIT.search(text):
        # "尺码准吗", "run true to size": advice about fit is a spec, not a list of sizes.
        found = [a for a in found if a not in ("variants", "stock")] + ["spec"]
    if not found:
        found.append("spec" if _looks_like_spec(text) else "general")
    return AspectSet(tuple(dict.fromkeys(found)))


_FIT = re.compile(
    r"尺码准|码数准|偏大|偏小|正码|true to size|runs? (?:small|large|big)|size advice|fit (?:small|large)",
    re.I,
)


_SPEC = re.compile(
    r"材质|面料|成分|含|适合|适用|敏感肌|油皮|干皮|防水|续航|电池|充电|功率|重量|多重|多大|多长|保质期|产地|"
    r"净含量|尺寸|能不能|可以|是不是|有没有|会不会|吗|"
    r"material|fabric|made of|contain|suitable|fit|waterproof|battery|charge|charging|power|weight|weigh|"
    r"size of|dimension|shelf life|origin|does it|is it|can it|will it|\?",
    re.I,
)


def _looks_like_spec(text: str) -> bool:
    return bool(_SPEC.search(text))


# "是防晒吗", "这个是不是羽绒服", "是一款面霜吗"; "is it a hoodie?", "is this one a sunscreen" (with "a"/"an":
# "is the tea organic?" asks about a property).
_KIND_ZH = re.compile(
    r"是(?:不是)?(?:一款|一个|一件|一支|一瓶|个|款|件|支|瓶)?(?P<kind>[\u4e00-\u9fffA-Za-z]{1,8}?)(?:的)?"
    r"(?:吗|嘛|么|不|呀|啊|没)?[\s？?！!。~～]*$"
)
_KIND_EN = re.compile(
    r"\b(?:is|isn't|is not)\s+(?:(?:it|this|that|this one|that one|link\s*\d+)\s+)?(?:a|an)\s+"
    r"(?P<kind>[a-z][a-z -]{1,24}?)\s*[?!.]*$",
    re.I,
)


def asked_kind(question: str) -> str | None:
    """The kind of product a yes/no question asks the product to be ("2号是防晒吗" → "防晒",
    "is this a hoodie?" → "hoodie"), or None when it is not such a question."""
    text = question.strip()
    match = _KIND_EN.search(text) or _KIND_ZH.search(text)
    if match is None:
        return None
    kind = match.group("kind").strip(" -")
    return kind or None


def category_leaves(category: str) -> list[str]:
    """The parts of a category path, lower-cased ("美妆护肤/防晒" → ["美妆护肤", "防晒"]; "Apparel/Hoodies"
    → ["apparel", "hoodies"]); parts shorter than two characters are left out."""
    return [part.strip().lower() for part in re.split(r"[/>|,，、]", category) if len(part.strip()) >= 2]
