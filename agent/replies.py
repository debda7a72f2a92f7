"""Fixed replies: greetings, chit-chat, hand-off notices, and the "not found" lines, in both languages."""

from __future__ import annotations

_AFTER_SALES_LABELS: dict[str, tuple[str, str]] = {
    "refund": ("退款", "refund"),
    "return": ("退货", "return"),
    "exchange": ("换货", "exchange"),
    "damaged": ("商品破损、错发或少件", "damaged, wrong or missing item"),
    "delivery": ("物流", "delivery"),
    "order_change": ("订单修改", "order change"),
    "invoice": ("发票", "invoice"),
    "complaint": ("投诉", "complaint"),
    "payment": ("支付", "payment"),
    "account": ("账号", "account"),
}


def after_sales_label(category: str | None, lang: str) -> str:
    zh, en = _AFTER_SALES_LABELS.get(category or "", ("售后", "after-sales"))
    return zh if lang == "zh" else en


def greeting(lang: str, channel: str) -> str:
    if lang == "zh":
        return (
            "您好，欢迎来到直播间！想了解哪款商品，直接问我就好。"
            if channel == "live"
            else "您好，请问有什么可以帮您？"
        )
    return "Hi, welcome! Ask me about any product." if channel == "live" else "Hi! How can I help you today?"


def chitchat(lang: str, channel: str, signals: tuple[str, ...] = ()) -> str:
    if "intent_to_buy" in signals:
        return (
            "感谢支持，喜欢的话直接拍下就可以啦！"
            if lang == "zh"
            else "Thanks! You can order it straight from the shopping bag."
        )
    if lang == "zh":
        return "谢谢支持！有商品相关的问题随时问我哦。"
    return "Thanks for being here! Ask me anything about our products."


def other(lang: str, channel: str) -> str:
    if lang == "zh":
        return "这个我帮不上忙哦，商品、价格、发货和售后的问题都可以问我。"
    return "I can't help with that one, but I can answer questions about our products, prices, shipping and after-sales."


def handoff(lang: str, channel: str, category: str | None, ticket_id: str | None) -> str:
    """The customer is told a person will follow up; on a public channel nothing private is said."""
    if category == "handoff":
        return _person_requested(lang, channel, ticket_id)
    label = after_sales_label(category, lang)
    if channel == "live":
        if lang == "zh":
            return f"关于{label}的问题，请点击私信联系店铺客服，会有专人一对一帮您处理。"
        return f"For {label} questions, please message our customer service privately; a person will take care of you."
    if lang == "zh":
        ref = f"（工单号{ticket_id}）" if ticket_id else ""
        return f"已经为您转接人工客服{ref}，关于{label}的问题会有专人尽快跟进处理，请稍候。"
    ref = f" (ticket {ticket_id})" if ticket_id else ""
    return f"I've passed this to a person on our team{ref}. Someone will follow up on your {label} request shortly."


def unknown_link(lang: str, number: int) -> str:
    if lang == "zh":
        return f"没有找到{number}号链接哦，可以告诉我商品名称，我帮您查。"
    return f"I can't find link {number}. Tell me the product name and I'll look it up."


def not_found(lang: str, channel: str) -> str:
    if lang == "zh":
        text = "抱歉，店里没有找到您说的这款商品，能再描述一下名称或特点吗？"
        if channel == "chat":
            text += "也可以转人工客服帮您确认。"
        return text
    text = "Sorry, I couldn't find that product in our shop. Could you describe it a little more?"
    if channel == "chat":
        text += " I can also pass you to a person on our team."
    return text


def no_absolute_claims(lang: str) -> str:
    if lang == "zh":
        return "这类说法我们不做承诺哦。想了解哪款商品的价格和优惠，告诉我商品名或链接号，我给您说实际信息。"
    return "We don't make absolute claims like that. Tell me which product you're interested in and I'll give you the facts."


def which_product(lang: str) -> str:
    if lang == "zh":
        return "您想了解哪款商品呢？告诉我商品名称或链接号，我马上帮您查。"
    return "Which product would you like to know about? Tell me its name or link number."


def _person_requested(lang: str, channel: str, ticket_id: str | None) -> str:
    if channel == "live":
        if lang == "zh":
            return "需要人工的朋友请点击私信联系店铺客服，会有专人一对一回复您。"
        return "If you'd like a person, please message our customer service privately; someone will reply to you."
    if lang == "zh":
        ref = f"（工单号{ticket_id}）" if ticket_id else ""
        return f"好的，已为您转接人工客服{ref}，请稍候，会有专人尽快回复您。"
    ref = f" (ticket {ticket_id})" if ticket_id else ""
    return f"Sure, I've passed you to a person on our team{ref}. Someone will reply to you here shortly."


def bot_identity(lang: str, channel: str) -> str:
    """An honest answer to "are you a bot?", and how to reach a person."""
    if lang == "zh":
        if channel == "live":
            return "我是店铺的AI助手，商品和价格的问题都可以问我；需要人工的话请私信店铺客服。"
        return "我是店铺的AI客服助手，商品、价格、发货的问题都可以问我；需要人工的话，回复“人工”就为您转接。"
    if channel == "live":
        return "I'm the shop's AI assistant. Ask me about any product; for a person, message our customer service privately."
    return (
        "I'm the shop's AI assistant. I can answer questions about products, prices and shipping; "
        "if you'd like a person, just say \"agent\" and I'll pass you to our team."
    )


def clarify_after_sales(lang: str) -> str:
    """The one question asked when a message could be a product question or an order's problem."""
    if lang == "zh":
        return "您是想咨询商品，还是订单的售后问题？"
    return "Is this about a product, or an order you already placed?"
