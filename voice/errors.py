"""Errors of the speech layer. Every message names the engine and what went wrong."""

from __future__ import annotations

from collections.abc import Sequence


class TTSError(Exception):
    """Speech could not be produced; the message says why."""


class TransientTTSError(TTSError):
    """A failure worth retrying: 403 at handshake, no audio received, connection reset, timeout."""


class TTSTimeout(TransientTTSError):
    """An engine did not answer in time."""


class NothingToSay(TTSError):
    """The text has nothing speakable once emoji, URLs and symbols are removed."""


class AudioError(TTSError):
    """ffmpeg or a WAV parser rejected audio."""


class AllEnginesFailed(TTSError):
    """Every engine of a fallback chain failed (or was skipped) for one request."""

    def __init__(self, text: str, failures: Sequence[tuple[str, str]]) -> None:
        self.failures = tuple(failures)
        shown = text if len(text) <= 40 else text[:39] + "…"
        detail = "; ".join(f"{engine}: {why}" for engine, why in self.failures) or "no engines configured"
        super().__init__(f"no engine could speak {shown!r} ({detail})")
