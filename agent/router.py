"""Stage 3 of the answer pipeline: what does this message want, and where does it go?

`IntentRouter.classify` puts a message on one of the intents of `agent.understanding.intents` with the
trained intent model (`agent.understanding.model`: a linear classifier over the message's sentence vector —
the same vector retrieval uses, computed once per message — its character n-grams and a few cues), then on a
route:

1. nothing but symbols: emoji → chit-chat, punctuation → other (the model has nothing to read);
2. documented certain rules (`agent.understanding.overrides`): an explicit request for a person hands off;
   an order number with a problem word is after-sales;
3. P(hand-off request) at or above its threshold hands off even when another intent is on top;
4. P(any after-sales intent) at or above the calibrated threshold → after-sales, the likeliest after-sales
   intent names the ticket category; in the band below it the decision is *unsure*: the pipeline asks one
   clarifying question ("product, or an order you placed?"), a live room stays silent;
5. otherwise the likeliest of the other intents.

Every decision keeps its evidence in `signals`: the top intents with probabilities, the cues and rules
that fired, the model version.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agent.routing.text import has_emoji, is_symbol_only
from agent.understanding import overrides
from agent.understanding.intents import (
    AFTER_SALES_CATEGORIES,
    AFTER_SALES_INTENTS,
    ROUTES,
    AfterSalesCategory,
    Intent,
    Route,
    category_of,
    route_of,
)
from agent.understanding.model import IntentModel, IntentPrediction
from knowledge.embedders import Embedder, UseEmbedder

__all__ = [
    "AFTER_SALES_CATEGORIES",
    "ROUTES",
    "AfterSalesCategory",
    "IntentRouter",
    "Route",
    "RouteDecision",
    "classify",
    "default_router",
]


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """Where a message goes.

    Attributes:
        route: One of `ROUTES`.
        category: The ticket category when `route == "after_sales"`, else None.
        confidence: The calibrated probability behind the decision (of after-sales as a whole for an
            after-sales route, of the intent otherwise; 1.0 for a certain rule).
        signals: What decided it: "intent:refund_return_exchange", "p:order_status=0.71", "cue:order_id",
            "rule:asks_for_person", "unsure", "lang:zh", "model:intents-…".
        intent: The intent (`agent.understanding.intents.INTENTS`).
        unsure: True when the model cannot tell a product question from an order problem: ask, don't guess.
        top: The three likeliest intents with their probabilities.
    """

    route: Route
    category: AfterSalesCategory | None
    confidence: float
    signals: tuple[str, ...]
    intent: Intent = "other"
    unsure: bool = False
    top: tuple[tuple[str, float], ...] = ()

    @property
    def is_after_sales(self) -> bool:
        """True when the message must reach a person through a ticket."""
        return self.route == "after_sales"

    def to_dict(self) -> dict[str, object]:
        return {
            "intent": self.intent,
            "route": self.route,
            "category": self.category,
            "confidence": round(self.confidence, 3),
            "unsure": self.unsure,
            "top": [[label, round(p, 3)] for label, p in self.top],
            "signals": list(self.signals),
        }


def _lang(text: str, lang: str | None) -> str:
    if lang:
        return lang
    return "zh" if any("\u3400" <= ch <= "\u9fff" for ch in text) else "en"


class IntentRouter:
    """The intent model and the embedder whose vectors it reads.

    Args:
        model: A trained model (`IntentModel.load`).
        embedder: An embedder of the vector space the model was trained in (its name must match
            `model.embedder`).
    """

    def __init__(self, model: IntentModel, embedder: Embedder) -> None:
        if embedder.name != model.embedder:
            raise ValueError(
                f"the intent model reads {model.embedder!r} vectors but the embedder is {embedder.name!r}"
            )
        self.model = model
        self.embedder = embedder

    @classmethod
    def load(cls, path: Path | None = None, *, embedder: Embedder | None = None) -> IntentRouter:
        """Load a model (the packaged one by default) and pair it with `embedder` when that embedder speaks
        the model's vector space, else with the process's shared default embedder.

        Raises:
            ModelArtefactError: the model file is missing or unreadable (the message says how to rebuild).
        """
        model = IntentModel.load(path)
        if embedder is None or embedder.name != model.embedder:
            embedder = shared_use_embedder()
        return cls(model, embedder)

    @property
    def version(self) -> str:
        return self.model.version

    def vector(self, text: str) -> np.ndarray:
        return np.asarray(self.embedder.embed([text])[0], dtype=np.float32)

    def predict(self, text: str, vector: np.ndarray | None = None) -> IntentPrediction:
        return self.model.predict(text, self.vector(text) if vector is None else vector)

    def classify(
        self, text: str, *, lang: str | None = None, vector: np.ndarray | None = None
    ) -> RouteDecision:
        """Route one message.

        Args:
            text: The message, normalised by `agent.textnorm.normalize_message` (raw text works too).
            lang: "zh" or "en" when the caller knows it.
            vector: The message's sentence vector when the caller already has it.
        """
        stripped = text.strip()
        signals = [f"lang:{_lang(stripped, lang)}"]
        if not stripped or is_symbol_only(stripped):
            if has_emoji(stripped):
                return RouteDecision("chitchat", None, 1.0, (*signals, "rule:emoji_only"), "chitchat")
            return RouteDecision("other", None, 1.0, (*signals, "rule:no_words"), "other")
        prediction = self.predict(stripped, vector)
        return self.decide(stripped, prediction, signals)

    def classify_many(self, texts: Sequence[str]) -> list[RouteDecision]:
        """Route several messages, embedding them in one batch."""
        vectors = self.embedder.embed(list(texts)) if texts else np.zeros((0, self.model.dim))
        return [self.classify(t, vector=v) for t, v in zip(texts, vectors, strict=True)]

    def decide(self, text: str, prediction: IntentPrediction, signals: list[str]) -> RouteDecision:
        """The route of a message given the model's probabilities (rules and thresholds applied)."""
        t = self.model.thresholds
        probs = prediction.probs
        top = tuple((label, p) for label, p in prediction.top(3))
        signals.extend(f"p:{label}={p:.2f}" for label, p in top)
        signals.extend(f"cue:{cue}" for cue in prediction.cues if not cue.startswith(("len_", "has_")))
        signals.append(f"model:{self.model.version}")
        if overrides.buying_signal(text):
            signals.append("intent_to_buy")
        p_as = sum(probs.get(i, 0.0) for i in AFTER_SALES_INTENTS)
        as_top = max(AFTER_SALES_INTENTS, key=lambda i: (probs.get(i, 0.0), i))

        def after_sales(intent: Intent, confidence: float, *why: str) -> RouteDecision:
            category = category_of(intent)
            if intent == "refund_return_exchange":
                category = overrides.refund_kind(text)
            return RouteDecision(
                "after_sales", category, confidence, (*signals, *why, f"intent:{intent}"), intent, False, top
            )

        if overrides.asks_for_person(text):
            return after_sales("handoff_request", 1.0, "rule:asks_for_person")
        if probs.get("handoff_request", 0.0) >= t.handoff:
            return after_sales("handoff_request", probs["handoff_request"], "threshold:handoff")
        if overrides.order_problem(text, "order_id" in prediction.cues):
            return after_sales(as_top, max(p_as, 0.9), "rule:order_problem")
        if p_as >= t.after_sales:
            return after_sales(as_top, p_as)
        others = {label: p for label, p in probs.items() if label not in AFTER_SALES_INTENTS}
        best: Intent = max(others, key=lambda i: (others[i], i))
        unsure = p_as >= t.unsure
        if unsure:
            signals.append("unsure")
        return RouteDecision(
            route_of(best), None, others[best], (*signals, f"intent:{best}"), best, unsure, top
        )


_shared_lock = threading.Lock()
_shared_use: UseEmbedder | None = None
_default: IntentRouter | None = None


def shared_use_embedder() -> UseEmbedder:
    """One Universal Sentence Encoder per process for routers whose catalog embedder is another."""
    global _shared_use
    with _shared_lock:
        if _shared_use is None:
            _shared_use = UseEmbedder()
        return _shared_use


def default_router() -> IntentRouter:
    """The packaged model with the shared embedder, loaded on first use."""
    global _default
    if _default is None:
        router = IntentRouter.load()
        with _shared_lock:
            if _default is None:
                _default = router
    assert _default is not None
    return _default


def classify(text: str, *, lang: str | None = None, vector: np.ndarray | None = None) -> RouteDecision:
    """Route one message with the default router (see `IntentRouter.classify`)."""
    return default_router().classify(text, lang=lang, vector=vector)


def vectors(texts: list[str]) -> list[np.ndarray]:
    """The default router's sentence vectors of several messages in one batch (much cheaper per message than
    one at a time), for `classify(text, vector=…)`."""
    if not texts:
        return []
    router = default_router()
    return [np.asarray(v, dtype=np.float32) for v in router.embedder.embed(texts)]
