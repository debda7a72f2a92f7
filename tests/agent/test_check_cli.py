"""`anchor check` through Typer's CliRunner: exit codes, JSON, files with line numbers, --fix, errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app

pytestmark = pytest.mark.unit

runner = CliRunner()


def _plain(output: str) -> str:
    """The output without whitespace and box-drawing characters (rich wraps error panels)."""
    return re.sub(r"[\s│╭╮╰╯─]+", "", output)


def test_clean_text_exits_zero() -> None:
    result = runner.invoke(app, ["check", "--words-only", "今天第一款产品，100%纯棉"])
    assert result.exit_code == 0, result.output
    assert "clean" in result.output


def test_findings_exit_one_with_a_table() -> None:
    result = runner.invoke(app, ["check", "--words-only", "全网最低价，效果最好！"])
    assert result.exit_code == 1
    assert "superlative" in result.output
    assert "广告法第九条第三项" in result.output
    assert "全网最低价" in result.output
    assert "'优惠价'" in result.output


def test_json_output() -> None:
    result = runner.invoke(app, ["check", "--words-only", "全网最低价，效果最好！", "--json"])
    assert result.exit_code == 1
    payload = json.loads(result.output)
    assert payload["ok"] is False
    assert payload["lines_checked"] == 1
    assert [(f["line"], f["word"], f["start"], f["end"], f["suggestion"]) for f in payload["findings"]] == [
        (1, "全网最低价", 0, 5, "优惠价"),
        (1, "最好", 8, 10, "很好"),
    ]
    assert "fixed" not in payload


def test_json_clean() -> None:
    result = runner.invoke(app, ["check", "--words-only", "We will do our best", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output) == {"ok": True, "lines_checked": 1, "review": 0, "findings": []}


def test_file_reports_line_numbers(tmp_path: Path) -> None:
    script = tmp_path / "script.txt"
    script.write_text(
        "欢迎来到直播间\n\n这款面霜是全网最低价\n本品可以治疗失眠。颜色很好看。\nIt cures acne.\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["check", "--words-only", "--file", str(script), "--json", "--fix"])
    assert result.exit_code == 1
    payload = json.loads(result.output)
    assert payload["lines_checked"] == 4
    assert [(f["line"], f["rule"], f["word"]) for f in payload["findings"]] == [
        (3, "absolute.superlative", "全网最低价"),
        (4, "medical.claim", "治疗"),
        (5, "medical.claim", "cures"),
    ]
    assert payload["fixed"] == [
        {"line": 1, "text": "欢迎来到直播间", "dropped_sentences": []},
        {"line": 3, "text": "这款面霜是优惠价", "dropped_sentences": []},
        {"line": 4, "text": "颜色很好看。", "dropped_sentences": ["本品可以治疗失眠。"]},
        {"line": 5, "text": "", "dropped_sentences": ["It cures acne."]},
    ]


def test_fix_prints_enforced_text() -> None:
    result = runner.invoke(app, ["check", "--words-only", "这款面霜是全网最低价，效果最好！", "--fix"])
    assert result.exit_code == 1
    assert result.output.rstrip().endswith("这款面霜是优惠价，效果很好！")


def test_allow_option() -> None:
    assert runner.invoke(app, ["check", "--words-only", "医用级口罩"]).exit_code == 1
    assert runner.invoke(app, ["check", "--words-only", "医用级口罩", "--allow", "医用级"]).exit_code == 0


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["check", "--words-only", "--file", str(tmp_path / "nope.txt")])
    assert result.exit_code == 2
    assert "nosuchfile" in _plain(result.output)
    assert "Traceback" not in result.output


def test_empty_input_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["check", "--words-only", "   "])
    assert result.exit_code == 2
    assert "nothingtocheck" in _plain(result.output)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    result = runner.invoke(app, ["check", "--words-only", "--file", str(empty)])
    assert result.exit_code == 2
    assert "notexttocheck" in _plain(result.output)


def test_non_utf8_file_is_a_clear_error(tmp_path: Path) -> None:
    script = tmp_path / "gbk.txt"
    script.write_bytes("全网最低价".encode("gbk"))
    result = runner.invoke(app, ["check", "--words-only", "--file", str(script)])
    assert result.exit_code == 2
    assert "notUTF-8" in _plain(result.output)


def test_text_and_file_together_is_an_error(tmp_path: Path) -> None:
    script = tmp_path / "s.txt"
    script.write_text("hi", encoding="utf-8")
    result = runner.invoke(app, ["check", "--words-only", "hello", "--file", str(script)])
    assert result.exit_code == 2
    assert "notboth" in _plain(result.output)
