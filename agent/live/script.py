"""The room's script: per product, segments of short sentences, all compliant and grounded.

`ScriptBuilder(store).build(plan, loop_index=n)` turns a `RoomPlan` into a `Script`: for each plan item
the segments hook, intro, selling points, specs, price and offer, call to action, each a list of
sentence-sized lines (at most about 40 Chinese characters or 25 English words) so the director can take
an answer between any two of them. Lines come from catalog facts through the templates in
`agent.live.templates`; every one is compliance-enforced (`agent.compliance.enforce`) and passes the
grounding check (`agent.guard.check_grounding`: no number the catalog does not hold), or it is left
out. The same plan, catalog and loop index always give the same script, so a restart rebuilds exactly
what was being said; the next loop index words it differently.

Pinned lines (the merchant's own) replace the generated lines of their segment: the merchant who
writes a segment owns it. A pinned line with any compliance finding, or with a number the catalog does
not hold (rule ``grounding.number``), is rejected as a whole, reported in `Script.findings`, and never
spoken; when every pinned line of a segment is rejected, the generated lines are used. Fillers are
checked the same way.

Compliance is strict here: unlike an answer to a shopper's question, a script line is advertising
spoken unprompted, so claims the catalog itself states (the medical or certification words an answer may
repeat, see `agent.guard.catalog_claims`) are not exempt.

Sold out: a product whose stock is zero gets one honest line ("3号链接暖禾加绒卫衣已经售罄了，大家可以看看
其他链接。") and the show moves on; none of its pinned lines are used. No price in the catalog: the price
segment sends viewers to the link. Products are named by their short spoken name (`spoken_name`: brand
and core noun), not their listing title; a promise ("价格一会儿告诉大家") is made only when the price follows
in the product's own presentation; a selling point or description naming a sold-out variant is left out.

A product priced in another currency than a Chinese room's yuan is refused with the reason
(`Script.problems`): the room would otherwise read out dollars. (An English room takes any currency.)
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from agent.compliance import CompiledBase, check, enforce, split_sentences
from agent.compliance.claims import ClaimReader
from agent.evidence import Evidence
from agent.guard import check_grounding, guard
from agent.live.events import Position
from agent.live.plan import PlanItem, ProductLookup, RoomPlan, SegmentKind
from agent.live.templates import Lang, ProductLines
from knowledge.models import Product

#: Soft size of one script line, so the director can interrupt between lines.
ZH_MAX_CHARS = 40
EN_MAX_WORDS = 25

#: Segments kept for a product that is sold out: none but the one line of its call to action.
_SOLD_OUT_KEEPS: tuple[SegmentKind, ...] = ()

#: An optional rewrite of a template line (e.g. by an LLM): (line, language, product) -> new line or None.
LineRewriter = Callable[[str, Lang, Product], str | None]

_CLAUSE_BREAK = re.compile(r"(?<=[，；：、])\s*|(?<=[,;:])\s+")
_QUOTED = re.compile(r"「[^」]*」|“[^”]*”|\"[^\"]*\"")
_TRAILING_CLAUSE = re.compile(r"[\s,;:，；：、]+$")
_CLOSING = " \t,;:.!?，；：。！？、…"
_SENTENCE_END = ("。", "！", "？", "!", "?", ".", "…")
_CNY = ("CNY", "RMB")


@dataclass(frozen=True, slots=True)
class ScriptSegment:
    """One segment of a product's presentation; `pinned` > 0 when the sentences are the merchant's."""

    kind: SegmentKind
    sentences: list[str]
    pinned: int = 0


@dataclass(frozen=True, slots=True)
class ScriptItem:
    """One plan item's script. `segments` is empty when the sku is not in the catalog."""

    link: int
    sku: str
    segments: list[ScriptSegment]
    product: Product | None = None
    sold_out: bool = False


@dataclass(frozen=True, slots=True)
class ScriptFinding:
    """A rejected merchant line (pinned or filler): where it was, the rule it broke and the word."""

    segment: str  # a SegmentKind or "filler"
    line: str
    rule: str
    word: str
    reason: str
    link: int | None = None
    sku: str | None = None
    #: The word base's category and the article broken ("" for a number the catalog does not hold).
    category: str = ""
    article: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "link": self.link,
            "sku": self.sku,
            "segment": self.segment,
            "line": self.line,
            "rule": self.rule,
            "category": self.category,
            "article": self.article,
            "word": self.word,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Script:
    """The sentences of one loop of a room, with navigation by `Position` (item, segment, sentence).

    `problems` are plan items that could not be scripted (unknown sku); `notes` record generated lines
    left out by the grounding check and pinned lines not used for a sold-out product.
    """

    room_id: str
    merchant: str
    language: Lang
    loop_index: int
    items: list[ScriptItem]
    fillers: list[str] = field(default_factory=list)
    findings: list[ScriptFinding] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    # -- navigation ------------------------------------------------------------------------------
    def segment_at(self, pos: Position) -> ScriptSegment | None:
        if not 0 <= pos.item < len(self.items):
            return None
        segments = self.items[pos.item].segments
        return segments[pos.segment] if 0 <= pos.segment < len(segments) else None

    def sentence(self, pos: Position) -> str | None:
        """The sentence at `pos`, or None when `pos` points past what exists."""
        segment = self.segment_at(pos)
        if segment is None or not 0 <= pos.sentence < len(segment.sentences):
            return None
        return segment.sentences[pos.sentence]

    def resolve(self, pos: Position) -> Position | None:
        """`pos` when it holds a sentence, else the next position in show order that does (None: end)."""
        return self._at_or_after(pos.loop, pos.item, pos.segment, pos.sentence)

    def next_position(self, pos: Position) -> Position | None:
        """The position of the sentence after `pos`, across segments and items; None after the last."""
        return self._at_or_after(pos.loop, pos.item, pos.segment, pos.sentence + 1)

    def first_position(self) -> Position | None:
        return self._at_or_after(self.loop_index, 0, 0, 0)

    def position_of_link(self, link: int) -> Position | None:
        """The first sentence of the product with this link number (for "skip to product N")."""
        for index, item in enumerate(self.items):
            if item.link == link:
                return self._at_or_after(self.loop_index, index, 0, 0)
        return None

    def _at_or_after(self, loop: int, item: int, segment: int, sentence: int) -> Position | None:
        item, segment, sentence = max(item, 0), max(segment, 0), max(sentence, 0)
        while item < len(self.items):
            segments = self.items[item].segments
            while segment < len(segments):
                if sentence < len(segments[segment].sentences):
                    return Position(loop, item, segment, sentence)
                segment, sentence = segment + 1, 0
            item, segment, sentence = item + 1, 0, 0
        return None

    def lines(self) -> Iterator[tuple[Position, ScriptItem, ScriptSegment, str]]:
        """Every sentence in show order with its position."""
        for i, item in enumerate(self.items):
            for s, segment in enumerate(item.segments):
                for k, text in enumerate(segment.sentences):
                    yield Position(self.loop_index, i, s, k), item, segment, text

    def to_dict(self) -> dict[str, Any]:
        return {
            "room_id": self.room_id,
            "merchant": self.merchant,
            "language": self.language,
            "loop": self.loop_index,
            "items": [
                {
                    "link": item.link,
                    "sku": item.sku,
                    "title": None if item.product is None else item.product.title,
                    "sold_out": item.sold_out,
                    "segments": [
                        {"kind": seg.kind, "pinned": seg.pinned, "sentences": list(seg.sentences)}
                        for seg in item.segments
                    ],
                }
                for item in self.items
            ],
            "fillers": list(self.fillers),
            "findings": [f.to_dict() for f in self.findings],
            "problems": list(self.problems),
            "notes": list(self.notes),
        }


class ScriptBuilder:
    """Builds a room's `Script` from its plan and the merchant's catalog.

    Args:
        store: the catalog (`knowledge.store.CatalogStore` or anything with `get_product`).
        rewriter: optional rewrite of each generated line (an LLM, say); a rewrite is used only when it
            passes the same guard as answers (`agent.guard.guard`: grounded, nothing dropped) and still
            fits one line, otherwise the template line stays.
    """

    def __init__(
        self,
        store: ProductLookup,
        *,
        rewriter: LineRewriter | None = None,
        words: Callable[[str], CompiledBase | None] | None = None,
        claims: ClaimReader | None = None,
    ) -> None:
        self._store = store
        self._rewriter = rewriter
        self._words = words
        self._claims = claims

    def build(self, plan: RoomPlan, *, loop_index: int = 0) -> Script:
        lang: Lang = plan.language
        items: list[ScriptItem] = []
        findings: list[ScriptFinding] = []
        problems: list[str] = []
        notes: list[str] = []
        products: list[Product] = []
        words = self._words(plan.merchant) if self._words is not None else None
        for index, plan_item in enumerate(plan.items):
            product = self._store.get_product(plan.merchant, plan_item.sku)
            if product is None:
                problems.append(
                    f"items.{index} (link {plan_item.link}): sku {plan_item.sku!r} is not in merchant "
                    f"{plan.merchant!r}'s catalog"
                )
                items.append(ScriptItem(plan_item.link, plan_item.sku, []))
                continue
            refused = _refusal(product, lang)
            if refused is not None:
                problems.append(f"items.{index} (link {plan_item.link}): {plan_item.sku}: {refused}")
                items.append(ScriptItem(plan_item.link, plan_item.sku, [], product))
                continue
            products.append(product)
            composer = _Composer(
                plan_item, product, lang, plan.variant_seed, loop_index, self._rewriter, words, self._claims
            )
            items.append(composer.item())
            findings.extend(composer.findings)
            notes.extend(composer.notes)
        fillers = _checked_fillers(plan, products, lang, findings, words, self._claims)
        return Script(
            plan.room_id, plan.merchant, lang, loop_index, items, fillers, findings, problems, notes
        )


def _refusal(product: Product, lang: Lang) -> str | None:
    """Why a product cannot be presented in a room of ``lang``, or None."""
    currency = product.currency.upper()
    if lang == "zh" and product.price is not None and currency not in _CNY:
        return (
            f"priced in {currency}, but a Chinese room says prices in yuan: give the product a CNY price "
            "or present it in an English room"
        )
    return None


def _checked_fillers(
    plan: RoomPlan,
    products: list[Product],
    lang: Lang,
    findings: list[ScriptFinding],
    words: CompiledBase | None = None,
    claims: ClaimReader | None = None,
) -> list[str]:
    evidence = Evidence(
        others=products, extra_numbers={Decimal(item.link) for item in plan.items}, words=words
    )
    accepted: list[str] = []
    for line in plan.fillers:
        rejected = _line_findings(line.strip(), evidence, lang, segment="filler", claims=claims)
        findings.extend(rejected)
        if not rejected:
            accepted.append(line.strip())
    return accepted


def _line_findings(
    line: str,
    evidence: Evidence,
    lang: Lang,
    *,
    segment: str,
    link: int | None = None,
    sku: str | None = None,
    claims: ClaimReader | None = None,
) -> list[ScriptFinding]:
    """Why a merchant's line may not be spoken: compliance findings (words, and claims the classifier is
    sure of) and unsupported numbers."""
    found = list(check(line, words=evidence.words).findings)
    if claims is not None:
        found += claims(line, lang, found)
    out = [
        ScriptFinding(segment, line, f.rule, f.word, f.reason, link, sku, f.category, f.article)
        for f in found
        if f.action != "review"
    ]
    for number in check_grounding(line, evidence):
        reason = (
            f"“{number}”不是商品资料里的数字（价格、库存、规格以商品库为准）"
            if lang == "zh"
            else f"'{number}' is not a number the catalog holds for this product (price, stock, specs)"
        )
        out.append(ScriptFinding(segment, line, "grounding.number", number, reason, link, sku))
    return out


class _Composer:
    """Writes one product's segments: pinned lines checked, template lines enforced and grounded."""

    def __init__(
        self,
        plan_item: PlanItem,
        product: Product,
        lang: Lang,
        seed: int,
        loop_index: int,
        rewriter: LineRewriter | None,
        words: CompiledBase | None = None,
        claims: ClaimReader | None = None,
    ) -> None:
        self.claims = claims
        self.plan_item = plan_item
        self.product = product
        self.lang: Lang = lang
        self.link = plan_item.link
        self.rewriter = rewriter
        self.templates = ProductLines(
            product,
            lang,
            link=plan_item.link,
            seed=seed,
            loop_index=loop_index,
            price_follows="price_offer" in plan_item.segment_kinds(),
        )
        self.sold_out = self.templates.sold_out
        self.evidence = Evidence(product=product, extra_numbers={Decimal(plan_item.link)}, words=words)
        self.findings: list[ScriptFinding] = []
        self.notes: list[str] = []

    # -- assembly --------------------------------------------------------------------------------
    def item(self) -> ScriptItem:
        kinds = self.plan_item.segment_kinds()
        if self.sold_out:
            kinds = (*(k for k in kinds if k in _SOLD_OUT_KEEPS), "call_to_action")
            skipped = [k for k in self.plan_item.pinned_lines if k not in _SOLD_OUT_KEEPS]
            if skipped:
                self.notes.append(
                    f"link {self.link} {self.product.sku}: sold out, pinned {', '.join(skipped)} lines not used"
                )
        drafted: list[tuple[SegmentKind, list[str], int]] = []
        for kind in kinds:
            pinned = [] if self.sold_out and kind not in _SOLD_OUT_KEEPS else self._pinned(kind)
            sentences = pinned or self._finish(self.templates.segment(kind))
            drafted.append((kind, sentences, len(pinned)))
        segments = [
            ScriptSegment(kind, sentences, pinned=pinned)
            for kind, sentences, pinned in self._within_budget(_without_repeats(drafted))
            if sentences
        ]
        return ScriptItem(self.link, self.product.sku, segments, self.product, self.sold_out)

    def _within_budget(
        self, drafted: list[tuple[SegmentKind, list[str], int]]
    ) -> list[tuple[SegmentKind, list[str], int]]:
        """Generated lines dropped, least needed first, until the product's presentation fits
        `BUDGET_S` at the host's pace; the merchant's pinned lines and each segment's first line stay."""
        out = [(kind, list(lines), pinned) for kind, lines, pinned in drafted]

        def seconds() -> float:
            return sum(line_seconds(line, self.lang) for _kind, lines, _p in out for line in lines)

        for kind in _TRIM_ORDER:
            for index, (k, lines, pinned) in enumerate(out):
                if k != kind or pinned:
                    continue
                while len(lines) > 1 and seconds() > BUDGET_S:
                    lines.pop()
                out[index] = (k, lines, pinned)
            if seconds() <= BUDGET_S:
                break
        return out

    def _pinned(self, kind: SegmentKind) -> list[str]:
        accepted: list[str] = []
        for raw in self.plan_item.pinned_lines.get(kind, []):
            line = raw.strip()
            rejected = _line_findings(
                line,
                self.evidence,
                self.lang,
                segment=kind,
                link=self.link,
                sku=self.product.sku,
                claims=self.claims,
            )
            if rejected:
                self.findings.extend(rejected)
                continue
            for start, end in split_sentences(line):
                accepted.extend(fit(line[start:end], self.lang))
        return [s for s in accepted if s]

    def _finish(self, lines: list[str]) -> list[str]:
        """Split to line size, rewrite (optional), enforce compliance and keep only grounded lines."""
        out: list[str] = []
        for line in lines:
            for piece in fit(line, self.lang, keep=(self.product.title,)):
                enforced = enforce(self._rewrite(piece), words=self.evidence.words)
                text = _close(enforced.text, self.lang)
                if enforced.findings:
                    words = ", ".join(f"{f.word} ({f.rule})" for f in enforced.findings)
                    self.notes.append(
                        f"link {self.link} {self.product.sku}: compliance fixed {words} in {piece!r}"
                    )
                if not text:
                    continue
                unsupported = check_grounding(text, self.evidence)
                if unsupported:
                    self.notes.append(
                        f"link {self.link} {self.product.sku}: left out {text!r} "
                        f"(numbers not in the catalog: {', '.join(unsupported)})"
                    )
                    continue
                out.append(text)
        return out

    def _rewrite(self, line: str) -> str:
        if self.rewriter is None:
            return line
        candidate = self.rewriter(line, self.lang, self.product)
        if not candidate or not candidate.strip():
            return line
        guarded = guard(candidate.strip(), self.evidence, channel="live", language=self.lang)
        if not guarded.grounded or guarded.dropped_sentences or not guarded.text:
            return line
        if len(fit(guarded.text, self.lang)) != 1:
            return line
        return guarded.text


_LATIN_RUN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+%'-]*")

#: A product's presentation fits this many seconds at the host's pace (`line_seconds`).
BUDGET_S = 42.0
#: The host's pace: Chinese characters (a Latin word counting 2) or English words a second, as the
#: offline voice speaks at rate 1.0 with the pauses of punctuation (measured: 5.4 and 2.6).
ZH_UNITS_PER_S = 5.4
EN_WORDS_PER_S = 2.6
#: Segments whose generated lines go first when a presentation is too long: the second description
#: sentence before the third selling point, the specs before the price's variant lines.
_TRIM_ORDER: tuple[SegmentKind, ...] = (
    "intro",
    "specs",
    "selling_points",
    "price_offer",
    "call_to_action",
    "hook",
)
_BIGRAMS_OF = re.compile(r"[\u4e00-\u9fff]|[A-Za-z0-9]+")


def line_seconds(text: str, lang: Lang) -> float:
    """About how long the host takes to say ``text`` (at speech rate 1.0)."""
    return line_size(text, lang) / (EN_WORDS_PER_S if lang == "en" else ZH_UNITS_PER_S)


def _grams(text: str) -> set[str]:
    tokens = _BIGRAMS_OF.findall(text.lower())
    return {a + b for a, b in itertools.pairwise(tokens)} or set(tokens)


def _without_repeats(
    drafted: list[tuple[SegmentKind, list[str], int]],
) -> list[tuple[SegmentKind, list[str], int]]:
    """A generated line that mostly says again what another line of the product says (60% of its word
    pairs) is left out: the description, the selling points and the specs often repeat each other. The
    factual segments keep their lines first (price, specs, call to action, hook), then the selling points,
    then the description; the merchant's pinned lines always stay."""
    said: list[set[str]] = []
    keep: dict[tuple[int, int], bool] = {}
    for index in sorted(range(len(drafted)), key=lambda i: _REPEAT_PRIORITY.index(drafted[i][0])):
        kind, lines, pinned = drafted[index]
        for number, line in enumerate(lines):
            grams = _grams(line)
            repeated = bool(grams) and any(len(grams & earlier) >= 0.6 * len(grams) for earlier in said)
            essential = number < pinned or (number == 0 and kind in ("price_offer", "call_to_action", "hook"))
            keep[(index, number)] = essential or not repeated
            if keep[(index, number)]:
                said.append(grams)
    return [
        (kind, [line for number, line in enumerate(lines) if keep[(index, number)]], pinned)
        for index, (kind, lines, pinned) in enumerate(drafted)
    ]


_REPEAT_PRIORITY: tuple[SegmentKind, ...] = (
    "price_offer",
    "specs",
    "call_to_action",
    "hook",
    "selling_points",
    "intro",
)


def line_size(text: str, lang: Lang) -> int:
    """How long a line is to say: English words, or Chinese characters with a Latin word counting 2."""
    if lang == "en":
        return len(text.split())
    latin_runs = _LATIN_RUN.findall(text)
    rest = _LATIN_RUN.sub("", text).replace(" ", "")
    return len(rest) + 2 * len(latin_runs)


def _close(piece: str, lang: Lang) -> str:
    piece = _TRAILING_CLAUSE.sub("", piece.strip())
    if not piece or piece.endswith(_SENTENCE_END):
        return piece
    return piece + ("。" if lang == "zh" else ".")


def fit(text: str, lang: Lang, *, keep: Sequence[str] = ()) -> list[str]:
    """Cut a line into sentence-sized pieces at clause breaks (commas, semicolons, colons).

    A line within the size limit comes back unchanged. Quoted text and the strings in `keep` (a
    product title, say) are never cut, so a clause longer than the limit on its own stays whole.
    """
    text = text.strip()
    if not text:
        return []
    limit = ZH_MAX_CHARS if lang == "zh" else EN_MAX_WORDS
    if line_size(text, lang) <= limit:
        return [text]
    protected = [m.span() for m in _QUOTED.finditer(text)]
    protected += [m.span() for word in keep if word for m in re.finditer(re.escape(word), text)]
    cuts = [
        m.end()
        for m in _CLAUSE_BREAK.finditer(text)
        if m.end() < len(text) and not any(a < m.start() < b for a, b in protected)
    ]
    clauses: list[str] = []
    for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True):
        start = a + len(text[a:b]) - len(text[a:b].lstrip())
        # A clause that is only a quoted title stays with the clause before it ("现在上的是3号链接，「…」").
        if clauses and any(pa == start and not text[pb:b].strip(_CLOSING) for pa, pb in protected):
            clauses[-1] += text[a:b]
        else:
            clauses.append(text[a:b])
    separator = "" if lang == "zh" else " "
    merged: list[str] = []
    for clause in (c.strip() for c in clauses if c.strip()):
        if merged and line_size(merged[-1] + separator + clause, lang) <= limit:
            merged[-1] = merged[-1] + separator + clause
        else:
            merged.append(clause)
    return [closed for closed in (_close(m, lang) for m in merged) if closed]


__all__ = [
    "EN_MAX_WORDS",
    "ZH_MAX_CHARS",
    "LineRewriter",
    "Script",
    "ScriptBuilder",
    "ScriptFinding",
    "ScriptItem",
    "ScriptSegment",
    "fit",
    "line_size",
]
