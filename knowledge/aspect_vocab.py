"""The bilingual aspect vocabulary (`knowledge/data/aspects.yaml`): what a question asks about, and what a
catalog line is about, in the words shoppers and merchants use.

A question and a line meet on an aspect even when they share no word: "手表能戴着游泳吗" asks `waterproof`,
"防水等级: 5ATM" is `waterproof` by its key and by its unit. The vocabulary is data; a merchant extends it
with a file of the same format (`AspectVocabulary.load(extra=…)`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

PACKAGED = Path(__file__).with_name("data") / "aspects.yaml"
_LINE_CACHE = 200_000


class AspectVocabularyError(ValueError):
    """A vocabulary file that cannot be used; the message names the file and the entry."""


def _is_cjk(text: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" for ch in text)


def _term_pattern(terms: Iterable[str]) -> re.Pattern[str] | None:
    """One pattern for many terms: Chinese ones as substrings, Latin ones as whole words or phrases."""
    parts: list[str] = []
    for term in sorted({t.strip().lower() for t in terms if t and t.strip()}, key=lambda t: (-len(t), t)):
        escaped = re.escape(term).replace(r"\ ", r"\s+")
        parts.append(escaped if _is_cjk(term) else rf"(?<![a-z0-9]){escaped}(?![a-z])")
    return re.compile("|".join(parts), re.I) if parts else None


def _unit_pattern(units: Iterable[str]) -> re.Pattern[str] | None:
    """A number next to one of the units ("35L", "1.5 L", "IPX5", "SPF50", "5ATM", "30kg")."""
    parts: list[str] = []
    for unit in sorted({u.strip() for u in units if u and u.strip()}, key=lambda u: (-len(u), u)):
        u = re.escape(unit).replace(r"\ ", r"\s*")
        after_number = rf"\d\s*{u}" + ("" if _is_cjk(unit) else r"(?![a-zA-Z])")
        before_number = rf"(?<![a-zA-Z]){u}\s*\d" if len(unit) >= 2 and not _is_cjk(unit) else ""
        parts.extend(p for p in (after_number, before_number) if p)
    # Units are matched case-sensitively for one letter ("5 m" is metres, "5 M" is not a unit we know).
    return re.compile("|".join(parts)) if parts else None


@dataclass(slots=True)
class Aspect:
    """One aspect: its labels, and the compiled question, key and unit patterns."""

    id: str
    label: dict[str, str]
    ask: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    units: list[str] = field(default_factory=list)
    _ask: re.Pattern[str] | None = None
    _keys: re.Pattern[str] | None = None
    _units: re.Pattern[str] | None = None

    def compile(self) -> None:
        self._ask = _term_pattern(self.ask)
        self._keys = _term_pattern(self.keys)
        self._units = _unit_pattern(self.units)
        if self._units is not None:
            # One-letter units ("L", "g", "m", "V", "W") in either case after a number, except m/M.
            self._units = re.compile(self._units.pattern, 0 if "m" in self.units else re.I)

    def has_unit(self, text: str) -> bool:
        return self._units is not None and self._units.search(text) is not None


@dataclass(slots=True)
class AspectVocabulary:
    """The aspects, by id, and the efficacy words no listing may promise."""

    aspects: dict[str, Aspect]
    efficacy: list[str] = field(default_factory=list)
    product_words: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    _efficacy: re.Pattern[str] | None = None
    _product_words: re.Pattern[str] | None = None
    #: The aspects of catalog lines already read (a line is read at every question about its product).
    _lines: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, extra: Path | None = None) -> AspectVocabulary:
        """The packaged vocabulary, extended by `extra` when given and present."""
        vocab = cls(aspects={})
        vocab._merge(_read(PACKAGED), str(PACKAGED))
        if extra is not None and extra.is_file():
            vocab._merge(_read(extra), str(extra))
        for aspect in vocab.aspects.values():
            aspect.compile()
        vocab._efficacy = _term_pattern(vocab.efficacy)
        vocab._product_words = _term_pattern(vocab.product_words)
        return vocab

    def _merge(self, data: Mapping[str, Any], source: str) -> None:
        aspects = data.get("aspects") or {}
        if not isinstance(aspects, Mapping):
            raise AspectVocabularyError(f"{source}: 'aspects' must be a mapping of aspect id to entry")
        for aspect_id, entry in aspects.items():
            if not isinstance(entry, Mapping):
                raise AspectVocabularyError(f"{source}: aspect {aspect_id!r} must be a mapping")
            words: dict[str, list[str]] = {}
            for name in ("ask", "keys", "units"):
                value = entry.get(name) or []
                if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
                    raise AspectVocabularyError(
                        f"{source}: aspect {aspect_id!r}: {name!r} must be a list of words"
                    )
                words[name] = [str(v) for v in value]
            label = entry.get("label") or {}
            if not isinstance(label, Mapping):
                raise AspectVocabularyError(
                    f"{source}: aspect {aspect_id!r}: 'label' must be {{zh: …, en: …}}"
                )
            current = self.aspects.get(str(aspect_id))
            if current is None:
                current = self.aspects[str(aspect_id)] = Aspect(
                    id=str(aspect_id), label={"zh": str(aspect_id), "en": str(aspect_id).replace("_", " ")}
                )
            current.label.update({str(k): str(v) for k, v in label.items()})
            current.ask.extend(words["ask"])
            current.keys.extend(words["keys"])
            current.units.extend(words["units"])
        efficacy = (data.get("efficacy") or {}).get("ask") or []
        if not isinstance(efficacy, list):
            raise AspectVocabularyError(f"{source}: 'efficacy.ask' must be a list of words")
        self.efficacy.extend(str(v) for v in efficacy)
        product_words = data.get("product_words") or []
        if not isinstance(product_words, list):
            raise AspectVocabularyError(f"{source}: 'product_words' must be a list of words")
        self.product_words.extend(str(v) for v in product_words)
        self.sources.append(source)

    def asked(self, question: str) -> tuple[str, ...]:
        """The aspects a question names, in vocabulary order (product names such as 保温瓶 masked first)."""
        if self._product_words is not None:
            question = self._product_words.sub(" ", question)
        return _longest(question, {a.id: a._ask for a in self.aspects.values()})

    def of_line(self, key: str, value: str) -> frozenset[str]:
        """The aspects a catalog line is about: by its key (or, without a key, its text) and its units."""
        cached = self._lines.get((key, value))
        if cached is not None:
            return cached
        found = set(_longest(key or value, {a.id: a._keys for a in self.aspects.values()}))
        found.update(a.id for a in self.aspects.values() if a.has_unit(value))
        if len(self._lines) >= _LINE_CACHE:
            self._lines.clear()  # a catalog's lines are few; a bound keeps a long-running process small
        self._lines[(key, value)] = result = frozenset(found)
        return result

    def efficacy_terms(self, question: str) -> tuple[str, ...]:
        """The medical or efficacy results a question asks a product to deliver ("祛斑", "cure")."""
        if self._efficacy is None:
            return ()
        return tuple(dict.fromkeys(m.group(0) for m in self._efficacy.finditer(question)))

    def label(self, aspect: str, lang: str) -> str:
        entry = self.aspects.get(aspect)
        if entry is None:
            return aspect
        return entry.label.get("zh" if lang == "zh" else "en", aspect)


def _longest(text: str, patterns: Mapping[str, re.Pattern[str] | None]) -> tuple[str, ...]:
    """The aspects whose words occur in `text`, where a longer phrase speaks for a shorter one inside it:
    "无线充电" is wireless charging, not charging; "Wireless charging: No" is not a line about charging."""
    spans: dict[str, list[tuple[int, int]]] = {}
    for aspect_id, pattern in patterns.items():
        if pattern is not None:
            found = [m.span() for m in pattern.finditer(text) if m.end() > m.start()]
            if found:
                spans[aspect_id] = found

    def covered(span: tuple[int, int], own: str) -> bool:
        return any(
            other != own and s[0] <= span[0] and span[1] <= s[1] and (s[1] - s[0]) > (span[1] - span[0])
            for other, found in spans.items()
            for s in found
        )

    return tuple(a for a, found in spans.items() if not all(covered(sp, a) for sp in found))


def _read(path: Path) -> Mapping[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise AspectVocabularyError(f"{path}: cannot read the aspect vocabulary: {exc}") from exc
    if not isinstance(data, Mapping):
        raise AspectVocabularyError(f"{path}: expected a mapping with 'aspects'")
    return data


@lru_cache(maxsize=8)
def packaged_vocabulary() -> AspectVocabulary:
    """The packaged vocabulary, loaded once."""
    return AspectVocabulary.load()
