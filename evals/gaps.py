"""Knowledge gaps: what shoppers asked that the catalog could not answer, grouped by similarity.

From the conversation log, every customer question whose bot reply was a refusal, a low-confidence
answer (when the reply's meta records a confidence) or a product answer without a single citation is a
gap. Similar questions are grouped — by embedding cosine with the configured embedder, or by token
Jaccard for the hash test embedder — with counts and examples, most frequent first: the list of what to
add to the catalog.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from agent.db import MessageRow
from agent.textnorm import normalize_message
from knowledge.embedders import Embedder
from knowledge.tokenize import tokenize

if TYPE_CHECKING:
    from api.services import Services

#: Routes whose answers should cite the catalog.
_PRODUCT_ROUTES = frozenset({"product_question", "recommendation", "comparison"})
#: Conversations the evaluation harness creates; never real shoppers.
EVAL_CONVERSATION_PREFIX = "ev-"
_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class GapQuestion:
    """One unanswered customer question from the log."""

    text: str
    conversation_id: str
    asked_at: datetime
    reason: str  # "refused" | "low_confidence" | "no_citation"


@dataclass(slots=True)
class GapCluster:
    """Similar unanswered questions: how often, a few examples, and why they went unanswered."""

    label: str
    count: int
    examples: list[str] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)
    conversations: int = 0
    last_asked: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "count": self.count,
            "examples": list(self.examples),
            "reasons": dict(self.reasons),
            "conversations": self.conversations,
            "last_asked": None if self.last_asked is None else self.last_asked.isoformat(timespec="seconds"),
        }


def gap_reason(meta: dict[str, Any], min_confidence: float) -> str | None:
    """Why a bot reply (by its stored meta) left the question unanswered, or None if it answered."""
    if meta.get("refused"):
        return "refused"
    confidence = meta.get("confidence")
    if isinstance(confidence, int | float) and confidence < min_confidence:
        return "low_confidence"
    if meta.get("route") in _PRODUCT_ROUTES and not meta.get("citations") and not meta.get("clarify"):
        return "no_citation"
    return None


def unanswered_questions(
    engine: Engine,
    merchant: str,
    *,
    since: datetime | None = None,
    min_confidence: float = 0.5,
    include_evals: bool = False,
) -> list[GapQuestion]:
    """Customer messages whose next bot reply in the same conversation was a gap, oldest first."""
    stmt = select(MessageRow).where(MessageRow.merchant_id == merchant)
    if since is not None:
        stmt = stmt.where(MessageRow.created_at >= since)
    stmt = stmt.order_by(MessageRow.conversation_id, MessageRow.id)
    found: list[GapQuestion] = []
    pending: dict[str, MessageRow] = {}
    with Session(engine) as session:
        for row in session.scalars(stmt):
            if not include_evals and row.conversation_id.startswith(EVAL_CONVERSATION_PREFIX):
                continue
            if row.role == "customer":
                pending[row.conversation_id] = row
            elif row.role == "bot":
                asked = pending.pop(row.conversation_id, None)
                reason = gap_reason(dict(row.meta or {}), min_confidence)
                if asked is not None and reason is not None:
                    found.append(GapQuestion(asked.text, asked.conversation_id, asked.created_at, reason))
    found.sort(key=lambda q: q.asked_at)
    return found


def _key(text: str) -> str:
    return _PUNCT.sub("", normalize_message(text).lower())


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def cluster_questions(
    questions: Sequence[GapQuestion],
    *,
    embedder: Embedder | None = None,
    threshold: float | None = None,
) -> list[GapCluster]:
    """Group questions: exact repeats first, then greedy threshold clustering, most frequent first.

    With an embedder, a question joins the cluster whose centroid is closest if the cosine reaches
    `threshold` (default 0.7); without one, the cluster holding its most similar member by token Jaccard
    (default 0.5).
    """
    by_key: dict[str, list[GapQuestion]] = {}
    for q in questions:
        by_key.setdefault(_key(q.text), []).append(q)
    uniques = sorted(by_key.values(), key=lambda group: (-len(group), group[0].text))
    if not uniques:
        return []
    texts = [group[0].text for group in uniques]
    members: list[list[int]] = []
    if embedder is not None:
        limit = 0.7 if threshold is None else threshold
        vectors = np.asarray(embedder.embed(texts), dtype=np.float32)
        centroids: list[np.ndarray] = []
        for i, vector in enumerate(vectors):
            scores = [float(c @ vector / (np.linalg.norm(c) or 1.0)) for c in centroids]
            best = int(np.argmax(scores)) if scores else -1
            if best >= 0 and scores[best] >= limit:
                members[best].append(i)
                centroids[best] = centroids[best] + vector
            else:
                members.append([i])
                centroids.append(vector.copy())
    else:
        limit = 0.5 if threshold is None else threshold
        tokens = [frozenset(tokenize(t)) for t in texts]
        for i, toks in enumerate(tokens):
            best, best_score = -1, 0.0
            for c, group in enumerate(members):
                score = max(jaccard(toks, tokens[j]) for j in group)
                if score > best_score:
                    best, best_score = c, score
            if best >= 0 and best_score >= limit:
                members[best].append(i)
            else:
                members.append([i])
    clusters: list[GapCluster] = []
    for group in members:
        asked = [q for i in group for q in uniques[i]]
        reasons = Counter(q.reason for q in asked)
        clusters.append(
            GapCluster(
                label=texts[group[0]],
                count=len(asked),
                examples=[texts[i] for i in group[:3]],
                reasons=dict(reasons.most_common()),
                conversations=len({q.conversation_id for q in asked}),
                last_asked=max(q.asked_at for q in asked),
            )
        )
    clusters.sort(key=lambda c: (-c.count, c.label))
    return clusters


def knowledge_gaps(
    services: Services,
    merchant: str,
    *,
    since_days: float | None = 30,
    min_confidence: float = 0.5,
    threshold: float | None = None,
    limit: int = 20,
    now: datetime | None = None,
) -> list[GapCluster]:
    """The merchant's most frequent unanswered questions, grouped (for `anchor eval gaps` and the API).

    Args:
        services: The process's services (their engine, settings and embedder are used).
        merchant: The merchant whose conversations are read.
        since_days: Only questions from the last this-many days (None: all).
        min_confidence: Replies recorded with a lower confidence count as unanswered.
        threshold: Similarity needed to join a cluster (cosine, or Jaccard for the hash embedder).
        limit: At most this many clusters.
        now: The current time (tests pass a fixed one).
    """
    _ = services.conversations  # makes sure the conversation tables exist
    since = None
    if since_days is not None:
        since = (now or datetime.now(UTC)) - timedelta(days=since_days)
    questions = unanswered_questions(services.engine, merchant, since=since, min_confidence=min_confidence)
    embedder: Embedder | None = None
    if not str(services.settings.embedder).lower().startswith("hash"):
        embedder = services.embedder
    return cluster_questions(questions, embedder=embedder, threshold=threshold)[: max(0, limit)]
