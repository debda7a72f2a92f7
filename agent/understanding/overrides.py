"""The few documented rules that overrule or refine the intent model: each is certain and cheap.

- `asks_for_person`: an explicit request for a person ("转人工", "人工客服", "找真人", "talk to a human",
  "live agent", "representative") always hands off, whatever the model says. A question whether the shop
  *is* a person ("你是真人吗", "am I talking to a human?") is not one.
- `order_problem`: an order number together with a problem or after-sales word is an after-sales message.
- `refund_kind`: which ticket category a refund/return/exchange message names.
- `buying_signal`: "扣1", "已拍", "拍了" — a viewer saying they bought; counted by live-room triage.
"""

from __future__ import annotations

import re

from agent.understanding.intents import AfterSalesCategory

_PERSON_ZH = re.compile(
    r"(?:转|找|要|接|叫|呼叫|换|联系|求|给我|让)\s*(?:个|一个|你们的?)?\s*(?:人工|真人|活人|客服人员|真人客服|人工客服)"
    r"|人工客服|人工服务|^\s*人工\s*[?？!！。]*\s*$|^\s*(?:转)?人工(?:呢|啊|吧|!|！)"
)
_PERSON_EN = re.compile(
    r"\b(?:speak|talk|chat)\s+(?:to|with)\s+(?:a|an|some|your)?\s*(?:real\s+|actual\s+|live\s+)?"
    r"(?:human|person|agent|representative|rep|someone|somebody|staff|manager|supervisor)\b"
    r"|\b(?:live|human|real)\s+(?:agent|person|representative|support)\b"
    r"|\b(?:customer service|support)\s+(?:agent|representative|rep)\b"
    r"|^\s*(?:agent|human|representative|operator)\s*(?:please|pls|plz)?\s*[.!?]*\s*$"
    r"|\b(?:transfer|connect|put)\s+me\s+(?:to|through|with)\b",
    re.I,
)
# "你是真人吗" / "are you a real person" ask about the bot, not for a person.
_ASKS_WHETHER_PERSON = re.compile(
    r"(?:你|您|你们|这)(?:是|是不是)\s*(?:真人|人工|机器人|ai|机器)|是(?:真人|人工|机器人)(?:吗|嘛|么|还是)"
    r"|\b(?:are|r)\s+(?:you|u)\s+(?:a\s+)?(?:real|human|bot|robot|ai|person)\b|\bam i (?:talking|chatting) to\b",
    re.I,
)

_ORDER_PROBLEM = re.compile(
    r"没收到|没到|还没|不见|丢|坏|破|碎|漏|错|少|退|换|取消|改|投诉|催|怎么回事|什么情况|发票|扣款|扣了|"
    r"\b(?:missing|lost|broken|damaged|wrong|refund|return|cancel|change|where|late|never|still|"
    r"not (?:arrived|received|delivered)|charged|invoice|receipt|complain)",
    re.I,
)

_EXCHANGE = re.compile(r"换(?!个问题)|exchange|swap|replace(?:ment)?", re.I)
_REFUND = re.compile(r"退款|退钱|钱.{0,4}退|\brefund", re.I)
_RETURN_REQUEST = re.compile(
    r"退货|(?:want|like|need) to (?:return|send)|\breturn (?:it|this|them|the)\b", re.I
)
_RETURN = re.compile(r"退货|退回|寄回|退了?回去|\breturn|send (?:it )?back|ship (?:it )?back", re.I)

_BUYING_SIGNAL = re.compile(
    r"^\s*(?:扣\s*\d+|\d)\s*$|扣\s*[1１一]|已拍|拍了|已下单|下单了|冲冲冲|^\s*\+1\s*$|\bjust (?:bought|ordered)\b",
    re.I,
)


def asks_for_person(text: str) -> bool:
    """True for an explicit request to be handed to a person (not a question whether this is one)."""
    if _ASKS_WHETHER_PERSON.search(text) and not re.search(
        r"转|找|要|接|叫|transfer|speak|talk to", text, re.I
    ):
        return False
    return bool(_PERSON_ZH.search(text) or _PERSON_EN.search(text))


def order_problem(text: str, has_order_id: bool) -> bool:
    """An order number and a problem or after-sales word in the same message."""
    return has_order_id and bool(_ORDER_PROBLEM.search(text))


def refund_kind(text: str) -> AfterSalesCategory:
    """Exchange when an exchange is asked for; refund when the money is named ("where is my refund?
    I returned it"); return when goods go back; otherwise refund."""
    if _EXCHANGE.search(text):
        return "exchange"
    if _REFUND.search(text) and not _RETURN_REQUEST.search(text):
        return "refund"
    if _RETURN.search(text):
        return "return"
    return "refund"


def buying_signal(text: str) -> bool:
    return bool(_BUYING_SIGNAL.search(text))
