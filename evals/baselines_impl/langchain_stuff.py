"""Baseline: the plain LangChain pipeline — FAISS vector store + "stuff" chain over a chat model.

What a developer builds from the LangChain tutorials: the catalog as `Document`s in
``langchain_community``'s FAISS store (embedded with the same model as the product, through an
`Embeddings` adapter), ``as_retriever(search_kwargs={"k": 4})``, and ``create_stuff_documents_chain``
with a prompt that pastes the retrieved documents into the system message, over ``ChatOpenAI``.

The documents: the same passages the product indexes (`knowledge.passages.catalog_passages`) plus, since
those leave prices and stock out on purpose and this pipeline has no store to read them from, two
"cards" per product, each starting with the product's name: its price and list price, and its stock per
variant in plain words ("粉色/XL 售罄；灰色/M 有货（25件）") — the rendering a careful developer would write, favourable to the baseline.
Each document's metadata names its source, so the answer can be scored for the product it is about
(the top retrieved document's) and its citations (all retrieved documents).

The shopper's question is all it sees: no live-room link numbers, no product-page focus.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from langchain_classic.chains.combine_documents import create_stuff_documents_chain
from langchain_community.vectorstores import FAISS
from langchain_core.documents import Document as LCDocument
from langchain_core.embeddings import Embeddings
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import Runnable
from langchain_core.vectorstores import VectorStoreRetriever
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from evals.baselines_impl.common import BaselineAnswer, money, product_is_zh, stock_phrase
from evals.baselines_impl.extractive_llm import CONTEXT_MARKER, is_refusal
from knowledge.embedders import Embedder
from knowledge.models import Document, Product
from knowledge.passages import catalog_passages, product_head

#: The stuff prompt: instructions, then the documents after `CONTEXT_MARKER`, then the question.
SYSTEM_PROMPT = (
    "You are a shop's customer-service assistant. Answer the question using only the context below. "
    "If the context does not contain the answer, say that you don't know. Answer in the language of "
    "the question.\n\n" + CONTEXT_MARKER + "\n{context}"
)


class EmbedderEmbeddings(Embeddings):
    """LangChain `Embeddings` over one of our embedders (same model, same vectors)."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = np.asarray(self.embedder.embed(texts), dtype=np.float32)
        return [[float(x) for x in row] for row in vectors]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def product_cards(product: Product) -> list[LCDocument]:
    """The product's price card and stock card in plain words (none for what the record lacks)."""
    zh = product_is_zh(product)
    head = product_head(product)
    cards: list[LCDocument] = []
    if product.price is not None:
        price = money(product.price, product.currency)
        if zh:
            text = f"{head}：价格{price}"
            if product.list_price is not None:
                text += f"，原价{money(product.list_price, product.currency)}"
        else:
            text = f"{head}: price {price}"
            if product.list_price is not None:
                text += f", list price {money(product.list_price, product.currency)}"
        cards.append(_card(product, "price", text + ("。" if zh else ".")))
    parts: list[str] = []
    for variant in product.variants:
        label = "/".join(variant.options.values()) or variant.sku
        extra = ""
        if variant.price is not None and variant.price != product.price:
            extra = " " + money(variant.price, product.currency)
        if variant.stock is not None:
            parts.append(f"{label}{extra} {stock_phrase(variant.stock, zh)}")
    if not product.variants and product.stock is not None:
        parts.append(stock_phrase(product.stock, zh))
    if parts:
        text = (
            f"{head} 库存：" + "；".join(parts) + "。" if zh else f"{head} stock: " + "; ".join(parts) + "."
        )
        cards.append(_card(product, "stock", text))
    return cards


def _card(product: Product, field: str, text: str) -> LCDocument:
    return LCDocument(page_content=text, metadata={"sku": product.sku, "field": field})


def catalog_documents(products: Iterable[Product], documents: Sequence[Document] = ()) -> list[LCDocument]:
    """The catalog as LangChain documents: each product's cards, then every passage (module docstring)."""
    products = list(products)
    out = [card for p in products for card in product_cards(p)]
    for cp in catalog_passages(products, documents):
        metadata: dict[str, Any] = {k: v for k, v in cp.passage.source.to_dict().items() if v is not None}
        if cp.sku is not None:
            metadata.setdefault("sku", cp.sku)
        out.append(LCDocument(page_content=cp.passage.text, metadata=metadata))
    return out


def _citation(document: LCDocument) -> dict[str, str]:
    meta = document.metadata
    if meta.get("document"):
        return {"document": str(meta["document"]), "heading": str(meta.get("heading") or "")}
    return {"sku": str(meta.get("sku") or ""), "field": str(meta.get("field") or "")}


class LangChainStuffQA:
    """Retrieve k documents from FAISS, stuff them into the prompt, ask the chat model.

    Args:
        embedder: The embedder (the product's model, wrapped in `EmbedderEmbeddings`).
        products: The catalog's products.
        documents: The catalog's policy documents.
        base_url: The OpenAI-compatible server (in benchmarks, the loopback fake).
        model: The model name sent.
        api_key: The key sent.
        k: Documents retrieved per question.
    """

    name = "langchain_stuff"

    def __init__(
        self,
        embedder: Embedder,
        products: Iterable[Product],
        documents: Sequence[Document] = (),
        *,
        base_url: str,
        model: str = "gpt-4o-mini",
        api_key: str = "sk-baseline",
        k: int = 4,
    ) -> None:
        self.embeddings = EmbedderEmbeddings(embedder)
        self.corpus = catalog_documents(products, documents)
        self.base_url = base_url
        self.model = model
        self.api_key = api_key
        self.k = k
        self._retriever: VectorStoreRetriever | None = None
        self._chain: Runnable[dict[str, Any], Any] | None = None

    def warm_up(self) -> None:
        """Embed the catalog into FAISS and build the chain (idempotent)."""
        if self._retriever is not None:
            return
        store = FAISS.from_documents(self.corpus, self.embeddings)
        self._retriever = store.as_retriever(search_kwargs={"k": self.k})
        llm = ChatOpenAI(
            base_url=self.base_url,
            api_key=SecretStr(self.api_key),
            model=self.model,
            temperature=0,
            max_retries=0,
        )
        prompt = ChatPromptTemplate.from_messages([("system", SYSTEM_PROMPT), ("human", "{input}")])
        self._chain = create_stuff_documents_chain(llm, prompt)

    def _ready(self) -> tuple[VectorStoreRetriever, Runnable[dict[str, Any], Any]]:
        self.warm_up()
        if self._retriever is None or self._chain is None:
            raise RuntimeError("the LangChain baseline did not build its store and chain")
        return self._retriever, self._chain

    def answer(self, question: str) -> BaselineAnswer:
        retriever, chain = self._ready()
        start = time.perf_counter()
        retrieved = retriever.invoke(question)
        retrieved_at = time.perf_counter()
        text = str(chain.invoke({"context": retrieved, "input": question})).strip()
        done = time.perf_counter()
        focus = next((str(d.metadata["sku"]) for d in retrieved[:1] if d.metadata.get("sku")), None)
        return BaselineAnswer(
            answer=text,
            refused=is_refusal(text),
            focus_sku=focus,
            citations=tuple(_citation(d) for d in retrieved),
            timings_ms={"retrieve": (retrieved_at - start) * 1000, "llm": (done - retrieved_at) * 1000},
        )
