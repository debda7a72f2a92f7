"""The `anchor` command line. Each module below registers its commands on `app`."""

from __future__ import annotations

import sys

from api.cli.app import app

# Command modules: importing one registers its commands.
from api.cli import admin as _admin  # noqa: F401  isort: skip
from api.cli import ask as _ask  # noqa: F401  isort: skip
from api.cli import bench as _bench  # noqa: F401  isort: skip
from api.cli import catalog as _catalog  # noqa: F401  isort: skip
from api.cli import check as _check  # noqa: F401  isort: skip
from api.cli import room as _room  # noqa: F401  isort: skip
from api.cli import room_status as _room_status  # noqa: F401  isort: skip
from api.cli import room_plans as _room_plans  # noqa: F401  isort: skip
from api.cli import host as _host  # noqa: F401  isort: skip
from api.cli import router as _router  # noqa: F401  isort: skip
from api.cli import script as _script  # noqa: F401  isort: skip
from api.cli import evals as _evals  # noqa: F401  isort: skip
from api.cli import eval_generate as _eval_generate  # noqa: F401  isort: skip
from api.cli import eval_compliance as _eval_compliance  # noqa: F401  isort: skip
from api.cli import voice as _voice  # noqa: F401  isort: skip


def main() -> None:
    """Console-script entry point. Arguments that are not valid text (bytes that are not UTF-8 reach Python
    as lone surrogates) are refused here, at the edge, naming the argument."""
    for position, argument in enumerate(sys.argv[1:], start=1):
        try:
            argument.encode("utf-8")
        except UnicodeEncodeError:
            shown = argument.encode("utf-8", "backslashreplace").decode("utf-8")
            sys.stderr.write(
                f"error: argument {position} ({shown[:60]}) is not valid UTF-8 text; "
                "check the terminal's encoding (LANG=C.UTF-8) and try again\n"
            )
            raise SystemExit(2) from None
    app()


__all__ = ["app", "main"]
