"""The aspect matcher's line model: its file, its verdicts, and how it is trained (on features, no embedder)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.evidence import Citation
from agent.writers.matching import (
    FEATURES,
    PACKAGED_MODEL,
    LineModel,
    LineModelError,
    ScoredLine,
    packaged_model,
    verdict_of,
)
from evals.aspects_dev import AspectCase, Prepared, _fit
from evals.reference import Reference
from knowledge.models import Product


def _model(answer_cut: float, nearest_cut: float, margin_cut: float, meet_cut: float) -> LineModel:
    return LineModel(
        weights=tuple([1.0] * len(FEATURES)),
        bias=0.0,
        answer_cut=answer_cut,
        nearest_cut=nearest_cut,
        margin_cut=margin_cut,
        meet_cut=meet_cut,
    )


def test_packaged_model_reads_the_features_the_matcher_computes() -> None:
    model = packaged_model()
    assert json.loads(PACKAGED_MODEL.read_text(encoding="utf-8"))["features"] == list(FEATURES)
    assert len(model.weights) == len(FEATURES)
    assert 0 < model.nearest_cut <= model.answer_cut <= 1
    assert model.trained_on, "the packaged model says which dev sets it was trained on"


def test_model_file_round_trip(tmp_path: Path) -> None:
    model = _model(answer_cut=0.8, nearest_cut=0.4, margin_cut=0.3, meet_cut=0.6)
    path = tmp_path / "m.json"
    model.save(path)
    loaded = LineModel.load(path)
    assert loaded.answer_cut == 0.8
    assert loaded.meet_cut == 0.6
    assert loaded.margin_cut == 0.3
    assert loaded.weights == model.weights


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("not json", "cannot read"),
        (json.dumps({"features": ["cos_line"], "weights": [1], "bias": 0}), "other features"),
        (
            json.dumps({"features": list(FEATURES), "weights": [1.0] * len(FEATURES), "bias": 0}),
            "malformed",
        ),
        (
            json.dumps(
                {
                    "features": list(FEATURES),
                    "weights": [1.0] * len(FEATURES),
                    "bias": 0,
                    "answer_cut": 0.3,
                    "nearest_cut": 0.6,
                }
            ),
            "out of order",
        ),
    ],
)
def test_a_bad_model_file_is_refused_naming_the_file(tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "line_model.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(LineModelError) as err:
        LineModel.load(path)
    assert str(path) in str(err.value)
    assert reason in str(err.value)


def test_verdicts_cuts_margin_and_aspect_meets() -> None:
    model = _model(answer_cut=0.8, nearest_cut=0.4, margin_cut=0.3, meet_cut=0.6)
    assert verdict_of(0.85, 0.8, False, model) == "answer"
    assert verdict_of(0.7, 0.5, False, model) == "unsure"  # under the cut, close to the next line
    assert verdict_of(0.7, 0.3, False, model) == "answer"  # the margin rule
    assert verdict_of(0.65, 0.6, True, model) == "answer"  # the vocabulary says it is the asked aspect
    assert verdict_of(0.3, 0.0, True, model) == "absent"


def _line(text: str, features: tuple[float, ...]) -> ScoredLine:
    field = "attributes" if ": " in text else "description"
    return ScoredLine(
        text, Citation(sku="P", field=field), 0.0, features[0], 0.0, frozenset(), frozenset(), features
    )


def _features(closeness: float) -> tuple[float, ...]:
    values = dict.fromkeys(FEATURES, 0.0)
    values.update(cos_line=closeness, cos_key=closeness, is_attribute=1.0)
    return tuple(values[name] for name in FEATURES)


def test_training_learns_from_features_and_does_not_depend_on_line_order() -> None:
    product = Product.from_dict(
        {
            "sku": "P",
            "title": "Jar",
            "price": "10",
            "currency": "USD",
            "stock": 3,
            "attributes": {"Volume": "1.5 L", "Lid": "Bamboo", "Weight": "800 g"},
        }
    )
    ref = Reference(products={"P": product}, documents={})
    group: Prepared = []
    no_aspect: tuple[str, ...] = ()
    for i in range(30):
        lines = [
            _line("Volume: 1.5 L", _features(0.6 + 0.01 * (i % 5))),
            _line("Lid: Bamboo", _features(0.2)),
            _line("Weight: 800 g", _features(0.25)),
        ]
        group.append((AspectCase(f"a{i}", "how much does it hold", "P", "Volume"), lines, no_aspect))
        unstated = [_line("Lid: Bamboo", _features(0.3)), _line("Weight: 800 g", _features(0.28))]
        group.append((AspectCase(f"u{i}", "where is it made", "P", None), unstated, no_aspect))
    model = _fit([(group, ref)], ["synthetic"])
    assert model.weights[FEATURES.index("cos_line")] > 0
    flipped: Prepared = [(case, list(reversed(lines)), asked) for case, lines, asked in group]
    assert _fit([(flipped, ref)], ["synthetic"]) == model
