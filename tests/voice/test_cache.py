from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.voice.fakes import FakeEdgeService
from voice.cache import CachedTTS, ClipCache
from voice.edge import EdgeTTS
from voice.errors import TransientTTSError
from voice.types import Clip, Cue, Prosody

pytestmark = pytest.mark.unit


def cached(service: FakeEdgeService, directory: Path, max_bytes: int = 10_000_000) -> CachedTTS:
    return CachedTTS(EdgeTTS(communicate=service), directory, max_bytes)


async def test_a_repeated_line_is_served_from_disk(tmp_path: Path) -> None:
    service = FakeEdgeService("ok")
    tts = cached(service, tmp_path)
    first = await tts.synthesize("今天只要¥199！")
    again = await tts.synthesize("今天只要¥199！！！😀")  # same normalised text
    assert len(service.calls) == 1
    assert again.audio == first.audio
    # The same cue times; each subtitle shows its own line as written (the emoji dropped).
    assert [(c.start, c.end) for c in again.cues] == [(c.start, c.end) for c in first.cues]
    assert [c.text for c in again.cues] == ["今天只要¥199！！！"]
    assert (tts.cache.hits, tts.cache.misses) == (1, 1)


async def test_voice_prosody_and_text_are_part_of_the_key(tmp_path: Path) -> None:
    service = FakeEdgeService("ok")
    tts = cached(service, tmp_path)
    await tts.synthesize("hello")
    await tts.synthesize("hello", voice="en-US-GuyNeural")
    await tts.synthesize("hello", prosody=Prosody(rate="+10%"))
    await tts.synthesize("hello!")
    assert len(service.calls) == 4


async def test_the_cache_survives_a_restart(tmp_path: Path) -> None:
    await cached(FakeEdgeService("ok"), tmp_path).synthesize("hello")
    later = FakeEdgeService("403")
    clip = await cached(later, tmp_path).synthesize("hello")
    assert later.calls == []
    assert clip.engine == "edge"


async def test_least_recently_used_clips_are_evicted(tmp_path: Path) -> None:
    service = FakeEdgeService("ok")
    probe = cached(service, tmp_path / "probe")
    await probe.synthesize("a")
    one = probe.cache.total_bytes
    tts = cached(service, tmp_path / "lru", max_bytes=int(one * 2.5))
    await tts.synthesize("a")
    await tts.synthesize("b")
    await tts.synthesize("a")  # a is now more recent than b
    await tts.synthesize("c")  # over the cap: b goes
    assert tts.cache.evictions == 1
    assert len(tts.cache) == 2
    assert tts.cache.total_bytes <= tts.cache.max_bytes
    assert len(list((tmp_path / "lru").glob("*/*.clip"))) == 2
    calls = len(service.calls)
    await tts.synthesize("a")
    await tts.synthesize("c")
    assert len(service.calls) == calls
    await tts.synthesize("b")
    assert len(service.calls) == calls + 1


async def test_a_clip_bigger_than_the_cap_is_not_stored(tmp_path: Path) -> None:
    tts = cached(FakeEdgeService("ok"), tmp_path, max_bytes=100)
    await tts.synthesize("hello")
    assert len(tts.cache) == 0


async def test_a_corrupt_file_is_a_miss(tmp_path: Path) -> None:
    service = FakeEdgeService("ok")
    tts = cached(service, tmp_path)
    await tts.synthesize("hello")
    [path] = tmp_path.glob("*/*.clip")
    path.write_bytes(path.read_bytes()[:-10])
    fresh = cached(service, tmp_path)
    clip = await fresh.synthesize("hello")
    assert len(service.calls) == 2
    assert len(clip.audio) == 6000


async def test_identical_concurrent_requests_share_one_synthesis(tmp_path: Path) -> None:
    service = FakeEdgeService("ok", chunk_delay=0.05)
    tts = cached(service, tmp_path)
    clips = await asyncio.gather(*(tts.synthesize("same line") for _ in range(5)))
    assert len(service.calls) == 1
    assert len({c.audio for c in clips}) == 1


async def test_a_failure_reaches_every_joined_caller_and_is_not_cached(tmp_path: Path) -> None:
    service = FakeEdgeService("403", "ok", start_delay=0.05)
    tts = cached(service, tmp_path)
    results = await asyncio.gather(*(tts.synthesize("line") for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, TransientTTSError) for r in results)
    assert len(service.calls) == 1
    assert (await tts.synthesize("line")).audio
    assert len(service.calls) == 2


def test_keys_are_content_addresses() -> None:
    assert ClipCache.key("edge", "v", "a") == ClipCache.key("edge", "v", "a")
    assert ClipCache.key("edge", "v", "a") != ClipCache.key("edge", "va", "")


async def test_pause_points_survive_the_disk(tmp_path: Path) -> None:
    clip = Clip(b"RIFF....WAVE", "wav", 24000, 3.5, (Cue(0.0, 3.5, "一句话"),), "espeak", "cmn", (1.245, 2.5))
    await ClipCache(tmp_path).put("k", clip)
    assert await ClipCache(tmp_path).get("k") == clip


async def test_an_entry_stored_without_pause_points_loads_with_none(tmp_path: Path) -> None:
    clip = Clip(b"ID3 audio", "mp3", 24000, 1.0, (Cue(0.0, 1.0, "hi"),), "edge", "en-US-AriaNeural", (0.5,))
    await ClipCache(tmp_path).put("k", clip)
    [path] = tmp_path.glob("*/*.clip")
    head, _, audio = path.read_bytes().partition(b"\n")
    meta = json.loads(head)
    del meta["pauses"]
    path.write_bytes(json.dumps(meta).encode() + b"\n" + audio)
    old = await ClipCache(tmp_path).get("k")
    assert old is not None
    assert old.pauses == ()
    assert (old.audio, old.cues, old.duration) == (clip.audio, clip.cues, clip.duration)
