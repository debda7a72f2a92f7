"""Which of a product's variants a question names ("有XL吗", "does it come in red", "黑色M码还有吗")."""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.evidence import stock_state
from knowledge.models import Product, Variant
from knowledge.units import convert, quantities

# Colour words across the two languages, so "红色" finds a variant named "Red" and back.
# Chinese forms carry 色 (or are two-character names) so 口红 (lipstick) is not "red" and 白菜 not "white".
_COLOURS: dict[str, tuple[str, ...]] = {
    "red": ("红色", "大红", "正红", "酒红", "red", "burgundy"),
    "black": ("黑色", "纯黑", "曜石黑", "black"),
    "white": ("白色", "纯白", "米白", "奶白", "white", "ivory"),
    "blue": ("蓝色", "深蓝", "浅蓝", "天蓝", "藏青", "藏蓝", "blue", "navy"),
    "pink": ("粉色", "粉红", "樱花粉", "pink"),
    "grey": ("灰色", "浅灰", "深灰", "grey", "gray"),
    "green": ("绿色", "墨绿", "军绿", "green", "olive", "sage"),
    "yellow": ("黄色", "姜黄", "yellow", "mustard"),
    "purple": ("紫色", "香芋紫", "purple", "lavender", "lilac"),
    "beige": ("米色", "杏色", "燕麦色", "beige", "cream", "oatmeal"),
    "brown": ("棕色", "咖啡色", "驼色", "brown", "camel", "tan"),
    "orange": ("橙色", "橘色", "orange"),
    "khaki": ("卡其", "卡其色", "khaki"),
    "silver": ("银色", "silver"),
    "gold": ("金色", "gold"),
}
_WORD = re.compile(r"[a-z]+")
# An option value such as 石墨黑 or 雾霾蓝 names its family by its last character.
_VALUE_TAIL = {
    "红": "red",
    "黑": "black",
    "白": "white",
    "蓝": "blue",
    "粉": "pink",
    "灰": "grey",
    "绿": "green",
    "黄": "yellow",
    "紫": "purple",
    "棕": "brown",
    "橙": "orange",
    "金": "gold",
    "银": "silver",
}
_SIZE = re.compile(r"(?<![A-Za-z0-9])(XXS|XS|S|M|L|XL|XXL|XXXL|[2-5]XL)(?![A-Za-z0-9])", re.I)
# Numeric sizes: "27码", "44号", "size 9", "US 10.5", "EU42".
_NUMERIC_SIZE = re.compile(
    r"(\d{1,2}(?:\.5)?)\s*(?:码|号|寸)|\b(?:size|us|eu|uk)\s*(\d{1,2}(?:\.5)?)\b", re.I
)
_LONE_SML = re.compile(r"^[sml]$", re.I)


def _value_family(value: str) -> str | None:
    """The colour family of an option value ("石墨黑" → black, "Rose Gold" → gold)."""
    family = _colour_family(value)
    if family is not None:
        return family
    tail = value.strip().removesuffix("色")[-1:]
    return _VALUE_TAIL.get(tail)


def _colour_family(text: str) -> str | None:
    lowered = text.lower()
    latin = set(_WORD.findall(lowered))
    for family, words in _COLOURS.items():
        for w in words:
            if (w in latin) if w.isascii() else (w in lowered):
                return family
    return None


_CN_DIGIT = {
    "零": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_NUM = "零一二两三四五六七八九十"
_CN_METRE = re.compile(rf"([{_CN_NUM}\d])\s*米\s*([{_CN_NUM}\d])(?![\d{_CN_NUM}]*\s*(?:厘米|cm|公分))")


def _cn_int(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    if text == "十":
        return 10
    if len(text) == 2 and text[0] == "十":
        return 10 + _CN_DIGIT.get(text[1], 0)
    if len(text) == 2 and text[1] == "十":
        return _CN_DIGIT.get(text[0], 0) * 10
    if len(text) == 3 and text[1] == "十":
        return _CN_DIGIT.get(text[0], 0) * 10 + _CN_DIGIT.get(text[2], 0)
    if len(text) == 1 and text in _CN_DIGIT:
        return _CN_DIGIT[text]
    return None


def arabic_numbers(text: str) -> str:
    """Chinese numerals before a measure become digits ("两米" → "2米", "一米八" → "1.8米", "三件装" → "3件装")."""
    text = _CN_METRE.sub(
        lambda m: (
            f"{_cn_int(m.group(1)) if not m.group(1).isdigit() else m.group(1)}."
            f"{_cn_int(m.group(2)) if not m.group(2).isdigit() else m.group(2)}米"
        ),
        text,
    )
    return re.sub(
        rf"([{_CN_NUM}]{{1,3}})(?=\s*(?:米|件|支|条|片|包|袋|盒|瓶|罐|只|双|斤|升|寸|人|层|个|套|粒))",
        lambda m: str(_cn_int(m.group(1))) if _cn_int(m.group(1)) is not None else m.group(1),
        text,
    )


_LENGTH = re.compile(
    r"(\d+(?:\.\d+)?)\s*(?:[×xX*]\s*(\d+(?:\.\d+)?)\s*)?(mm|cm|厘米|公分|毫米|米|m|寸|英寸|inch(?:es)?|in|\")(?![a-zA-Z])",
    re.I,
)
_LENGTH_CM = {
    "mm": 0.1,
    "毫米": 0.1,
    "cm": 1.0,
    "厘米": 1.0,
    "公分": 1.0,
    "米": 100.0,
    "m": 100.0,
    "寸": 2.54,
    "英寸": 2.54,
    "inch": 2.54,
    "inches": 2.54,
    "in": 2.54,
    '"': 2.54,
}
_COUNT = re.compile(
    r"(\d+)\s*(?:件装|件套|支装|条装|片装|粒装|只装|双装|包装|袋装|盒装|瓶装|罐装|个装|包|袋|盒|瓶|罐|支|片|条|双|件|"
    r"-?\s*pack\b|\s*pcs\b|\s*pieces\b|\s*count\b|\s*ct\b)|(?:pack|set|box) of (\d+)|[×xX*]\s*(\d+)(?=\s*(?:袋|包|盒|瓶|$))",
    re.I,
)


def measure_keys(text: str) -> set[str]:
    """Comparable measures in an option value or a question: lengths in cm, counts, masses in grams,
    volumes in ml ("2.0m床" → {"len:200"}, "3-pack" → {"count:3"}, "500g" → {"mass:500"})."""
    text = arabic_numbers(text)
    keys: set[str] = set()
    for match in _LENGTH.finditer(text):
        unit = match.group(3).lower()
        factor = _LENGTH_CM.get(unit, _LENGTH_CM.get(match.group(3), 0.0))
        for number in (match.group(1), match.group(2)):
            if number:
                keys.add(f"len:{round(float(number) * factor, 0):g}")
    for match in _COUNT.finditer(text):
        number = match.group(1) or match.group(2) or match.group(3)
        if number and int(number) > 1:  # "一盒几片" asks per box; "1件" names no pack
            keys.add(f"count:{int(number)}")
    for q in quantities(text):
        if q.dimension == "mass":
            grams = convert(q, "g") if q.unit != "g" else q.value
            if grams is not None:
                keys.add(f"mass:{float(grams):.0f}")
        elif q.dimension == "volume":
            ml = convert(q, "ml") if q.unit != "ml" else q.value
            if ml is not None:
                keys.add(f"vol:{float(ml):.0f}")
    return keys


def _magnitude(value: str) -> float | None:
    """The size-like magnitude of an option value, for "the big one" (a letter size's rank, else its measure)."""
    order = ["XXS", "XS", "S", "M", "L", "XL", "XXL", "XXXL"]
    letter = size_of_value(value)
    if letter is not None:
        return float(order.index(letter)) if letter in order else float(int(letter[0]) + 5)
    numbers = [float(k.split(":")[1]) for k in measure_keys(value) if not k.startswith("count:")]
    counts = [float(k.split(":")[1]) for k in measure_keys(value) if k.startswith("count:")]
    if numbers:
        return max(numbers)
    if counts:
        return max(counts)
    return None


_BIG = re.compile(
    r"大的|大一点|大点的|大一号|最大|大尺寸|大一些|big one|bigger|biggest|largest|the large one|the big", re.I
)
_SMALL = re.compile(r"小的|小一点|小点的|小一号|最小|小尺寸|small one|smaller|smallest|the little one", re.I)
_COLOUR_CHAR = re.compile(r"([红黑白蓝粉灰绿黄紫棕橙金银])(?:的|色|款|那个)")


@dataclass(frozen=True, slots=True)
class VariantQuery:
    """The variants a question asks for, and the named options the product lacks."""

    matched: tuple[Variant, ...]
    missing: tuple[str, ...]
    named: tuple[str, ...]


# Size words → the letter size they mean ("medium", "中号", "M码" → M).
_SIZE_WORDS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"extra[\s-]?small|x[\s-]small|加小号?|特小号?", re.I), "XS"),
    (re.compile(r"xx[\s-]?large|2x[\s-]?large|加加大号?|特大号?", re.I), "XXL"),
    (re.compile(r"extra[\s-]?large|x[\s-]large|加大号|加大码|加大(?!号)", re.I), "XL"),
    (re.compile(r"(?<![a-z-])medium(?![a-z])|中号|中码|(?<![a-z])mid[\s-]?size", re.I), "M"),
    (re.compile(r"(?<![a-z-])small(?![a-z])|小号|小码", re.I), "S"),
    (re.compile(r"(?<![a-z-])large(?![a-z])|大号|大码", re.I), "L"),
]
_SIZE_VALUE = re.compile(r"^\s*(XXS|XS|S|M|L|XL|XXL|XXXL|[2-5]XL)\s*(?:码|号)?\s*(?:[(（].*)?$", re.I)


def size_of_value(value: str) -> str | None:
    """The letter size an option value names ("M码" → M, "XL(适合130-150斤)" → XL, "Medium" → M, "中号" → M)."""
    match = _SIZE_VALUE.match(value)
    if match:
        return match.group(1).upper()
    for pattern, size in _SIZE_WORDS:
        if pattern.fullmatch(value.strip()) or pattern.match(value.strip()):
            return size
    return None


def _size_words(question: str) -> set[str]:
    found: set[str] = set()
    rest = question
    for pattern, size in _SIZE_WORDS:
        if pattern.search(rest):
            found.add(size)
            rest = pattern.sub(" ", rest)
    return found


def _sizes_in(question: str) -> set[str]:
    sizes: set[str] = _size_words(question)
    for match in _SIZE.finditer(question):
        token = match.group(1)
        # A lone lowercase s/m/l is an English word far more often than a size.
        if _LONE_SML.match(token) and not token.isupper():
            before = question[max(0, match.start() - 6) : match.start()].lower()
            after = question[match.end() : match.end() + 1]
            if "size" not in before and after != "码":
                continue
        sizes.add(token.upper())
    for match in _NUMERIC_SIZE.finditer(question):
        sizes.add(match.group(1) or match.group(2))
    return sizes


_PART = re.compile(r"[\s/()（）,，·|+-]+")


def _names_value(value: str, lowered_question: str) -> bool:
    """True when the question names the option value or a distinctive part of it ("豆沙" of "M05 豆沙")."""
    v = value.lower()
    if len(v) >= 2 and v in lowered_question:
        return True
    parts = [p for p in _PART.split(v) if len(p) >= 2 and not p.isdigit()]
    return any(p in lowered_question for p in parts)


def _size_key(value: str) -> str:
    """ "XL", "44", "9.5" from an option value such as "XL", "M码", "Medium", "44码", "US 9.5"."""
    letter = size_of_value(value)
    if letter is not None:
        return letter
    v = value.strip().upper()
    match = re.search(r"(\d{1,2}(?:\.5)?)", v)
    if match and not re.search(r"[A-Z]{2,}", v.replace("US", "").replace("EU", "").replace("UK", "")):
        return match.group(1)
    return v


def _is_size_value(value: str) -> bool:
    v = value.strip().upper()
    if size_of_value(value) is not None:
        return True
    return bool(re.fullmatch(r"(?:US|EU|UK)?\s*\d{1,2}(?:\.5)?\s*(?:码|号)?", v))


def match_variants(product: Product, question: str) -> VariantQuery:
    """Variants of `product` whose options the question names; sizes, colours, and other values."""
    if not product.variants:
        return VariantQuery((), (), ())
    sizes = _sizes_in(question)
    colour = _colour_family(question)
    if colour is None:
        char = _COLOUR_CHAR.search(question)
        colour = _VALUE_TAIL.get(char.group(1)) if char else None
    lowered = question.lower()
    asked_measures = measure_keys(question)
    named: list[str] = sorted(sizes)
    if colour:
        named.append(colour)

    def value_named(value: str) -> bool:
        v = value.strip()
        if _is_size_value(v):
            return bool(sizes) and _size_key(v) in sizes
        if _names_value(v, lowered):
            return True
        if asked_measures and asked_measures & measure_keys(v):
            return True
        family = _value_family(v)
        return colour is not None and family == colour

    # For every option the question names a value of (colour, size, flavour …), the variant must
    # have one of the named values: "black 32x32" is Black/32x32, not every black or every 32x32.
    named_by_option: dict[str, set[str]] = {}
    for variant in product.variants:
        for option, value in variant.options.items():
            if value_named(value):
                named_by_option.setdefault(option, set()).add(value)
    if not named_by_option:
        # "the big one", "小的那个": the extreme value of a size-like option.
        wanted = "big" if _BIG.search(question) else "small" if _SMALL.search(question) else None
        if wanted is not None:
            for option, values in option_values(product).items():
                sized = [(m, v) for v in values if (m := _magnitude(v)) is not None]
                if len(sized) >= 2 and len(sized) == len(values):
                    pick = max(sized) if wanted == "big" else min(sized)
                    named_by_option[option] = {pick[1]}
                    named.append(pick[1])
                    break
    matched = tuple(
        v
        for v in product.variants
        if named_by_option and all(v.options.get(o) in values for o, values in named_by_option.items())
    )
    # Other option values named literally ("原味", "500g", "Matcha").
    for variant in matched:
        for value in variant.options.values():
            if value not in named and len(value) >= 2 and value.lower() in lowered:
                named.append(value)
    missing: list[str] = []
    all_values = [val for v in product.variants for val in v.options.values()]
    for size in sizes:
        known = any(_is_size_value(val) for val in all_values)
        if known and all(_size_key(val) != size for val in all_values):
            missing.append(size)
    value_measures = {k for val in all_values for k in measure_keys(val)}
    if asked_measures and value_measures and not named_by_option:
        # Only a measure every value of an option is named by ("1.5m床", "2.0m床") can be missing; "20斤的宝宝"
        # against "M码(6-11kg)" is the shopper's own weight, not an option.
        kinds = {
            kind
            for values in option_values(product).values()
            for kind in ("len", "count", "vol")
            if all(any(k.startswith(kind + ":") for k in measure_keys(v)) for v in values)
        }
        for key in sorted(asked_measures):
            if key.split(":")[0] in kinds and key not in value_measures:
                missing.append(_measure_text(key, question))
    has_colours = any(_value_family(val) for val in all_values)
    if colour is not None and has_colours and not any(_value_family(val) == colour for val in all_values):
        missing.append(colour)
    return VariantQuery(matched, tuple(missing), tuple(named))


def _measure_text(key: str, question: str) -> str:
    """How the question wrote the measure `key` ("2.2米" for len:220)."""
    text = arabic_numbers(question)
    for pattern in (_LENGTH, _COUNT):
        for match in pattern.finditer(text):
            if key in measure_keys(match.group(0)):
                return match.group(0).strip()
    kind, number = key.split(":")
    return f"{number}{ {'len': 'cm', 'mass': 'g', 'vol': 'ml', 'count': ''}[kind] }".strip()


def option_values(product: Product) -> dict[str, list[str]]:
    """Option name → distinct values, in catalog order (e.g. {"尺码": ["S", "M", "L"]})."""
    values: dict[str, list[str]] = {}
    for variant in product.variants:
        for name, value in variant.options.items():
            bucket = values.setdefault(name, [])
            if value not in bucket:
                bucket.append(value)
    return values


def available_values(product: Product) -> dict[str, list[str]]:
    """Like `option_values`, keeping only values with at least one variant in stock (or stock unknown)."""
    values: dict[str, list[str]] = {}
    for variant in product.variants:
        if variant.stock is not None and variant.stock <= 0:
            continue
        for name, value in variant.options.items():
            bucket = values.setdefault(name, [])
            if value not in bucket:
                bucket.append(value)
    return values


# Natural names for option keys, by language ("size" in a Chinese answer is 尺码; "颜色" in an English one colour).
_LABELS: list[tuple[re.Pattern[str], dict[str, str]]] = [
    (re.compile(r"颜色|色号|色系|colou?rs?|shades?", re.I), {"zh": "颜色", "en": "colour"}),
    (re.compile(r"口味|味道|flavou?rs?|tastes?", re.I), {"zh": "口味", "en": "flavour"}),
    (re.compile(r"尺码|码数|鞋码|码|sizes?", re.I), {"zh": "尺码", "en": "size"}),
    (re.compile(r"尺寸|大小|dimensions?|length|长度", re.I), {"zh": "尺寸", "en": "size"}),
    (re.compile(r"容量|capacity|volume", re.I), {"zh": "容量", "en": "capacity"}),
    (re.compile(r"重量|净含量|克重|weight", re.I), {"zh": "重量", "en": "weight"}),
    (re.compile(r"数量|件数|装数|包装|pack|count|quantity|qty", re.I), {"zh": "包装", "en": "pack"}),
    (
        re.compile(r"款式|版本|型号|规格|style|model|version|type|options?|variants?", re.I),
        {"zh": "款式", "en": "style"},
    ),
]


def option_label(key: str, lang: str) -> str:
    """A natural name for an option key in the answer's language ("size" → 尺码, "颜色" → colour)."""
    lang = "zh" if lang == "zh" else "en"
    for pattern, names in _LABELS:
        if pattern.search(key):
            return names[lang]
    has_cjk = bool(re.search(r"[\u4e00-\u9fff]", key))
    if (lang == "zh") == has_cjk:
        return key.strip() if has_cjk else key.strip().lower()
    return "规格" if lang == "zh" else "option"


def value_states(product: Product) -> dict[str, list[tuple[str, str, int | None]]]:
    """Option key → [(value, state, count)] for every value, in catalog order; state is "in_stock", "low",
    "sold_out", "some_sold_out" (sold out in some combinations only) or "unknown"; count is the total
    stock of a low value; "mixed" when its combinations differ (some low, some plenty)."""
    out: dict[str, list[tuple[str, str, int | None]]] = {}
    for key, values in option_values(product).items():
        rows: list[tuple[str, str, int | None]] = []
        for value in values:
            stocks = [v.stock for v in product.variants if v.options.get(key) == value]
            known = [s for s in stocks if s is not None]
            if not known:
                rows.append((value, "unknown", None))
            elif all(s <= 0 for s in known):
                rows.append((value, "sold_out", 0))
            elif any(s <= 0 for s in known) or len({stock_state(s) for s in known}) > 1:
                rows.append((value, "some_sold_out" if any(s <= 0 for s in known) else "mixed", None))
            elif len(known) == 1 and stock_state(known[0]) == "low":
                rows.append((value, "low", known[0]))
            else:
                rows.append((value, "in_stock", None))
        out[key] = rows
    return out


def asked_options(product: Product, question: str) -> list[str]:
    """The option keys a question asks about by kind ("有几种尺码" → the size option; "what colours" →
    the colour option); [] when it names none of the product's option kinds."""
    wanted = [names["en"] for pattern, names in _LABELS if pattern.search(question)]
    keys = list(option_values(product))
    return [k for k in keys if option_label(k, "en") in wanted or k.lower() in question.lower()]
