from __future__ import annotations

import re
import subprocess

import pytest

from tests.voice.fakes import FakeEdgeService
from voice.audio import MasterSpec, format_for_path, join_clips, master, probe_duration, to_pcm, transcode
from voice.edge import EdgeTTS
from voice.espeak import EspeakTTS
from voice.loudness import integrated_loudness, normalize_loudness
from voice.mastering import MasteredTTS
from voice.wav import Pcm, build_wav, parse_wav, resample, rms_dbfs

pytestmark = pytest.mark.integration


def ffmpeg_loudness(audio: bytes) -> float:
    run = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostats", "-i", "pipe:0", "-af", "ebur128", "-f", "null", "-"],
        input=audio,
        capture_output=True,
        check=True,
    )
    found = re.findall(r"I:\s+(-?[\d.]+) LUFS", run.stderr.decode())
    return float(found[-1])


@pytest.mark.parametrize(("fmt", "rate"), [("mp3", 24000), ("opus", 48000), ("wav", 16000)])
async def test_master_converts_format_and_rate(fmt: str, rate: int) -> None:
    clip = await EspeakTTS().synthesize("欢迎来到直播间。")
    spec = MasterSpec(format=fmt, sample_rate=rate)  # type: ignore[arg-type]
    out = await master(clip, spec)
    assert (out.format, out.sample_rate, out.cues) == (fmt, rate, clip.cues)
    decoded = await probe_duration(out.audio, out.format)
    assert decoded == pytest.approx(clip.duration, abs=0.1)
    if fmt == "opus":
        assert out.audio[:4] == b"OggS"


async def test_both_engines_end_at_the_same_loudness(edge_like_mp3: bytes) -> None:
    spec = MasterSpec(format="mp3", sample_rate=24000, loudness_lufs=-16.0)
    espeak = MasteredTTS(EspeakTTS(), spec)
    edge = MasteredTTS(EdgeTTS(communicate=FakeEdgeService("ok", audio=edge_like_mp3)), spec)
    a = await espeak.synthesize("欢迎来到直播间！今天这款面霜只要199元，库存有限，快来下单吧！")
    b = await edge.synthesize("欢迎来到直播间！")
    raw_edge = ffmpeg_loudness(edge_like_mp3)
    la, lb = ffmpeg_loudness(a.audio), ffmpeg_loudness(b.audio)
    assert raw_edge < -25  # the tone starts far quieter than the target
    assert la == pytest.approx(-16.0, abs=1.0)
    assert lb == pytest.approx(-16.0, abs=1.0)
    assert abs(la - lb) < 1.0


async def test_join_clips_shifts_cues() -> None:
    tts = EspeakTTS()
    one, two = await tts.synthesize("第一句。"), await tts.synthesize("Second sentence.")
    joined = await join_clips([one, two], "wav", gap=0.2)
    assert joined.duration == pytest.approx(one.duration + two.duration + 0.2, abs=0.01)
    assert joined.cues[1].start == pytest.approx(one.duration + 0.2, abs=0.01)
    assert joined.engine == "espeak"


async def test_transcode_round_trip_keeps_speech() -> None:
    clip = await EspeakTTS().synthesize("hello there")
    mp3 = await transcode(clip.audio, "wav", "mp3")
    back = parse_wav(await transcode(mp3, "mp3", "wav", sample_rate=22050))
    assert rms_dbfs(back) > -35


def test_wav_with_placeholder_sizes_is_read_to_the_end() -> None:
    wav = bytearray(build_wav(Pcm(b"\x01\x00" * 100, 22050)))
    wav[4:8] = b"\xff\xff\xff\x7f"
    wav[40:44] = b"\x00\xf0\xff\x7f"  # what espeak-ng writes to a pipe
    assert parse_wav(bytes(wav)).frames == 100


def test_format_for_path() -> None:
    assert format_for_path("out.MP3") == "mp3"
    assert format_for_path("a.ogg") == "opus"
    with pytest.raises(ValueError, match=r"\.wav, \.mp3"):
        format_for_path("out.flac")


async def test_in_process_loudness_agrees_with_ffmpeg(edge_like_mp3: bytes) -> None:
    clip = await EspeakTTS().synthesize("欢迎来到直播间！今天这款面霜只要199元，库存有限，快来下单吧！")
    ours = integrated_loudness(parse_wav(clip.audio))
    assert ours == pytest.approx(ffmpeg_loudness(clip.audio), abs=0.7)
    tone = await to_pcm(edge_like_mp3, "mp3")
    assert integrated_loudness(tone) == pytest.approx(ffmpeg_loudness(edge_like_mp3), abs=0.7)
    louder = normalize_loudness(parse_wav(clip.audio), -14.0, peak_ceiling_db=0.0)
    assert integrated_loudness(louder) == pytest.approx(-14.0, abs=0.3)


@pytest.mark.unit
def test_resample_keeps_length_pitch_and_level() -> None:
    import numpy as np

    t = np.arange(22050) / 22050
    tone = (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2")
    pcm = Pcm(tone.tobytes(), 22050)
    out = resample(pcm, 24000)
    assert (out.sample_rate, out.frames) == (24000, 24000)
    y = np.frombuffer(out.data, dtype="<i2").astype(float)
    crossings = int(np.sum((y[:-1] < 0) & (y[1:] >= 0)))
    assert 438 <= crossings <= 441
    assert rms_dbfs(out) == pytest.approx(rms_dbfs(pcm), abs=0.2)
    assert resample(pcm, 22050) is pcm
