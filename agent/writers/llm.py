"""The LLM writer: a LangChain chat model over any OpenAI-compatible endpoint, shown only the evidence.

It streams tokens as the model produces them. Two deadlines bound every call: the first token must
arrive within `first_token_timeout`, the whole answer within `timeout`. Missing either, or any error
from the model or the wire, raises `LLMWriterError`; the pipeline then answers with the template writer.
The guard still checks every number the model writes (agent.guard), so the model can word an answer
but never change a fact.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from agent.writers.base import Draft, Writer, WriteRequest
from agent.writers.prompt import build_messages, evidence_citations

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessageChunk

#: Placeholder key for OpenAI-compatible servers that need none (the client insists on some key).
NO_KEY = "not-needed"

_REFUSAL_MARKERS = (
    "不知道",
    "没有查到",
    "没有找到",
    "不确定",
    "无法确认",
    "don't know",
    "do not know",
    "not sure",
)


class LLMWriterError(RuntimeError):
    """The model did not deliver an answer in time, or the call failed."""


class LLMWriter(Writer):
    """Writes an answer with a chat model from the evidence-only prompt (`agent.writers.prompt`).

    Args:
        chat_model: Any LangChain chat model; `from_settings` builds ``ChatOpenAI``.
        timeout: Seconds for the whole answer.
        first_token_timeout: Seconds until the first text token.
    """

    name = "llm"

    def __init__(
        self, chat_model: BaseChatModel, *, timeout: float = 8.0, first_token_timeout: float = 4.0
    ) -> None:
        if timeout <= 0 or first_token_timeout <= 0:
            raise ValueError(
                f"LLM writer timeouts must be positive (timeout={timeout}, first_token_timeout={first_token_timeout})"
            )
        self.chat_model = chat_model
        self.timeout = timeout
        self.first_token_timeout = min(first_token_timeout, timeout)

    @classmethod
    def from_settings(
        cls,
        *,
        base_url: str | None,
        model: str = "gpt-4o-mini",
        api_key: SecretStr | str | None = None,
        timeout: float = 8.0,
        first_token_timeout: float = 4.0,
        temperature: float = 0.2,
        max_tokens: int = 300,
    ) -> LLMWriter:
        """A writer over ``langchain_openai.ChatOpenAI``; no network I/O until the first answer.

        The client makes no retries of its own: a failed call costs one attempt and then the template
        writer answers, which keeps the shopper's wait bounded by `timeout`.
        """
        chat_model = chat_openai(
            base_url=base_url,
            model=model,
            api_key=api_key,
            timeout=timeout,
            temperature=temperature,
            max_tokens=max_tokens,
            streaming=True,
        )
        return cls(chat_model, timeout=timeout, first_token_timeout=first_token_timeout)

    async def stream(self, request: WriteRequest) -> AsyncIterator[str]:
        """Text pieces as the model sends them, under the first-token and overall deadlines."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        deadline = start + self.timeout
        first_deadline = start + self.first_token_timeout
        chunks = self.chat_model.astream(build_messages(request))
        got_text = False
        try:
            while True:
                limit = deadline if got_text else first_deadline
                try:
                    async with asyncio.timeout_at(limit):
                        chunk = await anext(chunks)
                except StopAsyncIteration:
                    break
                except TimeoutError as exc:
                    what = "the answer" if got_text else "a first token"
                    seconds = self.timeout if got_text else self.first_token_timeout
                    raise LLMWriterError(f"LLM writer: no {what} within {seconds:g} s") from exc
                except Exception as exc:
                    raise LLMWriterError(
                        f"LLM writer: the model call failed: {type(exc).__name__}: {exc}"
                    ) from exc
                text = chunk_text(chunk)
                if text:
                    got_text = True
                    yield text
        finally:
            await _close(chunks)
        if not got_text:
            raise LLMWriterError("LLM writer: the model returned an empty answer")

    async def _write(self, request: WriteRequest) -> Draft:
        pieces = [piece async for piece in self.stream(request)]
        return self.draft(request, "".join(pieces))

    def draft(self, request: WriteRequest, text: str) -> Draft:
        """The draft for a model's `text`: citations are the evidence it was shown."""
        text = text.strip()
        refused = any(marker in text.lower() for marker in _REFUSAL_MARKERS)
        return Draft(
            text=text,
            citations=evidence_citations(request),
            confidence=0.4 if refused else 0.8,
            refused=refused,
            clarify=bool(request.candidates),
            writer=self.name,
        )


def chunk_text(chunk: BaseMessageChunk | Any) -> str:
    """The text of one streamed message chunk (string or content-block form)."""
    content = getattr(chunk, "content", "")
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content or ():
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str):
            parts.append(block["text"])
    return "".join(parts)


async def _close(chunks: AsyncIterator[Any]) -> None:
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        try:
            await aclose()
        except Exception:  # closing an already failed stream may raise again; the first error counts
            return


def chat_openai(
    *,
    base_url: str | None,
    model: str,
    api_key: SecretStr | str | None,
    timeout: float,
    temperature: float,
    max_tokens: int,
    streaming: bool,
) -> BaseChatModel:
    """``langchain_openai.ChatOpenAI`` for an OpenAI-compatible server: one attempt per call (no client
    retries, so a caller's wait stays bounded by ``timeout``), a placeholder key when none is given
    (local servers accept any). Builds the client only; no network I/O."""
    from langchain_openai import ChatOpenAI

    if isinstance(api_key, str):
        api_key = SecretStr(api_key)
    return ChatOpenAI(
        base_url=base_url,
        model=model,
        api_key=api_key or SecretStr(NO_KEY),
        timeout=timeout,
        max_retries=0,
        streaming=streaming,
        temperature=temperature,
        max_completion_tokens=max_tokens,
    )
