"""Cheap text checks for chat triage: adverts, abuse, nicknames, and the near-duplicate signature.

Everything here is a pure function over one string and runs in microseconds, because a busy room
offers thousands of messages a second. The router (`agent.router.classify`) already knows most adverts
and insults; the patterns here add what shows up in live-room chat and nicknames: contact ids written
out (WeChat, QQ), links, "加v", "私我领".
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass

from agent.focus import link_number
from agent.pii import find_pii
from agent.textnorm import fold

__all__ = [
    "NICKNAME_MAX_CHARS",
    "Signature",
    "is_abuse",
    "is_ad",
    "jaccard",
    "refers_to_screen",
    "sanitize_nickname",
    "signature",
    "speakable_nickname",
]

NICKNAME_MAX_CHARS = 16

_AD = re.compile(
    r"(?:微信|薇信|威信|v信|vx|wx|weixin|wechat)\s*(?:号|id)?\s*[:：]?\s*[a-z][-_a-z0-9]{5,19}"
    r"|(?:qq|扣扣|企鹅)\s*(?:号|群)?\s*[:：]?\s*[1-9][0-9]{4,11}"
    r"|https?://|w{2,}\.|[a-z0-9-]+\.(?:com|cn|net|top|xyz|vip|cc|shop)\b"
    r"|加\s*(?:我\s*)?(?:v|vx|wx|微|q\b|薇|威)"
    r"|私(?:我|信|聊)\s*(?:领|送|拿|免费|有)"
    r"|领福利|免费送|返现|刷单|兼职|日结|稳赚|代理招募|招代理"
    r"|(?:t\.me|telegram|whatsapp)",
)

_ABUSE = re.compile(
    r"傻[逼比x×b叉]|煞笔|(?<![a-z])sb(?![a-z])|智障|脑残|骗子主播|主播骗子|狗东西|贱人|去死|滚[开蛋吧]|^滚"
    r"|你妈|尼玛|操你|废物|垃圾主播|垃圾直播|割韭菜"
    r"|\b(?:fuck\w*|shit\w*|bitch\w*|idiot|stfu|scammer)\b",
)

_TAG = re.compile(r"<[^>]{0,200}>")
_SPACES = re.compile(r"\s+")

_FILLER = re.compile(
    r"主播|请问|问下|问一下|姐姐|宝宝|家人们|老师|亲|[啊呀呢哦吧嘛哈噢诶哇的了]|[\s，。！？、,.!?~～…:：;；\"'“”()（）]"
)
_LINK_REF = re.compile(
    r"\d{1,3}\s*号(?:链接|连接|宝贝|商品|(?!码))|(?:链接|连接)\s*\d{1,3}|\blink\s*(?:no\.?|number|#)?\s*\d{1,3}|#\s*\d{1,3}\b|\bno\.\s*\d{1,3}\b",
    re.I,
)
_DEICTIC = re.compile(
    r"这个|这款|这件|这条|这双|这套|这瓶|这盒|这只|这台|身上|手上|\b(?:this|it|this one)\b", re.I
)


def _folded(text: str) -> str:
    return fold(text, lower=True, simplify=True).text


def is_ad(text: str, *, normalized: bool = False) -> bool:
    """True for contact ids, links and giveaway bait ("加微信领福利", "vx: abc123", "www.x.com").

    `normalized=True` says `text` already went through `normalize_message` (half-width, simplified),
    which saves folding it again on the hot path.
    """
    return bool(_AD.search(text.lower() if normalized else _folded(text)))


def is_abuse(text: str, *, normalized: bool = False) -> bool:
    """True for insults aimed at the host or other viewers (see `is_ad` for `normalized`)."""
    return bool(_ABUSE.search(text.lower() if normalized else _folded(text)))


def sanitize_nickname(nickname: str, *, max_chars: int = NICKNAME_MAX_CHARS, fallback: str = "观众") -> str:
    """A nickname fit for display: entities decoded, tags and control characters removed, truncated.

    Nicknames are data from strangers: HTML, 200-character names, zero-width and control characters
    all occur. The result is plain text (the page escapes it again when it renders it).
    """
    text = html.unescape(nickname[: max_chars * 16])
    text = _TAG.sub("", text)
    text = "".join(
        " " if ch in "\t\n\r" else ch
        for ch in text
        if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co") or ch in "\t\n\r"
    )
    text = text.replace("<", "").replace(">", "")
    text = _SPACES.sub(" ", text).strip()
    if not text:
        return fallback
    if len(text) > max_chars:
        text = text[: max_chars - 1].rstrip() + "…"
    return text


def speakable_nickname(nickname: str, *, fallback: str) -> str:
    """The nickname to read out, or `fallback` when saying it would advertise, insult or leak data."""
    if nickname == "" or is_ad(nickname) or is_abuse(nickname) or find_pii(nickname):
        return fallback
    return nickname


@dataclass(frozen=True, slots=True)
class Signature:
    """What near-duplicate detection compares: the link asked about and the character bigrams."""

    link: int | None
    grams: frozenset[str]


def signature(normalized: str) -> Signature:
    """The dedupe signature of a normalised message.

    The link reference ("3号链接", "link 3") is taken out of the text and kept as a number, politeness and
    particles ("主播", "请问", "啊", "呢") and punctuation are dropped, and the rest becomes a set of
    character bigrams (single characters when only one is left). "3号链接多少钱啊" and "主播3号多少钱？"
    get the same signature.
    """
    lowered = normalized.lower()
    link = link_number(lowered, in_room=True)
    core = _FILLER.sub("", _LINK_REF.sub("", lowered))
    if len(core) < 2:
        grams = frozenset(core) if core else frozenset()
    else:
        grams = frozenset(core[i : i + 2] for i in range(len(core) - 1))
    return Signature(link, grams)


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard similarity of two sets; two empty sets are identical."""
    if not a and not b:
        return 1.0
    inter = len(a & b)
    if inter == 0:
        return 0.0
    return inter / (len(a) + len(b) - inter)


def refers_to_screen(normalized: str, sig: Signature) -> bool:
    """True when a question with no link number is about the product on screen.

    "多少钱", "有XL吗", "这个起球吗", "还有货吗": a deictic word, or a short question with nothing left to
    name another product (at most five characters after particles are removed).
    """
    if sig.link is not None:
        return False
    if _DEICTIC.search(normalized):
        return True
    return len(sig.grams) <= 4
