"""Claims without a listed word: a sentence-level classifier over the embedder's sentence vectors.

"敷完第二天痘痘就消了", "一点副作用都没有", "this will change your skin in a week" carry no word of the word base.
`ClaimModel` is a multinomial logistic model over the multilingual sentence vector that reads a sentence as one
of `LABELS` (a kind of claim, or "none"). It is trained on sentences the team labelled
(`agent/compliance/data/claims_train.jsonl`; `anchor eval claims --train`), with two cuts chosen on a held-out
part of them: above `drop_cut` the claim is dropped like a word rule's, between `review_cut` and `drop_cut` it
is reported for a person ("review") and left as it is. When a word rule fires in a sentence, the word rule
decides and the classifier adds nothing there.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from agent.compliance.checker import RULE_IDS, Finding
from agent.compliance.enforce import split_sentences
from agent.compliance.wordbase import CATEGORIES

DATA_DIR = Path(__file__).with_name("data")
PACKAGED_MODEL = DATA_DIR / "claims_model.npz"
TRAINING_DATA = DATA_DIR / "claims_train.jsonl"

LABELS: tuple[str, ...] = (
    "none",
    "efficacy",
    "guarantee",
    "ranking",
    "endorsement",
    "investment",
    "superstition",
    "inducement",
)
#: The word base category a claim is reported under, and the article it breaks (zh, en).
CATEGORY_OF: dict[str, str] = {
    "efficacy": "health_efficacy",
    "guarantee": "guarantee",
    "ranking": "superlative",
    "endorsement": "authority",
    "investment": "investment",
    "superstition": "superstition",
    "inducement": "inducement",
}
ARTICLES: dict[str, tuple[str, str]] = {
    "efficacy": ("广告法第十七条（功效、疗效表述）", "FTC Health Products Compliance Guidance; CAP 12.1"),
    "guarantee": ("广告法第二十八条（保证性承诺）", "FTC Act §5 (guaranteed results)"),
    "ranking": ("广告法第九条第三项（变相绝对化用语）", "CAP 3.7, 3.33 (unsubstantiated superiority)"),
    "endorsement": ("广告法第九条第二项、第十六条（借名背书）", "FTC Endorsement Guides (16 CFR 255)"),
    "investment": ("广告法第二十五条（收益承诺）", "FTC Act §5; CAP 14"),
    "superstition": ("广告法第九条第八项（迷信）", "CAP 3.1"),
    "inducement": ("网络直播营销管理办法（试行）第十八条（诱导）", "CAP 8; FTC Act §5"),
}

Embed = Callable[[Sequence[str]], np.ndarray]


class ClaimModelError(ValueError):
    """A claim model file that cannot be used."""


@dataclass(frozen=True, slots=True)
class ClaimModel:
    """Weights (labels × dimensions), bias per label, and the two cuts on a claim label's probability."""

    weights: np.ndarray
    bias: np.ndarray
    labels: tuple[str, ...]
    drop_cut: float
    review_cut: float
    embedder: str
    meta: dict[str, Any]

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        z = vectors @ self.weights.T + self.bias
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return np.asarray(e / e.sum(axis=1, keepdims=True), dtype=np.float64)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            **self.meta,
            "labels": list(self.labels),
            "drop_cut": self.drop_cut,
            "review_cut": self.review_cut,
            "embedder": self.embedder,
        }
        with path.open("wb") as fh:
            np.savez(
                fh,
                weights=self.weights.astype(np.float32),
                bias=self.bias.astype(np.float32),
                meta=json.dumps(meta),
            )

    @classmethod
    def load(cls, path: Path) -> ClaimModel:
        try:
            with np.load(path, allow_pickle=False) as data:
                weights = np.asarray(data["weights"], dtype=np.float64)
                bias = np.asarray(data["bias"], dtype=np.float64)
                meta = json.loads(str(data["meta"]))
        except (OSError, KeyError, ValueError) as exc:
            raise ClaimModelError(f"{path}: cannot read the claim model ({exc})") from exc
        labels = tuple(meta.get("labels", []))
        if labels != LABELS or weights.shape[0] != len(LABELS) or bias.shape != (len(LABELS),):
            raise ClaimModelError(
                f"{path}: the model's labels do not match; retrain with `anchor eval claims --train`"
            )
        return cls(
            weights=weights,
            bias=bias,
            labels=labels,
            drop_cut=float(meta["drop_cut"]),
            review_cut=float(meta["review_cut"]),
            embedder=str(meta.get("embedder", "")),
            meta={k: v for k, v in meta.items() if k not in {"labels", "drop_cut", "review_cut", "embedder"}},
        )


@cache
def packaged_claim_model() -> ClaimModel:
    return ClaimModel.load(PACKAGED_MODEL)


def read_claims(
    sentences: Sequence[str], embed: Embed, model: ClaimModel | None = None
) -> list[tuple[str, float]]:
    """(label, probability) of the most likely claim label per sentence ("none" when none is likelier)."""
    if not sentences:
        return []
    model = model or packaged_claim_model()
    vectors = np.asarray(embed(list(sentences)), dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = vectors / np.where(norms == 0, 1.0, norms)
    probs = model.probabilities(vectors)
    claim_columns = [i for i, label in enumerate(model.labels) if label != "none"]
    out: list[tuple[str, float]] = []
    for row in probs:
        best = max(claim_columns, key=lambda i: row[i])
        out.append((model.labels[best], float(row[best])))
    return out


#: Reads claims in one line: (line, language, the word findings there) → the classifier's findings.
ClaimReader = Callable[[str, str, Sequence[Finding]], list[Finding]]


def decided_by_words(start: int, end: int, word_findings: Sequence[Finding]) -> bool:
    """A word finding that changes text lies in [start, end): the word rule decides that sentence (a
    review finding decides nothing)."""
    return any(
        f.action != "review" and (start <= f.start < end or start < f.end <= end) for f in word_findings
    )


def claim_reader(embed: Embed, embedder: str) -> ClaimReader:
    """`claim_findings` over `embed` with the packaged model; raises `ClaimModelError` when the model is
    missing or was trained with another embedder than `embedder`."""
    model = packaged_claim_model()
    if model.embedder and model.embedder != embedder:
        raise ClaimModelError(f"the claim model was trained on {model.embedder}, the embedder is {embedder}")

    def read(line: str, language: str, word_findings: Sequence[Finding]) -> list[Finding]:
        return claim_findings(line, embed, language=language, word_findings=word_findings, model=model)

    return read


def claim_findings(
    text: str,
    embed: Embed,
    *,
    language: str,
    word_findings: Sequence[Finding] = (),
    model: ClaimModel | None = None,
) -> list[Finding]:
    """Findings of the classifier in `text`, one per sentence it reads as a claim, except in sentences
    where a word rule already fired (the word rule decides there)."""
    model = model or packaged_claim_model()
    spans = [
        (a, b)
        for a, b in split_sentences(text)
        if text[a:b].strip() and not decided_by_words(a, b, word_findings)
    ]
    if not spans:
        return []
    readings = read_claims([text[a:b].strip() for a, b in spans], embed, model)
    findings: list[Finding] = []
    for (a, b), (label, probability) in zip(spans, readings, strict=True):
        if probability < model.review_cut:
            continue
        action = "drop_sentence" if probability >= model.drop_cut else "review"
        category = CATEGORY_OF[label]
        zh_label, en_label = CATEGORIES[category]
        article = ARTICLES[label][0 if language == "zh" else 1]
        sentence = text[a:b].strip()
        start = a + (len(text[a:b]) - len(text[a:b].lstrip()))
        if language == "zh":
            reason = f"这句话读起来是{zh_label}（{article}），把握 {probability:.0%}" + (
                "，不得使用" if action == "drop_sentence" else "，请人工确认"
            )
        else:
            reason = f"this sentence reads as a {en_label} ({article}), {probability:.0%} sure" + (
                "; do not say it" if action == "drop_sentence" else "; a person should check it"
            )
        findings.append(
            Finding(
                rule=RULE_IDS[category],
                word=sentence,
                start=start,
                end=start + len(sentence),
                reason=reason,
                suggestion=None,
                severity="high" if action == "drop_sentence" else "review",
                action=action,  # type: ignore[arg-type]
                category=category,
                article=article,
                source=f"claims:{label}",
            )
        )
    return findings


__all__ = [
    "ARTICLES",
    "CATEGORY_OF",
    "LABELS",
    "ClaimModel",
    "ClaimModelError",
    "ClaimReader",
    "claim_findings",
    "claim_reader",
    "decided_by_words",
    "packaged_claim_model",
    "read_claims",
]
