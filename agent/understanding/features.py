"""Cheap features of a message, beside its sentence vector: hashed character n-grams and a few cues.

The sentence vector (multilingual USE) carries the meaning; these carry the surface a vector blurs:
typos and pinyin that share characters with the right word (退kuan, recieve), platform slang, the
shape of a message (one word, only "???", an order number inside). All of it is deterministic: the
hash is CRC-32, never Python's salted `hash`.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from agent.routing.order_ids import extract_order_ids

#: Hashed n-gram buckets. 2**16 keeps collisions rare for a few tens of thousands of distinct n-grams.
HASH_BUCKETS = 1 << 16

_SPACES = re.compile(r"\s+")
_LONG_DIGITS = re.compile(r"\d{5,}")
_URL = re.compile(r"https?://\S+|www\.\S+|\b[a-z0-9-]+\.(?:com|cn|net|org)\b\S*", re.I)
_LATIN_WORD = re.compile(r"[a-z][a-z']*")
_CJK = re.compile(r"[\u3400-\u9fff]")
_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)|(?<!\d)\(?\d{3}\)?[ -]?\d{3}-\d{4}(?!\d)")
_LINK_NUMBER = re.compile(r"\d+\s*号|link\s*#?\s*\d+|#\d+\b", re.I)
_QUESTION = re.compile(
    r"[?？]|[吗呢嘛么][\s!！~。.]*$|^(?:how|what|when|where|which|why|who|is|are|do|does|can)\b"
)

#: Names of the cue features, in vector order.
CUES: tuple[str, ...] = (
    "order_id",
    "phone",
    "link_number",
    "question",
    "url",
    "no_words",
    "has_cjk",
    "has_latin",
    "len_1_2",
    "len_3_6",
    "len_7_20",
    "len_21_60",
    "len_61_plus",
)


def fold(text: str) -> str:
    """The form the n-grams are cut from: NFKC, lower case, one space, long digit runs and links as one
    symbol each (an order number's digits say "order number", not which one)."""
    folded = unicodedata.normalize("NFKC", text).lower()
    folded = _URL.sub(" ↗ ", folded)
    folded = _LONG_DIGITS.sub("§", folded)
    return _SPACES.sub(" ", folded).strip()


def ngrams(folded: str) -> list[str]:
    """Character 1–3-grams of the message (with boundary marks) and its latin words and word pairs."""
    padded = f"^{folded}$"
    grams = [padded[i : i + n] for n in (1, 2, 3) for i in range(len(padded) - n + 1)]
    latin = _LATIN_WORD.findall(folded)
    grams.extend(f"w:{w}" for w in latin)
    grams.extend(f"w:{a}_{b}" for a, b in pairwise(latin))
    return grams


def bucket_counts(folded: str) -> dict[int, int]:
    """Hashed n-gram bucket → count."""
    counts: dict[int, int] = {}
    for gram in ngrams(folded):
        bucket = zlib.crc32(gram.encode("utf-8")) & (HASH_BUCKETS - 1)
        counts[bucket] = counts.get(bucket, 0) + 1
    return counts


@dataclass(frozen=True, slots=True)
class SparseRow:
    """One message's n-gram features: bucket indices and their (unscaled, l2-normalised) weights."""

    indices: np.ndarray  # int64
    values: np.ndarray  # float32


def sparse_row(folded: str, idf: np.ndarray) -> SparseRow:
    """Sub-linear tf × idf over the hashed buckets, l2-normalised."""
    counts = bucket_counts(folded)
    if not counts:
        return SparseRow(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
    indices = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
    tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
    values = (1.0 + np.log(tf)) * idf[indices]
    norm = float(np.linalg.norm(values))
    if norm > 0:
        values = values / norm
    return SparseRow(indices, values.astype(np.float32))


def cue_names(raw: str, folded: str) -> list[str]:
    """The cues that fire on a message (raw text for order and phone numbers, folded for the rest)."""
    fired: list[str] = []
    if extract_order_ids(raw):
        fired.append("order_id")
    if _MOBILE.search(raw):
        fired.append("phone")
    if _LINK_NUMBER.search(folded):
        fired.append("link_number")
    if _QUESTION.search(folded):
        fired.append("question")
    if "↗" in folded:
        fired.append("url")
    if not any(ch.isalnum() for ch in folded):
        fired.append("no_words")
    if _CJK.search(folded):
        fired.append("has_cjk")
    if _LATIN_WORD.search(folded):
        fired.append("has_latin")
    size = len(folded.replace(" ", ""))
    if size <= 2:
        fired.append("len_1_2")
    elif size <= 6:
        fired.append("len_3_6")
    elif size <= 20:
        fired.append("len_7_20")
    elif size <= 60:
        fired.append("len_21_60")
    else:
        fired.append("len_61_plus")
    return fired


def cue_vector(fired: list[str]) -> np.ndarray:
    """The cues as a 0/1 vector in `CUES` order."""
    return np.array([1.0 if name in fired else 0.0 for name in CUES], dtype=np.float32)
