"""`anchor ask` and `anchor chat`: put questions to the answer pipeline from the terminal.

Both run the pipeline in-process (no server needed) on the merchant's catalog, exactly as the chat
API would answer: same routing, evidence, guard, hand-off and conversation memory.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from rich.console import Console

from agent.conversations import Channel, ConversationError, check_conversation_id
from agent.pipeline import AnswerResult, MessageTooLongError
from api.cli.app import app
from api.services import InvalidMerchantError, Services, check_merchant_id
from api.settings import Settings

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

CHANNELS = ("chat", "live")
QUIT_WORDS = ("/quit", "/exit")

MerchantOpt = Annotated[
    str | None, typer.Option("--merchant", "-m", help="Merchant id (default: ANCHOR_DEFAULT_MERCHANT)")
]
ChannelOpt = Annotated[
    str, typer.Option("--channel", "-c", help="'chat' (private shop chat) or 'live' (public live room)")
]


@dataclass(frozen=True, slots=True)
class Question:
    """One question of a batch: where it came from and how to ask it."""

    line: int
    text: str
    channel: Channel
    conversation_id: str
    focus_sku: str | None = None


class LineError(ValueError):
    """A batch line that cannot be asked; the message names what is wrong."""


def _fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", markup=True)
    return typer.Exit(code)


def _new_conversation_id() -> str:
    return f"cli-{secrets.token_hex(6)}"


def _check_channel(channel: str) -> Channel:
    if channel not in CHANNELS:
        raise typer.BadParameter(f"{channel!r} is not a channel; use one of {', '.join(CHANNELS)}")
    return cast(Channel, channel)


def _open(merchant: str | None) -> tuple[Services, str]:
    settings = Settings()
    chosen = merchant or settings.default_merchant
    try:
        check_merchant_id(chosen)
    except InvalidMerchantError as exc:
        raise _fail(str(exc)) from exc
    return Services(settings), chosen


def _warn_if_no_catalog(services: Services, merchant: str) -> None:
    if services.store.count_products(merchant) == 0 and not services.store.documents(merchant):
        err_console.print(
            f"[yellow]note:[/] merchant {merchant!r} has no catalog yet, so every product question is "
            "declined; load one with `anchor ingest FILES -m MERCHANT` or `anchor demo --no-serve`"
        )


def summary_line(result: AnswerResult) -> str:
    """The compact status line printed under an answer."""
    cites = ", ".join(
        f"{c['sku']}:{c['field']}" if c.get("sku") else f"{c.get('document')}#{c.get('heading')}"
        for c in (c.to_dict() for c in result.citations)
    )
    return (
        f"route={result.route} · citations=[{cites}] · refused={'yes' if result.refused else 'no'} · "
        f"escalated={'yes' if result.escalated else 'no'} · ticket={result.ticket_id or '-'}"
    )


def _print_answer(result: AnswerResult) -> None:
    if result.silent:
        console.print(
            f"(no bot answer: a person owns this conversation; ticket {result.ticket_id or '-'})",
            style="italic",
            markup=False,
        )
    else:
        console.print(result.answer, markup=False)
    console.print(summary_line(result), style="dim", markup=False)


def _print_debug(result: AnswerResult) -> None:
    timings = " · ".join(f"{k} {v:.1f}ms" for k, v in result.timings_ms.items())
    lines = [
        f"route {result.route} (category {result.category or '-'}, confidence {result.confidence:.2f}, "
        f"writer {result.writer})",
        f"focus {result.focus_sku or '-'} via {result.focus_method}",
        f"citations {[c.to_dict() for c in result.citations]}",
        f"signals {list(result.signals)}" + (" · injection" if result.injection else ""),
        f"timings {timings}",
    ]
    for line in lines:
        console.print(f"  {line}", style="cyan", markup=False)


async def _answer(services: Services, merchant: str, question: Question) -> AnswerResult:
    return await services.pipeline.answer(
        merchant,
        question.conversation_id,
        question.text,
        channel=question.channel,
        focus_sku=question.focus_sku,
    )


# -- batch files -------------------------------------------------------------------------------------
def _is_jsonl(path: Path, lines: list[str]) -> bool:
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        return True
    first = next((line for line in lines if line.strip()), "")
    return first.lstrip().startswith("{")


def _jsonl_question(number: int, raw: str, channel: Channel, conversation: str | None) -> Question:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise LineError(f"not valid JSON: {exc.msg} (column {exc.colno})") from exc
    if not isinstance(data, dict):
        raise LineError(f"expected a JSON object with 'text', got {type(data).__name__}")
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        raise LineError("'text' is missing or empty")
    line_channel = data.get("channel", channel)
    if line_channel not in CHANNELS:
        raise LineError(f"'channel' {line_channel!r} is not one of {', '.join(CHANNELS)}")
    focus = data.get("focus_sku")
    if focus is not None and not isinstance(focus, str):
        raise LineError("'focus_sku' must be a string or null")
    conv = data.get("conversation", conversation)
    if conv is None:
        conv = f"{_new_conversation_id()}-{number}"
    try:
        conv = check_conversation_id(conv)
    except ConversationError as exc:
        raise LineError(str(exc)) from exc
    return Question(number, text, cast(Channel, line_channel), conv, focus)


def read_batch(path: Path) -> tuple[list[str], bool]:
    """The file's lines and whether it is JSONL; exits with a clear message when it cannot be read."""
    if not path.is_file():
        raise _fail(f"{path}: no such file")
    try:
        content = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _fail(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from exc
    lines = content.splitlines()
    return lines, _is_jsonl(path, lines)


def read_questions(
    lines: list[str], jsonl: bool, channel: Channel, conversation: str | None
) -> Iterator[tuple[int, Question | LineError]]:
    """Questions by line number, or the error that line has (blank lines are skipped)."""
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        if jsonl:
            try:
                yield number, _jsonl_question(number, raw, channel, conversation)
            except LineError as exc:
                yield number, exc
        else:
            conv = conversation or f"{_new_conversation_id()}-{number}"
            yield number, Question(number, raw.strip(), channel, conv)


async def _answer_file(
    services: Services, merchant: str, questions: Iterator[tuple[int, Question | LineError]]
) -> int:
    failures = 0
    for number, item in questions:
        out: dict[str, Any]
        if isinstance(item, LineError):
            out = {"line": number, "error": str(item)}
        else:
            try:
                result = await _answer(services, merchant, item)
            except (MessageTooLongError, ConversationError) as exc:
                out = {"line": number, "error": str(exc)}
            else:
                out = {
                    "line": number,
                    "question": item.text,
                    "conversation_id": item.conversation_id,
                    **result.to_dict(),
                }
        if "error" in out:
            failures += 1
        typer.echo(json.dumps(out, ensure_ascii=False))
    return failures


# -- commands ----------------------------------------------------------------------------------------
@app.command("ask")
def ask(
    question: Annotated[str | None, typer.Argument(help="The shopper's question (or use --file).")] = None,
    merchant: MerchantOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the whole answer as JSON")] = False,
    channel: ChannelOpt = "chat",
    conversation: Annotated[
        str | None,
        typer.Option("--conversation", help="Conversation id to continue (default: a new one per question)"),
    ] = None,
    focus_sku: Annotated[str | None, typer.Option("--focus-sku", help="Pin the product in focus")] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            "-f",
            help="Answer every line: plain text (one question a line) or JSONL "
            '({"text", "channel", "focus_sku", "conversation"}); prints one JSON line per question.',
        ),
    ] = None,
) -> None:
    """Answer a question from the merchant's catalog, as the chat would.

    Examples: `anchor ask "3号链接多少钱"`, `anchor ask "is the hoodie in stock?" --json`,
    `anchor ask --file questions.jsonl`.
    """
    chosen_channel = _check_channel(channel)
    if conversation is not None:
        try:
            check_conversation_id(conversation)
        except ConversationError as exc:
            raise typer.BadParameter(str(exc), param_hint="--conversation") from exc
    if (question is None) == (file is None):
        raise typer.BadParameter("give a QUESTION or --file F (one of them)", param_hint="QUESTION")
    batch = read_batch(file) if file is not None else None
    services, merchant_id = _open(merchant)
    try:
        if batch is not None:
            questions = read_questions(*batch, chosen_channel, conversation)
            failures = asyncio.run(_answer_file(services, merchant_id, questions))
            if failures:
                err_console.print(f"[red]{failures} line(s) failed[/]")
                raise typer.Exit(1)
            return
        assert question is not None
        if not question.strip():
            raise _fail("the question is empty")
        if not json_out:
            _warn_if_no_catalog(services, merchant_id)
        ask_one = Question(1, question, chosen_channel, conversation or _new_conversation_id(), focus_sku)
        try:
            result = asyncio.run(_answer(services, merchant_id, ask_one))
        except (MessageTooLongError, ConversationError) as exc:
            raise _fail(str(exc)) from exc
        if json_out:
            typer.echo(
                json.dumps(
                    {"conversation_id": ask_one.conversation_id, **result.to_dict()}, ensure_ascii=False
                )
            )
        else:
            _print_answer(result)
    finally:
        services.close()


@app.command("chat")
def chat(
    merchant: MerchantOpt = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show route, focus, citations and timings per stage")
    ] = False,
    channel: ChannelOpt = "chat",
    focus_sku: Annotated[str | None, typer.Option("--focus-sku", help="Pin the product in focus")] = None,
) -> None:
    """Chat with the bot in the terminal (one conversation; Ctrl-D or /quit to leave)."""
    chosen_channel = _check_channel(channel)
    services, merchant_id = _open(merchant)
    conversation_id = _new_conversation_id()
    try:
        _warn_if_no_catalog(services, merchant_id)
        console.print(
            f"chatting with merchant {merchant_id!r} on the {channel} channel "
            f"(conversation {conversation_id}); /quit to leave",
            style="bold",
            markup=False,
        )
        with asyncio.Runner() as runner:
            while True:
                try:
                    line = input("> ")
                except EOFError:
                    break
                text = line.strip()
                if not text:
                    continue
                if text.lower() in QUIT_WORDS:
                    break
                question = Question(0, text, chosen_channel, conversation_id, focus_sku)
                try:
                    result = runner.run(_answer(services, merchant_id, question))
                except (MessageTooLongError, ConversationError) as exc:
                    err_console.print(f"error: {exc}", style="red", markup=False)
                    continue
                _print_answer(result)
                if debug:
                    _print_debug(result)
    finally:
        services.close()
