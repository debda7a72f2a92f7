"""`anchor eval generate`: question sets from a merchant's own catalog, checked against the store, scored live.

The catalog: 30 products of the demo catalog (15 Chinese listings, 15 English, every other one, with their
variants and attributes) and the demo shop's policies in both languages.
"""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.compliance.claims_train import load_labelled
from agent.training_guard import GENERATED_MARKER
from agent.understanding.train import TrainingDataError, load_examples
from api.cli import app
from api.services import Services
from api.settings import Settings
from evals.dataset import Case, FactSpec, check_skus, load_cases
from evals.facts import check_fact, option_values
from evals.generate import (
    GenerationError,
    avoids_key,
    dump_cases,
    generate_cases,
    header_line,
    load_templates,
    run_generated,
    write_cases,
)
from evals.generated_report import case_family, case_topic
from evals.reference import DEMO_POLICIES, DEMO_PRODUCTS, Reference
from knowledge.db import create_engine_for
from knowledge.store import CatalogStore
from tests.evals.conftest import make_case

runner = CliRunner()
MERCHANT = "shop1"


def _catalog_30(folder: Path) -> list[Path]:
    rows = [
        json.loads(line) for line in DEMO_PRODUCTS.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    zh = [r for r in rows if r["sku"].startswith("ZH-")][::2][:15]
    en = [r for r in rows if r["sku"].startswith("EN-")][::2][:15]
    products = folder / "products.jsonl"
    products.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in zh + en), encoding="utf-8")
    return [products, *sorted(DEMO_POLICIES.glob("*.md"))]


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return _catalog_30(tmp_path_factory.mktemp("catalog30"))


@pytest.fixture(scope="module")
def store(catalog: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[CatalogStore]:
    """The catalog in a store (no index: generation reads products and documents only)."""
    engine = create_engine_for(f"sqlite:///{tmp_path_factory.mktemp('db') / 'anchor.db'}")
    store = CatalogStore(engine)
    store.create_schema()
    ref = Reference.from_files(catalog)
    store.apply(
        MERCHANT, upsert_products=list(ref.products.values()), upsert_documents=list(ref.documents.values())
    )
    try:
        yield store
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def ref(store: CatalogStore) -> Reference:
    return Reference.from_store(store, MERCHANT)


@pytest.fixture(scope="module")
def cases(store: CatalogStore) -> list[Case]:
    return generate_cases(store, MERCHANT, n=200, seed=0)


# -- generation ---------------------------------------------------------------------------------------------
@pytest.mark.unit
def test_two_hundred_valid_cases_fast_and_marked(store: CatalogStore, ref: Reference, tmp_path: Path) -> None:
    assert len(ref.products) == 30
    start = time.perf_counter()
    cases = generate_cases(store, MERCHANT, n=200, seed=0)
    assert time.perf_counter() - start < 10.0
    assert len(cases) == 200
    assert len({c.id for c in cases}) == 200
    assert len({c.text for c in cases}) == 200
    path = write_cases(tmp_path / "gen.jsonl", cases, MERCHANT, seed=0)
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("//")
    assert GENERATED_MARKER in first
    loaded = load_cases([path])  # the schema every dataset is loaded with; the header line is skipped
    assert [lc.case for lc in loaded] == cases
    assert check_skus(loaded, ref.known_skus()) == []
    assert all("generated" in c.tags and case_family(c) != "other" for c in cases)


@pytest.mark.unit
def test_deterministic_per_seed(store: CatalogStore, cases: list[Case]) -> None:
    header = header_line(MERCHANT, seed=0, count=200)
    again = generate_cases(store, MERCHANT, n=200, seed=0)
    assert dump_cases(again, header) == dump_cases(cases, header)
    other = generate_cases(store, MERCHANT, n=200, seed=1)
    assert {c.text for c in other} != {c.text for c in cases}
    assert all(c.id.startswith("gen1-") for c in other)


@pytest.mark.unit
def test_varied_phrasings_families_languages_and_names(cases: list[Case]) -> None:
    phrasings: dict[tuple[str, str], set[str]] = defaultdict(set)
    for case in cases:
        template = next(t for t in case.tags if t.startswith("tpl:"))
        phrasings[(case_family(case), case.lang)].add(template)
    for family in ("price", "stock", "variant_stock", "attribute", "enumeration", "policy", "unanswerable"):
        for lang in ("zh", "en"):
            assert len(phrasings[(family, lang)]) >= 3, (family, lang, phrasings[(family, lang)])
    slices = {c.slice for c in cases}
    assert slices == {"zh", "en", "cross"}
    cross = [c for c in cases if c.slice == "cross"]
    assert 0.2 <= len(cross) / len(cases) <= 0.5
    # A Chinese listing asked in English, and an English one asked in Chinese.
    assert any(c.lang == "en" and c.expect.product and c.expect.product.startswith("ZH-") for c in cross)
    assert any(c.lang == "zh" and c.expect.product and c.expect.product.startswith("EN-") for c in cross)
    # Products are named the way shoppers do: mostly not by their full catalog title.
    kinds = [t for c in cases for t in c.tags if t.startswith("name:")]
    assert sum(k == "name:title" for k in kinds) <= 0.25 * len(kinds)
    assert {"name:brand", "name:model", "name:phrase"} <= set(kinds)


def _oracle(case_lang: str, fact: FactSpec, ref: Reference) -> str:
    """An answer written from the store alone, stating exactly the fact."""
    product = ref.product(fact.sku)
    variant = ref.variant(fact.sku)
    assert product is not None
    if fact.kind == "price":
        price = variant.price if variant is not None and variant.price is not None else product.price
        return f"¥{price}"
    if fact.kind == "list_price":
        return f"原价¥{product.list_price}"
    if fact.kind == "stock_state":
        count = product.total_stock() or 0
        return (
            ("售罄" if count <= 0 else f"有货，仅剩{count}件")
            if case_lang == "zh"
            else ("sold out" if count <= 0 else f"in stock, only {count} left")
        )
    if fact.kind in ("variant_available", "variant_sold_out"):
        assert variant is not None
        state = "售罄" if (variant.stock or 0) <= 0 else f"有货，仅剩{variant.stock}件"
        if case_lang == "en":
            state = "sold out" if (variant.stock or 0) <= 0 else f"in stock, only {variant.stock} left"
        return f"{'/'.join(variant.options.values())} {state}"
    if fact.kind == "option_values":
        return "、".join(option_values(product, fact.field or ""))
    return product.attributes[fact.field or ""]


@pytest.mark.unit
def test_expected_facts_are_the_stores(cases: list[Case], ref: Reference) -> None:
    templates = load_templates()
    checked = 0
    for case in cases:
        for fact in case.expect.facts:
            # The fact is about the product the question names, and an answer holding the store's value passes.
            assert ref.parent_sku(fact.sku) == case.expect.product
            result = check_fact(_oracle(case.lang, fact, ref), fact, ref, case.lang)
            assert result.ok, (case.id, case.text, result)
            checked += 1
            product = ref.product(fact.sku)
            assert product is not None
            if fact.kind in ("variant_available", "variant_sold_out"):
                variant = ref.variant(fact.sku)
                assert variant is not None
                assert (fact.kind == "variant_sold_out") == ((variant.stock or 0) <= 0)
                assert all(v.lower() in case.question.lower() for v in variant.options.values()), case.text
            if fact.kind == "attribute":
                assert fact.field in product.attributes
                # The phrasing (the question without the product's name) avoids the attribute's key word.
                template = next(t for t in case.tags if t.startswith("tpl:attr."))
                _attr, name, lang, index = template.removeprefix("tpl:").split(".")
                family = templates.family(name)
                assert family is not None
                phrasing = family.phrasings[lang][int(index)]
                assert avoids_key(phrasing, fact.field or "", templates.key_stopwords)
                assert (fact.field or "").lower() not in phrasing.lower()
            if fact.kind == "price" and fact.sku != product.sku:
                variant = ref.variant(fact.sku)
                assert variant is not None
                assert variant.price is not None
        if case_family(case) == "price":
            product = ref.product(case.expect.product or "")
            assert product is not None
            wrong = FactSpec(kind="price", sku=product.sku)
            assert not check_fact(f"¥{(product.price or Decimal(0)) + 1}", wrong, ref, case.lang).ok
    assert checked >= 150


@pytest.mark.unit
def test_unanswerable_cases_expect_refusal_about_what_the_listing_does_not_state(
    cases: list[Case],
    ref: Reference,
) -> None:
    templates = load_templates()
    unstated = [c for c in cases if case_family(c) == "unanswerable"]
    assert len(unstated) >= 15
    by_name = {u.name: u for u in templates.unanswerable}
    for case in unstated:
        assert case.expect.refuse is True
        assert not case.expect.facts
        assert case.expect.product
        product = ref.product(case.expect.product)
        assert product is not None
        family = by_name[case_topic(case)]
        listing = json.dumps(product.to_dict(), ensure_ascii=False).lower()
        assert not any(m in listing for m in family.mentions), (case.text, family.name)
    answerable = [c for c in cases if case_family(c) != "unanswerable"]
    assert all(c.expect.refuse is False for c in answerable)


@pytest.mark.unit
def test_policy_questions_expect_what_the_policy_says(cases: list[Case], ref: Reference) -> None:
    policy = [c for c in cases if case_family(c) == "policy"]
    assert len(policy) >= 10
    documents = "\n".join(s.text for d in ref.documents.values() for s in d.sections)
    for case in policy:
        assert case.expect.escalate is False
        assert case.expect.must_contain_any
        assert all(term in documents for term in case.expect.must_contain_any)
    free = next(c for c in policy if case_topic(c) == "free_shipping")
    assert "99" in free.expect.must_contain_any


@pytest.mark.unit
def test_enumeration_checks_every_value_whole() -> None:
    reference = Reference.from_files([DEMO_PRODUCTS])
    fact = FactSpec(kind="option_values", sku="ZH-AP-001", field="尺码")
    assert option_values(reference.products["ZH-AP-001"], "尺码") == ["S", "M", "L", "XL", "XXL"]
    assert check_fact("尺码有S、M、L、XL和XXL", fact, reference, "zh").ok
    assert not check_fact("尺码有S、M、L和XXL", fact, reference, "zh").ok  # "XL" inside "XXL" does not count
    with pytest.raises(ValueError, match="needs 'field'"):
        make_case(expect={"facts": [{"kind": "option_values", "sku": "ZH-AP-001"}]})


@pytest.mark.unit
def test_keyword_check() -> None:
    stop = load_templates().key_stopwords
    assert not avoids_key("how much does the {p} weigh", "Weight", stop)
    assert avoids_key("how heavy is the {p}", "Weight", stop)
    assert not avoids_key("{p}面料是什么", "面料成分", stop)
    assert avoids_key("{p}是什么做的", "面料成分", stop)


@pytest.mark.unit
def test_no_products_is_a_clear_error(store: CatalogStore) -> None:
    with pytest.raises(GenerationError, match="anchor ingest FILE --merchant nobody"):
        generate_cases(store, "nobody")


@pytest.mark.unit
def test_training_loaders_refuse_generated_files(cases: list[Case], tmp_path: Path) -> None:
    path = write_cases(tmp_path / "gen.jsonl", cases[:5], MERCHANT, seed=0)
    with pytest.raises(TrainingDataError, match="never use as training data"):
        load_examples([path])
    with pytest.raises(ValueError, match="never use as training data"):
        load_labelled(path)
    # Without the header, the rows' tag still marks them.
    rows = tmp_path / "rows.jsonl"
    body = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()[1:]]
    rows.write_text(
        "".join(json.dumps({**r, "intent": "product_question"}) + "\n" for r in body), encoding="utf-8"
    )
    with pytest.raises(TrainingDataError, match="tagged 'generated'"):
        load_examples([rows])


# -- end to end: anchor ingest, anchor eval generate, anchor eval run --live, run_generated ------------------
@pytest.fixture(scope="module")
def live_dir(catalog: list[Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    data_dir = tmp_path_factory.mktemp("live-var")
    env = {"ANCHOR_DATA_DIR": str(data_dir), "ANCHOR_EMBEDDER": "hash", "ANCHOR_DEFAULT_MERCHANT": "demo"}
    result = runner.invoke(app, ["ingest", *map(str, catalog), "--merchant", MERCHANT, "--json"], env=env)
    assert result.exit_code == 0, result.output
    return data_dir, env


@pytest.mark.integration
@pytest.mark.slow
def test_cli_generate_then_run_live(live_dir: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    data_dir, env = live_dir
    empty = runner.invoke(app, ["eval", "generate", "--merchant", "nobody"], env=env)
    assert empty.exit_code == 2
    assert "import a catalog first: anchor ingest FILE --merchant nobody" in empty.output
    gen = tmp_path / "gen.jsonl"
    made = runner.invoke(
        app, ["eval", "generate", "--merchant", MERCHANT, "--n", "24", "--out", str(gen), "--json"], env=env
    )
    assert made.exit_code == 0, made.output
    summary = json.loads(made.output)
    assert summary["cases"] == 24
    assert summary["path"] == str(gen)
    out = tmp_path / "report"
    run = runner.invoke(
        app, ["eval", "run", str(gen), "--merchant", MERCHANT, "--live", "--out", str(out), "--json"], env=env
    )
    assert run.exit_code == 0, run.output
    printed = json.loads(run.output[run.output.index("{") :])
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert (out / "report.html").is_file()
    assert printed["metrics"]["pass_rate"] == report["metrics"]["pass_rate"]
    assert report["metrics"]["cases"] == 24
    assert report["meta"]["mode"] == "in-process (live data)"
    section = report["generated"]
    assert section["overall"]["pass_rate"] == report["metrics"]["pass_rate"]
    assert sum(f["cases"] for f in section["families"].values()) == 24
    assert len(section["worst_failures"]) == min(20, 24 - report["metrics"]["passed"])
    # The same questions through `run_generated` (the "Test my shop" call) score the same.
    services = Services(Settings(data_dir=data_dir, embedder="hash"))
    try:
        seen: list[tuple[int, int]] = []
        direct = run_generated(services, MERCHANT, 24, lambda done, total: seen.append((done, total)), seed=0)
        assert seen[-1] == (24, 24)
        assert [c["id"] for c in direct["cases"]] == [c["id"] for c in report["cases"]]
        assert direct["metrics"]["pass_rate"] == report["metrics"]["pass_rate"]
        assert direct["generated"]["families"] == section["families"]
        # No ticket a misrouted question opened is left in the merchant's queue.
        assert not [t for t in services.tickets.list(MERCHANT) if t.state != "resolved"]
    finally:
        services.close()
    # --live refuses a merchant with no catalog, and --catalog beside it.
    nobody = runner.invoke(app, ["eval", "run", str(gen), "--merchant", "nobody", "--live"], env=env)
    assert nobody.exit_code == 2
    assert "anchor ingest FILE --merchant nobody" in nobody.output
    both = runner.invoke(app, ["eval", "run", str(gen), "--live", "--catalog", str(gen)], env=env)
    assert both.exit_code == 2


@pytest.mark.unit
def test_header_is_the_marker_line() -> None:
    line = header_line("m1", seed=3, count=7, catalog_version=2)
    assert line.startswith("// ")
    assert GENERATED_MARKER in line
    assert "seed 3" in line
    assert re.search(r"\d{4}-\d\d-\d\d", line) is None  # no timestamp: the file is the same for a seed
