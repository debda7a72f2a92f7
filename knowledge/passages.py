"""Passages: the retrievable units cut from products (one per field group) and documents (one per section).

Every product passage starts with "brand title:" and every document passage with "document — heading:",
so a chunk on its own still says which product or policy it is about. Volatile facts (price, stock) are
left out on purpose: they are read from the store when an answer is written, never from passage text.
Passage ids are stable across merchants and rebuilds: ``p:<sku>:<field>:<n>`` and ``d:<doc_id>:<n>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from knowledge.models import Document, Passage, Product, Source
from knowledge.tokenize import script_of

#: Longest passage body in characters; longer descriptions and sections are cut at sentence ends.
MAX_CHUNK_CHARS = 360

_SENTENCE_END_RE = re.compile(r"(?<=[。！？!?；;\n])|(?<=[.])\s+")


def passage_lang(locale: str, text: str) -> str:
    """ "zh" or "en" (or "mixed") for a passage: its locale when given, else the script of its text."""
    loc = locale.lower()
    if loc.startswith("zh"):
        return "zh"
    if loc.startswith("en"):
        return "en"
    script = script_of(text)
    return "en" if script == "none" else script


def product_head(product: Product) -> str:
    """ "brand title" without repeating a brand the title already starts with."""
    title = product.title.strip()
    brand = product.brand.strip()
    if brand and not title.lower().startswith(brand.lower()):
        return f"{brand} {title}"
    return title


def chunk_text(text: str, limit: int = MAX_CHUNK_CHARS) -> list[str]:
    """Split text into chunks of at most about `limit` characters, at sentence ends where possible."""
    clean = text.strip()
    if len(clean) <= limit:
        return [clean] if clean else []
    chunks: list[str] = []
    current = ""
    for sentence in _SENTENCE_END_RE.split(clean):
        sentence = sentence.strip()
        if not sentence:
            continue
        while len(sentence) > limit:  # a sentence longer than a chunk: cut it hard
            if current:
                chunks.append(current)
                current = ""
            chunks.append(sentence[:limit])
            sentence = sentence[limit:]
        joiner = "" if not current or _ends_cjk(current) else " "
        if current and len(current) + len(joiner) + len(sentence) > limit:
            chunks.append(current)
            current = sentence
        else:
            current = f"{current}{joiner}{sentence}" if current else sentence
    if current:
        chunks.append(current)
    return chunks


def _ends_cjk(text: str) -> bool:
    return bool(text) and ord(text[-1]) > 0x2E80


def _product_fields(product: Product, zh: bool) -> list[tuple[str, list[str]]]:
    """(field, bodies) per field group, in a fixed order."""
    sep = "；" if zh else "; "
    groups: list[tuple[str, list[str]]] = []
    summary = [product.category.strip(), *(t.strip() for t in product.tags)]
    summary = [s for s in summary if s]
    groups.append(("summary", [sep.join(summary)] if summary else [""]))
    points = [p.strip() for p in product.selling_points if p.strip()]
    if points:
        groups.append(("selling_points", chunk_text(sep.join(points))))
    if product.description.strip():
        groups.append(("description", chunk_text(product.description)))
    attrs = [f"{k}: {v}" for k, v in product.attributes.items() if str(v).strip()]
    if attrs:
        groups.append(("attributes", chunk_text("\n".join(attrs))))
    options = variant_options(product)
    if options:
        label = "可选" if zh else "Options"
        lines = [f"{key}: {', '.join(values)}" for key, values in options.items()]
        groups.append(("variants", chunk_text(f"{label} — " + sep.join(lines))))
    return groups


def variant_options(product: Product) -> dict[str, list[str]]:
    """Option name → distinct values across the product's variants, in first-seen order."""
    options: dict[str, list[str]] = {}
    for variant in product.variants:
        for key, value in variant.options.items():
            values = options.setdefault(key, [])
            if value not in values:
                values.append(value)
    return options


def product_passages(product: Product) -> list[Passage]:
    """The passages of one product: summary, selling points, description chunks, attributes, variants."""
    head = product_head(product)
    lang = passage_lang(product.locale, f"{product.title} {product.description[:200]}")
    passages: list[Passage] = []
    for field_name, bodies in _product_fields(product, zh=lang == "zh"):
        for n, body in enumerate(bodies):
            text = f"{head}: {body}" if body else head
            passages.append(
                Passage(
                    passage_id=f"p:{product.sku}:{field_name}:{n}",
                    text=text,
                    source=Source(sku=product.sku, field=field_name),
                    locale=lang,
                )
            )
    return passages


@dataclass(frozen=True, slots=True)
class CatalogPassage:
    """A passage and the product it speaks about: its own for product fields, the FAQ's sku if any."""

    passage: Passage
    sku: str | None


def document_passages(document: Document) -> list[CatalogPassage]:
    """One passage per section (long sections cut into chunks), each prefixed "title — heading:"."""
    passages: list[CatalogPassage] = []
    n = 0
    for section in document.sections:
        heading = section.heading.strip()
        head = f"{document.title} — {heading}" if heading else document.title
        for body in chunk_text(section.text) or [""]:
            if not body and not heading:
                continue
            text = f"{head}: {body}" if body else head
            passage = Passage(
                passage_id=f"d:{document.doc_id}:{n}",
                text=text,
                source=Source(doc_id=document.doc_id, heading=heading or None),
                locale=passage_lang(document.locale, text),
            )
            passages.append(CatalogPassage(passage, section.sku))
            n += 1
    return passages


def catalog_passages(products: Iterable[Product], documents: Sequence[Document] = ()) -> list[CatalogPassage]:
    """All passages of a catalog with the sku each speaks about: every product's, then documents'."""
    out: list[CatalogPassage] = []
    for product in products:
        out.extend(CatalogPassage(p, product.sku) for p in product_passages(product))
    for document in documents:
        out.extend(document_passages(document))
    return out


def build_passages(products: Iterable[Product], documents: Sequence[Document] = ()) -> list[Passage]:
    """All passages of a catalog: every product's, then every document's."""
    return [cp.passage for cp in catalog_passages(products, documents)]
