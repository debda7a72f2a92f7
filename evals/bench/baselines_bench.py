"""Side by side: the product against two Q&A systems a merchant might pick instead.

In one process, on the same single-turn evaluation questions (evals/datasets/answers_*.jsonl) and the
same demo catalog, with the same embedder:

- ``product``: the production pipeline in-process (`evals.runner.InProcessBackend` over a fresh data
  directory), with its default template writer — no LLM call;
- ``langchain_stuff``: a plain LangChain pipeline (FAISS + "stuff" chain + ``ChatOpenAI``), see
  evals.baselines_impl.langchain_stuff. Its model is a loopback fake that is NOT a language model: a
  deterministic extractive reader of the prompt it receives (evals.baselines_impl.extractive_llm), with
  the same fixed time to first token as the LLM-overhead benchmark. Its quality figures measure the
  retrieval plus an extractive answer, not what a real model would write;
- ``difflib_qa``: a local Q&A table matched with ``difflib`` (evals.baselines_impl.difflib_qa).

All three answers are scored by `evals.scoring.score_case` on the checks every system can be held to:
facts, refusal, the product the answer is about, required / forbidden words, numbers backed by the
cited sources, advertising-law compliance and PII on live. Routing, escalation (tickets), after-sales
category and clarifying questions are product features the baselines lack, so they are left out of the
comparison (the product's figures with every check are reported apart); after-sales requests that must
be handed to a person (a ticket) are skipped, as are cases left with no comparable check. The baselines see the question text only, no live-room link numbers or product-page
focus — the ``question_only`` subset compares on the cases that give none either. Ratios are
product / baseline.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from api.services import Services
from api.settings import Settings
from evals.baselines_impl import BaselineAnswer, DifflibQA
from evals.baselines_impl.common import short_name
from evals.baselines_impl.extractive_llm import BEHAVIOUR, extractive_reply
from evals.baselines_impl.langchain_stuff import LangChainStuffQA
from evals.bench.common import machine_info, percentiles
from evals.bench.llm_overhead_bench import FIRST_TOKEN_DELAY, TOKEN_DELAY
from evals.dataset import Case, load_cases
from evals.fakes import FakeOpenAIServer
from evals.metrics import rate, summarise
from evals.reference import Reference
from evals.runner import InProcessBackend, prepare_services, run_cases
from evals.scoring import CaseOutcome, Observed, score_case

DATASETS = Path(__file__).resolve().parents[1] / "datasets"
MERCHANT = "eval"
EMBEDDER = "use-multilingual"
QUICK_CASES = 80
SYSTEMS = ("product", "langchain_stuff", "difflib_qa")
#: Expectations only the product can meet; not part of the side-by-side checks.
PRODUCT_ONLY_CHECKS: dict[str, Any] = {"route": None, "escalate": None, "category": None, "clarify": None}
#: Metrics compared as product / baseline (higher is better for all but latency).
RATIO_METRICS = (
    "pass_rate",
    "fact_accuracy",
    "refusal_accuracy",
    "product_recall@1",
    "product_cited_or_named",
)

AnswerFn = Callable[[str], BaselineAnswer]


def dataset_files() -> list[Path]:
    return sorted(DATASETS.glob("answers_*.jsonl"))


def comparable(case: Case) -> Case:
    """The case with the product-only expectations removed."""
    return case.model_copy(update={"expect": case.expect.model_copy(update=PRODUCT_ONLY_CHECKS)})


def needs_handoff(case: Case) -> bool:
    """An after-sales request the answer must hand to a person (a ticket): no baseline can."""
    return bool(case.expect.escalate)


def has_comparable_check(case: Case) -> bool:
    """A case the baselines can be held to: no hand-off expected, and something left to check."""
    e = case.expect
    if needs_handoff(case):
        return False
    return bool(e.facts or e.refuse is not None or e.product or e.must_contain_any or e.must_not_contain)


def select_cases(cases: Sequence[Case], quick: bool) -> list[Case]:
    """Single-turn cases with a comparable check; quick: about `QUICK_CASES`, evenly across the files."""
    chosen = [c for c in cases if len(c.messages) == 1 and has_comparable_check(c)]
    if quick and len(chosen) > QUICK_CASES:
        step = len(chosen) / QUICK_CASES
        chosen = [chosen[int(i * step)] for i in range(QUICK_CASES)]
    return chosen


def run(*, quick: bool = False) -> dict[str, Any]:
    """The three systems on the evaluation questions; quality and latency side by side."""
    loaded = load_cases(dataset_files())
    cases = select_cases([lc.case for lc in loaded], quick)
    result = compare(cases, embedder_spec=EMBEDDER)
    result["quick"] = quick
    singles = [lc.case for lc in loaded if len(lc.case.messages) == 1]
    result["cases"]["selection"] = "single-turn cases with a comparable check" + (
        f", {QUICK_CASES} evenly spread over the datasets" if quick else ""
    )
    result["cases"]["single_turn_total"] = len(singles)
    result["cases"]["handoff_cases_skipped"] = sum(needs_handoff(c) for c in singles)
    return result


def compare(cases: Sequence[Case], *, embedder_spec: str = EMBEDDER) -> dict[str, Any]:
    """Run and score the product and both baselines on `cases`; the JSON-ready comparison."""
    with tempfile.TemporaryDirectory(prefix="baselines-bench-") as tmp:
        services = Services(Settings(data_dir=Path(tmp) / "var", embedder=embedder_spec))
        try:
            ref = prepare_services(services, MERCHANT)
            services.warm_up(MERCHANT)
            outcomes, full = _run_product(services, ref, cases)
            products = list(ref.products.values())
            documents = list(ref.documents.values())
            difflib_qa = DifflibQA.from_catalog(products, documents)
            outcomes["difflib_qa"] = _run_baseline(difflib_qa.answer, cases, ref)
            with FakeOpenAIServer(
                extractive_reply, first_token_delay=FIRST_TOKEN_DELAY, token_delay=TOKEN_DELAY
            ) as server:
                langchain = LangChainStuffQA(services.embedder, products, documents, base_url=server.base_url)
                langchain.warm_up()
                langchain.answer(cases[0].question)  # opens the connection, loads code paths
                outcomes["langchain_stuff"] = _run_baseline(langchain.answer, cases, ref)
                corpus_size = len(langchain.corpus)
        finally:
            services.close()
    systems = {name: system_summary(outcomes[name], ref) for name in SYSTEMS}
    question_only = [i for i, c in enumerate(cases) if c.room is None and c.focus_sku is None]
    subsets: dict[str, dict[str, Any]] = {
        "question_only": _subset(outcomes, ref, question_only),
        "lang:zh": _subset(outcomes, ref, [i for i, c in enumerate(cases) if c.lang == "zh"]),
        "lang:en": _subset(outcomes, ref, [i for i, c in enumerate(cases) if c.lang == "en"]),
    }
    full_metrics = summarise(full)
    return {
        "name": "baselines",
        "machine": machine_info(),
        "embedder": embedder_spec,
        "cases": {"n": len(cases), "datasets": [p.name for p in dataset_files()]},
        "systems_compared": {
            "product": "production pipeline in-process, default template writer (no LLM call)",
            "langchain_stuff": (
                f"FAISS ({corpus_size} documents, same embedder) + as_retriever(k=4) + "
                "create_stuff_documents_chain + ChatOpenAI against the loopback fake model"
            ),
            "difflib_qa": (
                f"{len(difflib_qa)} template Q&A pairs from the catalog, difflib.get_close_matches "
                f"cutoff {difflib_qa.cutoff}"
            ),
        },
        "fake_llm": {
            "is_real_llm": False,
            "behaviour": BEHAVIOUR,
            "first_token_delay_ms": FIRST_TOKEN_DELAY * 1000,
            "token_delay_ms": TOKEN_DELAY * 1000,
            "note": "langchain_stuff quality = retrieval + extractive answer; its latency includes the "
            "fake model's fixed first-token delay, the product's does not (no LLM call)",
        },
        "checks": "facts, refuse, product, must_contain_any, must_not_contain, grounding, compliance, "
        "pii (live); route/escalate/category/clarify left out; hand-off cases skipped",
        "metric_notes": {
            "pass_rate": "every comparable check of the case passed",
            "product_recall@1": "the answer's product (focus, top retrieved source, matched entry) is the "
            "expected one",
            "product_cited_or_named": "the answer's first citation is the expected product, or the answer "
            "names it (title or short name)",
            "latency_ms": "wall-clock per question in this process: product = pipeline.answer; "
            "langchain_stuff = retrieve + chain.invoke over loopback HTTP; difflib_qa = table match",
        },
        "systems": systems,
        "ratios_product_over": {b: ratios(systems["product"], systems[b]) for b in SYSTEMS[1:]},
        "subsets": subsets,
        "product_with_all_checks": {
            k: full_metrics[k] for k in ("pass_rate", "routing_accuracy", "category_accuracy")
        },
        "samples": _samples(cases, outcomes, 12),
    }


def _run_product(
    services: Services, ref: Reference, cases: Sequence[Case]
) -> tuple[dict[str, list[CaseOutcome]], list[CaseOutcome]]:
    backend = InProcessBackend(services, MERCHANT)
    asyncio.run(run_cases(list(cases[:2]), backend, ref, run_tag="warm"))
    full = asyncio.run(run_cases(cases, backend, ref, run_tag="bench"))
    rescored = [o if o.error is not None else score_case(comparable(o.case), o.observed, ref) for o in full]
    return {"product": rescored}, full


def _run_baseline(answer: AnswerFn, cases: Sequence[Case], ref: Reference) -> list[CaseOutcome]:
    outcomes: list[CaseOutcome] = []
    for case in cases:
        start = time.perf_counter()
        try:
            result = answer(case.question)
        except Exception as exc:  # a failing question is reported as an error, the run goes on
            outcome = CaseOutcome(case=case, observed=Observed(), error=f"{type(exc).__name__}: {exc}")
            outcome.failures.append(f"error: {outcome.error}")
            outcomes.append(outcome)
            continue
        observed = result.to_observed(wall_ms=(time.perf_counter() - start) * 1000)
        outcomes.append(score_case(comparable(case), observed, ref))
    return outcomes


def product_cited_or_named(outcome: CaseOutcome, ref: Reference) -> bool | None:
    """The answer names the expected product (title or short name) or cites it first; None if none expected."""
    sku = outcome.case.expect.product
    product = ref.product(sku) if sku else None
    if not sku:
        return None
    if product is None:
        return False
    observed = outcome.observed
    first = next((c.get("sku") for c in observed.citations[:1]), None)
    if first and ref.parent_sku(first) == product.sku:
        return True
    answer = observed.answer.lower()
    return product.title.lower() in answer or short_name(product).lower() in answer


def system_summary(outcomes: Sequence[CaseOutcome], ref: Reference) -> dict[str, Any]:
    """One system's figures: quality rates and wall-clock latency percentiles."""
    m = summarise(outcomes)
    named = [n for o in outcomes if (n := product_cited_or_named(o, ref)) is not None]
    return {
        "cases": m["cases"],
        "errors": m["errors"],
        "pass_rate": m["pass_rate"],
        "facts_n": m["facts_n"],
        "fact_accuracy": m["fact_accuracy"],
        "refusal_n": m["refusal_n"],
        "refusal_accuracy": m["refusal_accuracy"],
        "unanswerable_refused": m["unanswerable_refused"],
        "answerable_answered": m["answerable_answered"],
        "product_n": m["retrieval_n"],
        "product_recall@1": m["recall@1"],
        "product_cited_or_named": rate(sum(named), len(named)),
        "groundedness": m["groundedness"],
        "compliance_violations": m["compliance_violations"],
        "pii_leaks": m["pii_leaks"],
        "latency_ms": percentiles([o.observed.wall_ms for o in outcomes if o.error is None]),
    }


def _ratio(a: Any, b: Any) -> float | None:
    if not isinstance(a, int | float) or not isinstance(b, int | float) or b == 0:
        return None
    return round(a / b, 3)


def ratios(product: dict[str, Any], baseline: dict[str, Any]) -> dict[str, float | None]:
    """product / baseline for the quality rates and the latency p50 / p95 (lower latency is better)."""
    out = {k: _ratio(product.get(k), baseline.get(k)) for k in RATIO_METRICS}
    for q in ("p50", "p95"):
        out[f"latency_{q}"] = _ratio(product["latency_ms"].get(q), baseline["latency_ms"].get(q))
    return out


def _subset(outcomes: dict[str, list[CaseOutcome]], ref: Reference, indexes: list[int]) -> dict[str, Any]:
    figures = {name: system_summary([outcomes[name][i] for i in indexes], ref) for name in SYSTEMS}
    keep = ("cases", "pass_rate", "fact_accuracy", "refusal_accuracy", "product_recall@1")
    return {name: {k: f[k] for k in keep} for name, f in figures.items()}


def _samples(cases: Sequence[Case], outcomes: dict[str, list[CaseOutcome]], n: int) -> list[dict[str, Any]]:
    step = max(1, len(cases) // n)
    return [
        {
            "id": cases[i].id,
            "question": cases[i].question,
            **{
                name: {"answer": outcomes[name][i].observed.answer, "passed": outcomes[name][i].passed}
                for name in SYSTEMS
            },
        }
        for i in range(0, len(cases), step)
    ][:n]


if __name__ == "__main__":
    print(json.dumps(run(quick=True), ensure_ascii=False, indent=2))
