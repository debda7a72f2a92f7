from __future__ import annotations

import subprocess

import pytest


@pytest.fixture(scope="session")
def edge_like_mp3() -> bytes:
    """Real 24 kHz mono 48 kbps MP3 (a quiet 440 Hz tone, 1.5 s), like edge-tts sends."""
    return subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=1.5:sample_rate=24000",
            "-af",
            "volume=-30dB",
            "-ac",
            "1",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "48k",
            "-f",
            "mp3",
            "pipe:1",
        ],
        check=True,
        capture_output=True,
    ).stdout
