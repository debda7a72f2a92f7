"""Streaming an answer through the guard, sentence by sentence.

A streaming writer (the LLM writer) yields tokens; they are gathered into sentences and each finished
sentence is released to the shopper only after it passes the guard (numbers grounded in the evidence,
compliance wording enforced, PII redacted on a live channel). A sentence with an unsupported number
stops the model: what was sent is replaced by the template writer's guarded answer. A writer error or
timeout does the same, or — when nothing was sent yet — simply streams the template answer.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from agent.guard import GuardResult, guard
from agent.writers.base import Draft, WriteRequest

if TYPE_CHECKING:
    from agent.pipeline import AnswerPipeline, AnswerResult, PreparedAnswer

_STREAM_BREAK = re.compile(r"(?<=[。！？!?；;])|(?<=[.])\s+")
_SENTENCE_END = ("。", "！", "？", "!", "?", "；", ";")


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One event of a streamed answer.

    kind "delta": the next piece of already-guarded text; "replace": discard what was streamed and
    show `text` instead (a later piece failed the guard); "done": the final `result`.
    """

    kind: Literal["delta", "replace", "done"]
    text: str = ""
    result: AnswerResult | None = None


def split_for_stream(text: str) -> list[str]:
    """Sentence-sized pieces of `text` that concatenate back to it exactly."""
    pieces: list[str] = []
    start = 0
    for match in _STREAM_BREAK.finditer(text):
        end = match.end()
        if end > start:
            pieces.append(text[start:end])
            start = end
    if start < len(text):
        pieces.append(text[start:])
    return [p for p in pieces if p]


class SentenceBuffer:
    """Gathers streamed text and hands out each sentence once it is complete.

    A sentence is complete at Chinese or hard punctuation (。！？!?；;), or at a full stop followed by
    whitespace, so the "." of "¥159.00" never ends one.
    """

    def __init__(self) -> None:
        self._pending = ""

    def feed(self, text: str) -> list[str]:
        """Add `text`; return the sentences it completed, in order."""
        self._pending += text
        pieces = split_for_stream(self._pending)
        if not pieces:
            return []
        done = pieces[:-1]
        last = pieces[-1]
        if last.endswith(_SENTENCE_END):
            done.append(last)
            last = ""
        self._pending = last
        return done

    def flush(self) -> str:
        """What is left after the stream ended (a last sentence without final punctuation)."""
        rest, self._pending = self._pending, ""
        return rest


@runtime_checkable
class DraftsFromText(Protocol):
    """A writer that can turn streamed text back into a full draft (citations, confidence)."""

    def draft(self, request: WriteRequest, text: str) -> Draft: ...


async def stream_answer(pipeline: AnswerPipeline, prepared: PreparedAnswer) -> AsyncIterator[StreamEvent]:
    """Stream the prepared product question's answer from `prepared.writer` through the guard."""
    request, writer = prepared.request, prepared.writer
    if request is None or writer is None:
        raise ValueError("stream_answer needs a prepared answer with a write request and a writer")
    result, timer, channel = prepared.result, prepared.timer, prepared.channel
    evidence = request.evidence
    buffer = SentenceBuffer()
    sent: list[str] = []
    model_text: list[str] = []
    findings: list[dict[str, Any]] = []
    unsupported: list[str] = []
    failed = False

    def check(sentence: str) -> GuardResult:
        with timer.stage("guard"):
            return guard(sentence, evidence, channel=channel, language=result.language)

    def release(sentence: str, checked: GuardResult) -> str:
        """The guarded sentence with the model's spacing around it (empty when it was dropped)."""
        model_text.append(sentence)
        findings.extend(checked.findings)
        body = checked.text.strip()
        if not body:
            return ""
        lead = sentence[: len(sentence) - len(sentence.lstrip())] if sent else ""
        trail = sentence[len(sentence.rstrip()) :]
        piece = lead + body + trail
        sent.append(piece)
        return piece

    tokens = writer.stream(request).__aiter__()
    try:
        while not failed:
            try:
                with timer.stage("write"):
                    token = await anext(tokens)
            except StopAsyncIteration:
                break
            except Exception:  # timeout or model error: the template writer answers instead
                failed = True
                break
            for sentence in buffer.feed(token):
                checked = check(sentence)
                if not checked.grounded:
                    unsupported = checked.unsupported_numbers
                    failed = True
                    break
                piece = release(sentence, checked)
                if piece:
                    yield StreamEvent("delta", piece)
    finally:
        closer = getattr(tokens, "aclose", None)
        if closer is not None:
            await closer()
    if not failed:
        tail = buffer.flush()
        if tail.strip():
            checked = check(tail)
            if checked.grounded:
                piece = release(tail, checked)
                if piece:
                    yield StreamEvent("delta", piece)
            else:
                unsupported = checked.unsupported_numbers
                failed = True
    answer = "".join(sent)
    if failed or not answer.strip():
        already_sent = bool(sent)
        result.grounding_failures = list(unsupported)
        fallback = pipeline.fallback.compose(request)
        fallback.writer = pipeline.fallback.name
        pipeline.finish(result, fallback, evidence, channel, timer, request=request)
        if already_sent:
            yield StreamEvent("replace", result.answer)
        else:
            for piece in split_for_stream(result.answer):
                yield StreamEvent("delta", piece)
    else:
        draft = (
            writer.draft(request, "".join(model_text))
            if isinstance(writer, DraftsFromText)
            else Draft(text=answer, confidence=0.6, clarify=bool(request.candidates), writer=writer.name)
        )
        result.answer = answer
        result.citations = draft.citations
        result.confidence = draft.confidence
        result.refused = draft.refused
        result.clarify = draft.clarify
        result.writer = writer.name
        result.findings = findings
    yield StreamEvent("done", result=pipeline.complete(prepared))
