"""The web pages served by the app: plain HTML, one CSS file and vanilla ES modules (no build step).

`PAGES_DIR` holds the HTML pages, `STATIC_DIR` the assets served under ``/static/``.
"""

from __future__ import annotations

from pathlib import Path

PAGES_DIR = Path(__file__).resolve().parent
STATIC_DIR = PAGES_DIR / "static"

__all__ = ["PAGES_DIR", "STATIC_DIR"]
