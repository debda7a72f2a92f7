"""Operator commands: `anchor keys create|list|revoke` and `anchor tickets list|show|claim|reply|resolve`.

They work on the database directly through `Services` (an operator on the machine needs no API key).
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, TypeVar, cast

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from agent.conversations import ConversationNotFoundError, StoredMessage
from agent.db import TicketRow
from agent.tickets import (
    CATEGORIES,
    PRIORITIES,
    STATES,
    Ticket,
    TicketCategory,
    TicketError,
    TicketEvent,
    TicketNotFoundError,
    TicketPriority,
    TicketState,
    TicketStateError,
)
from api.auth import ROLES, ApiKey, ApiKeyError, ApiKeyNotFoundError, InsecureSecretKeyError, check_secret_key
from api.cli.app import app
from api.services import InvalidMerchantError, Services, check_merchant_id
from api.settings import Settings

console = Console()
err_console = Console(stderr=True)

keys_app = typer.Typer(help="Manage API keys (admin, merchant and agent roles).", no_args_is_help=True)
tickets_app = typer.Typer(help="Work on after-sales tickets from the terminal.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(tickets_app, name="tickets")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables")]
AgentOpt = Annotated[
    str | None, typer.Option("--agent", "-a", help="Acting agent's name (default: your login name)")
]
TicketMerchantOpt = Annotated[
    str | None, typer.Option("--merchant", "-m", help="Merchant id (default: the ticket's own merchant)")
]

TRANSCRIPT_LIMIT = 500

_T = TypeVar("_T")


def _fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _echo_json(value: object) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2))


def _when(value: datetime | None) -> str:
    return "" if value is None else value.astimezone().strftime("%Y-%m-%d %H:%M")


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@contextmanager
def _services() -> Iterator[Services]:
    services = Services(Settings())
    try:
        yield services
    finally:
        services.close()


def _checked_merchant(merchant: str) -> str:
    try:
        return check_merchant_id(merchant)
    except InvalidMerchantError as exc:
        raise _fail(str(exc), 2) from exc


# -- keys -------------------------------------------------------------------------------------------
@contextmanager
def _key_services() -> Iterator[Services]:
    with _services() as services:
        try:
            check_secret_key(services.settings)
        except InsecureSecretKeyError as exc:
            raise _fail(str(exc), 2) from exc
        yield services


def _key_row(key: ApiKey) -> list[str]:
    return [
        key.id,
        key.prefix + "…",
        key.role,
        key.merchant or "(all)",
        key.name,
        _when(key.created_at),
        _when(key.last_used_at),
        _when(key.revoked_at),
    ]


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option("--role", "-r", help=f"One of {', '.join(ROLES)}")],
    merchant: Annotated[
        str | None, typer.Option("--merchant", "-m", help="The merchant it acts for (not for admin keys)")
    ] = None,
    name: Annotated[str, typer.Option("--name", "-n", help="Who holds it; agents act under this name")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Create a key and print it once: it cannot be shown again, only revoked."""
    with _key_services() as services:
        try:
            created = services.keys.create(role, merchant, name)
        except ApiKeyError as exc:
            raise _fail(str(exc), 2) from exc
    if as_json:
        _echo_json({**created.key.to_dict(), "key": created.secret})
        return
    who = f"merchant '{created.key.merchant}'" if created.key.merchant else "every merchant"
    console.print(f"[green]created[/] {created.key.role} key {created.key.id} for {who}", highlight=False)
    err_console.print("[yellow]This is the only time the key is shown; store it now:[/]")
    typer.echo(created.secret)


@keys_app.command("list")
def keys_list(
    merchant: Annotated[
        str | None, typer.Option("--merchant", "-m", help="Only this merchant's keys")
    ] = None,
    active: Annotated[bool, typer.Option("--active", help="Hide revoked keys")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List keys (prefix, role, merchant, name, created, last used, revoked); never the keys themselves."""
    with _key_services() as services:
        keys = services.keys.list(merchant=merchant, include_revoked=not active)
    if as_json:
        _echo_json([k.to_dict() for k in keys])
        return
    table = Table(title=f"API keys ({len(keys)})")
    for column in ("id", "prefix", "role", "merchant", "name", "created", "last used", "revoked"):
        table.add_column(column, no_wrap=column in ("id", "prefix"))
    for key in keys:
        table.add_row(*_key_row(key), style="dim" if key.revoked else None)
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_ref: Annotated[str, typer.Argument(metavar="KEY_ID_OR_PREFIX", help="Key id or display prefix")],
    as_json: JsonOpt = False,
) -> None:
    """Revoke a key: requests with it get 401 from now on."""
    with _key_services() as services:
        try:
            key = services.keys.revoke(key_ref)
        except ApiKeyNotFoundError as exc:
            raise _fail(str(exc)) from exc
        except ApiKeyError as exc:
            raise _fail(str(exc), 2) from exc
    if as_json:
        _echo_json(key.to_dict())
        return
    console.print(f"[green]revoked[/] {key.id} ({key.prefix}…, {key.role}, {key.name or 'unnamed'})")


# -- tickets ----------------------------------------------------------------------------------------
def _ticket_dict(ticket: Ticket) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "merchant": ticket.merchant_id,
        "conversation_id": ticket.conversation_id,
        "channel": ticket.channel,
        "category": ticket.category,
        "priority": ticket.priority,
        "state": ticket.state,
        "owner": ticket.owner,
        "order_ids": list(ticket.order_ids),
        "summary": ticket.summary,
        "created_at": _iso(ticket.created_at),
        "updated_at": _iso(ticket.updated_at),
        "resolved_at": _iso(ticket.resolved_at),
        "reopen_count": ticket.reopen_count,
    }


def _event_dict(event: TicketEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "kind": event.kind,
        "author": event.author,
        "text": event.text,
        "created_at": _iso(event.created_at),
    }


def _message_dict(message: StoredMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "role": message.role,
        "text": message.text,
        "created_at": _iso(message.created_at),
    }


def _ticket_call(action: Callable[[], _T]) -> _T:
    """Run a ticket operation; its errors become messages and exit codes, not tracebacks."""
    try:
        return action()
    except (TicketNotFoundError, TicketStateError) as exc:
        raise _fail(str(exc)) from exc
    except TicketError as exc:
        raise _fail(str(exc), 2) from exc


def _ticket_merchant(services: Services, ticket_id: str, merchant: str | None) -> str:
    """The given merchant, or the merchant the ticket belongs to (ticket ids are unique)."""
    if merchant is not None:
        return _checked_merchant(merchant)
    with services.conversations.session() as session:
        owner = session.scalars(select(TicketRow.merchant_id).where(TicketRow.id == ticket_id)).first()
    if owner is None:
        raise _fail(f"ticket {ticket_id!r} not found (see `anchor tickets list`)")
    return owner


def _choice(value: str | None, allowed: tuple[str, ...], what: str) -> str | None:
    if value is not None and value not in allowed:
        raise _fail(f"{what} {value!r} is not valid: use one of {', '.join(allowed)}", 2)
    return value


def _print_ticket(ticket: Ticket) -> None:
    table = Table(title=f"Ticket {ticket.id}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for label, value in (
        ("merchant", ticket.merchant_id),
        ("conversation", f"{ticket.conversation_id} ({ticket.channel})"),
        ("state", ticket.state),
        ("owner", ticket.owner or "-"),
        ("category", ticket.category),
        ("priority", ticket.priority),
        ("order ids", ", ".join(ticket.order_ids) or "-"),
        ("summary", ticket.summary or "-"),
        ("created", _when(ticket.created_at)),
        ("updated", _when(ticket.updated_at)),
        ("resolved", _when(ticket.resolved_at) or "-"),
        ("reopened", str(ticket.reopen_count)),
    ):
        table.add_row(label, value)
    console.print(table)


@tickets_app.command("list")
def tickets_list(
    merchant: Annotated[
        str | None, typer.Option("--merchant", "-m", help="Merchant id (default: ANCHOR_DEFAULT_MERCHANT)")
    ] = None,
    state: Annotated[str | None, typer.Option("--state", "-s", help=f"One of {', '.join(STATES)}")] = None,
    category: Annotated[str | None, typer.Option("--category", help="e.g. refund, delivery")] = None,
    priority: Annotated[
        str | None, typer.Option("--priority", help=f"One of {', '.join(PRIORITIES)}")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    as_json: JsonOpt = False,
) -> None:
    """List a merchant's tickets, most urgent first, then oldest first."""
    chosen_state = cast(TicketState | None, _choice(state, STATES, "ticket state"))
    chosen_category = cast(TicketCategory | None, _choice(category, CATEGORIES, "ticket category"))
    chosen_priority = cast(TicketPriority | None, _choice(priority, PRIORITIES, "ticket priority"))
    with _services() as services:
        chosen = _checked_merchant(merchant or services.settings.default_merchant)
        tickets = _ticket_call(
            lambda: services.tickets.list(
                chosen,
                state=chosen_state,
                category=chosen_category,
                priority=chosen_priority,
                limit=limit,
                offset=offset,
            )
        )
    if as_json:
        _echo_json([_ticket_dict(t) for t in tickets])
        return
    table = Table(title=f"Tickets of merchant '{chosen}' ({len(tickets)})")
    for column in ("id", "state", "priority", "category", "owner", "orders", "conversation", "created"):
        table.add_column(column, no_wrap=column == "id")
    for t in tickets:
        table.add_row(
            t.id,
            t.state,
            t.priority,
            t.category,
            t.owner or "-",
            ", ".join(t.order_ids),
            t.conversation_id,
            _when(t.created_at),
        )
    console.print(table)


@tickets_app.command("show")
def tickets_show(ticket_id: str, merchant: TicketMerchantOpt = None, as_json: JsonOpt = False) -> None:
    """Show a ticket with its events and the conversation's messages."""
    with _services() as services:
        chosen = _ticket_merchant(services, ticket_id, merchant)
        ticket = _ticket_call(lambda: services.tickets.get(chosen, ticket_id))
        events = _ticket_call(lambda: services.tickets.events(chosen, ticket_id))
        try:
            messages = services.conversations.recent(chosen, ticket.conversation_id, limit=TRANSCRIPT_LIMIT)
        except ConversationNotFoundError:
            messages = []
    if as_json:
        _echo_json(
            {
                **_ticket_dict(ticket),
                "events": [_event_dict(e) for e in events],
                "messages": [_message_dict(m) for m in messages],
            }
        )
        return
    _print_ticket(ticket)
    history = Table(title="Events")
    for column in ("when", "kind", "author", "text"):
        history.add_column(column)
    for event in events:
        history.add_row(_when(event.created_at), event.kind, event.author, event.text)
    console.print(history)
    transcript = Table(title=f"Conversation {ticket.conversation_id}")
    for column in ("when", "role", "text"):
        transcript.add_column(column)
    for message in messages:
        transcript.add_row(_when(message.created_at), message.role, message.text)
    console.print(transcript)


def _agent_name(agent: str | None) -> str:
    if agent:
        return agent
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"


def _ticket_action(
    ticket_id: str, merchant: str | None, as_json: bool, verb: str, act: Callable[[Services, str], Ticket]
) -> None:
    with _services() as services:
        chosen = _ticket_merchant(services, ticket_id, merchant)
        ticket = _ticket_call(lambda: act(services, chosen))
    if as_json:
        _echo_json(_ticket_dict(ticket))
        return
    console.print(f"[green]{verb}[/] {ticket.id}: now {ticket.state}, owner {ticket.owner or '-'}")


@tickets_app.command("claim")
def tickets_claim(
    ticket_id: str,
    agent: AgentOpt = None,
    take_over: Annotated[bool, typer.Option("--take-over", help="Reassign someone else's ticket")] = False,
    merchant: TicketMerchantOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Take a ticket."""
    name = _agent_name(agent)
    _ticket_action(
        ticket_id,
        merchant,
        as_json,
        "claimed",
        lambda s, m: s.tickets.claim(m, ticket_id, name, take_over=take_over),
    )


@tickets_app.command("reply")
def tickets_reply(
    ticket_id: str,
    text: Annotated[str, typer.Argument(help="The reply the customer sees")],
    agent: AgentOpt = None,
    merchant: TicketMerchantOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Reply to the customer; the ticket then waits for the customer."""
    name = _agent_name(agent)
    _ticket_action(
        ticket_id, merchant, as_json, "replied", lambda s, m: s.tickets.reply(m, ticket_id, name, text)
    )


@tickets_app.command("resolve")
def tickets_resolve(
    ticket_id: str,
    note: Annotated[str | None, typer.Option("--note", help="Internal note kept on the ticket")] = None,
    agent: AgentOpt = None,
    merchant: TicketMerchantOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Close a ticket; the conversation goes back to the bot."""
    name = _agent_name(agent)
    _ticket_action(
        ticket_id, merchant, as_json, "resolved", lambda s, m: s.tickets.resolve(m, ticket_id, name, note)
    )
