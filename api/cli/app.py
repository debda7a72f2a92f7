"""The `anchor` Typer application object; command modules register themselves on it."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="anchor",
    help="live-anchor: an AI virtual anchor and customer-service bot for live-stream commerce.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
