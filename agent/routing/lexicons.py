"""Building word-list patterns (used by the priority cues of `agent.routing.priority_lexicons`).

Every pattern is one regular expression joined from a list of alternatives so a reader can add a phrase in
one place. Chinese and English alternatives sit side by side; messages mix them ("我的order还没到").
"""

from __future__ import annotations

import re

# An English word boundary that also holds next to Chinese characters ("tk怎么", "my order是").
_WB_L = r"(?<![a-z])"
_WB_R = r"(?![a-z])"


def alt(*parts: str) -> re.Pattern[str]:
    """Compile alternatives into one pattern."""
    return re.compile("|".join(f"(?:{p})" for p in parts))


def words(*parts: str) -> str:
    """English alternatives wrapped in latin word boundaries, as one pattern string."""
    return _WB_L + "(?:" + "|".join(parts) + ")" + _WB_R
