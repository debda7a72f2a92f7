"""An LLM rewrite of script lines, so a looping room sounds less like templates.

`LLMLineRewriter` is a `LineRewriter` for `ScriptBuilder`: it asks an OpenAI-compatible chat model
(``langchain_openai.ChatOpenAI``, the answer writer's settings) to say one template line the way a live
host would, from the product's facts only. The builder then runs the same guard as answers on the
rewrite — compliance, and grounding (a number the catalog does not hold drops the rewrite) — and keeps
the template line whenever the rewrite fails it, fails, or is empty.

A model that fails (error, timeout) is not asked again for ``cooldown_s``: a script of fifty lines must
not wait fifty timeouts. No network I/O happens until the first line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from pydantic import SecretStr

from agent.writers.llm import chat_openai
from knowledge.models import Product

log = logging.getLogger(__name__)

_RULES = {
    "zh": (
        "你是直播间主播的文案助手。把用户给出的一句话改写成主播口播的一句话：口语、自然、有感染力。"
        "规则：只用给出的商品信息；保留原句里的每一个数字和事实，不增加任何数字、功效、承诺或对比；"
        "不用“最”“第一”“100%”“国家级”等绝对化用语；只输出改写后的一句话，不超过40个字，不要引号和解释。"
    ),
    "en": (
        "You write lines for a live-stream shopping host. Rewrite the user's line as one spoken line: "
        "casual, natural, upbeat. Rules: use only the product facts given; keep every number and fact of "
        "the line and add none (no new numbers, effects, promises or comparisons); no absolute claims "
        "(best, No. 1, 100%, guaranteed); reply with the rewritten line only, at most 25 words, no quotes."
    ),
}


def _facts(product: Product, lang: str) -> str:
    lines = [f"title: {product.title}"]
    if product.price is not None:
        lines.append(f"price: {product.price} {product.currency}")
    if product.list_price is not None:
        lines.append(f"list price: {product.list_price} {product.currency}")
    lines += [f"selling point: {p}" for p in product.selling_points[:4]]
    head = "商品信息" if lang == "zh" else "Product facts"
    return head + ":\n" + "\n".join(lines)


class LLMLineRewriter:
    """Rewrites one script line through a chat model; None keeps the template line.

    Args:
        chat_model: any LangChain chat model (``invoke(messages)``); `from_settings` builds ``ChatOpenAI``.
        cooldown_s: after a failed call, lines are left as they are for this long.
        clock: monotonic seconds (tests).
    """

    def __init__(
        self, chat_model: Any, *, cooldown_s: float = 300.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.chat_model = chat_model
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._resting_until = float("-inf")
        self.calls = 0
        self.failures = 0

    @classmethod
    def from_settings(
        cls,
        *,
        base_url: str | None,
        model: str = "gpt-4o-mini",
        api_key: SecretStr | str | None = None,
        timeout: float = 8.0,
        temperature: float = 0.7,
        max_tokens: int = 120,
    ) -> LLMLineRewriter:
        """A rewriter over ``langchain_openai.ChatOpenAI`` (one attempt per line, no retries)."""
        chat_model = chat_openai(
            base_url=base_url,
            model=model,
            api_key=api_key,
            timeout=timeout,
            temperature=temperature,
            max_tokens=max_tokens,
            streaming=False,
        )
        return cls(chat_model)

    def __call__(self, line: str, lang: str, product: Product) -> str | None:
        if self._clock() < self._resting_until:
            return None
        rules = _RULES.get(lang, _RULES["en"])
        messages = [("system", rules), ("human", f"{_facts(product, lang)}\n\n{line}")]
        self.calls += 1
        try:
            reply = self.chat_model.invoke(messages)
        except Exception as exc:  # the provider's errors, timeouts, refusals: keep the template
            self.failures += 1
            self._resting_until = self._clock() + self.cooldown_s
            log.warning(
                "script rewrite failed (%s); template lines for the next %.0f s", exc, self.cooldown_s
            )
            return None
        text = str(getattr(reply, "content", "") or "").strip().strip("\"'“”「」")
        return text or None
