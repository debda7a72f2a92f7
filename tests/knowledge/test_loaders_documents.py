"""Markdown/text documents: chunking by heading, FAQ pairs, sku ties, locale."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.loaders import load_file
from knowledge.loaders.markdown import MAX_SECTION_CHARS
from knowledge.models import DocSection, Document, ImportLimits

pytestmark = pytest.mark.unit

POLICY = """# 退换货政策

本店支持7天无理由退货。

## 退货条件

商品未使用、吊牌完好。

### 运费

质量问题由本店承担运费。

```
# 这不是标题
```

## 换货

同款换尺码一次免费。
"""


def load_document(tmp_path: Path, name: str, text: str, **kwargs: str) -> Document:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    result = load_file(path, **kwargs)  # type: ignore[arg-type]
    assert result.errors == []
    (document,) = result.documents
    return document


def test_policy_is_chunked_by_heading(tmp_path: Path) -> None:
    doc = load_document(tmp_path, "Returns Policy.md", POLICY)
    assert (doc.doc_id, doc.title, doc.kind, doc.locale, doc.source) == (
        "returns-policy",
        "退换货政策",
        "policy",
        "zh",
        "Returns Policy.md",
    )
    assert doc.sections == [
        DocSection("退换货政策", "本店支持7天无理由退货。"),
        DocSection("退货条件", "商品未使用、吊牌完好。"),
        DocSection("退货条件 / 运费", "质量问题由本店承担运费。\n\n```\n# 这不是标题\n```"),
        DocSection("换货", "同款换尺码一次免费。"),
    ]


def test_display_name_names_the_document(tmp_path: Path) -> None:
    doc = load_document(tmp_path, "000.md", "No heading here, just text.", display_name="运费说明.md")
    assert (doc.doc_id, doc.title, doc.source, doc.locale) == ("运费说明", "运费说明", "运费说明.md", "en")
    assert doc.sections == [DocSection("运费说明", "No heading here, just text.")]


def test_long_sections_split_at_paragraphs_keeping_the_heading(tmp_path: Path) -> None:
    paragraphs = [f"Paragraph {i}. " + "word " * 60 for i in range(8)]
    text = "# Shipping\n\n## Times\n\n" + "\n\n".join(paragraphs) + "\n\n" + "x" * 2000 + "\n"
    doc = load_document(tmp_path, "shipping.md", text)
    assert len(doc.sections) > 3
    assert {s.heading for s in doc.sections} == {"Times"}
    assert all(len(s.text) <= MAX_SECTION_CHARS for s in doc.sections)
    # nothing is lost and paragraphs are not cut in the middle
    joined = "\n\n".join(s.text for s in doc.sections)
    assert joined.replace("\n\n", "") == ("".join(p.strip() for p in paragraphs) + "x" * 2000)
    assert doc.sections[0].text.startswith("Paragraph 0.")
    assert all(s.text.startswith(("Paragraph", "x")) for s in doc.sections)


def test_qa_pairs_make_a_faq(tmp_path: Path) -> None:
    text = (
        "---\nsku: T-01\n---\n# 常见问题\n\n"
        "Q: 发货要多久？\nA: 付款后48小时内发货。\n\n"
        "问：支持七天无理由吗？\n\n答：支持，吊牌完好即可。\n偏远地区除外。\n\n"
        "**Q：尺码偏大吗？[sku: T-02]**\n**A：** 偏小一码，建议拍大一码。\n"
    )
    doc = load_document(tmp_path, "faq.md", text)
    assert doc.kind == "faq"
    assert doc.sections == [
        DocSection("发货要多久？", "付款后48小时内发货。", "T-01"),
        DocSection("支持七天无理由吗？", "支持，吊牌完好即可。\n偏远地区除外。", "T-01"),
        DocSection("尺码偏大吗？", "偏小一码，建议拍大一码。", "T-02"),
    ]


def test_question_headings_make_a_faq(tmp_path: Path) -> None:
    text = (
        "# FAQ\n\n## Do you ship abroad?\n\nYes, to 30 countries.\n\n"
        "### Is it waterproof? [SKU: W-9]\n\nIPX7 rated.\n\n## Contact\n\nMail us.\n"
    )
    doc = load_document(tmp_path, "faq.txt", text)
    assert (doc.kind, doc.locale) == ("faq", "en")
    assert doc.sections == [
        DocSection("Do you ship abroad?", "Yes, to 30 countries."),
        DocSection("Is it waterproof?", "IPX7 rated.", "W-9"),
        DocSection("Contact", "Mail us."),
    ]


def test_front_matter_sets_kind_title_and_sku(tmp_path: Path) -> None:
    text = "---\ntitle: Size chart\nkind: page\nsku: D-1\n---\n\n| S | 160 |\n| M | 165 |\n"
    doc = load_document(tmp_path, "sizes.md", text)
    assert (doc.title, doc.kind) == ("Size chart", "page")
    assert doc.sections == [DocSection("Size chart", "| S | 160 |\n| M | 165 |", "D-1")]


def test_empty_and_oversized_documents(tmp_path: Path) -> None:
    empty = tmp_path / "empty.md"
    empty.write_text("# Only a title\n", encoding="utf-8")
    assert [e.message for e in load_file(empty).errors] == ["the document has no text"]
    big = tmp_path / "big.md"
    big.write_text("x" * 200, encoding="utf-8")
    result = load_file(big, ImportLimits(max_document_chars=100))
    assert result.documents == []
    assert "the limit is 100" in result.errors[0].message


def test_gbk_text_document(tmp_path: Path) -> None:
    path = tmp_path / "售后.txt"
    path.write_bytes("问：怎么退货？\n答：联系客服。\n".encode("gbk"))
    result = load_file(path)
    (doc,) = result.documents
    assert (doc.kind, doc.sections) == ("faq", [DocSection("怎么退货？", "联系客服。")])
