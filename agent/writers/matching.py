"""Which catalog line answers a product question, by meaning: sentence vectors, words and aspects together.

Every line of the product (attribute "key: value", selling point, description sentence) gets

    score = cos(question, line) + W_LEX × word coverage + W_ASPECT × aspect agreement

- cos: the multilingual sentence vectors (a Chinese question meets an English line);
- word coverage: the share of the question's content terms the line holds (`agent.writers.lines`);
- aspect agreement: +1 when the question asks an aspect the line is about ("能装多少" and "容量: 35L" are
  both `capacity`, `knowledge/data/aspects.yaml`), −1 when both name aspects and none is shared, else 0.

The best line answers when its score clears a cut that depends on the aspects (see `MatchParams`): low when
the question names an aspect the line is about, high when the line is about another one, in between when
the question names none the vocabulary knows. Just under the cut the line is offered as the nearest aspect,
said to be unsure; otherwise the listing does not state it. Weights and cuts were chosen on the dev cases
of `evals/aspects_dev.py`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from agent.evidence import Citation
from agent.writers.lines import Line, Term, _coverage, question_terms
from knowledge.aspect_vocab import AspectVocabulary, packaged_vocabulary
from knowledge.line_vectors import LineVectors, product_lines
from knowledge.models import Product
from knowledge.tokenize import tokenize

Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True, slots=True)
class MatchParams:
    """Ranking weights and cuts, chosen on the aspect dev cases (`anchor eval aspects --tune`).

    The cut the best line must clear depends on what the vocabulary says: `accept_meets` when the question
    names an aspect and the line is about it, `accept_miss` when the question names an aspect and the line
    is not about it (then the listing most often does not state it), `accept` when the question names no
    aspect the vocabulary knows. A best line between `nearest` and its cut is offered as the nearest
    aspect, said to be unsure.
    """

    w_lex: float = 0.3
    w_aspect: float = 0.2
    #: Extra weight when an attribute's own key names the asked aspect ("容量" for "能装多少").
    w_key: float = 0.2
    accept: float = 0.65
    accept_meets: float = 0.5
    accept_miss: float = 0.7
    nearest: float = 0.45


@dataclass(frozen=True, slots=True)
class ScoredLine:
    text: str
    citation: Citation
    score: float
    dense: float
    lexical: float
    aspects: frozenset[str]
    key_aspects: frozenset[str] = frozenset()


@dataclass(slots=True)
class AspectMatch:
    """What the matcher found for one question about one product."""

    asked: tuple[str, ...]
    lines: list[ScoredLine] = field(default_factory=list)
    #: "answer": lines[0] answers; "unsure": lines[0] is only the nearest aspect; "absent": nothing does.
    verdict: str = "absent"

    @property
    def best(self) -> Line | None:
        if not self.lines or self.verdict == "absent":
            return None
        top = self.lines[0]
        return Line(top.text, top.citation, top.score)


#: Aspects that are answered by the store's facts (stock, variants), never by a line.
_FACT_ASPECTS = frozenset({"availability"})


class AspectMatcher:
    """Scores a product's lines against a question (cheap to construct; vectors come from `vectors`)."""

    def __init__(
        self,
        vectors: LineVectors | None,
        *,
        embed_question: Callable[[str], np.ndarray] | None = None,
        vocabulary: AspectVocabulary | None = None,
        params: MatchParams | None = None,
    ) -> None:
        self.vectors = vectors
        self.embed_question = embed_question
        self.vocabulary = vocabulary or packaged_vocabulary()
        self.params = params or MatchParams()

    def asked(self, question: str) -> tuple[str, ...]:
        return tuple(a for a in self.vocabulary.asked(question) if a not in _FACT_ASPECTS)

    def asked_about(self, question: str, about: str) -> tuple[str, ...]:
        """The aspects asked, read without the product's name; when the name holds the only aspect word
        ("Stormshell Waterproof jacket: is it really waterproof?"), from the whole question."""
        return self.asked(about) or self.asked(question)

    def reading(self, question: str, product: Product) -> tuple[str, tuple[str, ...], list[Term]]:
        """How the question is read about `product`: the text that is embedded, the aspects asked, and the
        content terms that lines must cover.

        The question is read without the words that name the product ("Everkeep保温瓶能装多少水" asks
        "能装多少水"): the name says which product, not which of its lines. Unless nothing else is left
        ("1号是加绒的吗" about a 加绒 hoodie asks whether it is 加绒): then the whole question is read.
        """
        naming = f"{product.brand} {product.title} {product.sku}"
        about = without_naming(question, naming)
        asked = self.asked_about(question, about)
        terms = question_terms(question, naming=naming)
        if not terms:
            terms = question_terms(question)
            about = question
        return about, asked, terms

    def score(
        self, question: str, product: Product, question_vector: np.ndarray | None = None
    ) -> list[ScoredLine]:
        """All lines of `product`, best first (`question_vector`: the embedding of `reading`'s text)."""
        return self._scored(question, product, question_vector)[1]

    def match(
        self, question: str, product: Product, question_vector: np.ndarray | None = None
    ) -> AspectMatch:
        asked, scored = self._scored(question, product, question_vector)
        return AspectMatch(asked=asked, lines=scored, verdict=decide(scored, asked, self.params))

    def _scored(
        self, question: str, product: Product, question_vector: np.ndarray | None
    ) -> tuple[tuple[str, ...], list[ScoredLine]]:
        p = self.params
        about, asked, terms = self.reading(question, product)
        lines = product_lines(product)
        if not lines:
            return asked, []
        wanted = set(asked)
        dense: np.ndarray = np.zeros(len(lines), dtype=np.float32)
        qv = question_vector
        if qv is None and self.embed_question is not None:
            qv = self.embed_question(about)
        if self.vectors is not None and qv is not None:
            qv = np.asarray(qv, dtype=np.float32)
            qv = qv / (float(np.linalg.norm(qv)) or 1.0)
            dense = self.vectors.vectors([text for _, _, text in lines]) @ qv
        scored: list[ScoredLine] = []
        for (fld, key, text), cos in zip(lines, dense, strict=True):
            value = text.split(": ", 1)[1] if key else text
            aspects = self.vocabulary.of_line(key, value)
            key_aspects = self.vocabulary.of_line(key, "") if key else frozenset()
            lexical = _coverage(terms, text) if terms else 0.0
            line = ScoredLine(
                text, Citation(sku=product.sku, field=fld), 0.0, float(cos), lexical, aspects, key_aspects
            )
            scored.append(_rescore(line, wanted, p))
        return asked, _ranked(scored, asked)


def _rescore(line: ScoredLine, asked: set[str], p: MatchParams) -> ScoredLine:
    """`line` with its score under `p` for a question asking `asked`."""
    agree = 0.0
    if asked and line.aspects:
        agree = 1.0 if asked & line.aspects else -1.0
    key = 1.0 if asked & line.key_aspects else 0.0
    total = line.dense + p.w_lex * line.lexical + p.w_aspect * agree + p.w_key * key
    return ScoredLine(
        line.text, line.citation, total, line.dense, line.lexical, line.aspects, line.key_aspects
    )


def decide(scored: list[ScoredLine], asked: Sequence[str], p: MatchParams) -> str:
    """ "answer", "unsure" or "absent" for lines sorted best first."""
    if not scored:
        return "absent"
    best = scored[0]
    if asked:
        cut = p.accept_meets if asked_meets(best, asked) else p.accept_miss
    else:
        cut = p.accept
    if best.score >= cut:
        return "answer"
    if best.score >= p.nearest and (not asked or asked_meets(best, asked)):
        return "unsure"
    return "absent"


def rescore(lines: Sequence[ScoredLine], asked: Sequence[str], p: MatchParams) -> list[ScoredLine]:
    """Lines re-scored under other params, best first (for tuning)."""
    return _ranked([_rescore(s, set(asked), p) for s in lines], asked)


def _ranked(lines: list[ScoredLine], asked: Sequence[str]) -> list[ScoredLine]:
    """Best first; when the question names an aspect and some line is about it, those lines come first
    (a line that shares a word but is about another aspect — "40 h with ANC on" for "does it have ANC?" —
    does not outrank the line about the asked aspect)."""
    lines.sort(key=lambda s: s.score, reverse=True)
    if not asked:
        return lines
    wanted = set(asked)
    # An attribute whose key names the asked aspect, then any line about it, then the rest.
    by_key = [s for s in lines if s.key_aspects & wanted]
    by_text = [s for s in lines if s.aspects & wanted and not s.key_aspects & wanted]
    rest = [s for s in lines if not s.aspects & wanted]
    return by_key + by_text + rest


def without_naming(question: str, naming: str) -> str:
    """`question` without the words of the product's brand, title and sku (never empty)."""
    out = question
    for token in sorted({t for t in tokenize(naming) if len(t) >= 2}, key=len, reverse=True):
        out = re.sub(re.escape(token), " ", out, flags=re.I)
    out = re.sub(r"\s+", " ", out).strip()
    return out or question


def asked_meets(line: ScoredLine, asked: Sequence[str]) -> bool:
    return bool(line.aspects & set(asked))
