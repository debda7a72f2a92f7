"""Personal data in chat: find it, redact it for public channels, and pull order ids out for tickets.

Kinds: mainland mobile numbers, landlines, ID-card numbers (18-digit with a valid checksum; 15-digit
only after "身份证"), order ids (after "订单号"/"order #", or any bare run of 12–24 digits), e-mail
addresses, bank-card numbers (Luhn-valid, written in groups of four or after "卡号"/"card"), street
addresses (Chinese admin units + road/building numbers; English "123 Main St"), and names only where
the person introduces them ("我叫张三", "my name is Anna"). Prices, sizes, dates, model numbers and link
numbers ("3号链接") are not personal data and are left alone.

Detection runs on the NFKC-folded text (full-width digits count) and reports spans of the original.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from agent.textnorm import Folded, Language, detect_language, fold

PiiKind = Literal["phone", "landline", "id_card", "order_id", "email", "bank_card", "address", "name"]


@dataclass(frozen=True, slots=True)
class PiiSpan:
    """One piece of personal data: its kind, its span in the original text, and the text itself."""

    kind: PiiKind
    start: int
    end: int
    value: str


PLACEHOLDERS: dict[Language, dict[PiiKind, str]] = {
    "zh": {
        "phone": "[手机号]",
        "landline": "[电话]",
        "id_card": "[身份证号]",
        "order_id": "[订单号]",
        "email": "[邮箱]",
        "bank_card": "[银行卡号]",
        "address": "[地址]",
        "name": "[姓名]",
    },
    "en": {
        "phone": "[phone]",
        "landline": "[phone]",
        "id_card": "[id number]",
        "order_id": "[order id]",
        "email": "[email]",
        "bank_card": "[card number]",
        "address": "[address]",
        "name": "[name]",
    },
}

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![A-Za-z0-9])")
_ORDER_PREFIXED = re.compile(
    r"(?:订单编号|订单号码|订单号|订单|单号|(?i:order)\s*(?:(?i:id|number|no)\.?|#)?)"
    r"\s*(?:是|为|:|：|#)?\s*"
    r"(?P<value>(?=[A-Za-z0-9-]*[0-9])[A-Za-z0-9][A-Za-z0-9-]{5,39})(?![A-Za-z0-9])"
)
_ID18 = re.compile(
    r"(?<![0-9A-Za-z])[1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
    r"[0-9]{3}[0-9Xx](?![0-9A-Za-z])"
)
_ID15 = re.compile(
    r"(?:身份证(?:号码|号)?|(?i:id\s*(?:card)?\s*(?:no\.?|number|#)?))\s*(?:是|为|:|：)?\s*"
    r"(?P<value>[1-9][0-9]{5}[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3})(?![0-9])"
)
_PHONE = re.compile(r"(?<![0-9+])(?:(?:\+|00)?86[\s-]?)?1[3-9][0-9](?:[\s-]?[0-9]{4}){2}(?![0-9])")
_LANDLINE = re.compile(
    r"(?<![0-9])(?<![0-9][\s-])(?:\(0[0-9]{2,3}\)\s?|0[0-9]{2,3}[\s-]?)[0-9]{3,4}[\s-]?[0-9]{4}(?![0-9])"
)
_CARD_GROUPED = re.compile(r"(?<![0-9])[0-9]{4}(?:[\s-][0-9]{4}){3}(?:[\s-]?[0-9]{1,3})?(?![0-9])")
_DIGITS_LONG = re.compile(r"(?<![0-9A-Za-z.,¥$])[0-9]{12,24}(?![0-9A-Za-z.]|\s*(?:元|块|rmb|RMB|yuan))")
_CARD_CONTEXT = re.compile(r"卡号|银行卡|信用卡|储蓄卡|借记卡|(?i:card)")

_CJK = r"\u4e00-\u9fff"
_ADMIN = rf"(?:[{_CJK}]{{1,4}}?(?:省|自治区|特别行政区|市|自治州|地区|区|县|旗|镇|乡|街道))"
# A road or estate name never spans an admin unit: "杭州市西湖区文三路" is admin, admin, road.
_NAME_CHAR = rf"(?:(?![省市区县镇乡])[{_CJK}0-9A-Za-z])"
_ROAD = rf"(?:{_NAME_CHAR}{{1,12}}?(?:大道|路|街|巷|弄|胡同))"
_PLACE = rf"(?:{_NAME_CHAR}{{1,12}}?(?:小区|花园|公寓|大厦|大楼|大院|公馆|苑|新村|村|家园|广场|中心|园区|城))"
_UNIT = (
    r"(?:[\s-]?[0-9A-Za-z一二三四五六七八九十零]{1,6}"
    r"(?:号楼|号院|号|栋|幢|座|单元|室|楼|层|弄|巷|期|排|门)(?!链))"
)
_ADDRESS_ZH = re.compile(rf"{_ADMIN}*(?:{_ROAD}{_UNIT}+(?:{_PLACE}?{_UNIT}*)|{_PLACE}{_UNIT}+)")
# Words that lead into an address ("我的地址是", "寄到") and are not part of it.
_ADDRESS_LEAD = re.compile(
    r"^.*?(?:收货地址|地址|住址|寄到|送到|发到|邮到|寄往|发往|送往|住在)(?:是|为|:|：)?"
)
_ADDRESS_STRIP = "我你他她在是的到住寄送发收货地址为了呢啊吧就把给帮请:：,， "
_ADDRESS_EN = re.compile(
    r"(?<![0-9A-Za-z])[0-9]{1,6}\s+(?:[A-Z][A-Za-z]+\s+){1,4}"
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Way|Court|Ct|Place|Pl|Terrace|"
    r"Parkway|Pkwy|Highway|Hwy)\b\.?"
    r"(?:,?\s*(?:Apt|Apartment|Suite|Ste|Unit|#)\.?\s*[A-Za-z0-9-]+)?"
)

_SURNAMES = (
    "欧阳|司马|上官|诸葛|东方|慕容|令狐|皇甫|长孙|宇文|司徒|夏侯|"
    "[王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
    "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔"
    "向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌"
    "毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦"
    "麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩"
    "明佘池查麻苑迟邝小阿老]"
)
_NAME_STOP = (
    r"想|要|的|呀|啊|哦|吗|呢|问|请|今年|来自|是|在|电话|手机|谢谢|下单|买|订|收|住|啦|哈|嗯|我|地址|"
    r"身份证|订单|，|,|。|！|!|？|\?|\s|$"
)
_NAME_ZH = re.compile(
    r"(?:我叫|我的名字是|我的名字叫|名字叫|名字是|姓名(?:是|:|：)?|收件人(?:是|:|：)?|收货人(?:是|:|：)?|"
    r"联系人(?:是|:|：)?)\s*"
    rf"(?P<value>(?:{_SURNAMES})[{_CJK}]{{1,2}}?)(?={_NAME_STOP})"
)
_NAME_EN = re.compile(
    r"(?i:my\s+name\s+is|my\s+name['’]s|name\s*:)\s*"
    r"(?!(?i:on|in|not|the|a|an|also|still|wrong|missing|spelled|written|listed)\b)"
    r"(?P<value>[A-Za-z][a-z]+(?:\s+[A-Z][a-z]+)?)"
)

# Higher priority wins an overlap (an e-mail's digits are not an order id).
_PRIORITY: dict[PiiKind, int] = {
    "email": 0,
    "order_id": 1,
    "id_card": 2,
    "bank_card": 3,
    "phone": 4,
    "landline": 5,
    "address": 7,
    "name": 8,
}


def id_card_checksum_ok(number: str) -> bool:
    """Whether an 18-character mainland ID number has a valid ISO 7064 MOD 11-2 check character."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(number[:17], weights, strict=True))
    return "10X98765432"[total % 11] == number[17].upper()


def luhn_ok(digits: str) -> bool:
    """Whether a digit string passes the Luhn check used by bank cards."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


_Raw = tuple[PiiKind, int, int, int]  # kind, start, end, priority bonus (lower wins among equals)


def _address_start(text: str, start: int, end: int) -> int:
    lead = _ADDRESS_LEAD.match(text, start, end)
    if lead is not None:
        start = lead.end()
    while start < end and text[start] in _ADDRESS_STRIP:
        start += 1
    return start


def _raw_spans(text: str) -> Iterator[_Raw]:
    for m in _EMAIL.finditer(text):
        yield "email", m.start(), m.end(), 0
    for m in _ORDER_PREFIXED.finditer(text):
        yield "order_id", m.start("value"), m.end("value"), 0
    for m in _ID18.finditer(text):
        if id_card_checksum_ok(m.group()):
            yield "id_card", m.start(), m.end(), 0
    for m in _ID15.finditer(text):
        yield "id_card", m.start("value"), m.end("value"), 0
    for m in _CARD_GROUPED.finditer(text):
        if 16 <= len(_digits(m.group())) <= 19 and luhn_ok(_digits(m.group())):
            yield "bank_card", m.start(), m.end(), 0
        else:
            yield "order_id", m.start(), m.end(), 1
    for m in _PHONE.finditer(text):
        yield "phone", m.start(), m.end(), 0
    for m in _LANDLINE.finditer(text):
        yield "landline", m.start(), m.end(), 0
    for m in _DIGITS_LONG.finditer(text):
        value = m.group()
        context = text[max(0, m.start() - 12) : m.start()]
        if 16 <= len(value) <= 19 and luhn_ok(value) and _CARD_CONTEXT.search(context):
            yield "bank_card", m.start(), m.end(), 0
        else:
            yield "order_id", m.start(), m.end(), 1  # a bare number yields to every specific kind
    for m in _ADDRESS_ZH.finditer(text):
        start = _address_start(text, m.start(), m.end())
        if m.end() - start >= 4:
            yield "address", start, m.end(), 0
    for m in _ADDRESS_EN.finditer(text):
        yield "address", m.start(), m.end(), 0
    for m in _NAME_ZH.finditer(text):
        yield "name", m.start("value"), m.end("value"), 0
    for m in _NAME_EN.finditer(text):
        yield "name", m.start("value"), m.end("value"), 0


def _rank(raw: _Raw) -> tuple[int, int, int, int]:
    kind, start, end, bonus = raw
    priority = 6 if bonus else _PRIORITY[kind]
    return priority, start - end, start, 0


def find_pii(text: str) -> list[PiiSpan]:
    """All personal data in `text`, in text order, without overlaps."""
    folded: Folded = fold(text, lower=False, simplify=False)
    taken = bytearray(len(folded.text))
    chosen: list[_Raw] = []
    for raw in sorted(_raw_spans(folded.text), key=_rank):
        _, start, end, _ = raw
        if start >= end or any(taken[start:end]):
            continue
        taken[start:end] = b"\1" * (end - start)
        chosen.append(raw)
    spans: list[PiiSpan] = []
    for kind, start, end, _ in sorted(chosen, key=lambda r: r[1]):
        a, b = folded.span(start, end)
        spans.append(PiiSpan(kind, a, b, text[a:b]))
    return spans


def redact(
    text: str,
    *,
    placeholder: Callable[[PiiKind], str] | None = None,
    language: Language | None = None,
) -> str:
    """Replace every piece of personal data with a placeholder.

    Args:
        text: the text to show or speak publicly.
        placeholder: maps a kind to its replacement; by default "[手机号]", "[订单号]" … for Chinese
            text and "[phone]", "[order id]" … for English.
        language: which default placeholders to use; detected from `text` when None.
    """
    spans = find_pii(text)
    if not spans:
        return text
    if placeholder is None:
        labels = PLACEHOLDERS[language or detect_language(text)]

        def placeholder(kind: PiiKind) -> str:
            return labels[kind]

    out = text
    for span in reversed(spans):
        out = out[: span.start] + placeholder(span.kind) + out[span.end :]
    return out


def extract_order_ids(text: str) -> list[str]:
    """The order ids in `text` (half-width, without spaces), first occurrence first, no duplicates."""
    seen: dict[str, None] = {}
    for span in find_pii(text):
        if span.kind == "order_id":
            value = fold(span.value, lower=False, simplify=False).text.replace(" ", "")
            seen.setdefault(value, None)
    return list(seen)


__all__ = [
    "PLACEHOLDERS",
    "PiiKind",
    "PiiSpan",
    "extract_order_ids",
    "find_pii",
    "id_card_checksum_ok",
    "luhn_ok",
    "redact",
]
