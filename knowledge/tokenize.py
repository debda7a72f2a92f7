"""Tokens for lexical search: Chinese cut by jieba, latin words, model numbers and digits kept whole.

The same function tokenises passages and questions, so "PB-20000" in a question meets "pb-20000" in a
title, and "破壁机" meets "破壁机". Text is NFKC-normalised first (full-width → half-width) and
lower-cased. Function words of both languages are dropped; product words are kept.

jieba loads its dictionary (about a second) on first use, or in `warm_up()`. Its cache file goes to the
system temp directory (or the directory given to `warm_up`), never the working directory.
"""

from __future__ import annotations

import itertools
import logging
import re
import threading
import unicodedata
from pathlib import Path
from typing import Any, Literal

#: Bumped whenever the tokens produced for a text change; cached tokens are keyed by it.
TOKENIZER_VERSION = "1"

Script = Literal["zh", "en", "mixed", "none"]

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUN_RE = re.compile(rf"[{_CJK}]+|[a-z0-9]+(?:[-_./+][a-z0-9]+)*")
_CJK_RE = re.compile(rf"[{_CJK}]")
_LATIN_RE = re.compile(r"[a-z]")
_ALNUM_SPLIT_RE = re.compile(r"[a-z]+|[0-9]+(?:\.[0-9]+)?")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: Words that carry no product meaning in a shopper's question or a product text.
ZH_STOPWORDS: frozenset[str] = _words(
    """
    的 了 吗 呢 啊 吧 呀 哦 嘛 么 哈 嗯 呗 啦 喔 哇 得 地 着 过 和 与
    及 或 也 都 就 还 又 很 太 更 最 是 在 有 没 没有 有没有 有无 是不是
    是否 能 能不能 可以 可不可以 会 要 想 想要 请问 请 问 一下 下 我 我们 你
    你们 您 他 她 它 他们 这 那 这个 那个 这款 那款 这种 那种 这些 那些 哪
    哪个 哪些 哪款 什么 怎么 怎么样 怎样 如何 多少 多少钱 几 个 款 一 一个
    一款 给 对 把 被 让 从 到 为 为了 用 跟 比 吧 钱 主播 亲 宝宝 家人
    家人们 老铁 谢谢 好的 好 呀 么 啥 咋 么样 现在 今天
    """
)
EN_STOPWORDS: frozenset[str] = _words(
    """
    a an the is are was were be been being am do does did doing done have has had having can
    could will would shall should may might must i me my mine we us our you your yours he him
    his she her it its they them their this that these those there here what which who whom
    whose how when where why of for to in on at by with from into onto about as and or but if
    so than then too very just also any some much many more most please hi hello hey thanks
    thank yes no not dont doesnt don t ll ve re d come comes get got tell know want need like
    one ones item product thing
    """
)
_STOPWORDS = ZH_STOPWORDS | EN_STOPWORDS

_lock = threading.Lock()
_jieba: Any = None


def warm_up(cache_dir: Path | None = None) -> None:
    """Load jieba's dictionary now (about a second) instead of on the first tokenisation.

    Args:
        cache_dir: where jieba keeps its dictionary cache; the system temp directory when None.
    """
    _segmenter(cache_dir)


def _segmenter(cache_dir: Path | None = None) -> Any:
    global _jieba
    if _jieba is not None:
        return _jieba
    with _lock:
        if _jieba is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            segmenter = jieba.Tokenizer()
            if cache_dir is not None:
                cache_dir.mkdir(parents=True, exist_ok=True)
                segmenter.tmp_dir = str(cache_dir)
            segmenter.initialize()
            _jieba = segmenter
    return _jieba


def chinese_words(text: str) -> list[str]:
    """``text`` cut into words by jieba, in order, nothing dropped ("加绒卫衣" → 加绒, 卫衣)."""
    return [w for w in _segmenter().cut(text, HMM=True) if w]


def normalize(text: str) -> str:
    """NFKC (full-width → half-width, compatibility forms) and lower case."""
    return unicodedata.normalize("NFKC", text).lower()


def _latin_tokens(run: str) -> list[str]:
    """A latin/digit run and its longer parts: "pb-20000" → pb-20000, pb20000, pb, 20000."""
    out = [run]
    parts = _ALNUM_SPLIT_RE.findall(run)
    if len(parts) > 1:
        joined = "".join(re.split(r"[-_./+]", run))
        if joined != run:
            out.append(joined)
        # Single characters ("x" of "x3", "5" of "ipx5") match too much to help.
        out.extend(part for part in parts if len(part) > 1)
    return out


def _with_char_bigrams(pieces: list[str]) -> list[str]:
    """jieba's pieces minus stopwords, plus bigrams over runs of single characters.

    A word missing from jieba's dictionary (卫衣, 破壁机) falls into single characters; the bigrams of
    such a run ("连帽卫衣" → 连帽 帽卫 卫衣) let the question's "卫衣" meet it. Runs break at stopwords.
    """
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        out.extend(a + b for a, b in itertools.pairwise(run))
        run.clear()

    for piece in pieces:
        if piece in _STOPWORDS:
            flush()
            continue
        out.append(piece)
        if len(piece) == 1:
            run.append(piece)
        else:
            flush()
    flush()
    return out


def tokenize(text: str) -> list[str]:
    """Lexical tokens of `text`, stopwords removed, order kept (duplicates kept for term frequency)."""
    norm = normalize(text)
    tokens: list[str] = []
    cutter = None
    for match in _RUN_RE.finditer(norm):
        run = match.group()
        if _CJK_RE.match(run):
            if cutter is None:
                cutter = _segmenter()
            # Without HMM an unknown word falls into single characters the same way in question and
            # passage, instead of into guessed words that differ with the context.
            pieces = cutter.cut_for_search(run, HMM=False) if len(run) > 1 else [run]
            tokens.extend(_with_char_bigrams(pieces))
        else:
            tokens.extend(t for t in _latin_tokens(run) if t not in _STOPWORDS)
    return tokens


def script_of(text: str) -> Script:
    """Which script a text is mostly written in: "zh" (Chinese), "en" (latin), "mixed" or "none"."""
    norm = normalize(text)
    cjk = len(_CJK_RE.findall(norm))
    latin = len(_LATIN_RE.findall(norm))
    if cjk == 0 and latin == 0:
        return "none"
    # A Chinese character carries about as much as a short latin word: weigh them 3:1.
    cjk_weight = cjk * 3
    if cjk_weight >= 2 * latin:
        return "zh"
    if latin >= 2 * cjk_weight:
        return "en"
    return "mixed"


def is_cjk(token: str) -> bool:
    """True when the token is Chinese (starts with a CJK character)."""
    return bool(_CJK_RE.match(token))
