"""The trained intent model: a linear classifier over a message's sentence vector, its hashed character
n-grams and a few cues, with a calibrated temperature and the thresholds chosen on held-out data.

The artefact is one ``.npz`` file (arrays plus a JSON header): no pickle, so loading it runs no code, and
the same file gives the same probabilities on every machine. `anchor router train` writes it
(`agent.understanding.train`); `IntentModel.load` reads and checks it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agent.understanding.features import CUES, HASH_BUCKETS, cue_names, cue_vector, fold, sparse_row
from agent.understanding.intents import INTENTS, Intent, is_intent

FORMAT = "live-anchor-intents/1"
PACKAGED_MODEL = Path(__file__).resolve().parent / "models" / "intents.npz"
REBUILD_HINT = "rebuild it with `anchor router train` (it reads agent/understanding/data/intents/)"


class ModelArtefactError(RuntimeError):
    """The model file is missing, unreadable or of another format; the message says how to rebuild it."""


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When the router acts on a prediction, asks, or stays silent.

    Attributes:
        after_sales: P(any after-sales intent) at or above which the message goes to a person.
        unsure: P(after-sales) at or above which (and below `after_sales`) the bot asks whether the message
            is about a product or an order already placed, instead of guessing.
        handoff: P(handoff_request) at or above which a request for a person is honoured even when another
            intent is on top (asking for a person is never refused).
    """

    after_sales: float = 0.5
    unsure: float = 0.3
    handoff: float = 0.3

    def to_dict(self) -> dict[str, float]:
        return {
            "after_sales": self.after_sales,
            "unsure": self.unsure,
            "handoff": self.handoff,
        }


@dataclass(frozen=True, slots=True)
class IntentPrediction:
    """Calibrated probabilities of every intent for one message, and the cues that fired."""

    probs: dict[Intent, float]
    cues: tuple[str, ...]

    def top(self, n: int = 3) -> list[tuple[Intent, float]]:
        return sorted(self.probs.items(), key=lambda kv: (-kv[1], INTENTS.index(kv[0])))[:n]


@dataclass(slots=True)
class IntentModel:
    """Weights, scales and thresholds of one trained intent model."""

    labels: tuple[Intent, ...]
    w_dense: np.ndarray  # (K, D)
    w_sparse: np.ndarray  # (K, HASH_BUCKETS)
    w_cue: np.ndarray  # (K, len(CUES))
    bias: np.ndarray  # (K,)
    idf: np.ndarray  # (HASH_BUCKETS,)
    dense_scale: float
    sparse_scale: float
    cue_scale: float
    temperature: float
    thresholds: Thresholds
    embedder: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "unversioned"))

    @property
    def dim(self) -> int:
        return int(self.w_dense.shape[1])

    # -- prediction ----------------------------------------------------------------------------
    def logits(self, text: str, vector: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
        folded = fold(text)
        row = sparse_row(folded, self.idf)
        cues = cue_names(text, folded)
        z = self.bias.astype(np.float64).copy()
        z += self.dense_scale * (self.w_dense @ np.asarray(vector, dtype=np.float32))
        if row.indices.size:
            z += self.sparse_scale * (self.w_sparse[:, row.indices] @ row.values)
        z += self.cue_scale * (self.w_cue @ cue_vector(cues))
        return z, tuple(cues)

    def predict(self, text: str, vector: np.ndarray) -> IntentPrediction:
        """Probabilities for one message, given its (L2-normalised) sentence vector."""
        z, cues = self.logits(text, vector)
        return IntentPrediction(_softmax(z / self.temperature, self.labels), cues)

    def predict_many(self, texts: Sequence[str], vectors: np.ndarray) -> list[IntentPrediction]:
        return [self.predict(t, v) for t, v in zip(texts, vectors, strict=True)]

    # -- storage -------------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Write the artefact atomically (a temporary file renamed over the old one)."""
        header = {
            "format": FORMAT,
            "labels": list(self.labels),
            "dense_scale": self.dense_scale,
            "sparse_scale": self.sparse_scale,
            "cue_scale": self.cue_scale,
            "temperature": self.temperature,
            "thresholds": self.thresholds.to_dict(),
            "embedder": self.embedder,
            "cues": list(CUES),
            "hash_buckets": HASH_BUCKETS,
            "meta": self.meta,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as fh:
            np.savez_compressed(
                fh,
                header=np.array(json.dumps(header, ensure_ascii=False, sort_keys=True)),
                w_dense=self.w_dense.astype(np.float32),
                w_sparse=self.w_sparse.astype(np.float32),
                w_cue=self.w_cue.astype(np.float32),
                bias=self.bias.astype(np.float32),
                idf=self.idf.astype(np.float32),
            )
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path | None = None) -> IntentModel:
        """Read an artefact (the packaged one by default).

        Raises:
            ModelArtefactError: missing, unreadable, of another format or inconsistent; the message names
                the file and how to rebuild it.
        """
        path = path or PACKAGED_MODEL
        if not path.is_file():
            raise ModelArtefactError(f"intent model {path} is missing; {REBUILD_HINT}")
        try:
            with np.load(path, allow_pickle=False) as data:
                header = json.loads(str(data["header"]))
                if not isinstance(header, dict) or header.get("format") != FORMAT:
                    found = header.get("format") if isinstance(header, dict) else None
                    raise ModelArtefactError(
                        f"intent model {path} is of format {found!r}, expected {FORMAT!r}; {REBUILD_HINT}"
                    )
                arrays = {k: np.asarray(data[k]) for k in ("w_dense", "w_sparse", "w_cue", "bias", "idf")}
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
            raise ModelArtefactError(f"intent model {path} cannot be read ({exc}); {REBUILD_HINT}") from exc
        labels = header.get("labels") or []
        k = len(labels)
        shapes_ok = (
            all(is_intent(label) for label in labels)
            and header.get("cues") == list(CUES)
            and header.get("hash_buckets") == HASH_BUCKETS
            and arrays["w_sparse"].shape == (k, HASH_BUCKETS)
            and arrays["w_cue"].shape == (k, len(CUES))
            and arrays["w_dense"].ndim == 2
            and arrays["w_dense"].shape[0] == k
            and arrays["bias"].shape == (k,)
            and arrays["idf"].shape == (HASH_BUCKETS,)
        )
        if not shapes_ok:
            raise ModelArtefactError(f"intent model {path} does not fit this code's features; {REBUILD_HINT}")
        return cls(
            labels=tuple(labels),
            w_dense=arrays["w_dense"].astype(np.float32),
            w_sparse=arrays["w_sparse"].astype(np.float32),
            w_cue=arrays["w_cue"].astype(np.float32),
            bias=arrays["bias"].astype(np.float32),
            idf=arrays["idf"].astype(np.float32),
            dense_scale=float(header["dense_scale"]),
            sparse_scale=float(header["sparse_scale"]),
            cue_scale=float(header["cue_scale"]),
            temperature=float(header["temperature"]),
            thresholds=Thresholds(**header["thresholds"]),
            embedder=str(header["embedder"]),
            meta=dict(header.get("meta") or {}),
        )


def _softmax(z: np.ndarray, labels: Sequence[Intent]) -> dict[Intent, float]:
    shifted = z - float(np.max(z))
    e = np.exp(shifted)
    p = e / float(e.sum())
    return {label: float(p[i]) for i, label in enumerate(labels)}
