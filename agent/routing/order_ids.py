"""Finding order ids in a chat message.

An order id is either a long digit string (12–24 digits, the shape of Taobao/Douyin/JD order numbers) or
whatever follows an order keyword ("订单号", "单号", "order #", "order no.") when it holds letters and at
least four digits. Never an order id: a price ("¥199", "200元"), a mainland mobile number (11 digits
starting 1[3-9]), a tracking number ("快递单号 …", "tracking …"), an id-card or bank-card number named as
such.
"""

from __future__ import annotations

import re
import unicodedata

_KEYWORD = re.compile(
    r"(?P<kw>订单编号|订单号|订单|单号|(?<![a-z])order(?:\s*(?:#|no\.?|number|id|num))?(?![a-z]))\s*(?:[:#是为]\s*)?",
    re.IGNORECASE,
)
# A keyed id: letters and digits, or digits written in groups separated by single spaces or hyphens.
_KEYED_ID = re.compile(r"[a-z]{0,4}\d[\d-]*(?:\s\d{3,6})*[a-z0-9]*", re.IGNORECASE)
_BARE_DIGITS = re.compile(r"(?<![a-z0-9])\d{12,24}(?![a-z0-9])", re.IGNORECASE)
_MOBILE = re.compile(r"1[3-9]\d{9}")
_PRICE_AFTER = re.compile(r"\s*(元|块|圆|rmb|yuan|cny|usd|dollars?|¥|\$|%|斤|号链接|号|个|件)", re.IGNORECASE)
_PRICE_BEFORE = re.compile(r"[¥$￥]\s*$")
# Words that say the number next to them is something else than an order id.
_NOT_ORDER_BEFORE = re.compile(
    r"(快递|运|物流|包裹)单?号?|tracking|身份证|证件|电话|手机|phone|tel|mobile|卡号|账号|银行卡|税号|qq|微信|vx",
    re.IGNORECASE,
)
_LOOKBACK_CHARS = 12


def _clean(candidate: str) -> str:
    return re.sub(r"[\s-]", "", candidate)


def _plausible(order_id: str) -> bool:
    digits = sum(ch.isdigit() for ch in order_id)
    if digits < 4 or not 5 <= len(order_id) <= 30:
        return False
    return not (order_id.isdigit() and len(order_id) == 11 and _MOBILE.fullmatch(order_id))


def _named_as_something_else(text: str, start: int) -> bool:
    window = text[max(0, start - _LOOKBACK_CHARS) : start]
    return bool(_NOT_ORDER_BEFORE.search(window))


def _looks_like_price(text: str, start: int, end: int) -> bool:
    return bool(_PRICE_AFTER.match(text, end) or _PRICE_BEFORE.search(text[:start]))


def extract_order_ids(text: str) -> tuple[str, ...]:
    """Order ids in the order they appear, without duplicates.

    Args:
        text: A chat message, raw or normalised; full-width digits are folded first.

    Returns:
        The ids as written, minus separating spaces and hyphens ("8812 0033 4567 8890" → "8812003345678890").
    """
    folded = unicodedata.normalize("NFKC", text)
    found: list[str] = []

    for kw in _KEYWORD.finditer(folded):
        if kw.group("kw") in ("单号",) and _named_as_something_else(folded, kw.start()):
            continue
        match = _KEYED_ID.match(folded, kw.end())
        if match is None:
            continue
        candidate = _clean(match.group(0))
        if _plausible(candidate) and not _looks_like_price(folded, match.start(), match.end()):
            found.append(candidate)

    for match in _BARE_DIGITS.finditer(folded):
        candidate = match.group(0)
        if _named_as_something_else(folded, match.start()):
            continue
        if _looks_like_price(folded, match.start(), match.end()):
            continue
        found.append(candidate)

    return tuple(dict.fromkeys(found))
