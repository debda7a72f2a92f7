"""`anchor host`: the host figure's layer sets (import a merchant's own, list them, preview one)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from agent.live.host import HostError, HostLayers
from api.cli.app import app
from api.cli.catalog import JsonOpt, MerchantOpt, fail, open_services

console = Console()
host_app = typer.Typer(help="The host figure: import, list and preview layer sets.", no_args_is_help=True)
app.add_typer(host_app, name="host")


@host_app.command("import")
def host_import(
    name: Annotated[str, typer.Argument(help="The set's name, used in a room plan as host.layers")],
    folder: Annotated[Path, typer.Argument(help="body.png, eyes_open.png, eyes_closed.png, mouth_0.png …")],
    merchant: MerchantOpt = None,
) -> None:
    """Check a folder of host layers and import it for the merchant (every problem is listed)."""
    from agent.live.plan import HostConfig

    try:
        HostConfig(layers=name)
    except ValueError as exc:
        raise fail(str(exc).splitlines()[-1], 2) from exc
    services, merchant_id = open_services(merchant)
    try:
        layers = services.hosts.import_set(merchant_id, name, folder)
    except HostError as exc:
        for problem in exc.problems:
            console.print(f"[red]error[/] {problem}")
        raise fail(f"{folder} is not a usable host layer set", 2) from exc
    finally:
        services.close()
    console.print(
        f"imported host {name!r} for {merchant_id}: {layers.size[0]}x{layers.size[1]}, {len(layers.mouths)} "
        f"mouth shapes; use it in a room plan with `host: {{layers: {name}}}`",
        highlight=False,
    )


@host_app.command("list")
def host_list(merchant: MerchantOpt = None, as_json: JsonOpt = False) -> None:
    """The merchant's imported layer sets (the default host is always there)."""
    services, merchant_id = open_services(merchant)
    try:
        names = services.hosts.names(merchant_id)
    finally:
        services.close()
    if as_json:
        typer.echo(json.dumps({"merchant": merchant_id, "sets": names}, ensure_ascii=False))
        return
    table = Table(title=f"{merchant_id}: host layer sets")
    table.add_column("name")
    table.add_row("(default)")
    for name in names:
        table.add_row(name)
    console.print(table)


@host_app.command("preview")
def host_preview(
    out: Annotated[Path, typer.Option("--out", help="PNG to write: every mouth shape, eyes open and shut")],
    name: Annotated[str | None, typer.Argument(help="An imported set (default: our host)")] = None,
    merchant: MerchantOpt = None,
) -> None:
    """Draw a set's poses side by side into a PNG, to check a set before going live."""
    services, merchant_id = open_services(merchant)
    try:
        layers: HostLayers = services.hosts.get(merchant_id, name)
    except HostError as exc:
        raise fail("; ".join(exc.problems), 2) from exc
    finally:
        services.close()
    from PIL import Image

    w, h = layers.size
    poses = [(m, False) for m in range(len(layers.mouths))] + [(0, True)]
    sheet = Image.new("RGBA", (w * len(poses), h), (36, 38, 54, 255))
    for i, (mouth, blink) in enumerate(poses):
        sheet.alpha_composite(layers.frame(mouth, blink), (i * w, 0))
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.convert("RGB").save(out)
    console.print(f"wrote {out} ({len(poses)} poses)", highlight=False)
