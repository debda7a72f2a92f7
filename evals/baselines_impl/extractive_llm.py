"""The stand-in model behind the LangChain baseline: a deterministic *extractive* reader of its prompt.

It is NOT a language model and its answers say nothing about a real model's quality. It plays the part
a small instruction-following model approximates with a "stuff" prompt, by fixed rules applied to the
chat-completions request it receives (and nothing else):

1. The question is the last user message; the documents are the system message's text after
   ``Context:``, split at blank lines (how the stuff chain joins them).
2. A price question (多少钱 / 价格 / how much / price / cost …) is answered with the first sentence of
   the context that states a price (a number with ¥ / $ / 元 / USD …), verbatim.
3. Otherwise the answer is, verbatim, the sentence sharing the most content words with the question
   (Chinese character pairs, latin words; question words dropped) in the first retrieved document
   that shares any; ties go to the earlier sentence.
4. When no sentence of any document shares a content word, it says it does not know (in the
   question's language).

`extractive_reply` is the script for `evals.fakes.FakeOpenAIServer`; the server adds the fixed time to
first token and per-token delay the benchmark configures.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from evals.baselines_impl.common import is_cjk
from evals.fakes import Reply

#: Where the stuffed documents start in the system message (the baseline's prompt puts them there).
CONTEXT_MARKER = "Context:"
REFUSAL_ZH = "抱歉，资料里没有这个问题的答案，我不知道。"
REFUSAL_EN = "Sorry, I don't know: the context does not answer that."

#: The rules in one line, for reports.
BEHAVIOUR = (
    "deterministic extractive stand-in, not an LLM: price questions get the first context sentence "
    "stating a price; other questions the sentence sharing the most content words with the question in "
    "the first retrieved document that shares any; no shared word anywhere: 'I don't know'"
)

_PRICE_WORDS = ("多少钱", "价格", "价钱", "几块", "什么价", "多钱", "how much", "price", "cost")
_PRICE_RE = re.compile(r"[¥￥$]\s?\d|\d(?:[\d.,]*)\s?(?:元|块|美元|usd|cny|rmb)", re.IGNORECASE)
_SENTENCE_RE = re.compile(r"(?<=[。！？!?；;\n])|(?<=\.)\s+")
_CJK_RUN_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_LATIN_RE = re.compile(r"[a-z0-9]+")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_ZH_QUESTION_PAIRS = _words(
    "什么 怎么 多少 有没 没有 可以 是不 不是 请问 一下 这个 那个 这款 那款 能不 不能 哪些 哪个 现在"
)
_EN_QUESTION_WORDS = _words(
    """a an the is are was be do does did can could will would what which who how when where why of
    for to in on at by with and or it its this that these those there i me my you your we our any
    have has please tell about me"""
)


def content_words(text: str) -> set[str]:
    """Chinese character pairs and latin words (two or more characters), question words dropped."""
    folded = text.lower()
    words = {w for w in _LATIN_RE.findall(folded) if len(w) >= 2 and w not in _EN_QUESTION_WORDS}
    for run in _CJK_RUN_RE.findall(folded):
        pairs = {run[i : i + 2] for i in range(len(run) - 1)} if len(run) > 1 else {run}
        words |= pairs - _ZH_QUESTION_PAIRS
    return words


def sentences(document: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_RE.split(document) if s.strip()]


def is_price_question(question: str) -> bool:
    folded = question.lower()
    return any(word in folded for word in _PRICE_WORDS)


def extractive_answer(question: str, documents: Sequence[str]) -> str:
    """The stand-in's answer to `question` given the stuffed `documents` (rules in the module docstring)."""
    if is_price_question(question):
        for document in documents:
            for sentence in sentences(document):
                if _PRICE_RE.search(sentence):
                    return sentence
    wanted = content_words(question)
    for document in documents:
        best, best_overlap = "", 0
        for sentence in sentences(document):
            overlap = len(wanted & content_words(sentence))
            if overlap > best_overlap:
                best, best_overlap = sentence, overlap
        if best_overlap > 0:
            return best
    return REFUSAL_ZH if is_cjk(question) else REFUSAL_EN


def _text(content: Any) -> str:
    """A message's content: a string, or the text parts of a content list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def read_prompt(body: dict[str, Any]) -> tuple[str, list[str]]:
    """(question, documents) of a chat-completions request built by the stuff chain."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    system = "\n".join(_text(m.get("content")) for m in messages if m.get("role") == "system")
    users = [_text(m.get("content")) for m in messages if m.get("role") == "user"]
    question = users[-1] if users else ""
    _, marker, context = system.partition(CONTEXT_MARKER)
    documents = [d.strip() for d in context.split("\n\n") if d.strip()] if marker else []
    return question, documents


def extractive_reply(body: dict[str, Any]) -> Reply:
    """`FakeOpenAIServer` script: the extractive answer to the request's prompt."""
    question, documents = read_prompt(body)
    return Reply(extractive_answer(question, documents))


def is_refusal(answer: str) -> bool:
    """An answer that says it does not know (either language)."""
    folded = answer.lower()
    return "不知道" in folded or "don't know" in folded or "do not know" in folded
