"""Question sets generated from a merchant's own catalog and policies ("Test my shop").

`generate_cases` reads the merchant's products, variants, attributes and documents from the store and
writes evaluation cases (the `evals.dataset.Case` schema) about them: prices, list prices, stock, variants
("粉色XL码还有吗"), variant prices, enumerations ("有哪些颜色"), attributes asked in other words than their key
("是什么做的" for 面料成分), the shop's policies, and things the listing does not state (the bot must say it
does not know). Questions are asked in the product's language and in the other one (the cross-lingual slice),
name products the way shoppers do (brand + noun, model + noun, a title phrase, now and then the full title),
and take their phrasings from data (`evals/question_templates.yaml`). Expected facts name a sku and a kind:
the checker reads the values from the store, so the expectation is the catalog's own.

The same seed gives the same cases. Every case carries the tags ``generated``, ``family:<family>`` and
``tpl:<template>``, and a written file starts with a header marking it "generated — never use as training
data" (`agent.training_guard`; the intent and claim training loaders refuse such files).

`run_generated` generates and runs a set against the merchant's live data in one call and returns the
report (the API's "Test my shop" button); `anchor eval generate` writes a set to a file and
`anchor eval run FILE --merchant M --live` scores it.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from agent.training_guard import GENERATED_MARKER, GENERATED_TAG
from evals.dataset import Case, Lang
from evals.generated_report import case_family, close_eval_tickets, generated_section
from evals.reference import Reference
from knowledge.models import Document, Product, Variant
from knowledge.store import CatalogStore

if TYPE_CHECKING:
    from api.services import Services

TEMPLATES_PATH = Path(__file__).resolve().parent / "question_templates.yaml"

#: Families in the order a generated file lists them, with the short name used in case ids.
FAMILIES: dict[str, str] = {
    "price": "price",
    "list_price": "listprice",
    "stock": "stock",
    "variant_stock": "varstock",
    "variant_price": "varprice",
    "attribute": "attr",
    "enumeration": "enum",
    "policy": "policy",
    "unanswerable": "unstated",
}
LANGS: tuple[Lang, ...] = ("zh", "en")
_SLOT = re.compile(r"\{(\w*)\}")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
_WORD = re.compile(r"[a-z][a-z0-9'-]*")
# Tokens that are quantities, not model names: "50ml", "120g", "16件套", "2025", "15%".
_QUANTITY = re.compile(
    r"^\d+(?:[.,]\d+)?(?:\s*(?:ml|l|g|kg|mg|mm|cm|m|mah|wh|w|v|oz|lb|lbs|in|ft|pcs|pack|k|%|"
    r"件|件套|套|包|连包|片|片装|寸|袋|盒|支|条|只|双|瓶|罐|斤|克|米|匹|档|色|人|天|年))?$",
    re.IGNORECASE,
)
_NOT_MODELS = ("spf", "upf", "pa", "ipx", "ip", "usb", "type", "bpa", "atm", "uv")
_MODEL_SUFFIX = {"pro", "max", "plus", "mini", "lite", "ultra", "se", "air"}
#: Where the head of an English title ends: "Stove with Piezo Igniter", "Opener – Rechargeable", "Set (Half …)".
_TITLE_HEAD = re.compile(r",| with | – | - |\(")
#: A title's last word that names a group, not the thing: "Sheet Pan Set" is a "pan set".
_GROUP_WORDS = {"set", "kit", "pack", "pair", "bundle", "combo"}


class GenerationError(ValueError):
    """Nothing can be generated (the merchant has no products), or the template file is unusable."""


# -- the template data ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class OptionWord:
    """How shoppers name an option in an enumeration, and whether its values are sizes."""

    keys: tuple[str, ...]
    words: Mapping[str, str]
    size: bool = False


@dataclass(frozen=True, slots=True)
class AttributeFamily:
    """Attributes asked about by meaning: the keys that belong, and phrasings without the key word."""

    name: str
    keys: tuple[str, ...]
    phrasings: Mapping[str, tuple[str, ...]]
    values: re.Pattern[str] | None = None
    not_values: re.Pattern[str] | None = None

    def holds(self, key: str, value: str) -> bool:
        """The attribute `key` with `value` belongs to this family."""
        folded = _fold(key)
        named = any(
            k in folded if _is_cjk(k) else re.search(rf"(?<![a-z]){re.escape(k)}(?![a-z])", folded)
            for k in self.keys
        )
        if not named:
            return False
        if self.values is not None and not self.values.search(value.lower()):
            return False
        return self.not_values is None or not self.not_values.search(value.lower())


@dataclass(frozen=True, slots=True)
class PolicyTopic:
    name: str
    match: tuple[str, ...]
    numbers: bool
    terms: tuple[str, ...]
    phrasings: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class UnstatedFamily:
    """Something a listing may not state; asked only where it does not."""

    name: str
    family: str | None
    mentions: tuple[str, ...]
    patterns: tuple[re.Pattern[str], ...]
    requires: tuple[str, ...]
    skip_categories: tuple[str, ...]
    phrasings: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Templates:
    """`evals/question_templates.yaml`, checked."""

    mix: Mapping[str, float]
    cross_share: float
    key_stopwords: Mapping[str, frozenset[str]]
    phrasings: Mapping[str, Mapping[str, tuple[str, ...]]]
    options: tuple[OptionWord, ...]
    other_option: Mapping[str, str]
    attributes: tuple[AttributeFamily, ...]
    policies: tuple[PolicyTopic, ...]
    unanswerable: tuple[UnstatedFamily, ...]
    nouns: tuple[tuple[str, str], ...]

    def family(self, name: str) -> AttributeFamily | None:
        return next((f for f in self.attributes if f.name == name), None)


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise GenerationError(f"{where}: expected a list of non-empty strings")
    return tuple(value)


def _phrasings(
    data: Mapping[str, Any], where: str, slots: set[str], *, required: bool = True
) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for lang in LANGS:
        found = _strings(data.get(lang), f"{where}.{lang}")
        if required and not found:
            raise GenerationError(f"{where}.{lang}: no phrasings")
        for text in found:
            used = set(_SLOT.findall(text))
            if not used <= slots:
                raise GenerationError(
                    f"{where}.{lang}: {text!r} uses {sorted(used - slots)}; allowed: {sorted(slots)}"
                )
            if "p" in slots and "p" not in used:
                raise GenerationError(f"{where}.{lang}: {text!r} does not name the product ({{p}})")
        out[lang] = found
    return out


def _pattern(value: Any, where: str) -> re.Pattern[str] | None:
    if value is None:
        return None
    try:
        return re.compile(str(value), re.IGNORECASE)
    except re.error as exc:
        raise GenerationError(f"{where}: not a regular expression ({exc})") from exc


@lru_cache(maxsize=4)
def load_templates(path: Path = TEMPLATES_PATH) -> Templates:
    """Read and check the template file; `GenerationError` names the entry that is wrong."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise GenerationError(f"{path}: cannot be read ({exc})") from exc
    if not isinstance(data, dict):
        raise GenerationError(f"{path}: expected a mapping")
    mix = {str(k): float(v) for k, v in (data.get("mix") or {}).items()}
    unknown = set(mix) - set(FAMILIES)
    if unknown or not mix:
        raise GenerationError(
            f"{path}: mix: unknown families {sorted(unknown)} (known: {', '.join(FAMILIES)})"
        )
    slots = {
        "price": {"p"},
        "list_price": {"p"},
        "stock": {"p"},
        "variant_stock": {"p", "v"},
        "variant_price": {"p", "v"},
        "enumeration": {"p", "d"},
    }
    raw_templates = data.get("templates") or {}
    phrasings = {
        name: _phrasings(raw_templates.get(name) or {}, f"templates.{name}", s) for name, s in slots.items()
    }
    options = tuple(
        OptionWord(
            _strings(o.get("keys"), f"options[{i}].keys"),
            {lang: str(o.get(lang) or "") for lang in LANGS},
            bool(o.get("size", False)),
        )
        for i, o in enumerate(data.get("options") or [])
    )
    attributes = tuple(
        AttributeFamily(
            str(a["name"]),
            tuple(k.lower() for k in _strings(a.get("keys"), f"attributes.{a.get('name')}.keys")),
            _phrasings(a, f"attributes.{a['name']}", {"p"}),
            _pattern(a.get("values"), f"attributes.{a['name']}.values"),
            _pattern(a.get("not_values"), f"attributes.{a['name']}.not_values"),
        )
        for a in data.get("attributes") or []
    )
    families = {a.name for a in attributes}
    policies = tuple(
        PolicyTopic(
            str(t["name"]),
            _strings(t.get("match"), f"policies.{t.get('name')}.match"),
            bool(t.get("numbers", True)),
            _strings(t.get("terms"), f"policies.{t.get('name')}.terms"),
            _phrasings(t, f"policies.{t['name']}", set()),
        )
        for t in data.get("policies") or []
    )
    unstated: list[UnstatedFamily] = []
    for u in data.get("unanswerable") or []:
        where = f"unanswerable.{u.get('name')}"
        family = u.get("family")
        for name in [family, *(u.get("requires") or [])]:
            if name is not None and name not in families:
                raise GenerationError(f"{where}: no attribute family {name!r}")
        own = _phrasings(u, where, {"p"}, required=family is None)
        base = next((a for a in attributes if a.name == family), None)
        merged: dict[str, tuple[str, ...]] = {
            lang: own[lang] or (base.phrasings[lang] if base else ()) for lang in LANGS
        }
        unstated.append(
            UnstatedFamily(
                str(u["name"]),
                family,
                tuple(m.lower() for m in _strings(u.get("mentions"), f"{where}.mentions")),
                tuple(re.compile(p, re.IGNORECASE) for p in _strings(u.get("patterns"), f"{where}.patterns")),
                _strings(u.get("requires"), f"{where}.requires"),
                tuple(c.lower() for c in _strings(u.get("skip_categories"), f"{where}.skip_categories")),
                merged,
            )
        )
    stop = data.get("key_stopwords") or {}
    nouns = tuple((str(pair[0]), str(pair[1])) for pair in data.get("nouns") or [] if len(pair) == 2)
    return Templates(
        mix=mix,
        cross_share=float(data.get("cross_share", 0.35)),
        key_stopwords={lang: frozenset(str(w).lower() for w in stop.get(lang) or []) for lang in LANGS},
        phrasings=phrasings,
        options=options,
        other_option={lang: str((data.get("other_option") or {}).get(lang) or "") for lang in LANGS},
        attributes=attributes,
        policies=policies,
        unanswerable=tuple(unstated),
        nouns=nouns,
    )


# -- reading the catalog ----------------------------------------------------------------------------------
def _fold(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def text_lang(text: str, locale: str = "") -> Lang:
    """The language a listing or document is written in: its locale, else whether it has Chinese."""
    loc = locale.lower()
    if loc.startswith("zh"):
        return "zh"
    if loc.startswith("en"):
        return "en"
    return "zh" if _CJK.search(text) else "en"


def product_lang(product: Product) -> Lang:
    return text_lang(product.title, product.locale)


def listing_text(product: Product) -> str:
    """Everything the listing states, folded: where a fact would be found if it were stated."""
    parts = [product.title, product.brand, product.category, product.description]
    parts += [f"{k} {v}" for k, v in product.attributes.items()]
    parts += product.selling_points + product.tags
    parts += [f"{k} {v}" for variant in product.variants for k, v in variant.options.items()]
    return _fold("\n".join(parts))


def _key_words(key: str, lang_stop: Mapping[str, frozenset[str]]) -> tuple[set[str], set[str]]:
    """The key's Chinese two-character words and its English word stems (first four letters)."""
    folded = _fold(key)
    zh: set[str] = set()
    for run in _CJK_RUN.findall(folded):
        grams = {run} if len(run) < 2 else {run[i : i + 2] for i in range(len(run) - 1)}
        zh |= {g for g in grams if g not in lang_stop["zh"]}
    en = {w[:4] for w in _WORD.findall(folded) if len(w) >= 3 and w not in lang_stop["en"]}
    return zh, en


def avoids_key(phrasing: str, key: str, stop: Mapping[str, frozenset[str]]) -> bool:
    """True when `phrasing` (slots removed) repeats neither the attribute key nor any of its words."""
    body = _fold(_SLOT.sub(" ", phrasing))
    if _fold(key) in body:
        return False
    zh, en = _key_words(key, stop)
    if any(g in body for g in zh):
        return False
    return not ({w[:4] for w in _WORD.findall(body) if len(w) >= 3} & en)


def attribute_family(key: str, value: str, templates: Templates) -> AttributeFamily | None:
    """The paraphrase family of an attribute: the first that holds it (`AttributeFamily.holds`)."""
    return next((f for f in templates.attributes if f.holds(key, value)), None)


def _families_of(product: Product, templates: Templates) -> dict[str, list[str]]:
    """Attribute family name → the product's attribute keys in it."""
    out: dict[str, list[str]] = {}
    for key, value in product.attributes.items():
        family = attribute_family(key, value, templates)
        if family is not None:
            out.setdefault(family.name, []).append(key)
    return out


def _option_word(option: str, templates: Templates) -> OptionWord | None:
    folded = _fold(option)
    return next((o for o in templates.options if any(k.lower() in folded for k in o.keys)), None)


def _is_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


# -- naming products the way shoppers do ------------------------------------------------------------------
def _model(product: Product) -> str | None:
    """A model name from the title ("X3 Pro", "PB-10000", "飞羽2"), if it has one."""
    tokens = [t for t in re.split(r"[\s,，、/（）()]+", product.title) if t]
    for i, token in enumerate(tokens):
        low = token.lower()
        if _QUANTITY.match(token) or low.startswith(_NOT_MODELS):
            continue
        latin = re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*\d[A-Za-z0-9-]*|[A-Za-z]+-\d+[A-Za-z]*", token)
        chinese = re.fullmatch(r"[\u4e00-\u9fff]{1,4}\d{1,2}", token)
        if latin or chinese:
            following = tokens[i + 1].lower() if i + 1 < len(tokens) else ""
            return f"{token} {tokens[i + 1]}" if latin and following in _MODEL_SUFFIX else token
    return None


def _noun(product: Product, templates: Templates) -> str | None:
    """What the product is, in the title's own words: a common noun the title holds, else the category."""
    title = product.title
    leaf = re.split(r"[/>›]", product.category)[-1].strip()
    if product_lang(product) == "zh":
        # The noun the listing is filed under, else the one the title names first (accessories come later:
        # "便携卡式炉 … 带收纳箱"), else the end of the title's first Chinese phrase.
        found = [zh for zh, _en in templates.nouns if zh in title]
        if found:
            return min(found, key=lambda zh: (zh not in product.category, title.index(zh), -len(zh)))
        if leaf and leaf in title:
            return leaf
        runs = _CJK_RUN.findall(title.replace(product.brand, " ") if product.brand else title)
        return runs[0][-3:] if runs else None
    low = title.lower()
    hits = [
        en for _zh, en in templates.nouns if re.search(rf"(?<![a-z]){re.escape(en)}(?:e?s)?(?![a-z])", low)
    ]
    if hits:
        return max(hits, key=len)
    leaf = leaf.lower()
    for form in (leaf, leaf.rstrip("s")):
        if form and re.search(rf"(?<![a-z]){re.escape(form)}", low):
            return form
    head = _TITLE_HEAD.split(title)[0]
    brand_words = set(product.brand.lower().split())
    words = [
        w.lower()
        for w in re.findall(r"[A-Za-z][A-Za-z'-]+", head)
        if w.lower() not in brand_words and not (w.isupper() and len(w) <= 4)
    ]
    if len(words) >= 2 and words[-1] in _GROUP_WORDS:
        return f"{words[-2]} {words[-1]}"
    return words[-1] if words else None


def _segment(product: Product, noun: str | None) -> str | None:
    """A phrase of the title without the brand: the part holding the noun (zh), the words before a comma (en)."""
    title = product.title
    if product.brand and title.startswith(product.brand):
        title = title[len(product.brand) :].strip()
    if product_lang(product) == "zh":
        parts = [p for p in title.split() if p and not _QUANTITY.match(p)]
        holding = [p for p in parts if noun and noun in p and p != noun]
        plain = [p for p in parts if not re.search(r"\d", p)]
        return next(iter(holding or plain or parts), None)
    head = _TITLE_HEAD.split(title)[0].strip()
    return head or None


def _translate(noun: str | None, to: Lang, templates: Templates) -> str | None:
    if noun is None:
        return None
    for zh, en in templates.nouns:
        if to == "en" and noun == zh:
            return en
        if to == "zh" and noun.lower() == en:
            return zh
    return None


def _join(lang: Lang, *parts: str) -> str:
    """Words of a name: Chinese runs glued, a Latin word spaced from its neighbours."""
    out = ""
    for part in (p.strip() for p in parts if p and p.strip()):
        if out and (lang == "en" or not (_is_cjk(out[-1]) and _is_cjk(part[0]))):
            out += " "
        out += part
    return out


@dataclass(slots=True)
class _Names:
    """The names of each product per question language, cycled so a set mixes them."""

    forms: dict[tuple[str, Lang], list[tuple[str, str]]] = field(default_factory=dict)
    turns: Counter[tuple[str, Lang]] = field(default_factory=Counter)

    def name(self, sku: str, lang: Lang) -> tuple[str, str]:
        """(name, kind): short forms in turn, the full title every sixth time."""
        forms = self.forms[(sku, lang)]
        k = self.turns[(sku, lang)]
        self.turns[(sku, lang)] += 1
        short = [f for f in forms if f[1] != "title"]
        if not short or k % 6 == 5:
            return next(f for f in forms if f[1] == "title")
        return short[(k - k // 6) % len(short)]


def _build_names(products: Sequence[Product], templates: Templates, langs: Sequence[Lang]) -> _Names:
    hay = {p.sku: _fold(f"{p.brand} {p.title} {p.category}") for p in products}

    def unique(sku: str, pieces: Sequence[str]) -> bool:
        folded = [_fold(x) for x in pieces if x]
        if not folded or not all(x in hay[sku] for x in folded):
            return False
        return not any(all(x in h for x in folded) for other, h in hay.items() if other != sku)

    names = _Names()
    for product in products:
        src = product_lang(product)
        noun, model, brand = _noun(product, templates), _model(product), product.brand.strip()
        segment = _segment(product, noun)
        for lang in langs:
            said = noun if lang == src else (_translate(noun, lang, templates) or noun)
            candidates: list[tuple[str, Sequence[str], str]] = []
            if brand and noun:
                text = brand if noun in brand else _join(lang, brand, said or "")
                candidates.append((text, [brand, noun], "brand"))
            if model:
                with_noun = noun and noun.lower() not in model.lower()
                candidates.append((_join(lang, model, said or "") if with_noun else model, [model], "model"))
            if segment:
                candidates.append((segment, [segment], "phrase"))
            forms: list[tuple[str, str]] = []
            for text, pieces, kind in candidates:
                if text and unique(product.sku, pieces) and text not in [f[0] for f in forms]:
                    forms.append((text, kind))
            forms.append((product.title, "title"))
            names.forms[(product.sku, lang)] = forms
    return names


_PIECES = re.compile(r"(\{\w+\})")
#: A size value as shoppers say it: "M", "XXL", "38", "US 10", "30x32".
_SHORT_VALUE = re.compile(r"(?:US |EU |UK )?[A-Za-z0-9]{1,4}(?:[x×/][A-Za-z0-9]{1,4})?")


def fill(template: str, lang: Lang, slots: Mapping[str, str]) -> str:
    """`template` with its slots filled; in a Chinese question a Latin word is spaced from a Latin
    neighbour ("HomeNest storage" + "Beige" → "HomeNest storage Beige")."""
    out = ""
    for piece in _PIECES.split(template):
        text = slots.get(piece[1:-1], piece) if _PIECES.fullmatch(piece) else piece
        if not text:
            continue
        if out and lang == "zh" and re.match(r"[A-Za-z0-9]", text) and re.search(r"[A-Za-z0-9)]$", out):
            out += " "
        out += text
    return re.sub(r"\s+", " ", out).strip()


def _variant_phrase(variant: Variant, lang: Lang, templates: Templates) -> str:
    """A variant as a shopper says it: "粉色XL码", "Black, size M"."""
    parts: list[str] = []
    for option, value in variant.options.items():
        word = _option_word(option, templates)
        short = re.fullmatch(r"[A-Za-z0-9]{1,4}", value) is not None
        if word is not None and word.size and short:
            parts.append(value if value.endswith("码") else f"{value}码" if lang == "zh" else f"size {value}")
        else:
            parts.append(value)
    return _join("zh", *parts) if lang == "zh" else ", ".join(parts)


# -- candidates -------------------------------------------------------------------------------------------
@dataclass(slots=True)
class _Candidate:
    family: str
    sub: str
    lang: Lang
    cross: bool
    sku: str | None
    expect: dict[str, Any]
    phrasings: tuple[str, ...]
    template_key: str
    slots: dict[str, str] = field(default_factory=dict)
    fixed: int | None = None


def _product_expect(sku: str, facts: list[dict[str, Any]], *, refuse: bool = False) -> dict[str, Any]:
    return {"route": "product_question", "product": sku, "facts": facts, "refuse": refuse}


def _stock_kind(variant: Variant) -> str:
    return "variant_sold_out" if variant.stock is not None and variant.stock <= 0 else "variant_available"


def _product_candidates(
    product: Product, templates: Templates, langs: Sequence[Lang], documents_text: str
) -> list[_Candidate]:
    src = product_lang(product)
    sku = product.sku
    out: list[_Candidate] = []

    def add(
        family: str,
        sub: str,
        expect: dict[str, Any],
        phrasings: Mapping[str, tuple[str, ...]],
        key: str,
        **slots: str,
    ) -> None:
        for lang in langs:
            if phrasings.get(lang):
                out.append(
                    _Candidate(
                        family,
                        sub,
                        lang,
                        lang != src,
                        sku,
                        expect,
                        phrasings[lang],
                        f"{key}.{lang}",
                        dict(slots),
                    )
                )

    ph = templates.phrasings
    if product.price is not None:
        add("price", "", _product_expect(sku, [{"kind": "price", "sku": sku}]), ph["price"], "price")
    if product.price is not None and product.list_price is not None and product.list_price > product.price:
        add(
            "list_price",
            "",
            _product_expect(sku, [{"kind": "list_price", "sku": sku}]),
            ph["list_price"],
            "list_price",
        )
    if product.total_stock() is not None:
        add("stock", "", _product_expect(sku, [{"kind": "stock_state", "sku": sku}]), ph["stock"], "stock")
    prices = {v.price for v in product.variants if v.price is not None}
    for variant in product.variants:
        if not variant.options:
            continue
        for lang in langs:
            phrase = _variant_phrase(variant, lang, templates)
            fact = {"kind": _stock_kind(variant), "sku": variant.sku}
            out.append(
                _Candidate(
                    "variant_stock",
                    "",
                    lang,
                    lang != src,
                    sku,
                    _product_expect(sku, [fact]),
                    ph["variant_stock"][lang],
                    f"variant_stock.{lang}",
                    {"v": phrase},
                )
            )
            if len(prices) > 1 and variant.price is not None:
                fact = {"kind": "price", "sku": variant.sku}
                out.append(
                    _Candidate(
                        "variant_price",
                        "",
                        lang,
                        lang != src,
                        sku,
                        _product_expect(sku, [fact]),
                        ph["variant_price"][lang],
                        f"variant_price.{lang}",
                        {"v": phrase},
                    )
                )
    option_names = list(dict.fromkeys(k for v in product.variants for k in v.options))
    for option in option_names:
        values = {v.options[option] for v in product.variants if option in v.options}
        if len(values) < 2:
            continue
        word = _option_word(option, templates)
        sizes = all(_SHORT_VALUE.fullmatch(v) for v in values)
        for lang in langs:
            said = word.words[lang] if word is not None and word.words.get(lang) else ""
            if word is not None and word.size and not sizes and lang == "zh":
                said = templates.other_option[lang]
            if not said:
                same_script = _is_cjk(option) == (lang == "zh")
                said = option if same_script else templates.other_option[lang]
            fact = {"kind": "option_values", "sku": sku, "field": option}
            out.append(
                _Candidate(
                    "enumeration",
                    option,
                    lang,
                    lang != src,
                    sku,
                    _product_expect(sku, [fact]),
                    ph["enumeration"][lang],
                    f"enumeration.{lang}",
                    {"d": said},
                )
            )
    families = _families_of(product, templates)
    for name, keys in families.items():
        if len(keys) != 1:
            continue  # two attributes of one family: the question could not tell them apart
        family = templates.family(name)
        assert family is not None
        key = keys[0]
        fitting: dict[str, tuple[str, ...]] = {
            lang: tuple(t for t in family.phrasings[lang] if avoids_key(t, key, templates.key_stopwords))
            for lang in LANGS
        }
        fact = {"kind": "attribute", "sku": sku, "field": key}
        add("attribute", name, _product_expect(sku, [fact]), fitting, f"attr.{name}")
    listing = listing_text(product)
    category = _fold(product.category)
    for unstated in templates.unanswerable:
        if unstated.family is not None and unstated.family in families:
            continue
        if unstated.requires and not any(r in families for r in unstated.requires):
            continue
        if any(c in category for c in unstated.skip_categories):
            continue
        if any(m in listing or m in documents_text for m in unstated.mentions):
            continue
        if any(p.search(listing) for p in unstated.patterns):
            continue
        add(
            "unanswerable",
            unstated.name,
            _product_expect(sku, [], refuse=True),
            unstated.phrasings,
            f"unstated.{unstated.name}",
        )
    return out


_POLICY_NUMBER = re.compile(r"\d+(?:[.:：]\d+)?")


def _policy_candidates(
    documents: Sequence[Document], templates: Templates, langs: Sequence[Lang]
) -> list[_Candidate]:
    out: list[_Candidate] = []
    for topic in templates.policies:
        expected: list[str] = []
        doc_langs: set[str] = set()
        for document in documents:
            section = None
            for word in topic.match:
                section = next((s for s in document.sections if _fold(word) in _fold(s.heading)), None)
                if section is not None:
                    break
            if section is None:
                continue
            text = f"{section.heading}\n{section.text}"
            doc_langs.add(text_lang(f"{document.title} {text}", document.locale))
            found = list(dict.fromkeys(_POLICY_NUMBER.findall(text))) if topic.numbers else []
            found += [t for t in topic.terms if _fold(t) in _fold(text)]
            expected += [x for x in found if x not in expected]
        if not expected:
            continue
        expect = {"refuse": False, "escalate": False, "must_contain_any": expected[:12]}
        for lang in langs:
            for index, _phrasing in enumerate(topic.phrasings[lang]):
                out.append(
                    _Candidate(
                        "policy",
                        topic.name,
                        lang,
                        lang not in doc_langs,
                        None,
                        expect,
                        topic.phrasings[lang],
                        f"policy.{topic.name}.{lang}",
                        fixed=index,
                    )
                )
    return out


# -- choosing and writing ---------------------------------------------------------------------------------
def _spread(pool: list[_Candidate], rng: random.Random) -> list[_Candidate]:
    """Shuffle, then interleave by product (or topic) so every product comes up before one repeats."""
    groups: dict[str, list[_Candidate]] = {}
    for cand in pool:
        groups.setdefault(cand.sku or cand.sub, []).append(cand)
    order = list(groups.values())
    rng.shuffle(order)
    for group in order:
        rng.shuffle(group)
    spread: list[_Candidate] = []
    for i in range(max((len(g) for g in order), default=0)):
        spread += [g[i] for g in order if i < len(g)]
    return spread


def _quotas(n: int, weights: Mapping[str, float]) -> dict[str, int]:
    total = sum(weights.values())
    raw = {f: n * w / total for f, w in weights.items()}
    quota = {f: int(v) for f, v in raw.items()}
    for f in sorted(raw, key=lambda f: (-(raw[f] - quota[f]), list(FAMILIES).index(f)))[
        : n - sum(quota.values())
    ]:
        quota[f] += 1
    return quota


class _Writer:
    """Turns chosen candidates into cases: phrasing in turn, product names in turn, no repeated text."""

    def __init__(self, names: _Names, rng: random.Random, seed: int) -> None:
        self.names = names
        self.rng = rng
        self.seed = seed
        self.turns: dict[str, int] = {}
        self.seen: set[str] = set()
        self.counts: Counter[str] = Counter()
        self.cases: list[tuple[int, Case]] = []

    def write(self, cand: _Candidate) -> bool:
        count = len(cand.phrasings)
        if count == 0:
            return False
        if cand.template_key not in self.turns:
            self.turns[cand.template_key] = self.rng.randrange(count)
        name, kind = ("", "") if cand.sku is None else self.names.name(cand.sku, cand.lang)
        for attempt in range(count):
            index = (
                cand.fixed if cand.fixed is not None else (self.turns[cand.template_key] + attempt) % count
            )
            text = fill(cand.phrasings[index], cand.lang, {"p": name, **cand.slots})
            key = _fold(re.sub(r"[\s?？!！。,，]+", "", text))
            if key in self.seen:
                if cand.fixed is not None:
                    return False
                continue
            self.seen.add(key)
            if cand.fixed is None:
                self.turns[cand.template_key] = index + 1
            self.counts[cand.family] += 1
            short = FAMILIES[cand.family]
            tags = [GENERATED_TAG, f"family:{cand.family}", f"tpl:{cand.template_key}.{index}"]
            if cand.sub:
                tags.append(f"{cand.family}:{cand.sub}")
            if kind:
                tags.append(f"name:{kind}")
            case = Case.model_validate(
                {
                    "id": f"gen{self.seed}-{short}-{cand.lang}-{self.counts[cand.family]:03d}",
                    "lang": cand.lang,
                    "slice": "cross" if cand.cross else cand.lang,
                    "channel": "chat",
                    "text": text,
                    "tags": tags,
                    "expect": cand.expect,
                }
            )
            self.cases.append((list(FAMILIES).index(cand.family), case))
            return True
        return False


def generate_cases(
    store: CatalogStore,
    merchant: str,
    *,
    n: int = 200,
    seed: int = 0,
    languages: Sequence[str] = ("zh", "en"),
    templates: Templates | None = None,
) -> list[Case]:
    """Up to `n` evaluation cases about `merchant`'s catalog and policies (fewer only when the catalog
    offers fewer distinct questions); the same seed gives the same cases.

    Raises:
        GenerationError: the merchant has no products, or a language is not zh/en.
    """
    langs: list[Lang] = []
    for lang in languages:
        if lang not in LANGS:
            raise GenerationError(f"language {lang!r}: use zh and/or en")
        if lang not in langs:
            langs.append(lang)
    if not langs:
        raise GenerationError("no language to ask in: use zh and/or en")
    products = sorted(store.all_products(merchant), key=lambda p: p.sku)
    if not products:
        raise GenerationError(
            f"merchant {merchant!r} has no products: import a catalog first: anchor ingest FILE --merchant {merchant}"
        )
    documents = sorted(store.documents(merchant), key=lambda d: d.doc_id)
    return cases_for(products, documents, n=n, seed=seed, languages=langs, templates=templates)


def cases_for(
    products: Sequence[Product],
    documents: Sequence[Document],
    *,
    n: int = 200,
    seed: int = 0,
    languages: Sequence[Lang] = LANGS,
    templates: Templates | None = None,
) -> list[Case]:
    """`generate_cases` on products and documents already read (a catalog file, a `Reference`)."""
    templates = templates or load_templates()
    rng = random.Random(seed)
    documents_text = _fold("\n".join(f"{s.heading} {s.text}" for d in documents for s in d.sections))
    candidates: list[_Candidate] = []
    for product in products:
        candidates += _product_candidates(product, templates, languages, documents_text)
    candidates += _policy_candidates(documents, templates, languages)
    pools: dict[str, dict[bool, list[_Candidate]]] = {f: {False: [], True: []} for f in FAMILIES}
    for cand in candidates:
        pools[cand.family][cand.cross].append(cand)
    for family in FAMILIES:
        for cross in (False, True):
            pools[family][cross] = _spread(pools[family][cross], rng)
    weights = {f: w for f, w in templates.mix.items() if w > 0 and (pools[f][False] or pools[f][True])}
    writer = _Writer(_build_names(products, templates, languages), rng, seed)
    if weights:
        for family, quota in _quotas(n, weights).items():
            want_cross = round(quota * templates.cross_share)
            for cross, want in ((True, want_cross), (False, quota - want_cross)):
                pool = pools[family][cross]
                while want > 0 and pool:
                    want -= writer.write(pool.pop(0))
            for pool in (pools[family][False], pools[family][True]):  # one side short: the other makes it up
                while writer.counts[family] < quota and pool:
                    writer.write(pool.pop(0))
    families = [f for f in FAMILIES if templates.mix.get(f, 0) > 0]
    while len(writer.cases) < n and any(pools[f][c] for f in families for c in (False, True)):
        for family in families:  # the rest in turn from what is left
            for cross in (False, True):
                if len(writer.cases) < n and pools[family][cross]:
                    writer.write(pools[family][cross].pop(0))
    ordered = sorted(enumerate(writer.cases), key=lambda item: (item[1][0], item[0]))
    return [case for _i, (_f, case) in ordered]


def header_line(merchant: str, *, seed: int, count: int, catalog_version: int | None = None) -> str:
    """The first line of a generated file: the training mark and where the questions come from."""
    version = "" if catalog_version is None else f", catalog version {catalog_version}"
    return (
        f"// {GENERATED_MARKER}. {count} questions generated by `anchor eval generate` from the catalog of "
        f"merchant {merchant} (seed {seed}{version}); they measure the bot and must never train a model."
    )


def dump_cases(cases: Iterable[Case], header: str) -> str:
    """The JSONL text of a generated set: the marking header line, then one case per line."""
    lines = [header]
    lines += [json.dumps(c.model_dump(mode="json", exclude_defaults=True), ensure_ascii=False) for c in cases]
    return "\n".join(lines) + "\n"


def write_cases(
    path: Path, cases: Sequence[Case], merchant: str, *, seed: int, catalog_version: int | None = None
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = header_line(merchant, seed=seed, count=len(cases), catalog_version=catalog_version)
    path.write_text(dump_cases(cases, header), encoding="utf-8")
    return path


def summarize_cases(cases: Sequence[Case]) -> dict[str, Any]:
    """Counts per family and language, slices, and distinct phrasings per family and language."""
    families: dict[str, dict[str, Any]] = {}
    for case in cases:
        entry = families.setdefault(
            case_family(case), {"cases": 0, "zh": 0, "en": 0, "cross": 0, "phrasings": {}}
        )
        entry["cases"] += 1
        entry[case.lang] += 1
        entry["cross"] += case.slice == "cross"
        template = next((t for t in case.tags if t.startswith("tpl:")), "")
        entry["phrasings"].setdefault(case.lang, set()).add(template)
    for entry in families.values():
        entry["phrasings"] = {lang: len(found) for lang, found in sorted(entry["phrasings"].items())}
    return {
        "cases": len(cases),
        "languages": dict(Counter(c.lang for c in cases)),
        "slices": dict(Counter(c.slice for c in cases)),
        "families": families,
    }


# -- "Test my shop": generate and run in one call ---------------------------------------------------------
#: Called after each case: (cases done, cases in all).
Progress = Callable[[int, int], None]


async def arun_generated(
    services: Services,
    merchant: str,
    n: int = 200,
    progress: Progress | None = None,
    *,
    seed: int = 0,
    languages: Sequence[str] = ("zh", "en"),
    close_tickets: bool = True,
) -> dict[str, Any]:
    """Generate `n` questions from `merchant`'s live catalog, answer them with the production pipeline of
    `services` and return the report (`evals.runner.build_report` plus a ``generated`` section: pass rate
    per family and language, the worst failures, knowledge gaps).

    Conversations are the harness's own (``ev-…``, left out of `anchor eval gaps`); a ticket a misrouted
    question opens in the merchant's queue is resolved at the end with a note (`close_tickets`).
    """
    from evals.runner import EvalRun, InProcessBackend, build_report, run_cases

    cases = generate_cases(services.store, merchant, n=n, seed=seed, languages=languages)
    ref = Reference.from_store(services.store, merchant)
    outcomes = await run_cases(cases, InProcessBackend(services, merchant), ref, progress=progress)
    closed = close_eval_tickets(services.tickets, merchant, outcomes) if close_tickets else []
    meta = {
        "mode": "in-process (live data)",
        "url": "",
        "embedder": services.settings.embedder,
        "writer": services.settings.writer,
        "merchant": merchant,
        "datasets": f"generated (seed {seed}, n {n})",
        "catalog": f"merchant {merchant} (catalog version {services.store.catalog_version(merchant)})",
        "tickets_closed": closed,
    }
    report = build_report(EvalRun(outcomes, meta=meta))
    report["generated"] = generated_section(outcomes)
    return report


def run_generated(
    services: Services,
    merchant: str,
    n: int = 200,
    progress: Progress | None = None,
    *,
    seed: int = 0,
    languages: Sequence[str] = ("zh", "en"),
    close_tickets: bool = True,
) -> dict[str, Any]:
    """`arun_generated` for callers without an event loop (the CLI, tests); inside one, await that."""
    return asyncio.run(
        arun_generated(
            services, merchant, n, progress, seed=seed, languages=languages, close_tickets=close_tickets
        )
    )


__all__ = [
    "FAMILIES",
    "GenerationError",
    "Templates",
    "arun_generated",
    "avoids_key",
    "case_family",
    "cases_for",
    "dump_cases",
    "generate_cases",
    "load_templates",
    "run_generated",
    "summarize_cases",
    "write_cases",
]
