"""Catalog file loaders: CSV/TSV (incl. Shopify exports), XLSX, JSON/JSONL and Markdown/text documents.

`load_file(path)` reads one file into a `LoadResult` (products, documents, problems). It never raises
for bad content; the formats are described in docs/catalog-formats.md.
"""

from knowledge.loaders.dispatch import SUPPORTED_SUFFIXES, load_file
from knowledge.loaders.report import LoaderError

__all__ = ["SUPPORTED_SUFFIXES", "LoaderError", "load_file"]
