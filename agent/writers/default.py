"""The deterministic default writer: templates over facts plus the best catalog lines.

It answers in the question's language (a Chinese question about an English listing gets a Chinese
answer quoting the listing's values), states only what the evidence holds, and says so honestly when
the evidence does not answer the question.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from agent.evidence import Citation, Evidence, stock_state
from agent.variants import asked_options, available_values, option_label, value_states
from agent.writers.base import Draft, KindAnswer, Writer, WriteRequest
from agent.writers.lines import asks_something, best_policy_lines, best_product_lines
from agent.writers.matching import AspectMatch
from knowledge.aspect_vocab import packaged_vocabulary
from knowledge.models import Product, Variant
from knowledge.units import Conversion

_SYMBOL = {"CNY": "¥", "RMB": "¥", "USD": "$", "HKD": "HK$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def money(value: Decimal, currency: str) -> str:
    text = format(value.quantize(Decimal("0.01")), "f")
    if text.endswith(".00"):
        text = text[:-3]
    symbol = _SYMBOL.get(currency.upper())
    return f"{symbol}{text}" if symbol else f"{text} {currency}"


def _join(items: list[str], lang: str) -> str:
    if lang == "zh":
        return "、".join(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


class TemplateWriter(Writer):
    """Answers built from templates; the default, always available, offline and fast."""

    name = "default"

    async def _write(self, request: WriteRequest) -> Draft:
        return self.compose(request)

    def compose(self, request: WriteRequest) -> Draft:
        """Synchronous form of `write`, for callers without an event loop."""
        lang = "zh" if request.language == "zh" else "en"
        ev = request.evidence
        if request.candidates:
            return _clarify(request.candidates, lang)
        product = ev.product
        aspects = request.aspects
        parts: list[str] = []
        cites: list[Citation] = []
        unanswered = False
        hedged = False

        if product is not None:
            name = _name(product, request, lang)
            if "price" in aspects and not ev.asked_variants:
                parts.append(_price(product, lang, name))
                cites.append(Citation(sku=product.sku, field="price"))
            if "variants" in aspects or ev.asked_variants or ev.missing_options:
                parts.append(_variants(product, ev, lang, name, request.question))
                cites.append(Citation(sku=product.sku, field="variants"))
            elif "stock" in aspects:
                parts.append(_stock(product, lang, name))
                cites.append(Citation(sku=product.sku, field="stock"))
            match: AspectMatch | None = ev.match
            if ev.efficacy:
                parts.append(_no_efficacy(product, lang, name))
                cites.append(Citation(sku=product.sku, field="category"))
                if product.selling_points:
                    parts.append(_listing_says(product.selling_points[0], lang))
                    cites.append(Citation(sku=product.sku, field="selling_points"))
            elif ("spec" in aspects or "general" in aspects) and match is not None:
                best = match.best
                if best is not None and match.verdict == "answer":
                    parts.append(_spec(best.text, lang, ev.conversions))
                    cites.append(best.citation)
                elif "general" in aspects and not parts and not asks_something(request.question, product):
                    parts.append(_summary(product, lang))
                    cites.append(Citation(sku=product.sku, field="selling_points"))
                elif request.kind is not None and not parts:
                    parts.append(_kind(product, lang, name, request.kind))
                    cites.append(Citation(sku=product.sku, field="category"))
                elif best is not None and match.verdict == "unsure" and match.names_asked:
                    # The line's own key names the asked aspect ("适用肤质" for "油皮能用吗"): the listing
                    # does speak to it; what it says is given as the listing's words, not as a verdict.
                    parts.append(_on_aspect(best.text, _labels(match.asked, lang), lang))
                    cites.append(best.citation)
                elif best is not None and match.verdict == "unsure":
                    parts.append(_nearest(best.text, _labels(match.asked, lang), lang))
                    cites.append(best.citation)
                    hedged = True
                elif parts:
                    unanswered = True
                else:
                    return _not_stated(request, _labels(match.asked, lang), lang)
            elif "spec" in aspects or "general" in aspects:
                lines = best_product_lines(request.question, product, ev.passages)
                if lines:
                    parts.append(_spec(lines[0].text, lang))
                    cites.append(lines[0].citation)
                elif "general" in aspects and not parts and not asks_something(request.question, product):
                    parts.append(_summary(product, lang))
                    cites.append(Citation(sku=product.sku, field="selling_points"))
                elif request.kind is not None and not parts:
                    parts.append(_kind(product, lang, name, request.kind))
                    cites.append(Citation(sku=product.sku, field="category"))
                else:
                    unanswered = True
        if aspects.policy:
            lines = best_policy_lines(request.question, ev.policies, language=lang)
            if lines:
                parts.append(_policy(lines[0].text, lines[0].citation, lang))
                cites.append(lines[0].citation)
            elif not parts:
                unanswered = True

        if request.claim_question:
            parts.insert(0, _no_absolute_claims(lang))
        if not parts:
            return _refuse(request, lang)
        text = "".join(parts) if lang == "zh" else " ".join(parts)
        if unanswered:
            text += _partial_refusal(lang)
        confidence = 0.5 if hedged else 0.9 if not unanswered else 0.6
        return Draft(
            text=text, citations=_unique(cites), confidence=confidence, refused=hedged and len(parts) == 1
        )

    def compose_products(
        self, products: list[Product], route: str, lang: str, *, links: Mapping[str, int] | None = None
    ) -> Draft:
        """A recommendation or comparison over store facts: price, stock and one selling point each.

        ``links``: a live room's link numbers by sku; a product the room shows is named by its link.
        """
        lines: list[str] = []
        cites: list[Citation] = []
        for product in products[:3]:
            price = "" if product.price is None else money(product.price, product.currency)
            point = product.selling_points[0].rstrip("。.") if product.selling_points else ""
            state = stock_state(product.total_stock())
            link = (links or {}).get(product.sku)
            if lang == "zh":
                line = f"{link}号链接" if link is not None else f"「{product.title}」"
                line += f"{price}" if price else ""
                line += f"，{point}" if point else ""
                line += "（库存紧张）" if state == "low" else ""
            else:
                line = f"link {link}" if link is not None else f'"{product.title}"'
                line += f" at {price}" if price else ""
                line += f": {point}" if point else ""
                line += " (low stock)" if state == "low" else ""
            lines.append(line)
            cites.append(Citation(sku=product.sku, field="selling_points"))
            if product.price is not None:
                cites.append(Citation(sku=product.sku, field="price"))
        if route == "comparison":
            text = (
                "两款各有侧重：" + "；".join(lines) + "。看您更看重哪一点，我再帮您细说。"
                if lang == "zh"
                else "Here is how they differ: " + "; ".join(lines) + ". Tell me what matters most to you."
            )
        else:
            lead = (
                ("可以看看这款：" if len(lines) == 1 else "可以看看这几款：")
                if lang == "zh"
                else "You might like: "
            )
            text = lead + ("；".join(lines) + "。" if lang == "zh" else "; ".join(lines) + ".")
        return Draft(text=text, citations=cites, confidence=0.75)


def _unique(cites: list[Citation]) -> list[Citation]:
    seen: list[Citation] = []
    for c in cites:
        if c not in seen:
            seen.append(c)
    return seen


def _name(product: Product, request: WriteRequest, lang: str) -> str:
    """How an answer names its product: by its link number in a live room ("2号链接", "link 2": what the
    host says and the viewer sees in the shopping bag, instead of reading out a long title), else by its
    title."""
    if request.channel == "live" and request.link is not None:
        return f"{request.link}号链接" if lang == "zh" else f"product on link {request.link}"
    return product.title


def _price(product: Product, lang: str, name: str) -> str:
    if product.price is None:
        return (
            f"{name}的价格商品页暂未标注，以下单页面显示为准。"
            if lang == "zh"
            else f"The price of the {name} is not listed yet; the checkout page shows the current price."
        )
    now = money(product.price, product.currency)
    promo = product.list_price is not None and product.list_price > product.price
    variant_prices = sorted({v.price for v in product.variants if v.price is not None})
    if lang == "zh":
        text = f"{name}现在的价格是{now}"
        if promo and product.list_price is not None:
            text += f"（原价{money(product.list_price, product.currency)}）"
        if len(variant_prices) > 1:
            low, high = variant_prices[0], variant_prices[-1]
            text += f"，不同规格{money(low, product.currency)}到{money(high, product.currency)}不等"
        return text + "。"
    text = f"The {name} is {now}"
    if promo and product.list_price is not None:
        text += f" (regular price {money(product.list_price, product.currency)})"
    if len(variant_prices) > 1:
        low, high = variant_prices[0], variant_prices[-1]
        text += f"; options range from {money(low, product.currency)} to {money(high, product.currency)}"
    return text + "."


def _stock_phrase(stock: int | None, lang: str) -> str:
    state = stock_state(stock)
    if lang == "zh":
        return {
            "in_stock": "有货",
            "low": f"库存紧张，仅剩{stock}件",
            "sold_out": "已经售罄了",
            "unknown": "库存以下单页面为准",
        }[state]
    return {
        "in_stock": "in stock",
        "low": f"low in stock (only {stock} left)",
        "sold_out": "sold out",
        "unknown": "shown on the checkout page (stock is not listed here)",
    }[state]


def _stock(product: Product, lang: str, name: str) -> str:
    phrase = _stock_phrase(product.total_stock(), lang)
    if lang == "zh":
        return f"{name}目前{phrase}。"
    return f"The {name} is {phrase}." if "checkout" not in phrase else f"Stock for the {name} is {phrase}."


def _variant_label(variant: Variant, lang: str) -> str:
    values = list(variant.options.values())
    return ("/".join(values) if lang == "zh" else " / ".join(values)) or variant.sku


def _value_state(value: str, state: str, count: int | None, lang: str) -> str:
    if lang == "zh":
        said = {
            "in_stock": "有货",
            "low": f"仅剩{count}件",
            "sold_out": "已售罄",
            "some_sold_out": "部分已售罄",
            "mixed": "有货（部分规格库存紧张）",
            "unknown": "",
        }[state]
        return f"{value}{said}"
    said = {
        "in_stock": "in stock",
        "low": f"only {count} left",
        "sold_out": "sold out",
        "some_sold_out": "sold out in some combinations",
        "mixed": "in stock, low in some combinations",
        "unknown": "",
    }[state]
    return f"{value} ({said})" if said else value


def _every_option(product: Product, lang: str, only: Sequence[str] = ()) -> str:
    """Every option value with its state, one clause each, under natural labels ("尺码：S有货；XL已售罄。颜色：…").

    A value sold out in some combinations only is given per combination ("粉色/XL已售罄；粉色/M有货"), so no
    clause says "in stock" of something that is not.
    """
    groups: list[str] = []
    per_combination = len(product.variants) <= 16
    for key, rows in value_states(product).items():
        if only and key not in only:
            continue
        label = option_label(key, lang)
        listed: list[str] = []
        for value, state, count in rows:
            if state in ("some_sold_out", "mixed") and per_combination:
                for variant in product.variants:
                    if variant.options.get(key) == value:
                        listed.append(_variant_clause(variant, lang))
            else:
                listed.append(_value_state(value, state, count, lang))
        if lang == "zh":
            groups.append(f"{label}：" + "；".join(listed))
        else:
            groups.append(f"{label.capitalize()}{'s' if len(rows) > 1 else ''}: " + "; ".join(listed))
    return "。".join(groups) if lang == "zh" else ". ".join(groups)


def _variant_clause(variant: Variant, lang: str) -> str:
    label = _variant_label(variant, lang)
    phrase = _stock_phrase(variant.stock, lang)
    return f"{label}{phrase}" if lang == "zh" else f"{label}: {phrase}"


def _variants(product: Product, ev: Evidence, lang: str, name: str, question: str = "") -> str:
    asked = asked_options(product, question)
    if not product.variants:
        if lang == "zh":
            return f"{name}只有一个规格，目前{_stock_phrase(product.total_stock(), lang)}。"
        return f"The {name} comes in a single version; it is {_stock_phrase(product.total_stock(), lang)}."
    available = available_values(product)
    out: list[str] = []
    if ev.missing_options:
        missing = _join(list(ev.missing_options), lang)
        out.append(
            f"{name}没有{missing}这个规格。{_every_option(product, lang)}。"
            if lang == "zh"
            else f"The {name} does not come in {missing}. {_every_option(product, lang)}."
        )
    if ev.asked_variants:
        for variant in ev.asked_variants[:4]:
            label = _variant_label(variant, lang)
            phrase = _stock_phrase(variant.stock, lang)
            price = (
                f"，{money(variant.price, product.currency)}"
                if variant.price is not None and lang == "zh"
                else ""
            )
            price_en = f" at {money(variant.price, product.currency)}" if variant.price is not None else ""
            out.append(f"{label}{phrase}{price}。" if lang == "zh" else f"{label} is {phrase}{price_en}.")
        if len(ev.asked_variants) > 4:
            more = len(ev.asked_variants) - 4
            out.append(
                f"另有{more}个组合，可以告诉我具体规格。"
                if lang == "zh"
                else f"{more} more combinations; tell me which one."
            )
        if all((v.stock is not None and v.stock <= 0) for v in ev.asked_variants) and available:
            others = "；".join(f"{option_label(k, lang)}：{'、'.join(v)}" for k, v in available.items())
            others_en = "; ".join(f"{option_label(k, lang)}: {', '.join(v)}" for k, v in available.items())
            out.append(f"目前还有货的有{others}。" if lang == "zh" else f"Still available: {others_en}.")
    elif not ev.missing_options:
        if available:
            out.append(
                f"{name}的规格如下。{_every_option(product, lang, asked)}。"
                if lang == "zh"
                else f"The {name} comes in these options. {_every_option(product, lang, asked)}."
            )
        else:
            out.append(
                f"{name}所有规格都已售罄。" if lang == "zh" else f"Every option of the {name} is sold out."
            )
    return "".join(out) if lang == "zh" else " ".join(out)


def _spec(line: str, lang: str, conversions: Sequence[Conversion] = ()) -> str:
    line = line.rstrip("。.；; ")
    converted = (
        "；".join(c.text(lang) for c in conversions)
        if lang == "zh"
        else "; ".join(c.text(lang) for c in conversions)
    )
    if lang == "zh":
        return f"根据商品信息：{line}" + (f"（{converted}）" if converted else "") + "。"
    return f"From the product details: {line}" + (f" ({converted})" if converted else "") + "."


def _labels(aspects: tuple[str, ...], lang: str) -> str:
    vocab = packaged_vocabulary()
    names = [vocab.label(a, lang) for a in aspects[:2]]
    return _join(names, lang) if names else ""


def _on_aspect(line: str, asked: str, lang: str) -> str:
    """What the listing says under the asked aspect's own key, quoted as the listing's words."""
    line = line.rstrip("。.；; ")
    if lang == "zh":
        return f"关于{asked or '这一点'}，商品资料里写的是：{line}。"
    return f"On {asked or 'that'}, the listing says: {line}."


def _nearest(line: str, asked: str, lang: str) -> str:
    """The margin rule: the nearest line, said to be only the nearest."""
    line = line.rstrip("。.；; ")
    if lang == "zh":
        what = f"{asked}" if asked else "您问的这一点"
        return f"商品资料里没有直接写{what}，最接近的信息是：{line}。不确定是否就是您想问的，需要的话可以帮您转人工确认。"
    what = f"the {asked}" if asked else "exactly that"
    return (
        f"The listing doesn't state {what} directly; the nearest detail is: {line}. "
        "I'm not sure that is what you asked, so I can pass it to a person on our team if you like."
    )


def _not_stated(request: WriteRequest, asked: str, lang: str) -> Draft:
    """Honest absence: the listing does not state the asked aspect; no other fact stands in for it."""
    offer = request.channel == "chat"
    if lang == "zh":
        text = f"商品资料里没有写{asked or '这一点'}，我不能乱说哦。"
        if offer:
            text += "需要的话我可以帮您转人工客服确认。"
    else:
        text = f"The listing doesn't state {('the ' + asked) if asked else 'that'}, so I won't guess."
        if offer:
            text += " I can pass your question to a person on our team if you like."
    return Draft(text=text, confidence=0.2, refused=True)


def _no_efficacy(product: Product, lang: str, name: str) -> str:
    """A medical or efficacy question: the product makes no such claim and is not a medicine."""
    if lang == "zh":
        return f"{name}是普通商品，不是药品，商品资料里没有这类功效的说明，我们也不做这样的承诺；有皮肤或健康问题请咨询医生。"
    return (
        f"The {name} is not a medicine: the listing makes no such claim and we don't promise that result; "
        "it is no substitute for treatment, so please ask a doctor about a health or skin condition."
    )


def _listing_says(line: str, lang: str) -> str:
    line = line.rstrip("。.；; ")
    return f"商品资料里写的是：{line}。" if lang == "zh" else f"What the listing does say: {line}."


def _policy(line: str, citation: Citation, lang: str) -> str:
    line = line.rstrip("。.；; ")
    where = citation.heading or citation.document or ""
    if lang == "zh":
        return f"根据店铺的{where}说明：{line}。" if where else f"根据店铺政策：{line}。"
    return f"Per our {where} policy: {line}." if where else f"Per our shop policy: {line}."


def _kind(product: Product, lang: str, name: str, asked: KindAnswer) -> str:
    """Whether the product is the kind asked about, from its title and category ("2号链接是暖禾轻薄羽绒服，
    不是防晒哦。")."""
    what = product.title
    if lang == "zh":
        subject = name if name != product.title else "这款"
        if asked.matches:
            return f"是的，{subject}是{what}。"
        return f"{subject}是{what}，不是{asked.kind}哦。"
    subject = f"the {name}" if name != product.title else "this one"
    if asked.matches:
        return f"Yes, {subject} is the {what}."
    return f"No, {subject} is the {what}, not a {asked.kind}."


def _summary(product: Product, lang: str) -> str:
    name = product.title  # what the product is: its full title, in a live room too
    points = product.selling_points[:2]
    if lang == "zh":
        text = f"{name}"
        if points:
            text += "：" + "；".join(p.rstrip("。") for p in points)
        return text + "。"
    text = f"The {name}"
    if points:
        text += ": " + "; ".join(p.rstrip(".") for p in points)
    return text + "."


def _clarify(candidates: tuple[Product, ...], lang: str) -> Draft:
    names = [p.title for p in candidates[:4]]
    if lang == "zh":
        text = "您问的是哪一款呢？" + "、".join(f"「{n}」" for n in names) + "，告诉我商品名或链接号就好。"
    else:
        text = (
            "Which one do you mean: " + _join([f'"{n}"' for n in names], "en").replace(" and ", " or ") + "?"
        )
    return Draft(
        text=text,
        citations=[Citation(sku=p.sku, field="title") for p in candidates[:4]],
        confidence=0.5,
        clarify=True,
    )


def _refuse(request: WriteRequest, lang: str) -> Draft:
    offer = request.channel == "chat"
    if lang == "zh":
        text = "这个问题我在商品资料里没有查到准确信息，不能乱说哦。"
        if offer:
            text += "需要的话我可以帮您转人工客服确认。"
    else:
        text = "I couldn't find that in our product information, so I won't guess."
        if offer:
            text += " I can pass your question to a person on our team if you like."
    return Draft(text=text, confidence=0.2, refused=True)


def _no_absolute_claims(lang: str) -> str:
    if lang == "zh":
        return "这类说法我们不做承诺哦，给您说说实际信息："
    return "We don't make absolute claims like that; here are the facts:"


def _partial_refusal(lang: str) -> str:
    if lang == "zh":
        return "其他细节商品资料里没有写，我就不乱说了。"
    return " The listing doesn't say more than that, so I won't guess."
