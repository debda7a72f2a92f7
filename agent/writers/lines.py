"""Pick the catalog lines that answer a spec or policy question.

Candidate lines are the focused product's attributes ("材质: 棉"), selling points and description
sentences, and the retrieved policy sections. Each is scored by the share of the question's content
terms it contains (with the bilingual glossary, so "防水吗" meets "Waterproof: IPX5") plus the
retriever's score of the passage it came from. No line above the bar means the catalog does not say.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from agent.evidence import Citation
from knowledge.glossary import concepts
from knowledge.models import Product
from knowledge.retriever import Hit
from knowledge.tokenize import tokenize

# Words that carry no content in a question about a product.
_STOP = frozenset(
    [
        "这",
        "多久",
        "多长",
        "多长时间",
        "多大",
        "多重",
        "多高",
        "几",
        "几个",
        "几天",
        "哪里",
        "为什么",
        "这个",
        "这款",
        "那个",
        "那款",
        "它",
        "吗",
        "呢",
        "啊",
        "吧",
        "呀",
        "嘛",
        "么",
        "的",
        "了",
        "是",
        "是不是",
        "有",
        "有没有",
        "没有",
        "能",
        "能不能",
        "可以",
        "可不可以",
        "会",
        "会不会",
        "请问",
        "主播",
        "宝宝",
        "亲",
        "一下",
        "多少",
        "什么",
        "怎么",
        "怎么样",
        "如何",
        "哪",
        "哪个",
        "哪些",
        "还",
        "还有",
        "都",
        "也",
        "就",
        "和",
        "跟",
        "与",
        "及",
        "我",
        "你",
        "您",
        "我们",
        "适合",
        "用",
        "is",
        "it",
        "this",
        "that",
        "the",
        "a",
        "an",
        "does",
        "do",
        "can",
        "could",
        "will",
        "would",
        "should",
        "of",
        "for",
        "to",
        "in",
        "on",
        "with",
        "and",
        "or",
        "be",
        "are",
        "how",
        "what",
        "which",
        "my",
        "me",
        "i",
        "you",
        "your",
        "any",
        "there",
        "have",
        "has",
        "about",
        "tell",
        "please",
    ]
)
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;])\s*|(?<=\.)\s+")


@dataclass(frozen=True, slots=True)
class Line:
    text: str
    citation: Citation
    score: float


def content_terms(question: str) -> set[str]:
    """The question's own content tokens (no stop words, no translations)."""
    return {t for t in tokenize(question) if t not in _STOP}


@dataclass(frozen=True, slots=True)
class Term:
    """One thing a question asks about; it is found in a line when any of its forms is."""

    forms: tuple[frozenset[str], ...]

    def found_in(self, tokens: set[str]) -> bool:
        return any(form <= tokens for form in self.forms)


def question_terms(question: str) -> list[Term]:
    """Content terms with their other-language forms (glossary), each counted once."""
    own = content_terms(question)
    terms: list[Term] = []
    claimed: set[str] = set()
    for concept in concepts(question):
        if concept.own & own or not concept.own:
            terms.append(Term(concept.forms))
            claimed |= concept.own
    terms.extend(Term((frozenset({t}),)) for t in own if t not in claimed)
    return terms


def _line_tokens(text: str) -> set[str]:
    return set(tokenize(text))


def _product_lines(product: Product) -> list[tuple[str, Citation]]:
    lines: list[tuple[str, Citation]] = []
    for key, value in product.attributes.items():
        lines.append((f"{key}: {value}", Citation(sku=product.sku, field="attributes")))
    for point in product.selling_points:
        lines.append((point, Citation(sku=product.sku, field="selling_points")))
    for sentence in _SENTENCE_END.split(product.description):
        if sentence.strip():
            lines.append((sentence.strip(), Citation(sku=product.sku, field="description")))
    return lines


def _hit_lines(hits: Sequence[Hit]) -> list[tuple[str, Citation, float]]:
    out: list[tuple[str, Citation, float]] = []
    for hit in hits:
        body = hit.passage.text
        # Passages start with "brand title:" or "document — heading:"; the first line names the source.
        head, _, rest = body.partition("\n")
        text = rest if rest.strip() else head.split(":", 1)[-1]
        for part in _SENTENCE_END.split(text):
            part = part.strip(" -•\n")
            if len(part) >= 2:
                out.append((part, Citation.of_hit(hit), hit.score))
    return out


def _coverage(terms: Sequence[Term], text: str) -> float:
    if not terms:
        return 0.0
    tokens = _line_tokens(text)
    return sum(1 for t in terms if t.found_in(tokens)) / len(terms)


#: Share of the question's content terms a line must contain to count as answering it.
MIN_COVERAGE = 0.6


def best_product_lines(
    question: str,
    product: Product,
    passages: Sequence[Hit],
    *,
    limit: int = 2,
) -> list[Line]:
    """The product lines that answer `question`, best first; [] when none covers enough of it.

    Terms that merely name the product ("耳机" in "这个耳机防水吗") are left out of the match when
    other terms remain; a question made only of title words ("适合敏感肌吗" about a cream whose title
    says 敏感肌) is answered by the title itself.
    """
    terms = question_terms(question)
    title_tokens = _line_tokens(f"{product.brand} {product.title}")
    asked = [t for t in terms if not t.found_in(title_tokens)]
    lines = _product_lines(product)
    if not asked:
        asked = terms
        lines = [(product.title, Citation(sku=product.sku, field="title")), *lines]
    if not asked:
        return []
    prior_by_field = {
        h.passage.source.field: h.score for h in passages if h.passage.source.sku == product.sku
    }
    scored: list[Line] = []
    for text, citation in lines:
        coverage = _coverage(asked, text)
        if coverage < MIN_COVERAGE:
            continue
        prior = prior_by_field.get(citation.field, 0.0)
        scored.append(Line(text, citation, coverage + 0.1 * max(prior, 0.0)))
    scored.sort(key=lambda line: line.score, reverse=True)
    return scored[:limit]


_ASKS_WHEN = re.compile(r"什么时候|多久|几天|多长时间|几点|when|how long|how soon|how many days|what time", re.I)
_TIME_SPAN = re.compile(
    r"\d+\s*(?:小时|天|日|个工作日|工作日|分钟|点|:\d\d)|\d+\s*(?:hours?|days?|business days|minutes?|am|pm)|"
    r"\d{1,2}:\d{2}",
    re.I,
)


def best_policy_lines(question: str, policies: Sequence[Hit], *, limit: int = 2) -> list[Line]:
    """The policy sentences that answer `question`, best first.

    A "when / how long" question prefers the sentences that state a time span.
    """
    terms = question_terms(question)
    wants_time = bool(_ASKS_WHEN.search(question))
    scored: list[Line] = []
    for text, citation, prior in _hit_lines(policies):
        overlap = _coverage(terms, text)
        bonus = 0.3 if wants_time and _TIME_SPAN.search(text) else 0.0
        scored.append(Line(text, citation, overlap + 0.5 * max(prior, 0.0) + bonus))
    scored.sort(key=lambda line: line.score, reverse=True)
    return scored[:limit]
