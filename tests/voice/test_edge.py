from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from tests.voice.fakes import FAKE_MP3, FakeEdgeService
from voice.base import SpeechRequest
from voice.edge import EdgeOptions, EdgeTTS
from voice.errors import TransientTTSError, TTSError, TTSTimeout
from voice.types import Prosody
from voice.voicemap import VoiceMap

pytestmark = pytest.mark.unit

FAST = EdgeOptions(first_audio_timeout=0.3, idle_timeout=0.3, timeout=5.0)


async def test_audio_and_sentence_boundaries_become_a_clip() -> None:
    service = FakeEdgeService("ok")
    edge = EdgeTTS(FAST, communicate=service)
    clip = await edge.synthesize("今天只要¥199！", prosody=Prosody(rate="+10%", volume="-5%", pitch="+2Hz"))
    assert clip.audio == FAKE_MP3
    assert (clip.format, clip.sample_rate, clip.engine) == ("mp3", 24000, "edge")
    assert clip.duration == pytest.approx(1.0)
    assert clip.voice == "zh-CN-XiaoxiaoNeural"
    [cue] = clip.cues
    assert cue.start == pytest.approx(0.1)
    assert cue.end == pytest.approx(1.0)
    assert cue.text == "今天只要¥199！"  # the subtitle shows the line as written
    [call] = service.calls
    assert call.text == "今天只要199元！"  # normalised before it reaches the service
    assert call.kwargs == {"rate": "+10%", "volume": "-5%", "pitch": "+2Hz", "boundary": "SentenceBoundary"}


async def test_word_boundaries_give_a_cue_per_word() -> None:
    edge = EdgeTTS(EdgeOptions(boundary="WordBoundary"), communicate=FakeEdgeService("ok"))
    clip = await edge.synthesize("hello there world")
    assert [c.text for c in clip.cues] == ["hello", "there", "world"]
    assert all(a.end <= b.start + 1e-9 for a, b in zip(clip.cues, clip.cues[1:], strict=False))
    assert clip.voice == "en-US-AriaNeural"


async def test_voice_choice_language_or_other_engine_voice_or_room_map() -> None:
    service = FakeEdgeService("ok")
    edge = EdgeTTS(communicate=service)
    await edge.synthesize("hello", voice="zh-CN-YunxiNeural")
    await edge.synthesize("hello", voice="cmn-latn-pinyin")
    room = VoiceMap.default().with_overrides({"en": {"edge": "en-US-GuyNeural"}})
    await edge.synthesize("hello", voices=room)
    assert [c.voice for c in service.calls] == [
        "zh-CN-YunxiNeural",
        "zh-CN-XiaoxiaoNeural",
        "en-US-GuyNeural",
    ]


@pytest.mark.parametrize(
    ("behaviour", "kind", "words"),
    [
        ("403", TransientTTSError, "HTTP 403 at handshake"),
        ("noaudio", TransientTTSError, "no audio received"),
        ("empty", TransientTTSError, "no audio received"),
        ("conn", TransientTTSError, "connection failed"),
        ("401", TTSError, "HTTP 401 at handshake"),
    ],
)
async def test_library_errors_are_translated(behaviour: str, kind: type[TTSError], words: str) -> None:
    edge = EdgeTTS(FAST, communicate=FakeEdgeService(behaviour))
    with pytest.raises(kind, match=words) as info:
        await edge.synthesize("hello")
    if behaviour == "401":
        assert not isinstance(info.value, TransientTTSError)


async def test_a_hanging_handshake_times_out() -> None:
    edge = EdgeTTS(FAST, communicate=FakeEdgeService("hang"))
    start = time.monotonic()
    with pytest.raises(TTSTimeout, match="no audio"):
        await edge.synthesize("hello")
    assert 0.25 <= time.monotonic() - start < 1.0


async def test_a_stalled_stream_times_out() -> None:
    edge = EdgeTTS(FAST, communicate=FakeEdgeService("stall"))
    with pytest.raises(TTSTimeout, match="stalled"):
        await edge.synthesize("hello")


async def test_request_deadline_shortens_the_first_audio_wait() -> None:
    edge = EdgeTTS(EdgeOptions(first_audio_timeout=5.0), communicate=FakeEdgeService("hang"))
    request = edge.prepare("hello")
    start = time.monotonic()
    with pytest.raises(TTSTimeout):
        await edge.speak(SpeechRequest(request.text, first_audio_by=time.monotonic() + 0.1))
    assert time.monotonic() - start < 0.5


async def test_parallel_requests_are_capped() -> None:
    service = FakeEdgeService("ok", chunk_delay=0.05)
    edge = EdgeTTS(EdgeOptions(max_parallel=4), communicate=service)
    clips = await asyncio.gather(*(edge.synthesize(f"line {i}") for i in range(12)))
    assert len(clips) == 12
    assert service.peak_active == 4


async def test_busy_connections_count_against_the_first_audio_deadline() -> None:
    service = FakeEdgeService("hang")
    edge = EdgeTTS(EdgeOptions(max_parallel=1, first_audio_timeout=0.2), communicate=service)
    results = await asyncio.gather(edge.synthesize("a"), edge.synthesize("b"), return_exceptions=True)
    assert all(isinstance(r, TTSTimeout) for r in results)
    assert any("busy" in str(r) for r in results)


async def test_list_voices_maps_the_service_answer() -> None:
    async def lister() -> list[dict[str, str]]:
        return [
            {"ShortName": "zh-CN-XiaoxiaoNeural", "Locale": "zh-CN", "Gender": "Female", "FriendlyName": "X"}
        ]

    [v] = await EdgeTTS(list_voices=lister).list_voices()
    assert (v.engine, v.name, v.language, v.gender) == ("edge", "zh-CN-XiaoxiaoNeural", "zh-CN", "Female")


async def test_list_voices_unreachable_or_slow_is_a_clear_error() -> None:
    async def down() -> list[dict[str, str]]:
        raise aiohttp.ClientConnectionError("network unreachable")

    async def slow() -> list[dict[str, str]]:
        await asyncio.Event().wait()
        return []

    with pytest.raises(TTSError, match="unreachable"):
        await EdgeTTS(list_voices=down).list_voices()
    with pytest.raises(TTSError, match=r"no answer within 0\.1 s"):
        await EdgeTTS(EdgeOptions(list_timeout=0.1), list_voices=slow).list_voices()
