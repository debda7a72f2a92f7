"""Markdown and text documents (policies, FAQs, size charts) → one `Document` chunked by heading.

- Title: front matter `title`, else the first `# ` heading, else the file name.
- Sections: one per `##`/`###` heading (a `###` heading is written "Parent / Child"); text before the
  first heading is a section headed by the title. Long sections are split at paragraph boundaries
  into chunks of at most `MAX_SECTION_CHARS`, each keeping the heading.
- FAQ: "Q:/问：" + "A:/答：" line pairs, or a file whose headings are mostly questions (ending in ?/？),
  give one section per question (heading = question, text = answer) and kind "faq".
- Product ties: front matter `sku: X` ties every section to a product; a `[sku: X]` marker in a
  heading or question ties that one section.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import yaml

from knowledge.loaders.report import Reporter
from knowledge.loaders.text import clean_text, guess_locale, shorten, slugify
from knowledge.models import DocSection, Document, DocumentKind, ImportLimits

MAX_SECTION_CHARS = 800
_KINDS: dict[str, DocumentKind] = {"policy": "policy", "faq": "faq", "page": "page"}

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.DOTALL)
_SKU_MARK = re.compile(r"[\[【]\s*sku\s*[:：]\s*([^\]】]+?)\s*[\]】]", re.IGNORECASE)
_QUESTION_LINE = re.compile(
    r"^\s*(?:[-*]\s+)?(?:\*\*)?(?:Q\d*|问题?\d*)\s*[:：.、]\s*(?P<text>.+?)(?:\*\*)?\s*$", re.IGNORECASE
)
_ANSWER_LINE = re.compile(
    r"^\s*(?:[-*]\s+)?(?:\*\*)?(?:A\d*|答案?)\s*[:：.、]\s*(?:\*\*)?\s*(?P<text>.*)$", re.IGNORECASE
)
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;])|(?<=\.)\s")


@dataclass(slots=True)
class _Block:
    """The lines under one heading (level 0: before any heading)."""

    level: int
    heading: str
    lines: list[str] = field(default_factory=list)

    def text(self) -> str:
        return re.sub(r"\n{3,}", "\n\n", "\n".join(self.lines)).strip()


def _front_matter(text: str, reporter: Reporter) -> tuple[dict[str, Any], str]:
    match = _FRONT_MATTER.match(text)
    if match is None:
        return {}, text
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        reporter.warning(f"front matter is not valid YAML and is ignored ({shorten(str(exc), 80)})", 1)
        return {}, text[match.end() :]
    if not isinstance(data, dict):
        reporter.warning("front matter is not a 'key: value' list and is ignored", 1)
        return {}, text[match.end() :]
    return {str(k): v for k, v in data.items()}, text[match.end() :]


def _blocks(body: str) -> tuple[str, list[_Block]]:
    """Split at ATX headings outside code fences. Returns the first H1 (or "") and the blocks."""
    title = ""
    blocks = [_Block(0, "")]
    in_fence = False
    for line in body.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match is None:
            blocks[-1].lines.append(line.rstrip())
            continue
        level, heading = len(match.group(1)), clean_text(match.group(2))
        if level == 1 and not title:
            title = heading
        elif level <= 3:
            blocks.append(_Block(max(level, 2), heading))
        else:
            blocks[-1].lines.append(heading)
    return title, blocks


def _split_marker(heading: str) -> tuple[str, str | None]:
    """'尺码怎么选？[sku: T-01]' → ('尺码怎么选？', 'T-01')."""
    match = _SKU_MARK.search(heading)
    if match is None:
        return heading, None
    return clean_text(heading[: match.start()] + heading[match.end() :]), clean_text(match.group(1))


def _is_question(heading: str) -> bool:
    return _split_marker(heading)[0].endswith(("?", "？"))


@dataclass(slots=True)
class _Pair:
    question: str
    sku: str | None
    answer: list[str] = field(default_factory=list)
    answered: bool = False


def _qa_pairs(blocks: list[_Block], title: str) -> list[tuple[str, str, str | None]] | None:
    """(question, answer, sku) from "Q:"/"A:" line pairs; None when the file has no such pair."""
    pairs: list[_Pair] = []
    loose: list[str] = []
    for block in blocks:
        block_sku = _split_marker(block.heading)[1]
        current: _Pair | None = None
        for line in block.lines:
            answer = _ANSWER_LINE.match(line) if current is not None and not current.answered else None
            question = None if answer else _QUESTION_LINE.match(line)
            if question:
                text, sku = _split_marker(clean_text(question.group("text")))
                current = _Pair(text, sku or block_sku)
                pairs.append(current)
            elif answer and current is not None:
                current.answered = True
                current.answer.append(answer.group("text"))
            elif current is not None and current.answered:
                current.answer.append(line)
            elif line.strip():
                loose.append(line)
    if not any(p.answered for p in pairs):
        return None
    result: list[tuple[str, str, str | None]] = []
    for pair in pairs:
        text = clean_text("\n".join(pair.answer))
        if text:
            result.append((pair.question, text, pair.sku))
        else:
            loose.append(pair.question)
    if any(line.strip() for line in loose):
        result.insert(0, (title, clean_text("\n".join(loose)), None))
    return result


def _chunks(text: str, limit: int = MAX_SECTION_CHARS) -> list[str]:
    """Split at blank lines (then sentence ends, then hard) into pieces of at most `limit` chars."""
    pieces: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = paragraph.strip()
        if len(paragraph) <= limit:
            pieces.append(paragraph)
            continue
        for sentence in _SENTENCE_END.split(paragraph):
            sentence = sentence.strip()
            while len(sentence) > limit:
                pieces.append(sentence[:limit])
                sentence = sentence[limit:].strip()
            pieces.append(sentence)
    chunks: list[str] = []
    for piece in filter(None, pieces):
        if chunks and len(chunks[-1]) + 2 + len(piece) <= limit:
            chunks[-1] = chunks[-1] + "\n\n" + piece
        else:
            chunks.append(piece)
    return chunks


def load_document(
    text: str, *, display_name: str, reporter: Reporter, limits: ImportLimits
) -> Document | None:
    """One document from Markdown or plain text; None (with a problem) when it cannot be used."""
    text = clean_text(text)
    if len(text) > limits.max_document_chars:
        reporter.error(
            f"the document is {len(text):,} characters; the limit is {limits.max_document_chars:,}"
        )
        return None
    front, body = _front_matter(text, reporter)
    h1, blocks = _blocks(body)
    stem = PurePath(display_name).stem
    title = clean_text(str(front.get("title") or h1 or stem))
    default_sku = clean_text(str(front["sku"])) if front.get("sku") is not None else None
    kind: DocumentKind = "policy"
    sections: list[DocSection] = []
    pairs = _qa_pairs(blocks, title)
    headed = [b for b in blocks if b.level]
    if pairs is not None:
        kind = "faq"
        for question, answer, sku in pairs:
            sections.extend(DocSection(question, chunk, sku or default_sku) for chunk in _chunks(answer))
    else:
        questions = sum(1 for b in headed if _is_question(b.heading))
        if questions and questions * 2 >= len(headed):
            kind = "faq"
        parent = ""
        for block in blocks:
            heading, sku = _split_marker(block.heading or title)
            if block.level == 2:
                parent = heading
            elif block.level == 3 and parent and kind != "faq":
                heading = f"{parent} / {heading}"
            sections.extend(DocSection(heading, chunk, sku or default_sku) for chunk in _chunks(block.text()))
    if not sections:
        reporter.error("the document has no text")
        return None
    declared = str(front.get("kind") or "").strip().casefold()
    if declared in _KINDS:
        kind = _KINDS[declared]
    elif declared:
        reporter.warning(f"front matter kind '{shorten(declared)}' is not policy, faq or page; ignored", 1)
    all_text = "\n".join(f"{s.heading}\n{s.text}" for s in sections)
    return Document(
        doc_id=slugify(str(front.get("doc_id") or stem)),
        title=title,
        kind=kind,
        locale=clean_text(str(front.get("locale") or "")) or guess_locale(all_text),
        sections=sections,
        source=display_name,
    )
