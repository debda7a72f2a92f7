"""Speech benchmark: offline time to first audio (WAV and MP3), MP3 encoding, pause points, cached clip
latency, espeak real-time factor, failover.

Targets: offline time to first audio for a three-sentence answer ≤ 300 ms p95; a cached clip ≤ 5 ms.
Microsoft's service is unreachable here, so the online failures are played by a stand-in for
``edge_tts.Communicate`` that refuses the handshake (403) or hangs. Pause points (`voice.Clip.pauses`)
are where the live director may cut a script sentence short, so their density bounds how long an answer
waits for a cut.
"""

from __future__ import annotations

import asyncio
import itertools
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from evals.bench.common import machine_info, percentiles
from voice import EspeakTTS, FallbackTTS, MasterSpec, build_tts, transcode
from voice.audio import encode
from voice.wav import Pcm, build_wav, parse_wav

ANSWERS = {
    "zh": "这款面霜今天只要¥199，比平时便宜一百块。它适合干皮和混合皮，早晚都能用。库存不多了，喜欢的宝宝抓紧下单！",
    "en": "This cream is just $19.99 today, ten dollars off. It suits dry and combination skin, morning and night. "
    "Stock is running low, so grab yours now!",
}
LONG = {
    "zh": "欢迎来到直播间！" + ANSWERS["zh"] * 3,
    "en": "Welcome to the stream! " + ANSWERS["en"] * 3,
}
# Long script sentences, one clip each, as a room's director speaks them.
SCRIPT_LINES = {
    "zh": [
        "这款纯棉T恤采用新疆长绒棉，柔软透气，不起球不变形，春夏秋三季都能穿，今天直播间到手价一百五十九元。",
        "这款保温杯采用三百零四不锈钢内胆，保温十二个小时，杯盖可以拆洗，办公室和户外都合适，今天下单还送杯套。",
        "我们家的坚果都是当季新货，每天一小包，营养均衡，老人小孩都爱吃，一箱三十包，今天只要八十九元。",
    ],
    "en": [
        "This cotton tee is made from long-staple cotton, soft and breathable, it won't pill or lose its "
        "shape, and you can wear it three seasons a year, today just fifteen ninety nine.",
        "This travel mug has a stainless steel liner, it keeps your coffee hot for twelve hours, the lid "
        "comes apart for cleaning, and today it comes with a free sleeve.",
        "Our nuts are fresh from this season's harvest, one small pack a day keeps things balanced, kids "
        "and grandparents love them, and a box of thirty is eighty nine today.",
    ],
}


class _FailingCommunicate:
    """Stands in for ``edge_tts.Communicate`` when the service refuses (403) or never answers."""

    def __init__(self, mode: str, *args: Any, **kwargs: Any) -> None:
        self.mode = mode

    async def stream(self) -> AsyncIterator[dict[str, Any]]:
        if self.mode == "403":
            raise aiohttp.WSServerHandshakeError(None, (), status=403, message="Invalid response status")  # type: ignore[arg-type]
        await asyncio.Event().wait()
        yield {}


def _failing(mode: str) -> Any:
    return lambda *args, **kwargs: _FailingCommunicate(mode, *args, **kwargs)


async def _time_to_first_audio(tts: FallbackTTS, text: str, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        stream = tts.stream(text)
        await stream.__anext__()
        samples.append((time.perf_counter() - start) * 1000)
        await stream.aclose()
    return samples


async def _mp3_encode_5s(runs: int) -> dict[str, Any]:
    """Encoding 5 s of mastered speech (24 kHz, 64 kbit/s): in-process LAME against an ffmpeg process."""
    clip = await build_tts("espeak").synthesize(SCRIPT_LINES["zh"][0])
    pcm = parse_wav(clip.audio)
    five = Pcm(pcm.data[: 5 * pcm.sample_rate * 2], pcm.sample_rate)
    timings: dict[str, list[float]] = {"lameenc": [], "ffmpeg": []}
    for _ in range(runs):
        start = time.perf_counter()
        await encode(five, "mp3")
        timings["lameenc"].append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        await transcode(build_wav(five), "wav", "mp3", sample_rate=five.sample_rate)
        timings["ffmpeg"].append((time.perf_counter() - start) * 1000)
    return {way: percentiles(samples) for way, samples in timings.items()}


async def _pause_points() -> dict[str, Any]:
    """Pauses per second of speech and the spacing between them, on long script sentences."""
    tts = build_tts("espeak", master=MasterSpec(format="mp3"))
    found: dict[str, Any] = {}
    for lang, lines in SCRIPT_LINES.items():
        seconds, count, spacings, stretches = 0.0, 0, [], []
        for line in lines:
            clip = await tts.synthesize(line)
            seconds += clip.duration
            count += len(clip.pauses)
            spacings += [b - a for a, b in itertools.pairwise(clip.pauses)]
            marks = [0.0, *clip.pauses, clip.duration]
            stretches += [b - a for a, b in itertools.pairwise(marks)]
        found[lang] = {
            "speech_s": round(seconds, 2),
            "pauses": count,
            "per_second": round(count / seconds, 3),
            "spacing_s_median": round(sorted(spacings)[len(spacings) // 2], 3),
            "spacing_s_max": round(max(spacings), 3),
            # For an answer ready at a random instant: the mean wait to the next pause or the clip's end.
            "mean_wait_s": round(sum(w * w / 2 for w in stretches) / seconds, 3),
        }
    return found


async def _bench(quick: bool) -> dict[str, Any]:
    runs = 8 if quick else 40
    result: dict[str, Any] = {}

    offline = build_tts("espeak")  # mastered to WAV 24 kHz at -16 LUFS, as the CLI and chat get it
    await offline.synthesize("预热。")
    ttfa: dict[str, Any] = {}
    for lang, text in ANSWERS.items():
        ttfa[lang] = percentiles(await _time_to_first_audio(offline, text, runs))
    result["offline_time_to_first_audio_ms"] = ttfa
    as_mp3 = build_tts("espeak", master=MasterSpec(format="mp3"))  # as rooms send it (LAME in-process)
    result["offline_time_to_first_audio_mp3_ms"] = {
        lang: percentiles(await _time_to_first_audio(as_mp3, text, runs)) for lang, text in ANSWERS.items()
    }
    result["offline_ttfa_target_ms_p95"] = 300
    result["mp3_encode_5s_ms"] = await _mp3_encode_5s(runs)
    result["pause_points"] = await _pause_points()

    with tempfile.TemporaryDirectory() as tmp:
        cached = build_tts("espeak", cache_dir=Path(tmp))
        line = ANSWERS["zh"]
        await cached.synthesize(line)
        samples = []
        for _ in range(runs * 5):
            start = time.perf_counter()
            await cached.synthesize(line)
            samples.append((time.perf_counter() - start) * 1000)
        result["cached_clip_ms"] = percentiles(samples)
        result["cached_clip_target_ms_p95"] = 5

    raw = EspeakTTS()
    rtf: dict[str, Any] = {}
    for lang, text in LONG.items():
        start = time.perf_counter()
        clip = await raw.synthesize(text)
        elapsed = time.perf_counter() - start
        rtf[lang] = {
            "audio_s": round(clip.duration, 2),
            "synth_s": round(elapsed, 3),
            "rtf": round(elapsed / clip.duration, 4),
        }
    result["espeak_real_time_factor"] = rtf

    failover: dict[str, Any] = {}
    for mode in ("403", "hang"):
        samples = []
        for _ in range(3 if quick else 6):
            chain = build_tts("auto", communicate=_failing(mode))  # fresh chain: breaker closed
            start = time.perf_counter()
            clip = await chain.synthesize(ANSWERS["zh"].split("。")[0] + "。")
            samples.append((time.perf_counter() - start) * 1000)
            assert clip.engine == "espeak"
        failover[f"edge_{mode}_to_espeak_audio_ms"] = percentiles(samples)
    chain = build_tts("auto", communicate=_failing("403"))
    for _ in range(chain.options.breaker_threshold):
        await chain.synthesize("预热。")
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        await chain.synthesize("库存不多了。")
        samples.append((time.perf_counter() - start) * 1000)
    failover["breaker_open_espeak_audio_ms"] = percentiles(samples)
    failover["target_ms"] = 1500
    result["failover"] = failover
    return result


def run(*, quick: bool = False) -> dict[str, Any]:
    """Run the speech benchmark; JSON-ready figures in milliseconds unless named otherwise."""
    return {"name": "voice", "quick": quick, "machine": machine_info(), **asyncio.run(_bench(quick))}


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), ensure_ascii=False, indent=2))
