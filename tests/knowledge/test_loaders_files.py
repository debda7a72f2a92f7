"""load_file's contract: dispatch by suffix, file-level problems, never an exception for content."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knowledge.loaders import SUPPORTED_SUFFIXES, LoaderError, load_file
from knowledge.models import ImportLimits

pytestmark = pytest.mark.unit


def test_supported_suffixes() -> None:
    assert set(SUPPORTED_SUFFIXES) == {".csv", ".tsv", ".xlsx", ".json", ".jsonl", ".md", ".markdown", ".txt"}


def test_unsupported_suffix_names_the_supported_ones(tmp_path: Path) -> None:
    path = tmp_path / "catalog.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    (error,) = load_file(path).problems
    assert error.row is None
    assert ".csv, .tsv, .xlsx" in error.message
    assert "save it as .xlsx" in error.message


def test_missing_file_and_folder(tmp_path: Path) -> None:
    assert [str(p) for p in load_file(tmp_path / "gone.csv").problems] == ["gone.csv: file not found"]
    folder = tmp_path / "dir.csv"
    folder.mkdir()
    assert [p.message for p in load_file(folder).problems] == ["is a folder, not a file"]


@pytest.mark.parametrize("suffix", SUPPORTED_SUFFIXES)
def test_empty_file_of_every_kind(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"")
    result = load_file(path)
    assert [p.message for p in result.problems] == ["the file is empty"]
    assert (result.products, result.documents, result.rejected_rows) == ([], [], 0)


def test_oversized_file_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text("sku,title\n" + "".join(f"S{i},Item\n" for i in range(1000)), encoding="utf-8")
    result = load_file(path, ImportLimits(max_file_bytes=1024))
    assert result.products == []
    (error,) = result.errors
    assert error.message.startswith(f"the file is {path.stat().st_size / 1024:.1f} KB; the limit is 1.0 KB")
    assert load_file(path, ImportLimits(max_file_bytes=1 << 20)).errors == []


def test_display_name_is_used_in_problems(tmp_path: Path) -> None:
    path = tmp_path / "000.csv"
    path.write_text("sku,title\nA,\n", encoding="utf-8")
    result = load_file(path, display_name="我的商品.csv")
    assert result.file == "我的商品.csv"
    assert str(result.errors[0]) == "我的商品.csv row 2, column title: missing title"


def test_misuse_raises_loader_error(tmp_path: Path) -> None:
    with pytest.raises(LoaderError):
        load_file(123)  # type: ignore[arg-type]
    with pytest.raises(LoaderError):
        load_file(tmp_path / "x.csv", limits={"max_rows": 1})  # type: ignore[arg-type]


def test_problems_are_sorted_file_level_first_then_by_row(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("sku,title,note\nA,Apple,x\nB,,y\nA,Again,z\n", encoding="utf-8")
    rows = [p.row or 0 for p in load_file(path).problems]
    assert rows == sorted(rows)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.one_of(
        st.binary(max_size=400),
        st.text(alphabet=st.sampled_from('sku,title;price\t"\n\r 1.-¥元[]{}:#QA问答'), max_size=300).map(
            lambda t: t.encode("utf-8")
        ),
    ),
    suffix=st.sampled_from(SUPPORTED_SUFFIXES),
)
def test_any_content_gives_a_result_never_an_exception(tmp_path: Path, data: bytes, suffix: str) -> None:
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    result = load_file(path)
    assert not any("could not read the file" in p.message for p in result.problems), result.problems
    error_rows = {p.row for p in result.errors}
    assert all(sp.row not in error_rows for sp in result.products)
