"""Which catalog line answers a product question, by meaning: sentence vectors, words and aspects together.

Every line of the product (attribute "key: value", selling point, description sentence) is described by a few
numbers (`FEATURES`): how close the question's sentence vector is to the line, to the attribute's key and to
its value (each also against the product's closest line, so a line is judged among its neighbours), the share
of the question's words the line holds, whether the question and the line are about the same aspect of the
bilingual vocabulary (`knowledge/data/aspects.yaml`), how much of the key the question repeats, and what kind
of line it is. A logistic model (`LineModel`, `agent/writers/line_model.json`) turns them into the probability
that the line answers the question; it is trained on the dev catalogs' questions (`anchor eval aspects
--train`), never on a blind set, and its two cuts are chosen there too.

The best line answers when its probability clears `answer_cut`; between `nearest_cut` and that it is offered
as the nearest aspect, said to be unsure; below, the listing does not state what is asked.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from agent.evidence import Citation
from agent.writers.lines import Line, Term, _coverage, question_terms
from knowledge.aspect_vocab import AspectVocabulary, packaged_vocabulary
from knowledge.line_vectors import LineVectors, product_lines
from knowledge.models import Product
from knowledge.tokenize import tokenize

Embed = Callable[[Sequence[str]], np.ndarray]

PACKAGED_MODEL = Path(__file__).with_name("line_model.json")

#: What the model reads about a (question, line) pair; the order is the model's.
FEATURES: tuple[str, ...] = (
    "cos_line",  # question · line
    "cos_key",  # question · attribute key (the line itself for selling points and sentences)
    "cos_value",  # question · attribute value
    "cos_line_gap",  # cos_line − the product's best cos_line (0 for the closest line)
    "cos_key_gap",
    "cos_value_gap",
    "lexical",  # share of the question's content terms the line holds
    "aspect_agree",  # +1 same aspect, −1 both name aspects and none is shared, 0 otherwise
    "key_names_aspect",  # the attribute's key names the asked aspect
    "asks_aspect",  # the question names an aspect the vocabulary knows
    "key_repeated",  # share of the key's words (Chinese character pairs, Latin words) in the question
    "is_attribute",
    "is_selling_point",
    "log_lines",  # how many lines the product has (log)
)


class LineModelError(ValueError):
    """A line model file that cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True, slots=True)
class LineModel:
    """Logistic weights over `FEATURES`, and the cuts on the best line's probability."""

    weights: tuple[float, ...]
    bias: float
    answer_cut: float = 0.5
    nearest_cut: float = 0.3
    #: A best line at or above `nearest_cut` also answers when it beats the second by this much.
    margin_cut: float = 1.0
    #: The answer cut when the vocabulary says the best line is about the asked aspect ("适用肤质" for
    #: "油皮能用吗"): the two kinds of case are calibrated apart.
    meet_cut: float = 0.5
    trained_on: tuple[str, ...] = ()

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        z = features @ np.asarray(self.weights, dtype=np.float64) + self.bias
        return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "features": list(FEATURES),
            "weights": [round(w, 6) for w in self.weights],
            "bias": round(self.bias, 6),
            "answer_cut": self.answer_cut,
            "nearest_cut": self.nearest_cut,
            "margin_cut": self.margin_cut,
            "meet_cut": self.meet_cut,
            "trained_on": list(self.trained_on),
        }

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> LineModel:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise LineModelError(f"{path}: cannot read the line model ({exc})") from exc
        if not isinstance(data, dict) or data.get("features") != list(FEATURES):
            raise LineModelError(
                f"{path}: the model was trained on other features; retrain it with `anchor eval aspects --train`"
            )
        try:
            weights = tuple(float(w) for w in data["weights"])
            model = cls(
                weights=weights,
                bias=float(data["bias"]),
                answer_cut=float(data["answer_cut"]),
                nearest_cut=float(data["nearest_cut"]),
                margin_cut=float(data.get("margin_cut", 1.0)),
                meet_cut=float(data["meet_cut"] if "meet_cut" in data else data["answer_cut"]),
                trained_on=tuple(str(x) for x in data.get("trained_on", [])),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise LineModelError(f"{path}: malformed line model ({exc})") from exc
        if len(weights) != len(FEATURES) or not 0 < model.nearest_cut <= model.answer_cut <= 1:
            raise LineModelError(f"{path}: {len(weights)} weights or cuts out of order")
        return model


@lru_cache(maxsize=1)
def packaged_model() -> LineModel:
    return LineModel.load(PACKAGED_MODEL)


_LATIN = re.compile(r"[a-z0-9]+")
_CJK = re.compile(r"[\u3400-\u9fff]")


def _word_units(text: str) -> set[str]:
    """Latin words and Chinese character pairs of `text` (lower case)."""
    low = text.lower()
    chars = _CJK.findall(low)
    return set(_LATIN.findall(low)) | {a + b for a, b in itertools.pairwise(chars)}


@dataclass(frozen=True, slots=True)
class ScoredLine:
    text: str
    citation: Citation
    score: float
    dense: float
    lexical: float
    aspects: frozenset[str]
    key_aspects: frozenset[str] = frozenset()
    #: The model's inputs (`FEATURES`), kept for training and explanations.
    features: tuple[float, ...] = ()


@dataclass(slots=True)
class AspectMatch:
    """What the matcher found for one question about one product."""

    asked: tuple[str, ...]
    lines: list[ScoredLine] = field(default_factory=list)
    #: "answer": lines[0] answers; "unsure": lines[0] is only the nearest aspect; "absent": nothing does.
    verdict: str = "absent"

    @property
    def names_asked(self) -> bool:
        """The best line's own key names an aspect the question asks."""
        return bool(self.lines) and bool(self.lines[0].key_aspects & set(self.asked))

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
        model: LineModel | None = None,
    ) -> None:
        self.vectors = vectors
        self.embed_question = embed_question
        self.vocabulary = vocabulary or packaged_vocabulary()
        self._model = model

    @property
    def model(self) -> LineModel:
        if self._model is None:
            self._model = packaged_model()
        return self._model

    @model.setter
    def model(self, model: LineModel) -> None:
        self._model = model

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
        return AspectMatch(asked=asked, lines=scored, verdict=decide(scored, self.model))

    def _scored(
        self, question: str, product: Product, question_vector: np.ndarray | None
    ) -> tuple[tuple[str, ...], list[ScoredLine]]:
        about, asked, terms = self.reading(question, product)
        lines = product_lines(product)
        if not lines:
            return asked, []
        keys = [key or text for _, key, text in lines]
        values = [text.split(": ", 1)[1] if key else text for _, key, text in lines]
        n = len(lines)
        cos_line = cos_key = cos_value = np.zeros(n, dtype=np.float64)
        qv = question_vector
        if qv is None and self.embed_question is not None:
            qv = self.embed_question(about)
        if self.vectors is not None and qv is not None:
            qv = np.asarray(qv, dtype=np.float32)
            qv = qv / (float(np.linalg.norm(qv)) or 1.0)
            texts = [text for _, _, text in lines]
            matrix = (self.vectors.vectors([*texts, *keys, *values]) @ qv).astype(np.float64)
            cos_line, cos_key, cos_value = matrix[:n], matrix[n : 2 * n], matrix[2 * n :]
        wanted = set(asked)
        asked_units = _word_units(question)
        rows: list[tuple[float, ...]] = []
        parts: list[tuple[str, str, frozenset[str], frozenset[str], float]] = []
        for i, (fld, key, text) in enumerate(lines):
            aspects = self.vocabulary.of_line(key, values[i])
            key_aspects = self.vocabulary.of_line(key, "") if key else frozenset()
            lexical = _coverage(terms, text) if terms else 0.0
            agree = 0.0
            if wanted and aspects:
                agree = 1.0 if wanted & aspects else -1.0
            key_units = _word_units(key) if key else set()
            repeated = len(key_units & asked_units) / len(key_units) if key_units else 0.0
            rows.append(
                (
                    float(cos_line[i]),
                    float(cos_key[i]),
                    float(cos_value[i]),
                    float(cos_line[i] - cos_line.max()),
                    float(cos_key[i] - cos_key.max()),
                    float(cos_value[i] - cos_value.max()),
                    lexical,
                    agree,
                    1.0 if wanted & key_aspects else 0.0,
                    1.0 if wanted else 0.0,
                    repeated,
                    1.0 if key else 0.0,
                    1.0 if fld == "selling_points" else 0.0,
                    math.log(n),
                )
            )
            parts.append((fld, text, aspects, key_aspects, lexical))
        probabilities = self.model.probabilities(np.asarray(rows, dtype=np.float64))
        scored = [
            ScoredLine(
                text,
                Citation(sku=product.sku, field=fld),
                float(prob),
                row[0],
                lexical,
                aspects,
                key_aspects,
                row,
            )
            for (fld, text, aspects, key_aspects, lexical), row, prob in zip(
                parts, rows, probabilities, strict=True
            )
        ]
        scored.sort(key=lambda line: line.score, reverse=True)
        return asked, scored


def decide(scored: Sequence[ScoredLine], model: LineModel) -> str:
    """ "answer", "unsure" or "absent" for lines sorted best first."""
    if not scored:
        return "absent"
    top = scored[0]
    second = scored[1].score if len(scored) > 1 else 0.0
    return verdict_of(top.score, second, meets(top), model)


def meets(line: ScoredLine) -> bool:
    """The vocabulary says `line` is about an aspect the question asks."""
    return bool(line.features) and line.features[FEATURES.index("aspect_agree")] > 0


def verdict_of(best: float, second: float, about_asked: bool, model: LineModel) -> str:
    """The verdict for a best line of probability `best` when the next line has `second`: it answers above
    `answer_cut` (`meet_cut` when the line is about the asked aspect), or above `nearest_cut` when it
    clearly beats the next line (the margin rule); else it is the nearest aspect (unsure) above
    `nearest_cut`, and nothing below."""
    if best >= (model.meet_cut if about_asked else model.answer_cut):
        return "answer"
    if best >= model.nearest_cut:
        return "answer" if best - second >= model.margin_cut else "unsure"
    return "absent"


def without_naming(question: str, naming: str) -> str:
    """`question` without the words of the product's brand, title and sku (never empty)."""
    out = question
    for token in sorted({t for t in tokenize(naming) if len(t) >= 2}, key=lambda t: (-len(t), t)):
        out = re.sub(re.escape(token), " ", out, flags=re.I)
    out = re.sub(r"\s+", " ", out).strip()
    return out or question
