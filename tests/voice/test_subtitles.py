from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from voice.subtitles import to_srt, to_vtt
from voice.types import Cue

CUES = (
    Cue(0.0, 1.25, "欢迎来到直播间！"),
    Cue(1.25, 3661.5, "Only 19 dollars --> today"),
    Cue(4.0, 4.0, "x"),
)
SRT_BLOCK = re.compile(r"^(\d+)\n(\d{2}:\d{2}:\d{2},\d{3}) --> (\d{2}:\d{2}:\d{2},\d{3})\n(.+)\n$")
VTT_CUE = re.compile(r"^(\d{2}:\d{2}:\d{2}\.\d{3}) --> (\d{2}:\d{2}:\d{2}\.\d{3})\n(.+)\n?$")


@pytest.mark.unit
def test_srt_blocks_are_numbered_timed_and_ordered() -> None:
    blocks = to_srt(CUES).split("\n\n")
    parsed = [SRT_BLOCK.match(b if b.endswith("\n") else b + "\n") for b in blocks]
    assert all(parsed), blocks
    assert [m.group(1) for m in parsed if m] == ["1", "2", "3"]
    first = parsed[0]
    assert first is not None
    assert (first.group(2), first.group(3), first.group(4)) == (
        "00:00:00,000",
        "00:00:01,250",
        "欢迎来到直播间！",
    )
    second = parsed[1]
    assert second is not None
    assert second.group(3) == "01:01:01,500"
    assert "-->" not in second.group(4)
    third = parsed[2]
    assert third is not None
    assert third.group(2) < third.group(3)  # a zero-length cue still lasts a millisecond


@pytest.mark.unit
def test_vtt_has_header_and_dot_milliseconds() -> None:
    text = to_vtt(CUES)
    assert text.startswith("WEBVTT\n\n")
    cues = text.removeprefix("WEBVTT\n\n").split("\n\n")
    assert all(VTT_CUE.match(c) for c in cues), cues
    assert cues[0].startswith("00:00:00.000 --> 00:00:01.250")


@pytest.mark.unit
def test_empty_and_unordered_cues() -> None:
    assert to_srt([]) == ""
    assert to_vtt([]) == "WEBVTT\n\n"
    srt = to_srt([Cue(2, 3, "b"), Cue(0, 1, "a"), Cue(1, 2, "   ")])
    assert srt.index("a") < srt.index("b")
    assert srt.count("-->") == 2


@pytest.mark.integration
@pytest.mark.parametrize(("suffix", "render"), [(".srt", to_srt), (".vtt", to_vtt)])
def test_ffmpeg_parses_our_subtitles(tmp_path: Path, suffix: str, render: object) -> None:
    path = tmp_path / f"cues{suffix}"
    assert callable(render)
    path.write_text(render(CUES), encoding="utf-8")
    out = subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-i", str(path), "-f", "srt", "pipe:1"],
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8")
    assert out.count("-->") == 3
    assert "欢迎来到直播间！" in out
