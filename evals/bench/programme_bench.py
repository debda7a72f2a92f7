"""The broadcast programme at platform settings (`anchor bench --only programme`): 1280×720, 25 fps, the
animated host, real espeak-ng speech, ffmpeg writing HLS, in real time.

A looping sequence of product cards and sentences (with their mouth tracks) is fed as a room would. Reported:
- CPU: the Python side (drawing cards, composing the host's poses, pumping audio and video) and ffmpeg
  (libx264 + AAC), each as a share of one core over the run, from the process clocks (/proc for ffmpeg);
- frames: written against the frame rate times the wall time (a renderer that cannot keep up falls short);
- audio/video sync and drift, read back from the output: the host's mouth opening (pixels of its open mouth in
  the decoded video) against the audio's loudness, frame by frame; the lag that lines them up best is found
  over the first and the last 30 s of the run, and drift is how far it moved (resolution: one frame, 40 ms);
- distinct host poses drawn (mouth shapes × blinking × breathing) and how many composed frames were reused.
Target (issue 16): encoding + rendering ≤ 1 core; drift ≤ 40 ms over 30 minutes of show. ``quick`` runs 20 s
instead of 90 s; ``ANCHOR_BENCH_PROGRAMME_SECONDS=1800`` runs the half hour (in real time: the pumps are paced by
the wall clock).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from agent.live.broadcast import Broadcaster, HlsSink
from agent.live.events import AudioRef, Cue, OutputEvent
from agent.live.host import default_host
from evals.bench.common import machine_info
from voice import MasterSpec, build_tts

SECONDS = 90.0
LINES = [
    "欢迎来到直播间，今天给大家带来一款暖禾加绒卫衣。",
    "面料是棉百分之八十，里面加了一层绒，穿着很暖和。",
    "到手价一百二十九元，喜欢的宝宝拍一号链接。",
    "尺码从S到XXL都有，按平时的尺码拍就可以。",
]
CARDS = [
    {
        "sku": "HOODIE-1",
        "title": "暖禾加绒卫衣",
        "price": "¥129",
        "list_price": "¥199",
        "link": 1,
        "stock_state": "in_stock",
    },
    {
        "sku": "CREAM-50",
        "title": "云朵柔肤保湿面霜",
        "price": "¥199",
        "list_price": "¥299",
        "link": 2,
        "stock_state": "low",
    },
]


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of a live process (0 when it is gone)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _mouth_and_loudness(playlist: Path, box: tuple[int, int, int, int]) -> tuple[Any, Any]:
    """Per video frame of the output: open-mouth pixels in the host's face, and the audio's RMS amplitude."""
    import numpy as np

    left, top, right, bottom = box

    def even(value: int) -> int:  # yuv420p crops in steps of two pixels
        return value + value % 2

    crop = (even(right - left), even(bottom - top), left - left % 2, top - top % 2)
    raw = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(playlist),
            "-an",
            "-vf",
            "crop={}:{}:{}:{}".format(*crop),
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ],
        capture_output=True,
        timeout=600,
        check=True,
    ).stdout
    frames = np.frombuffer(raw, dtype=np.uint8).reshape(-1, crop[1], crop[0], 3).astype(np.int16)
    r, g, b = frames[..., 0], frames[..., 1], frames[..., 2]
    mouth = ((abs(r - 92) < 35) & (g < 70) & (b < 80) & (r - g > 30)).reshape(len(frames), -1).sum(axis=1)
    pcm = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(playlist), "-vn", "-ac", "1", "-ar", "16000", "-f", "s16le", "-"],
        capture_output=True,
        timeout=600,
        check=True,
    ).stdout
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768.0
    hop = 16000 // 25
    blocks = samples[: len(samples) // hop * hop].reshape(-1, hop)
    loudness = np.sqrt((blocks**2).mean(axis=1))  # the amplitude envelope
    n = min(len(mouth), len(loudness))
    return mouth[:n], loudness[:n]


def _best_lag(mouth: Any, loudness: Any) -> tuple[int, float]:
    """The shift (frames; positive: the picture is late) that best lines the mouth up with the sound."""
    import numpy as np

    n = len(mouth)
    scores = {}
    for lag in range(-5, 6):
        a = mouth[max(0, lag) : n + min(0, lag)]
        b = loudness[max(0, -lag) : n - max(0, lag)]
        scores[lag] = float(np.corrcoef(a, b)[0, 1]) if len(a) > 10 and a.std() > 0 else -1.0
    best = max(scores, key=lambda lag: scores[lag])
    return best, round(scores[best], 3)


async def _run(seconds: float, folder: Path) -> dict[str, Any]:
    tts = build_tts("espeak", master=MasterSpec(format="mp3"))
    clips = [await tts.synthesize(line) for line in LINES]
    sink = HlsSink(folder, segment_seconds=2, record=True)
    caster = Broadcaster(sink, fps=25, size=(1280, 720), host=default_host(), room_title="暖禾官方直播间")
    seq = 0
    started = time.monotonic()
    py_cpu = time.process_time()
    ffmpeg_cpu = 0.0
    async with caster:
        while time.monotonic() - started < seconds:
            for card in CARDS:
                seq += 1
                await caster.feed(OutputEvent("bench", seq, "product", dict(card)))
                for clip in clips:
                    seq += 1
                    cues = tuple(Cue(c.start, c.end, c.text) for c in clip.cues)
                    ref = AudioRef(clip.audio, "mp3", clip.sample_rate, clip.duration, cues, mouth=clip.mouth)
                    await caster.feed(OutputEvent("bench", seq, "say", {"text": clip.text}, ref))
                # Feed as fast as it plays (a room publishes as it speaks).
                while caster.programme.backlog_seconds > 3.0 and time.monotonic() - started < seconds:
                    await asyncio.sleep(0.2)
            ffmpeg_cpu = max(ffmpeg_cpu, _cpu_seconds(caster.pid))
        ffmpeg_cpu = max(ffmpeg_cpu, _cpu_seconds(caster.pid))
        elapsed = time.monotonic() - started
        status = caster.status()
        box = caster.mouth_box
    python_cpu = time.process_time() - py_cpu
    assert box is not None
    mouth, loudness = _mouth_and_loudness(sink.playlist_path, box)
    window = 30 * 25
    first_lag, first_r = _best_lag(mouth[:window], loudness[:window])
    last_lag, last_r = _best_lag(mouth[-window:], loudness[-window:])
    return {
        "seconds": round(elapsed, 1),
        "fps": 25,
        "size": "1280x720",
        "encoder": "libx264 veryfast zerolatency yuv420p, 1500k; AAC 128k 44.1 kHz",
        "frames_written": status.frames,
        "frames_expected": round(elapsed * 25),
        "python_cpu_share_of_one_core": round(python_cpu / elapsed, 3),
        "ffmpeg_cpu_share_of_one_core": round(ffmpeg_cpu / elapsed, 3),
        "total_cpu_share_of_one_core": round((python_cpu + ffmpeg_cpu) / elapsed, 3),
        "output_frames": len(mouth),
        "sync_first_30s": {"lag_ms": first_lag * 40, "r": first_r},
        "sync_last_30s": {"lag_ms": last_lag * 40, "r": last_r},
        "av_drift_ms": abs(last_lag - first_lag) * 40,
        "spoken": status.spoken,
        "restarts": status.restarts,
    }


def run(*, quick: bool = False) -> dict[str, Any]:
    seconds = 20.0 if quick else float(os.environ.get("ANCHOR_BENCH_PROGRAMME_SECONDS", SECONDS))
    with tempfile.TemporaryDirectory(prefix="programme-bench-") as tmp:
        measured = asyncio.run(_run(seconds, Path(tmp) / "hls"))
    return {"benchmark": "programme", "quick": quick, "machine": machine_info(), **measured}
