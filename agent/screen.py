"""Screening of incoming messages: prompt-injection markers and message limits.

Injection never changes a fact (facts come from the store), but a flagged message is answered by the
template writer only, and the flag is reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_INJECTION = re.compile(
    r"忽略(?:之前|以上|前面|上面|所有)?的?(?:指令|指示|提示|规则|设定|要求)|无视(?:之前|以上)?的?(?:指令|规则)|"
    r"(?:你现在|从现在起你)(?:是|扮演)|扮演(?:一个|一名)|系统提示|提示词|越狱|开发者模式|"
    r"(?:就)?说(?:这个|它|价格)?(?:只要|只卖|是)\s*[0-9一二三四五六七八九十]+\s*(?:元|块)|"
    r"ignore (?:all |any )?(?:the )?(?:previous|prior|above|earlier) (?:instructions|prompts|rules)|"
    r"disregard (?:all |the )?(?:previous|prior|above) |system prompt|you are now|pretend (?:to be|you are)|"
    r"act as (?:a|an|my)|jailbreak|developer mode|say (?:that )?(?:it'?s|it is|the price is) (?:only )?\$?\d|"
    # Claimed authority: a chat message cannot come from the shop's staff ("as the store admin I authorize…").
    r"\bas (?:the|your) (?:store |shop )(?:admin(?:istrator)?|owner|manager|staff|supervisor)\b|"
    r"\bas (?:the|your) admin(?:istrator)?\b|"
    r"\bI(?:'m| am) (?:the|your) (?:store |shop )(?:admin(?:istrator)?|owner|manager|supervisor)\b|"
    r"\bI(?:'m| am) (?:the|your) (?:admin(?:istrator)?|owner|manager) (?:of|for|at) (?:this|the|your) (?:store|shop)\b|"
    r"\b(?:system|admin)\s*:|我是(?:你们|这家店|本店|贵店)?的?(?:店长|管理员|店主|客服主管)|我是(?:你们|这家店|本店)的?老板(?!娘)|(?:管理员|系统)(?:指令|命令)",
    re.I,
)


@dataclass(frozen=True, slots=True)
class Screening:
    injection: bool
    markers: tuple[str, ...]


def screen(text: str) -> Screening:
    markers = tuple(m.group(0) for m in _INJECTION.finditer(text))
    return Screening(injection=bool(markers), markers=markers)
