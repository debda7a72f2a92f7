"""CatalogImporter end to end: real loaders, real SQLite and PostgreSQL, a recording index sink."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine

from knowledge.import_report import INDEX_LABEL, STORE_LABEL
from knowledge.importer import CatalogImporter, ImportReport
from knowledge.models import Document, ImportLimits, IndexSyncStats, Product, ProgressFn
from knowledge.store import CatalogStore

pytestmark = pytest.mark.integration

HEADER = "sku,title,brand,price,stock"


@dataclass
class RecordingIndex:
    """An `IndexSink` test double: remembers what it was asked to index; can be told to fail."""

    fail: bool = False
    calls: list[tuple[dict[str, str], dict[str, str]]] = field(default_factory=list)

    def sync(
        self,
        products: Sequence[Product],
        documents: Sequence[Document],
        progress: ProgressFn | None = None,
    ) -> IndexSyncStats:
        if self.fail:
            raise RuntimeError("disk full")
        self.calls.append(
            ({p.sku: p.content_hash() for p in products}, {d.doc_id: d.content_hash() for d in documents})
        )
        if progress is not None:
            progress("index", len(products), len(products))
        return IndexSyncStats(passages=len(products) + len(documents), embedded=0, reused=0, seconds=0.0)


def write_csv(path: Path, *rows: str) -> Path:
    path.write_text("\n".join((HEADER, *rows)) + "\n", encoding="utf-8")
    return path


def write_markdown(path: Path, title: str, sections: dict[str, str]) -> Path:
    body = "".join(f"## {heading}\n\n{text}\n\n" for heading, text in sections.items())
    path.write_text(f"# {title}\n\n{body}", encoding="utf-8")
    return path


@pytest.fixture
def importer(store: CatalogStore) -> CatalogImporter:
    return CatalogImporter(store, ImportLimits())


@pytest.fixture
def catalog_csv(tmp_path: Path) -> Path:
    return write_csv(
        tmp_path / "products.csv",
        "A-1,保温杯 500ml,Thermo,99.00,10",
        "A-2,Desk Lamp 台灯,Lumi,149.50,3",
        "A-3,帆布包,Canvas,39.90,0",
    )


def error_places(report: ImportReport) -> list[tuple[str, int | None, str | None]]:
    return [(p.file, p.row, p.column) for p in report.errors]


def test_first_import_adds_everything_and_syncs_once(
    importer: CatalogImporter, store: CatalogStore, catalog_csv: Path
) -> None:
    index = RecordingIndex()

    report = importer.run([catalog_csv], "shop", index=index)

    assert report.ok, report.errors
    assert report.applied
    assert sorted(report.added) == ["A-1", "A-2", "A-3"]
    assert (report.updated, report.unchanged, report.removed) == ([], [], [])
    assert report.version == store.catalog_version("shop") == 1
    assert len(index.calls) == 1
    assert index.calls[0][0] == store.product_hashes("shop")
    assert report.index_stats is not None
    lamp = store.get_product("shop", "A-2")
    assert lamp is not None
    assert lamp.price == Decimal("149.50")
    assert lamp.title == "Desk Lamp 台灯"
    json.dumps(report.to_dict(), ensure_ascii=False)


def test_reimporting_the_same_file_changes_nothing_and_embeds_nothing(
    importer: CatalogImporter, store: CatalogStore, catalog_csv: Path
) -> None:
    index = RecordingIndex()
    importer.run([catalog_csv], "shop", index=index)
    hashes = store.product_hashes("shop")

    again = importer.run([catalog_csv], "shop", index=index)

    assert again.ok
    assert again.applied
    assert sorted(again.unchanged) == ["A-1", "A-2", "A-3"]
    assert not again.changed
    # The index is still asked to match the (same) catalog: a no-op for a matching index, the repair
    # for one an interrupted import left behind ("unchanged" means unchanged in both).
    assert len(index.calls) == 2
    assert index.calls[1] == index.calls[0]
    assert store.catalog_version("shop") == 1
    assert store.product_hashes("shop") == hashes
    assert "unchanged" in again.message

    forced = importer.run([catalog_csv], "shop", index=index, force_index=True)
    assert len(index.calls) == 3
    assert forced.version == 1


def test_changed_rows_are_updated_and_reindexed(
    importer: CatalogImporter, store: CatalogStore, catalog_csv: Path, tmp_path: Path
) -> None:
    index = RecordingIndex()
    importer.run([catalog_csv], "shop", index=index)
    changed = write_csv(
        tmp_path / "products.csv",
        "A-1,保温杯 500ml,Thermo,89.00,10",
        "A-2,Desk Lamp 台灯,Lumi,149.50,3",
        "A-3,帆布包,Canvas,39.90,0",
        "A-4,新品,New,1.00,1",
    )

    report = importer.run([changed], "shop", index=index)

    assert report.ok
    assert (report.added, report.updated, sorted(report.unchanged)) == (["A-4"], ["A-1"], ["A-2", "A-3"])
    cup = store.get_product("shop", "A-1")
    assert cup is not None
    assert cup.price == Decimal("89.00")
    assert len(index.calls) == 2
    assert index.calls[1][0] == store.product_hashes("shop")
    assert report.version == 2


def test_absent_products_are_removed_only_with_replace(
    importer: CatalogImporter, store: CatalogStore, catalog_csv: Path, tmp_path: Path
) -> None:
    importer.run([catalog_csv], "shop")
    smaller = write_csv(tmp_path / "smaller.csv", "A-1,保温杯 500ml,Thermo,99.00,10")

    kept = importer.run([smaller], "shop")
    assert kept.removed == []
    assert store.count_products("shop") == 3

    replaced = importer.run([smaller], "shop", replace=True)
    assert replaced.ok
    assert replaced.removed == ["A-2", "A-3"]
    assert replaced.unchanged == ["A-1"]
    assert [p.sku for p in store.all_products("shop")] == ["A-1"]


def test_an_error_in_the_last_row_leaves_the_store_as_it_was(
    importer: CatalogImporter, store: CatalogStore, catalog_csv: Path, tmp_path: Path
) -> None:
    index = RecordingIndex()
    importer.run([catalog_csv], "shop", index=index)
    before = (store.product_hashes("shop"), store.catalog_version("shop"))
    bad = write_csv(
        tmp_path / "update.csv",
        "A-1,保温杯 500ml,Thermo,79.00,10",
        "B-1,全新商品,New,5.00,5",
        "B-2,坏价格,New,abc,5",
    )

    report = importer.run([bad], "shop", index=index, replace=True)

    assert not report.ok
    assert not report.applied
    assert report.rejected_rows == 1
    assert [(file, column) for file, _, column in error_places(report)] == [("update.csv", "price")]
    assert report.errors[0].row == 4  # the spreadsheet's row: header is row 1
    assert "abc" in report.errors[0].message
    assert (store.product_hashes("shop"), store.catalog_version("shop")) == before
    assert len(index.calls) == 1
    assert "Nothing was applied" in report.message


def test_skip_invalid_applies_the_valid_rows_and_reports_the_rest(
    importer: CatalogImporter, store: CatalogStore, tmp_path: Path
) -> None:
    mixed = write_csv(
        tmp_path / "mixed.csv",
        "C-1,好商品,Good,10.00,1",
        "C-2,坏库存,Bad,10.00,many",
        "C-3,另一个好商品,Good,12.00,2",
    )

    report = importer.run([mixed], "shop", skip_invalid=True)

    assert report.applied
    assert not report.ok
    assert sorted(report.added) == ["C-1", "C-3"]
    assert report.rejected_rows == 1
    assert [(f, c) for f, _, c in error_places(report)] == [("mixed.csv", "stock")]
    assert sorted(store.product_hashes("shop")) == ["C-1", "C-3"]


def test_replace_with_errors_removes_nothing(
    importer: CatalogImporter, store: CatalogStore, catalog_csv: Path, tmp_path: Path
) -> None:
    importer.run([catalog_csv], "shop")
    partial = write_csv(tmp_path / "partial.csv", "A-1,保温杯 500ml,Thermo,99.00,10", "A-2,台灯,Lumi,x,3")

    strict = importer.run([partial], "shop", replace=True)
    lenient = importer.run([partial], "shop", replace=True, skip_invalid=True)

    assert not strict.applied
    assert strict.removed == []
    assert lenient.applied
    assert lenient.removed == []
    assert any("kept" in w.message for w in lenient.warnings)
    assert sorted(store.product_hashes("shop")) == ["A-1", "A-2", "A-3"]


def test_a_sku_defined_in_two_files_is_an_error_naming_both(
    importer: CatalogImporter, store: CatalogStore, tmp_path: Path
) -> None:
    first = write_csv(tmp_path / "first.csv", "D-1,商品一,X,1.00,1", "D-2,商品二,X,2.00,1")
    second = write_csv(tmp_path / "second.csv", "D-3,商品三,X,3.00,1", "D-2,商品二 again,X,2.00,1")

    report = importer.run([first, second], "shop")

    assert not report.applied
    assert store.count_products("shop") == 0
    assert len(report.errors) == 1
    problem = report.errors[0]
    assert (problem.file, problem.column) == ("second.csv", "sku")
    assert "first.csv" in problem.message
    assert "'D-2'" in problem.message

    lenient = importer.run([first, second], "shop", skip_invalid=True)
    assert sorted(lenient.added) == ["D-1", "D-3"]
    assert lenient.rejected_rows == 2
    assert store.get_product("shop", "D-2") is None


def test_display_names_name_the_files_in_problems(importer: CatalogImporter, tmp_path: Path) -> None:
    upload = write_csv(tmp_path / "tmp-upload-8f3a", "E-1,商品,X,oops,1")

    report = importer.run([upload], "shop", display_names=["我的商品表.csv"])

    assert report.files == ["我的商品表.csv"]
    assert [p.file for p in report.errors] == ["我的商品表.csv"]


def test_documents_import_update_and_replace(
    importer: CatalogImporter, store: CatalogStore, catalog_csv: Path, tmp_path: Path
) -> None:
    returns = write_markdown(
        tmp_path / "returns.md", "退换货政策", {"退货": "7天无理由退货。", "换货": "可换一次。"}
    )
    shipping = write_markdown(tmp_path / "shipping.md", "Shipping", {"Delivery": "Ships in 48 hours."})
    index = RecordingIndex()

    first = importer.run([catalog_csv, returns, shipping], "shop", index=index)
    assert first.ok, first.errors
    assert len(first.documents_added) == 2
    assert len(store.documents("shop")) == 2
    assert len(index.calls[-1][1]) == 2

    again = importer.run([catalog_csv, returns, shipping], "shop", index=index)
    assert not again.changed
    assert len(again.documents_unchanged) == 2
    assert index.calls[-1] == index.calls[0]  # asked to match the same catalog

    write_markdown(returns, "退换货政策", {"退货": "15天无理由退货。"})
    updated = importer.run([returns], "shop", index=index)
    assert len(updated.documents_updated) == 1
    assert updated.added == []
    assert index.calls[-1] != index.calls[0]

    # replace with only a policy file removes the other document but keeps every product.
    replaced = importer.run([returns], "shop", replace=True)
    assert len(replaced.documents_removed) == 1
    assert replaced.removed == []
    assert store.count_products("shop") == 3
    assert len(store.documents("shop")) == 1


def test_imports_never_cross_merchants(
    importer: CatalogImporter, store: CatalogStore, tmp_path: Path
) -> None:
    shared = write_csv(tmp_path / "shared.csv", "S-1,同一个SKU,X,1.00,1", "S-2,第二个,X,2.00,1")
    only_b = write_csv(tmp_path / "b.csv", "S-1,B 的版本,Y,9.00,9")

    importer.run([shared], "merchant-a")
    report = importer.run([only_b], "merchant-b", replace=True)

    assert report.added == ["S-1"]
    assert report.removed == []
    a_product = store.get_product("merchant-a", "S-1")
    b_product = store.get_product("merchant-b", "S-1")
    assert a_product is not None
    assert b_product is not None
    assert a_product.title == "同一个SKU"
    assert b_product.title == "B 的版本"
    assert store.count_products("merchant-a") == 2
    assert store.count_products("merchant-b") == 1


def test_an_index_failure_after_commit_is_reported_not_raised(
    importer: CatalogImporter, store: CatalogStore, catalog_csv: Path
) -> None:
    report = importer.run([catalog_csv], "shop", index=RecordingIndex(fail=True))

    assert report.applied
    assert not report.ok
    assert [p.file for p in report.errors] == [INDEX_LABEL]
    assert report.index_error is not None
    assert "disk full" in report.index_error
    assert "source of truth" in report.message
    assert store.count_products("shop") == 3


def test_progress_is_reported_per_file_and_for_the_index(
    importer: CatalogImporter, catalog_csv: Path, tmp_path: Path
) -> None:
    other = write_csv(tmp_path / "other.csv", "F-1,商品,X,1.00,1")
    events: list[tuple[str, int, int]] = []

    importer.run(
        [catalog_csv, other],
        "shop",
        index=RecordingIndex(),
        progress=lambda stage, done, total: events.append((stage, done, total)),
    )

    assert [e for e in events if e[0] == "load"] == [("load", 0, 2), ("load", 1, 2), ("load", 2, 2)]
    assert ("index", 4, 4) in events


def test_bad_requests_are_reported_not_raised(importer: CatalogImporter, tmp_path: Path) -> None:
    missing = importer.run([tmp_path / "nope.csv"], "shop")
    no_files = importer.run([], "shop")
    bad_merchant = importer.run([tmp_path / "nope.csv"], "")

    assert not missing.applied
    assert [p.file for p in missing.errors] == ["nope.csv"]
    assert "no files" in no_files.errors[0].message
    assert "merchant id" in bad_merchant.errors[0].message


def test_remove_products_deletes_and_resyncs(
    importer: CatalogImporter, store: CatalogStore, catalog_csv: Path
) -> None:
    index = RecordingIndex()
    importer.run([catalog_csv], "shop", index=index)

    report = importer.remove_products("shop", ["A-2", "ZZZ"], index)

    assert report.removed == ["A-2"]
    assert [w.message for w in report.warnings] == ["sku 'ZZZ' not found"]
    assert store.get_product("shop", "A-2") is None
    assert set(index.calls[-1][0]) == {"A-1", "A-3"}
    assert report.version == 2


def test_prices_the_store_cannot_hold_are_row_errors(importer: CatalogImporter, tmp_path: Path) -> None:
    huge = write_csv(tmp_path / "huge.csv", "H-1,正常,X,1.00,1", "H-2,天价,X,10000000000000.00,1")

    report = importer.run([huge], "shop", skip_invalid=True)

    assert report.added == ["H-1"]
    assert [(f, r, c) for f, r, c in error_places(report)] == [("huge.csv", 3, "price")]


def test_a_database_without_the_catalog_tables_is_reported_not_raised(
    engine: Engine, catalog_csv: Path
) -> None:
    importer = CatalogImporter(CatalogStore(engine))  # create_schema() never called

    report = importer.run([catalog_csv], "shop")
    removal = importer.remove_products("shop", ["A-1"])

    assert not report.applied
    assert [p.file for p in report.errors] == [STORE_LABEL]
    assert "nothing was applied" in report.message.lower()
    assert [p.file for p in removal.errors] == [STORE_LABEL]
    assert removal.removed == []
