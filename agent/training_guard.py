"""The mark on generated evaluation data, and the check training loaders make before they learn from a file.

`anchor eval generate` writes questions computed from a merchant's own catalog; they measure the bot and
must never teach a model (a model trained on them would be scored on its own training data). Every such
file starts with a header line holding `GENERATED_MARKER`, and every case carries the tag
`GENERATED_TAG`. Loaders of training data call `generated_reason` on each raw line (and parsed row) and
refuse the file when it returns a reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: The words of the header line that mark a generated file.
GENERATED_MARKER = "generated — never use as training data"
#: The tag every generated case carries.
GENERATED_TAG = "generated"


def generated_reason(line: str, row: Mapping[str, Any] | None = None) -> str | None:
    """Why this line (or its parsed JSON object) is generated evaluation data, or None when it is not."""
    if GENERATED_MARKER in line or "never use as training data" in line.lower():
        return "the file is marked 'generated — never use as training data'"
    if row is not None:
        tags = row.get("tags")
        if isinstance(tags, list) and GENERATED_TAG in tags:
            return f"the row is tagged {GENERATED_TAG!r} (a generated evaluation question)"
    return None
