"""Noisy copies of training messages, the way people really type: pinyin and abbreviations for common
words, dropped or swapped letters, no punctuation or only "???", an order number or a phone number
inside, a chat opener. Seeded: the same examples give the same copies.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from agent.understanding.intents import AFTER_SALES_INTENTS, INTENTS

if TYPE_CHECKING:
    from agent.understanding.train import Example

# Word → what people type instead (pinyin, initials, homophones, platform slang).
_ZH_SWAPS: dict[str, tuple[str, ...]] = {
    "退款": ("退kuan", "tk", "退钱", "tui款"),
    "退货": ("退huo", "th", "tui货"),
    "快递": ("kd", "快第", "快滴"),
    "发货": ("发huo", "fh", "fa货"),
    "客服": ("kf", "客fu"),
    "物流": ("wl", "物liu"),
    "淘宝": ("tb", "某宝"),
    "京东": ("jd", "某东"),
    "什么": ("啥", "sm", "神马"),
    "怎么": ("咋", "zm", "肿么"),
    "没有": ("木有", "mei有", "没"),
    "谢谢": ("xx", "3q", "谢啦"),
    "收到": ("收dao", "到手"),
    "订单": ("单子", "dd"),
    "地址": ("di址", "地zhi"),
    "发票": ("fp", "发piao"),
    "取消": ("qx", "取xiao"),
    "投诉": ("ts", "tou诉"),
    "人工": ("真人", "rg"),
    "知道": ("zd", "造"),
    "可以": ("ky", "阔以"),
    "东西": ("dx", "宝贝"),
    "这个": ("这款", "zg"),
    "喜欢": ("稀饭",),
}
_EN_SWAPS: dict[str, tuple[str, ...]] = {
    "please": ("pls", "plz"),
    "you": ("u",),
    "your": ("ur", "you're"),
    "thanks": ("thx", "ty"),
    "order": ("oder", "ordr"),
    "received": ("recieved", "recived"),
    "receive": ("recieve",),
    "address": ("adress", "addres"),
    "cancel": ("cancle", "cancell"),
    "package": ("pakage", "pkg"),
    "refund": ("refnd", "refound"),
    "because": ("bc", "cuz"),
    "are": ("r",),
    "really": ("rly",),
    "right now": ("asap", "rn"),
    "tomorrow": ("tmrw",),
    "what": ("wat", "wht"),
    "where": ("wher", "were"),
}
_OPENERS_ZH = ("亲 ", "在吗 ", "你好 ", "宝 ", "喂 ", "客服 ", "老板 ", "家人们 ")
_OPENERS_EN = ("hi ", "hello ", "hey ", "excuse me ", "um ", "yo ")
_TAILS = ("???", "!!", " 😡", " 🙏", " 😭", "。。。", " ...", "?")
_PUNCT = re.compile(r"[,.!?;:，。！？；：、~～]+")


def _swap_words(text: str, rng: random.Random) -> str:
    table = _ZH_SWAPS if re.search(r"[\u4e00-\u9fff]", text) else _EN_SWAPS
    out = text
    for word, options in table.items():
        if word in out.lower() and rng.random() < 0.6:
            out = re.sub(re.escape(word), rng.choice(options), out, count=1, flags=re.I)
    return out


def _typo(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    latin = [i for i, w in enumerate(words) if len(w) >= 4 and w.isascii() and w.isalpha()]
    if not latin:
        return text
    i = rng.choice(latin)
    w = words[i]
    j = rng.randrange(1, len(w) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        w = w[:j] + w[j + 1 :]
    elif kind == 1:
        w = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    else:
        w = w[:j] + w[j] + w[j:]
    words[i] = w
    return " ".join(words)


def _no_punctuation(text: str, rng: random.Random) -> str:
    return _PUNCT.sub(" ", text).strip()


def _order_number(text: str, rng: random.Random) -> str:
    digits = str(rng.randrange(10**15, 10**19))
    if re.search(r"[\u4e00-\u9fff]", text):
        return rng.choice((f"订单号{digits} {text}", f"{text} 单号{digits}", f"{text} {digits}"))
    return rng.choice((f"order {digits} {text}", f"{text} order #{digits}", f"{text} {digits}"))


def _opener(text: str, rng: random.Random) -> str:
    zh = bool(re.search(r"[\u4e00-\u9fff]", text))
    return rng.choice(_OPENERS_ZH if zh else _OPENERS_EN) + text


def _tail(text: str, rng: random.Random) -> str:
    return text.rstrip("?？!！。.") + rng.choice(_TAILS)


def _lower(text: str, rng: random.Random) -> str:
    return text.lower() if rng.random() < 0.5 else text.upper()


_NOISES: tuple[Callable[[str, random.Random], str], ...] = (
    _swap_words,
    _swap_words,
    _typo,
    _no_punctuation,
    _order_number,
    _opener,
    _tail,
    _lower,
)
# An order number turns a question into an order's problem; only messages about an order get one.
_ORDER_FREE = frozenset(INTENTS) - AFTER_SALES_INTENTS


def augment(examples: Sequence[Example], *, copies: int = 1, seed: int = 7) -> list[Example]:
    """`copies` noisy variants of each example (two noises each), skipping ones identical to a source."""
    from agent.understanding.train import Example

    rng = random.Random(seed)
    seen = {e.text for e in examples}
    out: list[Example] = []
    for example in examples:
        for _ in range(copies):
            noises = [n for n in _NOISES if not (n is _order_number and example.intent in _ORDER_FREE)]
            text = example.text
            for noise in rng.sample(noises, 2):
                text = noise(text, rng)
            text = text.strip()
            if text and text not in seen:
                seen.add(text)
                out.append(
                    Example(text, example.intent, example.lang, example.channel, source=f"{example.source}~")
                )
    return out
