"""Training the claim classifier (`anchor eval claims --train`): labelled sentences → `ClaimModel`.

The team's labelled sentences are split (stratified by label and language, fixed seed) into a training part
and a held-out part. A multinomial logistic model is fitted on the training part; the cuts are chosen on the
held-out part together with the team's precision corpus (ordinary sentences that must pass): `drop_cut` is the
lowest cut at which at most `max_false_drop` of ordinary sentences would be dropped, `review_cut` the lowest
at which at most `max_false_review` would be reported. The model is then refitted on all sentences.
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agent.compliance.claims import LABELS, TRAINING_DATA, ClaimModel, Embed
from agent.compliance.enforce import split_sentences
from agent.training_guard import generated_reason


@dataclass(frozen=True, slots=True)
class Labelled:
    id: str
    lang: str
    label: str
    text: str


def jsonl_objects(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of a JSONL file; a line that is not a JSON object is
    a `ValueError` naming the file and line."""
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: not JSON ({exc})") from exc
            if not isinstance(row, dict):
                raise ValueError(f"{path}:{number}: not a JSON object")
            yield number, row


def load_labelled(path: Path = TRAINING_DATA) -> list[Labelled]:
    """The labelled sentences of a JSONL file; a bad line is an error naming the file and line."""
    out: list[Labelled] = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if (why := generated_reason(line)) is not None:
                raise ValueError(f"{path}:{number}: refused for training: {why}")
    for number, row in jsonl_objects(path):
        if (why := generated_reason("", row)) is not None:
            raise ValueError(f"{path}:{number}: refused for training: {why}")
        try:
            item = Labelled(str(row["id"]), str(row["lang"]), str(row["label"]), str(row["text"]))
        except KeyError as exc:
            raise ValueError(f"{path}:{number}: not a labelled sentence (missing {exc})") from exc
        if item.label not in LABELS:
            raise ValueError(f"{path}:{number}: unknown label {item.label!r} (one of {', '.join(LABELS)})")
        out.append(item)
    return out


def _split(items: Sequence[Labelled], held_out: float, seed: int) -> tuple[list[Labelled], list[Labelled]]:
    groups: dict[tuple[str, str], list[Labelled]] = defaultdict(list)
    for item in items:
        groups[(item.label, item.lang)].append(item)
    rng = random.Random(seed)
    train: list[Labelled] = []
    dev: list[Labelled] = []
    for key in sorted(groups):
        members = sorted(groups[key], key=lambda x: x.id)
        rng.shuffle(members)
        cut = max(1, round(len(members) * held_out)) if len(members) > 3 else 0
        dev.extend(members[:cut])
        train.extend(members[cut:])
    return train, dev


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(vectors / np.where(norms == 0, 1.0, norms), dtype=np.float64)


def _fit(vectors: np.ndarray, labels: Sequence[str], c: float) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    y = np.array([LABELS.index(label) for label in labels])
    if len(set(y.tolist())) < 3:
        raise ValueError("training needs sentences of at least three labels")
    clf = LogisticRegression(C=c, max_iter=5000)
    clf.fit(vectors, y)
    weights = np.zeros((len(LABELS), vectors.shape[1]))
    bias = np.full(len(LABELS), -50.0)  # a label with no examples is never predicted
    for row, cls in enumerate(clf.classes_):
        weights[int(cls)] = clf.coef_[row]
        bias[int(cls)] = clf.intercept_[row]
    return weights, bias


def _claim_scores(model: ClaimModel, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per sentence: the index of the likeliest claim label and its probability."""
    probs = model.probabilities(vectors)
    claim = np.array([i for i, label in enumerate(LABELS) if label != "none"])
    best = claim[np.argmax(probs[:, claim], axis=1)]
    return best, probs[np.arange(len(probs)), best]


def _lowest_cut(scores: np.ndarray, rate: float) -> float:
    """The lowest cut (on a grid) at which at most `rate` of `scores` are at or above it."""
    for cut in np.round(np.arange(0.3, 0.991, 0.01), 2):
        if float(np.mean(scores >= cut)) <= rate:
            return float(cut)
    return 0.99


def train_claims(
    items: Sequence[Labelled],
    embed: Embed,
    *,
    embedder: str,
    ordinary: Sequence[str] = (),
    held_out: float = 0.2,
    seed: int = 7,
    c: float = 4.0,
    max_false_drop: float = 0.002,
    max_false_review: float = 0.006,
) -> tuple[ClaimModel, dict[str, Any]]:
    """Fit, choose the cuts on the held-out part (and `ordinary` sentences), refit on everything; returns
    the model and a report of the held-out figures."""
    # Ordinary lines are read sentence by sentence, as the check reads them.
    ordinary = [line[a:b].strip() for line in ordinary for a, b in split_sentences(line) if line[a:b].strip()]
    train, dev = _split(items, held_out, seed)
    vectors = {
        it.id: v for it, v in zip(items, _unit(np.asarray(embed([it.text for it in items]))), strict=True)
    }
    ordinary_vectors = _unit(np.asarray(embed(list(ordinary)))) if ordinary else np.zeros((0, 1))
    x_train = np.stack([vectors[it.id] for it in train])
    weights, bias = _fit(x_train, [it.label for it in train], c)
    provisional = ClaimModel(weights, bias, LABELS, 0.99, 0.99, embedder, {})
    x_dev = np.stack([vectors[it.id] for it in dev])
    dev_best, dev_score = _claim_scores(provisional, x_dev)
    innocent = [dev_score[i] for i, it in enumerate(dev) if it.label == "none"]
    if len(ordinary_vectors):
        innocent.extend(_claim_scores(provisional, ordinary_vectors)[1])
    innocent_scores = np.asarray(innocent)
    drop_cut = _lowest_cut(innocent_scores, max_false_drop)
    review_cut = min(drop_cut, _lowest_cut(innocent_scores, max_false_review))
    report = _report(dev, dev_best, dev_score, drop_cut, review_cut)
    report["ordinary_sentences"] = len(ordinary)
    if len(ordinary_vectors):
        _b, scores = _claim_scores(provisional, ordinary_vectors)
        report["ordinary_false_drop"] = float(np.mean(scores >= drop_cut))
        report["ordinary_false_review"] = float(np.mean((scores >= review_cut) & (scores < drop_cut)))
    x_all = np.stack([vectors[it.id] for it in items])
    weights, bias = _fit(x_all, [it.label for it in items], c)
    meta = {
        "examples": len(items),
        "per_label": dict(Counter(it.label for it in items)),
        "held_out": report,
        "c": c,
    }
    return ClaimModel(weights, bias, LABELS, drop_cut, review_cut, embedder, meta), report


def _report(
    dev: Sequence[Labelled], best: np.ndarray, score: np.ndarray, drop_cut: float, review_cut: float
) -> dict[str, Any]:
    per_label: dict[str, dict[str, float]] = {}
    for label in LABELS:
        idx = [i for i, it in enumerate(dev) if it.label == label]
        if not idx:
            continue
        if label == "none":
            per_label[label] = {
                "n": len(idx),
                "false_drop": float(np.mean([score[i] >= drop_cut for i in idx])),
                "false_review": float(np.mean([review_cut <= score[i] < drop_cut for i in idx])),
            }
        else:
            per_label[label] = {
                "n": len(idx),
                "flagged": float(np.mean([score[i] >= review_cut for i in idx])),
                "dropped": float(np.mean([score[i] >= drop_cut for i in idx])),
                "label_right": float(np.mean([LABELS[int(best[i])] == label for i in idx])),
            }
    claims = [i for i, it in enumerate(dev) if it.label != "none"]
    return {
        "dev_sentences": len(dev),
        "drop_cut": drop_cut,
        "review_cut": review_cut,
        "claim_flagged": float(np.mean([score[i] >= review_cut for i in claims])) if claims else 0.0,
        "claim_dropped": float(np.mean([score[i] >= drop_cut for i in claims])) if claims else 0.0,
        "per_label": per_label,
    }


__all__ = ["Labelled", "load_labelled", "train_claims"]
