"""The compliance word base: categorised, sourced terms as data (`agent/compliance/words/*.yaml`), matched
with one Aho–Corasick automaton over normalised text.

Each entry is a literal term (or, where a literal cannot tell a violation from ordinary use, a regular
expression), its category and the rule it breaks, what to do (rewrite / drop the sentence / review), the
contexts in which it is fine, the spellings used to dodge filters, and where it came from. The format is in
`agent/compliance/words/README.md`; a merchant's own file uses the same format and may also `allow` terms.

Normalisation (`matchable`): the fold of `agent.textnorm` (full → half width, traditional → simplified, lower
case, zero-width characters dropped), then spaced-out words are joined — separators between two Chinese
characters ("最 好", "最*好") and between the letters of a spaced-out Latin word ("b e s t", "b.e.s.t") —
so the automaton sees "最好" and "best". Every matchable character remembers its place in the original text.
"""

from __future__ import annotations

import re
import re._constants as sre_constants
import re._parser as sre_parse
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import ahocorasick
import yaml

from agent.textnorm import Folded, fold

PACKAGED_DIR = Path(__file__).with_name("words")

Severity = Literal["high", "medium", "low", "review"]
Action = Literal["rewrite", "drop_sentence", "review"]
EntryLanguage = Literal["zh", "en", "any"]

CATEGORIES: dict[str, tuple[str, str]] = {
    # category: (zh label, en label)
    "superlative": ("绝对化用语", "unsubstantiated superlative"),
    "ranking": ("排名用语", "ranking claim"),
    "first_exclusive": ("首/独家/唯一", "first or exclusive claim"),
    "authority": ("权威背书", "authority or endorsement claim"),
    "medical": ("医疗用语", "medical claim"),
    "health_efficacy": ("功效保证", "health or efficacy promise"),
    "health_food": ("保健食品用语", "health-food claim"),
    "cosmetic_efficacy": ("化妆品功效", "cosmetic efficacy claim"),
    "education": ("教育培训保证", "education or exam guarantee"),
    "investment": ("投资收益", "investment return claim"),
    "superstition": ("迷信用语", "superstitious claim"),
    "inducement": ("诱导用语", "prize or click inducement"),
    "fake_price": ("虚假价格", "misleading price claim"),
    "fake_urgency": ("时间紧迫", "false urgency"),
    "unsourced_data": ("无出处数据", "unsourced statistic"),
    "guarantee": ("保证性承诺", "guarantee of results"),
    "false_claim": ("虚假或引人误解", "false or misleading claim"),
}
_SEVERITIES = ("high", "medium", "low", "review")
_ACTIONS = {"rewrite": "rewrite", "drop": "drop_sentence", "review": "review"}
_LANGS = ("zh", "en", "any")
_ENTRY_KEYS = frozenset(
    {
        "term",
        "pattern",
        "lang",
        "category",
        "rule",
        "severity",
        "action",
        "rewrite",
        "rewrite_en",
        "except",
        "variants",
        "sources",
        "note",
    }
)


class WordBaseError(ValueError):
    """A words file that cannot be used: names the file, the line and the reason."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One term of the word base."""

    term: str | None
    pattern: str | None
    lang: EntryLanguage
    category: str
    rule: str
    severity: Severity
    action: Action
    rewrite: str | None = None
    rewrite_en: str | None = None
    exceptions: tuple[str, ...] = ()
    variants: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    note: str = ""
    #: "file:line" of the entry, for reports and errors.
    origin: str = ""

    @property
    def id(self) -> str:
        return f"{self.category}:{self.term if self.term is not None else self.pattern}"


@dataclass(slots=True)
class WordBase:
    """Entries, the sources they cite, and the terms a merchant allows."""

    entries: list[Entry] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    allowed: list[str] = field(default_factory=list)

    def extended(self, other: WordBase) -> WordBase:
        """This base with `other`'s entries, sources and allowed terms added (a merchant's file)."""
        return WordBase(
            [*self.entries, *other.entries],
            {**self.sources, **other.sources},
            [*self.allowed, *other.allowed],
        )

    @classmethod
    def load(cls, paths: Iterable[Path]) -> WordBase:
        base = cls()
        for path in paths:
            base = base.extended(_load_file(path))
        return base


def packaged_files() -> list[Path]:
    return sorted(PACKAGED_DIR.glob("*.yaml"))


@cache
def packaged_base() -> WordBase:
    return WordBase.load(packaged_files())


# --- loading ------------------------------------------------------------------------------------------


def _line_of(node: yaml.Node | None) -> int:
    return node.start_mark.line + 1 if node is not None else 0


def _entry_nodes(root: yaml.Node | None) -> tuple[dict[str, yaml.Node], list[yaml.Node]]:
    """The top-level keys and the entry nodes of a composed document, for line numbers."""
    keys: dict[str, yaml.Node] = {}
    entries: list[yaml.Node] = []
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            keys[str(key.value)] = value
            if key.value == "entries" and isinstance(value, yaml.SequenceNode):
                entries = list(value.value)
    return keys, entries


def _load_file(path: Path) -> WordBase:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise WordBaseError(f"{path}: cannot read the words file ({exc})") from exc
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise WordBaseError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from exc
    if data is None:
        return WordBase()
    if not isinstance(data, dict):
        raise WordBaseError(f"{path}:1: expected a mapping with `entries:` (see the words README)")
    unknown = set(data) - {"version", "sources", "entries", "allow"}
    if unknown:
        raise WordBaseError(f"{path}:1: unknown top-level key(s) {', '.join(sorted(map(str, unknown)))}")
    if data.get("version", 1) != 1:
        raise WordBaseError(f"{path}:1: unsupported version {data.get('version')!r} (expected 1)")
    keys, nodes = _entry_nodes(root)
    sources = data.get("sources") or {}
    if not isinstance(sources, dict) or not all(isinstance(v, str) for v in sources.values()):
        raise WordBaseError(f"{path}:{_line_of(keys.get('sources'))}: `sources` must map ids to names")
    allow = data.get("allow") or []
    if not isinstance(allow, list) or not all(isinstance(a, str) and a.strip() for a in allow):
        raise WordBaseError(f"{path}:{_line_of(keys.get('allow'))}: `allow` must be a list of terms")
    raw_entries = data.get("entries") or []
    if not isinstance(raw_entries, list):
        raise WordBaseError(f"{path}:{_line_of(keys.get('entries'))}: `entries` must be a list")
    entries: list[Entry] = []
    for i, raw in enumerate(raw_entries):
        line = _line_of(nodes[i]) if i < len(nodes) else 0
        where = f"{path}:{line}"
        entries.append(_entry(raw, where, {str(k) for k in sources}))
    _check_duplicates(entries)
    return WordBase(entries, {str(k): v for k, v in sources.items()}, [a.strip() for a in allow])


def _strings(raw: Any, name: str, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(x, str) and x.strip() for x in raw):
        raise WordBaseError(f"{where}: `{name}` must be a list of non-empty strings")
    return tuple(x.strip() for x in raw)


def _entry(raw: Any, where: str, source_ids: set[str]) -> Entry:
    if not isinstance(raw, dict):
        raise WordBaseError(f"{where}: an entry must be a mapping (term, lang, category, …)")
    unknown = set(raw) - _ENTRY_KEYS
    if unknown:
        raise WordBaseError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    term, pattern = raw.get("term"), raw.get("pattern")
    if (term is None) == (pattern is None):
        raise WordBaseError(f"{where}: give exactly one of `term` or `pattern`")
    if term is not None and (not isinstance(term, str | int) or not str(term).strip()):
        raise WordBaseError(f"{where}: `term` must be a non-empty string")
    label = str(term if term is not None else pattern)
    where = f"{where} ({label})"
    if pattern is not None:
        if not isinstance(pattern, str) or not pattern:
            raise WordBaseError(f"{where}: `pattern` must be a non-empty regular expression")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise WordBaseError(f"{where}: `pattern` is not a valid regular expression ({exc})") from exc
    lang = raw.get("lang", "any")
    if lang not in _LANGS:
        raise WordBaseError(f"{where}: `lang` must be one of {', '.join(_LANGS)}")
    category = raw.get("category")
    if category not in CATEGORIES:
        raise WordBaseError(f"{where}: unknown category {category!r} (one of {', '.join(CATEGORIES)})")
    rule = raw.get("rule")
    if not isinstance(rule, str) or not rule.strip():
        raise WordBaseError(f"{where}: `rule` (the article or rule it breaks) is required")
    severity = raw.get("severity", "medium")
    if severity not in _SEVERITIES:
        raise WordBaseError(f"{where}: `severity` must be one of {', '.join(_SEVERITIES)}")
    action_name = raw.get("action", "review" if severity == "review" else "drop")
    if action_name not in _ACTIONS:
        raise WordBaseError(f"{where}: `action` must be one of {', '.join(_ACTIONS)}")
    if severity == "review" and action_name != "review":
        raise WordBaseError(f"{where}: a `review` entry is reported only (action: review)")
    rewrite, rewrite_en = raw.get("rewrite"), raw.get("rewrite_en")
    for name, value in (("rewrite", rewrite), ("rewrite_en", rewrite_en)):
        if value is not None and not isinstance(value, str):
            raise WordBaseError(f'{where}: `{name}` must be a string ("" deletes the word)')
    if action_name == "rewrite" and rewrite is None and rewrite_en is None:
        raise WordBaseError(f"{where}: action `rewrite` needs a `rewrite`")
    if action_name != "rewrite" and (rewrite is not None or rewrite_en is not None):
        raise WordBaseError(f"{where}: only a `rewrite` entry has a rewrite (action is {action_name})")
    exceptions = _strings(raw.get("except"), "except", where)
    if term is not None:
        folded_term = matchable(str(term)).text
        for ex in exceptions:
            if not ex.startswith("re:") and folded_term not in matchable(ex).text:
                raise WordBaseError(f"{where}: exception {ex!r} does not contain the term")
    for ex in exceptions:
        if ex.startswith("re:"):
            try:
                re.compile(ex[3:])
            except re.error as exc:
                raise WordBaseError(f"{where}: exception {ex!r} is not a valid expression ({exc})") from exc
    sources = _strings(raw.get("sources"), "sources", where)
    missing = [s for s in sources if s not in source_ids]
    if missing and source_ids:
        raise WordBaseError(f"{where}: unknown source id(s) {', '.join(missing)} (declare them in `sources`)")
    return Entry(
        term=str(term).strip() if term is not None else None,
        pattern=pattern,
        lang=lang,
        category=category,
        rule=rule.strip(),
        severity=severity,
        action=_ACTIONS[action_name],  # type: ignore[arg-type]
        rewrite=rewrite,
        rewrite_en=rewrite_en,
        exceptions=exceptions,
        variants=_strings(raw.get("variants"), "variants", where),
        sources=sources,
        note=str(raw.get("note") or ""),
        origin=where.split(" (", 1)[0],
    )


def _check_duplicates(entries: Sequence[Entry]) -> None:
    seen: dict[tuple[str, str], str] = {}
    for entry in entries:
        if entry.term is None:
            continue
        key = (entry.lang, matchable(entry.term).text)
        if key in seen:
            raise WordBaseError(f"{entry.origin}: term {entry.term!r} repeats the entry at {seen[key]}")
        seen[key] = entry.origin


# --- normalisation ------------------------------------------------------------------------------------

_SEPARATORS = frozenset(" \t\u3000*·・_~-.|/\\+")
_CJK_RANGE = re.compile(r"[\u3400-\u9fff]")


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff"


def matchable(text: str) -> Folded:
    """The fold of `text` with spaced-out words joined; spans map back to `text`."""
    folded = fold(text)
    chars, source = folded.text, folded.source
    n = len(chars)
    drop = bytearray(n)
    i = 0
    while i < n:
        if chars[i] in _SEPARATORS:
            j = i
            while j < n and chars[j] in _SEPARATORS:
                j += 1
            # Between two Chinese characters: "最 好", "最*好".
            if i > 0 and j < n and _is_cjk(chars[i - 1]) and _is_cjk(chars[j]) and j - i <= 3:
                drop[i:j] = b"\1" * (j - i)
            i = j
        else:
            i += 1
    # Spaced-out Latin words: three or more single letters or digits, each separated by one separator.
    for m in _SPACED_LETTERS.finditer(chars):
        for k in range(m.start(), m.end()):
            if chars[k] in _SEPARATORS:
                drop[k] = 1
    if not any(drop):
        return folded
    kept = [k for k in range(n) if not drop[k]]
    return Folded("".join(chars[k] for k in kept), tuple(source[k] for k in kept), folded.original_length)


_SPACED_LETTERS = re.compile(r"(?<![a-z0-9])[a-z0-9](?:[ .\-*_][a-z0-9]){2,}(?![a-z0-9])")


# --- matching -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hit:
    """One entry found in the matchable text: [start, end) of the matchable text."""

    start: int
    end: int
    entry: Entry
    #: The entry's place in the word base (earlier entries win ties).
    index: int = 0
    match: re.Match[str] | None = None


@dataclass(slots=True)
class CompiledBase:
    """The automaton over every term and variant, the pattern entries, and the exception matchers."""

    base: WordBase
    automaton: Any
    #: Each pattern entry: its regex and its entry index.
    patterns: list[tuple[re.Pattern[str], int]]
    exceptions: dict[int, tuple[tuple[str, ...], tuple[re.Pattern[str], ...]]]
    allowed: tuple[str, ...]
    #: An automaton over the literals each pattern's matches must hold (a filtered set: a text holding
    #: none of a pattern's literals skips that pattern), and the patterns no literal is known for.
    triggers: Any = None
    always: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        by_literal: dict[str, list[int]] = {}
        for position, (regex, _index) in enumerate(self.patterns):
            literals = required_literals(regex.pattern)
            if not literals:
                self.always.append(position)
                continue
            for literal in literals:
                by_literal.setdefault(literal, []).append(position)
        automaton = ahocorasick.Automaton()
        for literal, positions in by_literal.items():
            automaton.add_word(literal, tuple(positions))
        if by_literal:
            automaton.make_automaton()
            self.triggers = automaton
        else:
            self.triggers = _EmptyAutomaton()

    def hits(self, text: str) -> Iterator[Hit]:
        """Every entry occurrence in the matchable `text` not inside one of its exception contexts.

        A literal term found but excepted here ("保本" inside "确保本人", "best" in "for best results")
        also silences a context pattern matching the same words: the curated entry knows the word."""
        excused: list[tuple[int, int]] = []
        for end_index, (key_len, entry_index) in self.automaton.iter(text):
            entry = self.base.entries[entry_index]
            start, end = end_index - key_len + 1, end_index + 1
            if _latin_term(entry) and not _word_bounded(text, start, end):
                continue
            if self._excepted(text, start, end, entry_index):
                excused.append((start, end))
                continue
            yield Hit(start, end, entry, entry_index)
        wanted = set(self.always)
        for _end, positions in self.triggers.iter(text):
            wanted.update(positions)
        for position in sorted(wanted):
            regex, index = self.patterns[position]
            for m in regex.finditer(text):
                if m.end() <= m.start() or self._excepted(text, m.start(), m.end(), index):
                    continue
                if any(a <= m.start() and m.end() <= b for a, b in excused):
                    continue
                yield Hit(m.start(), m.end(), self.base.entries[index], index, m)

    def _excepted(self, text: str, start: int, end: int, key: int) -> bool:
        literal, regexes = self.exceptions.get(key, ((), ()))
        for context in literal:
            lo = max(0, start - len(context))
            pos = text.find(context, lo, end + len(context))
            while pos != -1 and pos <= start:
                if pos + len(context) >= end:
                    return True
                pos = text.find(context, pos + 1, end + len(context))
        for regex in regexes:
            for m in regex.finditer(text, max(0, start - 40), min(len(text), end + 40)):
                if m.start() <= start and end <= m.end():
                    return True
        return False


def required_literals(pattern: str) -> frozenset[str] | None:
    """Lower-case literals at least one of which every match of `pattern` holds, or None when that cannot
    be told (the pattern then runs on every text)."""
    try:
        parsed = sre_parse.parse(pattern)
    except re.error:
        return None
    found = _required(list(parsed))
    return frozenset(x.lower() for x in found) if found else None


def _required(items: list[Any]) -> set[str] | None:
    """The best requirement of a sequence: a run of literal characters, or one mandatory item's own."""
    best: set[str] | None = None

    def better(candidate: set[str] | None) -> None:
        nonlocal best
        if candidate and (best is None or min(map(len, candidate)) > min(map(len, best))):
            best = candidate

    run = ""
    for op, arg in items:
        if op == sre_constants.LITERAL:
            run += chr(arg)
            continue
        better({run} if run else None)
        run = ""
        if op == sre_constants.SUBPATTERN:
            better(_required(list(arg[-1])))
        elif op == sre_constants.BRANCH:
            union: set[str] = set()
            for branch in arg[1]:
                part = _required(list(branch))
                if not part:
                    union = set()
                    break
                union |= part
            better(union or None)
        elif op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, sre_constants.POSSESSIVE_REPEAT):
            if arg[0] > 0:
                better(_required(list(arg[2])))
        elif op == sre_constants.IN and len(arg) <= 8 and all(k == sre_constants.LITERAL for k, _ in arg):
            better({chr(v) for _k, v in arg})
    better({run} if run else None)
    return best


def _latin_term(entry: Entry) -> bool:
    return entry.term is not None and not _CJK_RANGE.search(entry.term)


def _word_bounded(text: str, start: int, end: int) -> bool:
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    first, last = text[start], text[end - 1]
    ok_before = not (before.isascii() and before.isalnum()) or not (first.isascii() and first.isalnum())
    ok_after = not (after.isascii() and after.isalnum()) or not (last.isascii() and last.isalnum())
    return ok_before and ok_after


def compile_base(base: WordBase) -> CompiledBase:
    automaton = ahocorasick.Automaton()
    patterns: list[tuple[re.Pattern[str], int]] = []
    exceptions: dict[int, tuple[tuple[str, ...], tuple[re.Pattern[str], ...]]] = {}
    keys: dict[str, tuple[int, int]] = {}
    for index, entry in enumerate(base.entries):
        literal = tuple(matchable(ex).text for ex in entry.exceptions if not ex.startswith("re:"))
        regexes = tuple(re.compile(ex[3:], re.I) for ex in entry.exceptions if ex.startswith("re:"))
        if entry.pattern is not None:
            pattern = entry.pattern
            if entry.lang == "en":
                pattern = rf"(?<![a-z0-9])(?:{pattern})(?![a-z0-9])"
            patterns.append((re.compile(pattern, re.I), index))
            exceptions[index] = (literal, regexes)
            continue
        exceptions[index] = (literal, regexes)
        assert entry.term is not None
        for form in (entry.term, *entry.variants):
            key = matchable(form).text
            if not key:
                continue
            # The first entry of a term wins (the packaged base before a merchant's file).
            keys.setdefault(key, (len(key), index))
    for key, value in keys.items():
        automaton.add_word(key, value)
    if keys:
        automaton.make_automaton()
    else:
        automaton = _EmptyAutomaton()
    allowed = tuple(matchable(a).text for a in base.allowed)
    return CompiledBase(base, automaton, patterns, exceptions, allowed)


class _EmptyAutomaton:
    def iter(self, _text: str) -> Iterator[tuple[int, tuple[int, int]]]:
        return iter(())


@cache
def packaged_compiled() -> CompiledBase:
    return compile_base(packaged_base())


__all__ = [
    "CATEGORIES",
    "CompiledBase",
    "Entry",
    "Hit",
    "MerchantWords",
    "WordBase",
    "WordBaseError",
    "compile_base",
    "matchable",
    "packaged_base",
    "packaged_compiled",
]


# --- a merchant's own words ---------------------------------------------------------------------------


class MerchantWords:
    """Each merchant's own words file (`<dir>/<merchant>.yaml`): terms their platform or brand forbids, and
    terms they allow. Saved only when valid (atomically); compiled with the packaged base on first use and
    again when the file changes."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._cache: dict[str, tuple[float, CompiledBase]] = {}

    def path(self, merchant: str) -> Path:
        return self.directory / f"{merchant}.yaml"

    def save(self, merchant: str, text: str, *, name: str = "words.yaml") -> WordBase:
        """Validate `text` as a words file and store it as `merchant`'s; raises `WordBaseError` (naming
        `name` and the line) and stores nothing when it is not valid."""
        import os
        import tempfile

        self.directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=self.directory, suffix=".tmp", delete=False
        ) as fh:
            fh.write(text)
            tmp = Path(fh.name)
        try:
            try:
                parsed = _load_file(tmp)
            except WordBaseError as exc:
                raise WordBaseError(str(exc).replace(str(tmp), name)) from None
            os.replace(tmp, self.path(merchant))
        finally:
            tmp.unlink(missing_ok=True)
        self._cache.pop(merchant, None)
        return parsed

    def compiled(self, merchant: str) -> CompiledBase | None:
        """The packaged base with `merchant`'s file, or None when they have none (use the packaged one)."""
        path = self.path(merchant)
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return None
        cached = self._cache.get(merchant)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        try:
            compiled = compile_base(packaged_base().extended(_load_file(path)))
        except WordBaseError:
            return (
                None  # only valid files are saved; a hand-edited broken one falls back to the packaged base
            )
        self._cache[merchant] = (mtime, compiled)
        return compiled
