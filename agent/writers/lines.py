"""Pick the catalog lines that answer a spec or policy question.

Candidate lines are the focused product's attributes ("材质: 棉"), selling points and description
sentences, and the retrieved policy sections. Each is scored by the share of the question's content
terms it contains (with the bilingual glossary, so "防水吗" meets "Waterproof: IPX5") plus the
retriever's score of the passage it came from. No line above the bar means the catalog does not say.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from agent.evidence import Citation
from knowledge.glossary import glossary_matches
from knowledge.line_vectors import SENTENCE_END, product_lines
from knowledge.models import Product
from knowledge.retriever import Hit
from knowledge.tokenize import tokenize


@dataclass(frozen=True, slots=True)
class Line:
    text: str
    citation: Citation
    score: float


def content_terms(question: str) -> set[str]:
    """The question's own content tokens (no stop words, no translations)."""
    return {t for t in tokenize(question) if t not in _STOP}


_LINK_REF = re.compile(r"\d+\s*号(?:链接)?|\blink\s*#?\s*\d+|#\s*\d+", re.I)
_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
_LATIN = re.compile(r"[a-z][a-z0-9'-]*|\d+(?:\.\d+)?[a-z]*")
_EN_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "do",
        "does",
        "did",
        "can",
        "could",
        "will",
        "would",
        "should",
        "shall",
        "may",
        "might",
        "must",
        "it",
        "its",
        "it's",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "what",
        "what's",
        "whats",
        "which",
        "who",
        "whom",
        "whose",
        "how",
        "when",
        "where",
        "why",
        "i",
        "me",
        "my",
        "you",
        "your",
        "we",
        "our",
        "they",
        "their",
        "he",
        "she",
        "his",
        "her",
        "them",
        "of",
        "for",
        "to",
        "in",
        "on",
        "at",
        "by",
        "with",
        "from",
        "into",
        "onto",
        "about",
        "and",
        "or",
        "but",
        "if",
        "then",
        "so",
        "than",
        "too",
        "very",
        "just",
        "also",
        "any",
        "some",
        "much",
        "many",
        "more",
        "most",
        "own",
        "same",
        "such",
        "only",
        "have",
        "has",
        "had",
        "get",
        "got",
        "go",
        "goes",
        "going",
        "come",
        "comes",
        "please",
        "tell",
        "know",
        "let",
        "s",
        "t",
        "d",
        "ll",
        "re",
        "ve",
        "m",
        "actually",
        "really",
        "still",
        "even",
        "ever",
        "exactly",
        "definitely",
        "ok",
        "okay",
        "hi",
        "hey",
        "thanks",
        "thank",
        "take",
        "bring",
        "use",
        "work",
        "works",
        "put",
        "need",
        "want",
        "like",
        "able",
        "free",
        "support",
        "supports",
    ]
)
# Chinese question words and fillers, longest first so "多长时间" goes before "多长".
_ZH_STOP = sorted(
    [
        "是不是",
        "有没有",
        "能不能",
        "可不可以",
        "会不会",
        "要不要",
        "多长时间",
        "什么时候",
        "怎么样",
        "为什么",
        "请问一下",
        "请问",
        "一下",
        "主播",
        "宝宝",
        "家人们",
        "这个",
        "这款",
        "这件",
        "那个",
        "那款",
        "它的",
        "它",
        "这",
        "那",
        "吗",
        "呢",
        "啊",
        "吧",
        "呀",
        "嘛",
        "么",
        "的",
        "了",
        "是",
        "有",
        "能",
        "可以",
        "会",
        "要",
        "用",
        "给",
        "让",
        "把",
        "被",
        "在",
        "和",
        "跟",
        "与",
        "及",
        "都",
        "也",
        "就",
        "还",
        "再",
        "很",
        "太",
        "多久",
        "多长",
        "多大",
        "多重",
        "多高",
        "多少",
        "几个",
        "几天",
        "几",
        "哪里",
        "哪个",
        "哪些",
        "什么",
        "怎么",
        "如何",
        "我",
        "你",
        "您",
        "我们",
        "他",
        "她",
        "亲",
        "哪",
        "没有",
        "还有",
        "适合",
    ],
    key=len,
    reverse=True,
)
#: Every word that carries no content in a question about a product, in either language.
_STOP = frozenset(_ZH_STOP) | _EN_STOP


def _stem(word: str) -> str:
    """A light English stem: laptops → laptop, salted → salt, charging → charg(e)."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


@dataclass(frozen=True, slots=True)
class Term:
    """One thing a question asks about. CJK forms match as substrings; Latin words by stem."""

    forms: tuple[str, ...]

    def found_in(self, text: str, stems: set[str]) -> bool:
        for form in self.forms:
            if _CJK_RUN.search(form):
                if form in text:
                    return True
            elif all(_stem(w) in stems for w in _LATIN.findall(form)):
                return True
        return False


def _strip(text: str, words: Sequence[str]) -> str:
    """Remove `words` from `text`: Chinese anywhere, Latin words only whole."""
    for word in words:
        if not word:
            continue
        if _CJK_RUN.search(word):
            text = text.replace(word, " ")
        else:
            text = re.sub(rf"(?<![a-z0-9]){re.escape(word)}(?![a-z0-9])", " ", text)
    return text


def question_terms(question: str, *, naming: str = "", dropped: list[str] | None = None) -> list[Term]:
    """What the question asks about, minus the words that only name the product.

    Glossary entries become one term each (any language's form matches); remaining Latin words are
    stemmed terms; remaining Chinese text becomes character bigrams, which survive any word cutting.
    Words of `naming` (the product's brand and title) and link references are not asked about.
    """
    text = _LINK_REF.sub(" ", question.lower())
    naming_norm = naming.lower()
    naming_tokens = [t for t in tokenize(naming) if len(t) >= 2]
    terms: list[Term] = []
    matches = glossary_matches(text)
    all_spans = [s for m in matches for s in m.spans]
    for match in matches:
        spans = [s for s in match.spans if s]
        # 咖啡 inside 咖啡因: the longer entry speaks for it.
        if all(any(s != o and s in o for o in all_spans) for s in spans):
            continue
        text = _strip(text, spans)
        if any(form.lower() in naming_norm for form in match.forms):
            continue  # the product's own type or feature word: it names the product
        terms.append(Term(match.forms))
    text = _strip(text, sorted(naming_tokens, key=lambda t: (-len(t), t)))
    text = _strip(text, _ZH_STOP)
    chinese_listing = bool(naming) and bool(_CJK_RUN.search(naming))
    english_question = not _CJK_RUN.search(question)
    for word in _LATIN.findall(text):
        if word in _EN_STOP or word.isdigit():
            continue
        if chinese_listing and english_question and not any(ch.isdigit() for ch in word):
            # An English question about a Chinese listing: its plain words cannot occur there (a Latin
            # token inside a Chinese question, like aptX, can); only glossary terms and codes can meet it.
            if dropped is not None:
                dropped.append(word)
            continue
        terms.append(Term((word,)))
    for run in _CJK_RUN.findall(text):
        if len(run) == 1:
            continue
        if naming and not _CJK_RUN.search(naming):
            # An English listing cannot contain the Chinese words; only glossary terms can meet it.
            if dropped is not None:
                dropped.append(run)
            continue
        for i in range(len(run) - 1):
            terms.append(Term((run[i : i + 2],)))
    return terms


def _line_tokens(text: str) -> set[str]:
    return {_stem(w) for w in _LATIN.findall(text.lower())}


def _product_lines(product: Product) -> list[tuple[str, Citation]]:
    return [(text, Citation(sku=product.sku, field=fld)) for fld, _key, text in product_lines(product)]


def _hit_lines(hits: Sequence[Hit]) -> list[tuple[str, Citation, float]]:
    out: list[tuple[str, Citation, float]] = []
    for hit in hits:
        body = hit.passage.text
        # Passages start with "brand title:" or "document — heading:", which name the source; the first
        # line of content follows on the same line ("包邮条件: - 人民币订单：…") and counts like the rest.
        head, _, rest = body.partition("\n")
        text = head.split(":", 1)[-1] + ("\n" + rest if rest.strip() else "")
        for part in SENTENCE_END.split(text):
            part = part.strip(" -•\n")
            if len(part) >= 2:
                out.append((part, Citation.of_hit(hit), hit.score))
    return out


def _coverage(terms: Sequence[Term], text: str) -> float:
    if not terms:
        return 0.0
    lowered = text.lower()
    stems = _line_tokens(lowered)
    return sum(1 for t in terms if t.found_in(lowered, stems)) / len(terms)


#: Share of the question's content terms a line must contain to count as answering it.
MIN_COVERAGE = 0.6


def best_product_lines(
    question: str,
    product: Product,
    passages: Sequence[Hit],
    *,
    limit: int = 2,
) -> list[Line]:
    """The product lines that answer `question`, best first; [] when none covers enough of it.

    Terms that merely name the product ("耳机" in "这个耳机防水吗") are left out of the match when
    other terms remain; a question made only of title words ("适合敏感肌吗" about a cream whose title
    says 敏感肌) is answered by the title itself.
    """
    naming = f"{product.brand} {product.title} {product.sku}"
    dropped: list[str] = []
    asked = question_terms(question, naming=naming, dropped=dropped)
    lines = _product_lines(product)
    bar = MIN_COVERAGE
    if not asked and dropped:
        return []  # it asks about something in words the listing's language cannot hold
    if not asked:
        # Only title words ("Stormshell雨衣防水吗" about a "Waterproof Rain Jacket"): a detail line that
        # repeats the word (its rating) answers best, the title itself at worst.
        asked = question_terms(question)
        lines = [*lines, (product.title, Citation(sku=product.sku, field="title"))]
        bar = 0.5
    if not asked:
        return []
    prior_by_field = {
        h.passage.source.field: h.score for h in passages if h.passage.source.sku == product.sku
    }
    scored: list[Line] = []
    for text, citation in lines:
        coverage = _coverage(asked, text)
        if coverage < bar:
            continue
        prior = prior_by_field.get(citation.field, 0.0)
        # The title only names the product: any detail line that reaches the bar says more.
        penalty = 0.6 if citation.field == "title" else 0.0
        scored.append(Line(text, citation, coverage + 0.1 * max(prior, 0.0) - penalty))
    scored.sort(key=lambda line: line.score, reverse=True)
    return scored[:limit]


_ASKS_WHEN = re.compile(
    r"什么时候|多久|几天|多长时间|几点|when|how long|how soon|how many days|what time", re.I
)
_TIME_SPAN = re.compile(
    r"\d+\s*(?:小时|天|日|个工作日|工作日|分钟|点|:\d\d)|\d+\s*(?:hours?|days?|business days|minutes?|am|pm)|"
    r"\d{1,2}:\d{2}",
    re.I,
)


# "美元" (US dollars) holds 元 but is the other storefront's currency.
_CURRENCY = {
    "zh": re.compile(r"[¥￥]|(?<!美)元|人民币|CNY", re.I),
    "en": re.compile(r"\$|USD|dollars?|美元", re.I),
}


def best_policy_lines(
    question: str, policies: Sequence[Hit], *, limit: int = 2, language: str = ""
) -> list[Line]:
    """The policy sentences that answer `question`, best first.

    A "when / how long" question prefers the sentences that state a time span; a shop with two
    storefronts states terms per currency, so a line in the shopper's currency wins over the other's.
    """
    terms = question_terms(question)
    wants_time = bool(_ASKS_WHEN.search(question))
    own = _CURRENCY.get(language)
    other = next((p for lang, p in _CURRENCY.items() if lang != language), None) if own else None
    scored: list[Line] = []
    for text, citation, prior in _hit_lines(policies):
        overlap = _coverage(terms, text)
        bonus = 0.3 if wants_time and _TIME_SPAN.search(text) else 0.0
        if own is not None and other is not None:
            if own.search(text):
                bonus += 0.15
            elif other.search(text):
                bonus -= 0.3
        scored.append(Line(text, citation, overlap + 0.5 * max(prior, 0.0) + bonus))
    scored.sort(key=lambda line: line.score, reverse=True)
    return scored[:limit]


def asks_something(question: str, product: Product) -> bool:
    """True when the question asks about more than the product's name ("P8噪音多少分贝", not "介绍一下P8")."""
    dropped: list[str] = []
    terms = question_terms(question, naming=f"{product.brand} {product.title} {product.sku}", dropped=dropped)
    meaningful = [t for t in terms if not set(t.forms) <= _INTRO_WORDS]
    return bool(meaningful or dropped)


# Words of "tell me about it" questions, which a summary answers.
_INTRO_WORDS = frozenset(
    {
        "介绍",
        "绍一",
        "一下",
        "讲讲",
        "说说",
        "怎么样",
        "好用",
        "推荐",
        "详细",
        "tell",
        "about",
        "describe",
        "details",
        "info",
    }
)
