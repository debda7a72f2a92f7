"""The compliance word base: its files, the automaton over normalised text, merchants' own words."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.compliance import check, enforce
from agent.compliance.wordbase import (
    CATEGORIES,
    MerchantWords,
    WordBase,
    WordBaseError,
    compile_base,
    matchable,
    packaged_base,
    required_literals,
)
from api.cli import app
from api.services import Services
from api.settings import Settings

GOOD = """version: 1
sources:
  brand: Our brand book
entries:
  - term: 秒发
    lang: zh
    category: false_claim
    rule: 品牌规范
    severity: medium
    action: rewrite
    rewrite: 尽快发货
    except: [秒发货通知]
    sources: [brand]
  - term: miracle glow
    lang: en
    category: cosmetic_efficacy
    rule: Brand policy
    action: drop
allow: [顶级]
"""


def _write(tmp_path: Path, text: str, name: str = "words.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_packaged_base_covers_every_category_in_both_languages() -> None:
    base = packaged_base()
    for language in ("zh", "en"):
        categories = {e.category for e in base.entries if e.lang in (language, "any")}
        assert categories == set(CATEGORIES), set(CATEGORIES) - categories
    assert all(e.sources for e in base.entries), "every entry says where it came from"


@pytest.mark.parametrize(
    ("text", "where", "reason"),
    [
        (
            "entries:\n  - term: 最好\n    lang: zh\n    category: nope\n    rule: x\n",
            ":2",
            "unknown category",
        ),
        ("entries:\n  - lang: zh\n    category: superlative\n    rule: x\n", ":2", "exactly one of"),
        (
            "entries:\n  - term: 好\n    category: superlative\n    rule: x\n"
            "  - term: 最好\n    category: superlative\n    action: rewrite\n    rule: x\n",
            ":5",
            "needs a `rewrite`",
        ),
        (
            "entries:\n  - term: 最好\n    category: superlative\n    rule: x\n    except: [很好]\n",
            ":2",
            "does not contain",
        ),
        (
            "entries:\n  - pattern: '最('\n    category: superlative\n    rule: x\n",
            ":2",
            "not a valid regular",
        ),
        ("entries: [\n", ":", "not valid YAML"),
        ("colour: red\n", ":1", "unknown top-level"),
        (
            "entries:\n  - term: 最好\n    category: superlative\n    rule: x\n"
            "  - term: 最 好\n    category: superlative\n    rule: y\n",
            ":5",
            "repeats the entry",
        ),
    ],
)
def test_a_bad_words_file_is_refused_with_file_line_and_reason(
    tmp_path: Path, text: str, where: str, reason: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(WordBaseError) as err:
        WordBase.load([path])
    message = str(err.value)
    assert message.startswith(f"{path}{where}"), message
    assert reason in message


def test_spaced_out_and_disguised_words_are_joined_before_matching() -> None:
    assert matchable("最 好").text == "最好"
    assert matchable("最*好").text == "最好"
    assert matchable("b e s t").text == "best"
    assert matchable("Ｂ.Ｅ.Ｓ.Ｔ").text == "best"
    assert matchable("I am a man").text == "i am a man"  # ordinary words keep their spaces
    for text in ("这是最 好的面霜", "the b e s t serum", "ＢＥＳＴ serum", "最\u200b好", "極品好茶"):
        assert not check(text).ok, text
    report = check("这是最 好的面霜")
    (finding,) = report.findings
    assert report.text[finding.start : finding.end] == "最 好"


def test_patterns_run_only_on_texts_holding_their_required_literals() -> None:
    assert required_literals("最(?:好|佳)") == frozenset({"最"})
    assert required_literals(r"(?:the\s+)?best") == frozenset({"best"})
    assert required_literals(r"\w+") is None
    # Sound: every match of every packaged pattern holds one of its literals.
    samples = [
        "最好的",
        "the best serum",
        "销量第一名",
        "no.1",
        "100%有效",
        "全网最低价",
        "包治百病",
        "cures acne",
    ]
    for entry in packaged_base().entries:
        if entry.pattern is None:
            continue
        literals = required_literals(entry.pattern)
        for sample in samples:
            folded = matchable(sample).text
            for m in re.finditer(entry.pattern, folded, re.I):
                assert literals is None or any(x in m.group(0) for x in literals), (entry.pattern, sample)


def test_merchant_words_extend_and_relax_the_packaged_base(tmp_path: Path) -> None:
    base = compile_base(packaged_base().extended(WordBase.load([_write(tmp_path, GOOD)])))
    (finding,) = check("今天下单秒发", words=base).findings
    assert (finding.category, finding.article, finding.suggestion) == ("false_claim", "品牌规范", "尽快发货")
    assert check("请留意秒发货通知", words=base).ok
    assert not check("Miracle Glow serum", words=base).ok
    assert check("顶级面料", words=base).ok  # allowed by the merchant
    assert not check("顶级面料").ok
    assert enforce("今天下单秒发。", words=base).text == "今天下单尽快发货。"


def test_merchant_words_are_saved_only_when_valid(tmp_path: Path) -> None:
    store = MerchantWords(tmp_path / "words")
    assert store.compiled("m1") is None
    store.save("m1", GOOD)
    compiled = store.compiled("m1")
    assert compiled is not None
    assert not check("秒发", words=compiled).ok
    with pytest.raises(WordBaseError) as err:
        store.save("m1", "entries:\n  - term: x\n", name="mine.yaml")
    assert str(err.value).startswith("mine.yaml:2")
    assert store.path("m1").read_text(encoding="utf-8") == GOOD  # the valid file stays
    assert sorted(p.name for p in (tmp_path / "words").iterdir()) == ["m1.yaml"]


def test_check_cli_takes_a_words_file_and_reports_category_and_article(tmp_path: Path) -> None:
    runner = CliRunner()
    words = _write(tmp_path, GOOD)
    result = runner.invoke(app, ["check", "--json", "--words", str(words), "今天下单秒发，全网最低价"])
    assert result.exit_code == 1, result.output
    payload = json.loads(result.output)
    by_word = {f["word"]: f for f in payload["findings"]}
    assert by_word["秒发"]["category"] == "false_claim"
    assert by_word["全网最低价"]["article"].startswith("广告法")
    bad = _write(tmp_path, "entries:\n  - term: x\n", "bad.yaml")
    result = runner.invoke(app, ["check", "--words", str(bad), "你好"])
    assert result.exit_code == 2
    assert "bad.yaml:2" in result.output


CSV = "sku,title,price,currency,stock,selling_points\nS1,暖禾卫衣,99,CNY,5,今天下单秒发\n"


def test_a_words_file_in_the_catalog_import_is_applied_or_nothing_is(
    settings: Settings, tmp_path: Path
) -> None:
    services = Services(settings)
    catalog = _write(tmp_path, CSV, "products.csv")
    bad = _write(tmp_path, "entries:\n  - term: 秒发\n    category: nope\n    rule: x\n", "mine.yaml")
    report = services.ingest([catalog, bad], "m1")
    assert not report.applied
    assert "mine.yaml:2" in str(report.errors[0])
    assert services.store.get_product("m1", "S1") is None  # nothing half-applied
    assert services.merchant_words.compiled("m1") is None
    good = _write(tmp_path, GOOD, "mine.yaml")
    report = services.ingest([catalog, good], "m1")
    assert report.applied
    assert report.side_files == ["mine.yaml"]
    assert services.store.get_product("m1", "S1") is not None
    words = services.merchant_words.compiled("m1")
    assert words is not None
    # The merchant's words reach answers: the guard rewrites what the merchant forbids.
    answer = asyncio.run(services.pipeline.answer("m1", "c1", "暖禾卫衣有什么卖点"))
    assert "尽快发货" in answer.answer, answer.answer
    assert "秒发" not in answer.answer
