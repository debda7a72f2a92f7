"""`anchor eval compliance` (recall and false flags of the compliance check on corpora) and `anchor eval
claims --train` (the claim classifier)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from api.cli.catalog import fail
from api.cli.evals import eval_app

console = Console()
ROOT = Path(__file__).resolve().parents[2]
TEAM_RECALL = ROOT / "tests" / "data" / "compliance" / "recall.jsonl"
TEAM_PRECISION = ROOT / "tests" / "data" / "compliance" / "precision.jsonl"


def _embedder() -> Any:
    from knowledge.embedders import UseEmbedder

    return UseEmbedder()


@eval_app.command("compliance")
def compliance_command(
    violations: Annotated[
        list[Path] | None,
        typer.Option("--violations", help="Violating sentences (JSONL; default: the team's)"),
    ] = None,
    ordinary: Annotated[
        list[Path] | None, typer.Option("--ordinary", help="Ordinary sentences (JSONL; default: the team's)")
    ] = None,
    claims: Annotated[
        bool, typer.Option("--claims/--no-claims", help="Also run the claim classifier")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
    misses: Annotated[int, typer.Option(help="Print up to N misses and false flags")] = 0,
    out: Annotated[Path | None, typer.Option(help="Also write every judged sentence here (JSONL)")] = None,
) -> None:
    """Recall of the compliance check on violating sentences and its false flags on ordinary ones: the word
    base alone, the claim classifier alone, and both. "changed" = rewritten or dropped; "flagged" also counts
    "review" findings. A public word list's entries (with `word` and `ordinary_in_most_contexts`) can be
    given as --violations."""
    from evals.compliance_eval import judge, load_corpus, summarise

    violation_files = violations or ([TEAM_RECALL] if violations is None and ordinary is None else [])
    ordinary_files = ordinary or ([TEAM_PRECISION] if violations is None and ordinary is None else [])
    try:
        bad = [s for f in violation_files for s in load_corpus(f, violating=True)]
        good = [s for f in ordinary_files for s in load_corpus(f, violating=False)]
    except (OSError, ValueError) as exc:
        raise fail(str(exc), 2) from exc
    if not bad and not good:
        raise fail("no sentences to score", 2)
    embed = _embedder().embed if claims else None
    result: dict[str, Any] = {}
    rows_all: list[dict[str, Any]] = []
    for name, sentences in (("violations", bad), ("ordinary", good)):
        if not sentences:
            continue
        rows = judge(sentences, embed)
        rows_all.extend(rows)
        if name == "violations" and any(s.ordinary_word for s in sentences):
            result["violations (not ordinary words)"] = summarise([r for r in rows if not r["ordinary_word"]])
            result["violations (ordinary words)"] = summarise([r for r in rows if r["ordinary_word"]])
        else:
            result[name] = summarise(rows)
    if out is not None:
        out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows_all), encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    methods = [m for m in ("words", "claims", "combined") if m == "words" or claims]
    table = Table(
        title="Compliance check, % of sentences changed (rewritten or dropped), and in brackets flagged "
        "(changed or left for review)"
    )
    table.add_column("corpus")
    table.add_column("slice")
    table.add_column("n", justify="right")
    for method in methods:
        table.add_column(method, justify="right")
    for corpus, summary in result.items():
        for slice_name, stats in [("all", summary["all"]), *summary["languages"].items()]:
            cells = [f"{100 * stats[m]['changed']:.1f} ({100 * stats[m]['flagged']:.1f})" for m in methods]
            table.add_row(corpus, slice_name, str(stats["n"]), *cells)
    console.print(table)
    if misses:
        shown = 0
        for row in rows_all:
            method = "combined" if claims else "words"
            wrong = (row["violating"] and not row[method]) or (
                not row["violating"] and row[method] == "change"
            )
            if wrong and shown < misses:
                kind = "missed" if row["violating"] else "false flag"
                console.print(f"  {kind} [{row['group']}] {row['text']}", markup=False, highlight=False)
                shown += 1


@eval_app.command("claims")
def claims_command(
    train: Annotated[
        bool, typer.Option("--train", help="Fit the claim classifier and write the model")
    ] = False,
    data: Annotated[Path | None, typer.Option(help="Labelled sentences (default: the packaged ones)")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Where --train writes the model (default: packaged)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
) -> None:
    """The claim classifier: its held-out figures (and with --train, fit it on the team's labelled
    sentences; the cuts are chosen on a held-out part and the team's precision corpus)."""
    from agent.compliance.claims import PACKAGED_MODEL, TRAINING_DATA, ClaimModel, ClaimModelError
    from agent.compliance.claims_train import load_labelled, train_claims
    from evals.compliance_eval import load_corpus

    if not train:
        try:
            model = ClaimModel.load(out or PACKAGED_MODEL)
        except ClaimModelError as exc:
            raise fail(str(exc), 2) from exc
        report = model.meta.get("held_out", {})
        payload = {"drop_cut": model.drop_cut, "review_cut": model.review_cut, **model.meta}
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2)) if as_json else _print_claims(report)
        return
    try:
        items = load_labelled(data or TRAINING_DATA)
        ordinary = (
            [s.text for s in load_corpus(TEAM_PRECISION, violating=False)] if TEAM_PRECISION.is_file() else []
        )
    except (OSError, ValueError) as exc:
        raise fail(str(exc), 2) from exc
    embedder = _embedder()
    with console.status(f"embedding {len(items) + len(ordinary)} sentences and fitting"):
        model, report = train_claims(items, embedder.embed, embedder=embedder.name, ordinary=ordinary)
    target = out or PACKAGED_MODEL
    model.save(target)
    if as_json:
        typer.echo(json.dumps({"path": str(target), **report}, ensure_ascii=False, indent=2))
        return
    _print_claims(report)
    console.print(f"model written to {target} (drop ≥ {model.drop_cut}, review ≥ {model.review_cut})")


def _print_claims(report: dict[str, Any]) -> None:
    table = Table(
        title=f"claim classifier, held out ({report.get('dev_sentences', 0)} sentences; rates in %)"
    )
    for column in ("label", "n", "flagged", "dropped", "label right", "false drop", "false review"):
        table.add_column(column, justify="right" if column != "label" else "left")
    for label, stats in report.get("per_label", {}).items():

        def pct(key: str, s: dict[str, Any] = stats) -> str:
            return f"{100 * s[key]:.1f}" if key in s else "–"

        table.add_row(
            label,
            str(stats["n"]),
            pct("flagged"),
            pct("dropped"),
            pct("label_right"),
            pct("false_drop"),
            pct("false_review"),
        )
    console.print(table)
    if "ordinary_false_drop" in report:
        console.print(
            f"team precision corpus ({report['ordinary_sentences']} sentences): false drop "
            f"{100 * report['ordinary_false_drop']:.2f}%, false review {100 * report['ordinary_false_review']:.2f}%"
        )


__all__ = ["claims_command", "compliance_command"]
