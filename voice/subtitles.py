"""Subtitles from cues: SRT and WebVTT."""

from __future__ import annotations

from collections.abc import Iterable

from voice.types import Cue


def _stamp(seconds: float, sep: str) -> str:
    ms_total = max(0, round(seconds * 1000))
    hours, rest = divmod(ms_total, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{sep}{ms:03d}"


def _clean(cues: Iterable[Cue]) -> list[Cue]:
    """Cues in time order, text on one line, empty ones dropped, each lasting at least a millisecond."""
    out = []
    for cue in sorted(cues, key=lambda c: (c.start, c.end)):
        text = " ".join(cue.text.replace("-->", "→").split())
        if not text:
            continue
        start = max(0.0, cue.start)
        out.append(Cue(start, max(cue.end, start + 0.001), text))
    return out


def to_srt(cues: Iterable[Cue]) -> str:
    """SubRip text: numbered blocks, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, blank line between blocks."""
    blocks = [
        f"{i}\n{_stamp(c.start, ',')} --> {_stamp(c.end, ',')}\n{c.text}\n"
        for i, c in enumerate(_clean(cues), start=1)
    ]
    return "\n".join(blocks)


def to_vtt(cues: Iterable[Cue]) -> str:
    """WebVTT text: the ``WEBVTT`` header, then ``HH:MM:SS.mmm --> HH:MM:SS.mmm`` cues."""
    blocks = [f"{_stamp(c.start, '.')} --> {_stamp(c.end, '.')}\n{c.text}\n" for c in _clean(cues)]
    return "WEBVTT\n\n" + "\n".join(blocks)
