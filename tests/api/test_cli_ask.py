"""`anchor ask` and `anchor chat` through Typer's runner on the sample catalog (hash embedder)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.services import Services
from api.settings import Settings

pytestmark = pytest.mark.integration

runner = CliRunner()
SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "demo"
SAMPLE_FILES = [SAMPLES / "products.jsonl", *sorted((SAMPLES / "policies").glob("*.md"))]


@pytest.fixture(scope="module")
def catalog_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A data directory holding the ingested sample catalog; the environment points the CLI at it."""
    data_dir = tmp_path_factory.mktemp("cli-ask") / "var"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ANCHOR_DATA_DIR", str(data_dir))
        mp.setenv("ANCHOR_EMBEDDER", "hash")
        mp.delenv("ANCHOR_DATABASE_URL", raising=False)
        mp.delenv("ANCHOR_DEFAULT_MERCHANT", raising=False)
        services = Services(Settings())
        assert services.ingest(SAMPLE_FILES, "demo").applied
        services.close()
        yield data_dir


def test_ask_prints_answer_and_summary(catalog_env: Path) -> None:
    result = runner.invoke(app, ["ask", "ZH-EL-001 多少钱"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert "399" in lines[0]
    assert lines[-1].startswith("route=product_question")
    assert "ZH-EL-001:price" in lines[-1]
    assert "refused=no" in lines[-1]
    assert "escalated=no" in lines[-1]


def test_ask_json_dumps_the_whole_result(catalog_env: Path) -> None:
    result = runner.invoke(app, ["ask", "我要退货，订单号 202405061234567", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    for key in (
        "answer",
        "language",
        "route",
        "citations",
        "refused",
        "escalated",
        "ticket_id",
        "timings_ms",
    ):
        assert key in body
    assert body["route"] == "after_sales"
    assert body["escalated"] is True
    assert body["ticket_id"]
    assert body["conversation_id"].startswith("cli-")


def test_ask_continues_a_conversation(catalog_env: Path) -> None:
    first = runner.invoke(app, ["ask", "ZH-AP-001 多少钱", "--conversation", "cli-test-1", "--json"])
    assert first.exit_code == 0, first.output
    second = json.loads(
        runner.invoke(app, ["ask", "有XL吗", "--conversation", "cli-test-1", "--json"]).stdout
    )
    assert second["focus_sku"] == "ZH-AP-001"
    assert second["focus_method"] == "memory"


def test_ask_live_channel_is_passed_on(catalog_env: Path) -> None:
    # On a public live channel without a platform user id, after-sales opens no ticket.
    body = json.loads(runner.invoke(app, ["ask", "我要退款", "--channel", "live", "--json"]).stdout)
    assert body["route"] == "after_sales"
    assert body["ticket_id"] is None


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["ask"], "QUESTION or --file"),
        (["ask", "hi", "--channel", "tv"], "not a channel"),
        (["ask", "hi", "--merchant", "-bad"], "merchant id"),
        (["ask", "hi", "--conversation", "has space"], "1-64 letters"),
        (["ask", "   "], "the question is empty"),
        (["ask", "a" * 2001], "the limit is 2000"),
    ],
)
def test_ask_refuses_bad_arguments_without_traceback(catalog_env: Path, args: list[str], needle: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert needle in result.output
    assert "Traceback" not in result.output


def test_ask_file_plain_text(catalog_env: Path, tmp_path: Path) -> None:
    questions = tmp_path / "questions.txt"
    questions.write_text("ZH-EL-001 多少钱\n\n   \nAuralis AirBuds 2 price?\n", encoding="utf-8")
    result = runner.invoke(app, ["ask", "--file", str(questions)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["line"] for row in rows] == [1, 4]
    assert rows[0]["question"] == "ZH-EL-001 多少钱"
    assert rows[0]["focus_sku"] == "ZH-EL-001"
    assert rows[1]["focus_sku"] == "EN-EL-001"
    assert rows[0]["conversation_id"] != rows[1]["conversation_id"]


def test_ask_file_jsonl_reports_a_malformed_line_and_continues(catalog_env: Path, tmp_path: Path) -> None:
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        "\n".join(
            [
                json.dumps({"text": "ZH-EL-001 多少钱"}),
                '{"text": "broken',
                json.dumps({"text": "多少钱", "focus_sku": "ZH-HM-004", "conversation": "jl-1"}),
                json.dumps({"text": "我要退款", "channel": "live"}),
                json.dumps({"no_text": 1}),
                "[1, 2]",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["ask", "--file", str(questions)])
    assert result.exit_code == 1
    rows = {row["line"]: row for row in map(json.loads, result.stdout.splitlines())}
    assert sorted(rows) == [1, 2, 3, 4, 5, 6]
    assert "not valid JSON" in rows[2]["error"]
    assert "'text' is missing" in rows[5]["error"]
    assert "JSON object" in rows[6]["error"]
    assert rows[1]["focus_sku"] == "ZH-EL-001"
    assert rows[3]["focus_sku"] == "ZH-HM-004"
    assert rows[3]["conversation_id"] == "jl-1"
    assert "89" in rows[3]["answer"]
    assert rows[4]["route"] == "after_sales"
    assert rows[4]["ticket_id"] is None  # live channel: no ticket without a platform user


def test_ask_file_missing_is_a_usage_error(catalog_env: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["ask", "--file", str(tmp_path / "nope.txt")])
    assert result.exit_code == 2
    assert "no such file" in result.output


def test_chat_repl_keeps_one_conversation(catalog_env: Path) -> None:
    result = runner.invoke(app, ["chat", "--debug"], input="ZH-AP-001 多少钱\n\n有XL吗\n/quit\n不会被回答\n")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "159" in out
    assert out.count("route=product_question") == 2
    assert "focus ZH-AP-001 via memory" in out  # the second turn remembered the first
    assert "timings normalise" in out
    assert "不会被回答" not in out


def test_chat_repl_ends_at_eof_and_survives_bad_lines(catalog_env: Path) -> None:
    result = runner.invoke(app, ["chat"], input="a" * 2001 + "\n你好\n")
    assert result.exit_code == 0, result.output
    assert "the limit is 2000" in result.output
    assert result.stdout.count("route=") == 1


def test_an_argument_that_is_not_utf8_is_refused_naming_it(tmp_path: Path) -> None:
    import subprocess
    import sys

    anchor = Path(sys.executable).with_name("anchor")
    env = {**os.environ, "ANCHOR_DATA_DIR": str(tmp_path / "var"), "ANCHOR_EMBEDDER": "hash"}
    result = subprocess.run(
        [str(anchor), "ask", "-m", "demo", b"\xff X3 Pro".decode("utf-8", "surrogateescape")],
        env=env,
        capture_output=True,
        check=False,
    )
    assert result.returncode == 2
    assert b"argument 4" in result.stderr
    assert b"not valid UTF-8" in result.stderr
    assert b"Traceback" not in result.stderr
