"""Training the intent model from the labelled data files (`anchor router train`).

Data: ``data/intents/train/*.jsonl`` (what the model learns from) and ``data/intents/dev/*.jsonl`` (held
out: the temperature and the thresholds are chosen on it, and its figures are reported), one message a line:
``{"text": …, "intent": …, "lang": "zh"|"en", "channel": "chat"|"live"}``. A merchant's corrections from the
agent console are added to the training part. Every training message also yields one noisy copy (pinyin,
abbreviations, typos, an order number, no punctuation …; `agent.understanding.augment`), seeded, so training is
deterministic: the same files give the same artefact.

The classifier is scikit-learn's multinomial logistic regression over [sentence vector · a, n-grams · b, cues · c];
prediction needs only numpy (`agent.understanding.model`).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import numpy as np

from agent.textnorm import normalize_message
from agent.training_guard import generated_reason
from agent.understanding.augment import augment
from agent.understanding.features import CUES, HASH_BUCKETS, bucket_counts, cue_names, cue_vector, fold
from agent.understanding.intents import AFTER_SALES_INTENTS, INTENTS, Intent, is_intent
from agent.understanding.model import IntentModel, IntentPrediction, Thresholds

DATA_DIR = Path(__file__).resolve().parent / "data" / "intents"

Embed = Callable[[Sequence[str]], np.ndarray]
Progress = Callable[[str], None]


class TrainingDataError(ValueError):
    """A data file that cannot be used: the message names the file, the line and the reason."""


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled message."""

    text: str
    intent: Intent
    lang: str = ""
    channel: str = "chat"
    source: str = ""


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Hyper-parameters, chosen by cross-validation on the training data and checked on dev."""

    dense_scale: float = 1.0
    sparse_scale: float = 1.0
    cue_scale: float = 0.3
    c: float = 8.0
    augment_copies: int = 1
    seed: int = 7
    max_iter: int = 3000


@dataclass(slots=True)
class TrainResult:
    model: IntentModel
    seconds: float
    train_counts: dict[str, int]
    dev_counts: dict[str, int]
    dev_metrics: dict[str, Any] = field(default_factory=dict)


def load_examples(paths: Iterable[Path]) -> list[Example]:
    """Read labelled JSONL files.

    Raises:
        TrainingDataError: a line that is not JSON, has no text, or names an unknown intent.
    """
    examples: list[Example] = []
    for path in paths:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise TrainingDataError(f"{path}: cannot be read ({exc})") from exc
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            if (why := generated_reason(line)) is not None:
                raise TrainingDataError(f"{path} line {number}: refused for training: {why}")
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TrainingDataError(f"{path} line {number}: not JSON ({exc.msg})") from exc
            if not isinstance(row, dict):
                raise TrainingDataError(f"{path} line {number}: expected an object")
            if (why := generated_reason("", row)) is not None:
                raise TrainingDataError(f"{path} line {number}: refused for training: {why}")
            text = row.get("text")
            intent = row.get("intent")
            if not isinstance(text, str) or not text.strip():
                raise TrainingDataError(f"{path} line {number}: 'text' is missing or empty")
            if not is_intent(intent):
                raise TrainingDataError(
                    f"{path} line {number}: intent {intent!r} is not one of: {', '.join(INTENTS)}"
                )
            examples.append(
                Example(
                    text=text,
                    intent=cast(Intent, intent),
                    lang=str(row.get("lang") or ""),
                    channel=str(row.get("channel") or "chat"),
                    source=path.name,
                )
            )
    return examples


def data_files(data_dir: Path = DATA_DIR) -> tuple[list[Path], list[Path]]:
    """The training and the dev files under a data directory."""
    train = sorted((data_dir / "train").glob("*.jsonl"))
    dev = sorted((data_dir / "dev").glob("*.jsonl"))
    if not train:
        raise TrainingDataError(f"no training files in {data_dir / 'train'} (*.jsonl)")
    return train, dev


def _idf(rows: Sequence[dict[int, int]]) -> np.ndarray:
    df = np.zeros(HASH_BUCKETS, dtype=np.float64)
    for counts in rows:
        df[list(counts)] += 1.0
    n = max(1, len(rows))
    return np.log((1.0 + n) / (1.0 + df)).astype(np.float32) + 1.0


def _design(texts: Sequence[str], vectors: np.ndarray, idf: np.ndarray, config: TrainConfig) -> Any:
    from scipy import sparse

    data: list[float] = []
    indices: list[int] = []
    indptr = [0]
    cues = np.zeros((len(texts), len(CUES)), dtype=np.float32)
    for i, text in enumerate(texts):
        folded = fold(text)
        counts = bucket_counts(folded)
        if counts:
            idx = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
            values = (1.0 + np.log(tf)) * idf[idx]
            norm = float(np.linalg.norm(values)) or 1.0
            indices.extend(idx.tolist())
            data.extend((values / norm).tolist())
        indptr.append(len(indices))
        cues[i] = cue_vector(cue_names(text, folded))
    grams = sparse.csr_matrix((data, indices, indptr), shape=(len(texts), HASH_BUCKETS), dtype=np.float64)
    return sparse.hstack(
        [
            sparse.csr_matrix(vectors.astype(np.float64) * config.dense_scale),
            grams * config.sparse_scale,
            sparse.csr_matrix(cues.astype(np.float64) * config.cue_scale),
        ],
        format="csr",
    )


def _fit(
    texts: Sequence[str], vectors: np.ndarray, labels: Sequence[str], config: TrainConfig, embedder: str
) -> IntentModel:
    from sklearn.linear_model import LogisticRegression

    idf = _idf([bucket_counts(fold(t)) for t in texts])
    x = _design(texts, vectors, idf, config)
    classes: list[str] = [i for i in INTENTS if i in set(labels)]
    clf = LogisticRegression(C=config.c, max_iter=config.max_iter, class_weight="balanced")
    clf.fit(x, np.array([classes.index(label) for label in labels]))
    coef = np.asarray(clf.coef_, dtype=np.float32)
    dim = vectors.shape[1]
    return IntentModel(
        labels=tuple(cast(Intent, c) for c in classes),
        w_dense=coef[:, :dim],
        w_sparse=coef[:, dim : dim + HASH_BUCKETS],
        w_cue=coef[:, dim + HASH_BUCKETS :],
        bias=np.asarray(clf.intercept_, dtype=np.float32),
        idf=idf,
        dense_scale=config.dense_scale,
        sparse_scale=config.sparse_scale,
        cue_scale=config.cue_scale,
        temperature=1.0,
        thresholds=Thresholds(),
        embedder=embedder,
    )


def fit_temperature(logits: np.ndarray, targets: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of held-out predictions."""
    best_t, best_nll = 1.0, float("inf")
    for t in np.exp(np.linspace(np.log(0.25), np.log(4.0), 61)):
        z = logits / t
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        nll = float(-logp[np.arange(len(targets)), targets].mean())
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    return best_t


def choose_thresholds(preds: Sequence[IntentPrediction], gold: Sequence[str]) -> Thresholds:
    """Thresholds from held-out predictions.

    `after_sales` is the P(after-sales) cut with the best after-sales recall − 2 × pre-sale false
    escalation (a missed problem is bad, a shopper wrongly sent to a queue is worse); ties go to the cut
    nearest 0.5. `unsure` is where 2 % of the other messages would start to be asked a question (never
    closer than 0.05 below the cut); `handoff` as in `_handoff_cut`.
    """
    p_as = np.array([sum(p.probs.get(i, 0.0) for i in AFTER_SALES_INTENTS) for p in preds])
    is_as = np.array([g in AFTER_SALES_INTENTS for g in gold])
    if not is_as.any() or is_as.all():
        return Thresholds()
    cuts = np.round(np.linspace(0.2, 0.8, 61), 3)
    scores = [
        (float((p_as[is_as] >= c).mean()) - 2.0 * float((p_as[~is_as] >= c).mean()), -abs(c - 0.5), float(c))
        for c in cuts
    ]
    chosen = max(scores)[2]
    negatives = np.sort(p_as[~is_as])
    quantile = float(negatives[int(0.98 * (len(negatives) - 1))])
    unsure = min(chosen - 0.05, max(0.15, quantile))
    handoff = _handoff_cut(preds, gold)
    return Thresholds(after_sales=round(chosen, 3), unsure=round(unsure, 3), handoff=round(handoff, 3))


def _handoff_cut(preds: Sequence[IntentPrediction], gold: Sequence[str]) -> float:
    """The P(handoff_request) cut, in 0.15–0.5, honoured even when another intent is on top.

    Chosen for hand-off recall − 3 × the share of other messages it would hand off (a request for a person
    that goes unheard is the complaint users make most; a shopper sent to a queue for nothing costs a
    person's time); ties go to the higher cut.
    """
    p_handoff = np.array([p.probs.get("handoff_request", 0.0) for p in preds])
    is_handoff = np.array([g == "handoff_request" for g in gold])
    if not is_handoff.any() or is_handoff.all():
        return 0.3
    top_is_handoff = np.array([p.top(1)[0][0] == "handoff_request" for p in preds])
    best: tuple[float, float] = (-np.inf, 0.3)
    for cut in np.round(np.linspace(0.15, 0.5, 36), 3):
        fires = top_is_handoff | (p_handoff >= cut)
        score = float(fires[is_handoff].mean()) - 3.0 * float(fires[~is_handoff].mean())
        if score >= best[0]:
            best = (score, float(cut))
    return best[1]


def _digest(paths: Sequence[Path], extra: Sequence[Example]) -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    for ex in extra:
        h.update(f"{ex.text}\x00{ex.intent}\n".encode())
    return h.hexdigest()


def train(
    embed: Embed,
    *,
    embedder: str,
    data_dir: Path = DATA_DIR,
    extra: Sequence[Example] = (),
    config: TrainConfig | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Train, calibrate on dev, and return the model (not yet saved).

    Args:
        embed: texts → L2-normalised sentence vectors (the default embedder's).
        embedder: the embedder's name, recorded in the artefact.
        data_dir: where ``train/`` and ``dev/`` are.
        extra: more training examples (a merchant's corrections).
        config: hyper-parameters.
        progress: told what is happening, step by step.
    """
    config = config or TrainConfig()
    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    train_files, dev_files = data_files(data_dir)
    base = load_examples(train_files)
    dev = load_examples(dev_files)
    examples = [*base, *extra]
    noisy = augment(examples, copies=config.augment_copies, seed=config.seed)
    texts = [normalize_message(e.text) or e.text for e in [*examples, *noisy]]
    labels = [e.intent for e in [*examples, *noisy]]
    say(f"embedding {len(texts)} training messages ({len(examples)} written, {len(noisy)} noisy copies)")
    vectors = embed(texts)
    say("fitting the classifier")
    model = _fit(texts, vectors, labels, config, embedder)
    dev_metrics: dict[str, Any] = {}
    if dev:
        say(f"calibrating on {len(dev)} dev messages")
        dev_texts = [normalize_message(e.text) or e.text for e in dev]
        dev_vectors = embed(dev_texts)
        logits = np.stack([model.logits(t, v)[0] for t, v in zip(dev_texts, dev_vectors, strict=True)])
        known = [i for i, e in enumerate(dev) if e.intent in model.labels]
        targets = np.array([model.labels.index(dev[i].intent) for i in known])
        model.temperature = fit_temperature(logits[known], targets)
        preds = model.predict_many(dev_texts, dev_vectors)
        model.thresholds = choose_thresholds(preds, [e.intent for e in dev])
        dev_metrics = {
            "accuracy": round(
                float(np.mean([p.top(1)[0][0] == e.intent for p, e in zip(preds, dev, strict=True)])), 4
            ),
            "n": len(dev),
        }
    seconds = time.perf_counter() - started
    digest = _digest([*train_files, *dev_files], extra)
    model.meta = {
        "version": f"intents-{datetime.now(UTC):%Y%m%d}-{digest[:10]}",
        "data_sha256": digest,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "train_files": [p.name for p in train_files],
        "dev_files": [p.name for p in dev_files],
        "examples": len(examples),
        "noisy_copies": len(noisy),
        "corrections": len(extra),
        "config": {
            "dense_scale": config.dense_scale,
            "sparse_scale": config.sparse_scale,
            "cue_scale": config.cue_scale,
            "c": config.c,
            "augment_copies": config.augment_copies,
            "seed": config.seed,
        },
        "dev": dev_metrics,
        "train_seconds": round(seconds, 1),
    }
    return TrainResult(
        model=model,
        seconds=seconds,
        train_counts=dict(Counter(e.intent for e in examples)),
        dev_counts=dict(Counter(e.intent for e in dev)),
        dev_metrics=dev_metrics,
    )
